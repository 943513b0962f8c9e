/**
 * A settled block's failures are part of its outcome: once the block completes they are
 * journaled, and a resumed run replays them instead of running the failed branches again
 * (which, succeeding now, would change a context that later journaled steps were built on).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result, Schema } from "effect"
import { Journal, Workflow } from "plait"

class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {}
class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { attempt: Schema.Number }) {}

/** The first run fails at `crash` after the settled block; `up` makes every dependency healthy. */
const world = () => {
  const state = { up: false, charged: 0, crashed: false }
  return state
}

describe("settle replays recorded failures", () => {
  it.effect("parallel: a failed branch replays its typed failure and does not run again", () =>
    Effect.gen(function*() {
      const w = world()
      const Checkout = Workflow.make("checkout", { input: Schema.String }).pipe(
        Workflow.parallel("pay", {
          card: Workflow.step("card", { success: Schema.String, error: Declined }, () =>
            Effect.suspend(() => {
              w.charged++
              return w.up ? Effect.succeed("ok") : Effect.fail(new Declined({ reason: "insufficient funds" }))
            })),
          points: Workflow.step("points", { success: Schema.Number }, () => Effect.succeed(10))
        }, { onError: "settle" }),
        Workflow.step("fallback", { success: Schema.Boolean }, (ctx) => Effect.succeed(Result.isFailure(ctx.pay.card))),
        Workflow.step("crash", { success: Schema.Void }, () =>
          Effect.suspend(
            () => (w.crashed ? Effect.void : ((w.crashed = true), Effect.fail(new Flaky({ attempt: 1 }))))
          ))
      )
      const first = yield* Effect.exit(Workflow.run(Checkout, { input: "o-1", runId: "settle-parallel" }))
      assert.isTrue(Exit.isFailure(first))
      w.up = true
      const second = yield* Workflow.run(Checkout, { input: "o-1", runId: "settle-parallel" })
      assert.strictEqual(second._tag, "Completed")
      if (second._tag !== "Completed") {
        return
      }
      assert.strictEqual(w.charged, 1, "the failed card branch ran again on resume")
      const card = second.context.pay.card
      assert.isTrue(Result.isFailure(card))
      if (Result.isFailure(card)) {
        assert.instanceOf(card.failure, Declined)
        assert.strictEqual((card.failure as Declined).reason, "insufficient funds")
      }
      assert.isTrue(second.context.fallback)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("forEach: failed items replay as recorded; without an error schema the failure keeps its fields", () =>
    Effect.gen(function*() {
      const w = world()
      const runs = new Map<number, number>()
      const Batch = Workflow.make("batch", { input: Schema.Array(Schema.Number) }).pipe(
        Workflow.forEach("sent", (ctx) => ctx.input, (n) =>
          Effect.suspend(() => {
            runs.set(n, (runs.get(n) ?? 0) + 1)
            return n % 2 === 0 && !w.up ? Effect.fail(new Declined({ reason: `item ${n}` })) : Effect.succeed(n * 10)
          }), { success: Schema.Number, onError: "settle", concurrency: 2 }),
        Workflow.step(
          "crash",
          { success: Schema.Void },
          () =>
            Effect.suspend(
              () => (w.crashed ? Effect.void : ((w.crashed = true), Effect.fail(new Flaky({ attempt: 1 }))))
            )
        )
      )
      yield* Effect.exit(Workflow.run(Batch, { input: [1, 2, 3, 4], runId: "settle-foreach" }))
      w.up = true
      const second = yield* Workflow.run(Batch, { input: [1, 2, 3, 4], runId: "settle-foreach" })
      if (second._tag !== "Completed") return assert.fail("not completed")
      assert.deepStrictEqual([...runs.values()], [1, 1, 1, 1], "an item ran again on resume")
      const results = second.context.sent
      assert.deepStrictEqual(results.map(Result.isSuccess), [true, false, true, false])
      const failure = results[1]!
      if (Result.isFailure(failure)) {
        const error = failure.failure as unknown as { _tag: string; reason: string }
        assert.strictEqual(error._tag, "Declined")
        assert.strictEqual(error.reason, "item 2")
      }
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a settled block that never completed re-runs its failed branches with a fresh budget", () =>
    Effect.gen(function*() {
      const w = world()
      let attempts = 0
      const Partial = Workflow.make("partial", { input: Schema.String }).pipe(
        Workflow.parallel("both", {
          flaky: Workflow.step("flaky", { success: Schema.String, error: Declined }, () =>
            Effect.suspend(() => {
              attempts++
              return w.up ? Effect.succeed("ok") : Effect.fail(new Declined({ reason: "down" }))
            })),
          // Dies (not a typed failure), so the block ends without settling and nothing is recorded.
          fatal: Workflow.step(
            "fatal",
            { success: Schema.String },
            () => Effect.suspend(() => (w.up ? Effect.succeed("fine") : Effect.die("host lost")))
          )
        }, { onError: "settle" })
      )
      const first = yield* Effect.exit(Workflow.run(Partial, { input: "x", runId: "settle-partial" }))
      assert.isTrue(Exit.isFailure(first))
      w.up = true
      const second = yield* Workflow.run(Partial, { input: "x", runId: "settle-partial" })
      if (second._tag !== "Completed") return assert.fail("not completed")
      assert.strictEqual(attempts, 2)
      assert.isTrue(Result.isSuccess(second.context.both.flaky))
    }).pipe(Effect.provide(Journal.layerMemory)))
})
