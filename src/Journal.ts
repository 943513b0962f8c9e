/**
 * The journal: where plait records every run and every completed step, so a run can resume
 * without redoing finished work.
 *
 * A journal stores text, never JavaScript objects: the engine encodes each output through its
 * schema to JSON before it reaches the journal, and decodes it again on replay. Every backend
 * (memory, SQLite, Postgres) therefore sees exactly the same bytes.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/**
 * Where a run stands.
 *
 * @since 0.1.0
 * @category models
 */
export type RunStatus = "running" | "suspended" | "completed" | "failed"

/**
 * One stored run: what it runs, with which input, against which structure.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunRecord {
  readonly runId: string
  /** The workflow's name, as given to `Workflow.make`. */
  readonly workflow: string
  /** The workflow's structural outline (JSON), compared on resume. */
  readonly fingerprint: string
  /** The run's input, encoded through the input schema (JSON). */
  readonly input: string
  readonly status: RunStatus
}

/**
 * What an entry records.
 *
 * - `step`: a completed step's encoded output.
 * - `attempt`: a failed attempt of a step (`seq` is the attempt number), so a retry budget
 *   survives a crash.
 * - `choice`: a decision that must replay identically: a race winner, a branch case.
 * - `order`: the completion order of a `lastWins` parallel block.
 * - `wake`: the wake-up time of a durable sleep.
 * - `signal`: a delivered signal payload.
 *
 * @since 0.1.0
 * @category models
 */
export type EntryKind = "step" | "attempt" | "choice" | "order" | "wake" | "signal"

/**
 * One journal entry. `(runId, path, kind, seq)` identifies it; writing the same identity twice
 * keeps the first value (writes are idempotent).
 *
 * @since 0.1.0
 * @category models
 */
export interface JournalEntry {
  /** The step path: `setup/welcome/welcome`, `charge[17]/charge`, `route`. */
  readonly path: string
  readonly kind: EntryKind
  readonly seq: number
  /** JSON text. */
  readonly value: string
}

/**
 * A run with every entry it has, as loaded in one read.
 *
 * @since 0.1.0
 * @category models
 */
export interface LoadedRun {
  readonly run: RunRecord
  readonly entries: ReadonlyArray<JournalEntry>
}

/**
 * A journal operation failed. `reason` says what a caller can do about it:
 *
 * - `Unavailable`: the store could not be reached or the write did not commit; retry later,
 *   nothing already journaled is lost.
 * - `Corrupt`: a stored row cannot be read back (bad JSON, or it no longer matches its schema).
 * - `Conflict`: the run exists with different identity (another workflow under the same id).
 *
 * @since 0.1.0
 * @category errors
 */
export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  reason: Schema.Literals(["Unavailable", "Corrupt", "Conflict"]),
  runId: Schema.String,
  path: Schema.optional(Schema.String),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    const at = this.path === undefined ? "" : ` at ${this.path}`
    return `journal ${this.reason.toLowerCase()} for run ${this.runId}${at}: ${this.detail}`
  }
}

/**
 * The journal service. Every backend passes the same conformance suite.
 *
 * @since 0.1.0
 * @category services
 */
export class Journal extends Context.Service<Journal, {
  /**
   * Creates the run if it does not exist, then returns the stored run and all its entries.
   * Loading is one read, never one per step.
   */
  readonly start: (run: RunRecord) => Effect.Effect<LoadedRun, JournalError>
  /** Reads a run and all its entries, if the run exists. */
  readonly load: (runId: string) => Effect.Effect<Option.Option<LoadedRun>, JournalError>
  /**
   * Writes entries in one batch: one transaction, one round trip. Entries already stored are
   * left as they are. Succeeds only once the batch has committed.
   */
  readonly append: (runId: string, entries: ReadonlyArray<JournalEntry>) => Effect.Effect<void, JournalError>
  /** Records where a run stands. */
  readonly setStatus: (runId: string, status: RunStatus) => Effect.Effect<void, JournalError>
}>()("plait/Journal") {}

/**
 * The identity of an entry, unique within a run.
 *
 * @since 0.1.0
 * @category models
 */
export const entryKey = (entry: Pick<JournalEntry, "path" | "kind" | "seq">): string =>
  `${entry.kind}:${entry.seq}:${entry.path}`

/**
 * A journal in process memory, for unit tests. It stores the same JSON text a SQL journal
 * would, so a value that does not survive its schema's encoding fails here too.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Journal> = Layer.sync(Journal, () => makeMemory())

/**
 * Builds an in-memory journal directly, for callers that want to share one instance.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): Journal["Service"] => {
  const runs = new Map<string, { run: RunRecord; entries: Map<string, JournalEntry> }>()
  const snapshot = (stored: { run: RunRecord; entries: Map<string, JournalEntry> }): LoadedRun => ({
    run: stored.run,
    entries: Array.from(stored.entries.values())
  })
  const missing = (runId: string) =>
    new JournalError({ reason: "Conflict", runId, detail: "the run does not exist" })
  return Journal.of({
    start: (run) =>
      Effect.sync(() => {
        let stored = runs.get(run.runId)
        if (stored === undefined) {
          stored = { run, entries: new Map() }
          runs.set(run.runId, stored)
        }
        return snapshot(stored)
      }),
    load: (runId) =>
      Effect.sync(() => {
        const stored = runs.get(runId)
        return stored === undefined ? Option.none() : Option.some(snapshot(stored))
      }),
    append: (runId, entries) =>
      Effect.suspend(() => {
        const stored = runs.get(runId)
        if (stored === undefined) return Effect.fail(missing(runId))
        for (const entry of entries) {
          const key = entryKey(entry)
          if (!stored.entries.has(key)) stored.entries.set(key, entry)
        }
        return Effect.void
      }),
    setStatus: (runId, status) =>
      Effect.suspend(() => {
        const stored = runs.get(runId)
        if (stored === undefined) return Effect.fail(missing(runId))
        stored.run = { ...stored.run, status }
        return Effect.void
      })
  })
}
