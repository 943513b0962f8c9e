/**
 * The Postgres journal, for several processes or machines sharing runs: `SqlJournal` over an
 * `@effect/sql-pg` connection pool.
 *
 * A batch is reported written only once Postgres has acknowledged its commit, which (with the
 * server's default `synchronous_commit = on`) means it is in the write-ahead log on disk. See
 * `docs/journals.md`.
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
import type * as Journal from "./Journal.ts"
import type { RunStore } from "./RunStore.ts"
import * as SqlJournal from "./SqlJournal.ts"

/**
 * The pool's connection settings (`url`, or `host`, `port`, `database`, `username`,
 * `password`, pool sizes, timeouts) and the journal's own options.
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
export const layer = (options: Options): Layer.Layer<Journal.Journal | RunStore, SqlError> => {
  const { migrate, roundTrips, tablePrefix, ...pool } = options
  return SqlJournal.layer({ migrate, roundTrips, tablePrefix }).pipe(Layer.provide(PgClient.layer(pool)))
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
): Layer.Layer<Journal.Journal | RunStore, Config.ConfigError | SqlError> =>
  Layer.unwrap(Effect.map(Config.unwrap(config), layer))
