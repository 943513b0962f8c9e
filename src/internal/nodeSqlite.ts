/**
 * Loads Node's built-in `node:sqlite` without the `ExperimentalWarning` Node prints the first
 * time it loads (Node 22 and 23). plait chose the module, not the app, so the warning would be
 * noise in every app that uses the SQLite journal, and the only switch Node offers,
 * `--disable-warning`, is a command-line flag the app would have to pass.
 *
 * The module loads synchronously (`process.getBuiltinModule`), so while `process.emitWarning`
 * is wrapped nothing else can emit; only that one warning is dropped, and the original is
 * restored before the call returns. Nothing is dropped on a Node where the module is stable.
 *
 * @internal
 */
import type * as NodeSqlite from "node:sqlite"

const experimentalSqlite = "SQLite is an experimental feature"

/** `node:sqlite`; throws when this Node does not have it (before 22.13, without a flag). */
export const loadNodeSqlite = (): typeof NodeSqlite => {
  const emitWarning = process.emitWarning
  process.emitWarning = function(this: unknown, warning: string | Error, ...rest: Array<unknown>) {
    const message = typeof warning === "string" ? warning : warning.message
    if (message.startsWith(experimentalSqlite)) return
    return Reflect.apply(emitWarning, this, [warning, ...rest])
  } as typeof process.emitWarning
  try {
    const sqlite = process.getBuiltinModule("node:sqlite")
    if (sqlite === undefined) throw new Error("this Node.js has no node:sqlite module")
    return sqlite
  } finally {
    process.emitWarning = emitWarning
  }
}
