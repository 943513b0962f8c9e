/**
 * Walks a workflow's nodes. Each node returns the delta it adds to the context; a segment runs
 * its nodes in order, each seeing the deltas before it. Decisions that must replay identically
 * (race winners, branch cases, `lastWins` completion order, sleep deadlines) are journaled
 * before anything depends on them.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import { JournalError } from "../Journal.ts"
import { RaceFailure, SignalTimeout } from "../WorkflowError.ts"
import { type JsonCodec, jsonCodec } from "./codec.ts"
import { fanOut, type Tasks } from "./fanOut.ts"
import { memoizeByIdentity } from "./memo.ts"
import { deepMerge, mergeAll, shallowMerge } from "./merge.ts"
import type {
  BranchNode,
  ChordNode,
  Ctx,
  ForEachNode,
  Node,
  ParallelNode,
  RaceNode,
  SignalNode,
  SleepNode,
  StepNode
} from "./node.ts"
import { childPath, itemPath } from "./path.ts"
import type { RunState } from "./runState.ts"
import { signalCodecOf } from "./signal.ts"
import { decodeStored, runStep } from "./step.ts"
import { isSuspend, Suspend } from "./suspend.ts"

type Run<A = Ctx> = Effect.Effect<A, unknown, unknown>

/** Runs `nodes` in order on a copy of `base`; returns what they added. */
export const runSegment = (nodes: ReadonlyArray<Node>, base: Ctx, prefix: string, state: RunState): Run => {
  const only = nodes.length === 1 ? nodes[0]! : undefined
  // A segment of one step (a parallel branch, a race arm, a case) adds its output and nothing
  // else: no copy of the context and no loop, which were most of a one-step branch's cost.
  if (only?._tag === "Step") {
    return Effect.map(runStep(only, childPath(prefix, only.name), state, base), (output) => ({ [only.name]: output }))
  }
  return Effect.suspend(() => {
    const delta: Ctx = {}
    return Effect.as(runInto(nodes, { ...base }, delta, prefix, state), delta)
  })
}

/** Runs a whole workflow from `{ input }`; returns the final context. */
export const runWorkflow = (nodes: ReadonlyArray<Node>, input: unknown, state: RunState): Run =>
  Effect.suspend(() => {
    const ctx: Ctx = { input }
    return Effect.as(runInto(nodes, ctx, undefined, "", state), ctx)
  })

/**
 * Runs `nodes` in order, adding what each produces to `ctx` (what later nodes see) and, when
 * given, to `delta`. A step's output is written in under its name directly: building a
 * `{ [name]: output }` object per step and merging it cost more than the write itself.
 */
const runInto = (
  nodes: ReadonlyArray<Node>,
  ctx: Ctx,
  delta: Ctx | undefined,
  prefix: string,
  state: RunState
): Run<void> => {
  let index = 0
  let current: Node | undefined
  return Effect.whileLoop({
    while: () => index < nodes.length,
    body: () => runNode((current = nodes[index++]!), ctx, prefix, state),
    step: (output) => {
      if (current!._tag === "Step") {
        ctx[current!.name] = output
        if (delta !== undefined) delta[current!.name] = output
      } else {
        Object.assign(ctx, output)
        if (delta !== undefined) Object.assign(delta, output)
      }
    }
  })
}

/** A step yields its output; every other node yields the delta it adds to the context. */
const runNode = (node: Node, ctx: Ctx, prefix: string, state: RunState): Run<unknown> => {
  const path = childPath(prefix, node.name)
  switch (node._tag) {
    case "Step":
      return runStep(node, path, state, ctx)
    case "Parallel":
      return runParallel(node, ctx, path, state)
    case "Chord":
      return runChord(node, ctx, path, state)
    case "Race":
      return runRace(node, ctx, path, state)
    case "ForEach":
      return runForEach(node, ctx, path, state)
    case "Branch":
      return runBranch(node, ctx, path, state)
    case "Sleep":
      return runSleep(node, path, state)
    case "Signal":
      return runSignal(node, path, state)
  }
}

