/**
 * Shared helpers for the semantic tests: driving the TestClock, awaiting a run without hanging
 * on a deadlock, counting side effects, and reading back what a run journaled.
 */
import { assert } from "@effect/vitest"
import { Cause, Context, Duration, Effect, Exit, type Fiber, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import { Journal, RunStore, type Workflow } from "plait"

/** Lets every runnable fiber reach its next wait (a sleep, a deferred) before time moves. */
const settle: Effect.Effect<void> = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

/**
 * Moves the TestClock forward one tick at a time, letting fibers settle before each tick, so a
 * sleep that starts a few scheduler turns late (after a journal write, say) still starts at the
 * virtual time it would have in production, and wakes within the window.
 */
export const advance = (total: Duration.Input, tick: Duration.Input = "1 second"): Effect.Effect<void> =>
  Effect.gen(function*() {
    const step = Duration.toMillis(Duration.fromInputUnsafe(tick))
    let left = Duration.toMillis(Duration.fromInputUnsafe(total))
    while (left > 0) {
      const now = Math.min(step, left)
      yield* settle
      yield* TestClock.adjust(now)
      left -= now
    }
  })

/**
 * Starts `run` in a fiber the test does not wait for when it ends. A run that cannot be
 * interrupted (an uninterruptible step, say) would otherwise hold the test open for ever after
 * it failed: with this, the test fails and the stuck fiber is left behind.
 */
export const start = <A, E, R>(run: Effect.Effect<A, E, R>): Effect.Effect<Fiber.Fiber<A, E>, never, R> =>
  Effect.forkDetach(run)

/** Polls `fiber` a bounded number of scheduler turns: its exit, or `undefined` if still running. */
const poll = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<Exit.Exit<A, E> | undefined> =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
    return fiber.pollUnsafe()
  })

/**
 * The exit of a forked run that must have finished by now. Fails the test (rather than hanging
 * it) when the run is still going: a deadlock, or a wait the test did not advance time for.
 */
export const finished = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.map(poll(fiber), (exit) => {
    assert.isDefined(exit, "the run has not finished: it deadlocked, or waits on time the test did not advance")
    return exit!
  })

/**
 * Interrupts a run and checks it stopped. `Fiber.interrupt` would wait for ever on a run that
 * cannot be interrupted; this fails the test instead.
 */
export const interrupt = <A, E>(fiber: Fiber.Fiber<A, E>): Effect.Effect<void> =>
  Effect.gen(function*() {
    fiber.interruptUnsafe()
    const exit = yield* poll(fiber)
    assert.isDefined(exit, "the run did not stop when interrupted: something in it is uninterruptible")
  })

/** Forks `run`, moves the clock by `time` (in `tick` steps), and returns the run's exit. */
export const runFor = <A, E, R>(
  run: Effect.Effect<A, E, R>,
  time: Duration.Input = 0,
  tick?: Duration.Input
): Effect.Effect<Exit.Exit<A, E>, never, R> =>
  Effect.gen(function*() {
    const fiber = yield* start(run)
    yield* advance(time, tick)
    return yield* finished(fiber)
  })

/** The context of a run that must have completed. */
export const completed = <Ctx, E>(exit: Exit.Exit<Workflow.Outcome<Ctx>, E>): Ctx => {
  if (Exit.isFailure(exit)) assert.fail(`the run failed: ${Cause.pretty(exit.cause)}`)
  const outcome = exit.value
  if (outcome._tag !== "Completed") return assert.fail(`the run is ${outcome._tag}, not Completed`)
  return outcome.context
}

/** The typed error a run must have failed with. */
export const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) return assert.fail("the run succeeded; it should have failed")
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isNone(error)) return assert.fail(`the run did not fail with a typed error: ${Cause.pretty(exit.cause)}`)
  return error.value
}

/** Counts side effects by name. */
export const makeCounts = () => {
  const counts = new Map<string, number>()
  const of = (name: string): number => counts.get(name) ?? 0
  const hit = (name: string): Effect.Effect<void> => Effect.sync(() => void counts.set(name, of(name) + 1))
  return {
    of,
    hit,
    /** `effect`, counted under `name` each time it actually runs. */
    run: <A, E, R>(name: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.andThen(hit(name), effect),
    snapshot: (): Record<string, number> => Object.fromEntries(counts)
  }
}

/** Tracks how many units of work are in flight at once, and the most there ever were. */
export const makeGauge = () => {
  let inFlight = 0
  let max = 0
  return {
    get max() {
      return max
    },
    /** Holds one slot for the duration of `effect`. */
    hold: <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          inFlight++
          max = Math.max(max, inFlight)
        }),
        () => effect,
        () => Effect.sync(() => void inFlight--)
      )
  }
}

/** Every entry the journal holds for a run. */
export const entriesOf = (runId: string) =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const loaded = yield* journal.load(runId)
    if (Option.isNone(loaded)) return assert.fail(`run ${runId} is not in the journal`)
    return loaded.value.entries
  })

/** The paths of the completed steps a run journaled, sorted. */
export const stepPaths = (runId: string) =>
  Effect.map(
    entriesOf(runId),
    (entries) => entries.filter((entry) => entry.kind === "step").map((entry) => entry.path).sort()
  )

/** The journaled entry of `kind` at `path`, if any. */
export const entryAt = (runId: string, kind: Journal.EntryKind, path: string) =>
  Effect.map(entriesOf(runId), (entries) => entries.find((entry) => entry.kind === kind && entry.path === path))

/** A layer providing a memory backend, with its journal wrapped by `wrap`. */
export const memoryLayer = (
  wrap: (journal: Journal.Journal["Service"]) => Journal.Journal["Service"] = (journal) => journal,
  memory = Journal.makeMemory()
): Layer.Layer<Journal.Journal | RunStore.RunStore> =>
  Layer.succeedContext(
    Context.make(Journal.Journal, wrap(memory.journal)).pipe(Context.add(RunStore.RunStore, memory.store))
  )

/**
 * An in-memory journal that records the size of every `append` batch, to observe how writes
 * are grouped.
 */
export const countingJournal = () => {
  const batches: Array<ReadonlyArray<Journal.JournalEntry>> = []
  const layer = memoryLayer((inner) => ({
    ...inner,
    append: (lease, entries) =>
      Effect.suspend(() => {
        batches.push([...entries])
        return inner.append(lease, entries)
      })
  }))
  return { layer, batches }
}

/**
 * Writes entries into a stored run from outside it, as a hand editing the journal would: takes
 * the run's lease, appends, and gives the run back with the status it had (or `status`).
 */
export const plant = (
  runId: string,
  entries: ReadonlyArray<Journal.JournalEntry>,
  record?: Journal.RunRecord,
  status?: Journal.Release["status"]
) =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const loaded = yield* journal.load(runId)
    const known = Option.isSome(loaded) ? loaded.value.run : undefined
    const source = known ?? record
    if (source === undefined) return assert.fail(`run ${runId} is not in the journal`)
    const acquired = yield* journal.acquire(
      { runId, workflow: source.workflow, fingerprint: source.fingerprint, input: source.input },
      { owner: "test-hand", leaseMs: 60_000, anyFingerprint: true }
    )
    if (acquired.lease === undefined) return assert.fail(`run ${runId} could not be leased to plant entries`)
    yield* journal.append(acquired.lease, entries)
    const previous = known === undefined || known.status === "running" ? "queued" : known.status
    yield* journal.release(acquired.lease, { status: status ?? previous, error: known?.error })
  })
