/**
 * The engine: control over runs from any process (a web handler, the CLI, a test). It starts
 * runs, delivers signals, cancels, resumes, awaits outcomes, lists and inspects, without
 * executing anything itself: workers (`Worker.layer`) execute the runs, wherever they are.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import { fingerprintOf, prepareInput, replayFinished } from "./internal/executor.ts"
import * as Formats from "./internal/formats.ts"
import { decodeCursor, maxPageSize } from "./internal/listing.ts"
import { childRunId as pathChildRunId, compensatedStepOf, laneOf as pathLaneOf } from "./internal/path.ts"
import { nextTick, parseCron } from "./internal/schedule.ts"
import { deliverSignal, isSignalPath } from "./internal/signal.ts"
import { Journal, type JournalEntry, type LoadedRun, type RunInfo } from "./Journal.ts"
import { validate as validRunId } from "./RunId.ts"
import {
  isAbout,
  type ListFilter,
  type MissedTicks,
  type RunPage,
  RunStore,
  type ScheduleInfo,
  type StatusCounts
} from "./RunStore.ts"
import {
  type DuplicateEffect,
  InvalidCursor,
  InvalidInput,
  InvalidOption,
  type InvalidRunId,
  type InvalidSchedule,
  type InvalidSignal,
  type JournalError,
  RunCancelled,
  RunConflict,
  RunFailed,
  RunNotFound,
  type SignalAlreadyDelivered,
  type UnknownSignal
} from "./WorkflowError.ts"
import type { Definition } from "./internal/definition.ts"
import type { WaitPaths } from "./internal/SignalPaths.ts"
import type { Simplify } from "./internal/types.ts"
import type { Outcome, SignalPath, SignalValue, Workflow } from "./Workflow.ts"

/**
 * A run `start` created, or found already created under its id.
 *
 * @example
 * ```ts
 * import { Engine } from "plait"
 *
 * const answer = (started: Engine.StartedRun) =>
 *   started.created ? `started ${started.runId}` : `${started.runId} already ${started.status}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StartedRun extends RunInfo {
  /** False when a run with this id existed: `start` is idempotent per run id. */
  readonly created: boolean
}

/**
 * How to start a run.
 *
 * @example
 * ```ts
 * import { Engine } from "plait"
 *
 * const options: Engine.StartOptions<{ readonly email: string }> = {
 *   input: { email: "ada@example.com" },
 *   runId: "onboard-ada@example.com",
 *   priority: 10
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StartOptions<I> {
  /** The input in its encoded form; decoded (and refused if invalid) before anything is stored. */
  readonly input: I
  /**
   * Names the run; starting the same id again returns the existing run. Default: a random UUID.
   * At most 512 UTF-8 bytes, not empty, no NUL, well-formed Unicode (`RunId.RunId`).
   */
  readonly runId?: string | undefined
  /**
   * Among runs due at the same time, higher runs first. A whole number from -2,147,483,648 to
   * 2,147,483,647 (else `InvalidOption`). Default 0.
   */
  readonly priority?: number | undefined
}

/**
 * How to schedule a workflow: a run with `input` at every tick of `cron` (five fields, or six
 * with seconds), read in `timezone` (UTC when absent). Workers holding the workflow fire the
 * ticks, exactly one run per tick, with the id `<id>@<tick as ISO time>`. `missed` says what to
 * do with ticks nobody fired within a minute (everything was down): `"skip"` them (the default)
 * or `"catchUp"` with one run for all of them.
 *
 * @example
 * ```ts
 * import { Engine } from "plait"
 *
 * const options: Engine.ScheduleOptions<{ readonly kind: string }> = {
 *   id: "nightly-report",
 *   cron: "0 3 * * *",
 *   timezone: "Europe/Paris",
 *   input: { kind: "daily" },
 *   missed: "catchUp"
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ScheduleOptions<I> {
  /** Names the schedule; scheduling the same id again replaces it. */
  readonly id: string
  readonly cron: string
  /** The input of every run, in its encoded form; decoded (and refused if invalid) now. */
  readonly input: I
  /** An IANA time zone (`Europe/Paris`). Default UTC. */
  readonly timezone?: string | undefined
  readonly missed?: MissedTicks | undefined
}

