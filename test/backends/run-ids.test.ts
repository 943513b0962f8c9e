/**
 * Run ids and call options are held to one rule on every backend (memory, SQLite, Postgres),
 * through the public API: `""`, 513 bytes, 10 KB, a NUL and a lone surrogate are refused alike
 * with `InvalidRunId` by every call that takes a run id, before anything is stored; an id of
 * exactly 512 bytes runs to completion under a worker, and so do its children, whose derived
 * ids would pass the bound. A `priority` or a `list` limit out of range is an `InvalidOption`,
 * not a database failure.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Engine, Journal, RunId, type RunStore, SqliteJournal, Worker, Workflow, WorkflowError } from "plait"
import * as PgJournal from "plait/PgJournal"
import { afterAll } from "vitest"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"

const Ping = Workflow.make("ids_ping", { input: Schema.String }).pipe(
  Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(`pong ${ctx.input}`))
)

const Approval = Workflow.make("ids_approval", { input: Schema.String }).pipe(
  Workflow.signal("approved", { schema: Schema.Boolean })
)

/** Children keyed by data: a key with a lone surrogate makes `<parent>/<path>` an id no backend may hold. */
const Fleet = Workflow.make("ids_fleet", { input: Schema.Array(Schema.String) }).pipe(
  Workflow.forEach("ships", (ctx) => ctx.input, Workflow.child("pinged", Ping, (ctx) => ctx.item), {
    key: (item) => item
  })
)

/** Exactly 512 UTF-8 bytes, mixing 1-, 2-, 3- and 4-byte characters. */
const longest = `${"a".repeat(100)}${"é".repeat(100)}${"€".repeat(50)}${"🚀".repeat(10)}${"z".repeat(22)}`

const refused: ReadonlyArray<readonly [label: string, id: string, rule: WorkflowError.InvalidRunId["rule"]]> = [
  ["empty", "", "Empty"],
  ["513 bytes", `${longest}z`, "TooLong"],
  ["10 KB", "k".repeat(10_240), "TooLong"],
  ["a NUL", "order\u00007", "Nul"],
  ["a lone surrogate", "order-\ud800-7", "MalformedUnicode"]
]

interface Backend {
  readonly name: string
  readonly layer: () => Layer.Layer<Engine.Engine | Journal.Journal | RunStore.RunStore, unknown>
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "plait-run-ids-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))

const backends: ReadonlyArray<Backend> = [
  { name: "memory", layer: () => Layer.provideMerge(Engine.layer, Journal.layerMemory) },
  {
    name: "SQLite",
    layer: () =>
      Layer.provideMerge(
        Engine.layer,
        SqliteJournal.layer({ filename: path.join(root, `${crypto.randomUUID()}.sqlite`) })
      )
  },
  ...(pgUrl === undefined ? [] : [{
    name: "Postgres",
    layer: () => {
      const url = Redacted.make(pgUrl!)
      const tablePrefix = uniquePrefix()
      return Layer.provideMerge(
        Engine.layer,
        Layer.merge(
          PgJournal.layer({ url, tablePrefix }),
          withDroppedTables([tablePrefix]).pipe(Layer.provide(PgClient.layer({ url })))
        )
      )
    }
  }])
]

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return assert.fail(`expected a failure, got ${JSON.stringify(exit.value)}`)
    const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
    return error === undefined ? assert.fail(`expected a typed failure, got ${exit.cause}`) : error.error
  })

const assertInvalidRunId = (error: unknown, rule: WorkflowError.InvalidRunId["rule"]) => {
  assert.instanceOf(error, WorkflowError.InvalidRunId)
  assert.strictEqual((error as WorkflowError.InvalidRunId).rule, rule)
  assert.isAtMost((error as WorkflowError.InvalidRunId).runId.length, 80, "the error shows the id's start only")
}

const aWorker = Worker.make({
  workflows: [Ping, Fleet],
  pollInterval: "20 millis",
  maxPollInterval: "100 millis"
})

