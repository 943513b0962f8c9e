/**
 * Executing a run: the one path every run takes, whether `Workflow.run` calls it directly or a
 * worker claimed the run.
 *
 * An executor holds the run's lease for as long as it runs it. Every journal write is fenced by
 * the lease's token, a heartbeat renews the lease (and hears about cancellation), and the run is
 * released with where it stands when the executor stops: completed, failed, cancelled,
 * suspended until a wake time or a signal, or queued again when the executor was interrupted.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { hostname } from "node:os"
import { Journal, type JournalEntry, type Lease, type Release, type RunInfo } from "../Journal.ts"
import type { Claimed } from "../RunStore.ts"
import { CompensationFailed, JournalError, LeaseLost, RunBusy, RunCancelled } from "../WorkflowError.ts"
import { checkStoredRun } from "./acquireCheck.ts"
import { compensate, type Ending, endingEntry, endingOf, hasCompensable, storedEnding } from "./compensation.ts"
import type { Definition } from "./definition.ts"
import { checkOneEffectCopy } from "./effectCopy.ts"
import { fingerprintOf, inputCodecOf, prepareInput, storedInput } from "./identity.ts"
import { runWorkflow } from "./interpreter.ts"
import { makeLeaseDeadline, watchDeadline } from "./leaseDeadline.ts"
import { makeRunState } from "./runState.ts"
import { describeError, plainFailure } from "./step.ts"
import * as Formats from "./formats.ts"
import { isSuspend, releaseOf } from "./suspend.ts"
import { makeWriter, readOnlyWriter } from "./writer.ts"
import type { ChildRuns, Driver, Mode, Observer, RunState } from "./runState.ts"

export { fingerprintOf, prepareInput } from "./identity.ts"

export interface RunOptions {
  readonly input: unknown
  readonly runId?: string | undefined
  readonly allowDefinitionChange?: boolean | undefined
  readonly observe?: Observer | undefined
  readonly batching?: boolean | undefined
  readonly leaseDuration?: number | undefined
}

export type RawOutcome =
  | { readonly _tag: "Completed"; readonly runId: string; readonly context: Record<string, unknown> }
  | { readonly _tag: "Suspended"; readonly runId: string; readonly waitingFor: string }

/** How an executor runs: who it is, how long its lease lasts, and who drives it. */
export interface ExecutorSettings {
  readonly owner: string
  readonly leaseMs: number
  /**
   * A worker renews the leases of all its runs in one statement, and releases a run for a
   * durable wait; a caller (`Workflow.run`) renews its lease itself and waits in process.
   */
  readonly driver: "worker" | "caller"
  readonly batching: boolean
  readonly observer: Observer | undefined
}

/** Why an executor was told to stop a run it holds. */
export type StopReason =
  | { readonly _tag: "Cancel"; readonly reason: string | undefined }
  | { readonly _tag: "LeaseLost" }

/** A run being executed, as its controller (a heartbeat, a worker) sees it. */
export interface Execution {
  readonly lease: Lease
  readonly stop: (reason: StopReason) => Effect.Effect<void>
  /** A heartbeat sent at `sentAt` renewed the lease: its local deadline moves on. */
  readonly renewed: (sentAt: number) => void
}

export const defaultLeaseMs = 30_000

/** A name for this process's executors: host, process id and a random suffix. */
export const executorName = (kind: string): string =>
  `${kind}:${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`

// -------------------------------------------------------------------------------------------
// Workflow.run
// -------------------------------------------------------------------------------------------

/**
 * `Workflow.run` executes, per journal instance, under one owner name, and keeps the runs it is
 * executing. So a second call for a run this journal instance already executes is refused
 * without asking the store, and a run it held but no longer executes (its release failed while
 * the store was down) is taken back at once instead of after its lease expires. Another journal
 * instance in the same process (a layer built again, with its own pool) is another executor:
 * sharing an owner name with it would let it take back a run this one is executing.
 */
