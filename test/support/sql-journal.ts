/**
 * Helpers for the SQL journal tests: direct access to the tables around the journal, and an
 * independent count of the statements a journal sends, read from the SQL client's spans.
 */
import { assert } from "@effect/vitest"
import { Effect, Option, Tracer } from "effect"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import type { Journal, SqlJournal } from "plait"
import type { RawAccess } from "./conformance/journal.ts"

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

/** A fresh run record with a unique id. */
export const newRun = (): Journal.RunRecord => ({
  runId: `run-${randomUUID()}`,
  workflow: "w",
  fingerprint: "f",
  input: "{}"
})

/** Creates a run leased to a test executor (for a minute by default) and returns the lease. */
export const leaseNew = (journal: Journal.Journal["Service"], run: Journal.RunRecord = newRun(), leaseMs = 60_000) =>
  Effect.flatMap(
    journal.acquire(run, { owner: "test", leaseMs }),
    (acquired) =>
      acquired.lease === undefined ? Effect.die(new Error(`no lease on ${run.runId}`)) : Effect.succeed(acquired.lease)
  )

/**
 * Runs `effect` and returns its value and round trips, checking that the journal's own counter
 * agrees with the statements read from the SQL client's spans.
 */
export const measureRoundTrips =
  (roundTrips: SqlJournal.RoundTrips) => <A, E>(operation: SqlJournal.Operation, effect: Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      roundTrips.reset()
      const { roundTrips: traced, value } = yield* countStatements(effect)
      assert.strictEqual(roundTrips.of(operation), traced, `${operation}: counter and spans agree`)
      assert.strictEqual(roundTrips.total, traced)
      return [value, traced] as const
    })
