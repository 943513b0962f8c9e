/**
 * `pg` (node-postgres), the driver DBOS Transact runs on, loaded from DBOS's own dependencies
 * (plait does not depend on it) and typed for what the engine bench does with it: count the
 * statements of a DBOS process, and hold the transaction a DBOS enqueue commits with.
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

export const pg = createRequire(import.meta.resolve("@dbos-inc/dbos-sdk"))("pg") as Pg
