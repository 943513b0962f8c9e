/**
 * Notifications to this process's subscribers of a SQL journal (`RunStore.subscribe`). When the
 * hub listens (Postgres, unless switched off) they arrive through one shared `LISTEN`
 * connection, opened on the first subscription and reopened if it drops, and carry every
 * process's changes; otherwise the journal announces its own changes in process (`local`).
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { notificationsOf } from "./wire.ts"
import type { Notification } from "../../RunStore.ts"

export interface Hub {
  /** Announces a change made by this process, where the database does not. */
  readonly local: (notification: Notification) => void
  readonly subscribe: Effect.Effect<Queue.Dequeue<Notification>, never, Scope.Scope>
}

/** A client that can `LISTEN` (`@effect/sql-pg`'s), seen through the `SqlClient` it is. */
type Listening = Partial<{
  readonly listen: (
    channel: string
  ) => Effect.Effect<Queue.Dequeue<{ readonly payload: string }, SqlError>, SqlError, Scope.Scope>
}>

export const makeHub = (
  sql: SqlClient.SqlClient,
  listens: boolean,
  channel: string
): Effect.Effect<Hub, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const subscribers = new Set<Queue.Queue<Notification>>()
    const publish = (notification: Notification) => {
      for (const queue of subscribers) Queue.offerUnsafe(queue, notification)
    }
    const listen = (sql as Listening).listen
    let listening = false
    const ready = yield* Deferred.make<void>()
    // Subscribers wait for the first `LISTEN` to be confirmed (so they miss nothing sent after
    // they subscribed), but not forever: while Postgres is unreachable, polling covers.
    const startListening = Effect.suspend(() => {
      if (!listens || listen === undefined) return Effect.void
      if (!listening) {
        listening = true
        const loop = Effect.scoped(Effect.flatMap(listen(channel), (queue) =>
          Effect.andThen(
            Deferred.succeed(ready, undefined),
            Effect.forever(Effect.flatMap(Queue.take(queue), (message) =>
              Effect.sync(() => {
                for (const notification of notificationsOf(message.payload)) publish(notification)
              })))
          )))
        const retried = Effect.retry(
          loop,
          Schedule.exponential("100 millis").pipe(
            Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(5))))
          )
        )
        return Effect.andThen(Effect.forkIn(retried, scope), Effect.timeoutOption(Deferred.await(ready), "5 seconds"))
      }
      return Effect.timeoutOption(Deferred.await(ready), "5 seconds")
    })
    return {
      local: (notification) => {
        if (!listens) publish(notification)
      },
      subscribe: Effect.acquireRelease(
        Effect.tap(Queue.unbounded<Notification>(), (queue) =>
          Effect.andThen(Effect.sync(() => subscribers.add(queue)), startListening)),
        (queue) =>
          Effect.andThen(Effect.sync(() => subscribers.delete(queue)), Queue.shutdown(queue))
      )
    }
  })
