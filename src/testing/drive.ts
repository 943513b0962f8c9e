/**
 * Driving fibers through virtual time. The fibers a driver starts run with a `Clock` that
 * records every sleep they register (the wake time) and a scheduler that counts their queued
 * tasks. When none is queued and a turn of the event loop has passed, nothing they do can move
 * without time: the driver moves the `TestClock` to the earliest wake time, and again, until
 * they finish.
 *
 * This is what a test could not do by calling `TestClock.adjust` once: a run registers its
 * sleeps one after another (a retry's backoff only once the attempt failed and was journaled),
 * and a sleep registered after the adjustment would wait for ever.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Scheduler from "effect/Scheduler"
import * as TestClock from "effect/testing/TestClock"

/** The driven fibers as the driver sees them. */
export interface Driver {
  readonly testClock: TestClock.TestClock
  /** Starts `effect` in a driven fiber of its own, which nothing waits for when it ends. */
  readonly start: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Fiber.Fiber<A, E>, never, R>
  /** Waits until no driven fiber can move without time (or a signal, or something outside). */
  readonly idle: Effect.Effect<void>
  /** The earliest wake time of a sleep a driven fiber waits in, after now. */
  readonly nextWake: () => number | undefined
  /** Moves the clock to `at`, waking every sleep due by then in order. */
  readonly moveTo: (at: number) => Effect.Effect<void>
  readonly now: () => number
}

/**
 * A driver on the `TestClock` of the context, or on one of its own when the context's clock is
 * not a `TestClock` (a test run with `Effect.runPromise`, say).
 */
export const withDriver = <A, E, R>(f: (driver: Driver) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Clock.clockWith(Effect.succeed),
    (clock) =>
      isTestClock(clock)
        ? Effect.flatMap(Effect.service(Scheduler.Scheduler), (scheduler) => f(makeDriver(clock, scheduler)))
        : Effect.provide(withDriver(f), TestClock.layer())
  )

const isTestClock = (clock: Clock.Clock): clock is TestClock.TestClock =>
  typeof (clock as Partial<TestClock.TestClock>).setTime === "function" &&
  typeof (clock as Partial<TestClock.TestClock>).adjust === "function"

const makeDriver = (testClock: TestClock.TestClock, parent: Scheduler.Scheduler): Driver => {
  // Wake times of the sleeps driven fibers wait in; one element per sleep.
  const wakes: Array<number> = []
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: testClock.currentTimeMillisUnsafe,
    currentTimeMillis: testClock.currentTimeMillis,
    currentTimeNanosUnsafe: testClock.currentTimeNanosUnsafe,
    currentTimeNanos: testClock.currentTimeNanos,
    monotonicTimeNanosUnsafe: testClock.monotonicTimeNanosUnsafe,
    monotonicTimeNanos: testClock.monotonicTimeNanos,
    sleep: (duration) =>
      Effect.suspend(() => {
        const at = testClock.currentTimeMillisUnsafe() + Duration.toMillis(duration)
        // An endless sleep (a lease that never needs renewing) is nothing to advance to.
        if (!Number.isFinite(at)) return testClock.sleep(duration)
        return Effect.acquireUseRelease(
          Effect.sync(() => wakes.push(at)),
          () => testClock.sleep(duration),
          () =>
            Effect.sync(() => {
              const index = wakes.indexOf(at)
              if (index >= 0) wakes.splice(index, 1)
            })
        )
      })
  }

  // Tasks queued by driven fibers and not run yet. Zero means every driven fiber waits: on a
  // sleep, a signal the run suspended at, or something outside the effect runtime.
  let queued = 0
  let waiters: Array<() => void> = []
  const scheduler: Scheduler.Scheduler = {
    executionMode: parent.executionMode,
    shouldYield: (fiber) => parent.shouldYield(fiber),
    makeDispatcher() {
      const dispatcher = parent.makeDispatcher()
      return {
        scheduleTask(task, priority) {
          queued++
          dispatcher.scheduleTask(() => {
            try {
              task()
            } finally {
              if (--queued === 0 && waiters.length > 0) {
                const waiting = waiters
                waiters = []
                for (const wake of waiting) wake()
              }
            }
          }, priority)
        },
        flush: () => dispatcher.flush()
      }
    }
  }

  const noneQueued = Effect.callback<void>((resume) => {
    if (queued === 0) return resume(Effect.void)
    const wake = () => resume(Effect.void)
    waiters.push(wake)
    return Effect.sync(() => {
      waiters = waiters.filter((waiter) => waiter !== wake)
    })
  })

  return {
    testClock,
    start: (effect) =>
      Effect.forkDetach(
        effect.pipe(Effect.provideService(Clock.Clock, clock), Effect.provideService(Scheduler.Scheduler, scheduler)),
        { startImmediately: true }
      ),
    // A promise a step awaits settles in a microtask: after a turn of the event loop it has
    // queued its fiber's resumption, if it was going to.
    idle: Effect.gen(function*() {
      while (true) {
        yield* noneQueued
        yield* eventLoopTurn
        if (queued === 0) return
      }
    }),
    nextWake: () => {
      const now = testClock.currentTimeMillisUnsafe()
      let next: number | undefined
      for (const at of wakes) if (at > now && (next === undefined || at < next)) next = at
      return next
    },
    moveTo: (at) => Effect.suspend(() => testClock.adjust(Math.max(0, at - testClock.currentTimeMillisUnsafe()))),
    now: () => testClock.currentTimeMillisUnsafe()
  }
}

const eventLoopTurn = Effect.callback<void>((resume) => {
  const timer = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(timer))
})

/** Interrupts a driven fiber and waits, a bounded while, for it to stop. */
export const stop = <A, E>(driver: Driver, fiber: Fiber.Fiber<A, E>): Effect.Effect<Exit.Exit<A, E> | undefined> =>
  Effect.gen(function*() {
    fiber.interruptUnsafe()
    for (let i = 0; i < 100 && fiber.pollUnsafe() === undefined; i++) yield* driver.idle
    return fiber.pollUnsafe()
  })
