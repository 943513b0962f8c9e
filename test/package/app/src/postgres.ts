/** The Postgres journal, from its own entry point; drops its tables afterwards. */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as PgJournal from "plait/PgJournal"
import { main } from "./scenario.js"

const url = Redacted.make(process.env.PLAIT_PG_URL ?? "")
const tablePrefix = `app_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}_`

const dropTables = Layer.effectDiscard(
  Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      for (const table of ["entries", "runs", "migrations"]) {
        yield* sql`DROP TABLE IF EXISTS ${sql(tablePrefix + table)}`
      }
    }).pipe(Effect.orDie)
  )
).pipe(Layer.provide(PgClient.layer({ url })))

await main("postgres", Layer.merge(PgJournal.layer({ url, tablePrefix }), dropTables))
