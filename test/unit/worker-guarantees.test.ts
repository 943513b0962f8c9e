/**
 * What a worker promises about how many runs it executes and when it wakes them, and what
 * `await` sees of runs that moved on while no worker ran: on the memory backend, under the
 * TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { Engine, Workflow, WorkflowError } from "plait"
import { backend, hasStatus, startWorker, until } from "../support/engine.ts"
import { advance, failure, makeCounts, makeGauge } from "../support/runs.ts"

describe("a worker", () => {
  it.effect("never executes more than concurrency runs at once", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const gauge = makeGauge()
      const Busy = Workflow.make("busy", { input: Schema.Number }).pipe(
        Workflow.step("work", { success: Schema.Number }, (ctx) =>
          gauge.hold(Effect.as(Effect.sleep("1 second"), ctx.input)))
      )
      yield* startWorker({ workflows: [Busy], concurrency: 2 })
      const runIds = Array.from({ length: 7 }, (_, n) =>
        `busy-${n}`)
      yield* Effect.forEach(runIds, (runId, n) =>
        engine.start(Busy, { input: n, runId }))
      yield* until(Effect.map(engine.counts(), (counts) => counts.completed === runIds.length), 60_000)
      assert.strictEqual(gauge.max, 2)
    }).pipe(Effect.provide(backend())))

  it.effect("with two timed waits of different lengths, wakes the run at the earlier", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const counts = makeCounts()
      const Two = Workflow.make("two_waits", { input: Schema.Number }).pipe(
        Workflow.parallel("both", {
          short: Workflow.sequence(
            Workflow.sleep("nap", "1 hour"),
            Workflow.step("woke", { success: Schema.Number }, (ctx) => counts.run("woke", Effect.succeed(ctx.input)))
          ),
          long: Workflow.signal("approval", { schema: Schema.Boolean, timeout: "3 hours" })
        })
      )
      yield* startWorker({ workflows: [Two] })
      yield* engine.start(Two, { input: 1, runId: "two" })
      yield* until(hasStatus("two", "waiting"))
      assert.strictEqual(
        (yield* engine.inspect("two")).run.wakeAt! - (yield* engine.inspect("two")).run.createdAt,
        3_600_000
      )
      // Woken at the earlier wait's end, not the later's.
      yield* until(Effect.sync(() => counts.of("woke") === 1), 3_600_000 + 60_000, 60_000)
      assert.strictEqual((yield* engine.inspect("two")).run.status, "waiting")
    }).pipe(Effect.provide(backend())))
})

describe("await of runs that moved on while no worker ran", () => {
  const Approval = Workflow.make("approve_offline", { input: Schema.Number }).pipe(
    Workflow.signal("approval", { schema: Schema.Boolean, timeout: "1 day" }),
    Workflow.step("done", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval))
  )

  it.effect("a signal delivered with no worker: await ends Completed once a worker starts, never Suspended", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const first = yield* startWorker({ workflows: [Approval] })
      yield* engine.start(Approval, { input: 1, runId: "offline-signal" })
      yield* until(hasStatus("offline-signal", "waiting"))
      yield* first.stop
      yield* engine.signal(Approval, "offline-signal", "approval", true)
      const awaited = yield* Effect.forkChild(engine.await(Approval, "offline-signal"))
      yield* startWorker({ workflows: [Approval] })
      yield* until(hasStatus("offline-signal", "completed"))
      const outcome = yield* Fiber.join(awaited)
      assert.strictEqual(outcome._tag, "Completed")
    }).pipe(Effect.provide(backend())))

  it.effect("a signal timeout that passed with no worker: await ends with the failure once a worker starts, never Suspended", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const first = yield* startWorker({ workflows: [Approval] })
      yield* engine.start(Approval, { input: 1, runId: "offline-timeout" })
      yield* until(hasStatus("offline-timeout", "waiting"))
      yield* first.stop
      // A day and more goes by with nobody executing the run: its signal's deadline passed.
      yield* advance("25 hours", "1 hour")
      const awaited = yield* Effect.forkChild(engine.await(Approval, "offline-timeout"))
      yield* advance("5 seconds", "1 second")
      assert.isUndefined(awaited.pollUnsafe(), "await ended while no worker ran")
      yield* startWorker({ workflows: [Approval] })
      yield* until(hasStatus("offline-timeout", "failed"), 2 * 86_400_000, 3_600_000)
      const error = failure(yield* Fiber.await(awaited))
      assert.instanceOf(error, WorkflowError.RunFailed)
      assert.include((error as WorkflowError.RunFailed).error, "SignalTimeout")
    }).pipe(Effect.provide(backend())))
})