/** Tells the writer when tasks may run at once, so it batches their completions. */
const concurrently = <A, E, R>(
  state: RunState,
  tasks: number,
  concurrency: number | undefined,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => (tasks < 2 || concurrency === 1 ? effect : state.writer.concurrently(effect))

// --- parallel and chord ------------------------------------------------------------------

const runParallel = (node: ParallelNode, ctx: Ctx, path: string, state: RunState): Run => {
  const order: Array<string> = []
  const lone = loneStepsOf(node)
  const tasks: Tasks = {
    items: node.branches,
    keyAt: (index) => node.branches[index]![0],
    runAt: (index, state) => {
      const [key, nodes] = node.branches[index]!
      const step = lone[index]
      const branchPath = childPath(path, key)
      return step === undefined
        ? runSegment(nodes, ctx, branchPath, state)
        : runStep(step, childPath(branchPath, step.name), state, ctx)
    }
  }
  return concurrently(
    state,
    tasks.items.length,
    node.concurrency,
    fanOut(tasks, state, {
      path,
      onError: node.onError,
      concurrency: node.concurrency,
      onSuccess: node.merge === "lastWins" ? (key) => order.push(key) : undefined
    })
  ).pipe(Effect.flatMap((results) => mergeBranches(node, path, state, tasks, results, order)))
}

/**
 * The step of each branch that is one step and nothing else, else `undefined`. Such a branch
 * yields that step's output rather than a delta: the default deep merge then writes it in under
 * the step's name, with no one-key object built per branch and taken apart again. Only under
 * `failFast`: the other strategies hand each branch's delta to the user (`ParallelFailure`'s
 * successes, `settle`'s results).
 */
const loneStepsOf = memoizeByIdentity((node: ParallelNode): ReadonlyArray<StepNode | undefined> =>
  node.branches.map(([, nodes]) =>
    node.onError === "failFast" && nodes.length === 1 && nodes[0]!._tag === "Step" ? nodes[0] : undefined
  )
)

const mergeBranches = (
  node: ParallelNode,
  path: string,
  state: RunState,
  tasks: Tasks,
  results: ReadonlyArray<unknown>,
  completionOrder: ReadonlyArray<string>
): Run => {
  const lone = loneStepsOf(node)
  const deltaAt = (i: number, result: unknown): Ctx => {
    const step = lone[i]
    return step === undefined ? result as Ctx : { [step.name]: result }
  }
  if (node.onError === "settle" || node.merge === "collect") {
    const collected: Ctx = {}
    results.forEach((result, i) => (collected[tasks.keyAt(i)] = deltaAt(i, result)))
    return Effect.succeed({ [node.name]: collected })
  }
  if (node.merge === "deep") return Effect.succeed(deepMergeBranches(lone, results))
  const byKey = new Map(results.map((result, i) => [tasks.keyAt(i), deltaAt(i, result)]))
  return Effect.map(journaledOrder(path, state, completionOrder), (order) =>
    mergeAll(order.map((key) => byKey.get(key)!), shallowMerge))
}

/**
 * `mergeAll(deltas, deepMerge)` in one pass: the accumulator is ours, so each branch's keys are
 * added to it instead of copying everything merged so far (quadratic in the branch count). A key
 * two branches share merges exactly as `deepMerge` merges it.
 */
const deepMergeBranches = (lone: ReadonlyArray<StepNode | undefined>, results: ReadonlyArray<unknown>): Ctx => {
  const out: Ctx = {}
  const add = (key: string, value: unknown) => {
    out[key] = Object.hasOwn(out, key) ? deepMerge({ [key]: out[key] }, { [key]: value })[key] : value
  }
  for (let i = 0; i < results.length; i++) {
    const step = lone[i]
    if (step !== undefined) {
      add(step.name, results[i])
      continue
    }
    const delta = results[i] as Ctx
    for (const key of Object.keys(delta)) add(key, delta[key])
  }
  return out
}

/** The `lastWins` completion order: the journaled one on resume, else this run's, journaled now. */
const journaledOrder = (path: string, state: RunState, completionOrder: ReadonlyArray<string>) => {
  const stored = state.stored("order", path)
  if (stored !== undefined) return decodeStored(state, path, orderCodec, stored.value) as Exit.Exit<Array<string>, JournalError>
  return Effect.as(
    state.writer.write({ path, kind: "order", seq: 0, value: JSON.stringify(completionOrder) }),
    completionOrder
  )
}

const runChord = (node: ChordNode, ctx: Ctx, path: string, state: RunState): Run =>
  Effect.flatMap(runParallel(node.parallel, ctx, path, state), (merged) => {
    const seen = { ...ctx, ...merged }
    return Effect.map(
      runStep(node.callback, path, state, seen),
      (value) => ({ ...merged, [node.name]: value })
    )
  })

// --- race ----------------------------------------------------------------------------------

const runRace = (node: RaceNode, ctx: Ctx, path: string, state: RunState): Run => {
  const stored = state.stored("choice", path)
  const tagged = (key: string, delta: Ctx): Ctx => ({ [node.name]: { _tag: key, value: delta } })
  if (stored !== undefined) {
    return Effect.flatMap(decodeStored(state, path, keyCodecOf(node.branches), stored.value), (key) =>
      Effect.map(runCase(node.branches, key as string, ctx, path, state), (delta) => tagged(key as string, delta)))
  }
  const raced = concurrently(state, node.branches.length, undefined, firstSuccess(node, ctx, path, state))
  return Effect.flatMap(raced, ([key, delta]) =>
    Effect.as(
      state.writer.write({ path, kind: "choice", seq: 0, value: JSON.stringify(key) }),
      tagged(key, delta)
    ))
}

/**
 * Runs every branch; the first to succeed wins and the rest are interrupted. A branch waiting
 * on a signal has not lost: when no branch can win now, the race suspends (so the run does)
 * instead of failing, and the next run lets the delivered signal win.
 */
const firstSuccess = (node: RaceNode, ctx: Ctx, path: string, state: RunState) =>
  Effect.gen(function*() {
    // With no branch nothing could ever complete the race: it has lost before it starts.
    if (node.branches.length === 0) return yield* new RaceFailure({ runId: state.runId, path, failures: {} })
    const winner = yield* Deferred.make<readonly [string, Ctx], unknown>()
    const failures: Record<string, unknown> = {}
    let waiting: Suspend | undefined
    let pending = node.branches.length
    const fibers = yield* Effect.forEach(node.branches, ([key, nodes]) =>
      Effect.forkChild(
        Effect.exit(runSegment(nodes, ctx, childPath(path, key), state)).pipe(
          Effect.flatMap((exit) => {
            if (Exit.isSuccess(exit)) return Deferred.succeed(winner, [key, exit.value] as const)
            const error = Cause.findErrorOption(exit.cause)
            // An interruption, a defect or a journal fault is not a lost branch: it ends the race.
            if (error._tag === "None" || error.value instanceof JournalError) {
              return Deferred.done(winner, exit as Exit.Exit<never, unknown>)
            }
            if (isSuspend(error.value)) waiting ??= error.value
            else failures[key] = error.value
            return --pending === 0
              ? Deferred.fail(winner, waiting ?? new RaceFailure({ runId: state.runId, path, failures }))
              : Effect.void
          })
        )
      ))
    return yield* Deferred.await(winner).pipe(Effect.ensuring(Fiber.interruptAll(fibers)))
  })

// --- forEach -------------------------------------------------------------------------------

const runForEach = (node: ForEachNode, ctx: Ctx, path: string, state: RunState): Run =>
  Effect.suspend(() => {
    const produced = node.items(ctx)
    // An array is walked as it is: a copy would be one more thing that grows with the items.
    const items = Array.isArray(produced) ? produced : Array.from(produced)
    const body = node.body
    const keyed = keysOf(node, items, path, state)
    if (Effect.isEffect(keyed)) return keyed
    // Without a key function an item's path is its index, made when the item starts.
    const keyAt = node.key === undefined ? (index: number) => itemPath(path, index) : (index: number) => keyed[index]!
    const tasks: Tasks = {
      items,
      keyAt,
      runAt: (index, state) => {
        const itemCtx = { ...ctx, item: items[index], index }
        return body._tag === "Effect"
          ? runStep(body.step, keyAt(index), state, itemCtx)
          : runSegment(body.nodes, itemCtx, keyAt(index), state)
      }
    }
    return concurrently(
      state,
      items.length,
      node.concurrency,
      fanOut(tasks, state, {
        path,
        onError: node.onError,
        concurrency: node.concurrency,
        tolerate: node.tolerate
      })
    ).pipe(Effect.map((results) => ({ [node.name]: results })))
  })

/**
 * The item paths a key function gives, all of them before any item runs: two items under one
 * key would share one journal slot (the second would replay the first's output on resume), so a
 * key function that collides is a bug in the definition, reported before anything is journaled.
 * Without a key function there is nothing to check and nothing to hold.
 */
const keysOf = (
  node: ForEachNode,
  items: ReadonlyArray<unknown>,
  path: string,
  state: RunState
): ReadonlyArray<string> | Effect.Effect<never> => {
  const keyOf = node.key
  if (keyOf === undefined) return []
  const keys = items.map((item, index) => itemPath(path, keyOf(item, index)))
  if (new Set(keys).size === keys.length) return keys
  const duplicate = keys.find((key, i) => keys.indexOf(key) !== i)
  return Effect.die(
    new Error(`plait: forEach ${path} in run ${state.runId} has two items with the key ${duplicate}; keys must be unique`)
  )
}

// --- branch --------------------------------------------------------------------------------

const runBranch = (node: BranchNode, ctx: Ctx, path: string, state: RunState): Run => {
  const stored = state.stored("choice", path)
  const chosen = stored !== undefined
    ? decodeStored(state, path, keyCodecOf(node.cases), stored.value) as Exit.Exit<string, JournalError>
    : Effect.suspend(() => {
      const key = node.select(ctx)
      // Checked before it is journaled: a stored choice the definition lacks reads back as corrupt.
      if (!node.cases.some(([candidate]) => candidate === key)) {
        return Effect.die(new Error(`plait: branch ${path} in run ${state.runId} selected "${String(key)}", which is not one of its cases`))
      }
      return Effect.as(state.writer.write({ path, kind: "choice", seq: 0, value: JSON.stringify(key) }), key)
    })
  return Effect.flatMap(chosen, (key) =>
    Effect.map(runCase(node.cases, key, ctx, path, state), (delta) => ({ [node.name]: { _tag: key, ...delta } })))
}

/** Runs the one keyed segment a journaled (or just journaled) choice names. */
const runCase = (
  keyed: ReadonlyArray<readonly [string, ReadonlyArray<Node>]>,
  key: string,
  ctx: Ctx,
  path: string,
  state: RunState
): Run => runSegment(keyed.find(([candidate]) => candidate === key)![1], ctx, childPath(path, key), state)

// --- sleep and signal ----------------------------------------------------------------------

const runSleep = (node: SleepNode, path: string, state: RunState): Run =>
  Effect.flatMap(deadline(path, state, node.duration), ({ at, now }) =>
    at > now ? Effect.as(Effect.sleep(at - now), {}) : Effect.succeed({}))

const runSignal = (node: SignalNode, path: string, state: RunState): Run => {
  const stored = state.stored("signal", path)
  if (stored !== undefined) {
    return Effect.map(decodeStored(state, path, signalCodecOf(node), stored.value), (value) => ({ [node.name]: value }))
  }
  const timeout = node.timeout
  if (timeout === undefined) return Effect.fail(new Suspend(path, "signal"))
  return Effect.flatMap(deadline(path, state, timeout), ({ at, now }): Run =>
    now < at
      ? Effect.fail(new Suspend(path, "signal"))
      : Effect.fail(
        new SignalTimeout({ runId: state.runId, path, timeout: Duration.format(Duration.fromInputUnsafe(timeout)) })
      ))
}

/**
 * A deadline `duration` after the first time the run reached `path`: journaled then, read back
 * on every later run, so a restart neither extends nor shortens it.
 */
const deadline = (path: string, state: RunState, duration: Duration.Input) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const stored = state.stored("wake", path)
    if (stored !== undefined) return { at: (yield* decodeStored(state, path, wakeCodec, stored.value)) as number, now }
    const at = now + Duration.toMillis(Duration.fromInputUnsafe(duration))
    yield* state.writer.write({ path, kind: "wake", seq: 0, value: JSON.stringify(at) })
    return { at, now }
  })

// --- codecs for journaled decisions ---------------------------------------------------------

const orderCodec = jsonCodec(Schema.Array(Schema.String))
const wakeCodec = jsonCodec(Schema.Number)

/** A stored choice must name one of the keys the definition has now. */
const keyCodecOf = memoizeByIdentity((keyed: ReadonlyArray<readonly [string, unknown]>): JsonCodec =>
  jsonCodec(Schema.Literals(keyed.map(([key]) => key)))
)
