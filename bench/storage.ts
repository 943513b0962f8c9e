/**
 * Bytes a finished run takes, for `docs/operations.md`: `N` runs (2,000 by default) of the
 * engine bench's 1-step and 10-step workflows (each step returns a small number; run ids are
 * UUIDs, the default, stored in every entry row and its index) run to
 * completion on Postgres at `PLAIT_PG_URL` (fresh tables, dropped afterwards) and on a fresh
 * SQLite file. Postgres: `pg_total_relation_size` of the runs and entries tables (indexes and
 * TOAST included) after `VACUUM ANALYZE`, and their heaps alone; SQLite: the file's size after a
 * `wal_checkpoint(TRUNCATE)`. Each divided by `N`.
 *
 *   N=2000 node --conditions=plait-source bench/storage.ts
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as Fs from "node:fs"
import { DatabaseSync } from "node:sqlite"
import * as Os from "node:os"
import * as Path from "node:path"
import { SqliteJournal, Workflow } from "plait"
import * as PgJournal from "plait/PgJournal"
import { OneStep, type StepsWorkflow, TenSteps } from "./engine/workflows.ts"

const url = process.env.PLAIT_PG_URL || "postgres://postgres@127.0.0.1:5432/test"
const N = Number(process.env.N ?? 2000)

const runAll = (workflow: StepsWorkflow) =>
  Effect.forEach(
    // Run ids as `Workflow.run` and `engine.start` make them when none is given: 36-character UUIDs.
    Array.from({ length: N }, () => crypto.randomUUID()),
    (runId) => Workflow.run(workflow, { input: 0, runId }),
    { concurrency: 16, discard: true }
  )

const perRun = (bytes: number | string) => (Number(bytes) / N).toFixed(0)

const onPostgres = (workflow: StepsWorkflow, tablePrefix: string) =>
  Effect.scoped(
    Effect.gen(function*() {
      yield* runAll(workflow).pipe(Effect.provide(PgJournal.layer({ url: Redacted.make(url), tablePrefix })))
      const sql = yield* SqlClient.SqlClient
      const runs = `${tablePrefix}runs`
      const entries = `${tablePrefix}entries`
      yield* sql.unsafe(`VACUUM ANALYZE ${runs}, ${entries}`)
      const [sizes] = yield* sql.unsafe<{ runs: string; runsHeap: string; entries: string; entriesHeap: string }>(
        `SELECT pg_total_relation_size('${runs}') AS runs, pg_relation_size('${runs}') AS "runsHeap",
        pg_total_relation_size('${entries}') AS entries, pg_relation_size('${entries}') AS "entriesHeap"`
      )
      const tables = ["entries", "runs", "slot_waiters", "slots", "schedules", "migrations"]
      for (const table of tables) yield* sql.unsafe(`DROP TABLE IF EXISTS ${tablePrefix}${table} CASCADE`)
      return sizes!
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })))
  )

const onSqlite = async (workflow: StepsWorkflow) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-storage-"))
  try {
    const filename = Path.join(dir, "journal.sqlite")
    await Effect.runPromise(runAll(workflow).pipe(Effect.provide(SqliteJournal.layer({ filename }))))
    const db = new DatabaseSync(filename)
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return Fs.statSync(filename).size
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

for (const [workflow, steps] of [[OneStep, 1], [TenSteps, 10]] as const) {
  const sizes = await Effect.runPromise(onPostgres(workflow, `plait_storage_${process.pid}_${steps}_`))
  console.log(
    `postgres ${steps}-step: ${perRun(Number(sizes.runs) + Number(sizes.entries))} B per run ` +
      `(runs ${perRun(sizes.runs)}, heap ${perRun(sizes.runsHeap)}; ` +
      `entries ${perRun(sizes.entries)}, heap ${perRun(sizes.entriesHeap)})`
  )
  console.log(`sqlite ${steps}-step: ${perRun(await onSqlite(workflow))} B per run`)
}