const executors = new WeakMap<object, { readonly owner: string; readonly runs: Set<string> }>()

const executorFor = (journal: object) => {
  let executor = executors.get(journal)
  if (executor === undefined) executors.set(journal, executor = { owner: executorName("run"), runs: new Set() })
  return executor
}

/**
 * Starts or resumes a run in the calling fiber: takes the run's lease (refused while another
 * executor holds it), loads its journal, executes it and releases it.
 */
export const runDefinition = (definition: Definition, options: RunOptions) =>
  Effect.gen(function*() {
    const runId = options.runId ?? crypto.randomUUID()
    const input = yield* prepareInput(definition, runId, options.input)
    const journal = yield* Journal
    const { owner, runs: mine } = executorFor(journal)
    if (mine.has(runId)) return yield* new RunBusy({ runId, owner })
    mine.add(runId)
    return yield* Effect.ensuring(
      executeDirectly(definition, runId, input, owner, options),
      Effect.sync(() => mine.delete(runId))
    ).pipe(runSpan(definition, runId))
  })

const executeDirectly = (
  definition: Definition,
  runId: string,
  input: { readonly decoded: unknown; readonly encoded: string },
  owner: string,
  options: RunOptions
) =>
  Effect.gen(function*() {
    const fingerprint = fingerprintOf(definition)
    const journal = yield* Journal
    const settings: ExecutorSettings = {
      owner,
      leaseMs: options.leaseDuration ?? defaultLeaseMs,
      driver: "caller",
      batching: options.batching ?? true,
      observer: options.observe
    }
    // The lease's local deadline counts from before the statement that takes it.
    const takenAt = yield* Clock.currentTimeMillis
    const acquired = yield* journal.acquire(
      {
        runId,
        workflow: definition.name,
        fingerprint,
        input: input.encoded
      },
      {
        owner: settings.owner,
        leaseMs: settings.leaseMs,
        anyFingerprint: options.allowDefinitionChange === true,
        reclaim: true
      }
    )
    const stored = acquired.run
    const refused = checkStoredRun(stored, {
      workflow: definition.name,
      input: input.encoded,
      inputCodec: inputCodecOf(definition).json,
      fingerprint,
      allowDefinitionChange: options.allowDefinitionChange === true
    })
    if (Exit.isFailure(refused)) {
      // Leased (only a corrupt fingerprint gets that far, under `allowDefinitionChange`): the run
      // cannot go on, so it is released as failed rather than left to its lease.
      if (acquired.lease !== undefined) {
        yield* Effect.ignore(journal.release(acquired.lease, { status: "failed", error: describeCause(refused.cause) }))
      }
      return yield* refused
    }
    if (acquired.lease === undefined) {
      if (stored.status === "completed") return yield* replayFinished(definition, stored, acquired.entries)
      if (stored.status === "cancelled") {
        return yield* new RunCancelled({ runId, reason: stored.error ?? "cancelled" })
      }
      return yield* new RunBusy({
        runId,
        owner: stored.owner ?? "another executor",
        leaseExpiresAt: stored.leaseExpiresAt
      })
    }
    const entries = acquired.created ? [] : yield* loadEntries(runId)
    return yield* execute(definition, input.decoded, acquired.lease, takenAt, stored, entries, settings)
  })

const loadEntries = (runId: string) =>
  Effect.flatMap(Journal.use((journal) => journal.load(runId)), (loaded) =>
    Option.isSome(loaded)
      ? Effect.succeed(loaded.value.entries)
      : Effect.fail(
        new JournalError({ reason: "Conflict", runId, detail: "the run disappeared after it was acquired" })
      ))

// -------------------------------------------------------------------------------------------
// claimed runs (workers)
// -------------------------------------------------------------------------------------------

/**
 * Executes a run a worker claimed: its input and journal come from the store, the journal with
 * the claim when the claim could read it (`claimed`), else loaded here.
 */
