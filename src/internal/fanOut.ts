/**
 * Running several keyed tasks at once under an error strategy. Shared by `parallel`, `chord`
 * and `forEach`, whose only difference is where the tasks come from.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import { type JournalError, ParallelFailure } from "../WorkflowError.ts"
import { isRunFault } from "./faults.ts"
import * as Formats from "./formats.ts"
import { inFlightFor, pipelined } from "./pipeline.ts"
import { inOwnFiber } from "./runState.ts"
import { isSuspend, mergeSuspends, type Suspend } from "./suspend.ts"
import type { ErrorStrategy, Tolerance } from "./node.ts"
import type { PipelineItem } from "./pipeline.ts"
import type { RunState } from "./runState.ts"

/**
 * The tasks of a block: one element each (a forEach's items, a block's branches), the key of
 * each, and how to build the task at an index. Tasks and their keys are made only when needed
 * (a task when it starts, a key when a result is filed under it), so a large `forEach` holds at
 * most `concurrency` tasks at once and no array of keys beside its items.
 */
export interface Tasks {
  /** Only counted and walked, never copied. */
  readonly items: ReadonlyArray<unknown>
  readonly keyAt: (index: number) => string
  readonly runAt: (index: number, state: RunState) => Effect.Effect<unknown, unknown, unknown>
  /** Whether the task at an index is one step and nothing else: its step's completion ends it. */
  readonly isOneStep: (index: number) => boolean
}

/** Every task's key, for the records that name them all (a settled block's outcome). */
const keysOf = (tasks: Tasks): ReadonlyArray<string> => tasks.items.map((_, index) => tasks.keyAt(index))

export interface FanOutOptions {
  readonly path: string
  readonly onError: ErrorStrategy
  readonly concurrency: number | undefined
  readonly tolerate?: Tolerance | undefined
  /** Called as each task succeeds, in completion order. */
  readonly onSuccess?: ((key: string) => void) | undefined
}

/**
 * Runs the tasks. Under `failFast` the first failure interrupts the tasks still running and
 * fails the whole; otherwise every task runs to its end. Results are in task order; under
 * `settle` each is a `Result`.
 */
export const fanOut = (
  tasks: Tasks,
  state: RunState,
  options: FanOutOptions
): Effect.Effect<ReadonlyArray<unknown>, unknown, unknown> => {
  if (options.onError === "settle") return settleDurably(tasks, state, options)
  // A rebuild runs every task to its end: a failure it replays in one task must not interrupt a
  // sibling before that sibling reached the steps it journaled.
  if (options.onError === "failFast" && state.mode._tag === "Rebuilding") {
    return Effect.flatMap(runAll(tasks, state, { ...options, onError: "completeAll" }), (exits) => {
      const failed = (exits as ReadonlyArray<Exit.Exit<unknown, unknown>>).find(Exit.isFailure)
      return failed === undefined
        ? Effect.succeed((exits as ReadonlyArray<Exit.Success<unknown, unknown>>).map((exit) => exit.value))
        : (failed as Exit.Failure<never, unknown>)
    })
  }
  const exits = runAll(tasks, state, options)
  if (options.onError === "failFast") return exits
  return Effect.flatMap(
    exits,
    (all) => settleExits(tasks, all as ReadonlyArray<Exit.Exit<unknown, unknown>>, state, options)
  )
}

/**
 * Runs the tasks at the bound; failFast returns their values, the other strategies their exits.
 * A task that suspends (waits for a signal or, under a worker, a sleep) is not a failure: under
 * failFast its siblings go on, and the block suspends once none is left running, with every wait.
 */
const runAll = (
  tasks: Tasks,
  state: RunState,
  options: FanOutOptions,
  stateAt: (index: number) => RunState = () => state
) => {
  const bound = options.concurrency
  // Under a bound of more than one, fewer than the tasks, the bound is on running tasks: one
  // waiting for its write to commit lets the next start (see pipeline.ts). Each task then runs
  // as its own pipelined item; tasks run one at a time stay in this fiber, and in its item.
  const isPipelined = state.writer.pipelines && bound !== undefined && bound > 1 && bound < tasks.items.length
  const itemOf = (index: number, item: PipelineItem | undefined): RunState => {
    const at = stateAt(index)
    return at.item === item ? at : { ...at, item }
  }
  const inItem = bound === 1 ? stateAt : (index: number) => inOwnFiber(stateAt(index))
  const task = options.onSuccess === undefined
    ? (index: number, state: RunState) => tasks.runAt(index, state)
    : (index: number, state: RunState) =>
      Effect.tap(tasks.runAt(index, state), () => Effect.sync(() => options.onSuccess!(tasks.keyAt(index))))
  const concurrency = isPipelined ? inFlightFor(bound) : bound ?? "unbounded"
  const inSlot = isPipelined
    ? pipelined(bound, (index, item) => task(index, itemOf(index, item)), tasks.isOneStep)
    : (index: number) => task(index, inItem(index))
  const run = (_item: unknown, index: number) => inSlot(index)
  if (options.onError !== "failFast") {
    return Effect.forEach(tasks.items, (item, index) => Effect.exit(run(item, index)), { concurrency })
  }
  const suspended: Array<Suspend> = []
  const parked = (item: unknown, index: number) =>
    Effect.catchIf(run(item, index), isSuspend, (suspend) => Effect.sync(() => void suspended.push(suspend)))
  return Effect.flatMap(
    Effect.forEach(tasks.items, parked, { concurrency }),
    (values) => (suspended.length > 0 ? Effect.fail(mergeSuspends(suspended)) : Effect.succeed(values))
  )
}