/**
 * One journal entry of a run, as `inspect` shows it.
 *
 * @example
 * ```ts
 * import { Engine } from "plait"
 *
 * const durationOf = (entry: Engine.EntryDetail) =>
 *   entry.startedAt === undefined || entry.finishedAt === undefined ? undefined : entry.finishedAt - entry.startedAt
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EntryDetail extends JournalEntry {
  /**
   * The branch or item the entry ran in (`laneOf`): `setup/welcome` for `setup/welcome/welcome`,
   * `charge[17]` for `charge[17]/charge` and for `charge[17]` itself; `""` at the top level; a
   * compensation's is its step's. Entries of one lane ran one after another; different lanes may
   * have run at once.
   */
  readonly lane: string
  /**
   * For a compensation's entries (`compensated`, and the `attempt`s of a compensation that
   * failed): the path of the step it undoes, whose lane it is drawn in.
   */
  readonly compensates?: string | undefined
  /** For an `attempt` entry: which attempt failed, and with what. */
  readonly attempt?: number | undefined
  readonly error?: string | undefined
  /** For an `attempt` entry: it spent the retry budget, so the step failed for good. */
  readonly exhausted?: boolean | undefined
  /**
   * For the `compensating` entry: why the run compensates, it `failed` (with `error`, the
   * failure as text) or was `cancelled` (with the reason given).
   */
  readonly ending?: { readonly reason: "failed" | "cancelled"; readonly error: string } | undefined
}

/**
 * A run and its journal, for a timeline or a support ticket.
 *
 * @example
 * ```ts
 * import { Engine } from "plait"
 *
 * const completedSteps = (detail: Engine.RunDetail) => detail.entries.filter((entry) => entry.kind === "step").length
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunDetail {
  readonly run: RunInfo
  readonly entries: ReadonlyArray<EntryDetail>
}

/**
 * What the {@link Engine} service offers: each operation on runs and schedules, from any process
 * that reaches the journal. Workers execute the runs it starts (see `Worker`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Engine } from "plait"
 *
 * // A function that needs only the engine's operations, not the service tag.
 * const queuedRuns = (engine: Engine.EngineService) =>
 *   Effect.map(engine.counts(), (counts) => counts.queued)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EngineService {
  /**
   * Stores a new queued run (its input decoded and validated first) for a worker to execute.
   * Idempotent per run id: a second start returns the existing run; a different workflow or
   * input under the same id is refused.
   */
  readonly start: <I, Ctx, E, R>(
    workflow: Workflow<I, Ctx, E, R>,
    options: StartOptions<I>
  ) => Effect.Effect<
    StartedRun,
    InvalidInput | InvalidRunId | InvalidOption | DuplicateEffect | RunConflict | JournalError
  >
  /**
   * Waits until the run is completed (its final context, rebuilt from the journal), failed,
   * cancelled, or waiting for a signal (`Suspended`).
   */
  readonly await: <I, Ctx, E, R, S>(
    workflow: Workflow<I, Ctx, E, R, S>,
    runId: string
  ) => Effect.Effect<
    Outcome<Simplify<Ctx>, WaitPaths<S>>,
    RunFailed | RunCancelled | RunNotFound | RunConflict | InvalidRunId | JournalError
  >
  /**
   * Delivers a signal: validated by its schema, stored, and in the same transaction the run is
   * woken if it waits. A value sent before the run reaches its `signal` is kept until it does;
   * a second value for the same path is refused, and so is a path with no signal, or an item a
   * `forEach` on the way does not have once it has started (`UnknownSignal`).
   */
  readonly signal: <W extends Workflow<any, any, any, any>, const P extends SignalPath<W>>(
    workflow: W,
    runId: string,
    path: P,
    value: SignalValue<W, P>
  ) => Effect.Effect<
    void,
    | InvalidSignal
    | UnknownSignal
    | DuplicateEffect
    | SignalAlreadyDelivered
    | RunNotFound
    | RunConflict
    | RunCancelled
    | InvalidRunId
    | JournalError
  >
  /**
   * Cancels a run and its unfinished children: at once when nobody executes it and it has no
   * completed step to compensate, else its executor (the next worker to claim it, if nobody runs
   * it) interrupts it at its next heartbeat or notification (finalizers run), compensates its
   * completed steps and marks it `cancelled`.
   */
  readonly cancel: (
    runId: string,
    options?: { readonly reason?: string | undefined }
  ) => Effect.Effect<RunInfo, RunNotFound | InvalidRunId | JournalError>
  /**
   * Makes a failed, sleeping or waiting run due now, and its failed children queued again; no
   * input is needed, it is stored. A sleeping run's sleeps are cut short: journaled (a `resumed`
   * entry), so no later replay sleeps again.
   */
  readonly resume: (
    runId: string
  ) => Effect.Effect<RunInfo, RunNotFound | RunCancelled | InvalidRunId | JournalError>
  /**
   * A page of runs, newest first; a cursor no page returned fails with `InvalidCursor`, a `limit`
   * that is not a whole number from 1 to 1,000 with `InvalidOption`.
   */
  readonly list: (filter?: ListFilter) => Effect.Effect<RunPage, InvalidCursor | InvalidOption | JournalError>
  /** How many runs are in each status, of every workflow or of one. */
  readonly counts: (filter?: { readonly workflow?: string | undefined }) => Effect.Effect<StatusCounts, JournalError>
  /** The run and its journal entries with their times, attempts and lanes. */
  readonly inspect: (runId: string) => Effect.Effect<RunDetail, RunNotFound | InvalidRunId | JournalError>
  /**
   * Stores a schedule (replacing the one with its id): from its next tick on, workers holding
   * the workflow start one run per tick.
   */
  readonly schedule: <I, Ctx, E, R>(
    workflow: Workflow<I, Ctx, E, R>,
    options: ScheduleOptions<I>
  ) => Effect.Effect<ScheduleInfo, InvalidInput | DuplicateEffect | InvalidSchedule | JournalError>
  /** The stored schedules, by id, optionally of one workflow only. */
  readonly schedules: (
    filter?: { readonly workflow?: string | undefined }
  ) => Effect.Effect<ReadonlyArray<ScheduleInfo>, JournalError>
  /** Removes a schedule; false when none had the id. The runs it started go on. */
  readonly unschedule: (id: string) => Effect.Effect<boolean, JournalError>
}

