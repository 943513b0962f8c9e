/**
 * Walks a workflow's nodes. Each node returns the delta it adds to the context; a segment runs
 * its nodes in order, each seeing the deltas before it. Decisions that must replay identically
 * (race winners, branch cases, `lastWins` completion order, sleep deadlines) are journaled
 * before anything depends on them.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { JournalError, RaceFailure, SignalTimeout } from "../WorkflowError.ts"
import { runChild } from "./child.ts"
import { fanOut, type Tasks } from "./fanOut.ts"
import { isRunFault } from "./faults.ts"
import * as Formats from "./formats.ts"
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
  StepNode,
  WaitEnd
} from "./node.ts"
import { childPath, itemPath } from "./path.ts"
import { inOwnFiber, notify, type RunState, type StepEvent } from "./runState.ts"
import { awaitsSignal, journalItems } from "./signal.ts"
import { runStep } from "./step.ts"
import { isSuspend, mergeSuspends, type Suspend, suspendOn } from "./suspend.ts"

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

/** A segment that is one step and nothing else. */
const isOneStep = (nodes: ReadonlyArray<Node>): boolean => nodes.length === 1 && nodes[0]!._tag === "Step"

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
    body: () => runNode(current = nodes[index++]!, ctx, prefix, state),
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
      return inSpan("plait.parallel", path, state, runParallel(node, ctx, path, state))
    case "Chord":
      return inSpan("plait.chord", path, state, runChord(node, ctx, path, state))
    case "Race":
      return inSpan("plait.race", path, state, runRace(node, ctx, path, state))
    case "ForEach":
      return inSpan("plait.forEach", path, state, runForEach(node, ctx, path, state))
    case "Branch":
      return inSpan("plait.branch", path, state, runBranch(node, ctx, path, state))
    case "Sleep":
      return inSpan("plait.sleep", path, state, runSleep(node, ctx, path, state))
    case "Signal":
      return inSpan("plait.signal", path, state, runSignal(node, ctx, path, state))
    case "Child":
      return inSpan("plait.child", path, state, runChild(node, ctx, path, state))
  }
}

/** Every block and wait runs in a span of its own, so a trace nests steps under their blocks. */
const inSpan = <A>(name: string, path: string, state: RunState, effect: Run<A>): Run<A> =>
  effect.pipe(Effect.withSpan(name, { attributes: { "plait.run_id": state.runId, "plait.path": path } }, noStackTrace))

const noStackTrace = { captureStackTrace: false } as const

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
    },
    isOneStep: (index) => isOneStep(node.branches[index]![1])
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
  ).pipe(Effect.flatMap((results) => mergeBranches(node, path, state, results, order)))
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
  results: ReadonlyArray<unknown>,
  completionOrder: ReadonlyArray<string>
): Run => {
  const lone = loneStepsOf(node)
  const keyAt = (i: number) => node.branches[i]![0]
  const deltaAt = (i: number, result: unknown): Ctx => {
    const step = lone[i]
    return step === undefined ? result as Ctx : { [step.name]: result }
  }
  if (node.onError === "settle" || node.merge === "collect") {
    const collected: Ctx = {}
    results.forEach((result, i) => (collected[keyAt(i)] = deltaAt(i, result)))
    return Effect.succeed({ [node.name]: collected })
  }
  if (node.merge === "deep") return Effect.succeed(deepMergeBranches(lone, results))
  const byKey = new Map(results.map((result, i) => [keyAt(i), deltaAt(i, result)]))
  return Effect.map(
    journaledOrder(path, state, node.branches.map(([key]) => key), completionOrder),
    (order) => mergeAll(order.map((key) => byKey.get(key)!), shallowMerge)
  )
}

