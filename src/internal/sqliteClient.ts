/**
 * A small `SqlClient` over Node's built-in `node:sqlite`: one connection, shared through a
 * semaphore, opened with the pragmas the journal relies on.
 *
 * `node:sqlite` is synchronous, so every statement runs to completion on the calling fiber;
 * the semaphore keeps a transaction from interleaving with statements of other fibers.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Reactivity from "effect/reactivity/Reactivity"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlConnection from "effect/sql/SqlConnection"
import { classifySqliteError, SqlError } from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { DatabaseSync, StatementSync } from "node:sqlite"
import { loadNodeSqlite } from "./nodeSqlite.ts"

/** How hard SQLite pushes a commit to disk; see `docs/journals.md`. */
export type Synchronous = "OFF" | "NORMAL" | "FULL" | "EXTRA"

export interface SqliteClientOptions {
  /** A file path, or `:memory:`. The file's directory is created if missing. */
  readonly filename: string
  /** Defaults to `NORMAL`. */
  readonly synchronous?: Synchronous | undefined
  /** How long a statement waits for another process's lock, in milliseconds. Defaults to 5000. */
  readonly busyTimeout?: number | undefined
  /** How many prepared statements the connection keeps. Defaults to 200. */
  readonly statementCacheSize?: number | undefined
}

/** Opens the database and builds a client over it; the database closes with the scope. */
export const make = Effect.fnUntraced(function*(
  options: SqliteClientOptions
): Effect.fn.Return<SqlClient.SqlClient, SqlError, Scope.Scope | Reactivity.Reactivity> {
  // Loaded on first use, so importing plait does not need `node:sqlite` unless a SQLite
  // journal is built.
  const sqlite = yield* Effect.try({
    try: loadNodeSqlite,
    catch: (cause) => sqlError(cause, "open", "node:sqlite is unavailable (it needs Node.js 22.13 or later)")
  })
  const db = yield* Effect.acquireRelease(
    Effect.try({
      try: () => open(sqlite.DatabaseSync, options),
      catch: (cause) => sqlError(cause, "open", `cannot open SQLite database ${options.filename}`)
    }),
    (db) => Effect.sync(() => db.isOpen && db.close())
  )
  const connection = new SqliteConnection(db, options.statementCacheSize ?? 200)
  const acquirers = SqlClient.makeSqliteAcquirers({
    connection: Effect.succeed(connection),
    semaphore: yield* Semaphore.make(1),
    isTransaction: (conn) => conn.db.isTransaction
  })
  return yield* SqlClient.make({
    ...acquirers,
    driver: "node-sqlite",
    compiler: Statement.makeCompilerSqlite(),
    // Every journal transaction writes: taking the write lock up front makes a waiting
    // writer queue on `busy_timeout` instead of failing when its read snapshot goes stale.
    beginTransaction: "BEGIN IMMEDIATE",
    prepareTransactionControls: true,
    spanAttributes: [["db.system.name", "sqlite"], ["db.namespace", options.filename]]
  })
})

/** A layer providing `SqlClient` over one SQLite database. */
export const layer = (options: SqliteClientOptions): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  Layer.effect(SqlClient.SqlClient, make(options)).pipe(Layer.provide(Reactivity.layer))

// internal

const open = (Database: typeof DatabaseSync, options: SqliteClientOptions): DatabaseSync => {
  const memory = options.filename === ":memory:" || options.filename.startsWith("file:")
  if (!memory) Fs.mkdirSync(Path.dirname(Path.resolve(options.filename)), { recursive: true })
  const db = new Database(options.filename, {
    timeout: options.busyTimeout ?? 5000,
    enableForeignKeyConstraints: true
  })
  try {
    db.exec("PRAGMA journal_mode = WAL")
    db.exec(`PRAGMA synchronous = ${options.synchronous ?? "NORMAL"}`)
    db.exec("PRAGMA foreign_keys = ON")
  } catch (cause) {
    db.close()
    throw cause
  }
  return db
}

