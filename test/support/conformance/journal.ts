/**
 * The journal and run store conformance suite: every backend registers it with its own layer
 * and passes the same tests. Backends that can reach their store around the journal (the SQL
 * ones) pass `raw`, which adds the tests for rows the journal would never write itself.
 *
 * Leases that must have expired are taken with a negative length, so no test waits for time.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, type Layer, Option, Queue } from "effect"
import { randomUUID } from "node:crypto"
import { Journal, RunStore } from "plait"
import { expectLeaseLost, failure, leased, leaseMs, loadSome, newRun } from "./helpers.ts"
import { engineConformance } from "./journal-engine.ts"

/** Writes to a backend's store directly, bypassing the journal. */
export interface RawAccess<R> {
  readonly insertEntry: (
    runId: string,
    row: { readonly path: string; readonly kind: string; readonly seq: number; readonly value: string }
  ) => Effect.Effect<void, unknown, R>
  readonly setStatus: (runId: string, status: string) => Effect.Effect<void, unknown, R>
}

export interface ConformanceOptions<R> {
  readonly raw?: RawAccess<R>
  /**
   * An entry the store refuses (for SQL, one that violates a constraint), so a batch that
   * contains it fails part-way through.
   */
  readonly rejectedEntry?: Journal.JournalEntry
}

/**
 * The SQL journals' payload bound in the suite: room for its 1 MB values, small enough that the
 * bound's own test stays quick.
 */
export const conformancePayloadBytes = 2 * 1024 * 1024

/** A batch big enough to span several statements on SQLite (4680 rows per statement). */
export const manyRows = 20_000

const byKey = (entries: ReadonlyArray<Journal.JournalEntry>): Map<string, Journal.JournalEntry> =>
  new Map(entries.map((entry) => [Journal.entryKey(entry), entry]))

const assertSameEntries = (
  actual: ReadonlyArray<Journal.JournalEntry>,
  expected: ReadonlyArray<Journal.JournalEntry>
) => {
  assert.strictEqual(actual.length, expected.length, "entry count")
  const stored = byKey(actual)
  for (const entry of expected) {
    const found = stored.get(Journal.entryKey(entry))
    assert.isDefined(found, `missing ${Journal.entryKey(entry)}`)
    assert.deepStrictEqual({ ...found }, { ...entry })
  }
}

const assertRecord = (info: Journal.RunInfo, record: Journal.RunRecord) =>
  assert.deepStrictEqual(
    { runId: info.runId, workflow: info.workflow, fingerprint: info.fingerprint, input: info.input },
    { runId: record.runId, workflow: record.workflow, fingerprint: record.fingerprint, input: record.input }
  )