/**
 * `mergeAll(deltas, deepMerge)` in one pass: the accumulator is ours, so each branch's keys are
 * added to it instead of copying everything merged so far (quadratic in the branch count). A key
 * two branches share merges exactly as `deepMerge` merges it. A lone step's output goes in under
 * its name.
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
const journaledOrder = (
  path: string,
  state: RunState,
  keys: ReadonlyArray<string>,
  completionOrder: ReadonlyArray<string>
) => {
  const stored = state.stored("order", path)
  const order = stored !== undefined
    ? storedOrder(path, state, keys, stored.value)
    : Effect.as(
      state.writer.write({ path, kind: "order", seq: 0, value: Formats.order.text(completionOrder) }),
      completionOrder
    )
  return reported(state, order, (order) => ({
    _tag: "LastWinsOrder",
    runId: state.runId,
    path,
    order: [...order],
    replayed: stored !== undefined
  }))
}

/** A journaled order must name each branch once: one that skipped a branch would drop its delta. */
const storedOrder = (
  path: string,
  state: RunState,
  keys: ReadonlyArray<string>,
  text: string
): Exit.Exit<ReadonlyArray<string>, JournalError> => {
  const decoded = Formats.order.decode(state.runId, path, text)
  if (Exit.isFailure(decoded)) return decoded
  const order = decoded.value
  const expected = new Set(keys)
  return order.length === keys.length && new Set(order).size === order.length && order.every((key) => expected.has(key))
    ? Exit.succeed(order)
    : Exit.fail(
      new JournalError({
        reason: "Corrupt",
        runId: state.runId,
        path,
        detail: `the completion order ${text} does not name each branch (${keys.join(", ")}) once`
      })
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
  const won = (replayed: boolean) => (winner: string): StepEvent => ({
    _tag: "RaceWon",
    runId: state.runId,
    path,
    winner,
    replayed
  })
  const choice = Formats.choice(node.branches)
  if (state.mode._tag === "Rebuilding") return rebuildRace(node, ctx, path, state, tagged)
  if (stored !== undefined) {
    const winner = choice.decode(state.runId, path, stored.value)
    return Effect.flatMap(
      reported(state, winner, won(true)),
      (key) => Effect.map(runCase(node.branches, key, ctx, path, state), (delta) => tagged(key, delta))
    )
  }
  const raced = concurrently(state, node.branches.length, undefined, firstSuccess(node, ctx, path, state))
  return Effect.flatMap(raced, ([key, delta]) => {
    const journaled = Effect.as(state.writer.write({ path, kind: "choice", seq: 0, value: choice.text(key) }), key)
    return Effect.as(reported(state, journaled, won(false)), tagged(key, delta))
  })
}

/**
 * A rebuild replays every branch, losers too: a loser may have completed compensable steps before
 * it was interrupted. The winner is the journaled one; without one, the journal ends here.
 */
const rebuildRace = (
  node: RaceNode,
  ctx: Ctx,
  path: string,
  state: RunState,
  tagged: (key: string, delta: Ctx) => Ctx
): Run => {
  const branchState = inOwnFiber(state)
  return Effect.flatMap(
    Effect.forEach(
      node.branches,
      ([key, nodes]) => Effect.exit(runSegment(nodes, ctx, childPath(path, key), branchState)),
      { concurrency: "unbounded" }
    ),
    (exits) => {
      const stored = state.stored("choice", path)
      if (stored === undefined) return Effect.fail(suspendOn({ path, kind: "replay", until: undefined }))
      return Effect.flatMap(Formats.choice(node.branches).decode(state.runId, path, stored.value), (key) => {
        const exit = exits[node.branches.findIndex(([candidate]) => candidate === key)]!
        return Effect.map(exit, (delta) => tagged(key, delta))
      })
    }
  )
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
    const waiting: Array<Suspend> = []
    let pending = node.branches.length
    const branchState = inOwnFiber(state)
    const fibers = yield* Effect.forEach(node.branches, ([key, nodes]) =>
      Effect.forkChild(
        Effect.exit(runSegment(nodes, ctx, childPath(path, key), branchState)).pipe(
          Effect.flatMap((exit) => {
            if (Exit.isSuccess(exit)) return Deferred.succeed(winner, [key, exit.value] as const)
            const error = Cause.findErrorOption(exit.cause)
            // An interruption, a defect or a run fault is not a lost branch: it ends the race.
            if (error._tag === "None" || isRunFault(error.value)) {
              return Deferred.done(winner, exit as Exit.Exit<never, unknown>)
            }
            if (isSuspend(error.value)) waiting.push(error.value)
            else failures[key] = error.value
            if (--pending > 0) return Effect.void
            return Deferred.fail(
              winner,
              waiting.length > 0 ? mergeSuspends(waiting) : new RaceFailure({ runId: state.runId, path, failures })
            )
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
      },
      isOneStep: () => body._tag === "Effect" || isOneStep(body.nodes)
    }
    const run = concurrently(
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
    if (!(body._tag === "Segment" && awaitsSignal(body.nodes))) return run
    // Items that wait for signals are journaled by path when the forEach starts: all of them.
    return Effect.andThen(journalItems(path, state, items.map((_, index) => keyAt(index))), run)
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
    new Error(
      `plait: forEach ${path} in run ${state.runId} has two items with the key ${duplicate}; keys must be unique`
    )
  )
}

// --- branch --------------------------------------------------------------------------------

const runBranch = (node: BranchNode, ctx: Ctx, path: string, state: RunState): Run => {
  const stored = state.stored("choice", path)
  const choice = Formats.choice(node.cases)
  const chosen = stored !== undefined
    ? choice.decode(state.runId, path, stored.value)
    : Effect.suspend(() => {
      const key = node.select(ctx)
      // Checked before it is journaled: a stored choice the definition lacks reads back as corrupt.
      if (!node.cases.some(([candidate]) => candidate === key)) {
        return Effect.die(
          new Error(
            `plait: branch ${path} in run ${state.runId} selected "${String(key)}", which is not one of its cases`
          )
        )
      }
      return Effect.as(state.writer.write({ path, kind: "choice", seq: 0, value: choice.text(key) }), key)
    })
  const reportedChoice = reported(state, chosen, (choice): StepEvent => ({
    _tag: "BranchChosen",
    runId: state.runId,
    path,
    choice,
    replayed: stored !== undefined
  }))
  return Effect.flatMap(
    reportedChoice,
    (key) =>
      Effect.map(runCase(node.cases, key, ctx, path, state), (delta) => ({ [node.name]: { _tag: key, ...delta } }))
  )
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

/**
 * A durable sleep. Under a worker the run is released until the wake time instead of holding
 * its slot; run by its caller, the remaining time is slept in process. A replay sleeps not at all.
 */
const runSleep = (node: SleepNode, ctx: Ctx, path: string, state: RunState): Run =>
  Effect.flatMap(deadline(path, state, node.wake, ctx), ({ at: planned, now, since }) => {
    const at = resumedWithin(state, since, planned) ?? planned
    const woke = Effect.as(notify(state, { _tag: "Woke", runId: state.runId, path }), {})
    const mode = state.mode
    if (at <= now || mode._tag !== "Executing") return woke
    const sleeping = notify(state, { _tag: "Sleeping", runId: state.runId, path, wakeAt: DateTime.makeUnsafe(at) })
    return Effect.andThen(
      sleeping,
      mode.driver._tag === "Worker"
        ? Effect.fail(suspendOn({ path, kind: "sleep", until: at }))
        : Effect.andThen(Effect.sleep(at - now), woke)
    )
  })

const runSignal = (node: SignalNode, ctx: Ctx, path: string, state: RunState): Run => {
  const stored = state.stored("signal", path)
  if (stored !== undefined) {
    const value = Formats.signal(node).decode(state.runId, path, stored.value)
    const received = reported(state, value, (): StepEvent => ({ _tag: "SignalReceived", runId: state.runId, path }))
    return Effect.map(received, (value) => ({ [node.name]: value }))
  }
  const timeout = node.timeout
  if (timeout === undefined) return awaitSignal(path, state, undefined)
  return Effect.flatMap(deadline(path, state, timeout, ctx), ({ at, from, now }): Run =>
    now < at
      ? awaitSignal(path, state, at)
      : Effect.fail(
        new SignalTimeout({
          runId: state.runId,
          path,
          timeout: Duration.format(
            timeout._tag === "Fixed"
              ? Duration.fromInputUnsafe(timeout.duration)
              : Duration.millis(Math.max(0, at - from))
          )
        })
      ))
}

/** Suspends the run at a signal not delivered yet, reporting the wait and its deadline. */
const awaitSignal = (path: string, state: RunState, deadline: number | undefined) =>
  Effect.andThen(
    notify(state, {
      _tag: "AwaitingSignal",
      runId: state.runId,
      path,
      deadline: deadline === undefined ? undefined : DateTime.makeUnsafe(deadline)
    }),
    Effect.fail(suspendOn({ path, kind: "signal", until: deadline }))
  )

/** Reports the event a journaled decision makes, once it is made or read back. */
const reported = <A, E, R>(state: RunState, decision: Effect.Effect<A, E, R>, event: (value: A) => StepEvent) =>
  Effect.tap(decision, (value) => notify(state, event(value)))

/**
 * When the wait at `path` ends, worked out the first time the run reached it (a fixed length, or
 * a length or an instant computed from the context then): journaled at once, read back on every
 * later run and never computed again, so a restart neither extends nor shortens it, whatever the
 * context's function would say now. `from` is when the wait began.
 */
const deadline = (path: string, state: RunState, end: WaitEnd, ctx: Ctx) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const stored = state.stored("wake", path)
    if (stored !== undefined) {
      const at = yield* Formats.wake.decode(state.runId, path, stored.value)
      return { at, from: stored.startedAt ?? at, since: stored.startedAt, now }
    }
    const at = yield* wakeTime(end, ctx, now, path, state)
    // When the wait began, so a timeline can draw it.
    yield* state.writer.write({ path, kind: "wake", seq: 0, value: Formats.wake.text(at), startedAt: now })
    return { at, from: now, since: now as number | undefined, now }
  })

/**
 * The first time `Engine.resume` cut the run's sleeps short while a sleep begun at `since`
 * (unknown for wake entries written without it) and planned to end at `at` was not over.
 */
const resumedWithin = (state: RunState, since: number | undefined, at: number): number | undefined =>
  state.resumedAt.find((resumed) => resumed < at && (since === undefined || resumed >= since))

/**
 * The wake time, epoch milliseconds, as the journal holds it: a whole number, not before 1970.
 * A computed wait that never ends is a defect of the definition, reported at its path.
 */
const wakeTime = (end: WaitEnd, ctx: Ctx, now: number, path: string, state: RunState) =>
  Effect.flatMap(
    Effect.sync(() => {
      switch (end._tag) {
        case "Fixed":
          return now + Duration.toMillis(Duration.fromInputUnsafe(end.duration))
        case "Computed":
          return now + Duration.toMillis(end.duration(ctx))
        case "Until":
          return DateTime.toEpochMillis(end.at(ctx))
      }
    }),
    (at) =>
      Number.isFinite(at)
        ? Effect.succeed(Math.max(0, Math.round(at)))
        : Effect.die(
          new Error(`plait: the wait at ${path} of run ${state.runId} computed a wake time that never comes`)
        )
  )
