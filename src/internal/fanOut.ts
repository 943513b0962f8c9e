/**
 * Running several keyed tasks at once under an error strategy. Shared by `parallel`, `chord`
 * and `forEach`, whose only difference is where the tasks come from.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import { JournalError } from "../Journal.ts"
import { ParallelFailure } from "../WorkflowError.ts"
import * as Schema from "effect/Schema"
import { jsonCodec } from "./codec.ts"
import type { ErrorStrategy, Tolerance } from "./node.ts"
import type { RunState } from "./runState.ts"
import { decodeStored } from "./step.ts"
import { isSuspend } from "./suspend.ts"

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
}

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
  const exits = runAll(tasks, () => state, options)
  if (options.onError === "failFast") return exits
  return Effect.flatMap(exits, (all) => settleExits(tasks, all as ReadonlyArray<Exit.Exit<unknown, unknown>>, state, options))
}

/** Runs the tasks at the bound; failFast returns their values, the other strategies their exits. */
const runAll = (tasks: Tasks, stateAt: (index: number) => RunState, options: FanOutOptions) => {
  const concurrency = options.concurrency ?? "unbounded"
  const onSuccess = options.onSuccess
  const run = onSuccess === undefined
    ? (_item: unknown, index: number) => tasks.runAt(index, stateAt(index))
    : (_item: unknown, index: number) =>
      Effect.tap(tasks.runAt(index, stateAt(index)), () => Effect.sync(() => onSuccess(tasks.keyAt(index))))
  return options.onError === "failFast"
    ? Effect.forEach(tasks.items, run, { concurrency })
    : Effect.forEach(tasks.items, (item, index) => Effect.exit(run(item, index)), { concurrency })
}

/**
 * Under `"settle"` a failed branch is part of the block's outcome, which later steps may already
 * have acted on. So the keys that failed are journaled when the block completes, and on resume
 * those branches replay the failure their steps recorded instead of running again (a branch that
 * now succeeded would change a context the journal already depends on).
 */
const settleDurably = (tasks: Tasks, state: RunState, options: FanOutOptions) => {
  const recorded = state.stored("choice", options.path)
  const failedBefore = recorded === undefined
    ? Exit.succeed(undefined)
    : Exit.map(decodeStored(state, options.path, settledCodec, recorded.value), (value) =>
      new Set((value as { readonly failed: ReadonlyArray<string> }).failed))
  return Effect.flatMap(failedBefore, (failed) => {
    const replaying: RunState = { ...state, replayFailures: true }
    const stateAt = (index: number) => (failed?.has(tasks.keyAt(index)) ? replaying : state)
    return runAll(tasks, stateAt, options).pipe(
      Effect.flatMap((exits) => settleExits(tasks, exits as ReadonlyArray<Exit.Exit<unknown, unknown>>, state, options)),
      Effect.tap((results) => {
        if (recorded !== undefined) return Effect.void
        const failedKeys: Array<string> = []
        results.forEach((result, i) => {
          if (Result.isFailure(result as Result.Result<unknown, unknown>)) failedKeys.push(tasks.keyAt(i))
        })
        return failedKeys.length === 0
          ? Effect.void
          : state.writer.write({ path: options.path, kind: "choice", seq: 0, value: JSON.stringify({ failed: failedKeys }) })
      })
    )
  })
}

const settledCodec = jsonCodec(Schema.Struct({ failed: Schema.Array(Schema.String) }))

const settleExits = (
  tasks: Tasks,
  exits: ReadonlyArray<Exit.Exit<unknown, unknown>>,
  state: RunState,
  options: FanOutOptions
): Effect.Effect<ReadonlyArray<unknown>, unknown> => {
  const failures: Record<string, unknown> = {}
  const successes: Record<string, unknown> = {}
  const results: Array<Result.Result<unknown, unknown>> = []
  for (let i = 0; i < exits.length; i++) {
    const exit = exits[i]!
    const key = tasks.keyAt(i)
    if (Exit.isSuccess(exit)) {
      successes[key] = exit.value
      results.push(Result.succeed(exit.value))
      continue
    }
    const error = Cause.findErrorOption(exit.cause)
    // A suspension, an interruption, a defect or a journal fault is not a branch failure to
    // collect: it ends the block. A storage fault turned into a branch `Result` would be hidden.
    if (error._tag === "None" || isSuspend(error.value) || error.value instanceof JournalError) {
      return exit as Exit.Exit<never, unknown>
    }
    failures[key] = error.value
    results.push(Result.fail(error.value))
  }
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