/** Registers the conformance suite for one journal backend. */
export const journalConformance = <R = never, E = never>(
  name: string,
  journalLayer: Layer.Layer<Journal.Journal | RunStore.RunStore | R, E>,
  options: ConformanceOptions<R> = {}
): void =>
  layer(journalLayer, { excludeTestServices: true, timeout: "60 seconds" })(`${name} conformance`, (it) => {
    // --- acquire and leases ------------------------------------------------------------------

    it.effect("acquire creates the run leased and running; a second acquire while the lease lives is refused", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const first = yield* journal.acquire(run, { owner: "executor-a", leaseMs })
        assert.isTrue(first.created)
        assert.isDefined(first.lease)
        assertRecord(first.run, run)
        assert.strictEqual(first.run.status, "running")
        assert.strictEqual(first.run.owner, "executor-a")
        assert.strictEqual(first.run.executions, 1)
        assert.strictEqual(first.lease!.token, first.run.leaseToken)

        const second = yield* journal.acquire(run, { owner: "executor-b", leaseMs })
        assert.isFalse(second.created)
        assert.isUndefined(second.lease)
        assert.strictEqual(second.run.owner, "executor-a")
        assert.isDefined(second.run.leaseExpiresAt)
      }))

    it.effect("a released run is acquired again with a new token; the old lease can no longer write", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const first = yield* leased(run)
        yield* journal.release(first, { status: "queued" })
        const second = yield* leased(run, "executor-b")
        assert.isAbove(second.token, first.token)
        yield* expectLeaseLost(first, journal.append(first, [{ path: "late", kind: "step", seq: 0, value: "1" }]))
        yield* expectLeaseLost(first, journal.release(first, { status: "completed" }))
        const loaded = yield* loadSome(run.runId)
        assert.deepStrictEqual(loaded.entries, [])
        assert.strictEqual(loaded.run.owner, "executor-b")
        assert.strictEqual(loaded.run.executions, 2)
      }))

    it.effect("an expired lease is taken over; the previous holder's writes and release are refused", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const stale = yield* leased(run, "executor-a", -1)
        yield* journal.append(stale, [{ path: "before", kind: "step", seq: 0, value: "1" }])
        const taker = yield* leased(run, "executor-b")
        yield* expectLeaseLost(stale, journal.append(stale, [{ path: "after", kind: "step", seq: 0, value: "2" }]))
        yield* expectLeaseLost(stale, journal.release(stale, { status: "failed", error: "late" }))
        yield* journal.append(taker, [{ path: "after", kind: "step", seq: 0, value: "3" }])
        const loaded = yield* loadSome(run.runId)
        assertSameEntries(loaded.entries.map(({ path, kind, seq, value }) => ({ path, kind, seq, value })), [
          { path: "before", kind: "step", seq: 0, value: "1" },
          { path: "after", kind: "step", seq: 0, value: "3" }
        ])
        assert.strictEqual(loaded.run.status, "running")
      }))

    it.effect("acquire refuses a run stored with another workflow, input or fingerprint, and leaves it as it was", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        yield* journal.release(lease, { status: "queued" })
        for (const other of [{ workflow: "other" }, { input: "{}" }, { fingerprint: "[]" }]) {
          const acquired = yield* journal.acquire({ ...run, ...other }, { owner: "executor-b", leaseMs })
          assert.isUndefined(acquired.lease)
          assertRecord(acquired.run, run)
          assert.strictEqual(acquired.run.status, "queued")
        }
        const anyFingerprint = yield* journal.acquire({ ...run, fingerprint: "[]" }, {
          owner: "executor-b",
          leaseMs,
          anyFingerprint: true
        })
        assert.isDefined(anyFingerprint.lease)
        assert.strictEqual(
          anyFingerprint.run.fingerprint,
          "[]",
          "continued under the new definition, the run carries its fingerprint"
        )
      }))

    it.effect("completed and cancelled runs are not leased again; failed runs are", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        for (const status of ["completed", "cancelled", "failed"] as const) {
          const run = newRun()
          yield* journal.release(yield* leased(run), { status, error: status === "completed" ? undefined : "why" })
          const again = yield* journal.acquire(run, { owner: "executor-b", leaseMs })
          assert.strictEqual(again.lease === undefined, status !== "failed", status)
          assert.strictEqual(again.run.status, status === "failed" ? "running" : status)
        }
      }))

    it.effect("release records where the run stands and when it is due", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const wakeAt = Date.now() + 3_600_000
        const lease = yield* leased(run)
        yield* journal.release(lease, { status: "sleeping", wakeAt, waitingFor: ["nap"], wakeupsSeen: 0 })
        const sleeping = (yield* loadSome(run.runId)).run
        assert.strictEqual(sleeping.status, "sleeping")
        assert.strictEqual(sleeping.wakeAt, wakeAt)
        assert.strictEqual(sleeping.dueAt, wakeAt)
        assert.deepStrictEqual(sleeping.waitingFor, ["nap"])
        assert.isUndefined(sleeping.owner)

        const again = yield* leased(run)
        // Paths with the characters a joined list would split on come back whole, in order.
        const paths = ["approval", "items/a, b/review", "reminder/1"]
        yield* journal.release(again, { status: "waiting", waitingFor: paths, wakeupsSeen: 0 })
        const waiting = (yield* loadSome(run.runId)).run
        assert.strictEqual(waiting.status, "waiting")
        assert.deepStrictEqual(waiting.waitingFor, paths)
        assert.isUndefined(waiting.dueAt, "a run waiting only for a signal is not due")

        const last = yield* leased(run)
        yield* journal.release(last, { status: "failed", error: "Boom: it broke" })
        const failed = (yield* loadSome(run.runId)).run
        assert.strictEqual(failed.status, "failed")
        assert.strictEqual(failed.error, "Boom: it broke")
        assert.isUndefined(failed.dueAt)
        assert.deepStrictEqual(failed.waitingFor, [], "a run that waits for nothing has no paths")
      }))

    it.effect("heartbeat renews held leases and reports lost, expired and cancelled ones", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const store = yield* RunStore.RunStore
        const kept = newRun()
        const lost = newRun()
        const expired = newRun()
        const cancelled = newRun()
        const keptLease = yield* leased(kept, "worker-1", 5_000)
        const lostLease = yield* leased(lost, "worker-1", -1)
        // Expired and taken by nobody yet: still not renewed, since another executor may have
        // taken over what it held (a concurrency slot) already.
        const expiredLease = yield* leased(expired, "worker-1", -1)
        const cancelledLease = yield* leased(cancelled, "worker-1")
        yield* leased(lost, "worker-2") // takes over the expired lease
        yield* store.cancel(cancelled.runId, "duplicate order")
        const states = yield* journal.heartbeat(
          "worker-1",
          [keptLease, lostLease, expiredLease, cancelledLease],
          leaseMs
        )
        assert.deepStrictEqual(states.map((state) => ({ ...state })), [
          { runId: kept.runId, held: true, cancelRequested: false, cancelReason: undefined },
          { runId: lost.runId, held: false, cancelRequested: false, cancelReason: undefined },
          { runId: expired.runId, held: false, cancelRequested: false, cancelReason: undefined },
          { runId: cancelled.runId, held: true, cancelRequested: true, cancelReason: "duplicate order" }
        ])
        const renewed = (yield* loadSome(kept.runId)).run
        assert.isAbove(renewed.leaseExpiresAt!, Date.now() + leaseMs / 2)
        assert.isAbove(renewed.dueAt!, Date.now() + leaseMs / 2)
        assert.isBelow((yield* loadSome(expired.runId)).run.leaseExpiresAt!, Date.now())
      }))

    it.effect("a renewed lease keeps the run out of other workers' claims past its first expiry", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const store = yield* RunStore.RunStore
        const workflow = `renewed_${randomUUID().slice(0, 8)}`
        const run = newRun({ workflow })
        const lease = yield* leased(run, "worker-1", 300)
        const [state] = yield* journal.heartbeat("worker-1", [lease], leaseMs)
        assert.isTrue(state!.held)
        yield* Effect.sleep("500 millis")
        const claimed = yield* store.claim({
          owner: "worker-2",
          leaseMs,
          limit: 10,
          workflows: [{ name: workflow, fingerprint: run.fingerprint }]
        })
        assert.deepStrictEqual(claimed.map((c) => c.run.runId), [], "a renewed lease was claimed")
        // Due again only when the renewed lease would run out: an idle worker does not wake for it.
        const due = yield* store.nextDue([workflow])
        assert.isTrue(Option.isSome(due) && due.value > Date.now() + leaseMs / 2, "the renewal left the run due")
        assert.isAbove((yield* loadSome(run.runId)).run.leaseExpiresAt!, Date.now() + leaseMs / 2)
        yield* journal.append(lease, [{ path: "still-mine", kind: "step", seq: 0, value: "1" }])
      }))

    // --- entries ------------------------------------------------------------------------------

    it.effect("load of a missing run is none", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        assert.isTrue(Option.isNone(yield* journal.load(`missing-${randomUUID()}`)))
      }))

    it.effect("append and load round-trip entries of every kind, with their times", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        const entries: Array<Journal.JournalEntry> = [
          {
            path: "user",
            kind: "step",
            seq: 0,
            value: "{\"id\":\"u1\"}",
            startedAt: 1_767_225_600_000,
            finishedAt: 1_767_225_600_250
          },
          { path: "charge", kind: "attempt", seq: 0, value: "{\"error\":\"timeout\"}", startedAt: 5, finishedAt: 9 },
          { path: "charge", kind: "attempt", seq: 1, value: "{\"error\":\"declined\"}" },
          { path: "charge", kind: "step", seq: 0, value: "true" },
          { path: "race", kind: "choice", seq: 0, value: "\"fast\"" },
          { path: "route", kind: "choice", seq: 0, value: "\"physical\"" },
          { path: "setup", kind: "order", seq: 0, value: "[\"welcome\",\"billing\",\"workspace\"]" },
          { path: "nap", kind: "wake", seq: 0, value: "1767225600000" },
          { path: "approval", kind: "signal", seq: 0, value: "{\"approved\":true}" },
          { path: "charge[17]/charge", kind: "step", seq: 0, value: "null" }
        ]
        yield* journal.append(lease, entries)
        const loaded = yield* loadSome(run.runId)
        assertRecord(loaded.run, run)
        assertSameEntries(loaded.entries, entries)
      }))

    it.effect(`one batch of ${manyRows} entries is stored whole`, () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        const entries = Array.from({ length: manyRows }, (_, i): Journal.JournalEntry => ({
          path: `items[${i}]`,
          kind: "step",
          seq: 0,
          value: JSON.stringify({ index: i, label: `item ${i}` })
        }))
        yield* journal.append(lease, entries)
        assertSameEntries((yield* loadSome(run.runId)).entries, entries)
      }))

    it.effect("large payloads (about 1 MB) survive intact, in entries and in the run input", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const big = JSON.stringify({ blob: "x".repeat(1 << 20), tail: "ünïcødé 🚀" })
        const run = newRun({ input: big })
        const lease = yield* leased(run)
        const entries: Array<Journal.JournalEntry> = [
          { path: "report", kind: "step", seq: 0, value: big },
          { path: "rows", kind: "step", seq: 0, value: JSON.stringify(Array.from({ length: 30_000 }, (_, i) => i)) }
        ]
        yield* journal.append(lease, entries)
        const loaded = yield* loadSome(run.runId)
        assert.strictEqual(loaded.run.input, big)
        assertSameEntries(loaded.entries, entries)
      }))

    it.effect("a value over the journal's bound is refused with TooLarge naming run and path; nothing of its batch is stored", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const store = yield* RunStore.RunStore
        const limit = journal.maxPayloadBytes ?? Journal.defaultMaxPayloadBytes
        const run = newRun()
        const lease = yield* leased(run)
        // Exactly at the bound: in ASCII, and in two-byte characters (each value is quoted JSON).
        const fits: Array<Journal.JournalEntry> = [
          { path: "fits", kind: "step", seq: 0, value: JSON.stringify("x".repeat(limit - 2)) },
          { path: "fitsWide", kind: "step", seq: 0, value: JSON.stringify("é".repeat((limit - 2) / 2)) }
        ]
        // One byte over. Those in 2-, 3- and 4-byte characters are short enough in UTF-16 code
        // units: the bound counts UTF-8 bytes.
        const over = [
          JSON.stringify("x".repeat(limit - 1)),
          JSON.stringify("é".repeat((limit - 2) / 2) + "x"),
          JSON.stringify("€".repeat(Math.floor(limit / 3) + 1)),
          JSON.stringify("😀".repeat(Math.floor(limit / 4)))
        ]
        for (const value of over.slice(1)) assert.isBelow(value.length, limit)
        const refusedWith = (
          error: Journal.JournalError | Journal.LeaseLost,
          runId: string,
          path: string | undefined
        ) => {
          assert.instanceOf(error, Journal.JournalError)
          const journalError = error as Journal.JournalError
          assert.strictEqual(journalError.reason, "TooLarge")
          assert.strictEqual(journalError.runId, runId)
          assert.strictEqual(journalError.path, path)
          assert.include(journalError.message, runId)
          if (path !== undefined) assert.include(journalError.message, path)
        }
        for (const value of over) {
          refusedWith(
            yield* failure(journal.append(lease, [
              { path: "small", kind: "step", seq: 0, value: "1" },
              { path: "big", kind: "step", seq: 0, value }
            ])),
            run.runId,
            "big"
          )
          refusedWith(
            yield* failure(store.deliver(run.runId, { path: "approval", kind: "signal", seq: 0, value })),
            run.runId,
            "approval"
          )
          assert.deepStrictEqual((yield* loadSome(run.runId)).entries, [])
        }
        yield* journal.append(lease, fits)
        assertSameEntries((yield* loadSome(run.runId)).entries, fits)

        // A run whose input is over the bound is not created, by either way in.
        const bigInput = newRun({ input: JSON.stringify("x".repeat(limit)) })
        refusedWith(
          yield* failure(journal.acquire(bigInput, { owner: "executor-a", leaseMs })),
          bigInput.runId,
          undefined
        )
        refusedWith(yield* failure(store.create(bigInput)), bigInput.runId, undefined)
        assert.isTrue(Option.isNone(yield* journal.load(bigInput.runId)))
      }))

    it.effect("unicode in paths and values comes back byte for byte", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun({ workflow: "onboard_🧵", input: JSON.stringify({ name: "Zoë 山田" }) })
        const lease = yield* leased(run)
        const odd = [
          "emoji 😀👩‍👩‍👧‍👦🏳️‍🌈 and flags 🇯🇵",
          "CJK 漢字かなカナ한국어",
          "RTL עברית العربية",
          "combining e\u0301 a\u0308 and ZWJ \u200d, ZWSP \u200b, BOM \ufeff",
          "controls \u0001\u0007\u001f\t\r\n and line separators \u2028\u2029",
          "quotes ' \" ` backslash \\ percent % underscore _ semicolon ; dollar $1 question ?",
          "astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u{10ffff}",
          "",
          "   surrounding spaces   "
        ]
        const entries = odd.map((text, i): Journal.JournalEntry => ({
          path: `ünï/😀[${i}]/'q"`,
          kind: "step",
          seq: i,
          value: JSON.stringify(text)
        }))
        yield* journal.append(lease, entries)
        const loaded = yield* loadSome(run.runId)
        assertRecord(loaded.run, run)
        assertSameEntries(loaded.entries, entries)
        const values = new Map(loaded.entries.map((entry) => [entry.seq, JSON.parse(entry.value)]))
        odd.forEach((text, i) => assert.strictEqual(values.get(i), text))
      }))

    it.effect("JSON of nested values comes back as the same text", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        const nested = {
          user: { id: "u1", tags: ["a", "b"], address: { lines: ["1 Main St", null], zip: "00501" } },
          totals: [1, -2.5, 1e21, 0, -0],
          flags: { on: true, off: false, none: null },
          deep: [[[[{ level: 5, list: [[], {}] }]]]]
        }
        const value = JSON.stringify(nested)
        const pretty = JSON.stringify(nested, null, 2)
        yield* journal.append(lease, [
          { path: "nested", kind: "step", seq: 0, value },
          { path: "pretty", kind: "step", seq: 0, value: pretty }
        ])
        const loaded = byKey((yield* loadSome(run.runId)).entries)
        assert.strictEqual(loaded.get("step:0:nested")?.value, value)
        assert.strictEqual(loaded.get("step:0:pretty")?.value, pretty)
      }))

    it.effect("the journal stores text as given, JSON or not", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        const entries: Array<Journal.JournalEntry> = [
          { path: "broken", kind: "step", seq: 0, value: "{\"unterminated\": [1, 2" },
          { path: "bare", kind: "step", seq: 0, value: "undefined" }
        ]
        yield* journal.append(lease, entries)
        assertSameEntries((yield* loadSome(run.runId)).entries, entries)
      }))

    it.effect("writing an entry again keeps the first value, across batches and within one", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        yield* journal.append(lease, [{ path: "pay", kind: "step", seq: 0, value: "\"first\"" }])
        yield* journal.append(lease, [
          { path: "pay", kind: "step", seq: 0, value: "\"second\"" },
          { path: "ship", kind: "step", seq: 0, value: "\"one\"" },
          { path: "ship", kind: "step", seq: 0, value: "\"two\"" },
          { path: "pay", kind: "attempt", seq: 0, value: "\"other kind\"" },
          { path: "pay", kind: "step", seq: 1, value: "\"other seq\"" }
        ])
        assertSameEntries((yield* loadSome(run.runId)).entries, [
          { path: "pay", kind: "step", seq: 0, value: "\"first\"" },
          { path: "ship", kind: "step", seq: 0, value: "\"one\"" },
          { path: "pay", kind: "attempt", seq: 0, value: "\"other kind\"" },
          { path: "pay", kind: "step", seq: 1, value: "\"other seq\"" }
        ])
      }))

    it.effect("append under a lease of a run that does not exist is refused and creates nothing", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const lease: Journal.Lease = { runId: `missing-${randomUUID()}`, owner: "executor-a", token: 1 }
        yield* expectLeaseLost(lease, journal.append(lease, [{ path: "a", kind: "step", seq: 0, value: "1" }]))
        assert.isTrue(Option.isNone(yield* journal.load(lease.runId)))
      }))

    if (options.rejectedEntry !== undefined) {
      const rejected = options.rejectedEntry
      it.effect("a batch that fails part-way leaves none of its entries, and what was stored before stays", () =>
        Effect.gen(function*() {
          const journal = yield* Journal.Journal
          const run = newRun()
          const lease = yield* leased(run)
          const before: Journal.JournalEntry = { path: "before", kind: "step", seq: 0, value: "\"kept\"" }
          yield* journal.append(lease, [before])
          // The refused entry comes last, after enough rows to fill several statements.
          const good = Array.from({ length: manyRows }, (_, i): Journal.JournalEntry => ({
            path: `batch[${i}]`,
            kind: "step",
            seq: 0,
            value: String(i)
          }))
          const error = yield* failure(journal.append(lease, [...good, rejected]))
          assert.instanceOf(error, Journal.JournalError)
          assert.strictEqual((error as Journal.JournalError).reason, "Unavailable")
          assert.strictEqual((error as Journal.JournalError).runId, run.runId)
          assertSameEntries((yield* loadSome(run.runId)).entries, [before])
          yield* journal.append(lease, good)
          assertSameEntries((yield* loadSome(run.runId)).entries, [before, ...good])
        }))
    }

    it.effect("concurrent runs are isolated", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const runs = Array.from({ length: 8 }, () => newRun())
        const leases = yield* Effect.forEach(runs, (run) => leased(run), { concurrency: "unbounded" })
        const batchesOf = (run: Journal.RunRecord) =>
          Array.from({ length: 5 }, (_, b) =>
            Array.from({ length: 40 }, (_, i): Journal.JournalEntry => ({
              path: `fan[${b * 40 + i}]`,
              kind: "step",
              seq: 0,
              value: JSON.stringify({ run: run.runId, b, i })
            })))
        yield* Effect.forEach(
          runs.flatMap((run, r) => batchesOf(run).map((batch) => [leases[r]!, batch] as const)),
          ([lease, batch]) => journal.append(lease, batch),
          { concurrency: "unbounded" }
        )
        for (const run of runs) {
          const loaded = yield* loadSome(run.runId)
          assertSameEntries(loaded.entries, batchesOf(run).flat())
          assertRecord(loaded.run, run)
        }
      }))

    it.effect("concurrent batches to one run all land", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        const batches = Array.from({ length: 25 }, (_, b) =>
          Array.from({ length: 20 }, (_, i): Journal.JournalEntry => ({
            path: `forEach[${b}]/item`,
            kind: "step",
            seq: i,
            value: String(b * 100 + i)
          })))
        yield* Effect.forEach(batches, (batch) => journal.append(lease, batch), { concurrency: "unbounded" })
        assertSameEntries((yield* loadSome(run.runId)).entries, batches.flat())
      }))

    // --- run store ----------------------------------------------------------------------------

    it.effect("create stores a queued, due run once; a second create returns it unchanged", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const run = newRun({ priority: 3 })
        const first = yield* store.create(run)
        assert.isTrue(first.created)
        assertRecord(first.run, run)
        assert.strictEqual(first.run.status, "queued")
        assert.strictEqual(first.run.priority, 3)
        assert.isDefined(first.run.dueAt)
        const second = yield* store.create({ ...run, input: "{}" })
        assert.isFalse(second.created)
        assertRecord(second.run, run)
        assert.deepStrictEqual(Option.map(yield* store.get(run.runId), (info) => info.runId), Option.some(run.runId))
        assert.isTrue(Option.isNone(yield* store.get(`missing-${randomUUID()}`)))
      }))

    it.effect("claim takes due runs of the given workflows and fingerprints only, at most limit, leased", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const workflow = `claimable_${randomUUID().slice(0, 8)}`
        const runs = Array.from({ length: 5 }, (_, i) => newRun({ runId: `${workflow}-${i}`, workflow }))
        for (const run of runs) yield* store.create(run)
        yield* store.create(newRun({ workflow, fingerprint: "[\"another definition\"]" }))
        const sleeping = newRun({ workflow })
        yield* journal.release(yield* leased(sleeping), {
          status: "sleeping",
          wakeAt: Date.now() + 3_600_000,
          wakeupsSeen: 0
        })

        const request = {
          owner: "worker-1",
          leaseMs,
          workflows: [{ name: workflow, fingerprint: runs[0]!.fingerprint }]
        }
        const first = yield* store.claim({ ...request, limit: 3 })
        assert.strictEqual(first.length, 3)
        const second = yield* store.claim({ ...request, limit: 10 })
        assert.strictEqual(second.length, 2)
        const claimed = [...first, ...second]
        assert.deepStrictEqual(claimed.map((c) => c.run.runId).sort(), runs.map((run) => run.runId).sort())
        for (const { lease, run } of claimed) {
          assert.strictEqual(run.status, "running")
          assert.strictEqual(run.owner, "worker-1")
          assert.strictEqual(lease.token, run.leaseToken)
          yield* journal.append(lease, [{ path: "claimed", kind: "step", seq: 0, value: "true" }])
        }
        assert.deepStrictEqual(yield* store.claim({ ...request, limit: 10 }), [])
        const next = yield* store.nextDue([workflow])
        assert.isTrue(Option.isSome(next), "the sleeping run and the leases are due later")
      }))

    it.effect("claim takes, among runs due at the same time, the higher priority first", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const workflow = `ranked_${randomUUID().slice(0, 8)}`
        const low = newRun({ workflow, priority: 0 })
        const high = newRun({ workflow, priority: 5 })
        const middle = newRun({ workflow, priority: 2 })
        const dueAt = Date.now() - 1_000
        for (const run of [low, high, middle]) {
          yield* journal.release(yield* leased(run), { status: "sleeping", wakeAt: dueAt, wakeupsSeen: 0 })
        }
        const order: Array<string> = []
        for (let i = 0; i < 3; i++) {
          const claimed = yield* store.claim({
            owner: "worker-1",
            leaseMs,
            limit: 1,
            workflows: [{ name: workflow, fingerprint: low.fingerprint }]
          })
          order.push(...claimed.map((c) => c.run.runId))
        }
        assert.deepStrictEqual(order, [high.runId, middle.runId, low.runId])
      }))

    it.effect("claim takes runs whose lease expired and sleeping runs whose time came", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const workflow = `recover_${randomUUID().slice(0, 8)}`
        const crashed = newRun({ workflow })
        const stale = yield* leased(crashed, "dead-worker", -1)
        const napped = newRun({ workflow })
        yield* journal.release(yield* leased(napped), { status: "sleeping", wakeAt: Date.now() - 1, wakeupsSeen: 0 })
        const claimed = yield* store.claim({
          owner: "worker-2",
          leaseMs,
          limit: 10,
          workflows: [{ name: workflow, fingerprint: crashed.fingerprint }]
        })
        assert.deepStrictEqual(claimed.map((c) => c.run.runId).sort(), [crashed.runId, napped.runId].sort())
        yield* expectLeaseLost(stale, journal.append(stale, [{ path: "zombie", kind: "step", seq: 0, value: "1" }]))
      }))

    it.effect("claim returns each run's journal as load reads it, but for a takeover, which it may leave unread", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const workflow = `journaled_${randomUUID().slice(0, 8)}`
        const queued = newRun({ workflow })
        yield* store.create(queued)
        // A run with steps and timings, woken by a signal.
        const woken = newRun({ workflow })
        const lease = yield* leased(woken)
        const steps: ReadonlyArray<Journal.JournalEntry> = [
          { path: "a", kind: "step", seq: 0, value: "1", startedAt: 1_000, finishedAt: 1_250 },
          { path: "b", kind: "attempt", seq: 2, value: "{\"failed\":\"boom\"}" },
          { path: "b", kind: "step", seq: 0, value: "\"two\"" }
        ]
        yield* journal.append(lease, steps)
        yield* journal.release(lease, { status: "waiting", waitingFor: ["go"], wakeupsSeen: 0 })
        const signal: Journal.JournalEntry = { path: "go", kind: "signal", seq: 0, value: "true" }
        assert.strictEqual(yield* store.deliver(woken.runId, signal), "delivered")
        const takenOver = newRun({ workflow })
        const stale = yield* leased(takenOver, "dead-worker", -1)
        yield* journal.append(stale, [{ path: "before the crash", kind: "step", seq: 0, value: "0" }])

        const claimed = yield* store.claim({
          owner: "worker-3",
          leaseMs,
          limit: 10,
          workflows: [{ name: workflow, fingerprint: queued.fingerprint }]
        })
        assert.deepStrictEqual(
          claimed.map((c) => c.run.runId).sort(),
          [queued.runId, woken.runId, takenOver.runId].sort()
        )
        const of = (runId: string) => claimed.find((c) => c.run.runId === runId)!
        assert.deepStrictEqual(of(queued.runId).entries, [])
        assert.isDefined(of(woken.runId).entries, "a woken run's journal comes with its claim")
        assertSameEntries(of(woken.runId).entries!, [...steps, signal])
        for (const { entries, run } of claimed) {
          if (entries !== undefined) assertSameEntries(entries, (yield* loadSome(run.runId)).entries)
        }
        assert.strictEqual((yield* loadSome(takenOver.runId)).entries.length, 1)
      }))

    it.effect("deliver stores the first value per path, wakes a waiting run, and reports missing runs", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        yield* journal.release(lease, { status: "waiting", waitingFor: ["approval"], wakeupsSeen: 0 })
        assert.isUndefined((yield* loadSome(run.runId)).run.dueAt)
        const signal: Journal.JournalEntry = { path: "approval", kind: "signal", seq: 0, value: "true" }
        assert.strictEqual(yield* store.deliver(run.runId, signal), "delivered")
        assert.strictEqual(yield* store.deliver(run.runId, { ...signal, value: "false" }), "duplicate")
        assert.strictEqual(yield* store.deliver(`missing-${randomUUID()}`, signal), "missing")
        const loaded = yield* loadSome(run.runId)
        assert.strictEqual(loaded.run.wakeups, 1)
        assert.isDefined(loaded.run.dueAt, "the waiting run is due")
        assert.deepStrictEqual(loaded.entries.map((entry) => entry.value), ["true"])
      }))

    it.effect("a signal that arrives while the run executes makes its suspension due at once", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const run = newRun()
        const lease = yield* leased(run)
        const seen = (yield* loadSome(run.runId)).run.wakeups
        yield* store.deliver(run.runId, { path: "approval", kind: "signal", seq: 0, value: "true" })
        yield* journal.release(lease, { status: "waiting", waitingFor: ["approval"], wakeupsSeen: seen })
        const loaded = (yield* loadSome(run.runId)).run
        assert.strictEqual(loaded.status, "waiting")
        assert.isDefined(loaded.dueAt, "a wake-up between load and suspension is not lost")
      }))

    it.effect("cancel ends an unowned run at once and flags an owned one; finished runs stay as they are", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const queued = newRun()
        yield* store.create(queued)
        const cancelled = Option.getOrThrow(yield* store.cancel(queued.runId, "duplicate"))
        assert.strictEqual(cancelled.status, "cancelled")
        assert.strictEqual(cancelled.error, "duplicate")
        assert.isUndefined(cancelled.dueAt)

        const running = newRun()
        const lease = yield* leased(running)
        const flagged = Option.getOrThrow(yield* store.cancel(running.runId, "changed my mind"))
        assert.strictEqual(flagged.status, "running")
        assert.isTrue(flagged.cancelRequested)
        yield* journal.release(lease, { status: "cancelled", error: "changed my mind" })

        const expired = newRun()
        const stale = yield* leased(expired, "dead-worker", -1)
        assert.strictEqual(Option.getOrThrow(yield* store.cancel(expired.runId, "stuck")).status, "cancelled")
        yield* expectLeaseLost(stale, journal.append(stale, [{ path: "zombie", kind: "step", seq: 0, value: "1" }]))

        const done = newRun()
        yield* journal.release(yield* leased(done), { status: "completed" })
        assert.strictEqual(Option.getOrThrow(yield* store.cancel(done.runId, "too late")).status, "completed")
        assert.isTrue(Option.isNone(yield* store.cancel(`missing-${randomUUID()}`, "none")))
      }))

    it.effect("resume makes a failed run queued and a waiting one due", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const failed = newRun()
        yield* journal.release(yield* leased(failed), { status: "failed", error: "boom" })
        const resumed = Option.getOrThrow(yield* store.resume(failed.runId))
        assert.strictEqual(resumed.status, "queued")
        assert.isDefined(resumed.dueAt)
        const waiting = newRun()
        yield* journal.release(yield* leased(waiting), { status: "waiting", waitingFor: ["approval"], wakeupsSeen: 0 })
        const due = Option.getOrThrow(yield* store.resume(waiting.runId))
        assert.strictEqual(due.status, "waiting")
        assert.isDefined(due.dueAt)
        assert.isTrue(Option.isNone(yield* store.resume(`missing-${randomUUID()}`)))
      }))

    it.effect("list filters by workflow and status, newest first, and pages with a cursor", () =>
      Effect.gen(function*() {
        const store = yield* RunStore.RunStore
        const journal = yield* Journal.Journal
        const workflow = `listed_${randomUUID().slice(0, 8)}`
        const runs = Array.from({ length: 7 }, (_, i) => newRun({ runId: `${workflow}-${i}`, workflow }))
        for (const run of runs) yield* store.create(run)
        yield* journal.release(yield* leased(newRun({ workflow })), { status: "failed", error: "x" })
        const seen: Array<string> = []
        let cursor: string | undefined
        let pages = 0
        do {
          const page = yield* store.list({ workflow, status: "queued", limit: 3, cursor })
          seen.push(...page.runs.map((run) => run.runId))
          for (const run of page.runs) assert.strictEqual(run.status, "queued")
          cursor = page.next
          pages++
        } while (cursor !== undefined)
        assert.strictEqual(pages, 3)
        assert.deepStrictEqual([...seen].sort(), runs.map((run) => run.runId).sort())
        assert.strictEqual(new Set(seen).size, seen.length)
        const all = yield* store.list({ workflow })
        assert.strictEqual(all.runs.length, 8)
        for (let i = 1; i < all.runs.length; i++) assert.isAtLeast(all.runs[i - 1]!.createdAt, all.runs[i]!.createdAt)
        const counts = yield* store.counts({ workflow })
        assert.strictEqual(counts.queued, 7)
        assert.strictEqual(counts.failed, 1)
        assert.strictEqual(counts.completed, 0)
        assert.strictEqual((yield* store.list({ workflow, createdAfter: Date.now() + 60_000 })).runs.length, 0)
      }))

    it.effect("subscribers hear of runs made runnable and released in this process", () =>
      Effect.scoped(
        Effect.gen(function*() {
          const store = yield* RunStore.RunStore
          const journal = yield* Journal.Journal
          const notifications = yield* store.subscribe
          const run = newRun()
          yield* store.create(run)
          const [claimed] = yield* store.claim({
            owner: "worker-1",
            leaseMs,
            limit: 1,
            workflows: [{ name: run.workflow, fingerprint: run.fingerprint }]
          })
          yield* journal.release(claimed!.lease, { status: "completed" })
          const heard: Array<string> = []
          while (heard.length < 2) {
            const notification = yield* Queue.take(notifications)
            if (notification.runId !== run.runId) continue
            heard.push(notification._tag === "Released" ? `Released ${notification.status}` : notification._tag)
          }
          assert.deepStrictEqual(heard, ["Runnable", "Released completed"])
        }).pipe(Effect.timeout("10 seconds"))
      ))

    engineConformance(it)

    const raw = options.raw
    if (raw !== undefined) {
      it.effect("a row written directly with invalid JSON loads as exactly its text", () =>
        Effect.gen(function*() {
          const run = newRun()
          yield* leased(run)
          const value = "{\"amount\": 12.5, \"currency\": \"EUR\"" // cut short
          yield* raw.insertEntry(run.runId, { path: "charge", kind: "step", seq: 0, value })
          const loaded = yield* loadSome(run.runId)
          assert.deepStrictEqual(loaded.entries.map((entry) => ({ ...entry })), [
            { path: "charge", kind: "step", seq: 0, value }
          ])
        }))

      // `constructor` is a property of every object, not a kind: a lookup by `in` would take it for one.
      it.effect.each(["teleport", "constructor"])(
        "a row with an unknown kind (%s) is Corrupt, naming the run and the path",
        (kind) =>
          Effect.gen(function*() {
            const journal = yield* Journal.Journal
            const run = newRun()
            const lease = yield* leased(run)
            yield* journal.append(lease, [{ path: "user", kind: "step", seq: 0, value: "1" }])
            yield* raw.insertEntry(run.runId, { path: "route/physical", kind, seq: 0, value: "1" })
            const error = yield* failure(journal.load(run.runId))
            assert.instanceOf(error, Journal.JournalError)
            const corrupt = error as Journal.JournalError
            assert.strictEqual(corrupt.reason, "Corrupt")
            assert.strictEqual(corrupt.runId, run.runId)
            assert.strictEqual(corrupt.path, "route/physical")
            assert.include(corrupt.message, run.runId)
            assert.include(corrupt.message, "route/physical")
          })
      )

      it.effect("a run with an unknown status is Corrupt, naming the run", () =>
        Effect.gen(function*() {
          const journal = yield* Journal.Journal
          const run = newRun()
          yield* leased(run)
          yield* raw.setStatus(run.runId, "paused")
          const error = yield* failure(journal.load(run.runId))
          assert.instanceOf(error, Journal.JournalError)
          assert.strictEqual((error as Journal.JournalError).reason, "Corrupt")
          assert.strictEqual((error as Journal.JournalError).runId, run.runId)
          assert.include((error as Journal.JournalError).detail, "paused")
        }))
    }
  })
