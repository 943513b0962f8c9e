/**
 * Where a test's processes keep their journal, as JSON a parent hands to its children: an SQLite
 * file, or Postgres tables of their own. Every process (the test itself, workers, the signal
 * sender, runners) builds its journal layer from the same value.
 */
import { Redacted } from "effect"
import { SqliteJournal } from "plait"
import * as PgJournal from "plait/PgJournal"

export type Backend =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | {
    readonly _tag: "pg"
    readonly url: string
    readonly tablePrefix: string
    /** Names the process's sessions, so a test can tell when a killed process's statements are gone. */
    readonly applicationName: string
  }

/** The journal and run store of `backend`. */
export const journalLayer = (backend: Backend) =>
  backend._tag === "sqlite"
    ? SqliteJournal.layer({ filename: backend.filename })
    : PgJournal.layer({
      url: Redacted.make(backend.url),
      tablePrefix: backend.tablePrefix,
      applicationName: backend.applicationName
    })

/** The same backend, its sessions named after one process. */
export const forProcess = (backend: Backend, label: string): Backend =>
  backend._tag === "pg" ? { ...backend, applicationName: `plait-engine-${label}` } : backend
