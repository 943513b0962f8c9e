/**
 * The journal over any `effect/sql` `SqlClient` whose dialect is Postgres or SQLite.
 *
 * Two tables hold everything: `plait_runs` (one row per run) and `plait_entries` (one row per
 * entry, keyed by `(run_id, path, kind, seq)`). Their migrations ship with the library and run
 * when the journal is built, or on demand with {@link migrate}.
 *
 * What each operation costs:
 *
 * - `start`: one statement on Postgres (a CTE that inserts the run if absent and returns the run
 *   with every entry). On SQLite the same single read as `load`, then, only when the run is
 *   new, an insert-if-absent that returns the inserted row: one round trip to resume, two to
 *   start.
 * - `load`: one statement returning the run row and all its entry rows.
 * - `append`: one statement for the whole batch on Postgres (`unnest` of four arrays, so no
 *   parameter limit applies). On SQLite one multi-row `INSERT`, split only past SQLite's 32766
 *   parameters, the parts inside one transaction.
 * - `setStatus`: one statement.
 *
 * Storage failures become `JournalError` with reason `Unavailable`, naming the run; the
 * `SqlError` is kept as the cause. So does an operation that does not finish within
 * `operationTimeout` (waiting for a pooled connection has no limit of its own).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as JournalOptions from "./internal/journalOptions.ts"
import { isEntryKind, isRunStatus, payloadIssue } from "./internal/rows.ts"
import * as Journal from "./Journal.ts"

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
   * The largest value, in UTF-8 bytes, the journal stores: a step output, a signal payload, a
   * failure, a run input. A larger one is refused with `JournalError` reason `TooLarge`, naming
   * the run and the path. Defaults to `Journal.defaultMaxPayloadBytes` (8 MiB); at most 1 GB.
   */
  readonly maxPayloadBytes?: number | undefined
  /**
   * How long one journal operation may take, waiting for a pooled connection included, before
   * it fails with `JournalError` reason `Unavailable`. A connection pool makes a caller wait
   * for a free connection with no limit; this is that limit. Defaults to 30 seconds.
   */
  readonly operationTimeout?: Duration.Input | undefined
}

