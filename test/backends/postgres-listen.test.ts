/**
 * `listen: false` on Postgres: the journal opens no `LISTEN` connection, so its subscribers hear
 * only this process's own changes and other processes' changes reach it by polling alone (the
 * configuration the polling-only wake-latency benchmark runs). And no notification grows with the
 * run id: a long id travels as a digest that `RunStore.isAbout` matches, and a worker in another
 * process is still woken, and stopped by a cancel, by notification. A signal delivered by a journal that does not listen still sends its
 * `NOTIFY`, which a listening process hears.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Queue, Redacted, Schedule, Schema } from "effect"
import { Engine, Journal, RunId, RunStore, Worker, Workflow } from "plait"
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

  /** Every payload sent on the prefix's channel, as a raw listener sees it. */
  const payloadsOn = (tablePrefix: string) =>
    Effect.gen(function*() {
      // A client of its own: the listener's connection closes with the test, before the tables go.
      const sql = Context.get(yield* Layer.build(PgClient.layer({ url })), PgClient.PgClient)
      const heard: Array<string> = []
      const queue = yield* sql.listen(`${tablePrefix}events`)
      yield* Effect.forkScoped(
        Effect.forever(Effect.map(Queue.take(queue), (notification) => void heard.push(notification.payload)))
      )
      return heard
    })

  const Held = Workflow.make("held_forever", { input: Schema.String }).pipe(
    Workflow.step("held", { success: Schema.String }, () => Effect.never)
  )

  it.live("no payload grows with the run id; a long id is named by its digest and still wakes and stops a worker", () => {
    const tablePrefix = uniquePrefix()
    const longId = `${"é".repeat(200)}${"x".repeat(RunId.maxBytes - 400)}`
    return Effect.scoped(
      Effect.gen(function*() {
        const { listening: here } = yield* twoProcesses(tablePrefix)
        const heard = yield* payloadsOn(tablePrefix)
        const subscriber = yield* here.subscribe
        // The worker is another process: its own journal, and a lease so long that only a
        // notification (not a heartbeat) can make it see the cancel within the test's time.
        const workerSide = yield* Layer.build(PgJournal.layer({ url, tablePrefix }))
        yield* Worker.make({ workflows: [Held], leaseDuration: "10 minutes", pollInterval: "10 minutes" }).pipe(
          Effect.provideContext(workerSide)
        )
        const engineSide = yield* Layer.build(
          Layer.provideMerge(Engine.layer, PgJournal.layer({ url, tablePrefix }))
        )
        const engine = Context.get(engineSide, Engine.Engine)
        // Polling every 10 minutes: the worker claims the run because the start notified it.
        yield* Effect.sleep("300 millis")
        yield* engine.start(Held, { input: "x", runId: longId })
        const heldRun = yield* Effect.repeat(engine.inspect(longId), {
          until: (detail) => detail.run.status === "running",
          schedule: Schedule.spaced("50 millis")
        })
        assert.strictEqual(heldRun.run.status, "running")
        const awaiting = yield* Effect.forkScoped(engine.await(Held, longId).pipe(Effect.exit))
        yield* engine.cancel(longId, { reason: "test" })
        const ended = yield* Fiber.join(awaiting)
        assert.isTrue(ended._tag === "Failure", "the cancelled run ends awaiting with RunCancelled")
        assert.strictEqual((yield* engine.inspect(longId)).run.status, "cancelled")

        const aboutLong = (yield* Queue.takeAll(subscriber)).filter((n) => RunStore.isAbout(n, longId))
        assert.isAbove(aboutLong.length, 0, "notifications of the long run reach this process")
        for (const notification of aboutLong) assert.notStrictEqual(notification.runId, longId)
        assert.isAbove(heard.length, 2)
        for (const payload of heard) {
          assert.isAtMost(payload.length, 200, payload)
          assert.notInclude(payload, "éééé")
        }
      }).pipe(
        Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provideMerge(PgClient.layer({ url })))),
        Effect.timeout("40 seconds")
      )
    )
  })
})
