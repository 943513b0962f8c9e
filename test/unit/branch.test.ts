import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Effect, Schema } from "effect"
import { Journal, Workflow } from "plait"
import { completed, entryAt, failure, makeCounts, runFor, stepPaths } from "../support/runs.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly at: string }> {}

const Input = Schema.Struct({ digital: Schema.Boolean })

describe("branch", () => {
  it.effect("runs only the chosen case, journals the choice and tags the context with the case key", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("branch_basic", { input: Input }).pipe(
        Workflow.branch("route", (ctx) => (ctx.input.digital ? "digital" : "physical"), {
          digital: Workflow.step(
            "link",
            { success: Schema.String },
            () => counts.run("link", Effect.succeed("https://dl"))
          ),
          physical: Workflow.step(
            "label",
            { success: Schema.String },
            () => counts.run("label", Effect.succeed("LBL-1"))
          )
        })
      )
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: { digital: false }, runId: "ship" })))
      assert.deepStrictEqual(ctx.route, { _tag: "physical", label: "LBL-1" })
      assert.deepStrictEqual(counts.snapshot(), { label: 1 })
      assert.strictEqual((yield* entryAt("ship", "choice", "route"))?.value, "\"physical\"")
      assert.deepStrictEqual(yield* stepPaths("ship"), ["route/physical/label"])
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a resume replays the journaled case even when select would now choose the other", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let preferred: "fast" | "careful" = "fast"
      let failing = true
      const Flow = Workflow.make("branch_resume", { input: Input }).pipe(
        Workflow.branch("mode", () => preferred, {
          fast: Workflow.sequence(
            Workflow.step("quick", { success: Schema.Number }, () => counts.run("quick", Effect.succeed(1))),
            Workflow.step(
              "finish",
              { success: Schema.Number },
              (ctx) =>
                counts.run(
                  "finish",
                  Effect.suspend(() =>
                    failing ? Effect.fail(new Boom({ at: "finish" })) : Effect.succeed(ctx.quick + 1)
                  )
                )
            )
          ),
          careful: Workflow.step("slow", { success: Schema.Number }, () => counts.run("slow", Effect.succeed(100)))
        })
      )
      // The run fails inside the chosen case, after the choice was journaled.
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: { digital: true }, runId: "mode" }))), Boom)

      preferred = "careful"
      failing = false
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: { digital: true }, runId: "mode" })))
      assert.deepStrictEqual(ctx.mode, { _tag: "fast", quick: 1, finish: 2 })
      assert.deepStrictEqual(counts.snapshot(), { quick: 1, finish: 2 })

      // A fresh run with the same select does take the other case.
      const fresh = completed(yield* runFor(Workflow.run(Flow, { input: { digital: true }, runId: "mode-fresh" })))
      assert.deepStrictEqual(fresh.mode, { _tag: "careful", slow: 100 })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("cases nest other combinators, journaled under name/case/...", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("branch_nested", { input: Input }).pipe(
        Workflow.step("order", { success: Schema.String }, () => Effect.succeed("o-1")),
        Workflow.branch("route", (ctx) => (ctx.input.digital ? "digital" : "physical"), {
          digital: Workflow.step("link", { success: Schema.String }, () => Effect.succeed("https://dl")),
          physical: Workflow.sequence(
            Workflow.parallel("prepare", {
              label: Workflow.step("label", { success: Schema.String }, (ctx) => Effect.succeed(`LBL-${ctx.order}`)),
              box: Workflow.step("box", { success: Schema.String }, () => Effect.as(Effect.sleep("1 second"), "M"))
            }),
            Workflow.step("ship", { success: Schema.String }, (ctx) => Effect.succeed(`${ctx.label} in ${ctx.box}`))
          )
        })
      )
      const ctx = completed(
        yield* runFor(Workflow.run(Flow, { input: { digital: false }, runId: "nested" }), "1 second")
      )
      assert.deepStrictEqual(ctx.route, { _tag: "physical", label: "LBL-o-1", box: "M", ship: "LBL-o-1 in M" })
      assert.deepStrictEqual(yield* stepPaths("nested"), [
        "order",
        "route/physical/prepare/box/box",
        "route/physical/prepare/label/label",
        "route/physical/ship"
      ])
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a select that returns no case dies with a message naming the branch, and nothing is journaled", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("branch_unknown_case", { input: Input }).pipe(
        Workflow.branch("route", () => "teleport" as "digital", {
          digital: Workflow.step("link", { success: Schema.String }, () => Effect.succeed("https://dl"))
        })
      )
      const exit = yield* runFor(Workflow.run(Flow, { input: { digital: true }, runId: "lost" }))
      if (exit._tag === "Success") return assert.fail("an unknown case was accepted")
      assert.isTrue(Cause.hasDies(exit.cause))
      const message = Cause.pretty(exit.cause)
      assert.include(message, "route")
      assert.include(message, "teleport")
      assert.isUndefined(yield* entryAt("lost", "choice", "route"))
    }).pipe(Effect.provide(Journal.layerMemory)))
})
