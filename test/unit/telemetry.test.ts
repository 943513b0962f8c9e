/**
 * plait's spans exported through `@effect/opentelemetry` to an in-memory exporter: one tree per
 * run (run, blocks, steps, attempts) with the run id, path, attempt and replayed attributes, and
 * no value marked `Redacted` in any span or log line.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { assert, describe, it } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Data, Effect, Layer, Logger, Redacted, References, Schema } from "effect"
import { Engine, Journal, Worker, Workflow } from "plait"

const secret = "s3cret-token-42"

class Leaky extends Data.TaggedError("Leaky")<{ readonly token: Redacted.Redacted<string> }> {}

let fetches = 0
const Sync = Workflow.make("sync", { input: Schema.String }).pipe(
  Workflow.step(
    "fetch",
    { success: Schema.String, retry: { times: 1 } },
    () =>
      Effect.suspend(
        () => (++fetches % 2 === 1 ? Effect.fail(new Leaky({ token: Redacted.make(secret) })) : Effect.succeed("data"))
      )
  ),
  Workflow.parallel("store", {
    db: Workflow.step("db", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.fetch.length > 0)),
    cache: Workflow.step(
      "cache",
      { success: Schema.Boolean },
      () => Effect.as(Effect.logInfo("caching", Redacted.make(secret)), true)
    )
  }),
  Workflow.forEach("notify", () => ["a", "b"], (to) => Effect.succeed(`sent ${to}`), { success: Schema.String })
)

const tracing = () => {
  const exporter = new InMemorySpanExporter()
  const layer = NodeSdk.layer(() => ({
    resource: { serviceName: "plait-test" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))
  return { exporter, layer }
}

const logs: Array<string> = []
const capturingLogger = Logger.layer([
  Logger.make((options) => {
    logs.push(`${JSON.stringify(options.message)} ${String(options.cause)}`)
  })
])

const plaitSpans = (exporter: InMemorySpanExporter) =>
  exporter.getFinishedSpans().filter((span) => span.name.startsWith("plait."))
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

describe("telemetry", () => {
  it.live("a run is one span tree: run, blocks, steps, attempts, with run id, path, attempt and replayed", () =>
    Effect.gen(function*() {
      const { exporter, layer } = tracing()
      // Read before the layer closes: shutting the provider down empties the in-memory exporter.
      const spans = yield* Effect.gen(function*() {
        yield* Workflow.run(Sync, { input: "x", runId: "sync-1" })
        yield* Workflow.run(Sync, { input: "x", runId: "sync-1" })
        return plaitSpans(exporter)
      }).pipe(Effect.provide(Layer.mergeAll(layer, Journal.layerMemory)))
      const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
      const roots = spans.filter((span) => span.name === "plait.run")
      assert.strictEqual(roots.length, 2, "one root per execution")
      for (const root of roots) {
        assert.strictEqual(root.attributes["plait.run_id"], "sync-1")
        assert.strictEqual(root.attributes["plait.workflow"], "sync")
      }
      const [first, second] = roots.sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
      const rootOf = (span: ReadableSpan): ReadableSpan => {
        const parent = byId.get(parentOf(span) ?? "")
        return parent === undefined ? span : rootOf(parent)
      }
      for (const span of spans) assert.include(roots, rootOf(span), `${span.name} belongs to a run's tree`)
      const inFirst = spans.filter((span) => rootOf(span) === first)
      const named = (name: string, path: string) =>
        inFirst.filter((span) => span.name === name && span.attributes["plait.path"] === path)

      const fetch = named("plait.step", "fetch")
      assert.strictEqual(fetch.length, 1)
      assert.deepStrictEqual(fetch[0]!.attributes, {
        "plait.run_id": "sync-1",
        "plait.path": "fetch",
        "plait.attempt": 2,
        "plait.replayed": false
      })
      const attempts = inFirst.filter((span) =>
        span.name === "plait.attempt" && span.attributes["plait.path"] === "fetch"
      )
      assert.deepStrictEqual(attempts.map((span) => span.attributes["plait.attempt"]).sort(), [1, 2])
      for (const attempt of attempts) assert.strictEqual(parentOf(attempt), fetch[0]!.spanContext().spanId)

      const store = named("plait.parallel", "store")[0]!
      assert.strictEqual(parentOf(store), first!.spanContext().spanId)
      assert.strictEqual(parentOf(named("plait.step", "store/db/db")[0]!), store.spanContext().spanId)
      const notify = named("plait.forEach", "notify")[0]!
      assert.strictEqual(parentOf(named("plait.step", "notify[1]")[0]!), notify.spanContext().spanId)

      const replayed = spans.filter((span) => rootOf(span) === second && span.name === "plait.step")
      assert.isAbove(replayed.length, 0)
      for (const span of replayed) assert.strictEqual(span.attributes["plait.replayed"], true)
    }))

  it.live("no Redacted value reaches a span or a log, under Workflow.run and under a worker", () =>
    Effect.gen(function*() {
      const { exporter, layer } = tracing()
      logs.length = 0
      const exported = yield* Effect.gen(function*() {
        yield* Workflow.run(Sync, { input: "y", runId: "sync-2" })
        const engine = yield* Engine.Engine
        yield* Effect.scoped(Effect.gen(function*() {
          yield* Worker.make({ workflows: [Sync], pollInterval: "10 millis" })
          yield* engine.start(Sync, { input: "z", runId: "sync-3" })
          yield* engine.await(Sync, "sync-3")
        }))
        return exporter.getFinishedSpans()
      }).pipe(
        Effect.provide(Layer.mergeAll(layer, Layer.provideMerge(Engine.layer, Journal.layerMemory), capturingLogger)),
        Effect.provideService(References.MinimumLogLevel, "All")
      )
      const text = JSON.stringify(
        exported.map((span) => ({
          name: span.name,
          attributes: span.attributes,
          events: span.events,
          status: span.status
        }))
      )
      assert.include(text, "Leaky", "the failed attempt is recorded on its span")
      assert.notInclude(text, secret)
      assert.isAbove(logs.length, 0)
      assert.notInclude(logs.join("\n"), secret)
    }))
})
