import { Context, Effect, type Layer, type Option, Redacted, Schema } from "effect"
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

class Sessions extends Context.Service<Sessions, { readonly valid: (id: string) => Effect.Effect<boolean> }>()(
  "test/Sessions"
) {}

describe("Dashboard.layer", () => {
  test("adds routes to an HttpRouter, needs the Engine, and refuses to serve unprotected beyond loopback", () => {
    expect(Dashboard.layer({ workflows: [Flow], authenticate: "none" })).type.toBe<
      Layer.Layer<never, Dashboard.Unprotected, HttpRouter.HttpRouter | Engine.Engine>
    >()
  })

  test("authentication is an explicit choice: a hook, whose services the layer needs, or none", () => {
    // @ts-expect-error Property 'authenticate' is missing
    Dashboard.layer({ workflows: [Flow] })
    expect(
      Dashboard.layer({
        authenticate: (request) => Sessions.use((sessions) => sessions.valid(request.cookies["session"] ?? ""))
      })
    ).type.toBe<Layer.Layer<never, Dashboard.Unprotected, HttpRouter.HttpRouter | Engine.Engine | Sessions>>()
    expect(Dashboard.layer({ authenticate: Dashboard.tokenAuthentication(Redacted.make("t")) })).type.toBe<
      Layer.Layer<never, Dashboard.Unprotected, HttpRouter.HttpRouter | Engine.Engine>
    >()
    // @ts-expect-error Type '"open"' is not assignable
    Dashboard.layer({ authenticate: "open" })
    // @ts-expect-error Type 'Effect<string, never, never>' is not assignable
    Dashboard.layer({ authenticate: () => Effect.succeed("yes") })
  })

  test("a prefix is a path", () => {
    Dashboard.layer({ prefix: "/admin/plait", authenticate: "none" })
    // @ts-expect-error Type '"admin"' is not assignable
    Dashboard.layer({ prefix: "admin", authenticate: "none" })
  })
})

describe("inspect", () => {
  test("an entry's decoded fields are typed: an attempt's exhausted, the compensating entry's ending", () => {
    const entry = {} as Engine.EntryDetail
    expect(entry.exhausted).type.toBe<boolean | undefined>()
    expect(entry.ending).type.toBe<{ readonly reason: "failed" | "cancelled"; readonly error: string } | undefined>()
    // @ts-expect-error Type '"crashed"' is not assignable
    const crashed: NonNullable<Engine.EntryDetail["ending"]> = { reason: "crashed", error: "x" }
    expect(crashed).type.not.toBeAssignableTo<never>()
  })
})
