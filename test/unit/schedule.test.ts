/**
 * Schedules on the memory backend, under TestClock (which starts at 1970-01-01T00:00:00Z):
 * workers fire one run per tick, whichever of them sees it first; missed ticks are skipped or
 * caught up once; schedules are listed, replaced and removed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Engine, Workflow, WorkflowError } from "plait"
import { backend, settle, startWorker, until } from "../support/engine.ts"
import { failure } from "../support/runs.ts"

const Report = Workflow.make("report", { input: Schema.Struct({ kind: Schema.String }) }).pipe(
  Workflow.step("sent", { success: Schema.String }, (ctx) => Effect.succeed(`report ${ctx.input.kind}`))
)

const runIds = Effect.map(
  Engine.Engine.use((engine) => engine.list({ workflow: "report", limit: 1000 })),
  (page) => page.runs.map((run) => run.runId).sort()
)

const minute = 60_000
const tick = (minutes: number) => `nightly@${new Date(minutes * minute).toISOString()}`

describe("schedules", () => {
  it.effect("three workers start exactly one run per tick, with an id per tick; removed, it starts none", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const saved = yield* engine.schedule(Report, { id: "nightly", cron: "* * * * *", input: { kind: "daily" } })
      assert.strictEqual(saved.nextAt, minute)
      for (const workerId of ["a", "b", "c"]) yield* startWorker({ workflows: [Report], workerId })
      yield* until(Effect.map(runIds, (ids) => ids.length === 5), 6 * minute, 1_000)
      assert.deepStrictEqual(yield* runIds, [1, 2, 3, 4, 5].map(tick))
      yield* until(Effect.map(engine.counts({ workflow: "report" }), (counts) => counts.completed === 5))

      const [listed] = yield* engine.schedules()
      assert.strictEqual(listed!.lastRunId, tick(5))
      assert.strictEqual(listed!.nextAt, 6 * minute)
      assert.isTrue(yield* engine.unschedule("nightly"))
      assert.isFalse(yield* engine.unschedule("nightly"))
      yield* TestClock.adjust(10 * minute)
      yield* until(Effect.succeed(true))
      assert.lengthOf(yield* runIds, 5)
    }).pipe(Effect.provide(backend())))

  it.effect("a worker that falls behind fires every tick it owes, one run each", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      yield* engine.schedule(Report, { id: "nightly", cron: "* * * * * *", input: { kind: "secondly" } })
      yield* TestClock.adjust("5500 millis")
      yield* startWorker({ workflows: [Report] })
      yield* until(Effect.map(runIds, (ids) => ids.length >= 5), 1_000, 100)
      assert.deepStrictEqual(
        (yield* runIds).slice(0, 5),
        [1, 2, 3, 4, 5].map((s) => `nightly@${new Date(s * 1_000).toISOString()}`)
      )
    }).pipe(Effect.provide(backend())))

  it.effect("ticks missed while no worker ran are skipped by default", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      yield* engine.schedule(Report, { id: "nightly", cron: "*/10 * * * *", input: { kind: "daily" } })
      yield* TestClock.adjust(65 * minute)
      yield* startWorker({ workflows: [Report] })
      yield* until(Effect.map(engine.schedules(), ([schedule]) => schedule!.nextAt === 70 * minute))
      assert.deepStrictEqual(yield* runIds, [])
      yield* until(Effect.map(runIds, (ids) => ids.length === 1), 10 * minute, 1_000)
      assert.deepStrictEqual(yield* runIds, [tick(70)])
    }).pipe(Effect.provide(backend())))

  it.effect("with catchUp, ticks missed while no worker ran start one run, for the latest", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      yield* engine.schedule(Report, {
        id: "nightly",
        cron: "*/10 * * * *",
        input: { kind: "daily" },
        missed: "catchUp"
      })
      yield* TestClock.adjust(65 * minute)
      yield* startWorker({ workflows: [Report] })
      yield* until(Effect.map(runIds, (ids) => ids.length === 1))
      assert.deepStrictEqual(yield* runIds, [tick(60)])
      yield* until(Effect.map(runIds, (ids) => ids.length === 2), 10 * minute, 1_000)
      assert.deepStrictEqual(yield* runIds, [tick(60), tick(70)])
    }).pipe(Effect.provide(backend())))

  it.effect("a schedule is validated when stored, replaced under its id, and read in its time zone", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const badCron = failure(
        yield* Effect.exit(engine.schedule(Report, { id: "x", cron: "every day", input: { kind: "a" } }))
      )
      assert.instanceOf(badCron, WorkflowError.InvalidSchedule)
      const badZone = failure(
        yield* Effect.exit(
          engine.schedule(Report, { id: "x", cron: "0 3 * * *", input: { kind: "a" }, timezone: "Mars/Olympus" })
        )
      )
      assert.instanceOf(badZone, WorkflowError.InvalidSchedule)
      const badInput = failure(
        yield* Effect.exit(engine.schedule(Report, { id: "x", cron: "0 3 * * *", input: { kind: 1 } as never }))
      )
      assert.instanceOf(badInput, WorkflowError.InvalidInput)
      assert.deepStrictEqual(yield* engine.schedules(), [])

      yield* engine.schedule(Report, { id: "x", cron: "0 3 * * *", input: { kind: "a" } })
      const paris = yield* engine.schedule(Report, {
        id: "x",
        cron: "0 3 * * *",
        input: { kind: "b" },
        timezone: "Europe/Paris"
      })
      // 03:00 in Paris on 1 January 1970 was 02:00 UTC.
      assert.strictEqual(paris.nextAt, 2 * 60 * minute)
      const [stored] = yield* engine.schedules({ workflow: "report" })
      assert.strictEqual(stored!.input, JSON.stringify({ kind: "b" }))
      assert.strictEqual(stored!.timezone, "Europe/Paris")
    }).pipe(Effect.provide(backend())))

  it.effect("a schedule's run exists at its tick, not one poll later", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      yield* engine.schedule(Report, { id: "nightly", cron: "*/10 * * * *", input: { kind: "daily" } })
      // The worker polls once an hour: only a wait timed to the tick finds it at 00:10.
      yield* startWorker({ workflows: [Report], pollInterval: "1 hour", maxPollInterval: "1 hour" })
      yield* settle
      yield* TestClock.adjust(10 * minute - 1)
      yield* settle
      assert.deepStrictEqual(yield* runIds, [], "no run before its tick")
      yield* TestClock.adjust(1)
      yield* settle
      assert.deepStrictEqual(yield* runIds, [tick(10)], "the run exists at its tick")
      const [schedule] = yield* engine.schedules()
      assert.strictEqual(schedule!.nextAt, 20 * minute)
      yield* TestClock.adjust(10 * minute)
      yield* settle
      assert.deepStrictEqual(yield* runIds, [tick(10), tick(20)], "and the next at the next tick")
    }).pipe(Effect.provide(backend())))
})
