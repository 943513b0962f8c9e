/**
 * Journal paths as the public functions read them (`Engine.laneOf`, `Engine.childRunId`,
 * `WorkflowGraph.nodePath`, `itemOf`, `isWithin`), all from the one internal grammar, and the
 * lanes `Engine.inspect` gives real runs: an item is its own lane even when a function body
 * journals its step at the item path, a compensation is drawn in its step's lane, and a child's
 * run id is the one the engine started it under.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Engine, Workflow, WorkflowGraph } from "plait"
import { backend } from "../support/engine.ts"
import { failure, runFor } from "../support/runs.ts"

class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", {}) {}

describe("journal paths", () => {
  it("lanes: a branch, an item (also where a function body journals at the item path), the top level", () => {
    assert.strictEqual(Engine.laneOf("setup/welcome/welcome"), "setup/welcome")
    assert.strictEqual(Engine.laneOf("packed[s0]"), "packed[s0]")
    assert.strictEqual(Engine.laneOf("ship[a/b]/label"), "ship[a/b]")
    assert.strictEqual(Engine.laneOf("ship[a/b]"), "ship[a/b]")
    assert.strictEqual(Engine.laneOf("lines[3]/checks/stock/reserved"), "lines[3]/checks/stock")
    assert.strictEqual(Engine.laneOf("approval"), "")
    assert.strictEqual(Engine.laneOf("x[1]{2}(3)"), "", "a name with brackets that is not an item")
  })

  it("items, containment and graph paths read item keys as data", () => {
    assert.deepStrictEqual(WorkflowGraph.itemOf("ship[order/7]/label"), {
      path: "ship[order/7]",
      forEach: "ship",
      key: "order/7"
    })
    assert.deepStrictEqual(WorkflowGraph.itemOf("outer[2]/inner[a[1]]/x"), {
      path: "outer[2]/inner[a[1]]",
      forEach: "outer[2]/inner",
      key: "a[1]"
    })
    assert.isUndefined(WorkflowGraph.itemOf("setup/welcome"))
    assert.isTrue(WorkflowGraph.isWithin("fastest/origin/fetched", "fastest"))
    assert.isTrue(WorkflowGraph.isWithin("packed[3]", "packed"))
    assert.isTrue(WorkflowGraph.isWithin("packed", "packed"))
    assert.isFalse(WorkflowGraph.isWithin("packedAgain", "packed"))
    assert.isFalse(WorkflowGraph.isWithin("pack", "packed"))
    assert.isTrue(WorkflowGraph.isWithin("square[]/x", "square"), "template paths too")
    assert.strictEqual(WorkflowGraph.nodePath("ship[order/7]/label"), "ship[]/label")
    assert.strictEqual(WorkflowGraph.nodePath("outer[2]/inner[a[1]]/x"), "outer[]/inner[]/x")
  })

  it.effect("inspect: each item of a function-body forEach is a lane; a compensation is in its step's lane", () =>
    Effect.gen(function*() {
      const Packing = Workflow.make("packing", { input: Schema.Array(Schema.String) }).pipe(
        Workflow.forEach("packed", (ctx) => ctx.input, (sku) => Effect.as(Effect.sleep("10 millis"), sku.length), {
          success: Schema.Number,
          concurrency: 2,
          key: (sku) => sku
        }),
        Workflow.parallel("checks", {
          stock: Workflow.step(
            "reserved",
            { success: Schema.Boolean, compensate: () => Effect.void },
            () => Effect.succeed(true)
          ),
          pay: Workflow.step("charged", { success: Schema.Boolean }, () => Effect.succeed(true))
        }),
        Workflow.step("shipped", { success: Schema.Boolean, error: OutOfStock }, () => Effect.fail(new OutOfStock()))
      )
      const exit = yield* runFor(Workflow.run(Packing, { input: ["s0", "s1", "s2"], runId: "pack-1" }), "1 second")
      assert.instanceOf(failure(exit), OutOfStock)
      const { entries } = yield* Engine.Engine.use((engine) => engine.inspect("pack-1"))
      const lanes = entries.filter((entry) => entry.kind === "step").map((entry) => [entry.path, entry.lane])
      assert.deepStrictEqual(lanes.sort(), [
        ["checks/pay/charged", "checks/pay"],
        ["checks/stock/reserved", "checks/stock"],
        ["packed[s0]", "packed[s0]"],
        ["packed[s1]", "packed[s1]"],
        ["packed[s2]", "packed[s2]"]
      ])
      const compensated = entries.find((entry) => entry.kind === "compensated")!
      assert.strictEqual(compensated.path, "checks/stock/reserved/compensate")
      assert.strictEqual(compensated.compensates, "checks/stock/reserved")
      assert.strictEqual(compensated.lane, "checks/stock")
    }).pipe(Effect.provide(backend())))

  it.effect("a step named compensate is not a compensation", () =>
    Effect.gen(function*() {
      const Undo = Workflow.make("undo", { input: Schema.String }).pipe(
        Workflow.parallel("charge", {
          card: Workflow.step("compensate", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
        })
      )
      yield* runFor(Workflow.run(Undo, { input: "x", runId: "undo-1" }))
      const { entries } = yield* Engine.Engine.use((engine) => engine.inspect("undo-1"))
      const step = entries.find((entry) => entry.kind === "step")!
      assert.strictEqual(step.path, "charge/card/compensate")
      assert.isUndefined(step.compensates)
      assert.strictEqual(step.lane, "charge/card")
    }).pipe(Effect.provide(backend())))

  it.effect("Engine.childRunId names the child run the engine started, found by its parent", () =>
    Effect.gen(function*() {
      const Invoice = Workflow.make("invoice", { input: Schema.Number }).pipe(
        Workflow.step("issued", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input))
      )
      const Order = Workflow.make("order", { input: Schema.Array(Schema.Number) }).pipe(
        Workflow.forEach("lines", (ctx) => ctx.input, Workflow.child("invoiced", Invoice, (ctx) => ctx.item), {})
      )
      yield* runFor(Workflow.run(Order, { input: [4, 5], runId: "order-7" }))
      const children = yield* Engine.Engine.use((engine) => engine.list({ parentRunId: "order-7" }))
      assert.deepStrictEqual(children.runs.map((run) => run.runId).sort(), [
        Engine.childRunId("order-7", "lines[0]/invoiced"),
        Engine.childRunId("order-7", "lines[1]/invoiced")
      ])
      assert.deepStrictEqual(children.runs.map((run) => run.parentRunId), ["order-7", "order-7"])
    }).pipe(Effect.provide(backend())))
})
