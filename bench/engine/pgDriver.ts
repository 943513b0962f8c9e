/**
 * `pg` (node-postgres), the driver DBOS Transact, graphile-worker and pg-boss run on, loaded
 * from a peer's own dependencies (plait does not depend on it) and typed for what the engine
 * bench does with it: count the statements of a peer's process, and hold the transaction the
 * bench enqueues a trial's work in.
 */
import { createRequire } from "node:module"

export interface PgClient {
  readonly connect: () => Promise<void>
  readonly query: (
    text: string,
    values?: ReadonlyArray<unknown>
  ) => Promise<{ readonly rows: ReadonlyArray<Record<string, unknown>> }>
  readonly end: () => Promise<void>
}

export interface Pg {
  readonly Client: {
    new(options: { readonly connectionString: string }): PgClient
    readonly prototype: { query: (...args: Array<unknown>) => unknown }
  }
}

/** The copy of `pg` that the package `specifier` loads (its own dependency, or the hoisted one). */
export const pgOf = (specifier: string): Pg => createRequire(import.meta.resolve(specifier))("pg") as Pg

/** DBOS Transact's `pg`. */
export const pg = pgOf("@dbos-inc/dbos-sdk")

/**
 * Counts every statement sent through `pg`'s `Client.query` in this process, on every
 * connection (pools included), `BEGIN` and `COMMIT` included.
 */
export const countStatements = (driver: Pg): { readonly total: () => number; readonly reset: () => void } => {
  let statements = 0
  const query = driver.Client.prototype.query
  driver.Client.prototype.query = function(this: unknown, ...queryArgs: Array<unknown>) {
    statements++
    return query.apply(this, queryArgs)
  }
  return { total: () => statements, reset: () => void (statements = 0) }
}
