/**
 * What `Workflow.run` costs in journal round trips, counted with `SqlJournal.makeRoundTrips()`
 * on the SQL journals (DESIGN §5): one write per step, one statement to take the run's lease
 * and one to release it, and the journal read in one statement. Under a worker, the claim reads
 * the journal: no `load`.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Queue, Redacted, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Engine, Journal, RunStore, SqliteJournal, SqlJournal, Worker, Workflow } from "plait"
import { afterAll } from "vitest"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-round-trips-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

const Sequential = Workflow.make("sequential", { input: Schema.Number }).pipe(
  Workflow.step("a", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input + 1)),
  Workflow.step("b", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.a + 1)),
  Workflow.step("c", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.b + 1))
)

const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
  Workflow.step("submit", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input)),
  Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean }) }),
  Workflow.step("book", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved))
)

/** The round trips of the operations `Workflow.run` uses. */
const counted = (roundTrips: SqlJournal.RoundTrips) => ({
  acquire: roundTrips.of("acquire"),
  load: roundTrips.of("load"),
  append: roundTrips.of("append"),
  release: roundTrips.of("release")
})

/** Waits until the run is released with `status`, heard on `notifications`. */
const released = (notifications: Queue.Dequeue<RunStore.Notification>, runId: string, status: string) =>
  Effect.gen(function*() {
    while (true) {
      const notification = yield* Queue.take(notifications)
      if (notification._tag === "Released" && notification.runId === runId && notification.status === status) return
    }
  })

/**
 * The round trips of each run, on a journal whose `acquire` of a new run costs `newRun` (one
 * statement on Postgres; BEGIN, INSERT, COMMIT on SQLite), of an existing run `existingRun`, and
 * of a run it does not lease (a completed one) `missedRun`, which includes reading its journal.
 */
const suite = (
  name: string,
  costs: { readonly newRun: number; readonly existingRun: number; readonly missedRun: number },
  journal: (roundTrips: SqlJournal.RoundTrips) => Layer.Layer<Journal.Journal | RunStore.RunStore, unknown>
) =>
  describe(name, () => {
    it.live("a sequential run: acquire, one append per step, one release; replaying it is acquire and its read", () => {
      const roundTrips = SqlJournal.makeRoundTrips()
      return Effect.gen(function*() {
        const first = yield* Workflow.run(Sequential, { input: 0, runId: "seq" })
        assert.strictEqual(first._tag, "Completed")
        assert.deepStrictEqual(counted(roundTrips), { acquire: costs.newRun, load: 0, append: 3, release: 1 })

        roundTrips.reset()
        const resumed = yield* Workflow.run(Sequential, { input: 0, runId: "seq" })
        assert.deepStrictEqual(resumed, first)
        assert.deepStrictEqual(counted(roundTrips), { acquire: costs.missedRun, load: 0, append: 0, release: 0 })
        assert.strictEqual(roundTrips.total, costs.missedRun)
        const stored = Option.getOrThrow(yield* (yield* Journal.Journal).load("seq"))
        assert.strictEqual(stored.run.status, "completed")
        assert.isUndefined(stored.run.owner)
      }).pipe(Effect.provide(journal(roundTrips)))
    })

    it.live("a suspended run still waiting costs acquire, load and release; woken, it writes only its new step", () => {
      const roundTrips = SqlJournal.makeRoundTrips()
      return Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const status = Effect.orDie(Effect.map(journal.load("exp"), (loaded) => Option.getOrThrow(loaded).run.status))
        const first = yield* Workflow.run(Expense, { input: 5, runId: "exp" })
        assert.strictEqual(first._tag, "Suspended")
        assert.deepStrictEqual(counted(roundTrips), { acquire: costs.newRun, load: 0, append: 1, release: 1 })

        roundTrips.reset()
        const still = yield* Workflow.run(Expense, { input: 5, runId: "exp" })
        assert.strictEqual(still._tag, "Suspended")
        assert.deepStrictEqual(counted(roundTrips), { acquire: costs.existingRun, load: 1, append: 0, release: 1 })
        assert.strictEqual(yield* status, "waiting")

        yield* Workflow.sendSignal(Expense, { runId: "exp", path: "approval", value: { approved: true } })
        roundTrips.reset()
        // While it runs the run is marked running, so a crash leaves it to be taken over.
        const observed: Array<string> = []
        const done = yield* Workflow.run(Expense, {
          input: 5,
          runId: "exp",
          observe: (event) =>
            event._tag === "Started"
              ? Effect.map(status, (s) => void observed.push(`${event.path}: ${s}`))
              : Effect.void
        })
        assert.strictEqual(done._tag, "Completed")
        assert.deepStrictEqual(observed, ["book: running"])
        // The run's own load, and the observer's.
        assert.deepStrictEqual(counted(roundTrips), { acquire: costs.existingRun, load: 2, append: 1, release: 1 })
        assert.strictEqual(yield* status, "completed")
      }).pipe(Effect.provide(journal(roundTrips)))
    })

    it.live("a run under a worker: its claims read its journal, so it is never loaded, queued or woken", () => {
      const roundTrips = SqlJournal.makeRoundTrips()
      const worked = (operation: "claim" | "load" | "append" | "release") => roundTrips.of(operation)
      return Effect.gen(function*() {
        const engine = yield* Engine.Engine
        const notifications = yield* Effect.flatMap(RunStore.RunStore, (store) => store.subscribe)
        yield* Worker.make({ workflows: [Expense], concurrency: 4 })
        roundTrips.reset()
        yield* engine.start(Expense, { input: 5, runId: "worked" })
        yield* released(notifications, "worked", "waiting")
        assert.deepStrictEqual([worked("load"), worked("append"), worked("release")], [0, 1, 1])
        assert.isAtLeast(worked("claim"), 1)

        roundTrips.reset()
        yield* engine.signal(Expense, "worked", "approval", { approved: true })
        yield* released(notifications, "worked", "completed")
        // The woken run's claim read `submit` and the signal.
        assert.deepStrictEqual([worked("load"), worked("append"), worked("release")], [0, 1, 1])
        const outcome = yield* engine.await(Expense, "worked")
        assert.strictEqual(outcome._tag === "Completed" && outcome.context.book, true)
      }).pipe(Effect.scoped, Effect.provide(Layer.provideMerge(Engine.layer, journal(roundTrips))))
    })
  })

let files = 0
suite(
  "SQLite",
  { newRun: 3, existingRun: 4, missedRun: 5 },
  (roundTrips) => SqliteJournal.layer({ filename: Path.join(root, `${files++}.sqlite`), roundTrips })
)

describe.skipIf(pgUrl === undefined)("Postgres", () => {
  suite("PgJournal", { newRun: 1, existingRun: 1, missedRun: 2 }, (roundTrips) => {
    const tablePrefix = uniquePrefix()
    return Layer.merge(
      SqlJournal.layer({ tablePrefix, roundTrips }),
      withDroppedTables([tablePrefix])
    ).pipe(Layer.provide(PgClient.layer({ url: Redacted.make(pgUrl ?? "") })))
  })
})
