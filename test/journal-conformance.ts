/**
 * The journal conformance suite: every backend registers it with its own layer and passes the
 * same tests. Backends that can reach their store around the journal (the SQL ones) pass
 * `raw`, which adds the tests for rows the journal would never write itself.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"
import { Journal } from "plait"
import { randomUUID } from "node:crypto"

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

/** A batch big enough to span several statements on SQLite (6553 rows per statement). */
export const manyRows = 20_000

const newRun = (overrides: Partial<Journal.RunRecord> = {}): Journal.RunRecord => ({
  runId: `run-${randomUUID()}`,
  workflow: "onboard_user",
  fingerprint: "{\"steps\":[\"user\",\"setup\"]}",
  input: "{\"email\":\"ada@example.com\"}",
  status: "running",
  ...overrides
})

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

const loadSome = (runId: string) =>
  Effect.flatMap(Journal.Journal, (journal) => journal.load(runId)).pipe(
    Effect.map((loaded) => Option.getOrThrowWith(loaded, () => new Error(`run ${runId} not found`)))
  )

const failure = <A, R>(effect: Effect.Effect<A, Journal.JournalError, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit)
      ? Effect.succeed(Option.getOrThrow(Exit.findErrorOption(exit)))
      : Effect.die(new Error("expected the operation to fail")))