export const executeClaimed = (
  definition: Definition,
  { entries: claimed, lease, run }: Claimed,
  /** When the claim's statement was sent: the lease's local deadline counts from then. */
  takenAt: number,
  settings: ExecutorSettings,
  register: (execution: Execution) => void
) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    // A second copy of effect is a broken install, not a corrupt run: leave the run to the lease's
    // expiry (another worker takes it) instead of failing it for good.
    yield* checkOneEffectCopy(definition, run.runId)
    const input = storedInput(definition, run)
    if (Exit.isFailure(input)) {
      const error = Cause.squash(input.cause) as JournalError
      yield* journal.release(lease, { status: "failed", error: error.message })
      return yield* input
    }
    const entries = claimed ?? (yield* loadEntries(run.runId))
    return yield* execute(definition, input.value, lease, takenAt, run, entries, settings, register)
  }).pipe(runSpan(definition, run.runId))

/** The root of a run's trace: its blocks, steps and attempts nest inside. */
const runSpan = (definition: Definition, runId: string) =>
  Effect.withSpan("plait.run", { attributes: { "plait.workflow": definition.name, "plait.run_id": runId } })

// -------------------------------------------------------------------------------------------
// executing
// -------------------------------------------------------------------------------------------

/** The run was stopped by its controller; carried through the race with the interpreter. */
class Stopped {
  readonly reason: StopReason
  constructor(reason: StopReason) {
    this.reason = reason
  }
}

/**
 * How a controller stops a run: the run's work stops for a cancellation or a lost lease; its
 * compensations, which are what a cancellation asks for, stop only for a lost lease.
 */
const makeStops = Effect.gen(function*() {
  const cancelled = yield* Deferred.make<string | undefined>()
  const leaseLost = yield* Deferred.make<void>()
  const onLeaseLost = Effect.flatMap(Deferred.await(leaseLost), () => Effect.fail(new Stopped({ _tag: "LeaseLost" })))
  return {
    stop: (reason: StopReason): Effect.Effect<void> =>
      Effect.asVoid(
        reason._tag === "LeaseLost"
          ? Deferred.succeed(leaseLost, undefined)
          : Deferred.succeed(cancelled, reason.reason)
      ),
    work: Effect.raceFirst(
      onLeaseLost,
      Effect.flatMap(Deferred.await(cancelled), (reason) => Effect.fail(new Stopped({ _tag: "Cancel", reason })))
    ),
    compensation: onLeaseLost
  }
})

/** Everything the end of an execution needs. */
interface Executing {
  readonly definition: Definition
  readonly input: unknown
  readonly lease: Lease
  readonly run: RunInfo
  readonly state: RunState
  /** A state over other entries (reloaded ones), writing through the same writer and lease. */
  readonly stateOf: (entries: ReadonlyArray<JournalEntry>) => Exit.Exit<RunState, JournalError>
  readonly stops: Effect.Success<typeof makeStops>
  readonly restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

const execute = (
  definition: Definition,
  input: unknown,
  lease: Lease,
  takenAt: number,
  run: RunInfo,
  entries: ReadonlyArray<JournalEntry>,
  settings: ExecutorSettings,
  register?: (execution: Execution) => void
) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const journal = yield* Journal
      const runId = run.runId
      const stops = yield* makeStops
      const deadline = makeLeaseDeadline(takenAt, settings.leaseMs, stops.stop({ _tag: "LeaseLost" }))
      register?.({ lease, stop: stops.stop, renewed: deadline.renewed })
      const fenced: Journal["Service"] = {
        ...journal,
        append: (lease, batch) =>
          Effect.tapError(
            journal.append(lease, batch),
            (error) => error instanceof LeaseLost ? stops.stop({ _tag: "LeaseLost" }) : Effect.void
          )
      }
      const writer = makeWriter(fenced, lease, settings.batching)
      const children = childRuns(journal)
      const mode: Mode = { _tag: "Executing", journal: fenced, lease, deadline, driver: driverOf(settings) }
      const stateOf = (entries: ReadonlyArray<JournalEntry>) =>
        makeRunState({ runId, entries, mode, writer, children, observer: settings.observer })
      const made = stateOf(entries)
      if (Exit.isFailure(made)) {
        yield* Effect.ignore(journal.release(lease, { status: "failed", error: describeCause(made.cause) }))
        return yield* (made as Exit.Exit<never, JournalError>)
      }
      const state = made.value
      const executing: Executing = { definition, input, lease, run, state, stateOf, stops, restore }
      yield* Effect.forkChild(watchDeadline(deadline), { startImmediately: true })
      if (settings.driver === "caller") {
        yield* Effect.forkChild(heartbeat(lease, settings, stops.stop, deadline.renewed), { startImmediately: true })
      }

