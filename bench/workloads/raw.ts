/**
 * The ceiling: the same rows plait's Postgres journal writes and reads, sent by hand through the
 * driver plait uses (`@effect/sql-pg`), with nothing of plait around them.
 *
 * - `sequential`: one single-row `INSERT` per step, each its own transaction (autocommit), one
 *   after another: what a step that waits for its own commit cannot beat.
 * - `forEach`: the same number of rows as 100-row batch inserts (`unnest` of arrays, the shape
 *   of plait's own `append`), one after another: the raw row rate of batched writes.
 * - `resume`: one `SELECT` of every row of a run (written untimed): the read a resume makes.
 *
 * Two systems send them: a single `PgConnection` (the driver's session, below the SQL client:
 * no pool, no span; statements prepared), and the `SqlClient` over a pool that plait's journal
 * sends through (`sql.unsafe`: a pool checkout and a span per statement). The tables are plait's
 * own, migrated afresh per trial and dropped after, with a run row for the foreign key.
 */
import { PgConnection } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import { Journal } from "plait"
import type { Case, Trial } from "../harness.ts"
import { journalWorkloads, pgClient, postgresTables } from "./journal.ts"
import { effectTrial } from "./shared.ts"

/** How one system sends a statement: a command's row count, or a query's rows. */
interface Driver {
  readonly command: (text: string, params: ReadonlyArray<unknown>) => Effect.Effect<number, unknown>
  readonly values: (
    text: string,
    params: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, unknown>
}

class Raw extends Context.Service<Raw, Driver & { readonly statements: () => number }>()("plait-bench/Raw") {}

type MakeDriver = Effect.Effect<Driver, unknown, SqlClient.SqlClient | Scope.Scope>

/** The driver's own session: `PgConnection.make`, statements prepared, no pool and no span. */
const connectionDriver = (url: string): MakeDriver =>
  Effect.map(PgConnection.make({ url: Redacted.make(url) }), (connection) => ({
    command: (text, params) => Effect.map(connection.query(text, params), (result) => result.rowCount),
    values: (text, params) => connection.queryValues(text, params)
  }))

/** The SQL client plait's journal sends through: `sql.unsafe` over the pool. */
const clientDriver: MakeDriver = Effect.map(SqlClient.SqlClient, (sql) => ({
  command: (text, params) =>
    Effect.map(sql.unsafe(text, params).raw, (result) => (result as PgConnection.Result).rowCount),
  values: (text, params) => sql.unsafe(text, params).values
}))

/** Counts the statements a driver sends: the round trips of the table's `RT` column. */
const counted = (make: MakeDriver) =>
  Effect.map(make, (driver) => {
    let sent = 0
    return Raw.of({
      command: (text, params) => Effect.andThen(Effect.sync(() => sent++), driver.command(text, params)),
      values: (text, params) => Effect.andThen(Effect.sync(() => sent++), driver.values(text, params)),
      statements: () => sent
    })
  })

const BATCH = 100
const RUN_ID = "raw"

interface Statements {
  readonly insertOne: string
  readonly insertBatch: string
  readonly readRun: string
}

const statementsFor = (tablePrefix: string): Statements => {
  const entries = `"${tablePrefix}entries"`
  return {
    insertOne: `INSERT INTO ${entries} (run_id, path, kind, seq, value) VALUES ($1, $2, $3, $4, $5)`,
    insertBatch: `INSERT INTO ${entries} (run_id, path, kind, seq, value)
SELECT $1, e.path, e.kind, e.seq, e.value
FROM unnest($2::text[], $3::text[], $4::integer[], $5::text[]) AS e (path, kind, seq, value)`,
    readRun: `SELECT path, kind, value, seq FROM ${entries} WHERE run_id = $1`
  }
}

/** Sums `from` to `to - 1`: the checksum of the rows holding those indices. */
const sumRange = (from: number, to: number) => ((from + to - 1) * (to - from)) / 2

/** Items `from` to `to - 1` as one batch insert's parameters: paths, kinds, seqs, JSON values. */
const batchParams = (from: number, to: number): ReadonlyArray<unknown> => {
  const paths: Array<string> = []
  const kinds: Array<string> = []
  const seqs: Array<number> = []
  const values: Array<string> = []
  for (let i = from; i < to; i++) {
    paths.push(`items[${i}]`)
    kinds.push("step")
    seqs.push(0)
    values.push(JSON.stringify(i))
  }
  return [RUN_ID, paths, kinds, seqs, values]
}

/** `n` single-row inserts, each committed before the next; sums the indices of rows written. */
const insertOneByOne = (driver: Driver, sql: Statements, n: number) =>
  Effect.gen(function*() {
    let total = 0
    for (let i = 0; i < n; i++) {
      if ((yield* driver.command(sql.insertOne, [RUN_ID, `s${i}`, "step", 0, JSON.stringify(i)])) === 1) total += i
    }
    return total
  })

/** `n` rows in batches of `BATCH`; sums the indices of every batch that wrote all its rows. */
const insertBatches = (driver: Driver, sql: Statements, n: number) =>
  Effect.gen(function*() {
    let total = 0
    for (let from = 0; from < n; from += BATCH) {
      const to = Math.min(n, from + BATCH)
      if ((yield* driver.command(sql.insertBatch, batchParams(from, to))) === to - from) total += sumRange(from, to)
    }
    return total
  })

/** One read of the run's rows; sums their decoded values. */
const readRun = (driver: Driver, sql: Statements) =>
  Effect.map(driver.values(sql.readRun, [RUN_ID]), (rows) => {
    let total = 0
    for (const row of rows) total += JSON.parse(row[2] as string) as number
    return total
  })

let trials = 0

/**
 * One trial on fresh tables: the run row and `setup` untimed, then `timed`, whose statements
 * are counted.
 */
const rawTrial = (
  url: string,
  make: MakeDriver,
  setup: (driver: Driver, sql: Statements) => Effect.Effect<unknown, unknown>,
  timed: (driver: Driver, sql: Statements) => Effect.Effect<number, unknown>
): Promise<Trial> => {
  const tablePrefix = `plait_bench_raw${process.pid}_${trials++}_`
  const sql = statementsFor(tablePrefix)
  // plait's tables (migrated, dropped after), and a pool like the one plait's journal builds.
  const layer = Layer.effect(Raw, counted(make)).pipe(
    Layer.provideMerge(Layer.merge(postgresTables(url, { tablePrefix }), pgClient(url)))
  )
  let before = 0
  let driver: Raw["Service"] | undefined
  return effectTrial(
    layer,
    Effect.gen(function*() {
      // The run row the entries' foreign key points at, made as a run makes it.
      const journal = yield* Journal.Journal
      yield* journal.acquire({ runId: RUN_ID, workflow: "raw", fingerprint: "[]", input: "0" }, {
        owner: "raw",
        leaseMs: 600_000
      })
      driver = yield* Raw
      yield* setup(driver, sql)
      before = driver.statements()
    }),
    () => timed(driver!, sql)
  ).then((trial) => ({ ...trial, counts: () => ({ RT: driver!.statements() - before }) }))
}

/** The raw ceiling's cases of the durable-journal workloads, on the Postgres at `url`. */
export const rawCases = (url: string): ReadonlyArray<Case> =>
  [
    { system: "Postgres, raw PgConnection", make: connectionDriver(url) },
    { system: "Postgres, raw SqlClient", make: clientDriver }
  ].flatMap(({ make, system }): ReadonlyArray<Case> => [
    {
      system,
      workload: journalWorkloads.sequential.name,
      prepare: () =>
        rawTrial(url, make, () =>
          Effect.void, (driver, sql) =>
          insertOneByOne(driver, sql, journalWorkloads.sequential.steps)),
      checksum: (result) =>
        result as number
    },
    {
      system,
      workload: journalWorkloads.forEach.name,
      prepare: () =>
        rawTrial(url, make, () =>
          Effect.void, (driver, sql) =>
          insertBatches(driver, sql, journalWorkloads.forEach.steps)),
      checksum: (result) =>
        result as number
    },
    {
      system,
      workload: journalWorkloads.resume.name,
      prepare: () =>
        rawTrial(
          url,
          make,
          (driver, sql) =>
            insertBatches(driver, sql, journalWorkloads.resume.steps),
          (driver, sql) =>
            readRun(driver, sql)
        ),
      checksum: (result) =>
        result as number
    }
  ])
