/**
 * The journal and run store over any `effect/sql` `SqlClient` whose dialect is Postgres or
 * SQLite.
 *
 * Two tables hold everything: `plait_runs` (one row per run: its record, status, lease and wake
 * time) and `plait_entries` (one row per entry, keyed by `(run_id, path, kind, seq)`). Their
 * migrations ship with the library and run when the journal is built, or on demand with
 * {@link migrate}. Each dialect's statements live in one place (`internal/sql/pg.ts`,
 * `internal/sql/sqlite.ts`), one per operation, bound once to the tables of a prefix; their rows
 * are read by column name and decoded with Schema (`internal/sql/wire.ts`). This module is the
 * public shell: options, migrations, the layer. How to add an operation: `docs/journals.md`.
 *
 * What the journal's operations cost on Postgres: one statement each. `acquire` is an upsert
 * that creates the run leased or takes its lease; `load` returns the run row and all its entries;
 * `append` writes one entry (scalar parameters) or a batch of any size (`unnest` of arrays) only
 * while the lease token is current; `heartbeat` renews every lease of an executor; `release`
 * records where the run stands. On SQLite, where statements do not cross a network, a few
 * operations take two or three statements in one transaction.
 *
 * Storage failures become `JournalError` with reason `Unavailable`, naming the run; the
 * `SqlError` is kept as the cause. So does an operation that does not finish within
 * `operationTimeout` (waiting for a pooled connection has no limit of its own).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { makeDeadline } from "./internal/deadline.ts"
import * as JournalOptions from "./internal/journalOptions.ts"
import { type Dialect, tables } from "./internal/sql/dialect.ts"
import { makeHub } from "./internal/sql/hub.ts"
import { pg } from "./internal/sql/pg.ts"
import { sqlite } from "./internal/sql/sqlite.ts"
import { makeSqlStore } from "./internal/sql/sqlStore.ts"
import { makeExec, type Operation as StatementOperation } from "./internal/sql/statement.ts"
import { withBounds } from "./internal/storeBounds.ts"
import * as Journal from "./Journal.ts"
import { RunStore } from "./RunStore.ts"

/**
 * How a SQL journal is set up.
 *
 * @example
 * ```ts
 * import { SqliteJournal, SqlJournal } from "plait"
 *
 * const options: SqlJournal.Options = {
 *   tablePrefix: "billing_", // billing_runs, billing_entries, billing_migrations
 *   migrate: false // applied at deploy time with `SqlJournal.migrate` instead
 * }
 *
 * const JournalLive = SqliteJournal.layer({ filename: "billing.sqlite", ...options })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Prefix of the journal's table names: `<prefix>runs`, `<prefix>entries`,
   * `<prefix>migrations`. Letters, digits and `_`, at most 40 characters. Defaults to `plait_`.
   */
  readonly tablePrefix?: string | undefined
  /** Run pending migrations when the journal is built. Defaults to `true`. */
  readonly migrate?: boolean | undefined
  /** Counts the statements the journal sends, for benchmarks. Off (and free) when absent. */
  readonly roundTrips?: RoundTrips | undefined
  /**
   * Postgres: hear every process's changes (runs started, signalled, resumed, released,
   * cancelled) through `LISTEN`/`NOTIFY`, so idle workers and `Engine.await` wake at once.
   * Defaults to `true`. With `false` this process opens no `LISTEN` connection and learns of
   * other processes' changes only by polling, as on SQLite (its own changes still reach its
   * subscribers); the statements still send `NOTIFY` for processes that listen. Ignored on SQLite.
   */
  readonly listen?: boolean | undefined
  /**
   * The largest value, in UTF-8 bytes, the journal stores: a step output, a signal payload, a
   * failure, a run input. A larger one is refused with `JournalError` reason `TooLarge`, naming
   * the run and the path. Defaults to `Journal.defaultMaxPayloadBytes` (8 MiB); at most 1 GB.
   */
  readonly maxPayloadBytes?: number | undefined
  /**
   * How long one journal or run store operation may take, waiting for a pooled connection
   * included, before it fails with `JournalError` reason `Unavailable`. A connection pool makes
   * a caller wait for a free connection with no limit; this is that limit. Defaults to 30 seconds.
   */
  readonly operationTimeout?: Duration.Input | undefined
}

