/**
 * Operation timeouts kept by one watchdog for all the operations of a journal, rather than each
 * operation racing a sleep of its own (`Effect.timeout`: two forked fibers and a timer per
 * statement, the largest cost of a Postgres step after the round trip itself).
 *
 * Every operation has the same timeout, so deadlines fall due in the order operations start:
 * the watchdog sleeps until the oldest pending deadline, fails every operation past its own,
 * and parks when none is pending. An operation runs in a fiber of its own, so that a late one
 * can be abandoned (and interrupted) while its caller fails at once, as with `Effect.timeout`.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import type * as Scope from "effect/Scope"

export interface Deadline {
  readonly timeout: Duration.Duration
  /** Runs an operation under the timeout; past it, the caller fails with `timedOut()`. */
  readonly bound: <A, E, E2>(effect: Effect.Effect<A, E>, timedOut: () => E2) => Effect.Effect<A, E | E2>
}

interface Pending {
  readonly deadline: number
  readonly expire: () => void
}

/** A watchdog for operations of `timeout` each, living as long as the scope in context. */
export const makeDeadline = (timeout: Duration.Duration): Effect.Effect<Deadline, never, Scope.Scope> =>
  Effect.gen(function*() {
    const millis = Duration.toMillis(timeout)
    const clock = yield* Clock.Clock
    // In start order, which is deadline order.
    const pending = new Set<Pending>()
    const armed = Latch.makeUnsafe(false)

    const expireDue = Effect.suspend(() => {
      const now = clock.currentTimeMillisUnsafe()
      for (const operation of pending) {
        if (operation.deadline > now) return Effect.sleep(operation.deadline - now)
        pending.delete(operation)
        operation.expire()
      }
      armed.closeUnsafe()
      return armed.await
    })
    yield* Effect.forkScoped(Effect.forever(expireDue, { disableYield: true }))

    const bound = <A, E, E2>(effect: Effect.Effect<A, E>, timedOut: () => E2) =>
      Effect.withFiber((parent) =>
        Effect.callback<A, E | E2>((resume) => {
          const deadline = clock.currentTimeMillisUnsafe() + millis
          const child = Effect.runForkWith(parent.context)(effect)
          const done = child.pollUnsafe()
          if (done !== undefined) {
            resume(done)
            return
          }
          const operation: Pending = {
            deadline,
            expire: () => {
              resume(Effect.fail(timedOut()))
              child.interruptUnsafe()
            }
          }
          pending.add(operation)
          armed.openUnsafe()
          child.addObserver((exit) => {
            pending.delete(operation)
            resume(exit)
          })
          return Fiber.interrupt(child)
        })
      )
    return { timeout, bound }
  })
