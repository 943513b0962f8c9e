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
import { payloadIssue } from "./internal/rows.ts"

/**
 * Where a run stands.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Journal } from "plait"
 *
 * const needsAttention = (status: Journal.RunStatus) => status === "suspended" || status === "failed"
 *
 * const check = (runId: string) =>
 *   Effect.gen(function*() {
 *     const journal = yield* Journal.Journal
 *     const loaded = yield* journal.load(runId)
 *     return Option.isSome(loaded) && needsAttention(loaded.value.run.status)
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type RunStatus = "running" | "suspended" | "completed" | "failed"

/**
 * One stored run: what it runs, with which input, against which structure.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Journal } from "plait"
 *
 * // A journal conformance check of your own: `start` creates the run once, then returns it.
 * const record: Journal.RunRecord = {
 *   runId: "order-1", workflow: "order", fingerprint: "[]", input: JSON.stringify({ id: "A-1" }), status: "running"
 * }
 *
 * const program = Effect.gen(function*() {
 *   const journal = yield* Journal.Journal
 *   const { run } = yield* journal.start(record)
 *   return run.workflow // "order"
 * }).pipe(Effect.provide(Journal.layerMemory))
 * ```
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
 * - `items`: the item keys of a `forEach` whose body waits on a signal, journaled when it
 *   starts, so a signal for an item it does not have is refused.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Journal } from "plait"
 *
 * const countOf = (loaded: Journal.LoadedRun, kind: Journal.EntryKind) =>
 *   loaded.entries.filter((entry) => entry.kind === kind).length
 *
 * // How many failed attempts a run has journaled, across every step.
 * const failedAttempts = (runId: string) =>
 *   Effect.gen(function*() {
 *     const journal = yield* Journal.Journal
 *     const loaded = yield* journal.load(runId)
 *     return Option.match(loaded, { onNone: () => 0, onSome: (run) => countOf(run, "attempt") })
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type EntryKind = "step" | "attempt" | "choice" | "order" | "wake" | "signal" | "items"

/**
 * One journal entry. `(runId, path, kind, seq)` identifies it; writing the same identity twice
 * keeps the first value (writes are idempotent).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Journal } from "plait"
 *
 * const charged: Journal.JournalEntry = { path: "charge", kind: "step", seq: 0, value: JSON.stringify("ch_1") }
 *
 * const program = Effect.gen(function*() {
 *   const journal = yield* Journal.Journal
 *   yield* journal.start({ runId: "r-1", workflow: "order", fingerprint: "[]", input: "{}", status: "running" })
 *   yield* journal.append("r-1", [charged])
 *   yield* journal.append("r-1", [{ ...charged, value: JSON.stringify("ch_2") }]) // kept: "ch_1"
 * }).pipe(Effect.provide(Journal.layerMemory))
 * ```
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
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Journal } from "plait"
 *
 * const summary = ({ entries, run }: Journal.LoadedRun) =>
 *   `${run.workflow} ${run.runId}: ${run.status}, ${entries.length} entries`
 *
 * const program = Effect.gen(function*() {
 *   const journal = yield* Journal.Journal
 *   const loaded = yield* journal.load("order-1")
 *   return Option.map(loaded, summary)
 * })
 * ```
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
 * - `Corrupt`: a stored row cannot be read back (bad JSON, or it no longer matches its schema),
 *   or contradicts the rest of the run (a recorded order naming a branch the block lacks).
 *   The run stops before anything depends on it; nothing is re-run and nothing stored changes.
 * - `Conflict`: the run exists with different identity (another workflow under the same id).
 * - `TooLarge`: a value is larger than the journal's `maxPayloadBytes`; it was not stored.
 *
 * @example
 * ```ts
 * import { Effect, Schedule, Schema } from "effect"
 * import { SqliteJournal, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * // A run resumes where it stopped, so retrying it while the store is unreachable is safe.
 * const program = Workflow.run(Ping, { input: "hi", runId: "ping-1" }).pipe(
 *   Effect.retry({
 *     while: (error) => error._tag === "JournalError" && error.reason === "Unavailable",
 *     schedule: Schedule.exponential("100 millis")
 *   }),
 *   Effect.provide(SqliteJournal.layer({ filename: "journal.sqlite" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  reason: Schema.Literals(["Unavailable", "Corrupt", "Conflict", "TooLarge"]),
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
 * A journal was configured with an option it cannot work with (a table prefix that is not a
 * plain identifier, a size that is not a positive whole number). Building the journal fails
 * with this before it touches the store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Journal, SqliteJournal } from "plait"
 *
 * const program = Journal.Journal.use((journal) => journal.load("run-1")).pipe(
 *   Effect.provide(SqliteJournal.layer({ filename: "journal.sqlite", tablePrefix: "billing-" })),
 *   Effect.catchTag("InvalidOption", (error) => Effect.logError(`${error.option}: ${error.issue}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  option: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `invalid journal option ${this.option}: ${this.issue}`
  }
}

/**
 * The largest value a journal stores unless configured otherwise: 8 MiB of UTF-8, per step
 * output, signal payload, failure or run input. Generous for workflow state (pass large data
 * by reference); small enough that a run's journal still loads in one read, within
 * `@effect/sql-pg`'s default 16 MiB message size.
 *
 * @example
 * ```ts
 * import { Journal, SqliteJournal } from "plait"
 *
 * // Reports of up to 32 MiB, stored inline.
 * const JournalLive = SqliteJournal.layer({
 *   filename: "reports.sqlite",
 *   maxPayloadBytes: 4 * Journal.defaultMaxPayloadBytes
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const defaultMaxPayloadBytes: number = 8 * 1024 * 1024

/**
 * The journal service. Every backend passes the same conformance suite.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Journal } from "plait"
 *
 * // A journal of your own: the in-memory one, logging the size of every batch it writes.
 * const LoggingJournal = Layer.sync(Journal.Journal, () => {
 *   const inner = Journal.makeMemory()
 *   return Journal.Journal.of({
 *     ...inner,
 *     append: (runId, entries) =>
 *       Effect.andThen(Effect.log(`${runId}: ${entries.length} entries`), inner.append(runId, entries))
 *   })
 * })
 * ```
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
  /**
   * The largest value, in UTF-8 bytes, this journal stores ({@link defaultMaxPayloadBytes}
   * when absent). A run refuses a larger step output before writing it, with `JournalError`
   * reason `TooLarge` naming the run and the path, so the steps completing beside it are
   * still journaled; `start` and `append` refuse one too.
   */
  readonly maxPayloadBytes?: number | undefined
}>()("plait/Journal") {}

