/**
 * The journal: where plait records every run and every completed step, so a run can resume
 * without redoing finished work.
 *
 * A journal stores text, never JavaScript objects: the engine encodes each output through its
 * schema to JSON before it reaches the journal, and decodes it again on replay. Every backend
 * (memory, SQLite, Postgres) therefore sees exactly the same bytes.
 *
 * A run is executed by one executor at a time. The executor holds the run's lease: an owner
 * name, an expiry it renews with heartbeats, and a fencing token that changes with every
 * acquisition. Every write of the executor names its token and is refused once another executor
 * has taken the run over, in the same statement that would have written it.
 *
 * **Journal and `RunStore`: two services, one store.** The `Journal` is what one executor needs
 * for the one run it executes: take the run's lease (`acquire`), read its journal, append to it,
 * renew the lease, release the run, and the operations made on the run's behalf under that lease
 * (start a child, take a concurrency slot). Everything it writes is fenced by the lease. The
 * {@link RunStore} is what callers without a lease need across runs: create runs, claim runnable
 * ones, deliver signals, cancel, resume, list, count, schedules, notifications. The line between
 * them is the lease: an operation that must be fenced belongs to the `Journal`, one that a client
 * or a worker's scheduler makes belongs to the `RunStore`. Every backend implements both over the
 * same database, and every journal layer provides both, so a signal and the wake-up of its run
 * commit together.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Entry from "./internal/entry.ts"
import { makeMemoryBackend } from "./internal/memoryBackend.ts"
import type { RunStatus } from "./RunStatus.ts"
import { RunStore } from "./RunStore.ts"
import type { JournalError, LeaseLost } from "./WorkflowError.ts"

/**
 * What creating a run stores: what it runs, with which input, against which structure.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const record: Journal.RunRecord = {
 *   runId: "order-1", workflow: "order", fingerprint: "[]", input: JSON.stringify({ id: "A-1" })
 * }
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
  /** Among runs due at the same time, higher runs first. Defaults to 0. */
  readonly priority?: number | undefined
  /** The run that started this one as a child: its release as finished wakes the parent. */
  readonly parentRunId?: string | undefined
}

/**
 * A run as stored: its record, where it stands, and who executes it.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const describe = (run: Journal.RunInfo) =>
 *   run.owner === undefined ? `${run.runId}: ${run.status}` : `${run.runId}: ${run.status} on ${run.owner}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunInfo extends RunRecord {
  readonly status: RunStatus
  readonly priority: number
  readonly parentRunId: string | undefined
  /** The executor holding the lease, while one does. */
  readonly owner: string | undefined
  /** The fencing token of the current (or last) lease; every acquisition increments it. */
  readonly leaseToken: number
  /** When the lease ends unless renewed (epoch milliseconds). */
  readonly leaseExpiresAt: number | undefined
  /** When a sleeping or waiting run wakes by itself: a sleep's end, a signal's deadline (epoch milliseconds). */
  readonly wakeAt: number | undefined
  /**
   * From when a worker may claim the run (epoch milliseconds): now for a queued or woken run, the
   * wake time of a sleeping one, the lease expiry of a running one. Undefined while only a signal
   * can wake it, and once it is finished.
   */
  readonly dueAt: number | undefined
  /** The paths the run waits on while sleeping or waiting (a sleep, signals, children); empty otherwise. */
  readonly waitingFor: ReadonlyArray<string>
  /** How many times an executor acquired the run. */
  readonly executions: number
  /** How many wake-ups (delivered signals) the run has had; an executor compares it on suspension. */
  readonly wakeups: number
  /** `cancel` was called; the executor stops the run at its next heartbeat or notification. */
  readonly cancelRequested: boolean
  /** Why a failed or cancelled run ended. */
  readonly error: string | undefined
  readonly createdAt: number
  readonly updatedAt: number
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
 * - `compensable`: a step with a compensation completed; its value is its place in the run's
 *   completion order (0, 1, ...), written in the same batch as the step's output.
 * - `compensating`: the run failed for good or was cancelled and undoes its completed steps
 *   (path `""`); why, as JSON.
 * - `compensated`: the compensation at `path` (`<step path>/compensate`) finished.
 * - `failed`: the failure a run ended with (path `""`, `seq` the execution that ended), so a
 *   parent or a later reader can match on it.
 * - `items`: the item keys of a `forEach` whose body waits on a signal, journaled when it
 *   starts, so a signal for an item it does not have is refused.
 * - `resumed`: `Engine.resume` of a sleeping run (path `""`, `seq` the run's wake-ups then): the
 *   time it was resumed. Every durable sleep begun before it and not over then ends then.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const countOf = (loaded: Journal.LoadedRun, kind: Journal.EntryKind) =>
 *   loaded.entries.filter((entry) => entry.kind === kind).length
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type EntryKind =
  | "step"
  | "attempt"
  | "choice"
  | "order"
  | "wake"
  | "signal"
  | "items"
  | "compensable"
  | "compensating"
  | "compensated"
  | "failed"
  | "resumed"

/**
 * One journal entry. `(runId, path, kind, seq)` identifies it; writing the same identity twice
 * keeps the first value (writes are idempotent).
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const charged: Journal.JournalEntry = { path: "charge", kind: "step", seq: 0, value: JSON.stringify("ch_1") }
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
  /** When the work this entry records started (epoch milliseconds), where it has a duration. */
  readonly startedAt?: number | undefined
  /** When it finished (epoch milliseconds). */
  readonly finishedAt?: number | undefined
}

