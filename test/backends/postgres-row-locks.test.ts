/**
 * Postgres under concurrent transactions: a claim skips a run row another transaction holds
 * locked and takes the other due run without waiting for the lock; the locked run is claimed
 * once the lock is let go.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { RunStore } from "plait"
import * as PgJournal from "plait/PgJournal"
import { newRun } from "../support/sql-journal.ts"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"

describe.skipIf(pgUrl === undefined)("PgJournal row locks", () => {
  const url = Redacted.make(pgUrl ?? "")
  const claimAll = (store: RunStore.RunStore["Service"]) =>
    store.claim({ owner: "claimer", leaseMs: 60_000, limit: 10, workflows: [{ name: "w", fingerprint: "f" }] })

  it.live("a claim skips a run row another transaction holds locked, without waiting for the lock", () => {
    const tablePrefix = uniquePrefix()
    return Effect.scoped(
      Effect.gen(function*() {
        const store = Context.get(yield* Layer.build(PgJournal.layer({ url, tablePrefix })), RunStore.RunStore)
        const sql = yield* SqlClient.SqlClient
        const locked = newRun()
        const free = newRun()
        yield* store.create(locked)
        yield* store.create(free)

        // Another transaction, on a connection of its own, holds the locked run's row until told.
        const holding = yield* Deferred.make<void>()
        const letGo = yield* Deferred.make<void>()
        const holder = yield* Effect.forkChild(sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT run_id FROM ${sql(`${tablePrefix}runs`)} WHERE run_id = ${locked.runId} FOR UPDATE`
          yield* Deferred.succeed(holding, undefined)
          yield* Deferred.await(letGo)
        })))
        yield* Deferred.await(holding)

        // A claim that waited for the lock would wait until the holder lets go, which it does only
        // after the claim returned: past a generous bound the holder lets go and the test fails.
        const claiming = yield* Effect.forkChild(claimAll(store))
        const claimed = yield* Fiber.join(claiming).pipe(Effect.timeoutOption("20 seconds"))
        if (Option.isNone(claimed)) {
          yield* Deferred.succeed(letGo, undefined)
          yield* Fiber.join(claiming)
          return assert.fail("the claim waited for the row lock another transaction held")
        }
        assert.deepStrictEqual(claimed.value.map((c) => c.run.runId), [free.runId])
        assert.strictEqual((yield* store.get(locked.runId)).pipe(Option.getOrThrow).status, "queued")

        yield* Deferred.succeed(letGo, undefined)
        yield* Fiber.join(holder)
        const later = yield* claimAll(store)
        assert.deepStrictEqual(later.map((c) => c.run.runId), [locked.runId], "claimed once the lock is gone")
      }).pipe(
        Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provideMerge(PgClient.layer({ url })))),
        Effect.timeout("60 seconds")
      )
    )
  })
})
