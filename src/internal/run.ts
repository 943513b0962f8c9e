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
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { hostname } from "node:os"
import {
  Journal,
  JournalError,
  type JournalEntry,
  type Lease,
  LeaseLost,
  type Release,
  type RunInfo
} from "../Journal.ts"
import { InvalidInput, RunBusy, RunCancelled } from "../WorkflowError.ts"
import { jsonCodec } from "./codec.ts"
import type { Definition } from "./definition.ts"
import { checkOneEffectCopy, duplicateEffectIn } from "./effectCopy.ts"
import { runWorkflow } from "./interpreter.ts"
import { memoizeByIdentity } from "./memo.ts"
import { outline } from "./outline.ts"
import { makeRunState, type Observer } from "./runState.ts"
import { checkStoredRun } from "./storedRun.ts"
import { isSuspend, releaseOf } from "./suspend.ts"
import { makeWriter, readOnlyWriter } from "./writer.ts"

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

/** How an executor runs: who it is, how long its lease lasts, and how it waits. */
export interface ExecutorSettings {
  readonly owner: string
  readonly leaseMs: number
  /** Renew the lease itself; a worker renews the leases of all its runs in one statement instead. */
  readonly heartbeat: boolean
  /** Release the run for the length of a durable sleep instead of sleeping in process. */
  readonly suspendSleeps: boolean
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
}

export const defaultLeaseMs = 30_000

/** A name for this process's executors: host, process id and a random suffix. */
export const executorName = (kind: string): string =>
  `${kind}:${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`

export const fingerprintOf = memoizeByIdentity((definition: Definition) => JSON.stringify(outline(definition.nodes)))

const inputCodecOf = memoizeByIdentity((definition: Definition) => {
  const decode = Schema.decodeUnknownExit(definition.input)
  return {
    json: jsonCodec(definition.input),
    // Every issue, not only the first: the caller fixes the input in one go.
    decode: (input: unknown) => decode(input, { errors: "all" })
  }
})

/**
 * Decodes a caller's input and encodes it for the journal, or says why it is invalid. First
 * makes sure the workflow's schemas come from plait's copy of `effect`: from another copy they
 * would reject valid input.
 */
export const prepareInput = (definition: Definition, runId: string, input: unknown) => {
  const duplicate = duplicateEffectIn(definition, runId)
  if (duplicate !== undefined) return Exit.fail(duplicate)
  const codecs = inputCodecOf(definition)
  const decoded = codecs.decode(input)
  if (Exit.isFailure(decoded)) {
    return Exit.fail(new InvalidInput({ runId, workflow: definition.name, issue: issueText(decoded.cause) }))
  }
  const encoded = codecs.json.encode(decoded.value)
  return Exit.isFailure(encoded)
    ? Exit.fail(new InvalidInput({ runId, workflow: definition.name, issue: issueText(encoded.cause) }))
    : Exit.succeed({ decoded: decoded.value, encoded: encoded.value })
}

/** Decodes the input a run was stored with. */
const storedInput = (definition: Definition, run: RunInfo) =>
  Exit.mapError(
    inputCodecOf(definition).json.decode(run.input),
    (issue) => new JournalError({ reason: "Corrupt", runId: run.runId, detail: `the stored input does not decode: ${issue}` })
  )

// -------------------------------------------------------------------------------------------
// Workflow.run
// -------------------------------------------------------------------------------------------

/**
 * `Workflow.run` executes under one owner name per process, and keeps, per journal, the runs it
 * is executing. So a second call for a run this process already executes is refused without
 * asking the store, and a run this process held but no longer executes (its release failed
 * while the store was down) is taken back at once instead of after its lease expires.
 */
let processOwner: string | undefined
const executing = new WeakMap<object, Set<string>>()

const executingIn = (journal: object): Set<string> => {
  let runs = executing.get(journal)
  if (runs === undefined) executing.set(journal, runs = new Set())
  return runs
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
    const owner = processOwner ??= executorName("run")
    const mine = executingIn(journal)
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
      heartbeat: true,
      suspendSleeps: false,
      batching: options.batching ?? true,
      observer: options.observe
    }
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
    return yield* execute(definition, input.decoded, acquired.lease, stored, entries, settings)
  })

const loadEntries = (runId: string) =>
  Effect.flatMap(Journal.use((journal) => journal.load(runId)), (loaded) =>
    Option.isSome(loaded)
      ? Effect.succeed(loaded.value.entries)
      : Effect.fail(new JournalError({ reason: "Conflict", runId, detail: "the run disappeared after it was acquired" })))

// -------------------------------------------------------------------------------------------
// claimed runs (workers)
// -------------------------------------------------------------------------------------------

