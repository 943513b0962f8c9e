import { Effect, type Layer, type Option, Schema } from "effect"
import type { HttpRouter } from "effect/http"
import { type Engine, Workflow, WorkflowGraph } from "plait"
import { Dashboard } from "plait/dashboard"
import { describe, expect, test } from "tstyche"

const Flow = Workflow.make("flow", { input: Schema.String }).pipe(
  Workflow.step("a", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
)

describe("graphs", () => {
  test("toMermaid takes a workflow and returns text", () => {
    expect(Workflow.toMermaid(Flow)).type.toBe<string>()
    // @ts-expect-error Argument of type 'string' is not assignable
    Workflow.toMermaid("flow")
  })

  test("a graph comes from a definition, or optionally from a stored outline", () => {
    expect(WorkflowGraph.fromWorkflow(Flow)).type.toBe<WorkflowGraph.Graph>()
    expect(WorkflowGraph.fromFingerprint("flow", "[]")).type.toBe<Option.Option<WorkflowGraph.Graph>>()
    expect(WorkflowGraph.toMermaid(WorkflowGraph.fromWorkflow(Flow), { direction: "LR" })).type.toBe<string>()
    // @ts-expect-error Type '"BT"' is not assignable
    WorkflowGraph.toMermaid(WorkflowGraph.fromWorkflow(Flow), { direction: "BT" })
  })
})

describe("Dashboard.layer", () => {
  test("adds routes to an HttpRouter and needs the Engine", () => {
    expect(Dashboard.layer({ workflows: [Flow] })).type.toBe<
      Layer.Layer<never, never, HttpRouter.HttpRouter | Engine.Engine>
    >()
  })

  test("a prefix is a path", () => {
    Dashboard.layer({ prefix: "/admin/plait" })
    // @ts-expect-error Type '"admin"' is not assignable
    Dashboard.layer({ prefix: "admin" })
  })
})