for (const backend of backends) {
  describe(`run ids on ${backend.name}`, () => {
    it.live("every call refuses a bad run id alike, and stores nothing", () =>
      Effect.gen(function*() {
        const engine = yield* Engine.Engine
        for (const [label, id, rule] of refused) {
          const calls: ReadonlyArray<
            readonly [string, Effect.Effect<unknown, unknown, Journal.Journal | RunStore.RunStore>]
          > = [
            ["start", engine.start(Ping, { input: "x", runId: id })],
            ["await", engine.await(Ping, id)],
            ["signal", engine.signal(Approval, id, "approved", true)],
            ["cancel", engine.cancel(id)],
            ["resume", engine.resume(id)],
            ["inspect", engine.inspect(id)],
            ["Workflow.run", Workflow.run(Ping, { input: "x", runId: id })],
            ["Workflow.sendSignal", Workflow.sendSignal(Approval, { runId: id, path: "approved", value: true })]
          ]
          for (const [call, effect] of calls) {
            const error = yield* failureOf(effect)
            assert.strictEqual((error as { _tag?: string })._tag, "InvalidRunId", `${call} with ${label}`)
            assertInvalidRunId(error, rule)
          }
          assert.strictEqual(RunId.brokenRule(id), rule)
          assert.isTrue(Exit.isFailure(Schema.decodeUnknownExit(RunId.RunId)(id)), `the schema refuses ${label}`)
        }
        const counts = yield* engine.counts()
        assert.strictEqual(Object.values(counts).reduce((a, b) => a + b, 0), 0, "nothing was stored")
      }).pipe(Effect.provide(backend.layer()), Effect.timeout("30 seconds")))

    it.live("an id of exactly 512 bytes runs to completion, and its children's derived ids stay valid", () =>
      Effect.scoped(Effect.gen(function*() {
        assert.strictEqual(Buffer.byteLength(longest, "utf8"), RunId.maxBytes)
        const engine = yield* Engine.Engine
        yield* aWorker
        yield* engine.start(Ping, { input: "far", runId: longest })
        const outcome = yield* engine.await(Ping, longest)
        assert.strictEqual(outcome._tag, "Completed")
        assert.strictEqual(outcome._tag === "Completed" ? outcome.context.pong : "", "pong far")
        assert.strictEqual((yield* engine.inspect(longest)).run.runId, longest)

        // As `<parent>/<path>` every child id would be over the bound, and one would hold a lone
        // surrogate besides.
        const keys = ["plain", "surrogate-\udc00", "w".repeat(300)]
        const fleetId = `${longest.slice(0, -1)}f`
        yield* engine.start(Fleet, { input: keys, runId: fleetId })
        const fleet = yield* engine.await(Fleet, fleetId)
        assert.strictEqual(fleet._tag, "Completed")
        const ships = fleet._tag === "Completed" ? fleet.context.ships : []
        assert.deepStrictEqual(ships.map((ship) => ship.pinged.pong), keys.map((key) => `pong ${key}`))
        const children = yield* engine.list({ parentRunId: fleetId })
        assert.strictEqual(children.runs.length, keys.length)
        for (const child of children.runs) {
          assert.strictEqual(RunId.brokenRule(child.runId), undefined, child.runId)
          assert.strictEqual(child.status, "completed")
        }
        const childIds = new Set(children.runs.map((child) => child.runId))
        assert.strictEqual(childIds.size, keys.length, "each item has a child of its own")
        for (const key of keys) {
          assert.isTrue(childIds.has(Engine.childRunId(fleetId, `ships[${key}]/pinged`)))
        }
      })).pipe(Effect.provide(backend.layer()), Effect.timeout("50 seconds")))

    it.live("priority and list limit out of range are an InvalidOption, not a database failure", () =>
      Effect.gen(function*() {
        const engine = yield* Engine.Engine
        for (const priority of [1.5, 2 ** 31, -(2 ** 31) - 1, Number.NaN, Number.POSITIVE_INFINITY]) {
          const error = yield* failureOf(engine.start(Ping, { input: "x", runId: `p-${priority}`, priority }))
          assert.instanceOf(error, WorkflowError.InvalidOption, `priority ${priority}`)
          assert.strictEqual((error as WorkflowError.InvalidOption).option, "priority")
        }
        for (const priority of [2 ** 31 - 1, -(2 ** 31)]) {
          const started = yield* engine.start(Ping, { input: "x", runId: `p-${priority}`, priority })
          assert.strictEqual(started.priority, priority)
        }
        for (const limit of [0, -1, 1.5, 1001, Number.NaN]) {
          const error = yield* failureOf(engine.list({ limit }))
          assert.instanceOf(error, WorkflowError.InvalidOption, `limit ${limit}`)
          assert.strictEqual((error as WorkflowError.InvalidOption).option, "limit")
        }
        assert.strictEqual((yield* engine.list({ limit: 1 })).runs.length, 1)
        assert.strictEqual((yield* engine.list({ limit: 1000 })).runs.length, 2)
      }).pipe(Effect.provide(backend.layer()), Effect.timeout("30 seconds")))
  })
}
