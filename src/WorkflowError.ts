/**
 * The errors plait itself raises. Each names the run and, where there is one, the step path,
 * so a failure in a large workflow can be found without a debugger. A step's own errors are
 * not wrapped: they reach the caller with the type the step declared.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { JournalError } from "./Journal.ts"

/**
 * The run's input did not decode with the workflow's input schema. Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  runId: Schema.String,
  workflow: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `invalid input for run ${this.runId} of workflow ${this.workflow}: ${this.issue}`
  }
}

/**
 * A step returned a value its `success` schema cannot encode. The value is not journaled.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOutput extends Schema.TaggedError<InvalidOutput>()("InvalidOutput", {
  runId: Schema.String,
  path: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `step ${this.path} of run ${this.runId} returned a value its schema rejects: ${this.issue}`
  }
}

/**
 * The workflow's structure differs from the one the run was started with. `path` is the first
 * place they differ. Pass `allowDefinitionChange: true` to `Workflow.run` to resume anyway.
 *
 * @since 0.1.0
 * @category errors
 */
export class DefinitionChanged extends Schema.TaggedError<DefinitionChanged>()("DefinitionChanged", {
  runId: Schema.String,
  path: Schema.String,
  stored: Schema.String,
  current: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} was started with a different definition: at ${this.path} the journal has "${this.stored}", the workflow has "${this.current}"`
  }
}

/**
 * The run id is already used by a different workflow.
 *
 * @since 0.1.0
 * @category errors
 */
export class RunConflict extends Schema.TaggedError<RunConflict>()("RunConflict", {
  runId: Schema.String,
  stored: Schema.String,
  requested: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} belongs to workflow ${this.stored}, not ${this.requested}`
  }
}

/**
 * A step did not finish within its `timeout`; it was interrupted. Counts as a failed attempt.
 *
 * @since 0.1.0
 * @category errors
 */
export class StepTimeout extends Schema.TaggedError<StepTimeout>()("StepTimeout", {
  runId: Schema.String,
  path: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `step ${this.path} of run ${this.runId} timed out after ${this.timeout}`
  }
}

/**
 * A `parallel`, `chord` or `forEach` block in `"completeAll"` mode (or `forEach` in `"settle"`
 * mode past its tolerance) had failing branches. `failures` holds each failed branch's error by
 * branch key (item path for `forEach`); `successes` holds the deltas of the branches that
 * finished.
 *
 * @since 0.1.0
 * @category errors
 */
export class ParallelFailure extends Schema.TaggedError<ParallelFailure>()("ParallelFailure", {
  runId: Schema.String,
  path: Schema.String,
  failures: Schema.Record(Schema.String, Schema.Unknown),
  successes: Schema.Record(Schema.String, Schema.Unknown)
}) {
  override get message(): string {
    const keys = Object.keys(this.failures)
    return `${keys.length} branch(es) of ${this.path} failed in run ${this.runId}: ${keys.join(", ")}`
  }
}

/**
 * Every branch of a race failed. `failures` holds each branch's error by key.
 *
 * @since 0.1.0
 * @category errors
 */
export class RaceFailure extends Schema.TaggedError<RaceFailure>()("RaceFailure", {
  runId: Schema.String,
  path: Schema.String,
  failures: Schema.Record(Schema.String, Schema.Unknown)
}) {
  override get message(): string {
    return `every branch of race ${this.path} failed in run ${this.runId}`
  }
}

/**
 * Any error plait itself can raise while running a workflow.
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkflowError =
  | InvalidInput
  | InvalidOutput
  | DefinitionChanged
  | RunConflict
  | StepTimeout
  | ParallelFailure
  | RaceFailure
  | JournalError

export {
  /**
   * Re-exported from `Journal`, for matching all of plait's errors from one module.
   *
   * @since 0.1.0
   * @category errors
   */
  JournalError
}
