/**
 * Global concurrency limits on the memory backend, under TestClock: at most `max` attempts of
 * steps with a key run at once, across workers and `Workflow.run` calls sharing the journal; a
 * slot is given back when an attempt ends, however it ends, and when its holder's lease runs out;
 * runs waiting for a slot under a worker do not hold the worker's slots.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Engine, Journal, Workflow } from "plait"
import { backend, settle, startWorker, until } from "../support/engine.ts"
import { completed, finished, makeCounts, makeGauge, memoryLayer, runFor } from "../support/runs.ts"

const limit = { key: "partner-api", max: 3 } as const

describe("limit", () => {
  it.effect("workers: at most max at once across two workers, and all runs finish", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const gauge = makeGauge()
      const Call = Workflow.make("call", { input: Schema.Number }).pipe(
        Workflow.step("called", { success: Schema.Number, limit }, (ctx) =>
          gauge.hold(Effect.as(Effect.sleep("1 minute"), ctx.input)))
      )
      yield* startWorker({ workflows: [Call], concurrency: 5, workerId: "w-a" })
      yield* startWorker({ workflows: [Call], concurrency: 5, workerId: "w-b" })
      for (let i = 0; i < 8; i++) {
        yield* engine.start(Call, { input: i, runId: `call-${i}` })
      }
      yield* until(Effect.map(engine.counts({ workflow: "call" }), (counts) =>
        counts.waiting > 0))
      const waiting = (yield* engine.list({ workflow: "call", status: "waiting" })).runs[0]!
      assert.isUndefined(waiting.owner, "a run waiting for a slot holds no worker slot")
      assert.deepStrictEqual(waiting.waitingFor, ["called"])
      yield* until(
        Effect.map(engine.counts({ workflow: "call" }), (counts) =>
          counts.completed === 8),
        3_600_000,
        1_000
      )
      assert.strictEqual(gauge.max, 3)
    }).pipe(Effect.provide(backend())))

  it.effect("a worker with fewer slots than waiting runs does not deadlock: waiting runs give their slots back", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const gauge = makeGauge()
      const Single = Workflow.make("single", { input: Schema.Number }).pipe(
        Workflow.step(
          "only",
          { success: Schema.Number, limit: { key: "single", max: 1 } },
          (ctx) => gauge.hold(Effect.as(Effect.sleep("10 seconds"), ctx.input))
        )
      )
      yield* startWorker({ workflows: [Single], concurrency: 2 })
      for (let i = 0; i < 6; i++) yield* engine.start(Single, { input: i, runId: `single-${i}` })
      yield* until(
        Effect.map(engine.counts({ workflow: "single" }), (counts) => counts.completed === 6),
        600_000,
        1_000
      )
      assert.strictEqual(gauge.max, 1)
    }).pipe(Effect.provide(backend())))

  it.effect("Workflow.run: a rate-limited fan-out and another run share the key's slots", () =>
    Effect.gen(function*() {
      const gauge = makeGauge()
      const Fan = Workflow.make("fan", { input: Schema.Number }).pipe(
        Workflow.forEach("calls", (ctx) =>
          Array.from({ length: ctx.input }, (_, i) => i), (i) =>
          gauge.hold(Effect.as(Effect.sleep("1 second"), i * 2)), { success: Schema.Number, concurrency: 10, limit })
      )
      const one = yield* Effect.forkChild(Workflow.run(Fan, { input: 10, runId: "fan-1" }))
      const two = yield* Effect.forkChild(Workflow.run(Fan, { input: 5, runId: "fan-2" }))
      for (let i = 0; i < 200; i++) {
        yield* settle
        yield* TestClock.adjust("100 millis")
      }
      assert.lengthOf(completed(yield* finished(one)).calls, 10)
      assert.lengthOf(completed(yield* finished(two)).calls, 5)
      assert.strictEqual(gauge.max, 3)
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("a slot is given back when an attempt fails, and a retry takes one again", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Retry = Workflow.make("retry", { input: Schema.Number }).pipe(
        Workflow.step("flaky", { success: Schema.Number, retry: { times: 2 }, limit: { key: "one", max: 1 } }, (ctx) =>
          Effect.andThen(
            counts.hit("flaky"),
            counts.of("flaky") < 2 ? Effect.fail("not yet") : Effect.succeed(ctx.input)
          ))
      )
      completed(yield* runFor(Workflow.run(Retry, { input: 1, runId: "r1" }), "5 seconds"))
      // A second run gets the slot at once: nothing was left held.
      completed(yield* runFor(Workflow.run(Retry, { input: 2, runId: "r2" })))

      // An attempt that fails for good while its run goes on (a settled branch): no retry of the
      // step hands the slot back for it, so the step after the block gets it only if the failure did.
      const Settled = Workflow.make("settled", { input: Schema.Number }).pipe(
        Workflow.parallel("p", {
          x: Workflow.step("x", { success: Schema.Number, limit: { key: "two", max: 1 } }, () =>
            Effect.fail("no")),
          y: Workflow.step("y", { success: Schema.Number }, () =>
            Effect.succeed(1))
        }, { onError: "settle" }),
        Workflow.step("after", { success: Schema.Number, limit: { key: "two", max: 1 } }, () =>
          Effect.succeed(2))
      )
      assert.strictEqual(completed(yield* runFor(Workflow.run(Settled, { input: 0, runId: "s1" }))).after, 2)
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("an interrupted limited step frees its slot at once: a race loser, a failFast sibling, an interrupted run", () =>
    Effect.gen(function*() {
      const single = { key: "single-api", max: 1 } as const
      const counts = makeCounts()
      const holds = Workflow.step("holds", { success: Schema.String, limit: single }, () => Effect.never)
      const next = Workflow.step(
        "next",
        { success: Schema.String, limit: single },
        () => counts.run("next", Effect.succeed("took the slot"))
      )
      // The race's winner is decided while the loser holds the key's only slot; the next step needs it.
      const Raced = Workflow.make("raced", { input: Schema.Number }).pipe(
        Workflow.race("quote", {
          fast: Workflow.step("fast", { success: Schema.String }, () => Effect.as(Effect.sleep(100), "fast")),
          slow: holds
        }),
        next
      )
      completed(yield* runFor(Workflow.run(Raced, { input: 1, runId: "raced" }), "1 second", "50 millis"))
      assert.strictEqual(counts.of("next"), 1)

      const Failing = Workflow.make("failing", { input: Schema.Number }).pipe(
        Workflow.parallel("both", {
          bad: Workflow.step(
            "bad",
            { success: Schema.String },
            () => Effect.andThen(Effect.sleep(100), Effect.fail("no"))
          ),
          slow: holds
        })
      )
      yield* runFor(Workflow.run(Failing, { input: 1, runId: "failing" }), "1 second", "50 millis")
      const Next = Workflow.make("next_run", { input: Schema.Number }).pipe(next)
      completed(yield* runFor(Workflow.run(Next, { input: 1, runId: "after-failing" }), "1 second", "50 millis"))
      assert.strictEqual(counts.of("next"), 2)

      const Held = Workflow.make("held", { input: Schema.Number }).pipe(holds)
      const holder = yield* Effect.forkChild(Workflow.run(Held, { input: 1, runId: "held" }))
      yield* settle
      yield* Fiber.interrupt(holder)
      completed(yield* runFor(Workflow.run(Next, { input: 2, runId: "after-cancel" }), "1 second", "50 millis"))
      assert.strictEqual(counts.of("next"), 3)
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("a holder whose lease ran out holds its slot no more", () =>
    Effect.gen(function*() {
      const memory = Journal.makeMemory()
      const counts = makeCounts()
      // This executor's heartbeats never get through: its lease runs out while its step hangs.
      const silenced = memoryLayer((journal) => ({ ...journal, heartbeat: () => Effect.never }), memory)
      const Hang = Workflow.make("hang", { input: Schema.Number }).pipe(
        Workflow.step("held", { success: Schema.Number, limit: { key: "hang", max: 1 } }, (ctx) =>
          counts.run(`held ${ctx.input}`, ctx.input === 1 ? Effect.never : Effect.succeed(ctx.input)))
      )
      const stuck = yield* Effect.forkChild(
        Workflow.run(Hang, { input: 1, runId: "stuck", leaseDuration: "10 seconds" }).pipe(Effect.provide(silenced))
      )
      yield* settle
      assert.strictEqual(counts.of("held 1"), 1)
      const next = yield* Effect.forkChild(
        Workflow.run(Hang, { input: 2, runId: "next" }).pipe(Effect.provide(memoryLayer(undefined, memory)))
      )
      yield* runFor(Effect.void, "5 seconds", "100 millis")
      assert.strictEqual(counts.of("held 2"), 0, "the slot is still held while the lease lives")
      yield* runFor(Effect.void, "10 seconds", "100 millis")
      assert.strictEqual(counts.of("held 2"), 1)
      completed(yield* finished(next))
      yield* Fiber.interrupt(stuck)
    }))
})
