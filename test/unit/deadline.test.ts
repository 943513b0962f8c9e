import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { makeDeadline } from "../../src/internal/deadline.ts"

class TimedOut {
  readonly _tag = "TimedOut"
  readonly name: string
  constructor(name: string) {
    this.name = name
  }
}

describe("operation deadline (one watchdog for every operation)", () => {
  it.effect("an operation finished in time returns its own exit; a late one fails at its deadline and is interrupted", () =>
    Effect.gen(function*() {
      const { bound } = yield* makeDeadline(Duration.seconds(1))
      assert.strictEqual(yield* bound(Effect.succeed(1), () => new TimedOut("now")), 1)
      assert.deepStrictEqual(yield* Effect.flip(bound(Effect.fail("own"), () => new TimedOut("own"))), "own")

      const answered = yield* Deferred.make<number>()
      const interrupted = yield* Deferred.make<void>()
      const late = Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined))
      const first = yield* Effect.forkChild(bound(late, () => new TimedOut("first")))
      yield* TestClock.adjust("500 millis")
      const second = yield* Effect.forkChild(bound(late, () => new TimedOut("second")))
      const third = yield* Effect.forkChild(bound(Deferred.await(answered), () => new TimedOut("third")))
      yield* TestClock.adjust("499 millis")
      assert.isUndefined(first.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.await(first), Exit.fail(new TimedOut("first")))
      yield* Deferred.await(interrupted)
      yield* Deferred.succeed(answered, 3)
      assert.strictEqual(yield* Fiber.join(third), 3)
      assert.isUndefined(second.pollUnsafe())
      yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual(yield* Fiber.await(second), Exit.fail(new TimedOut("second")))
      // Parked with nothing pending, the watchdog wakes for the next operation.
      yield* TestClock.adjust("10 seconds")
      const fourth = yield* Effect.forkChild(bound(Effect.never, () => new TimedOut("fourth")))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.await(fourth), Exit.fail(new TimedOut("fourth")))
    }))

  it.effect("interrupting the caller interrupts its operation", () =>
    Effect.gen(function*() {
      const { bound } = yield* makeDeadline(Duration.seconds(1))
      const interrupted = yield* Deferred.make<void>()
      const caller = yield* Effect.forkChild(
        bound(Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined)), () => new TimedOut("x"))
      )
      yield* Effect.yieldNow
      yield* Fiber.interrupt(caller)
      assert.isTrue(yield* Deferred.isDone(interrupted))
    }))
})
