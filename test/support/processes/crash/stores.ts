/**
 * Where a killed child's journal lives, and how a test reads it directly: a SQLite file, or
 * Postgres tables of their own.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Journal, SqliteJournal, SqlJournal } from "plait"
import { uniquePrefix, withDroppedTables } from "../../postgres.ts"
import type { ChildArgs } from "./child.ts"

/** Where the child's journal lives, and how the test reads it directly. */
export interface Store {
  /** The journal settings for the child started under `label`. */
  readonly journalFor: (label: string) => ChildArgs["journal"]
  /** Waits until nothing a killed child sent to the store can still commit. */
  readonly settle: (journal: ChildArgs["journal"]) => Effect.Effect<void, unknown>
  readonly load: (runId: string) => Effect.Effect<Journal.LoadedRun, unknown>
}

export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-crash-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const loadFrom = (journal: Journal.Journal["Service"], runId: string) =>
  Effect.flatMap(
    journal.load(runId),
    (loaded) =>
      Option.isSome(loaded)
        ? Effect.succeed(loaded.value)
        : Effect.fail(new Error(`run ${runId} is not in the journal`))
  )

/** A SQLite file in `dir`, opened afresh by the test for every read (no child is running then). */
export const sqliteStore = (dir: string): Store => {
  const filename = Path.join(dir, "journal.sqlite")
  return {
    journalFor: () => ({ _tag: "sqlite", filename }),
    // A killed process holds no lock and has nothing in flight: SQLite's file is final at once.
    settle: () => Effect.void,
    load: (runId) =>
      Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(SqliteJournal.layer({ filename }))
        return yield* loadFrom(Context.get(context, Journal.Journal), runId)
      }))
  }
}

/** Postgres tables of their own (dropped afterwards), read over the test's own pool. */
export const pgStore = (url: string) =>
  Effect.gen(function*() {
    const tablePrefix = uniquePrefix()
    const context = yield* Layer.build(
      SqlJournal.layer({ tablePrefix }).pipe(
        Layer.provideMerge(withDroppedTables([tablePrefix])),
        Layer.provideMerge(PgClient.layer({ url: Redacted.make(url) }))
      )
    )
    const journal = Context.get(context, Journal.Journal)
    const sql = Context.get(context, SqlClient.SqlClient)
    /**
     * Postgres finishes (and may commit) a statement whose client died mid-wait; a killed
     * process's server sessions end only after that, so the journal is final once they are gone.
     */
    const sessionsEnded = (applicationName: string) =>
      Effect.gen(function*() {
        for (let i = 0; i < 1_000; i++) {
          const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE application_name = ${applicationName}`
          if (rows[0]!.n === 0) return
          yield* Effect.sleep("20 millis")
        }
        return yield* Effect.fail(new Error(`the sessions of ${applicationName} did not end`))
      })
    const store = {
      context,
      sql,
      tablePrefix,
      sessionsEnded,
      journalFor: (label: string): ChildArgs["journal"] => ({
        _tag: "pg",
        url,
        tablePrefix,
        applicationName: `plait-crash-${label}`
      }),
      settle: (journal: ChildArgs["journal"]): Effect.Effect<void, unknown> =>
        journal._tag === "pg" ? sessionsEnded(journal.applicationName) : Effect.void,
      load: (runId: string) => loadFrom(journal, runId)
    }
    return store
  })
