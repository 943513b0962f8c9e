import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import { completed, entryAt, failure, makeCounts, runFor, stepPaths } from "../support/runs.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly at: string }> {}

describe("chord", () => {
  it.effect("the callback runs after every branch and sees each branch's output; a resume replays it all", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let seen: ReadonlyArray<string> = []
      const Flow = Workflow.make("chord_basic", { input: Schema.Number }).pipe(
        Workflow.chord("total", {
          a: Workflow.step(
            "a",
            { success: Schema.Number },
            (ctx) => counts.run("a", Effect.as(Effect.sleep("2 seconds"), ctx.input))
          ),
          b: Workflow.step("b", { success: Schema.Number }, (ctx) => counts.run("b", Effect.succeed(ctx.input * 10))),
          c: Workflow.sequence(
            Workflow.step(
              "c1",
              { success: Schema.Number },
              () => counts.run("c1", Effect.as(Effect.sleep("1 second"), 100))
            ),
            Workflow.step("c2", { success: Schema.Number }, (ctx) => counts.run("c2", Effect.succeed(ctx.c1 + 1)))
          )
        }, (ctx) =>
          counts.run(
            "total",
            Effect.sync(() => {
              seen = Object.keys(ctx).sort()
              return ctx.a + ctx.b + ctx.c2
            })
          ), { success: Schema.Number })
      )
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 2, runId: "chord" }), "2 seconds"))
      assert.deepStrictEqual(ctx, { input: 2, a: 2, b: 20, c1: 100, c2: 101, total: 123 })
      assert.deepStrictEqual(seen, ["a", "b", "c1", "c2", "input"])
      assert.strictEqual((yield* entryAt("chord", "step", "total"))?.value, "123")
      assert.deepStrictEqual(yield* stepPaths("chord"), ["total", "total/a/a", "total/b/b", "total/c/c1", "total/c/c2"])

      const before = counts.snapshot()
      const replayed = completed(yield* runFor(Workflow.run(Flow, { input: 2, runId: "chord" })))
      assert.deepStrictEqual(replayed, ctx)
      assert.deepStrictEqual(counts.snapshot(), before)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a callback that failed re-runs on resume over the replayed branch outputs", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let failing = true
      const Flow = Workflow.make("chord_callback_fails", { input: Schema.Number }).pipe(
        Workflow.chord("best", {
          a: Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(3))),
          b: Workflow.step("b", { success: Schema.Number }, () => counts.run("b", Effect.succeed(5)))
        }, (ctx) =>
          counts.run(
            "best",
            Effect.suspend(() =>
              failing ? Effect.fail(new Boom({ at: "best" })) : Effect.succeed(Math.max(ctx.a, ctx.b))
            )
          ), { success: Schema.Number })
      )
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "cb" }))), Boom)
      failing = false
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "cb" })))
      assert.deepStrictEqual(ctx, { input: 0, a: 3, b: 5, best: 5 })
      assert.deepStrictEqual(counts.snapshot(), { a: 1, b: 1, best: 2 })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a failing branch fails the chord and the callback never runs", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("chord_branch_fails", { input: Schema.Number }).pipe(
        Workflow.chord("sum", {
          a: Workflow.step("a", { success: Schema.Number }, () =>
            Effect.fail(new Boom({ at: "a" }))),
          b: Workflow.step("b", { success: Schema.Number }, () =>
            Effect.as(Effect.sleep("1 second"), 1).pipe(Effect.onInterrupt(() => counts.hit("b.interrupted"))))
        }, (ctx) =>
          counts.run("sum", Effect.succeed(ctx.a + ctx.b)), { success: Schema.Number })
      )
      const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "bf" }), "1 second"))
      assert.strictEqual((error as Boom).at, "a")
      assert.strictEqual(counts.of("b.interrupted"), 1)
      assert.strictEqual(counts.of("sum"), 0)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("under completeAll every branch runs and the chord fails with ParallelFailure before the callback", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("chord_complete_all", { input: Schema.Number }).pipe(
        Workflow.chord(
          "sum",
          {
            a: Workflow.step("a", { success: Schema.Number }, () => Effect.fail(new Boom({ at: "a" }))),
            b: Workflow.step(
              "b",
              { success: Schema.Number },
              () => counts.run("b", Effect.as(Effect.sleep("1 second"), 1))
            )
          },
          () => counts.run("sum", Effect.succeed(0)),
          { success: Schema.Number, onError: "completeAll" }
        )
      )
      const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "ca" }), "1 second"))
      assert.instanceOf(error, WorkflowError.ParallelFailure)
      assert.deepStrictEqual((error as WorkflowError.ParallelFailure).successes, { b: { b: 1 } })
      assert.strictEqual(counts.of("b"), 1)
      assert.strictEqual(counts.of("sum"), 0)
    }).pipe(Effect.provide(Journal.layerMemory)))
})
