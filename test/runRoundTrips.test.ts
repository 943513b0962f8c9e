/**
 * What `Workflow.run` costs in journal round trips, counted with `SqlJournal.makeRoundTrips()`
 * on the SQL journals (DESIGN §5): one write per step, and a resume that needs no new write is
 * the one read of `start`, with no status rewritten.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { Journal, SqliteJournal, SqlJournal, Workflow } from "plait"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll } from "vitest"
import { loadNodeSqlite } from "../src/internal/nodeSqlite.ts"
import { pgUrl, uniquePrefix, withDroppedTables } from "./pg-support.ts"

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

/** The round trips of the operations `Workflow.run` uses (the tests' own `load`s aside). */
const counted = (roundTrips: SqlJournal.RoundTrips) => ({
  start: roundTrips.of("start"),
  append: roundTrips.of("append"),
  setStatus: roundTrips.of("setStatus")
})

/**
 * The round trips of each run, on a journal whose `start` of a new run costs `newStart` and
 * of an existing run one read.
 */
const suite = (
  name: string,
  newStart: number,
  journal: (roundTrips: SqlJournal.RoundTrips) => Layer.Layer<Journal.Journal, unknown>
) =>
  describe(name, () => {
    it.live("a sequential run: start, one append per step, one setStatus; its resume is one read", () => {
      const roundTrips = SqlJournal.makeRoundTrips()
      return Effect.gen(function*() {
        const first = yield* Workflow.run(Sequential, { input: 0, runId: "seq" })
        assert.strictEqual(first._tag, "Completed")
        assert.deepStrictEqual(counted(roundTrips), { start: newStart, append: 3, setStatus: 1 })

        roundTrips.reset()
        const resumed = yield* Workflow.run(Sequential, { input: 0, runId: "seq" })
        assert.deepStrictEqual(resumed, first)
        assert.deepStrictEqual(counted(roundTrips), { start: 1, append: 0, setStatus: 0 })
        assert.strictEqual(roundTrips.total, 1)
        const stored = Option.getOrThrow(yield* (yield* Journal.Journal).load("seq"))
        assert.strictEqual(stored.run.status, "completed")
      }).pipe(Effect.provide(journal(roundTrips)))
    })

    it.live("a suspended run still waiting is one read; woken, it is marked running before it writes", () => {
      const roundTrips = SqlJournal.makeRoundTrips()
      return Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const status = Effect.orDie(Effect.map(journal.load("exp"), (loaded) => Option.getOrThrow(loaded).run.status))
        const first = yield* Workflow.run(Expense, { input: 5, runId: "exp" })
        assert.strictEqual(first._tag, "Suspended")
        assert.deepStrictEqual(counted(roundTrips), { start: newStart, append: 1, setStatus: 1 })

        roundTrips.reset()
        const still = yield* Workflow.run(Expense, { input: 5, runId: "exp" })
        assert.strictEqual(still._tag, "Suspended")
        assert.deepStrictEqual(counted(roundTrips), { start: 1, append: 0, setStatus: 0 })
        assert.strictEqual(yield* status, "suspended")

        yield* Workflow.sendSignal(Expense, { runId: "exp", path: "approval", value: { approved: true } })
        roundTrips.reset()
        // Before `book` is written the run is marked running, so a crash leaves it running.
        const observed: Array<string> = []
        const done = yield* Workflow.run(Expense, {
          input: 5,
          runId: "exp",
          observe: (event) =>
            event._tag === "Started" ? Effect.map(status, (s) => void observed.push(`${event.path}: ${s}`)) : Effect.void
        })
        assert.strictEqual(done._tag, "Completed")
        assert.deepStrictEqual(observed, ["book: suspended"])
        // the read, "running", the append of `book`, "completed"
        assert.deepStrictEqual(counted(roundTrips), { start: 1, append: 1, setStatus: 2 })
        assert.strictEqual(yield* status, "completed")
      }).pipe(Effect.provide(journal(roundTrips)))
    })
  })

let files = 0
suite("SQLite", 2, (roundTrips) =>
  SqliteJournal.layer({ filename: Path.join(root, `${files++}.sqlite`), roundTrips }))

describe("SQLite start", () => {
  // SQLite's start reads first and inserts only a new run. Another process creating the run
  // between the two is simulated by a second connection writing it just before the insert.
  it.live("a run another process creates between the read and the insert is read back", () => {
    const filename = Path.join(root, `${files++}.sqlite`)
    const counter = SqlJournal.makeRoundTrips()
    let starts = 0
    const roundTrips: SqlJournal.RoundTrips = {
      get total() {
        return counter.total
      },
      of: counter.of,
      reset: counter.reset,
      record: (operation, count) => {
        counter.record(operation, count)
        if (operation === "start" && ++starts === 2) {
          const other = new (loadNodeSqlite().DatabaseSync)(filename)
          other.prepare(
            "INSERT INTO plait_runs (run_id, workflow, fingerprint, input, status) VALUES (?, ?, ?, ?, ?)"
          ).run("raced", "w", "f", "\"theirs\"", "suspended")
          other.close()
        }
      }
    }
    return Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const loaded = yield* journal.start({ runId: "raced", workflow: "w", fingerprint: "f", input: "\"mine\"", status: "running" })
      assert.deepStrictEqual(loaded, {
        run: { runId: "raced", workflow: "w", fingerprint: "f", input: "\"theirs\"", status: "suspended" },
        entries: []
      })
      // the read, the insert that found the run there, the read again
      assert.strictEqual(counter.of("start"), 3)
    }).pipe(Effect.provide(SqliteJournal.layer({ filename, roundTrips })))
  })
})

describe.skipIf(pgUrl === undefined)("Postgres", () => {
  suite("PgJournal", 1, (roundTrips) => {
    const tablePrefix = uniquePrefix()
    return Layer.merge(
      SqlJournal.layer({ tablePrefix, roundTrips }),
      withDroppedTables([tablePrefix])
    ).pipe(Layer.provide(PgClient.layer({ url: Redacted.make(pgUrl ?? "") })))
  })
})
