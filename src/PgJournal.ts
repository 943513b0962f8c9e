/**
 * The Postgres journal, for several processes or machines sharing runs: `SqlJournal` over an
 * `@effect/sql-pg` connection pool.
 *
 * A batch is reported written only once Postgres has acknowledged its commit, which (with the
 * server's default `synchronous_commit = on`) means it is in the write-ahead log on disk. See
 * `docs/journals.md`.
 *
 * Each layer opens a pool of at most 4 connections (`maxConnections`), plus one for `LISTEN`
 * unless `listen: false`: size a fleet so that processes × (pool + 1) stays below the server's
 * `max_connections` with room to spare (see `docs/operations.md`).
 *
 * Import it from `plait/PgJournal`, not from `plait`: it is the one module that loads the
 * Postgres driver, `@effect/sql-pg`, an optional peer dependency that an app using only the
 * SQLite or in-memory journal does not install.
 *
 * @since 0.1.0
 */
import { PgClient } from "@effect/sql-pg"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { SqlError } from "effect/sql/SqlError"
import * as JournalOptions from "./internal/journalOptions.ts"
import * as Journal from "./Journal.ts"
import type { RunStore } from "./RunStore.ts"
import * as SqlJournal from "./SqlJournal.ts"

/**
 * The pool's connection settings (`url`, or `host`, `port`, `database`, `username`,
 * `password`, pool sizes, timeouts) and the journal's own options. `maxConnections` defaults
 * to 4 (`defaultMaxConnections`).
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import * as PgJournal from "plait/PgJournal"
 *
 * const options: PgJournal.Options = {
 *   host: "db.internal",
 *   database: "app",
 *   username: "plait",
 *   password: Redacted.make("secret"),
 *   maxConnections: 20,
 *   tablePrefix: "orders_" // one set of tables per service sharing the database
 * }
 *
 * const JournalLive = PgJournal.layer(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends PgClient.PgPoolConfig, SqlJournal.Options {}

/**
 * The largest pool a Postgres journal opens unless `maxConnections` says otherwise. Four
 * connections carry a worker at 16 concurrent runs as fast as ten did in the engine benchmark
 * (two were 25-50% slower), and let a default server (`max_connections = 100`) take about 17
 * processes instead of 9. See `docs/operations.md`.
 *
 * @example
 * ```ts
 * import * as PgJournal from "plait/PgJournal"
 *
 * // Connections a fleet of 6 processes opens at most: each pool, and one LISTEN connection each.
 * const fleet = 6 * (PgJournal.defaultMaxConnections + 1)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxConnections: number = 4

/**
 * The Postgres journal as a layer, with a connection pool of its own.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import * as PgJournal from "plait/PgJournal"
 *
 * const JournalLive = PgJournal.layer({
 *   url: Redacted.make("postgres://plait@localhost:5432/app"),
 *   maxConnections: 10
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Journal.Journal | RunStore, SqlError | Journal.InvalidOption> => {
  const { listen, maxPayloadBytes, migrate, operationTimeout, roundTrips, tablePrefix, ...pool } = options
  return Layer.unwrap(Effect.map(
    checkOptions(pool, { tablePrefix, maxPayloadBytes, operationTimeout }),
    (sizes) =>
      SqlJournal.layer({ listen, migrate, roundTrips, tablePrefix, maxPayloadBytes, operationTimeout }).pipe(
        Layer.provide(PgClient.layer({ ...pool, ...sizes }))
      )
  ))
}

/**
 * The Postgres journal with its settings read through `Config`.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import * as PgJournal from "plait/PgJournal"
 *
 * const JournalLive = PgJournal.layerConfig({
 *   url: Config.Redacted("PLAIT_PG_URL"),
 *   tablePrefix: Config.String("PLAIT_TABLE_PREFIX").pipe(Config.withDefault("plait_"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Wrap<Options>
): Layer.Layer<Journal.Journal | RunStore, Config.ConfigError | SqlError | Journal.InvalidOption> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layer))

// internal

// A load returns each entry as one message, so the largest stored value must fit in one with
// room to spare for its path and the run row's other columns.
const messageOverhead = 1024 * 1024
const defaultMaxMessageSize = 16 * 1024 * 1024

/**
 * Every option checked before a connection is opened: the journal's own, then the pool's sizes,
 * with `maxMessageSize` raised to fit the largest value the journal stores.
 */
const checkOptions = (pool: PgClient.PgPoolConfig, journal: SqlJournal.Options) =>
  Effect.gen(function*() {
    const payload = (yield* JournalOptions.sqlOptions(journal)).maxPayloadBytes
    const maxConnections = yield* JournalOptions.wholeNumber("maxConnections", pool.maxConnections, {
      min: 1,
      max: 10_000,
      default: defaultMaxConnections
    })
    yield* JournalOptions.wholeNumber("minConnections", pool.minConnections, {
      min: 0,
      max: maxConnections,
      default: 0
    })
    const needed = payload + messageOverhead
    if (pool.maxMessageSize !== undefined && pool.maxMessageSize < needed) {
      return yield* new Journal.InvalidOption({
        option: "maxMessageSize",
        issue:
          `must be at least maxPayloadBytes + 1 MiB (${needed}) so every stored value can be read back; got ${pool.maxMessageSize}`
      })
    }
    return { maxConnections, maxMessageSize: pool.maxMessageSize ?? Math.max(defaultMaxMessageSize, needed) }
  })
