import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Journal, SqliteJournal, SqlJournal } from "plait"
import { afterAll } from "vitest"
import { loadNodeSqlite } from "../../src/internal/nodeSqlite.ts"
import * as SqliteClient from "../../src/internal/sqliteClient.ts"
import { corruptRowConformance } from "../support/conformance/corrupt-rows.ts"
import { conformancePayloadBytes, journalConformance, manyRows } from "../support/conformance/journal.ts"
import { leaseNew, measureRoundTrips, newRun, rejectedEntry, some, sqlRaw } from "../support/sql-journal.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-sqlite-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

/** A database file in a directory that does not exist yet. */
const freshFile = () => Path.join(root, randomUUID(), "nested", "journal.sqlite")

const conformanceFile = freshFile()
journalConformance(
  "SqliteJournal",
  Layer.merge(
    SqliteJournal.layer({ filename: conformanceFile, maxPayloadBytes: conformancePayloadBytes }),
    SqliteClient.layer({ filename: conformanceFile })
  ),
  { raw: sqlRaw("plait_"), rejectedEntry }
)
corruptRowConformance("SqliteJournal", SqliteJournal.layer({ filename: freshFile() }))

const entries = (n: number, prefix = "e"): Array<Journal.JournalEntry> =>
  Array.from({ length: n }, (_, i) => ({ path: `${prefix}[${i}]`, kind: "step", seq: 0, value: String(i) }))

const withJournal = <A, E>(
  options: SqliteJournal.Options,
  f: (journal: Journal.Journal["Service"]) => Effect.Effect<A, E>
) => Journal.Journal.use(f).pipe(Effect.provide(SqliteJournal.layer(options)))

/** Runs `test/support/processes/sqlite-writer.ts` in its own Node process; succeeds with its exit code. */
const writerProcess = (filename: string, lease: Journal.Lease, label: string, sizes: ReadonlyArray<number>) =>
  Effect.callback<number, Error>((resume) => {
    const child = spawn(
      process.execPath,
      [
        "--conditions=plait-source",
        Path.join(import.meta.dirname, "..", "support", "processes", "sqlite-writer.ts"),
        filename,
        JSON.stringify(lease),
        label,
        ...sizes.map(String)
      ],
      { stdio: ["ignore", "inherit", "inherit"] }
    )
    child.on("error", (error) => resume(Effect.fail(error)))
    child.on("exit", (code) => resume(Effect.succeed(code ?? -1)))
  })

