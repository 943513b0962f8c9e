/**
 * `listen: false` on Postgres: the journal opens no `LISTEN` connection, so its subscribers hear
 * only this process's own changes and other processes' changes reach it by polling alone (the
 * configuration the polling-only wake-latency benchmark runs). A signal delivered by such a
 * journal still sends its `NOTIFY`, which a listening process hears.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Queue, Redacted } from "effect"
import { Journal, RunStore } from "plait"
import * as PgJournal from "plait/PgJournal"
import { leaseNew, newRun } from "../support/sql-journal.ts"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"

describe.skipIf(pgUrl === undefined)("PgJournal listen", () => {
  const url = Redacted.make(pgUrl ?? "")

  /** Two journals on one set of tables, each with a pool of its own, as two processes have. */
  const twoProcesses = (tablePrefix: string) =>
    Effect.gen(function*() {
      const listening = yield* Layer.build(PgJournal.layer({ url, tablePrefix }))
      const polling = yield* Layer.build(PgJournal.layer({ url, tablePrefix, listen: false }))
      return { listening: Context.get(listening, RunStore.RunStore), polling: Context.get(polling, RunStore.RunStore) }
    })

  it.live("with listen: false, subscribers hear this process's changes and not another's", () => {
    const tablePrefix = uniquePrefix()
    return Effect.scoped(
      Effect.gen(function*() {
        const { listening, polling } = yield* twoProcesses(tablePrefix)
        const heardByListener = yield* listening.subscribe
        const heardByPoller = yield* polling.subscribe

        const elsewhere = newRun()
        yield* listening.create(elsewhere)
        // Delivered to listeners: a listening poller would now have it queued before anything else.
        const first = yield* Queue.take(heardByListener)
        assert.strictEqual(first.runId, elsewhere.runId)

        const here = newRun()
        yield* polling.create(here)
        const heard = yield* Queue.take(heardByPoller)
        assert.deepStrictEqual(heard, { _tag: "Runnable", runId: here.runId, workflow: here.workflow })
        // The poller's own change went out by NOTIFY too, for processes that listen.
        const second = yield* Queue.take(heardByListener)
        assert.strictEqual(second.runId, here.runId)
      }).pipe(
        Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provide(PgClient.layer({ url })))),
        Effect.timeout("20 seconds")
      )
    )
  })

  it.live("deliver sends its notification: a listening process hears the signalled run become runnable", () => {
    const tablePrefix = uniquePrefix()
    return Effect.scoped(
      Effect.gen(function*() {
        const { listening, polling } = yield* twoProcesses(tablePrefix)
        const journal = Context.get(
          yield* Layer.build(PgJournal.layer({ url, tablePrefix, listen: false })),
          Journal.Journal
        )
        const heard = yield* listening.subscribe
        const run = newRun()
        const lease = yield* leaseNew(journal, run)
        yield* journal.release(lease, { status: "waiting", waitingFor: ["approval"], wakeupsSeen: 0 })
        // Everything the setup sent has been heard once its last change, the release, is.
        yield* Queue.take(heard).pipe(
          Effect.repeat({ until: (n) => n._tag === "Released" && n.runId === run.runId && n.status === "waiting" })
        )

        // Delivered by the other process (which listens to nothing): only its NOTIFY can reach here.
        const delivery = yield* polling.deliver(run.runId, {
          path: "approval",
          kind: "signal",
          seq: 0,
          value: "true",
          finishedAt: Date.now()
        })
        assert.strictEqual(delivery, "delivered")
        const next = yield* Queue.take(heard)
        assert.deepStrictEqual(next, { _tag: "Runnable", runId: run.runId, workflow: run.workflow })
      }).pipe(
        Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provide(PgClient.layer({ url })))),
        Effect.timeout("20 seconds")
      )
    )
  })
})
