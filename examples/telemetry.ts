/**
 * plait's spans exported with @effect/opentelemetry, printed by the console exporter:
 *
 *   node --conditions=plait-source examples/telemetry.ts
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { NodeRuntime } from "@effect/platform-node"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Schema } from "effect"
import { Journal, Workflow } from "plait"

let attempts = 0

const Signup = Workflow.make("signup", { input: Schema.String }).pipe(
  Workflow.step("user", { success: Schema.String }, (ctx) => Effect.succeed(`user-${ctx.input}`)),
  Workflow.parallel("setup", {
    mail: Workflow.step("mail", { success: Schema.Boolean }, () => Effect.succeed(true)),
    billing: Workflow.step(
      "billing",
      { success: Schema.Boolean, retry: { times: 1 } },
      () => Effect.suspend(() => (++attempts === 1 ? Effect.fail("card declined") : Effect.succeed(true)))
    )
  })
)

const Tracing = NodeSdk.layer(() => ({
  resource: { serviceName: "plait-example" },
  spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter())
}))

Workflow.run(Signup, { input: "ada", runId: "signup-ada" }).pipe(
  Effect.provide(Layer.mergeAll(Tracing, Journal.layerMemory)),
  NodeRuntime.runMain
)
