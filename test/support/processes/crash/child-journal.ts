/**
 * What a child script of a process test opens: the journal the test described (a SQLite file, or
 * Postgres tables under a prefix, with an application name the test can watch the sessions of),
 * and the side-effect log it appends to and syncs before a step goes on.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"

export { type Backend as JournalArgs, journalLayer } from "../engine/backend.ts"

/** Appends lines to `file`, each synced to disk before the effect completes. */
export const syncedLog = (file: string): (line: string) => Effect.Effect<void> => {
  const fd = Fs.openSync(file, "a")
  return (line) =>
    Effect.sync(() => {
      Fs.writeSync(fd, `${line}\n`)
      Fs.fsyncSync(fd)
    })
}