/** Executes a run a worker claimed: its input and journal come from the store. */
export const executeClaimed = (
  definition: Definition,
  run: RunInfo,
  lease: Lease,
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
    const entries = yield* loadEntries(run.runId)
    return yield* execute(definition, input.value, lease, run, entries, settings, register)
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

const execute = (
  definition: Definition,
  input: unknown,
  lease: Lease,
  run: RunInfo,
  entries: ReadonlyArray<JournalEntry>,
  settings: ExecutorSettings,
  register?: (execution: Execution) => void
) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const journal = yield* Journal
      const runId = run.runId
      if (run.cancelRequested) {
        const reason = run.error ?? "cancelled"
        yield* journal.release(lease, { status: "cancelled", error: reason })
        return yield* new RunCancelled({ runId, reason })
      }

      const stopped = yield* Deferred.make<StopReason>()
      const stop = (reason: StopReason) => Effect.asVoid(Deferred.succeed(stopped, reason))
      register?.({ lease, stop })
      const fenced: Journal["Service"] = {
        ...journal,
        append: (lease, batch) =>
          Effect.tapError(journal.append(lease, batch), (error) =>
            error instanceof LeaseLost ? stop({ _tag: "LeaseLost" }) : Effect.void)
      }
      const made = makeRunState({
        runId,
        entries,
        writer: makeWriter(fenced, lease, settings.batching),
        observer: settings.observer,
        suspendSleeps: settings.suspendSleeps
      })
      if (Exit.isFailure(made)) {
        yield* Effect.ignore(journal.release(lease, { status: "failed", error: describeCause(made.cause) }))
        return yield* made
      }
      const state = made.value
      if (settings.heartbeat) yield* Effect.forkChild(heartbeat(lease, settings, stop), { startImmediately: true })

      const work = Effect.raceFirst(
        runWorkflow(definition.nodes, input, state),
        Effect.flatMap(Deferred.await(stopped), (reason) => Effect.fail(new Stopped(reason)))
      )
      const exit = yield* Effect.exit(restore(work))
      return yield* settle(exit, lease, run, settings)
    })
  )

/** Records where the run stands once its work ended, and what the caller gets. */
const settle = (
  exit: Exit.Exit<Record<string, unknown>, unknown>,
  lease: Lease,
  run: RunInfo,
  _settings: ExecutorSettings
) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const runId = run.runId
    const release = (release: Release) => journal.release(lease, release)
    if (Exit.isSuccess(exit)) {
      // The outputs are journaled; a lease lost now only means another executor replays them.
      yield* Effect.catchIf(release({ status: "completed" }), (e) => e instanceof LeaseLost, () => Effect.void)
      const outcome: RawOutcome = { _tag: "Completed", runId, context: exit.value }
      return outcome
    }
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "None") {
      // Interrupted from outside (the caller, a worker shutting down): runnable again at once.
      if (Cause.hasInterruptsOnly(exit.cause)) yield* Effect.ignore(release({ status: "queued" }))
      else yield* Effect.ignore(release({ status: "failed", error: describeCause(exit.cause) }))
      return yield* exit
    }
    const failure = error.value
    if (failure instanceof Stopped) {
      if (failure.reason._tag === "LeaseLost") {
        return yield* new LeaseLost({ runId, owner: lease.owner, token: lease.token })
      }
      // Without a reason at hand (a notification carries none) the one given to `cancel` is kept.
      yield* release({ status: "cancelled", error: failure.reason.reason })
      return yield* new RunCancelled({ runId, reason: failure.reason.reason ?? run.error ?? "cancelled" })
    }
    if (isSuspend(failure)) {
      yield* release(releaseOf(failure, run.wakeups))
      const outcome: RawOutcome = { _tag: "Suspended", runId, waitingFor: failure.path }
      return outcome
    }
    if (failure instanceof LeaseLost) return yield* exit
    if (failure instanceof JournalError && failure.reason === "Unavailable") {
      // The store, not the run, failed: let it be retried rather than end it.
      yield* Effect.ignore(release({ status: "queued" }))
      return yield* exit
    }
    yield* Effect.ignore(release({ status: "failed", error: describeCause(exit.cause) }))
    return yield* exit
  })

/**
 * Renews the lease every third of its length, and stops the run when the lease was taken over or
 * the run was cancelled. A failed heartbeat is retried at the next beat; if the store stays
 * unreachable past the lease, the next write is refused and the run stops there.
 */
const heartbeat = (lease: Lease, settings: ExecutorSettings, stop: (reason: StopReason) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const interval = Math.max(1, Math.floor(settings.leaseMs / 3))
    while (true) {
      yield* Effect.sleep(interval)
      const states = yield* Effect.option(journal.heartbeat(lease.owner, [lease], settings.leaseMs))
      if (Option.isNone(states)) continue
      const state = states.value[0]
      if (state === undefined || !state.held) return yield* stop({ _tag: "LeaseLost" })
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
      writer: readOnlyWriter(run.runId),
      observer: undefined,
      readOnly: true
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
    return yield* exit
  })

const issueText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return typeof error === "string" ? error : error instanceof Error ? error.message : String(error)
}

const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (error instanceof Error) return `${error.name}: ${error.message}`
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
