/**
 * Where the example's runs live: `PLAIT_DATABASE`, either a Postgres URL or a SQLite file name
 * (default `.plait/engine-example.sqlite`). The worker and the client must name the same one.
 */
import { Redacted } from "effect"
import { SqliteJournal } from "plait"
import * as PgJournal from "plait/PgJournal"

const database = process.env.PLAIT_DATABASE || ".plait/engine-example.sqlite"

/** Postgres notifies idle workers at once; on SQLite they poll. */
export const isPostgres = /^postgres(ql)?:\/\//.test(database)

export const description = isPostgres ? "Postgres" : `SQLite file ${database}`

export const JournalLive = isPostgres
  ? PgJournal.layer({ url: Redacted.make(database) })
  : SqliteJournal.layer({ filename: database })
