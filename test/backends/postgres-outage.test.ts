/**
 * Postgres going away, seen from the journal: the journal talks to the server through a local
 * TCP proxy that the test cuts and restores. The shared server itself is never stopped.
 *
 * A write under a lease that fails on the dropped connection is sent again while the lease
 * surely holds, so with a short lease it fails soon and with a long one it lands once the proxy
 * is back.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import type { Journal } from "plait"
import { leaseNew, newRun } from "../support/sql-journal.ts"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"
import { makeProxy, pgJournalThrough } from "../support/proxy.ts"

const entries = (label: string, n: number): Array<Journal.JournalEntry> =>
  Array.from({ length: n }, (_, i) => ({
    path: `${label}[${i}]`,
    kind: "step",
    seq: 0,
    value: JSON.stringify({ label, i })
  }))

describe.skipIf(pgUrl === undefined)("PgJournal when Postgres is unreachable", () => {
  const url = new URL(pgUrl ?? "postgres://localhost")
  const target = { host: url.hostname, port: Number(url.port || 5432) }
  const direct = PgClient.layer({ url: Redacted.make(url.toString()) })

  /** The run's entry paths, read over a direct connection. */
  const storedPaths = (tablePrefix: string, runId: string) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ path: string }>`SELECT path FROM ${
        sql(`${tablePrefix}entries`)
      } WHERE run_id = ${runId}`
      return new Set(rows.map((row) => row.path))
    })

  const pathsOf = (...batches: ReadonlyArray<ReadonlyArray<Journal.JournalEntry>>) =>
    new Set(batches.flat().map((entry) => entry.path))

  const expectUnavailable = <A>(runId: string, effect: Effect.Effect<A, Journal.JournalError | Journal.LeaseLost>) =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.timeoutOrElse(effect, {
        duration: "15 seconds",
        orElse: () => Effect.die(new Error("the journal hung instead of failing"))
      }))
      assert.isTrue(Exit.isFailure(exit), "the operation should fail while Postgres is unreachable")
      const error = Option.getOrThrow(
        Exit.findErrorOption(exit as Exit.Exit<A, Journal.JournalError | Journal.LeaseLost>)
      ) as Journal.JournalError
      assert.strictEqual(error._tag, "JournalError")
      assert.strictEqual(error.reason, "Unavailable")
      assert.strictEqual(error.runId, runId)
      assert.include(error.message, runId)
      return error
    })

  // Short enough that a write retried until the lease's local deadline gives up well within
  // `expectUnavailable`'s bound.
  const shortLeaseMs = 3_000

  it.live("fails with Unavailable while cut off past the lease, loses nothing, and works again once back", () => {
    const tablePrefix = uniquePrefix()
    return Effect.gen(function*() {
      const proxy = yield* makeProxy(target)
      const { journal } = yield* pgJournalThrough(url.toString(), proxy, tablePrefix)
      const run = newRun()
      const [a, b, c] = [entries("a", 5), entries("b", 500), entries("c", 50)]
      const lease = yield* leaseNew(journal, run, shortLeaseMs)
      yield* journal.append(lease, a)
      yield* journal.append(lease, b)

      proxy.cut()
      yield* expectUnavailable(run.runId, journal.append(lease, c))
      yield* expectUnavailable(run.runId, journal.load(run.runId))
      yield* expectUnavailable(run.runId, journal.release(lease, { status: "waiting", wakeupsSeen: 0 }))
      yield* expectUnavailable(run.runId, journal.heartbeat(lease.owner, [lease], 60_000))
      yield* expectUnavailable(run.runId, journal.acquire(run, { owner: "other", leaseMs: 60_000 }))
      assert.deepStrictEqual(yield* storedPaths(tablePrefix, run.runId), pathsOf(a, b))

      proxy.restore()
      yield* journal.append(lease, c)
      const loaded = Option.getOrThrow(yield* journal.load(run.runId))
      assert.deepStrictEqual(new Set(loaded.entries.map((entry) => entry.path)), pathsOf(a, b, c))
      assert.strictEqual(loaded.run.status, "running")
      assert.deepStrictEqual(yield* storedPaths(tablePrefix, run.runId), pathsOf(a, b, c))
    }).pipe(Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provideMerge(direct))))
  })

  it.live("a batch cut off mid-write is stored not at all, and writing it again completes the run", () => {
    const tablePrefix = uniquePrefix()
    return Effect.gen(function*() {
      const proxy = yield* makeProxy(target)
      const { journal } = yield* pgJournalThrough(url.toString(), proxy, tablePrefix)
      const run = newRun()
      const before = entries("before", 10)
      const big = entries("big", 50_000) // about 2 MB on the wire
      const lease = yield* leaseNew(journal, run, shortLeaseMs)
      yield* journal.append(lease, before)

      // The connection drops halfway through sending the batch.
      proxy.cutAfter(1_000_000)
      yield* expectUnavailable(run.runId, journal.append(lease, big))
      assert.strictEqual(proxy.cuts(), 1)
      assert.deepStrictEqual(yield* storedPaths(tablePrefix, run.runId), pathsOf(before))

      proxy.restore()
      yield* journal.append(lease, big)
      yield* journal.append(lease, big)
      const loaded = Option.getOrThrow(yield* journal.load(run.runId))
      assert.strictEqual(loaded.entries.length, before.length + big.length)
      assert.deepStrictEqual(yield* storedPaths(tablePrefix, run.runId), pathsOf(before, big))
    }).pipe(Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provideMerge(direct))))
  })

  it.live("a write cut off within its lease is sent again and lands once the proxy is back", () => {
    const tablePrefix = uniquePrefix()
    return Effect.gen(function*() {
      const proxy = yield* makeProxy(target)
      const { journal } = yield* pgJournalThrough(url.toString(), proxy, tablePrefix)
      const run = newRun()
      const [a, b] = [entries("a", 5), entries("b", 50)]
      const lease = yield* leaseNew(journal, run)
      yield* journal.append(lease, a)

      proxy.cut()
      const append = yield* Effect.forkChild(journal.append(lease, b), { startImmediately: true })
      const release = yield* Effect.forkChild(
        journal.release(lease, { status: "waiting", wakeupsSeen: 0 }).pipe(Effect.delay("100 millis"))
      )
      yield* Effect.sleep("3 seconds")
      assert.isUndefined(append.pollUnsafe(), "the append should still be retrying while cut off")
      assert.deepStrictEqual(yield* storedPaths(tablePrefix, run.runId), pathsOf(a))

      proxy.restore()
      yield* Fiber.join(append).pipe(Effect.timeout("20 seconds"))
      yield* Fiber.join(release).pipe(Effect.timeout("20 seconds"))
      assert.deepStrictEqual(yield* storedPaths(tablePrefix, run.runId), pathsOf(a, b))
      const loaded = Option.getOrThrow(yield* journal.load(run.runId))
      assert.strictEqual(loaded.run.status, "waiting")
      assert.strictEqual(loaded.entries.length, a.length + b.length)
    }).pipe(Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provideMerge(direct))))
  }, 60_000)

  it.live("an append whose commit the client never heard of is sent again without writing anything twice", () => {
    const tablePrefix = uniquePrefix()
    return Effect.gen(function*() {
      const proxy = yield* makeProxy(target)
      const { journal } = yield* pgJournalThrough(url.toString(), proxy, tablePrefix)
      const run = newRun()
      const [a, b] = [entries("a", 5), entries("b", 50)]
      const lease = yield* leaseNew(journal, run)
      yield* journal.append(lease, a)

      // The append commits; its reply is lost with the connection.
      proxy.cutAtNextReply()
      const append = yield* Effect.forkChild(journal.append(lease, b), { startImmediately: true })
      yield* Effect.sleep("1 second")
      assert.strictEqual(proxy.cuts(), 1, "the reply should have been cut")
      assert.deepStrictEqual(yield* storedPaths(tablePrefix, run.runId), pathsOf(a, b), "the append committed")
      assert.isUndefined(append.pollUnsafe(), "the append should be retrying")

      proxy.restore()
      yield* Fiber.join(append).pipe(Effect.timeout("20 seconds"))
      const loaded = Option.getOrThrow(yield* journal.load(run.runId))
      assert.strictEqual(loaded.entries.length, a.length + b.length)
      assert.strictEqual(loaded.run.status, "running")
      assert.strictEqual(loaded.run.leaseToken, lease.token)
    }).pipe(Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provideMerge(direct))))
  }, 60_000)
})