      // A run that started compensating goes on compensating, whoever executes it next.
      const ending = yield* storedEnding(state)
      if (ending !== undefined) return yield* compensateAndEnd(executing, ending, undefined)
      if (run.cancelRequested) return yield* cancel(executing, run.error ?? "cancelled")

      const exit = yield* Effect.exit(
        restore(Effect.raceFirst(runWorkflow(definition.nodes, input, state), stops.work))
      )
      return yield* settle(executing, exit)
    })
  )

/** Records where the run stands once its work ended, and what the caller gets. */
const settle = (executing: Executing, exit: Exit.Exit<Record<string, unknown>, unknown>) =>
  Effect.gen(function*() {
    const { lease, run, state } = executing
    const journal = yield* Journal
    const runId = run.runId
    const release = (release: Release) => journal.release(lease, release)
    if (Exit.isSuccess(exit)) {
      // The outputs are journaled; a lease lost now only means another executor replays them.
      yield* Effect.catchIf(release({ status: "completed" }), (e) => e instanceof LeaseLost, () => Effect.void)
      const outcome: RawOutcome = { _tag: "Completed", runId, context: exit.value }
      return outcome
    }
    const failed = exit as Exit.Exit<never, unknown>
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "None") {
      // Interrupted from outside (the caller, a worker shutting down): runnable again at once.
      if (Cause.hasInterruptsOnly(exit.cause)) yield* Effect.ignore(release(unfinished(state, { status: "queued" })))
      else yield* Effect.ignore(release({ status: "failed", error: describeCause(exit.cause) }))
      return yield* failed
    }
    const failure = error.value
    if (failure instanceof Stopped) {
      if (failure.reason._tag === "LeaseLost") {
        return yield* new LeaseLost({ runId, owner: lease.owner, token: lease.token })
      }
      // Without a reason at hand (a notification carries none) the one given to `cancel` is kept.
      return yield* cancel(executing, failure.reason.reason ?? run.error ?? "cancelled", failure.reason.reason)
    }
    if (isSuspend(failure)) {
      yield* release(unfinished(state, releaseOf(failure, run.wakeups)))
      const outcome: RawOutcome = { _tag: "Suspended", runId, waitingFor: failure.path }
      return outcome
    }
    if (failure instanceof LeaseLost) return yield* failed
    if (failure instanceof JournalError) {
      // The store, not the run, failed: let it be retried rather than end it.
      if (failure.reason === "Unavailable") yield* Effect.ignore(release(unfinished(state, { status: "queued" })))
      else yield* Effect.ignore(release({ status: "failed", error: describeCause(exit.cause) }))
      return yield* failed
    }
    // The run failed for good.
    if (state.compensation.next > 0) return yield* compensateAndEnd(executing, endingOf({ failure }), failed)
    return yield* endFailed(executing, failure, failed)
  })

/**
 * An unfinished release (queued, suspended): if a cancellation arrived too late for this
 * executor to see, the store ends the run cancelled, or queues it for compensation.
 */
