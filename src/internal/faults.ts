import { JournalError, LeaseLost } from "../WorkflowError.ts"
/**
 * Failures that end a block instead of counting as a branch's own failure: a storage fault, or
 * the loss of the run's lease. Turning one into a branch `Result` or a race loss would hide it.
 */

export const isRunFault = (u: unknown): u is JournalError | LeaseLost =>
  u instanceof JournalError || u instanceof LeaseLost
