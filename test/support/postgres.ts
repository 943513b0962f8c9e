/**
 * Postgres test setup: the server URL from `PLAIT_PG_URL`, and a table prefix per test so
 * parallel test files never share tables. A missing URL skips the Postgres tests locally and
 * fails them in CI.
 */
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { randomBytes } from "node:crypto"

const configuredUrl = (): string | undefined => {
  const url = process.env.PLAIT_PG_URL
  if (url !== undefined && url !== "") return url
  if (process.env.CI === "true") {
    throw new Error("PLAIT_PG_URL is not set: CI must run the Postgres journal tests")
  }
  console.warn("PLAIT_PG_URL is not set: skipping the Postgres journal tests (set it to run them)")
  return undefined
}

/** The Postgres URL, or `undefined` (outside CI) to skip. */
export const pgUrl: string | undefined = configuredUrl()

/** A table prefix no other test uses. */
export const uniquePrefix = (): string => `plait_t${Date.now().toString(36)}_${randomBytes(4).toString("hex")}_`

/** Drops the journal tables of each prefix when the layer is released. */
export const withDroppedTables = (prefixes: ReadonlyArray<string>): Layer.Layer<never, never, SqlClient.SqlClient> =>
  Layer.effectDiscard(
    Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (const prefix of prefixes) {
          for (const table of ["entries", "slots", "slot_waiters", "schedules", "runs", "migrations"]) {
            yield* sql`DROP TABLE IF EXISTS ${sql(`${prefix}${table}`)}`
          }
        }
      }).pipe(Effect.orDie)
    )
  )