/**
 * A journal operation, as counted by {@link RoundTrips}.
 *
 * @example
 * ```ts
 * import { SqlJournal } from "plait"
 *
 * const roundTrips = SqlJournal.makeRoundTrips()
 * const operations: ReadonlyArray<SqlJournal.Operation> = ["start", "load", "append", "setStatus"]
 *
 * // After a workload: "start 1, load 0, append 3, setStatus 1".
 * const report = () => operations.map((operation) => `${operation} ${roundTrips.of(operation)}`).join(", ")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = "start" | "load" | "append" | "setStatus"

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
  const counts: Record<Operation, number> = { start: 0, load: 0, append: 0, setStatus: 0 }
  return {
    get total() {
      return counts.start + counts.load + counts.append + counts.setStatus
    },
    of: (operation) => counts[operation],
    record: (operation, count) => {
      counts[operation] += count
    },
    reset: () => {
      counts.start = 0
      counts.load = 0
      counts.append = 0
      counts.setStatus = 0
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
export const migrations: ReadonlyArray<Migration> = [{ version: 1, name: "create_runs_and_entries" }]

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
      if (dialect === "pg") {
        yield* run(`SELECT 1 FROM pg_advisory_xact_lock($1, $2) AS l`, [lockNamespace, hash(t.prefix)])
      }
      yield* run(
        dialect === "pg"
          ? `CREATE TABLE IF NOT EXISTS ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, ` +
            `applied_at timestamptz NOT NULL DEFAULT now())`
          : `CREATE TABLE IF NOT EXISTS ${t.migrations} (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, ` +
            `applied_at TEXT NOT NULL DEFAULT (${sqliteNow}))`
      )
      const rows = yield* sql.unsafe(`SELECT version FROM ${t.migrations}`).values
      const done = new Set(rows.map((row) => Number(row[0])))
      const applied: Array<Migration> = []
      for (const migration of migrations) {
        if (done.has(migration.version)) continue
        for (const statement of ddl[migration.version]!(dialect, t)) yield* run(statement)
        yield* run(`INSERT INTO ${t.migrations} (version, name) VALUES (${p(dialect, 1)}, ${p(dialect, 2)})`, [
          migration.version,
          migration.name
        ])
        applied.push(migration)
      }
      return applied
    })
    return yield* dialect === "pg"
      ? sql.withTransaction(transaction)
      : sql.withTransaction(transaction).pipe(Effect.provideService(SqlClient.BeginTransaction, "BEGIN IMMEDIATE"))
  }
)

/**
 * Builds a journal over the `SqlClient` in context, migrating first unless `migrate: false`.
 * Use it to share one journal instance by hand; {@link layer} is the usual way in.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * const program = Effect.gen(function*() {
 *   const journal = yield* SqlJournal.make({ tablePrefix: "plait_" })
 *   const loaded = yield* journal.load("run-1")
 *   return loaded
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<Journal.Journal["Service"], SqlError | Journal.InvalidOption, SqlClient.SqlClient> =
  Effect.fnUntraced(function*(options?: Options) {
    const checked = yield* JournalOptions.sqlOptions(options)
    const t = tables(checked.tablePrefix)
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* dialectOf(sql)
    if (options?.migrate !== false) yield* migrate({ tablePrefix: t.prefix })
    if (dialect === "sqlite") yield* sql.unsafe("PRAGMA foreign_keys = ON").unprepared
    const counter = options?.roundTrips
    const statements = dialect === "pg" ? pgStatements(t) : sqliteStatements(t)

    const query = (operation: Operation, text: string, params: ReadonlyArray<unknown>) => {
      const values = sql.unsafe(text, params).values
      return counter === undefined
        ? values
        : Effect.andThen(Effect.sync(() => counter.record(operation, 1)), values)
    }

    const loadRows = (runId: string) => query("load", statements.load, [runId])

    const startRows: (run: Journal.RunRecord) => Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError> =
      dialect === "pg"
        ? (run) => query("start", statements.start, [run.runId, run.workflow, run.fingerprint, run.input, run.status])
        : (run) =>
          Effect.flatMap(query("start", statements.load, [run.runId]), (rows) =>
            rows.length > 0
              ? Effect.succeed(rows)
              : Effect.flatMap(
                query("start", statements.start, [run.runId, run.workflow, run.fingerprint, run.input, run.status]),
                // No row returned: another process created the run since the read; read it.
                (inserted) => inserted.length > 0 ? Effect.succeed(inserted) : query("start", statements.load, [run.runId])
              ))

    // On Postgres a concurrent writer can create the run after this statement took its
    // snapshot: the insert does nothing and the read sees no run. The next statement sees it.
    const start = (
      run: Journal.RunRecord,
      attempt = 1
    ): Effect.Effect<Journal.LoadedRun, Journal.JournalError> =>
      Effect.flatMap(
        Effect.mapError(startRows(run), unavailable(run.runId, "start")),
        (rows) => {
          const loaded = decode(run.runId, rows)
          if (loaded instanceof Journal.JournalError) return Effect.fail(loaded)
          if (Option.isSome(loaded)) return Effect.succeed(loaded.value)
          return attempt < 3
            ? start(run, attempt + 1)
            : Effect.fail(
              new Journal.JournalError({ reason: "Unavailable", runId: run.runId, detail: "start did not see the run" })
            )
        }
      )

    const load = (runId: string): Effect.Effect<Option.Option<Journal.LoadedRun>, Journal.JournalError> =>
      Effect.flatMap(Effect.mapError(loadRows(runId), unavailable(runId, "load")), (rows) => {
        const loaded = decode(runId, rows)
        return loaded instanceof Journal.JournalError ? Effect.fail(loaded) : Effect.succeed(loaded)
      })

    const writeBatch: (runId: string, entries: ReadonlyArray<Journal.JournalEntry>) => Effect.Effect<void, SqlError> =
      dialect === "pg"
        ? (runId, entries) => {
          const n = entries.length
          const paths = new Array<string>(n)
          const kinds = new Array<string>(n)
          const seqs = new Array<number>(n)
          const values = new Array<string>(n)
          for (let i = 0; i < n; i++) {
            const entry = entries[i]!
            paths[i] = entry.path
            kinds[i] = entry.kind
            seqs[i] = entry.seq
            values[i] = entry.value
          }
          return Effect.asVoid(query("append", statements.append, [runId, paths, kinds, seqs, values]))
        }
        : (runId, entries) => {
          if (entries.length <= sqliteRowsPerStatement) {
            return Effect.asVoid(query("append", ...sqliteInsert(t, runId, entries)))
          }
          const parts: Array<Effect.Effect<unknown, SqlError>> = []
          for (let i = 0; i < entries.length; i += sqliteRowsPerStatement) {
            const part = entries.slice(i, i + sqliteRowsPerStatement)
            parts.push(query("append", ...sqliteInsert(t, runId, part)))
          }
          const transaction = sql.withTransaction(Effect.all(parts, { discard: true })).pipe(
            Effect.provideService(SqlClient.BeginTransaction, "BEGIN IMMEDIATE")
          )
          return counter === undefined
            ? transaction
            : Effect.andThen(Effect.sync(() => counter.record("append", 2)), transaction)
        }

    const append = (runId: string, entries: ReadonlyArray<Journal.JournalEntry>) =>
      entries.length === 0
        ? Effect.void
        : Effect.catch(writeBatch(runId, entries), (error) => explain(runId, "append", error))

    const setStatus = (runId: string, status: Journal.RunStatus) =>
      query("setStatus", statements.setStatus, [status, runId]).pipe(
        Effect.mapError(unavailable(runId, "setStatus")),
        Effect.flatMap((rows) => rows.length === 0 ? Effect.fail(missingRun(runId)) : Effect.void)
      )

    // A constraint failure on append is a missing run (the foreign key) or a malformed entry;
    // only the failure path pays for telling them apart.
    const explain = (runId: string, operation: string, error: SqlError) =>
      error.reason._tag === "ConstraintError"
        ? query("append", statements.runExists, [runId]).pipe(
          Effect.matchEffect({
            onFailure: () => Effect.fail(unavailable(runId, operation)(error)),
            onSuccess: (rows) => Effect.fail(rows.length === 0 ? missingRun(runId) : unavailable(runId, operation)(error))
          })
        )
        : Effect.fail(unavailable(runId, operation)(error))

    // A value over the bound is refused before any statement: the store would take it, but a
    // run holding it might not load again.
    const refused = (runId: string, path: string | undefined, value: string) => {
      const issue = payloadIssue(value, checked.maxPayloadBytes)
      return issue === undefined ? undefined : new Journal.JournalError({ reason: "TooLarge", runId, path, detail: issue })
    }

    const bounded = <A>(runId: string, operation: Operation, effect: Effect.Effect<A, Journal.JournalError>) =>
      Effect.timeoutOrElse(effect, {
        duration: checked.operationTimeout,
        orElse: () =>
          Effect.fail(
            new Journal.JournalError({
              reason: "Unavailable",
              runId,
              detail: `${operation} did not finish within ${Duration.format(checked.operationTimeout)} ` +
                "(waiting for a free connection or for the store)"
            })
          )
      })

    return Journal.Journal.of({
      maxPayloadBytes: checked.maxPayloadBytes,
      start: (run) =>
        Effect.suspend(() => {
          const tooLarge = refused(run.runId, undefined, run.input)
          return tooLarge === undefined ? bounded(run.runId, "start", start(run)) : Effect.fail(tooLarge)
        }),
      load: (runId) => bounded(runId, "load", load(runId)),
      append: (runId, entries) =>
        Effect.suspend(() => {
          for (const entry of entries) {
            const tooLarge = refused(runId, entry.path, entry.value)
            if (tooLarge !== undefined) return Effect.fail(tooLarge)
          }
          return bounded(runId, "append", append(runId, entries))
        }),
      setStatus: (runId, status) => bounded(runId, "setStatus", setStatus(runId, status))
    })
  })

/**
 * The journal as a layer over the `SqlClient` in context.
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
): Layer.Layer<Journal.Journal, SqlError | Journal.InvalidOption, SqlClient.SqlClient> =>
  Layer.effect(Journal.Journal, make(options))

// internal

type Dialect = "pg" | "sqlite"

interface Tables {
  readonly prefix: string
  readonly runs: string
  readonly entries: string
  readonly migrations: string
}

// `prefix` has been checked to be a plain identifier (`JournalOptions.tablePrefix`).
const tables = (prefix: string): Tables => ({
  prefix,
  runs: `"${prefix}runs"`,
  entries: `"${prefix}entries"`,
  migrations: `"${prefix}migrations"`
})

const dialectOf = (sql: SqlClient.SqlClient): Effect.Effect<Dialect> =>
  sql.onDialectOrElse({
    pg: () => Effect.succeed<Dialect>("pg"),
    sqlite: () => Effect.succeed<Dialect>("sqlite"),
    orElse: () => Effect.die(new Error("SqlJournal supports Postgres and SQLite clients only"))
  })

const p = (dialect: Dialect, n: number) => dialect === "pg" ? `$${n}` : `?${n}`

const sqliteNow = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`

// "plai" as a 32-bit integer: the advisory lock's namespace, next to a hash of the prefix.
const lockNamespace = 0x706c6169

const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h | 0
}

const ddl: Record<number, (dialect: Dialect, t: Tables) => ReadonlyArray<string>> = {
  1: (dialect, t) =>
    dialect === "pg"
      ? [
        `CREATE TABLE ${t.runs} (
  run_id text PRIMARY KEY,
  workflow text NOT NULL,
  fingerprint text NOT NULL,
  input text NOT NULL,
  status text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
)`,
        `CREATE TABLE ${t.entries} (
  run_id text NOT NULL REFERENCES ${t.runs} (run_id) ON DELETE CASCADE,
  path text NOT NULL,
  kind text NOT NULL,
  seq integer NOT NULL,
  value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, path, kind, seq)
)`
      ]
      : [
        `CREATE TABLE ${t.runs} (
  run_id TEXT PRIMARY KEY NOT NULL,
  workflow TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  input TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (${sqliteNow}),
  updated_at TEXT NOT NULL DEFAULT (${sqliteNow})
)`,
        `CREATE TABLE ${t.entries} (
  run_id TEXT NOT NULL REFERENCES ${t.runs} (run_id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq INTEGER NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (${sqliteNow}),
  PRIMARY KEY (run_id, path, kind, seq)
)`
      ]
}

interface Statements {
  readonly start: string
  readonly load: string
  readonly append: string
  readonly setStatus: string
  readonly runExists: string
}

// Rows of a load: `(0, workflow, fingerprint, input, status, NULL)` for the run,
// `(1, path, kind, value, NULL, seq)` for each entry.
const loadSelect = (t: Tables, param: string, nullSeq: string) =>
  `SELECT 0 AS r, workflow AS a, fingerprint AS b, input AS c, status AS d, ${nullSeq} AS n FROM ${t.runs} WHERE run_id = ${param}
UNION ALL
SELECT 1, path, kind, value, NULL, seq FROM ${t.entries} WHERE run_id = ${param}`

const pgStatements = (t: Tables): Statements => ({
  // The CTE's insert is invisible to the statement's own snapshot, hence the `inserted` branch.
  start: `WITH inserted AS (
  INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, status) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (run_id) DO NOTHING
  RETURNING workflow, fingerprint, input, status
)
SELECT 0 AS r, workflow AS a, fingerprint AS b, input AS c, status AS d, NULL::integer AS n FROM inserted
UNION ALL
SELECT 0, workflow, fingerprint, input, status, NULL FROM ${t.runs} WHERE run_id = $1
UNION ALL
SELECT 1, path, kind, value, NULL, seq FROM ${t.entries} WHERE run_id = $1`,
  load: loadSelect(t, "$1", "NULL::integer"),
  append: `INSERT INTO ${t.entries} (run_id, path, kind, seq, value)
SELECT $1, e.path, e.kind, e.seq, e.value
FROM unnest($2::text[], $3::text[], $4::integer[], $5::text[]) AS e (path, kind, seq, value)
ON CONFLICT DO NOTHING`,
  setStatus: `UPDATE ${t.runs} SET status = $1, updated_at = now() WHERE run_id = $2 RETURNING 1`,
  runExists: `SELECT 1 FROM ${t.runs} WHERE run_id = $1`
})

const sqliteStatements = (t: Tables): Statements => ({
  // Returns the inserted run as a load's run row (a new run has no entries).
  start: `INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, status) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (run_id) DO NOTHING
RETURNING 0 AS r, workflow AS a, fingerprint AS b, input AS c, status AS d, NULL AS n`,
  load: loadSelect(t, "?1", "NULL"),
  append: "", // built per batch by `sqliteInsert`
  setStatus: `UPDATE ${t.runs} SET status = ?1, updated_at = ${sqliteNow} WHERE run_id = ?2 RETURNING 1`,
  runExists: `SELECT 1 FROM ${t.runs} WHERE run_id = ?1`
})

// SQLite binds at most 32766 parameters per statement; an entry row takes five.
const sqliteRowsPerStatement = Math.floor(32766 / 5)

const sqliteRow = "(?,?,?,?,?)"

const sqliteInsert = (
  t: Tables,
  runId: string,
  entries: ReadonlyArray<Journal.JournalEntry>
): [text: string, params: Array<unknown>] => {
  const params = new Array<unknown>(entries.length * 5)
  for (let i = 0, j = 0; i < entries.length; i++, j += 5) {
    const entry = entries[i]!
    params[j] = runId
    params[j + 1] = entry.path
    params[j + 2] = entry.kind
    params[j + 3] = entry.seq
    params[j + 4] = entry.value
  }
  const rows = sqliteRow + ",(?,?,?,?,?)".repeat(entries.length - 1)
  return [`INSERT INTO ${t.entries} (run_id, path, kind, seq, value) VALUES ${rows} ON CONFLICT DO NOTHING`, params]
}

const decode = (
  runId: string,
  rows: ReadonlyArray<ReadonlyArray<unknown>>
): Option.Option<Journal.LoadedRun> | Journal.JournalError => {
  let run: Journal.RunRecord | undefined
  const entries: Array<Journal.JournalEntry> = []
  for (const row of rows) {
    const [r, a, b, c, d, n] = row
    if (Number(r) === 0) {
      if (typeof a !== "string" || typeof b !== "string" || typeof c !== "string" || typeof d !== "string") {
        return corrupt(runId, undefined, "the run row has a missing or non-text column")
      }
      if (!isRunStatus(d)) return corrupt(runId, undefined, `unknown run status ${JSON.stringify(d)}`)
      run = { runId, workflow: a, fingerprint: b, input: c, status: d }
    } else {
      if (typeof a !== "string") return corrupt(runId, undefined, "an entry row has no path")
      if (!isEntryKind(b)) {
        return corrupt(runId, a, `unknown entry kind ${JSON.stringify(b)}`)
      }
      if (typeof c !== "string") return corrupt(runId, a, `the ${b} entry has a non-text value`)
      const seq = typeof n === "bigint" ? Number(n) : n
      if (typeof seq !== "number" || !Number.isSafeInteger(seq)) {
        return corrupt(runId, a, `the ${b} entry has a non-integer seq`)
      }
      entries.push({ path: a, kind: b, seq, value: c })
    }
  }
  if (run === undefined) {
    return entries.length === 0 ? Option.none() : corrupt(runId, undefined, "entries exist without their run row")
  }
  return Option.some({ run, entries })
}

const corrupt = (runId: string, path: string | undefined, detail: string) =>
  new Journal.JournalError(
    path === undefined ? { reason: "Corrupt", runId, detail } : { reason: "Corrupt", runId, path, detail }
  )

const unavailable = (runId: string, operation: string) => (error: SqlError) =>
  new Journal.JournalError({
    reason: "Unavailable",
    runId,
    detail: `${operation} failed: ${error.message}`,
    cause: error
  })

const missingRun = (runId: string) => new Journal.JournalError({ reason: "Conflict", runId, detail: "the run does not exist" })