/**
 * Under `"settle"` a failed branch is part of the block's outcome, which later steps may already
 * have acted on. So when the block completes with failures, the outcome of every branch is
 * journaled, and on resume each branch replays it: a failed one the failure its steps recorded
 * (a branch that now succeeded would change a context the journal already depends on), a
 * succeeded one its journaled outputs, never running a step. A record that names a branch the
 * block lacks, or that the replay contradicts, is corrupt.
 */
const settleDurably = (tasks: Tasks, state: RunState, options: FanOutOptions) => {
  // A settled block's record names every branch, so here every key is needed.
  const keys = keysOf(tasks)
  const stored = state.stored("choice", options.path)
  const recorded = stored === undefined ? Exit.succeed(undefined) : settledRecord(keys, state, options, stored.value)
  return Effect.flatMap(recorded, (record) => {
    const failedState: RunState = { ...state, recorded: "failed" }
    const succeededState: RunState = { ...state, recorded: "succeeded" }
    const stateAt = (index: number) => {
      const outcome = record?.get(keys[index]!)
      return outcome === undefined ? state : outcome ? failedState : succeededState
    }
    return runAll(tasks, state, options, stateAt).pipe(
      Effect.flatMap((exits) =>
        settleExits(tasks, exits as ReadonlyArray<Exit.Exit<unknown, unknown>>, state, options)
      ),
      Effect.flatMap((results) => {
        const failed = (i: number) => Result.isFailure(results[i] as Result.Result<unknown, unknown>)
        if (record !== undefined) {
          const contradicted = keys.find((key, i) => record.has(key) && record.get(key) !== failed(i))
          return contradicted === undefined
            ? Effect.succeed(results)
            : corrupt(state, options.path, `branch ${contradicted} replayed differently from its recorded outcome`)
        }
        if (!keys.some((_, i) => failed(i))) return Effect.succeed(results)
        const outcome = {
          failed: keys.filter((_, i) => failed(i)),
          succeeded: keys.filter((_, i) => !failed(i))
        }
        return Effect.as(
          state.writer.write({ path: options.path, kind: "choice", seq: 0, value: Formats.settleRecord.text(outcome) }),
          results
        )
      })
    )
  })
}

/** A settled block's record, checked: each branch's outcome (`true` for failed), by key. */
const settledRecord = (
  keys: ReadonlyArray<string>,
  state: RunState,
  options: FanOutOptions,
  text: string
): Exit.Exit<ReadonlyMap<string, boolean>, JournalError> => {
  const decoded = Formats.settleRecord.decode(state.runId, options.path, text)
  if (Exit.isFailure(decoded)) return Exit.failCause(decoded.cause)
  const { failed, succeeded } = decoded.value
  const outcomes = new Map<string, boolean>()
  const known = new Set(keys)
  for (const [list, isFailure] of [[failed, true], [succeeded, false]] as const) {
    for (const key of list) {
      if (!known.has(key)) {
        return corrupt(state, options.path, `the record names ${key}, which is not a branch of the block`)
      }
      if (outcomes.has(key)) return corrupt(state, options.path, `the record names ${key} twice`)
      outcomes.set(key, isFailure)
    }
  }
  // Written only when some branch failed, and only when the failures were tolerated.
  if (failed.length === 0 || failed.length > tolerated(options.tolerate, keys.length)) {
    return corrupt(
      state,
      options.path,
      `the record has ${failed.length} failed branches; the block could not settle so`
    )
  }
  return Exit.succeed(outcomes)
}

const corrupt = (state: RunState, path: string, detail: string) => Exit.fail(Formats.corrupt(state.runId, path, detail))

const settleExits = (
  tasks: Tasks,
  exits: ReadonlyArray<Exit.Exit<unknown, unknown>>,
  state: RunState,
  options: FanOutOptions
): Effect.Effect<ReadonlyArray<unknown>, unknown> => {
  const failures: Record<string, unknown> = {}
  const successes: Record<string, unknown> = {}
  const results: Array<Result.Result<unknown, unknown>> = []
  const suspended: Array<Suspend> = []
  for (let i = 0; i < exits.length; i++) {
    const exit = exits[i]!
    const key = tasks.keyAt(i)
    if (Exit.isSuccess(exit)) {
      successes[key] = exit.value
      results.push(Result.succeed(exit.value))
      continue
    }
    const error = Cause.findErrorOption(exit.cause)
    // An interruption, a defect or a run fault is not a branch failure to collect: it ends the
    // block. A storage fault turned into a branch `Result` would be hidden.
    if (error._tag === "None" || isRunFault(error.value)) return exit as Exit.Exit<never, unknown>
    if (isSuspend(error.value)) {
      suspended.push(error.value)
      continue
    }
    failures[key] = error.value
    results.push(Result.fail(error.value))
  }
  if (suspended.length > 0) return Effect.fail(mergeSuspends(suspended))
  const failed = exits.length - Object.keys(successes).length
  if (options.onError === "settle" && failed <= tolerated(options.tolerate, exits.length)) {
    return Effect.succeed(results)
  }
  if (failed === 0) return Effect.succeed(results.map((result) => (result as Result.Success<unknown, unknown>).success))
  return Effect.fail(new ParallelFailure({ runId: state.runId, path: options.path, failures, successes }))
}

const tolerated = (tolerance: Tolerance | undefined, total: number): number => {
  if (tolerance === undefined) return Infinity
  return "count" in tolerance ? tolerance.count : Math.floor(tolerance.fraction * total)
}
