/**
 * A database written by an earlier version (schema version 1: no leases, `suspended` and
 * `running` statuses; version 2: leases, no children, slots or schedules; version 3: the paths a
 * run waits on joined with ", ") upgrades in place when this version opens it, and its runs go on:
 * a completed run replays, a suspended one takes its signal, one that was running when its process
 * died resumes without re-running what it journaled; the paths a run waits on read back as a list.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Engine, Journal, SqliteJournal, SqlJournal, Workflow } from "plait"
import { afterAll } from "vitest"
import { type Dialect, tables } from "../../src/internal/sql/dialect.ts"
import { pg } from "../../src/internal/sql/pg.ts"
import { sqlite } from "../../src/internal/sql/sqlite.ts"
import * as SqliteClient from "../../src/internal/sqliteClient.ts"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"
import { completed, makeCounts } from "../support/runs.ts"

const counts = makeCounts()

const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
  Workflow.step("submitted", { success: Schema.Number }, (ctx) => counts.run("submitted", Effect.succeed(ctx.input))),
  Workflow.signal("approval", { schema: Schema.Boolean }),
  Workflow.step("booked", { success: Schema.Boolean }, (ctx) => counts.run("booked", Effect.succeed(ctx.approval)))
)

const fingerprint = JSON.stringify(["submitted step", "approval signal", "booked step"])

/** Rows as version 1 wrote them: one run per status it knew, with the entries each had. */
const version1Rows = [
  {
    runId: "done",
    status: "completed",
    entries: [["submitted", "step", "7"], ["approval", "signal", "true"], ["booked", "step", "true"]]
  },
  { runId: "asking", status: "suspended", entries: [["submitted", "step", "8"]] },
  { runId: "crashed", status: "running", entries: [["submitted", "step", "9"]] }
] as const

/**
 * Creates the version 1 tables with the DDL that version shipped and fills them, then brings them
 * to `version` with the migrations that version shipped, as it would have on opening them.
 */
const writeVersion = (dialect: Dialect, prefix: string, version: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const t = tables(prefix)
    const p = (n: number) => (dialect.name === "pg" ? `$${n}` : `?${n}`)
    yield* sql.unsafe(dialect.createMigrationsTable(t)).unprepared
    for (const statement of dialect.migrations[1]!(t)) yield* sql.unsafe(statement).unprepared
    yield* sql.unsafe(dialect.recordMigration(t), [1, "create_runs_and_entries"]).unprepared
    for (const row of version1Rows) {
      yield* sql.unsafe(
        `INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, status) VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${
          p(4)
        }, ${p(5)})`,
        [row.runId, "expense", fingerprint, JSON.stringify(Number(row.entries[0]![2])), row.status]
      ).unprepared
      for (const [path, kind, value] of row.entries) {
        yield* sql.unsafe(
          `INSERT INTO ${t.entries} (run_id, path, kind, seq, value) VALUES (${p(1)}, ${p(2)}, ${p(3)}, 0, ${p(4)})`,
          [row.runId, path, kind, value]
        ).unprepared
      }
    }
    for (const migration of SqlJournal.migrations.filter((m) => m.version > 1 && m.version <= version)) {
      for (const statement of dialect.migrations[migration.version]!(t)) yield* sql.unsafe(statement).unprepared
      yield* sql.unsafe(dialect.recordMigration(t), [migration.version, migration.name]).unprepared
    }
    // Versions 2 and 3 stored the paths a run waits on joined with ", " (and "" for none).
    if (version >= 2) {
      yield* sql.unsafe(`UPDATE ${t.runs} SET waiting_for = ${p(1)} WHERE run_id = ${p(2)}`, [
        joinedWaitingFor,
        "asking"
      ]).unprepared
      yield* sql.unsafe(`UPDATE ${t.runs} SET waiting_for = '' WHERE run_id = ${p(1)}`, ["done"]).unprepared
    }
  })

const joinedWaitingFor = "approval, reminder/1, child/2"

const upgradesInPlace = (version: number, journal: Layer.Layer<Journal.Journal | Engine.Engine, unknown>) =>
  Effect.gen(function*() {
    const engine = yield* Engine.Engine
    const waitingFor = (yield* engine.inspect("asking")).run.waitingFor
    assert.deepStrictEqual(waitingFor, version >= 2 ? joinedWaitingFor.split(", ") : [])
    assert.deepStrictEqual((yield* engine.inspect("done")).run.waitingFor, [])
    const statuses = Object.fromEntries(
      (yield* engine.list({ workflow: "expense" })).runs.map((run) => [run.runId, run.status])
    )
    assert.deepStrictEqual(statuses, { done: "completed", asking: "waiting", crashed: "queued" })
    const before = counts.snapshot()

    const done = completed(yield* Effect.exit(Workflow.run(Expense, { input: 7, runId: "done" })))
    assert.deepStrictEqual(done, { input: 7, submitted: 7, approval: true, booked: true })

    yield* engine.signal(Expense, "asking", "approval", false)
    const asked = completed(yield* Effect.exit(Workflow.run(Expense, { input: 8, runId: "asking" })))
    assert.strictEqual(asked.booked, false)

    const crashed = yield* Workflow.run(Expense, { input: 9, runId: "crashed" })
    assert.deepStrictEqual(crashed, { _tag: "Suspended", runId: "crashed", waitingFor: "approval" })

    // Only `booked` of "asking" ran: every step version 1 journaled replayed.
    assert.deepStrictEqual(counts.snapshot(), { ...before, booked: (before.booked ?? 0) + 1 })
    const detail = yield* engine.inspect("done")
    assert.isAbove(detail.run.createdAt, 0, "the creation time survives the upgrade")
    assert.isUndefined(detail.run.parentRunId)
    assert.deepStrictEqual(yield* engine.schedules(), [], "the tables this version added are there")
  }).pipe(Effect.provide(journal))

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-migration-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

describe.each([1, 2, 3])("a version %i database upgrades in place", (version) => {
  it.live("SQLite", () => {
    const filename = Path.join(root, `v${version}.sqlite`)
    return Effect.gen(function*() {
      yield* Effect.provide(writeVersion(sqlite, "plait_", version), SqliteClient.layer({ filename }))
      yield* upgradesInPlace(version, Layer.provideMerge(Engine.layer, SqliteJournal.layer({ filename })))
      const applied = yield* Effect.provide(SqlJournal.migrate(), SqliteClient.layer({ filename }))
      assert.deepStrictEqual(applied, [], "already current")
    })
  })

  it.live.skipIf(pgUrl === undefined)("Postgres", () => {
    const tablePrefix = uniquePrefix()
    const client = PgClient.layer({ url: Redacted.make(pgUrl ?? "") })
    return Effect.gen(function*() {
      yield* writeVersion(pg, tablePrefix, version)
      yield* upgradesInPlace(
        version,
        Layer.provideMerge(Engine.layer, SqlJournal.layer({ tablePrefix })).pipe(Layer.provide(client))
      )
      assert.deepStrictEqual(yield* SqlJournal.migrate({ tablePrefix }), [])
      const journal = yield* Layer.build(SqlJournal.layer({ tablePrefix }))
      assert.isTrue(Option.isSome(yield* Effect.provide(Journal.Journal.use((j) => j.load("done")), journal)))
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(client, withDroppedTables([tablePrefix]).pipe(Layer.provide(client))))
    )
  })
})