const unfinished = (state: RunState, release: Release): Release => ({
  ...release,
  ifCancelRequested: state.compensation.next > 0 ? "queued" : "cancelled"
})

/**
 * The run was cancelled: it compensates what it completed, if anything, and ends cancelled. The
 * store keeps the reason given to `cancel` unless this executor was told another.
 */
const cancel = (executing: Executing, reason: string, given?: string | undefined) =>
  Effect.gen(function*() {
    if (executing.state.compensation.next > 0) {
      return yield* compensateAndEnd(executing, endingOf({ cancelled: reason }), undefined)
    }
    yield* Journal.use((journal) => journal.release(executing.lease, { status: "cancelled", error: given }))
    return yield* new RunCancelled({ runId: executing.run.runId, reason })
  })

/**
 * Journals the failure the run ends with (for a parent, an inspector), then releases the run
 * as failed. Writing it is best effort: the release records the error's text either way.
 */
const endFailed = (executing: Executing, failure: unknown, exit: Exit.Exit<never, unknown>) =>
  Effect.gen(function*() {
    const { lease, run, state } = executing
    yield* Effect.ignore(state.writer.write({
      path: "",
      kind: "failed",
      seq: run.executions,
      value: Formats.runFailure.text({ error: describeError(failure), failure: plainFailure(failure) })
    }))
    yield* Effect.ignore(Journal.use((journal) =>
      journal.release(lease, {
        status: "failed",
        error: Exit.isFailure(exit) ? describeCause(exit.cause) : describeError(failure)
      })
    ))
    return yield* exit
  })

/**
 * Undoes the run's completed steps, then ends it as it was ending: cancelled, or failed with its
 * failure (`original` when this execution saw it, else as journaled). The journal is reloaded
 * first: it is the one record of what completed, in what order, whoever executed it.
 */
const compensateAndEnd = (executing: Executing, ending: Ending, original: Exit.Exit<never, unknown> | undefined) =>
  Effect.gen(function*() {
    const { definition, input, lease, restore, run, stateOf, stops } = executing
    const journal = yield* Journal
    const runId = run.runId
    const compensating = Effect.gen(function*() {
      const entries = yield* loadEntries(runId)
      if (!hasCompensable(entries)) return []
      const state = yield* stateOf(entries)
      if (state.stored("compensating", "") === undefined) yield* state.writer.write(endingEntry(ending))
      return yield* compensate(definition, input, entries, state, ending)
    })
    const exit = yield* Effect.exit(restore(Effect.raceFirst(compensating, stops.compensation) as Effect.Effect<
      ReadonlyArray<string>,
      unknown,
      unknown
    >))
    if (Exit.isSuccess(exit)) {
      if (ending.reason === "cancelled") {
        yield* journal.release(lease, { status: "cancelled" })
        return yield* new RunCancelled({ runId, reason: ending.error })
      }
      const failed = original ?? Exit.fail(ending.failure)
      return yield* endFailed(executing, Cause.squash((failed as Exit.Failure<never, unknown>).cause), failed)
    }
    const error = Cause.findErrorOption(exit.cause)
    const failure = error._tag === "Some" ? error.value : undefined
    if (failure instanceof Stopped || failure instanceof LeaseLost) {
      return yield* new LeaseLost({ runId, owner: lease.owner, token: lease.token })
    }
    const failed = exit as Exit.Exit<never, unknown>
    if (failure instanceof CompensationFailed) return yield* endFailed(executing, failure, failed)
    // Interrupted, or the store is down: the journal says the run is compensating, so whoever
    // executes it next goes on from there.
    if (Cause.hasInterruptsOnly(exit.cause) || (failure instanceof JournalError && failure.reason === "Unavailable")) {
      yield* Effect.ignore(journal.release(lease, { status: "queued" }))
      return yield* failed
    }
    yield* Effect.ignore(journal.release(lease, { status: "failed", error: describeCause(exit.cause) }))
    return yield* failed
  })

