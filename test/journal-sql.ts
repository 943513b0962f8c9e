/**
 * Helpers for the SQL journal tests: direct access to the tables around the journal, and an
 * independent count of the statements a journal sends, read from the SQL client's spans.
 */
import { Effect, Option, Tracer } from "effect"
import { SqlClient } from "effect/sql"
import type { Journal } from "plait"
import type { RawAccess } from "./journal-conformance.ts"

/** An entry a SQL journal refuses: `value` is `NOT NULL`. */
export const rejectedEntry: Journal.JournalEntry = {
  path: "refused",
  kind: "step",
  seq: 0,
  value: null as unknown as string
}

/** Writes rows through a `SqlClient` of its own, as another process would. */
export const sqlRaw = (tablePrefix: string): RawAccess<SqlClient.SqlClient> => ({
  insertEntry: (runId, row) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO ${sql(`${tablePrefix}entries`)} ${
        sql.insert({ run_id: runId, path: row.path, kind: row.kind, seq: row.seq, value: row.value })
      }`
    }),
  setStatus: (runId, status) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`UPDATE ${sql(`${tablePrefix}runs`)} SET status = ${status} WHERE run_id = ${runId}`
    })
})

/**
 * Runs an effect and counts the round trips its SQL statements made, from the spans the SQL
 * client opens: one per statement, plus `BEGIN` and `COMMIT`/`ROLLBACK` per transaction.
 */
export const countStatements = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    let statements = 0
    let transactions = 0
    const tracer = Tracer.make({
      span(options) {
        if (options.kind === "client") statements++
        if (options.name === "sql.transaction") transactions++
        return Tracer.nativeTracer.span(options)
      }
    })
    return Effect.map(Effect.withTracer(effect, tracer), (value) => ({
      value,
      roundTrips: statements + 2 * transactions
    }))
  })

/** Unwraps an `Option` a test knows is `Some`. */
export const some = <A>(option: Option.Option<A>): A => Option.getOrThrow(option)