/**
 * A journal or run store operation, as counted by {@link RoundTrips}.
 *
 * @example
 * ```ts
 * import { SqlJournal } from "plait"
 *
 * const roundTrips = SqlJournal.makeRoundTrips()
 * const operations: ReadonlyArray<SqlJournal.Operation> = ["acquire", "load", "append", "release"]
 *
 * // After a workload: "acquire 1, load 0, append 3, release 1".
 * const report = () => operations.map((operation) => `${operation} ${roundTrips.of(operation)}`).join(", ")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = StatementOperation

/**
 * Counts the round trips a journal makes: every statement it sends and waits for, with
 * `BEGIN` and `COMMIT` counted when it opens a transaction. Pass one in
 * {@link Options.roundTrips}; read it after a workload.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * // Logs the round trips a workload costs, given the counter its journal was built with.
 * const measured = (roundTrips: SqlJournal.RoundTrips) => <A, E, R>(workload: Effect.Effect<A, E, R>) =>
 *   Effect.gen(function*() {
 *     roundTrips.reset()
 *     const result = yield* workload
 *     yield* Effect.log(`${roundTrips.total} round trips, ${roundTrips.of("append")} for appends`)
 *     return result
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RoundTrips {
  /** Round trips since creation or the last `reset`. */
  readonly total: number
  /** Round trips of one operation since creation or the last `reset`. */
  readonly of: (operation: Operation) => number
  /** Adds round trips of an operation; the journal calls this. */
  readonly record: (operation: Operation, count: number) => void
  readonly reset: () => void
}