/**
 * The identity of an entry, unique within a run.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const entries: ReadonlyArray<Journal.JournalEntry> = [
 *   { path: "charge", kind: "step", seq: 0, value: "\"ch_1\"" },
 *   { path: "charge", kind: "step", seq: 0, value: "\"ch_2\"" }
 * ]
 *
 * // Keep the first entry of each identity, as every journal does.
 * const kept = new Map<string, Journal.JournalEntry>()
 * for (const entry of entries) {
 *   if (!kept.has(Journal.entryKey(entry))) kept.set(Journal.entryKey(entry), entry)
 * }
 * // kept.size === 1
 * ```
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
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * const program = Workflow.run(Ping, { input: "hi" }).pipe(Effect.provide(Journal.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Journal> = Layer.sync(Journal, () => makeMemory())

/**
 * Builds an in-memory journal directly, for callers that want to share one instance.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * // Keep a handle on the journal to inspect what a run wrote.
 * const journal = Journal.makeMemory()
 *
 * const program = Effect.gen(function*() {
 *   yield* Workflow.run(Ping, { input: "hi", runId: "ping-1" })
 *   return yield* journal.load("ping-1")
 * }).pipe(Effect.provide(Layer.succeed(Journal.Journal, journal)))
 * ```
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
  const tooLarge = (runId: string, path: string | undefined, value: string) => {
    const issue = payloadIssue(value, defaultMaxPayloadBytes)
    return issue === undefined ? undefined : new JournalError({ reason: "TooLarge", runId, path, detail: issue })
  }
  return Journal.of({
    maxPayloadBytes: defaultMaxPayloadBytes,
    start: (run) =>
      Effect.suspend(() => {
        let stored = runs.get(run.runId)
        if (stored === undefined) {
          const refused = tooLarge(run.runId, undefined, run.input)
          if (refused !== undefined) return Effect.fail(refused)
          stored = { run, entries: new Map() }
          runs.set(run.runId, stored)
        }
        return Effect.succeed(snapshot(stored))
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
          const refused = tooLarge(runId, entry.path, entry.value)
          if (refused !== undefined) return Effect.fail(refused)
        }
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
