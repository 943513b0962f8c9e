/**
 * What a step knows about itself while it runs, provided as a service inside its effect (and
 * inside its compensation). Public as `Workflow.StepInfo`.
 */
import * as Context from "effect/Context"
import { createHash } from "node:crypto"

export class StepInfo extends Context.Service<StepInfo, {
  /** The run executing the step. */
  readonly runId: string
  /** The step's journal path (`charge`, `regions[eu]/provision`, `charge/compensate`). */
  readonly path: string
  /** Which attempt this is, 1 for the first; a retry budget journaled across crashes counts on. */
  readonly attempt: number
  /**
   * The same for every attempt of this step in this run, across retries, crashes and resumes:
   * pass it to a service that deduplicates requests (a payment provider, a mailer).
   */
  readonly idempotencyKey: string
}>()("plait/StepInfo") {}

/**
 * A key derived from the run id and the path only, of a fixed length that services limiting
 * their keys' length accept (64 characters and fewer).
 */
export const idempotencyKeyOf = (runId: string, path: string): string =>
  `plait_${createHash("sha256").update(runId).update("\u0000").update(path).digest("hex").slice(0, 40)}`