/**
 * One schema migration shipped with the library.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * const describe = (migration: SqlJournal.Migration) => `${migration.version}_${migration.name}`
 *
 * const program = SqlJournal.migrate().pipe(
 *   Effect.flatMap((applied) => Effect.forEach(applied, (migration) => Effect.log(`applied ${describe(migration)}`)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Migration {
  readonly version: number
  readonly name: string
}

/**
 * Creates a round-trip counter.
 *
 * @example
 * ```ts
 * import { SqlJournal } from "plait"
 *
 * const roundTrips = SqlJournal.makeRoundTrips()
 * const journal = SqlJournal.layer({ roundTrips })
 * // ... run a workload, then:
 * console.log(roundTrips.total, roundTrips.of("append"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRoundTrips = (): RoundTrips => {
  const counts = new Map<Operation, number>()
  let total = 0
  return {
    get total() {
      return total
    },
    of: (operation) => counts.get(operation) ?? 0,
    record: (operation, count) => {
      counts.set(operation, (counts.get(operation) ?? 0) + count)
      total += count
    },
    reset: () => {
      counts.clear()
      total = 0
    }
  }
}

/**
 * The migrations this version of the library ships, oldest first.
 *
 * @example
 * ```ts
 * import { SqlJournal } from "plait"
 *
 * // The schema version this build expects, for a readiness check against `<prefix>migrations`.
 * const expectedVersion = Math.max(...SqlJournal.migrations.map((migration) => migration.version))
 * ```
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrations: ReadonlyArray<Migration> = [
  { version: 1, name: "create_runs_and_entries" },
  { version: 2, name: "leases_wake_times_and_claims" },
  { version: 3, name: "children_slots_and_schedules" },
  { version: 4, name: "waiting_for_as_a_list" }
]

/**
 * Brings the journal's tables up to date, creating them if needed, and returns the migrations
 * it applied (none when already current). Concurrent callers serialize: a Postgres advisory
 * lock, or SQLite's write lock (`BEGIN IMMEDIATE`), is held for the whole transaction.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * // With `migrate: false` on the layer, run this once at deploy time instead.
 * const program = SqlJournal.migrate({ tablePrefix: "plait_" }).pipe(
 *   Effect.tap((applied) => Effect.log(`applied ${applied.length} migrations`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrate: (
  options?: Pick<Options, "tablePrefix">
) => Effect.Effect<ReadonlyArray<Migration>, SqlError | Journal.InvalidOption, SqlClient.SqlClient> = Effect.fn(
  "SqlJournal.migrate"
)(
  function*(options?: Pick<Options, "tablePrefix">) {
    const t = tables(yield* JournalOptions.tablePrefix(options?.tablePrefix))
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* dialectOf(sql)
    const run = (text: string, params: ReadonlyArray<unknown> = []) => sql.unsafe(text, params).unprepared
    const transaction = Effect.gen(function*() {
      for (const [text, params] of dialect.lockMigrations(t)) yield* run(text, params)
      yield* run(dialect.createMigrationsTable(t))
      const rows = yield* sql.withoutTransforms().unsafe<{ readonly version: unknown }>(
        `SELECT version FROM ${t.migrations}`
      )
      const done = new Set(rows.map((row) => Number(row.version)))
      const applied: Array<Migration> = []
      for (const migration of migrations) {
        if (done.has(migration.version)) continue
        for (const statement of dialect.migrations[migration.version]!(t)) yield* run(statement)
        yield* run(dialect.recordMigration(t), [migration.version, migration.name])
        applied.push(migration)
      }
      return applied
    })
    return yield* sql.withTransaction(transaction).pipe(
      Effect.provideService(SqlClient.BeginTransaction, dialect.begin)
    )
  }
)

/**
 * Builds the journal and the run store over the `SqlClient` in context, migrating first unless
 * `migrate: false`. Use it to share one instance by hand; {@link layer} is the usual way in.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const { journal } = yield* SqlJournal.make({ tablePrefix: "plait_" })
 *   return yield* journal.load("run-1")
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<
  { readonly journal: Journal.Journal["Service"]; readonly store: RunStore["Service"] },
  SqlError | Journal.InvalidOption,
  SqlClient.SqlClient | Scope.Scope
> = Effect.fnUntraced(function*(options?: Options) {
  const checked = yield* JournalOptions.sqlOptions(options)
  const t = tables(checked.tablePrefix)
  const sql = yield* SqlClient.SqlClient
  const dialect = yield* dialectOf(sql)
  if (options?.migrate !== false) yield* migrate({ tablePrefix: t.prefix })
  if (dialect.name === "sqlite") yield* sql.unsafe("PRAGMA foreign_keys = ON").unprepared
  const exec = makeExec(sql, dialect.begin, options?.roundTrips)
  const listens = dialect.notifiesAcrossProcesses && options?.listen !== false
  const hub = yield* makeHub(sql, listens, t.channel)
  const deadline = yield* makeDeadline(checked.operationTimeout)
  const service = makeSqlStore(dialect.statements(t), exec, hub, listens)
  return withBounds(
    { journal: Journal.Journal.of(service), store: RunStore.of(service) },
    { maxPayloadBytes: checked.maxPayloadBytes, deadline }
  )
})

/**
 * The journal and run store as a layer over the `SqlClient` in context.
 *
 * @example
 * ```ts
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer, Redacted } from "effect"
 * import { SqlJournal } from "plait"
 *
 * const JournalLive = SqlJournal.layer({ tablePrefix: "plait_" }).pipe(
 *   Layer.provide(PgClient.layer({ url: Redacted.make("postgres://localhost/app") }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<Journal.Journal | RunStore, SqlError | Journal.InvalidOption, SqlClient.SqlClient> =>
  Layer.effectContext(
    Effect.map(
      make(options),
      ({ journal, store }) => Context.make(Journal.Journal, journal).pipe(Context.add(RunStore, store))
    )
  )

// internal

const dialectOf = (sql: SqlClient.SqlClient): Effect.Effect<Dialect> =>
  sql.onDialectOrElse({
    pg: () => Effect.succeed(pg),
    sqlite: () => Effect.succeed(sqlite),
    orElse: () => Effect.die(new Error("SqlJournal supports Postgres and SQLite clients only"))
  })