/**
 * A run with every entry it has, as loaded in one read.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const summary = ({ entries, run }: Journal.LoadedRun) =>
 *   `${run.workflow} ${run.runId}: ${run.status}, ${entries.length} entries`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LoadedRun {
  readonly run: RunInfo
  readonly entries: ReadonlyArray<JournalEntry>
}

/**
 * The right to write to one run: who holds it and the fencing token the backend checks.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const describe = (lease: Journal.Lease) => `${lease.runId} held by ${lease.owner} (token ${lease.token})`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  readonly runId: string
  readonly owner: string
  readonly token: number
}

/**
 * The result of `acquire` of the {@link Journal} service: the run as stored after the call, and the lease when it
 * was taken. No lease means the run is finished (`completed` or `cancelled`) or another
 * executor holds a live lease on it (`run.owner`).
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const holder = (acquired: Journal.Acquired) => acquired.lease === undefined ? acquired.run.owner : undefined
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Acquired {
  readonly run: RunInfo
  readonly lease: Lease | undefined
  /** The call created the run (it has no entries yet). */
  readonly created: boolean
  /**
   * When no lease was taken: the run's entries, read in the same call, so a finished run can be
   * replayed without another read.
   */
  readonly entries?: ReadonlyArray<JournalEntry> | undefined
}

/**
 * How an executor hands a run back when it stops executing it.
 *
 * - `completed`, `failed` (with `error`), `cancelled`: finished. A cancelled run keeps the reason
 *   given to `cancel` unless `error` says otherwise.
 * - `queued`: stopped before finishing (interrupted, shut down): runnable again at once.
 * - `sleeping` / `waiting`: suspended until `wakeAt` or a wake-up (a signal, a child run that
 *   finished, a freed concurrency slot). `wakeupsSeen` is the run's `wakeups` when the executor
 *   loaded it; if a wake-up arrived since, the run is due at once, so none is lost between
 *   loading and suspending.
 *
 * With `ifCancelRequested`, an unfinished release (`queued`, `sleeping`, `waiting`) of a run
 * whose cancellation was requested (too late for its executor to see) takes that status instead:
 * `cancelled` when the executor has nothing to compensate, `queued` (due now) when an executor
 * must compensate it. A release as finished wakes the run's parent, if it has one.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const sleepUntil = (wakeAt: number, wakeupsSeen: number): Journal.Release =>
 *   ({ status: "sleeping", wakeAt, waitingFor: ["cooldown"], wakeupsSeen })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Release {
  readonly status: Exclude<RunStatus, "running">
  readonly wakeAt?: number | undefined
  /** The paths the run waits on. */
  readonly waitingFor?: ReadonlyArray<string> | undefined
  readonly wakeupsSeen?: number | undefined
  readonly error?: string | undefined
  readonly ifCancelRequested?: "cancelled" | "queued" | undefined
}

