/**
 * What a child script of a process test opens: the journal the test described (a SQLite file, or
 * Postgres tables under a prefix, with an application name the test can watch the sessions of),
 * and the side-effect log it appends to and syncs before a step goes on.
 */
import { Effect, Redacted } from "effect"
import { SqliteJournal } from "plait"
import * as PgJournal from "plait/PgJournal"
import * as Fs from "node:fs"

export type JournalArgs =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "pg"; readonly url: string; readonly tablePrefix: string; readonly applicationName: string }

export const journalLayer = (journal: JournalArgs) =>
  journal._tag === "sqlite"
    ? SqliteJournal.layer({ filename: journal.filename })
    : PgJournal.layer({
      url: Redacted.make(journal.url),
      tablePrefix: journal.tablePrefix,
      applicationName: journal.applicationName
    })

/** Appends lines to `file`, each synced to disk before the effect completes. */
export const syncedLog = (file: string): (line: string) => Effect.Effect<void> => {
  const fd = Fs.openSync(file, "a")
  return (line) =>
    Effect.sync(() => {
      Fs.writeSync(fd, `${line}\n`)
      Fs.fsyncSync(fd)
    })
}