/**
 * The engine service.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Engine, Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean }) }),
 *   Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved))
 * )
 *
 * const program = Effect.gen(function*() {
 *   const engine = yield* Engine.Engine
 *   yield* engine.start(Expense, { input: 120, runId: "expense-7" })
 *   yield* engine.signal(Expense, "expense-7", "approval", { approved: true })
 *   return yield* engine.await(Expense, "expense-7")
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Engine extends Context.Service<Engine, EngineService>()("plait/Engine") {}

/**
 * Builds the engine over the journal and run store in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Engine } from "plait"
 *
 * const program = Effect.gen(function*() {
 *   const engine = yield* Engine.make
 *   return yield* engine.counts()
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<EngineService, never, Journal | RunStore> = Effect.gen(function*() {
  const store = yield* RunStore
  const journal = yield* Journal

  const runOf = (runId: string) =>
    Effect.flatMap(
      store.get(runId),
      (run) => Option.isSome(run) ? Effect.succeed(run.value) : Effect.fail(new RunNotFound({ runId }))
    )

  const ofWorkflow = (run: RunInfo, workflow: string) =>
    run.workflow === workflow
      ? Effect.succeed(run)
      : Effect.fail(new RunConflict({ runId: run.runId, stored: run.workflow, requested: workflow }))

  const start: EngineService["start"] = (workflow, options) =>
    Effect.gen(function*() {
      const definition = workflow as unknown as Definition
      const runId = options.runId === undefined ? crypto.randomUUID() : yield* validRunId(options.runId)
      yield* validPriority(options.priority)
      const input = yield* prepareInput(definition, runId, options.input)
      const { created, run } = yield* store.create({
        runId,
        workflow: definition.name,
        fingerprint: fingerprintOf(definition),
        input: input.encoded,
        priority: options.priority
      })
      if (!created) {
        yield* ofWorkflow(run, definition.name)
        if (run.input !== input.encoded) {
          return yield* new InvalidInput({
            runId,
            workflow: definition.name,
            issue: `a run with this id was started with a different input (${run.input})`
          })
        }
      }
      return { ...run, created }
    }).pipe(Effect.withSpan("plait.engine.start", { attributes: { "plait.workflow": workflow.name } }))

  // A notification (same process, or any process on Postgres) wakes the wait at once; polling,
  // backing off to a second, covers processes that cannot notify.
  const awaitRun: EngineService["await"] = (workflow, runId) =>
    Effect.scoped(Effect.gen(function*() {
      const definition = workflow as unknown as Definition
      yield* validRunId(runId)
      const notifications = yield* store.subscribe
      let pollMs = 25
      while (true) {
        const run = yield* Effect.flatMap(runOf(runId), (run) => ofWorkflow(run, definition.name))
        const now = yield* Clock.currentTimeMillis
        switch (run.status) {
          case "completed":
            // Replaying a completed run runs no step: it needs no services and fails only on a corrupt journal.
            return (yield* (replayFinished(definition, run) as Effect.Effect<unknown, JournalError, Journal>)) as never
          case "failed":
            return yield* new RunFailed({ runId, error: run.error ?? "unknown error" })
          case "cancelled":
            return yield* new RunCancelled({ runId, reason: run.error ?? "cancelled" })
          case "waiting": {
            // Only a signal needs someone outside; a child run or a concurrency slot comes by itself.
            const signal = run.waitingFor.find((path) => isSignalPath(definition.nodes, path))
            if (signal !== undefined && (run.dueAt === undefined || run.dueAt > now)) {
              return { _tag: "Suspended", runId, waitingFor: signal } as never
            }
          }
        }
        yield* Effect.timeoutOption(
          Effect.repeat(Queue.take(notifications), { until: (notification) => isAbout(notification, runId) }),
          pollMs
        )
        pollMs = Math.min(1000, pollMs * 2)
      }
    })).pipe(
      Effect.provideService(Journal, journal),
      Effect.withSpan("plait.engine.await", { attributes: { "plait.run_id": runId } })
    )

  const signal: EngineService["signal"] = (workflow, runId, path, value) =>
    Effect.gen(function*() {
      yield* validRunId(runId)
      const run = yield* Effect.flatMap(runOf(runId), (run) => ofWorkflow(run, workflow.name))
      // A cancelled run will never read it: storing it would report a delivery that means nothing.
      if (run.status === "cancelled") return yield* new RunCancelled({ runId, reason: run.error ?? "cancelled" })
      yield* deliverSignal(workflow as unknown as Definition, runId, path, value)
    }).pipe(
      Effect.provideService(RunStore, store),
      Effect.provideService(Journal, journal),
      Effect.withSpan("plait.engine.signal", { attributes: { "plait.run_id": runId, "plait.path": path } })
    )

  const cancel: EngineService["cancel"] = (runId, options) =>
    Effect.flatMap(
      Effect.andThen(validRunId(runId), store.cancel(runId, options?.reason ?? "cancelled")),
      (run) => Option.isSome(run) ? Effect.succeed(run.value) : Effect.fail(new RunNotFound({ runId }))
    ).pipe(
      Effect.withSpan("plait.engine.cancel", { attributes: { "plait.run_id": runId } })
    )

  const resume: EngineService["resume"] = (runId) =>
    Effect.gen(function*() {
      yield* validRunId(runId)
      // A sleeping run's sleeps end now: journaled first, so whoever executes it, now or in any
      // later replay, does not go back to sleep.
      const before = yield* store.get(runId)
      if (Option.isSome(before) && before.value.status === "sleeping") {
        const now = yield* Clock.currentTimeMillis
        const resumed: JournalEntry = {
          path: "",
          kind: "resumed",
          seq: before.value.wakeups,
          value: Formats.resumed.text(now),
          finishedAt: now
        }
        yield* store.deliver(runId, resumed)
      }
      const run = yield* Effect.flatMap(store.resume(runId), (run) =>
        Option.isSome(run) ? Effect.succeed(run.value) : Effect.fail(new RunNotFound({ runId })))
      if (run.status === "cancelled") {
        return yield* new RunCancelled({ runId, reason: run.error ?? "cancelled" })
      }
      return run
    }).pipe(Effect.withSpan("plait.engine.resume", { attributes: { "plait.run_id": runId } }))

  const inspect: EngineService["inspect"] = (runId) =>
    Effect.flatMap(Effect.andThen(validRunId(runId), journal.load(runId)), (loaded) =>
      Option.isNone(loaded)
        ? Effect.fail(new RunNotFound({ runId }))
        : Effect.succeed({ run: loaded.value.run, entries: entryDetails(loaded.value) }))

  const schedule: EngineService["schedule"] = (workflow, options) =>
    Effect.gen(function*() {
      const definition = workflow as unknown as Definition
      const cron = yield* Effect.fromResult(parseCron(options.id, options.cron, options.timezone))
      const input = yield* prepareInput(definition, options.id, options.input)
      return yield* store.saveSchedule({
        id: options.id,
        workflow: definition.name,
        input: input.encoded,
        cron: options.cron,
        timezone: options.timezone,
        missed: options.missed ?? "skip",
        nextAt: nextTick(cron, yield* Clock.currentTimeMillis)
      })
    }).pipe(Effect.withSpan("plait.engine.schedule", { attributes: { "plait.schedule": options.id } }))

  return Engine.of({
    start,
    schedule,
    schedules: (filter) => store.listSchedules(filter),
    unschedule: (id) => store.removeSchedule(id),
    await: awaitRun,
    signal,
    cancel,
    resume,
    list: (filter) => {
      const cursor = filter?.cursor
      const limit = filter?.limit
      // Checked here, so every backend refuses a cursor alike instead of guessing where it pointed.
      if (cursor !== undefined && cursor !== "" && decodeCursor(cursor) === undefined) {
        return Effect.fail(new InvalidCursor({ cursor }))
      }
      if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1 && limit <= maxPageSize)) {
        return Effect.fail(
          new InvalidOption({ option: "limit", issue: `${limit} is not a whole number from 1 to ${maxPageSize}` })
        )
      }
      return store.list(filter ?? {})
    },
    counts: (filter) => store.counts(filter),
    inspect
  })
})

/**
 * The engine as a layer, over the journal layer's run store.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Engine, SqliteJournal } from "plait"
 *
 * const EngineLive = Engine.layer.pipe(Layer.provide(SqliteJournal.layer({ filename: ".plait/app.sqlite" })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Engine, never, Journal | RunStore> = Layer.effect(Engine, make)

/**
 * The lane of a journal path: the innermost branch or forEach item it runs in. Work in one lane
 * ran one step after another; different lanes may have run at once. A parallel, race or chord
 * branch, a branch case and a forEach item are lanes (`setup/welcome` for
 * `setup/welcome/welcome`); an item is its own lane even where a function body journals its step
 * at the item path (`packed[s0]`). `""` is the top level. Item keys are data and may hold `/`:
 * brackets are matched. This is the `lane` of every entry `inspect` returns (a compensation's is
 * its step's), and of a path a run waits on.
 *
 * @example
 * ```ts
 * import { Engine } from "plait"
 *
 * Engine.laneOf("setup/welcome/welcome") // "setup/welcome"
 * Engine.laneOf("ship[a/b]/label") // "ship[a/b]"
 * Engine.laneOf("packed[s0]") // "packed[s0]"
 * Engine.laneOf("approval") // ""
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const laneOf = (path: string): string => pathLaneOf(path)

/**
 * The run id of the child run a `Workflow.child` node at `path` starts for the run
 * `parentRunId`: the same on every replay, so the child is created once. It is
 * `<parent>/<path>` when that is a valid run id (`RunId.RunId`); when it is not (a parent id near
 * the 512-byte bound, a long path, an item key holding a NUL or a lone surrogate), it is as much
 * of that as fits in 479 bytes, with NUL and lone surrogates replaced by U+FFFD, then `#` and 32
 * hex digits of a SHA-256 digest of the whole: still valid, still the same on every replay.
 *
 * @example
 * ```ts
 * import { Engine } from "plait"
 *
 * Engine.childRunId("order-7", "invoice") // "order-7/invoice"
 * Engine.childRunId("order-7", "lines[3]/restock") // "order-7/lines[3]/restock"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const childRunId = (parentRunId: string, path: string): string => pathChildRunId(parentRunId, path)

// internal

/** What the `priority` column holds: a 32-bit signed integer on Postgres. */
const priorityRange = { min: -2147483648, max: 2147483647 } as const