/**
 * The state of one lease after a heartbeat.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const mustStop = (state: Journal.LeaseState) => !state.held || state.cancelRequested
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaseState {
  readonly runId: string
  /** False when another executor took the run over (or the run is gone): stop writing. */
  readonly held: boolean
  readonly cancelRequested: boolean
  /** The reason given to `cancel`, when it was requested. */
  readonly cancelReason: string | undefined
}

/**
 * A step execution asking for one of the `max` slots of a concurrency limit `key`, for the step
 * at `path` of the lease's run.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const request: Journal.SlotRequest = { key: "payments-api", max: 5, path: "charge" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SlotRequest {
  readonly key: string
  readonly max: number
  readonly path: string
}

/**
 * The answer to a {@link SlotRequest}. Without a slot, the run is registered as a waiter of the
 * key: the release of a slot of that key wakes it (a waiting run becomes due). `retryAt` is when
 * the earliest holder's lease runs out, for a holder that dies without releasing.
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 *
 * const describe = (claim: Journal.SlotClaim) =>
 *   claim.acquired ? "running" : `waiting until ${claim.retryAt ?? "a slot frees"}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SlotClaim =
  | { readonly acquired: true }
  | { readonly acquired: false; readonly retryAt: number | undefined }

export {
  /**
   * A journal operation failed: `Unavailable`, `Corrupt`, `Conflict` or `TooLarge`. Declared in
   * `WorkflowError` with every other error plait raises; re-exported here beside the journal.
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
   * const program = Workflow.run(Ping, { input: "hi" }).pipe(
   *   Effect.tapError((error) =>
   *     error instanceof Journal.JournalError ? Effect.logError(`journal ${error.reason}: ${error.detail}`) : Effect.void
   *   ),
   *   Effect.provide(Journal.layerMemory)
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  JournalError
} from "./WorkflowError.ts"

export {
  /**
   * A journal was configured with an option it cannot work with. Declared in `WorkflowError`;
   * re-exported here beside the journal.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { Journal, SqliteJournal } from "plait"
   *
   * const program = Journal.Journal.use((journal) => journal.load("run-1")).pipe(
   *   Effect.provide(SqliteJournal.layer({ filename: "journal.sqlite", tablePrefix: "bad-prefix" })),
   *   Effect.catchIf(
   *     (error) => error instanceof Journal.InvalidOption,
   *     (error) => Effect.logError(error.message)
   *   )
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  InvalidOption
} from "./WorkflowError.ts"

export {
  /**
   * The executor's lease was taken over by another executor. Declared in `WorkflowError`;
   * re-exported here beside the journal.
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
   * const program = Workflow.run(Ping, { input: "hi", runId: "ping-1" }).pipe(
   *   Effect.tapError((error) =>
   *     error instanceof Journal.LeaseLost ? Effect.logWarning(`${error.runId} continues elsewhere`) : Effect.void
   *   ),
   *   Effect.provide(Journal.layerMemory)
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  LeaseLost
} from "./WorkflowError.ts"

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
export const defaultMaxPayloadBytes: number = Entry.defaultMaxPayloadBytes

/**
 * The journal service: what an executor needs to run one run. Every backend passes the same
 * conformance suite. The same layer also provides the {@link RunStore} the engine and workers use.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Journal } from "plait"
 *
 * const statusOf = (runId: string) =>
 *   Effect.gen(function*() {
 *     const journal = yield* Journal.Journal
 *     const loaded = yield* journal.load(runId)
 *     return Option.map(loaded, ({ run }) => run.status)
 *   })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Journal extends Context.Service<Journal, {
  /**
   * Creates the run if it does not exist, and takes its lease for `owner` unless another
   * executor holds a live one, the run is completed or cancelled, or it was stored with another
   * workflow, input or (unless `anyFingerprint`) fingerprint. The run becomes `running`. With
   * `reclaim`, a live lease held by `owner` itself is taken too: the caller knows none of its
   * executors runs the run any more (it stopped without releasing it, e.g. the store was down).
   * One statement; the entries are read afterwards with `load` (a read that starts after the
   * lease is taken sees every write of the previous owner).
   */
  readonly acquire: (
    run: RunRecord,
    options: {
      readonly owner: string
      readonly leaseMs: number
      readonly anyFingerprint?: boolean | undefined
      readonly reclaim?: boolean | undefined
    }
  ) => Effect.Effect<Acquired, JournalError>
  /** Reads a run and all its entries, if the run exists. One read. */
  readonly load: (runId: string) => Effect.Effect<Option.Option<LoadedRun>, JournalError>
  /**
   * Writes entries in one batch: one transaction, one round trip, only while `lease` is the
   * run's current lease (checked in the same statement). Entries already stored are left as
   * they are. Succeeds only once the batch has committed.
   */
  readonly append: (lease: Lease, entries: ReadonlyArray<JournalEntry>) => Effect.Effect<void, JournalError | LeaseLost>
  /** Renews leases by `leaseMs` from now and reports, for each, whether it is still held. One statement. */
  readonly heartbeat: (
    owner: string,
    leases: ReadonlyArray<Lease>,
    leaseMs: number
  ) => Effect.Effect<ReadonlyArray<LeaseState>, JournalError>
  /** Records where the run stands and gives up the lease, if it is still held. */
  readonly release: (lease: Lease, release: Release) => Effect.Effect<void, JournalError | LeaseLost>
  /**
   * Creates the child run `child` (queued, with `parentRunId` the lease's run) unless it
   * exists, only while `lease` is current; returns the child as stored either way. A child that
   * ends (completed, failed, cancelled) wakes its parent in the same statement.
   */
  readonly startChild: (
    lease: Lease,
    child: RunRecord
  ) => Effect.Effect<{ readonly run: RunInfo; readonly created: boolean }, JournalError | LeaseLost>
  /**
   * Takes a slot of a concurrency limit for the lease's run, exactly: requests for one key are
   * serialized, and a slot counts as held while its holder's lease lives. Without a free slot,
   * registers the run as a waiter of the key in the same transaction.
   */
  readonly acquireSlot: (lease: Lease, request: SlotRequest) => Effect.Effect<SlotClaim, JournalError | LeaseLost>
  /** Gives a slot back and wakes the key's waiters, in one transaction. */
  readonly releaseSlot: (lease: Lease, request: SlotRequest) => Effect.Effect<void, JournalError>
  /**
   * The largest value, in UTF-8 bytes, this journal stores ({@link defaultMaxPayloadBytes}
   * when absent). A run refuses a larger step output before writing it, with `JournalError`
   * reason `TooLarge` naming the run and the path, so the steps completing beside it are still
   * journaled; `acquire`, `append` and the run store's `create` and `deliver` refuse one too.
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
export const entryKey: (entry: Pick<JournalEntry, "path" | "kind" | "seq">) => string = Entry.entryKey

/**
 * A journal and run store in process memory, for unit tests. It stores the same JSON text a SQL
 * journal would, so a value that does not survive its schema's encoding fails here too. Leases,
 * wake times and deadlines follow the `Clock`, so `TestClock` drives them.
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
export const layerMemory: Layer.Layer<Journal | RunStore> = Layer.syncContext(() => {
  const backend = makeMemory()
  return Context.make(Journal, backend.journal).pipe(Context.add(RunStore, backend.store))
})

/**
 * Builds an in-memory journal and its run store directly, for callers that want to share one
 * instance or wrap it.
 *
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import { Journal, RunStore, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * // Keep a handle on the journal to inspect what a run wrote.
 * const memory = Journal.makeMemory()
 * const backend = Layer.succeedContext(
 *   Context.make(Journal.Journal, memory.journal).pipe(Context.add(RunStore.RunStore, memory.store))
 * )
 *
 * const program = Effect.gen(function*() {
 *   yield* Workflow.run(Ping, { input: "hi", runId: "ping-1" })
 *   return yield* memory.journal.load("ping-1")
 * }).pipe(Effect.provide(backend))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (): {
  readonly journal: Journal["Service"]
  readonly store: RunStore["Service"]
} => makeMemoryBackend()
