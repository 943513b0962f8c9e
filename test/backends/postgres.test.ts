import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Deferred, Effect, Fiber, Layer, Option, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { Journal, RunStore, SqlJournal } from "plait"
import * as PgJournal from "plait/PgJournal"
import { corruptRowConformance } from "../support/conformance/corrupt-rows.ts"
import { conformancePayloadBytes, journalConformance, manyRows } from "../support/conformance/journal.ts"
import { leaseNew, measureRoundTrips, newRun, rejectedEntry, some, sqlRaw } from "../support/sql-journal.ts"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"

describe.skipIf(pgUrl === undefined)("PgJournal", () => {
  const url = Redacted.make(pgUrl ?? "")
  const direct = PgClient.layer({ url })
  const prefix = uniquePrefix()

  journalConformance(
    "PgJournal",
    Layer.mergeAll(
      PgJournal.layer({ url, tablePrefix: prefix, maxPayloadBytes: conformancePayloadBytes }),
      withDroppedTables([prefix])
    ).pipe(
      Layer.provideMerge(direct)
    ),
    { raw: sqlRaw(prefix), rejectedEntry }
  )

  const corruptPrefix = uniquePrefix()
  corruptRowConformance(
    "PgJournal",
    Layer.merge(PgJournal.layer({ url, tablePrefix: corruptPrefix }), withDroppedTables([corruptPrefix])).pipe(
      Layer.provide(direct)
    )
  )

  const entries = (n: number, label = "e"): Array<Journal.JournalEntry> =>
    Array.from({ length: n }, (_, i) => ({ path: `${label}[${i}]`, kind: "step", seq: 0, value: String(i) }))

  it.live("counts round trips: one statement for acquire, load, append of any size, heartbeat and release", () => {
    const tablePrefix = uniquePrefix()
    const roundTrips = SqlJournal.makeRoundTrips()
    return Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const run = newRun()
      const measure = measureRoundTrips(roundTrips)
      const options = { owner: "test", leaseMs: 60_000 }
      const [acquired, acquireTrips] = yield* measure("acquire", journal.acquire(run, options))
      assert.strictEqual(acquireTrips, 1)
      const lease = acquired.lease!
      assert.strictEqual((yield* measure("append", journal.append(lease, entries(3))))[1], 1)
      // Far past 65535 parameters: still one statement.
      assert.strictEqual((yield* measure("append", journal.append(lease, entries(3 * manyRows, "big"))))[1], 1)
      const [loaded, loadTrips] = yield* measure("load", journal.load(run.runId))
      assert.strictEqual(loadTrips, 1)
      assert.strictEqual(some(loaded).entries.length, 3 + 3 * manyRows)
      assert.strictEqual((yield* measure("heartbeat", journal.heartbeat("test", [lease], 60_000)))[1], 1)
      assert.strictEqual((yield* measure("release", journal.release(lease, { status: "queued" })))[1], 1)
      const [again, reacquireTrips] = yield* measure("acquire", journal.acquire(run, options))
      assert.strictEqual(reacquireTrips, 1)
      assert.strictEqual((yield* measure("release", journal.release(again.lease!, { status: "completed" })))[1], 1)
    }).pipe(
      Effect.provide(
        Layer.merge(PgJournal.layer({ url, tablePrefix, roundTrips }), withDroppedTables([tablePrefix])).pipe(
          Layer.provide(direct)
        )
      )
    )
  })

  it.live("a claim is one statement with the runs' journals; a takeover's, which an append may be committing, is left unread", () => {
    const tablePrefix = uniquePrefix()
    const roundTrips = SqlJournal.makeRoundTrips()
    return Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const store = yield* RunStore.RunStore
      const released = newRun()
      const lease = yield* leaseNew(journal, released)
      yield* journal.append(lease, entries(3))
      yield* journal.release(lease, { status: "queued" })
      const queued = newRun()
      yield* store.create(queued)
      const abandoned = newRun()
      const stale = yield* Effect.map(
        journal.acquire(abandoned, { owner: "dead", leaseMs: -1 }),
        (acquired) => acquired.lease!
      )
      yield* journal.append(stale, entries(2))

      const request = {
        owner: "test",
        leaseMs: 60_000,
        limit: 10,
        workflows: [{ name: released.workflow, fingerprint: released.fingerprint }]
      }
      const [claimed, claimTrips] = yield* measureRoundTrips(roundTrips)("claim", store.claim(request))
      assert.strictEqual(claimTrips, 1)
      const of = (run: Journal.RunRecord) => claimed.find((c) => c.run.runId === run.runId)
      assert.strictEqual(of(released)?.entries?.length, 3)
      assert.deepStrictEqual(of(queued)?.entries, [])
      assert.isDefined(of(abandoned))
      assert.isUndefined(of(abandoned)!.entries, "the executor loads a takeover's journal itself")
    }).pipe(
      Effect.provide(
        Layer.merge(PgJournal.layer({ url, tablePrefix, roundTrips }), withDroppedTables([tablePrefix])).pipe(
          Layer.provide(direct)
        )
      )
    )
  })

  it.live("concurrent acquires of one new run: one lease, and every caller sees the one stored run", () => {
    const tablePrefix = uniquePrefix()
    return Effect.gen(function*() {
      const journal = yield* Journal.Journal
      for (let round = 0; round < 5; round++) {
        const run = newRun()
        const started = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => ({ ...run, input: `{"caller":${i}}` })),
          (candidate) => journal.acquire(candidate, { owner: candidate.input, leaseMs: 60_000 }),
          { concurrency: "unbounded" }
        )
        const inputs = new Set(started.map((acquired) => acquired.run.input))
        assert.strictEqual(inputs.size, 1, "every caller sees the one stored run")
        assert.strictEqual(started.filter((acquired) => acquired.lease !== undefined).length, 1, "one lease")
      }
    }).pipe(
      Effect.provide(
        Layer.merge(PgJournal.layer({ url, tablePrefix, maxConnections: 8 }), withDroppedTables([tablePrefix])).pipe(
          Layer.provide(direct)
        )
      )
    )
  })

  it.live("opens at most PgJournal.defaultMaxConnections (4) pooled connections by default", () => {
    const tablePrefix = uniquePrefix()
    const applicationName = `plait-pool-${tablePrefix}`
    return Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const sql = yield* SqlClient.SqlClient
      const run = newRun()
      yield* leaseNew(journal, run)
      // Every load waits behind this lock, each on a connection of its own, until the pool has
      // none left to give.
      const locked = yield* Deferred.make<void>()
      const unlock = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(sql.withTransaction(Effect.gen(function*() {
        yield* sql.unsafe(`LOCK TABLE "${tablePrefix}runs" IN ACCESS EXCLUSIVE MODE`)
        yield* Deferred.succeed(locked, undefined)
        yield* Deferred.await(unlock)
      })))
      yield* Deferred.await(locked)
      // Released whatever the checks find, so the tables can be dropped.
      yield* Effect.addFinalizer(() => Deferred.succeed(unlock, undefined))
      const loads = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: 12 }), () => journal.load(run.runId), { concurrency: "unbounded" })
      )
      const sessions = Effect.map(
        sql<{ waiting: number; open: number }>`SELECT
          count(*) FILTER (WHERE wait_event_type = 'Lock')::integer AS waiting, count(*)::integer AS open
          FROM pg_stat_activity WHERE application_name = ${applicationName}`,
        (rows) => rows[0]!
      )
      const deadline = Date.now() + 20_000
      while ((yield* sessions).waiting < PgJournal.defaultMaxConnections && Date.now() < deadline) {
        yield* Effect.sleep("100 millis")
      }
      // A moment more: a pool of more connections would have opened them by now.
      yield* Effect.sleep("1 second")
      assert.deepStrictEqual(yield* sessions, { waiting: 4, open: 4 })
      assert.strictEqual(PgJournal.defaultMaxConnections, 4)
      yield* Deferred.succeed(unlock, undefined)
      yield* Fiber.join(holder)
      const loaded = yield* Fiber.join(loads)
      assert.strictEqual(loaded.length, 12)
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.merge(
          PgJournal.layer({ url, tablePrefix, listen: false, applicationName }),
          withDroppedTables([tablePrefix])
        ).pipe(Layer.provideMerge(direct))
      )
    )
  }, 60_000)

  it.live("concurrent migrations apply each version once", () => {
    const tablePrefix = uniquePrefix()
    return Effect.gen(function*() {
      const results = yield* Effect.all(
        Array.from({ length: 6 }, () => SqlJournal.migrate({ tablePrefix })),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results.flat(), SqlJournal.migrations)
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ version: number }>`SELECT version FROM ${sql(`${tablePrefix}migrations`)}`
      assert.deepStrictEqual(rows.map((row) => row.version), SqlJournal.migrations.map((m) => m.version))
    }).pipe(
      Effect.provide(
        Layer.merge(PgClient.layer({ url, maxConnections: 6 }), withDroppedTables([tablePrefix])).pipe(
          Layer.provideMerge(direct)
        )
      )
    )
  })

  it.live("layerConfig reads its settings through Config", () => {
    const tablePrefix = uniquePrefix()
    const config = PgJournal.layerConfig({
      url: Config.Redacted("PG_URL"),
      tablePrefix: Config.String("PREFIX"),
      maxConnections: Config.Int("MAX")
    })
    return Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const run = newRun()
      yield* leaseNew(journal, run)
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ run_id: string }>`SELECT run_id FROM ${sql(`${tablePrefix}runs`)}`
      assert.deepStrictEqual(rows.map((row) => row.run_id), [run.runId])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(config, withDroppedTables([tablePrefix])).pipe(
          Layer.provideMerge(direct),
          Layer.provide(
            ConfigProvider.layer(
              ConfigProvider.fromUnknown({ PG_URL: pgUrl ?? "", PREFIX: tablePrefix, MAX: 2 })
            )
          )
        )
      )
    )
  })

  it.live("a missing configuration value fails the layer with a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(
          Journal.Journal,
          PgJournal.layerConfig({ url: Config.Redacted("PLAIT_TEST_NOT_SET") }).pipe(
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))
          )
        )
      )
      assert.strictEqual(error._tag, "ConfigError")
    }))

  const badOptions: ReadonlyArray<readonly [option: string, overrides: Partial<PgJournal.Options>]> = [
    ["tablePrefix", { tablePrefix: "plait-" }],
    ["maxPayloadBytes", { maxPayloadBytes: 0 }],
    ["operationTimeout", { operationTimeout: "0 millis" }],
    ["maxConnections", { maxConnections: 0 }],
    ["maxConnections", { maxConnections: 2.5 }],
    ["minConnections", { maxConnections: 2, minConnections: 3 }],
    ["maxMessageSize", { maxMessageSize: 1024 * 1024 }],
    ["maxMessageSize", { maxPayloadBytes: 32 * 1024 * 1024, maxMessageSize: 16 * 1024 * 1024 }]
  ]

  for (const [option, overrides] of badOptions) {
    it.live(`a bad ${option} (${JSON.stringify(overrides)}) fails the layer with InvalidOption`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Effect.provide(Effect.service(Journal.Journal), PgJournal.layer({ url, ...overrides }))
        )
        assert.instanceOf(error, Journal.InvalidOption)
        assert.strictEqual((error as Journal.InvalidOption).option, option)
      }))
  }

  it.live("a journal operation that waits for a pooled connection fails with Unavailable after operationTimeout", () => {
    const tablePrefix = uniquePrefix()
    return Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const journal = yield* Journal.Journal
      const run = newRun()
      yield* leaseNew(journal, run)
      // The pool's only connection is held: without a timeout, the load would wait for ever.
      const error = yield* Effect.scoped(Effect.andThen(sql.reserve, Effect.flip(journal.load(run.runId))))
      assert.strictEqual(error.reason, "Unavailable")
      assert.strictEqual(error.runId, run.runId)
      assert.include(error.detail, "did not finish within")
      // Free again, the journal works, and lost nothing.
      assert.strictEqual(some(yield* journal.load(run.runId)).run.runId, run.runId)
    }).pipe(
      Effect.provide(
        Layer.merge(SqlJournal.layer({ tablePrefix, operationTimeout: "300 millis" }), withDroppedTables([tablePrefix]))
          .pipe(
            Layer.provideMerge(PgClient.layer({ url, maxConnections: 1 }))
          )
      )
    )
  })

  it.live("a value larger than the driver's default message size (16 MiB) is stored and loads back when the bound allows it", () => {
    const tablePrefix = uniquePrefix()
    const maxPayloadBytes = 17 * 1024 * 1024
    return Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const lease = yield* leaseNew(journal)
      const value = JSON.stringify("x".repeat(maxPayloadBytes - 2))
      yield* journal.append(lease, [{ path: "report", kind: "step", seq: 0, value }])
      const loaded = some(yield* journal.load(lease.runId))
      assert.strictEqual(loaded.entries[0]?.value.length, maxPayloadBytes)
      assert.isTrue(loaded.entries[0]?.value === value)
    }).pipe(
      Effect.provide(
        Layer.merge(PgJournal.layer({ url, tablePrefix, maxPayloadBytes }), withDroppedTables([tablePrefix])).pipe(
          Layer.provide(direct)
        )
      )
    )
  })

  it.live("load of a run in another prefix is none", () => {
    const [a, b] = [uniquePrefix(), uniquePrefix()]
    return Effect.gen(function*() {
      const run = newRun()
      yield* Effect.provide(
        Journal.Journal.use((journal) => leaseNew(journal, run)),
        PgJournal.layer({ url, tablePrefix: a })
      )
      const other = yield* Effect.provide(
        Journal.Journal.use((journal) => journal.load(run.runId)),
        PgJournal.layer({ url, tablePrefix: b })
      )
      assert.isTrue(Option.isNone(other))
    }).pipe(Effect.provide(withDroppedTables([a, b]).pipe(Layer.provide(direct))))
  })
})