/** Children of a run: loaded and replayed from the journal. */
const childRuns = (journal: Journal["Service"]): ChildRuns => ({
  load: (runId) => journal.load(runId),
  replay: (definition, loaded) =>
    Effect.map(
      replayFinished(definition, loaded.run, loaded.entries),
      (outcome) => (outcome as RawOutcome & { _tag: "Completed" }).context
    )
})

/** Who drives a run these settings execute; a caller executes the run's children in its own fiber. */
const driverOf = (settings: ExecutorSettings): Driver =>
  settings.driver === "worker" ? { _tag: "Worker" } : {
    _tag: "Caller",
    executeChild: (definition, runId, input) =>
      Effect.map(
        // `runDefinition` succeeds with an outcome only: its other result types come from exits
        // it yields when they are failures.
        runDefinition(definition, {
          input,
          runId,
          observe: settings.observer,
          batching: settings.batching,
          leaseDuration: settings.leaseMs
        }) as Effect.Effect<RawOutcome, unknown, unknown>,
        (outcome: RawOutcome) =>
          outcome._tag === "Completed"
            ? { _tag: "Completed" as const, context: outcome.context }
            : { _tag: "Suspended" as const, waitingFor: outcome.waitingFor }
      )
  }

/**
 * Renews the lease every third of its length, and stops the run when the lease was taken over or
 * the run was cancelled. A failed heartbeat is retried at the next beat; if the store stays
 * unreachable until the lease's local deadline, the run stops there (see `leaseDeadline.ts`).
 */
const heartbeat = (
  lease: Lease,
  settings: ExecutorSettings,
  stop: (reason: StopReason) => Effect.Effect<void>,
  renewed: (sentAt: number) => void
) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const interval = Math.max(1, Math.floor(settings.leaseMs / 3))
    while (true) {
      yield* Effect.sleep(interval)
      const sentAt = yield* Clock.currentTimeMillis
      const states = yield* Effect.option(journal.heartbeat(lease.owner, [lease], settings.leaseMs))
      if (Option.isNone(states)) continue
      const state = states.value[0]
      if (state === undefined || !state.held) return yield* stop({ _tag: "LeaseLost" })
      renewed(sentAt)
      if (state.cancelRequested) return yield* stop({ _tag: "Cancel", reason: state.cancelReason })
    }
  })

// -------------------------------------------------------------------------------------------
// replaying finished runs
// -------------------------------------------------------------------------------------------

/**
 * The outcome of a completed run, rebuilt from its journal: nothing runs, nothing is written,
 * and no lease is needed. A step the journal lacks means the journal is corrupt.
 */
export const replayFinished = (definition: Definition, run: RunInfo, loaded?: ReadonlyArray<JournalEntry>) =>
  Effect.gen(function*() {
    const input = yield* storedInput(definition, run)
    const entries = loaded ?? (yield* loadEntries(run.runId))
    const state = yield* makeRunState({
      runId: run.runId,
      entries,
      mode: { _tag: "Replaying" },
      writer: readOnlyWriter(run.runId),
      children: childRuns(yield* Journal),
      observer: undefined
    })
    const exit = yield* Effect.exit(runWorkflow(definition.nodes, input, state))
    if (Exit.isSuccess(exit)) {
      const outcome: RawOutcome = { _tag: "Completed", runId: run.runId, context: exit.value }
      return outcome
    }
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "Some" && isSuspend(error.value)) {
      return yield* new JournalError({
        reason: "Corrupt",
        runId: run.runId,
        path: error.value.path,
        detail: "the run is completed but its journal has no value for this signal"
      })
    }
    return yield* (exit as Exit.Exit<never, unknown>)
  })

const describeCause = (cause: Cause.Cause<unknown>): string => describeError(Cause.squash(cause))