const validPriority = (priority: number | undefined): Effect.Effect<void, InvalidOption> =>
  priority === undefined ||
    (Number.isSafeInteger(priority) && priority >= priorityRange.min && priority <= priorityRange.max)
    ? Effect.void
    : Effect.fail(
      new InvalidOption({
        option: "priority",
        issue: `${priority} is not a whole number from ${priorityRange.min} to ${priorityRange.max}`
      })
    )

/** An entry with its lane; a compensation's lane is its step's, and it names the step it undoes. */
const entryDetail = (runId: string, compensable: ReadonlySet<string>) => (entry: JournalEntry): EntryDetail => {
  const step = compensatedStepOf(entry.path)
  const compensates = step !== undefined && compensable.has(step) ? step : undefined
  const lane = laneOf(compensates ?? entry.path)
  const common = compensates === undefined ? { ...entry, lane } : { ...entry, lane, compensates }
  // A value that does not decode is shown as it is stored: the run's own replay reports it.
  if (entry.kind === "compensating") {
    const ending = Formats.ending.decode(runId, entry.path, entry.value)
    return Exit.isSuccess(ending)
      ? { ...common, ending: { reason: ending.value.reason, error: ending.value.error } }
      : common
  }
  if (entry.kind !== "attempt") return common
  const record = Formats.attempt.decode(runId, entry.path, entry.value)
  return Exit.isSuccess(record)
    ? { ...common, attempt: record.value.attempt, error: record.value.error, exhausted: record.value.exhausted }
    : { ...common, attempt: entry.seq }
}

const entryDetails = ({ entries, run }: LoadedRun): ReadonlyArray<EntryDetail> => {
  const compensable = new Set(entries.filter((entry) => entry.kind === "compensable").map((entry) => entry.path))
  return entries.map(entryDetail(run.runId, compensable))
}
