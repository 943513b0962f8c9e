/**
 * The embedded journal: one SQLite file, no server, through Node's built-in `node:sqlite`.
 *
 * The database runs in WAL mode with `synchronous = NORMAL` by default: a committed batch
 * survives a crash of the process, and the database stays consistent through a power loss,
 * but a power loss or OS crash can undo the last transactions committed before it. With
 * `synchronous: "FULL"` every commit is synced to disk before `append` returns, so it also
 * survives a power loss, at the price of one `fsync` per commit. See `docs/journals.md`.
 *
 * One process holds one connection; several processes may share the file (SQLite serializes
 * their writes, waiting up to `busyTimeout` for the lock).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { SqlError } from "effect/sql/SqlError"
import * as JournalOptions from "./internal/journalOptions.ts"
import * as SqliteClient from "./internal/sqliteClient.ts"
import type * as Journal from "./Journal.ts"
import type { RunStore } from "./RunStore.ts"
import * as SqlJournal from "./SqlJournal.ts"

/**
 * Where the journal lives and how hard it syncs.
 *
 * @example
 * ```ts
 * import { SqliteJournal } from "plait"
 *
 * const options: SqliteJournal.Options = {
 *   filename: "/var/lib/app/journal.sqlite",
 *   synchronous: "FULL", // survive a power loss, at one fsync per commit
 *   busyTimeout: "10 seconds" // another process holds the write lock
 * }
 *
 * const JournalLive = SqliteJournal.layer(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends SqlJournal.Options {
  /** The database file; its directory is created if missing. `:memory:` for a throwaway journal. */
  readonly filename: string
  /**
   * `NORMAL` (the default): durable across a process crash, not necessarily across a power loss.
   * `FULL`: every commit is synced to disk before it is reported.
   */
  readonly synchronous?: "NORMAL" | "FULL" | undefined
  /** How long a write waits for another process's lock. Defaults to 5 seconds; zero fails at once. */
  readonly busyTimeout?: Duration.Input | undefined
}

/**
 * The SQLite journal as a layer. The database closes when the layer's scope does.
 *
 * @example
 * ```ts
 * import { SqliteJournal } from "plait"
 *
 * const JournalLive = SqliteJournal.layer({ filename: ".plait/journal.sqlite" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Journal.Journal | RunStore, SqlError | Journal.InvalidOption> =>
  Layer.unwrap(Effect.gen(function*() {
    // Every option is checked before the file is opened.
    yield* JournalOptions.sqlOptions(options)
    const busyTimeout = yield* JournalOptions.duration("busyTimeout", options.busyTimeout, { positive: false })
    return SqlJournal.layer({
      tablePrefix: options.tablePrefix,
      migrate: options.migrate,
      roundTrips: options.roundTrips,
      maxPayloadBytes: options.maxPayloadBytes,
      operationTimeout: options.operationTimeout
    }).pipe(
      Layer.provide(SqliteClient.layer({
        filename: options.filename,
        synchronous: options.synchronous,
        busyTimeout: busyTimeout === undefined ? undefined : Duration.toMillis(busyTimeout)
      }))
    )
  }))
