/**
 * Sagas on the memory backend, under TestClock: a run that fails for good or is cancelled undoes
 * its completed steps in reverse completion order, each compensation once, retried by its own
 * policy; an interrupted compensation resumes where it stopped without driving the failed step
 * again; a compensation that still fails ends the run with `CompensationFailed`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Engine, Journal, Workflow, WorkflowError, WorkflowGraph } from "plait"
import { backend, settle, startWorker, statusOf, until } from "../support/engine.ts"
import { entriesOf, failure, makeCounts, memoryLayer, runFor } from "../support/runs.ts"

class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {}
class RefundFailed extends Schema.TaggedError<RefundFailed>()("RefundFailed", { charge: Schema.String }) {}

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })

/** What each compensation was given, in the order they ran. */
const makeUndoLog = () => {
  const undone: Array<{ readonly path: string; readonly output: unknown; readonly ctx: unknown }> = []
  return {
    undone,
    paths: () => undone.map((entry) => entry.path),
    undo: (path: string) => (output: unknown, ctx: unknown) =>
      Effect.sync(() => void undone.push({ path, output, ctx }))
  }
}

describe("compensation", () => {
  it.effect("a failed run undoes its completed steps in reverse order, each given its output and the context it saw", () =>
    Effect.gen(function*() {
      const log = makeUndoLog()
      const Checkout = Workflow.make("checkout", { input: Order }).pipe(
        Workflow.step(
          "reserved",
          { success: Schema.Number, compensate: log.undo("reserved") },
          (ctx) => Effect.succeed(ctx.input.amount * 2)
        ),
        Workflow.step(
          "charged",
          { success: Schema.String, compensate: log.undo("charged") },
          (ctx) => Effect.succeed(`ch_${ctx.input.id}_${ctx.reserved}`)
        ),
        Workflow.step("noted", { success: Schema.Boolean }, () => Effect.succeed(true)),
        Workflow.step(
          "shipped",
          { success: Schema.Boolean, error: Declined },
          () => Effect.fail(new Declined({ reason: "no courier" }))
        )
      )
      const error = failure(yield* runFor(Workflow.run(Checkout, { input: { id: "A", amount: 5 }, runId: "c1" })))
      assert.instanceOf(error, Declined, "the run fails with the step's own error once compensated")
      assert.deepStrictEqual(log.paths(), ["charged", "reserved"])
      assert.deepStrictEqual(log.undone[0]!.output, "ch_A_10")
      assert.deepStrictEqual(log.undone[0]!.ctx, { input: { id: "A", amount: 5 }, reserved: 10 })
      assert.deepStrictEqual(log.undone[1]!.ctx, { input: { id: "A", amount: 5 } })

      const entries = yield* entriesOf("c1")
      const kinds = (kind: Journal.EntryKind) => entries.filter((e) => e.kind === kind).map((e) => [e.path, e.value])
      assert.deepStrictEqual(kinds("compensable"), [["reserved", "0"], ["charged", "1"]])
      // Its graph marks the steps a failure undoes.
      const steps = WorkflowGraph.flatten(WorkflowGraph.fromWorkflow(Checkout))
      assert.deepStrictEqual(steps.filter((node) => node.compensable === true).map((node) => node.path), [
        "reserved",
        "charged"
      ])
      assert.include(Workflow.toMermaid(Checkout), "charged (compensable)")
      assert.notInclude(Workflow.toMermaid(Checkout), "shipped (compensable)")
      assert.deepStrictEqual(kinds("compensated").map(([path]) => path).sort(), [
        "charged/compensate",
        "reserved/compensate"
      ])
      const ending = JSON.parse(entries.find((e) => e.kind === "compensating")!.value)
      assert.strictEqual(ending.reason, "failed")
      assert.include(ending.error, "no courier")
      const stored = yield* Journal.Journal.use((journal) => journal.load("c1"))
      assert.strictEqual(stored._tag === "Some" && stored.value.run.status, "failed")

      // Running it again compensates nothing twice and drives nothing again: it fails the same way.
      const again = failure(yield* runFor(Workflow.run(Checkout, { input: { id: "A", amount: 5 }, runId: "c1" })))
      assert.strictEqual((again as { readonly _tag: string })._tag, "Declined")
      assert.deepStrictEqual(log.paths(), ["charged", "reserved"])
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("parallel steps are undone in the reverse of the order their completions were journaled", () =>
    Effect.gen(function*() {
      const log = makeUndoLog()
      // Branch a finishes last, c first: the completion order is c, b, a.
      const after = (ms: number, value: string) => Effect.as(Effect.sleep(ms), value)
      const Fan = Workflow.make("fan", { input: Schema.Number }).pipe(
        Workflow.parallel("all", {
          a: Workflow.step("a", { success: Schema.String, compensate: log.undo("a") }, () => after(300, "A")),
          b: Workflow.step("b", { success: Schema.String, compensate: log.undo("b") }, () => after(200, "B")),
          c: Workflow.step("c", { success: Schema.String, compensate: log.undo("c") }, () => after(100, "C"))
        }),
        Workflow.step("last", { success: Schema.String }, () => Effect.fail("boom"))
      )
      const exit = yield* runFor(Workflow.run(Fan, { input: 1, runId: "fan" }), "1 second", "50 millis")
      assert.strictEqual(failure(exit), "boom")
      assert.deepStrictEqual(log.paths(), ["a", "b", "c"])
      const order = (yield* entriesOf("fan")).filter((e) => e.kind === "compensable").sort((x, y) =>
        Number(x.value) - Number(y.value)
      )
      assert.deepStrictEqual(order.map((e) => e.path), ["all/c/c", "all/b/b", "all/a/a"])
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("a failFast parallel whose failing branch is declared first fails with its error and compensates the other's step once", () =>
    Effect.gen(function*() {
      const log = makeUndoLog()
      const Split = Workflow.make("split", { input: Schema.Number }).pipe(
        Workflow.parallel("both", {
          bad: Workflow.step(
            "broken",
            { success: Schema.String, error: Declined },
            () => Effect.andThen(Effect.sleep(100), Effect.fail(new Declined({ reason: "no" })))
          ),
          good: Workflow.step(
            "held",
            { success: Schema.String, compensate: log.undo("held") },
            () => Effect.succeed("h")
          )
        })
      )
      const exit = yield* runFor(Workflow.run(Split, { input: 1, runId: "split" }), "1 second", "50 millis")
      const error = failure(exit)
      assert.instanceOf(error, Declined)
      assert.deepStrictEqual(log.paths(), ["held"])
      const compensated = (yield* entriesOf("split")).filter((e) => e.kind === "compensated").map((e) => e.path)
      assert.deepStrictEqual(compensated, ["both/good/held/compensate"])
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("a race loser's and a settled branch's completed steps are undone too", () =>
    Effect.gen(function*() {
      const log = makeUndoLog()
      const Mixed = Workflow.make("mixed", { input: Schema.Number }).pipe(
        Workflow.race("quote", {
          fast: Workflow.step("fast", { success: Schema.String }, () => Effect.as(Effect.sleep(100), "fast")),
          slow: Workflow.sequence(
            Workflow.step(
              "held",
              { success: Schema.String, compensate: log.undo("held") },
              () => Effect.succeed("hold")
            ),
            Workflow.step("slow", { success: Schema.String }, () => Effect.as(Effect.sleep(1000), "slow"))
          )
        }),
        Workflow.parallel("tries", {
          ok: Workflow.step("ok", { success: Schema.String, compensate: log.undo("ok") }, () => Effect.succeed("ok")),
          bad: Workflow.sequence(
            Workflow.step(
              "prepared",
              { success: Schema.String, compensate: log.undo("prepared") },
              () => Effect.succeed("p")
            ),
            Workflow.step("broken", { success: Schema.String }, () => Effect.fail("nope"))
          )
        }, { onError: "settle" }),
        Workflow.step("final", { success: Schema.String }, () => Effect.fail("the end"))
      )
      const exit = yield* runFor(Workflow.run(Mixed, { input: 1, runId: "mixed" }), "2 seconds", "50 millis")
      assert.strictEqual(failure(exit), "the end")
      assert.deepStrictEqual(log.paths().sort(), ["held", "ok", "prepared"])
      assert.strictEqual(log.paths()[2], "held", "held completed first, so it is undone last")
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("a failing compensation is retried by its own policy; still failing, the run ends CompensationFailed", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let refunds = 0
      let healthy = false
      const Pay = Workflow.make("pay", { input: Schema.Number }).pipe(
        Workflow.step("first", {
          success: Schema.String,
          compensate: () => counts.hit("undo first")
        }, () => Effect.succeed("f")),
        Workflow.step("charge", {
          success: Schema.String,
          retry: { times: 0 },
          compensateRetry: { times: 2, delay: "1 second" },
          compensate: (charge) =>
            Effect.suspend(() => {
              refunds++
              return healthy ? Effect.void : Effect.fail(new RefundFailed({ charge }))
            })
        }, () => Effect.succeed("ch_1")),
        Workflow.step("ship", { success: Schema.Boolean }, () => Effect.fail("lost parcel"))
      )
      const exit = yield* runFor(Workflow.run(Pay, { input: 1, runId: "pay" }), "10 seconds")
      const error = failure(exit)
      assert.instanceOf(error, WorkflowError.CompensationFailed)
      const failed = error as WorkflowError.CompensationFailedOf<RefundFailed>
      assert.strictEqual(failed.path, "charge/compensate")
      assert.strictEqual(failed.runId, "pay")
      assert.deepStrictEqual(failed.compensated, [])
      assert.deepStrictEqual(failed.notCompensated, ["charge", "first"])
      assert.include(failed.reason, "lost parcel")
      assert.strictEqual(failed.failure.charge, "ch_1")
      assert.strictEqual(refunds, 3, "the first try and two retries")
      assert.strictEqual(counts.of("undo first"), 0, "compensation stops at the first that still fails")
      const attempts = (yield* entriesOf("pay")).filter((e) => e.kind === "attempt" && e.path === "charge/compensate")
      assert.strictEqual(attempts.length, 3)

      // Driven again once the provider is back: the remaining compensations run, the failed step does not.
      healthy = true
      const again = failure(yield* runFor(Workflow.run(Pay, { input: 1, runId: "pay" }), "10 seconds"))
      assert.strictEqual(again, "lost parcel", "it ends with the run's failure, as journaled")
      assert.strictEqual(refunds, 4)
      assert.strictEqual(counts.of("undo first"), 1)
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("an interrupted compensation resumes: what finished is not repeated and the failed step is not retried", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const gate = yield* Deferred.make<void>()
      let blocking = true
      const Trip = Workflow.make("trip", { input: Schema.Number }).pipe(
        Workflow.step(
          "hotel",
          { success: Schema.String, compensate: () => counts.hit("undo hotel") },
          () => Effect.succeed("h")
        ),
        Workflow.step("flight", {
          success: Schema.String,
          compensate: () => Effect.andThen(counts.hit("undo flight"), blocking ? Deferred.await(gate) : Effect.void)
        }, () => Effect.succeed("f")),
        Workflow.step(
          "car",
          { success: Schema.String, compensate: () => counts.hit("undo car") },
          () => Effect.succeed("c")
        ),
        Workflow.step(
          "visa",
          { success: Schema.String, retry: { times: 1 } },
          () => Effect.andThen(counts.hit("visa"), Effect.fail("refused"))
        )
      )
      const first = yield* Effect.forkChild(Workflow.run(Trip, { input: 1, runId: "trip" }))
      yield* settle
      assert.deepStrictEqual(counts.snapshot(), { visa: 2, "undo car": 1, "undo flight": 1 })
      yield* Fiber.interrupt(first)
      blocking = false
      const exit = yield* runFor(Workflow.run(Trip, { input: 1, runId: "trip" }))
      assert.isTrue(Exit.isFailure(exit))
      // The flight's compensation had not been journaled: it runs again; the car's had.
      assert.deepStrictEqual(counts.snapshot(), { visa: 2, "undo car": 1, "undo flight": 2, "undo hotel": 1 })
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("StepInfo inside a compensation names its own path, with a key stable across its retries", () =>
    Effect.gen(function*() {
      const seen: Array<Workflow.StepInfo["Service"]> = []
      let tries = 0
      const Undo = Workflow.make("undo", { input: Schema.Number }).pipe(
        Workflow.step("made", {
          success: Schema.Number,
          compensateRetry: { times: 1 },
          compensate: () =>
            Workflow.StepInfo.use((info) => {
              seen.push(info)
              return ++tries === 1 ? Effect.fail("flaky") : Effect.void
            })
        }, (ctx) => Effect.succeed(ctx.input)),
        Workflow.step("fails", { success: Schema.Number }, () => Effect.fail("x"))
      )
      yield* runFor(Workflow.run(Undo, { input: 1, runId: "u1" }))
      assert.deepStrictEqual(seen.map((info) => [info.runId, info.path, info.attempt]), [
        ["u1", "made/compensate", 1],
        ["u1", "made/compensate", 2]
      ])
      assert.strictEqual(seen[0]!.idempotencyKey, seen[1]!.idempotencyKey)
    }).pipe(Effect.provide(memoryLayer())))
})

describe("compensation under a worker", () => {
  it.effect("cancelling a running run compensates what it completed, then ends it cancelled", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const log = makeUndoLog()
      const Book = Workflow.make("book", { input: Schema.Number }).pipe(
        Workflow.step(
          "seat",
          { success: Schema.Number, compensate: log.undo("seat") },
          (ctx) => Effect.succeed(ctx.input)
        ),
        Workflow.step("wait", { success: Schema.Number }, () => Effect.never)
      )
      yield* startWorker({ workflows: [Book] })
      yield* engine.start(Book, { input: 7, runId: "b1" })
      yield* until(Effect.map(statusOf("b1"), (status) => status === "running"))
      yield* settle
      yield* engine.cancel("b1", { reason: "customer changed their mind" })
      yield* until(Effect.map(statusOf("b1"), (status) => status === "cancelled"), 60_000)
      assert.deepStrictEqual(log.paths(), ["seat"])
      assert.strictEqual(log.undone[0]!.output, 7)
      const detail = yield* engine.inspect("b1")
      assert.strictEqual(detail.run.error, "customer changed their mind")
      const ending = JSON.parse(detail.entries.find((e) => e.kind === "compensating")!.value)
      assert.strictEqual(ending.reason, "cancelled")
    }).pipe(Effect.provide(backend())))

  it.effect("cancelling a sleeping run with steps to undo queues it for a worker, which compensates it", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const log = makeUndoLog()
      const Nap = Workflow.make("nap", { input: Schema.Number }).pipe(
        Workflow.step(
          "held",
          { success: Schema.Number, compensate: log.undo("held") },
          (ctx) => Effect.succeed(ctx.input)
        ),
        Workflow.sleep("rest", "1 day")
      )
      const Plain = Workflow.make("plain", { input: Schema.Number }).pipe(Workflow.sleep("rest", "1 day"))
      const worker = yield* startWorker({ workflows: [Nap, Plain] })
      yield* engine.start(Nap, { input: 3, runId: "nap" })
      yield* engine.start(Plain, { input: 3, runId: "plain" })
      yield* until(
        Effect.map(Effect.all([statusOf("nap"), statusOf("plain")]), (s) => s.join() === "sleeping,sleeping")
      )
      yield* worker.stop
      const flagged = yield* engine.cancel("nap")
      assert.strictEqual(flagged.status, "queued", "it has a step to undo: it waits for an executor")
      assert.isTrue(flagged.cancelRequested)
      assert.strictEqual((yield* engine.cancel("plain")).status, "cancelled", "nothing to undo: cancelled at once")
      yield* startWorker({ workflows: [Nap, Plain] })
      yield* until(Effect.map(statusOf("nap"), (status) => status === "cancelled"))
      assert.deepStrictEqual(log.paths(), ["held"])
    }).pipe(Effect.provide(backend())))

  // The window between a run's last step completion and its release as sleeping or waiting: a
  // cancel landing there is not seen by the executor, which is already suspending. The journal
  // holds the release until the test has cancelled, so the cancel lands in that window every time.
  for (const [status, waitOn] of [["sleeping", "a sleep"], ["waiting", "a signal"]] as const) {
    it.effect(`a cancel that lands while a run is suspending on ${waitOn} still compensates each completed step once`, () => {
      const suspending = Deferred.makeUnsafe<void>()
      const proceed = Deferred.makeUnsafe<void>()
      const holdFirstSuspend = (journal: Journal.Journal["Service"]): Journal.Journal["Service"] => ({
        ...journal,
        release: (lease, release) =>
          release.status === status && !Deferred.isDoneUnsafe(suspending)
            ? Effect.andThen(
              Effect.andThen(Deferred.succeed(suspending, undefined), Deferred.await(proceed)),
              journal.release(lease, release)
            )
            : journal.release(lease, release)
      })
      return Effect.gen(function*() {
        const engine = yield* Engine.Engine
        const log = makeUndoLog()
        const Booked = Workflow.make("trip", { input: Schema.Number }).pipe(
          Workflow.step(
            "flight",
            { success: Schema.Number, compensate: log.undo("flight") },
            (ctx) => Effect.succeed(ctx.input)
          ),
          Workflow.step(
            "hotel",
            { success: Schema.String, compensate: log.undo("hotel") },
            (ctx) => Effect.succeed(`room ${ctx.flight}`)
          )
        )
        const Trip = status === "sleeping"
          ? Booked.pipe(Workflow.sleep("rest", "1 day"))
          : Booked.pipe(Workflow.signal("approval", { schema: Schema.Boolean }))
        yield* startWorker({ workflows: [Trip] })
        yield* engine.start(Trip, { input: 4, runId: "trip" })
        yield* until(Effect.sync(() => Deferred.isDoneUnsafe(suspending)))
        const flagged = yield* engine.cancel("trip", { reason: "plans changed" })
        assert.strictEqual(flagged.status, "running", "the executor still holds the run: the cancel is a request")
        assert.isTrue(flagged.cancelRequested)
        yield* Deferred.succeed(proceed, undefined)
        yield* until(Effect.map(statusOf("trip"), (s) => s === "cancelled"))
        assert.deepStrictEqual(log.paths(), ["hotel", "flight"], "each completed step undone once, in reverse")
        assert.deepStrictEqual(log.undone.map((entry) => entry.output), ["room 4", 4])
        const detail = yield* engine.inspect("trip")
        assert.strictEqual(detail.run.error, "plans changed")
        const ending = JSON.parse(detail.entries.find((e) => e.kind === "compensating")!.value)
        assert.strictEqual(ending.reason, "cancelled")
        // Nothing brings it back: a day later it is still cancelled and nothing was undone again.
        yield* until(Effect.succeed(true))
        yield* TestClock.adjust("2 days")
        yield* settle
        assert.strictEqual(yield* statusOf("trip"), "cancelled")
        assert.lengthOf(log.undone, 2)
      }).pipe(Effect.provide(Layer.provideMerge(Engine.layer, memoryLayer(holdFirstSuspend))))
    })
  }
})