type Rows = (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined

class SqliteConnection implements SqlConnection.Connection {
  readonly db: DatabaseSync
  readonly cacheSize: number
  readonly objects = new Map<string, StatementSync>()
  readonly arrays = new Map<string, StatementSync>()

  constructor(db: DatabaseSync, cacheSize: number) {
    this.db = db
    this.cacheSize = cacheSize
  }

  execute(sql: string, params: ReadonlyArray<unknown>, transformRows: Rows) {
    return this.run(sql, "execute", () => {
      const rows = this.prepare(this.objects, sql, false).all(...bind(params))
      return transformRows === undefined ? rows : transformRows(rows)
    })
  }

  executeRaw(sql: string, params: ReadonlyArray<unknown>) {
    return this.run(sql, "executeRaw", () => this.prepare(this.objects, sql, false).run(...bind(params)))
  }

  executeValues(sql: string, params: ReadonlyArray<unknown>) {
    return this.run(
      sql,
      "executeValues",
      () =>
        this.prepare(this.arrays, sql, true).all(...bind(params)) as unknown as ReadonlyArray<ReadonlyArray<unknown>>
    )
  }

  executeValuesUnprepared(sql: string, params: ReadonlyArray<unknown>) {
    return this.run(sql, "executeValuesUnprepared", () => {
      const statement = this.db.prepare(sql)
      statement.setReturnArrays(true)
      return statement.all(...bind(params)) as unknown as ReadonlyArray<ReadonlyArray<unknown>>
    })
  }

  executeUnprepared(sql: string, params: ReadonlyArray<unknown>, transformRows: Rows) {
    return this.run(sql, "executeUnprepared", () => {
      const rows = this.db.prepare(sql).all(...bind(params))
      return transformRows === undefined ? rows : transformRows(rows)
    })
  }

  // `node:sqlite` reads synchronously, so a stream is the materialized result, emitted in order.
  executeStream(sql: string, params: ReadonlyArray<unknown>, transformRows: Rows) {
    return Stream.fromIterableEffect(this.execute(sql, params, transformRows))
  }

  private run<A>(sql: string, operation: string, f: () => A): Effect.Effect<A, SqlError> {
    return Effect.try({ try: f, catch: (cause) => sqlError(cause, operation, `failed to execute ${abbreviate(sql)}`) })
  }

  private prepare(cache: Map<string, StatementSync>, sql: string, arrays: boolean): StatementSync {
    let statement = cache.get(sql)
    if (statement !== undefined) {
      // Re-inserting keeps the map in least-recently-used order.
      cache.delete(sql)
      cache.set(sql, statement)
      return statement
    }
    statement = this.db.prepare(sql)
    if (arrays) statement.setReturnArrays(true)
    if (cache.size >= this.cacheSize) cache.delete(cache.keys().next().value!)
    cache.set(sql, statement)
    return statement
  }
}

const abbreviate = (sql: string) => sql.length <= 60 ? sql : `${sql.slice(0, 60)}…`

type Bindable = null | number | bigint | string | NodeJS.ArrayBufferView

const bind = (params: ReadonlyArray<unknown>): Array<Bindable> => {
  const out: Array<Bindable> = new Array(params.length)
  for (let i = 0; i < params.length; i++) {
    const value = params[i]
    out[i] = value === undefined
      ? null
      : typeof value === "boolean"
      ? (value ? 1 : 0)
      : value instanceof Date
      ? value.toISOString()
      : value as Bindable
  }
  return out
}

// `node:sqlite` reports SQLite's result code as `errcode`; the classifier reads `errno`.
const sqlError = (cause: unknown, operation: string, message: string): SqlError => {
  if (typeof cause === "object" && cause !== null && "errcode" in cause && !("errno" in cause)) {
    Object.defineProperty(cause, "errno", { value: (cause as { errcode: unknown }).errcode, enumerable: false })
  }
  const detail = cause instanceof Error ? `${message}: ${cause.message}` : message
  return new SqlError({ reason: classifySqliteError(cause, { message: detail, operation }) })
}
