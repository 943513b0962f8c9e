/**
 * The testing kit's own failures. A leaf: it imports nothing of plait's.
 */
import * as Schema from "effect/Schema"

export class Stuck extends Schema.TaggedError<Stuck>()("Stuck", {
  runId: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} is stuck: ${this.detail}`
  }
}

export class ResumeDiverged extends Schema.TaggedError<ResumeDiverged>()("ResumeDiverged", {
  runId: Schema.String,
  /** The completion the crash came right after: its path, and how many completions were journaled. */
  crashedAfter: Schema.String,
  completions: Schema.Int,
  detail: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId}, crashed after completion ${this.completions} (${this.crashedAfter}) and resumed: ${this.detail}`
  }
}

export class ReplayDiverged extends Schema.TaggedError<ReplayDiverged>()("ReplayDiverged", {
  runId: Schema.String,
  /** The first journaled path the definition does not replay to (`""` when the whole replay failed). */
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} does not replay${this.path === "" ? "" : ` at ${this.path}`}: ${this.detail}`
  }
}