/** Runs `code` (an ES module) in a fresh Node process in the repository; its stdout and stderr. */
const nodeProcess = (code: string) =>
  Effect.callback<{ readonly stdout: string; readonly stderr: string; readonly code: number | null }, Error>(
    (resume) => {
      const child = spawn(process.execPath, ["--conditions=plait-source", "--input-type=module", "--eval", code], {
        cwd: Path.join(import.meta.dirname, "..", ".."),
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => (stdout += chunk))
      child.stderr.on("data", (chunk) => (stderr += chunk))
      child.on("error", (error) => resume(Effect.fail(error)))
      child.on("close", (code) => resume(Effect.succeed({ stdout, stderr, code })))
    }
  )

describe("SqliteJournal", () => {
  it.live("opening it prints no warning: node:sqlite's ExperimentalWarning is plait's business, not the app's", () =>
    Effect.gen(function*() {
      const child = yield* nodeProcess(`
        import { Effect, Schema } from "effect"
        import { SqliteJournal, Workflow } from "plait"
        const Quiet = Workflow.make("quiet", { input: Schema.Number }).pipe(
          Workflow.step("one", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input))
        )
        const outcome = await Effect.runPromise(
          Workflow.run(Quiet, { input: 1 }).pipe(Effect.provide(SqliteJournal.layer({ filename: ":memory:" })))
        )
        console.log(outcome._tag)
      `)
      assert.strictEqual(child.stderr, "")
      assert.strictEqual(child.stdout, "Completed\n")
      assert.strictEqual(child.code, 0)
    }))

  it.live("creates the file and its directory, and the journal survives a reopen", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const run = newRun()
      yield* withJournal({ filename }, (journal) =>
        Effect.flatMap(leaseNew(journal, run), (lease) => journal.append(lease, entries(3))))
      assert.isTrue(Fs.existsSync(filename))
      const loaded = yield* withJournal({ filename }, (journal) =>
        journal.load(run.runId))
      assert.strictEqual(some(loaded).entries.length, 3)
    }))

  it.live("runs in WAL mode, synchronous NORMAL by default and FULL on request", () =>
    Effect.gen(function*() {
      const pragmas = (options: SqliteClient.SqliteClientOptions) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const [mode] = yield* sql`PRAGMA journal_mode`
          const [sync] = yield* sql`PRAGMA synchronous`
          const [fk] = yield* sql`PRAGMA foreign_keys`
          return { mode: mode?.journal_mode, sync: sync?.synchronous, fk: fk?.foreign_keys }
        }).pipe(Effect.provide(SqliteClient.layer(options)))
      const filename = freshFile()
      // synchronous: 1 = NORMAL, 2 = FULL
      assert.deepStrictEqual(yield* pragmas({ filename }), { mode: "wal", sync: 1, fk: 1 })
      assert.deepStrictEqual(yield* pragmas({ filename, synchronous: "FULL" }), { mode: "wal", sync: 2, fk: 1 })
    }))

  it.live("counts round trips: acquire of a new run 3 (BEGIN, INSERT, COMMIT), load 1, append 1 per 4680 rows plus BEGIN and COMMIT past that", () =>
    Effect.gen(function*() {
      const roundTrips = SqlJournal.makeRoundTrips()
      yield* withJournal({ filename: freshFile(), roundTrips }, (journal) =>
        Effect.gen(function*() {
          const run = newRun()
          const measure = measureRoundTrips(roundTrips)
          const [acquired, acquireTrips] = yield* measure(
            "acquire",
            journal.acquire(run, { owner: "test", leaseMs: 60_000 })
          )
          assert.strictEqual(acquireTrips, 3)
          const lease = acquired.lease!
          assert.strictEqual((yield* measure("append", journal.append(lease, entries(100))))[1], 1)
          assert.strictEqual((yield* measure("append", journal.append(lease, entries(4680, "full"))))[1], 1)
          // 20000 rows: five statements inside BEGIN ... COMMIT.
          assert.strictEqual((yield* measure("append", journal.append(lease, entries(manyRows, "big"))))[1], 7)
          assert.strictEqual((yield* measure("append", journal.append(lease, [])))[1], 0)
          const [loaded, loadTrips] = yield* measure("load", journal.load(run.runId))
          assert.strictEqual(loadTrips, 1)
          assert.strictEqual(some(loaded).entries.length, 100 + 4680 + manyRows)
          assert.strictEqual((yield* measure("release", journal.release(lease, { status: "completed" })))[1], 1)
        }))
    }))

  it.live("migrates once; migrate: false leaves the schema to SqlJournal.migrate", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const client = SqliteClient.layer({ filename })
      const applied = yield* Effect.provide(
        Effect.all([SqlJournal.migrate(), SqlJournal.migrate()]),
        client
      )
      assert.deepStrictEqual(applied, [SqlJournal.migrations, []])

      const unmigrated = freshFile()
      const error = yield* withJournal({ filename: unmigrated, migrate: false }, (journal) =>
        Effect.flip(journal.acquire(newRun(), { owner: "test", leaseMs: 1000 })))
      assert.strictEqual(error.reason, "Unavailable")
      assert.include(error.detail, "no such table")
      yield* Effect.provide(SqlJournal.migrate(), SqliteClient.layer({ filename: unmigrated }))
      const run = newRun()
      const started = yield* withJournal({ filename: unmigrated, migrate: false }, (journal) =>
        journal.acquire(run, { owner: "test", leaseMs: 1000 }))
      assert.strictEqual(started.run.runId, run.runId)
    }))

  it.live("a table prefix keeps two journals apart in one file", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const run = newRun()
      yield* withJournal({ filename, tablePrefix: "a_" }, (journal) => leaseNew(journal, run))
      const other = yield* withJournal({ filename, tablePrefix: "b_" }, (journal) => journal.load(run.runId))
      assert.isTrue(Option.isNone(other))
      const db = new (loadNodeSqlite().DatabaseSync)(filename, { readOnly: true })
      const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()
      db.close()
      const tables = ["entries", "migrations", "runs", "schedules", "slot_waiters", "slots"]
      assert.deepStrictEqual(names.map((row) => row.name), [
        ...tables.map((t) => `a_${t}`),
        ...tables.map((t) => `b_${t}`)
      ])
    }))

  it.live("several processes append under one lease to one file without losing a batch", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const run = newRun()
      // Single statements and multi-statement transactions (7000 rows), from every process.
      const sizes = [100, 7000, 2000, 7000, 50, 7000]
      const total = sizes.reduce((a, b) => a + b, 0)
      yield* withJournal({ filename }, (journal) =>
        Effect.gen(function*() {
          const lease = yield* leaseNew(journal, run)
          const children = ["x", "y"].map((label) => writerProcess(filename, lease, label, sizes))
          const local = Effect.forEach(sizes, (size, b) => journal.append(lease, entries(size, `w${b}`)))
          const [codes] = yield* Effect.all([Effect.all(children, { concurrency: "unbounded" }), local], {
            concurrency: "unbounded"
          })
          assert.deepStrictEqual(codes, [0, 0])
          assert.strictEqual(some(yield* journal.load(run.runId)).entries.length, 3 * total)
        }))
    }))

  const badOptions: ReadonlyArray<readonly [option: string, overrides: Partial<SqliteJournal.Options>]> = [
    ["tablePrefix", { tablePrefix: "x\"; DROP TABLE plait_runs; --" }],
    ["tablePrefix", { tablePrefix: "" }],
    ["tablePrefix", { tablePrefix: "9lives_" }],
    ["tablePrefix", { tablePrefix: "a".repeat(41) }],
    ["maxPayloadBytes", { maxPayloadBytes: 0 }],
    ["maxPayloadBytes", { maxPayloadBytes: -1 }],
    ["maxPayloadBytes", { maxPayloadBytes: 1.5 }],
    ["maxPayloadBytes", { maxPayloadBytes: 2e9 }],
    ["maxPayloadBytes", { maxPayloadBytes: Number.NaN }],
    ["operationTimeout", { operationTimeout: 0 }],
    ["operationTimeout", { operationTimeout: "-1 second" }],
    ["operationTimeout", { operationTimeout: "forever" as never }],
    ["operationTimeout", { operationTimeout: Number.POSITIVE_INFINITY }],
    ["busyTimeout", { busyTimeout: -5 }],
    ["busyTimeout", { busyTimeout: "soon" as never }]
  ]

  for (const [option, overrides] of badOptions) {
    it.live(`a bad ${option} (${JSON.stringify(Object.values(overrides)[0] ?? null)}) fails the layer with InvalidOption, before the file is opened`, () =>
      Effect.gen(function*() {
        const filename = freshFile()
        const error = yield* Effect.flip(withJournal({ filename, ...overrides }, () => Effect.void))
        assert.instanceOf(error, Journal.InvalidOption)
        assert.strictEqual((error as Journal.InvalidOption).option, option)
        assert.include(error.message, option)
        assert.isFalse(Fs.existsSync(Path.dirname(filename)), "the journal touched the file system")
      }))
  }

  it.live("SqlJournal.migrate refuses a bad table prefix with InvalidOption and creates nothing", () =>
    Effect.gen(function*() {
      const filename = freshFile()
      const error = yield* Effect.flip(
        Effect.provide(SqlJournal.migrate({ tablePrefix: "x; DROP" }), SqliteClient.layer({ filename }))
      )
      assert.instanceOf(error, Journal.InvalidOption)
      const db = new (loadNodeSqlite().DatabaseSync)(filename, { readOnly: true })
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
      db.close()
      assert.deepStrictEqual(tables, [])
    }))

  it.live("options at their limits are accepted", () =>
    Effect.gen(function*() {
      const run = newRun()
      const limits = { tablePrefix: `_${"a".repeat(39)}`, maxPayloadBytes: 1, busyTimeout: 0 }
      yield* withJournal({ filename: freshFile(), ...limits, operationTimeout: "1 millis" }, () => Effect.void)
      const loaded = yield* withJournal({ filename: freshFile(), ...limits }, (journal) =>
        Effect.andThen(leaseNew(journal, { ...run, input: "1" }), journal.load(run.runId)))
      assert.strictEqual(some(loaded).run.input, "1")
    }))
})