/** Registers the conformance suite for one journal backend. */
export const journalConformance = <R = never, E = never>(
  name: string,
  journalLayer: Layer.Layer<Journal.Journal | R, E>,
  options: ConformanceOptions<R> = {}
): void =>
  layer(journalLayer, { excludeTestServices: true, timeout: "60 seconds" })(`${name} conformance`, (it) => {
    it.effect("start creates the run, and a second start returns the stored run unchanged", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        const first = yield* journal.start(run)
        assert.deepStrictEqual({ ...first.run }, run)
        assert.deepStrictEqual(first.entries, [])
        const second = yield* journal.start({ ...run, workflow: "other", input: "{}", fingerprint: "[]" })
        assert.deepStrictEqual({ ...second.run }, run)
        assert.deepStrictEqual(second.entries, [])
      }))

    it.effect("start returns the entries already journaled", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        yield* journal.start(run)
        const entries: Array<Journal.JournalEntry> = [
          { path: "user", kind: "step", seq: 0, value: "{\"id\":1}" },
          { path: "setup/billing", kind: "attempt", seq: 1, value: "\"declined\"" }
        ]
        yield* journal.append(run.runId, entries)
        const resumed = yield* journal.start(run)
        assertSameEntries(resumed.entries, entries)
      }))

    it.effect("load of a missing run is none", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        assert.isTrue(Option.isNone(yield* journal.load(`missing-${randomUUID()}`)))
      }))

    it.effect("append and load round-trip entries of every kind", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        yield* journal.start(run)
        const entries: Array<Journal.JournalEntry> = [
          { path: "user", kind: "step", seq: 0, value: "{\"id\":\"u1\"}" },
          { path: "charge", kind: "attempt", seq: 0, value: "{\"error\":\"timeout\"}" },
          { path: "charge", kind: "attempt", seq: 1, value: "{\"error\":\"declined\"}" },
          { path: "charge", kind: "step", seq: 0, value: "true" },
          { path: "race", kind: "choice", seq: 0, value: "\"fast\"" },
          { path: "route", kind: "choice", seq: 0, value: "\"physical\"" },
          { path: "setup", kind: "order", seq: 0, value: "[\"welcome\",\"billing\",\"workspace\"]" },
          { path: "nap", kind: "wake", seq: 0, value: "1767225600000" },
          { path: "approval", kind: "signal", seq: 0, value: "{\"approved\":true}" },
          { path: "charge[17]/charge", kind: "step", seq: 0, value: "null" }
        ]
        yield* journal.append(run.runId, entries)
        const loaded = yield* loadSome(run.runId)
        assert.deepStrictEqual({ ...loaded.run }, run)
        assertSameEntries(loaded.entries, entries)
      }))

    it.effect(`one batch of ${manyRows} entries is stored whole`, () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        yield* journal.start(run)
        const entries = Array.from({ length: manyRows }, (_, i): Journal.JournalEntry => ({
          path: `items[${i}]`,
          kind: "step",
          seq: 0,
          value: JSON.stringify({ index: i, label: `item ${i}` })
        }))
        yield* journal.append(run.runId, entries)
        assertSameEntries((yield* loadSome(run.runId)).entries, entries)
      }))

    it.effect("large payloads (about 1 MB) survive intact, in entries and in the run input", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const big = JSON.stringify({ blob: "x".repeat(1 << 20), tail: "ünïcødé 🚀" })
        const run = newRun({ input: big })
        yield* journal.start(run)
        const entries: Array<Journal.JournalEntry> = [
          { path: "report", kind: "step", seq: 0, value: big },
          { path: "rows", kind: "step", seq: 0, value: JSON.stringify(Array.from({ length: 30_000 }, (_, i) => i)) }
        ]
        yield* journal.append(run.runId, entries)
        const loaded = yield* loadSome(run.runId)
        assert.strictEqual(loaded.run.input, big)
        assertSameEntries(loaded.entries, entries)
      }))

    it.effect("a value over the journal's bound is refused with TooLarge naming run and path; nothing of its batch is stored", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const limit = journal.maxPayloadBytes ?? Journal.defaultMaxPayloadBytes
        const run = newRun()
        yield* journal.start(run)
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
        for (const value of over) {
          const error = yield* failure(journal.append(run.runId, [
            { path: "small", kind: "step", seq: 0, value: "1" },
            { path: "big", kind: "step", seq: 0, value }
          ]))
          assert.strictEqual(error.reason, "TooLarge")
          assert.strictEqual(error.runId, run.runId)
          assert.strictEqual(error.path, "big")
          assert.include(error.message, run.runId)
          assert.include(error.message, "big")
          assert.deepStrictEqual((yield* loadSome(run.runId)).entries, [])
        }
        yield* journal.append(run.runId, fits)
        assertSameEntries((yield* loadSome(run.runId)).entries, fits)

        const bigInput = newRun({ input: JSON.stringify("x".repeat(limit)) })
        const refused = yield* failure(Effect.asVoid(journal.start(bigInput)))
        assert.strictEqual(refused.reason, "TooLarge")
        assert.strictEqual(refused.runId, bigInput.runId)
        assert.isTrue(Option.isNone(yield* journal.load(bigInput.runId)))
      }))

    it.effect("unicode in paths and values comes back byte for byte", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun({ workflow: "onboard_🧵", input: JSON.stringify({ name: "Zoë 山田" }) })
        yield* journal.start(run)
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
        yield* journal.append(run.runId, entries)
        const loaded = yield* loadSome(run.runId)
        assert.deepStrictEqual({ ...loaded.run }, run)
        assertSameEntries(loaded.entries, entries)
        const values = new Map(loaded.entries.map((entry) => [entry.seq, JSON.parse(entry.value)]))
        odd.forEach((text, i) => assert.strictEqual(values.get(i), text))
      }))

    it.effect("JSON of nested values comes back as the same text", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        yield* journal.start(run)
        const nested = {
          user: { id: "u1", tags: ["a", "b"], address: { lines: ["1 Main St", null], zip: "00501" } },
          totals: [1, -2.5, 1e21, 0, -0],
          flags: { on: true, off: false, none: null },
          deep: [[[[{ level: 5, list: [[], {}] }]]]]
        }
        const value = JSON.stringify(nested)
        const pretty = JSON.stringify(nested, null, 2)
        yield* journal.append(run.runId, [
          { path: "nested", kind: "step", seq: 0, value },
          { path: "pretty", kind: "step", seq: 0, value: pretty }
        ])
        const loaded = byKey((yield* loadSome(run.runId)).entries)
        assert.strictEqual(loaded.get("step:0:nested")?.value, value)
        assert.strictEqual(loaded.get("step:0:pretty")?.value, pretty)
        assert.deepStrictEqual(JSON.parse(loaded.get("step:0:nested")!.value), JSON.parse(value))
      }))

    it.effect("the journal stores text as given, JSON or not", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        yield* journal.start(run)
        const entries: Array<Journal.JournalEntry> = [
          { path: "broken", kind: "step", seq: 0, value: "{\"unterminated\": [1, 2" },
          { path: "bare", kind: "step", seq: 0, value: "undefined" }
        ]
        yield* journal.append(run.runId, entries)
        assertSameEntries((yield* loadSome(run.runId)).entries, entries)
      }))

    it.effect("writing an entry again keeps the first value, across batches and within one", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        yield* journal.start(run)
        yield* journal.append(run.runId, [{ path: "pay", kind: "step", seq: 0, value: "\"first\"" }])
        yield* journal.append(run.runId, [
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

    it.effect("append to a run that does not exist fails with Conflict and creates nothing", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const runId = `missing-${randomUUID()}`
        const error = yield* failure(journal.append(runId, [{ path: "a", kind: "step", seq: 0, value: "1" }]))
        assert.strictEqual(error.reason, "Conflict")
        assert.strictEqual(error.runId, runId)
        assert.isTrue(Option.isNone(yield* journal.load(runId)))
      }))

    if (options.rejectedEntry !== undefined) {
      const rejected = options.rejectedEntry
      it.effect("a batch that fails part-way leaves none of its entries, and what was stored before stays", () =>
        Effect.gen(function*() {
          const journal = yield* Journal.Journal
          const run = newRun()
          yield* journal.start(run)
          const before: Journal.JournalEntry = { path: "before", kind: "step", seq: 0, value: "\"kept\"" }
          yield* journal.append(run.runId, [before])
          // The refused entry comes last, after enough rows to fill several statements.
          const good = Array.from({ length: manyRows }, (_, i): Journal.JournalEntry => ({
            path: `batch[${i}]`,
            kind: "step",
            seq: 0,
            value: String(i)
          }))
          const error = yield* failure(journal.append(run.runId, [...good, rejected]))
          assert.strictEqual(error.reason, "Unavailable")
          assert.strictEqual(error.runId, run.runId)
          assertSameEntries((yield* loadSome(run.runId)).entries, [before])
          yield* journal.append(run.runId, good)
          assertSameEntries((yield* loadSome(run.runId)).entries, [before, ...good])
        }))
    }

    it.effect("concurrent runs are isolated", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const runs = Array.from({ length: 8 }, () => newRun())
        yield* Effect.forEach(runs, (run) => journal.start(run), { concurrency: "unbounded" })
        const batchesOf = (run: Journal.RunRecord) =>
          Array.from({ length: 5 }, (_, b) =>
            Array.from({ length: 40 }, (_, i): Journal.JournalEntry => ({
              path: `fan[${b * 40 + i}]`,
              kind: "step",
              seq: 0,
              value: JSON.stringify({ run: run.runId, b, i })
            })))
        yield* Effect.forEach(
          runs.flatMap((run) => batchesOf(run).map((batch) => [run, batch] as const)),
          ([run, batch]) => journal.append(run.runId, batch),
          { concurrency: "unbounded" }
        )
        for (const run of runs) {
          const loaded = yield* loadSome(run.runId)
          assertSameEntries(loaded.entries, batchesOf(run).flat())
          assert.deepStrictEqual({ ...loaded.run }, run)
        }
      }))

    it.effect("concurrent batches to one run all land", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        yield* journal.start(run)
        const batches = Array.from({ length: 25 }, (_, b) =>
          Array.from({ length: 20 }, (_, i): Journal.JournalEntry => ({
            path: `forEach[${b}]/item`,
            kind: "step",
            seq: i,
            value: String(b * 100 + i)
          })))
        yield* Effect.forEach(batches, (batch) => journal.append(run.runId, batch), { concurrency: "unbounded" })
        assertSameEntries((yield* loadSome(run.runId)).entries, batches.flat())
      }))

    it.effect("setStatus records where the run stands", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const run = newRun()
        yield* journal.start(run)
        for (const status of ["suspended", "running", "failed", "completed"] as const) {
          yield* journal.setStatus(run.runId, status)
          assert.strictEqual((yield* loadSome(run.runId)).run.status, status)
        }
        const resumed = yield* journal.start(run)
        assert.strictEqual(resumed.run.status, "completed")
      }))

    it.effect("setStatus of a run that does not exist fails with Conflict and creates nothing", () =>
      Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const runId = `missing-${randomUUID()}`
        const error = yield* failure(journal.setStatus(runId, "completed"))
        assert.strictEqual(error.reason, "Conflict")
        assert.strictEqual(error.runId, runId)
        assert.isTrue(Option.isNone(yield* journal.load(runId)))
      }))

    const raw = options.raw
    if (raw !== undefined) {
      it.effect("a row written directly with invalid JSON loads as exactly its text", () =>
        Effect.gen(function*() {
          const journal = yield* Journal.Journal
          const run = newRun()
          yield* journal.start(run)
          const value = "{\"amount\": 12.5, \"currency\": \"EUR\"" // cut short
          yield* raw.insertEntry(run.runId, { path: "charge", kind: "step", seq: 0, value })
          const loaded = yield* loadSome(run.runId)
          assert.deepStrictEqual(loaded.entries.map((entry) => ({ ...entry })), [
            { path: "charge", kind: "step", seq: 0, value }
          ])
        }))

      it.effect("a row with an unknown kind is Corrupt, naming the run and the path", () =>
        Effect.gen(function*() {
          const journal = yield* Journal.Journal
          const run = newRun()
          yield* journal.start(run)
          yield* journal.append(run.runId, [{ path: "user", kind: "step", seq: 0, value: "1" }])
          yield* raw.insertEntry(run.runId, { path: "route/physical", kind: "teleport", seq: 0, value: "1" })
          for (const operation of [Effect.asVoid(journal.load(run.runId)), Effect.asVoid(journal.start(run))]) {
            const error = yield* failure(operation)
            assert.strictEqual(error.reason, "Corrupt")
            assert.strictEqual(error.runId, run.runId)
            assert.strictEqual(error.path, "route/physical")
            assert.include(error.message, run.runId)
            assert.include(error.message, "route/physical")
          }
        }))

      it.effect("a run with an unknown status is Corrupt, naming the run", () =>
        Effect.gen(function*() {
          const journal = yield* Journal.Journal
          const run = newRun()
          yield* journal.start(run)
          yield* raw.setStatus(run.runId, "paused")
          const error = yield* failure(journal.load(run.runId))
          assert.strictEqual(error.reason, "Corrupt")
          assert.strictEqual(error.runId, run.runId)
          assert.include(error.detail, "paused")
        }))
    }
  })
