/**
 * Child workflows on the memory backend, under TestClock: a child is a run of its own, started
 * once, whose final context becomes the parent's; its errors are the parent's. Under
 * `Workflow.run` it runs in the parent's fiber; under a worker the parent waits without holding a
 * worker slot and the child's end wakes it. Cancelling a parent cancels its children.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Schema } from "effect"
import { Engine, Journal, RunStore, Workflow, WorkflowError, WorkflowGraph } from "plait"
import { backend, hasStatus, settle, startWorker, statusOf, until } from "../support/engine.ts"
import { completed, failure, makeCounts, memoryLayer, runFor } from "../support/runs.ts"

class RegionDown extends Schema.TaggedError<RegionDown>()("RegionDown", { region: Schema.String }) {}

const counts = makeCounts()

const Provision = Workflow.make("provision", { input: Schema.Struct({ region: Schema.String }) }).pipe(
  Workflow.step("cluster", { success: Schema.String, error: RegionDown }, (ctx) =>
    counts.run(
      `cluster ${ctx.input.region}`,
      ctx.input.region === "mars"
        ? Effect.fail(new RegionDown({ region: ctx.input.region }))
        : Effect.succeed(`k8s-${ctx.input.region}`)
    )),
  Workflow.step("dns", { success: Schema.String }, (ctx) => Effect.succeed(`${ctx.cluster}.example.com`))
)

const Rollout = Workflow.make("rollout", { input: Schema.Array(Schema.String) }).pipe(
  Workflow.forEach(
    "regions",
    (ctx) => ctx.input,
    Workflow.child("provisioned", Provision, (ctx) => ({ region: ctx.item })),
    {
      concurrency: 3,
      key: (region) => region
    }
  ),
  Workflow.step(
    "summary",
    { success: Schema.String },
    (ctx) => Effect.succeed(ctx.regions.map((region) => region.provisioned.dns).join(" "))
  )
)

const loadRun = (runId: string) =>
  Effect.map(Journal.Journal.use((journal) => journal.load(runId)), (loaded) => Option.getOrThrow(loaded).run)

describe("child workflows under Workflow.run", () => {
  it.effect("each child is a run of its own, started once; its final context is the parent's", () =>
    Effect.gen(function*() {
      const before = counts.snapshot()
      const ctx = completed(yield* runFor(Workflow.run(Rollout, { input: ["eu", "us"], runId: "r1" })))
      assert.deepStrictEqual(ctx.regions[0]!.provisioned, {
        input: { region: "eu" },
        cluster: "k8s-eu",
        dns: "k8s-eu.example.com"
      })
      assert.strictEqual(ctx.summary, "k8s-eu.example.com k8s-us.example.com")
      const child = yield* loadRun("r1/regions[eu]/provisioned")
      assert.strictEqual(child.status, "completed")
      assert.strictEqual(child.parentRunId, "r1")
      assert.strictEqual(child.workflow, "provision")

      // The parent again: it replays, and so do its children; nothing runs twice.
      const again = completed(yield* runFor(Workflow.run(Rollout, { input: ["eu", "us"], runId: "r1" })))
      assert.deepStrictEqual(again, ctx)
      const after = counts.snapshot()
      assert.strictEqual((after["cluster eu"] ?? 0) - (before["cluster eu"] ?? 0), 1)
      assert.strictEqual((after["cluster us"] ?? 0) - (before["cluster us"] ?? 0), 1)
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("a child's failure is the parent's, with the child's type", () =>
    Effect.gen(function*() {
      const error = failure(yield* runFor(Workflow.run(Rollout, { input: ["eu", "mars"], runId: "r2" })))
      assert.instanceOf(error, RegionDown)
      assert.strictEqual((error as RegionDown).region, "mars")
      assert.strictEqual((yield* loadRun("r2/regions[mars]/provisioned")).status, "failed")
      assert.strictEqual((yield* loadRun("r2")).status, "failed")
    }).pipe(Effect.provide(memoryLayer())))

  it.effect("a child waiting for a signal suspends its parent, which completes once the child has its signal", () =>
    Effect.gen(function*() {
      const Approval = Workflow.make("approval", { input: Schema.String }).pipe(
        Workflow.signal("decision", { schema: Schema.Boolean })
      )
      const Request = Workflow.make("request", { input: Schema.String }).pipe(
        Workflow.child("approved", Approval, (ctx) => ctx.input),
        Workflow.step("done", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approved.decision))
      )
      const first = yield* Workflow.run(Request, { input: "laptop", runId: "q1" })
      assert.deepStrictEqual(first, { _tag: "Suspended", runId: "q1", waitingFor: "approved" })
      yield* Workflow.sendSignal(Approval, { runId: "q1/approved", path: "decision", value: true })
      const done = completed(yield* runFor(Workflow.run(Request, { input: "laptop", runId: "q1" })))
      assert.isTrue(done.done)
    }).pipe(Effect.provide(memoryLayer())))
})

describe("cancelling a parent under Workflow.run", () => {
  it.effect("stops the child running in its fiber and ends both cancelled", () =>
    Effect.gen(function*() {
      const finalized = makeCounts()
      const Hang = Workflow.make("hang", { input: Schema.Number }).pipe(
        Workflow.step("forever", { success: Schema.Number }, () =>
          Effect.never.pipe(Effect.ensuring(finalized.hit("forever"))))
      )
      const Parent = Workflow.make("waiter", { input: Schema.Number }).pipe(Workflow.child("hung", Hang, (ctx) =>
        ctx.input))
      const running = yield* Effect.forkChild(
        Workflow.run(Parent, { input: 1, runId: "c1", leaseDuration: "3 seconds" })
      )
      yield* settle
      yield* RunStore.RunStore.use((store) =>
        store.cancel("c1", "abandoned")
      )
      yield* runFor(Effect.void, "2 seconds", "100 millis")
      const error = failure(yield* Fiber.await(running))
      assert.instanceOf(error, WorkflowError.RunCancelled)
      assert.strictEqual(finalized.of("forever"), 1)
      const [parent, child] = yield* Effect.all([loadRun("c1"), loadRun("c1/hung")])
      assert.deepStrictEqual([parent.status, child.status], ["cancelled", "cancelled"])
      assert.strictEqual(child.error, "abandoned")
    }).pipe(Effect.provide(memoryLayer())))
})

describe("child workflows in pictures", () => {
  it("a child is a node of its own kind, from the definition and from a run's stored outline", () => {
    const fromDefinition = WorkflowGraph.flatten(WorkflowGraph.fromWorkflow(Rollout))
    const child = fromDefinition.find((node) => node.kind === "child")!
    assert.deepStrictEqual([child.name, child.path, child.detail], [
      "provisioned",
      "regions[]/provisioned",
      "provision"
    ])
    // The outline a run of Rollout stores.
    const fingerprint = JSON.stringify(["regions foreach", "regions[]/provisioned child", "summary step"])
    const fromOutline = WorkflowGraph.flatten(Option.getOrThrow(WorkflowGraph.fromFingerprint("rollout", fingerprint)))
    assert.deepStrictEqual(fromOutline.map((node) => [node.kind, node.path]), [
      ["forEach", "regions"],
      ["child", "regions[]/provisioned"],
      ["step", "summary"]
    ])
    assert.include(Workflow.toMermaid(Rollout), "[/\"provisioned (child provision)\"/]")
  })
})

describe("child workflows under a worker", () => {
  it.effect("the parent frees its slot while children run: one slot completes a parent and three children", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const gate = yield* Deferred.make<void>()
      const Gated = Workflow.make("gated", { input: Schema.Number }).pipe(
        Workflow.step("opened", { success: Schema.Number }, (ctx) => Effect.as(Deferred.await(gate), ctx.input))
      )
      const Holder = Workflow.make("holder", { input: Schema.Number }).pipe(
        Workflow.child("held", Gated, (ctx) => ctx.input)
      )
      yield* startWorker({ workflows: [Rollout, Holder], concurrency: 1 })
      yield* engine.start(Holder, { input: 1, runId: "h0" })
      yield* until(Effect.map(Effect.all([statusOf("h0"), statusOf("h0/held")]), (s) => s.join() === "waiting,running"))
      const waiting = (yield* engine.inspect("h0")).run
      assert.isUndefined(waiting.owner)
      assert.deepStrictEqual(waiting.waitingFor, ["held"])
      yield* Deferred.succeed(gate, undefined)
      yield* until(hasStatus("h0", "completed"))

      yield* engine.start(Rollout, { input: ["eu", "us", "ap"], runId: "w1" })
      yield* until(hasStatus("w1", "completed"))
      const ctx = yield* engine.await(Rollout, "w1")
      assert.strictEqual(ctx._tag, "Completed")
      assert.strictEqual(
        (ctx as Workflow.Completed<{ readonly summary: string }>).context.summary,
        "k8s-eu.example.com k8s-us.example.com k8s-ap.example.com"
      )
      const children = (yield* engine.list({ workflow: "provision" })).runs
      assert.deepStrictEqual(children.map((run) => run.runId).sort(), [
        "w1/regions[ap]/provisioned",
        "w1/regions[eu]/provisioned",
        "w1/regions[us]/provisioned"
      ])
      for (const child of children) assert.strictEqual(child.executions, 1, `${child.runId} ran once`)
    }).pipe(Effect.provide(backend())))

  it.effect("await on a parent waiting for its children waits for them instead of reporting Suspended", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      yield* engine.start(Rollout, { input: ["eu"], runId: "w2" })
      const awaited = yield* Effect.forkChild(engine.await(Rollout, "w2"))
      yield* startWorker({ workflows: [Rollout] })
      yield* until(hasStatus("w2", "completed"))
      yield* settle
      const outcome = yield* Fiber.join(awaited)
      assert.strictEqual(outcome._tag, "Completed")
    }).pipe(Effect.provide(backend())))

  it.effect("a failed child fails its parent with the child's error; resuming the parent re-drives the child", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      let down = true
      const Flaky = Workflow.make("flaky", { input: Schema.String }).pipe(
        Workflow.step(
          "up",
          { success: Schema.String, error: RegionDown },
          (ctx) => down ? Effect.fail(new RegionDown({ region: ctx.input })) : Effect.succeed(ctx.input)
        )
      )
      const Parent = Workflow.make("parent", { input: Schema.String }).pipe(
        Workflow.child("region", Flaky, (ctx) => ctx.input)
      )
      yield* startWorker({ workflows: [Parent] })
      yield* engine.start(Parent, { input: "eu", runId: "p1" })
      yield* until(hasStatus("p1", "failed"))
      const detail = yield* engine.inspect("p1")
      assert.include(detail.run.error ?? "", "RegionDown")
      const journaled = JSON.parse(detail.entries.find((entry) => entry.kind === "failed")!.value)
      assert.strictEqual(journaled.failure._tag, "RegionDown")
      assert.strictEqual(journaled.failure.region, "eu")

      down = false
      yield* engine.resume("p1")
      assert.strictEqual(yield* statusOf("p1/region"), "queued", "the failed child is queued again with its parent")
      yield* until(hasStatus("p1", "completed"))
    }).pipe(Effect.provide(backend())))

  it.effect("cancelling a parent cancels its children, running or not", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const started = yield* Deferred.make<void>()
      const finalized = makeCounts()
      const Slow = Workflow.make("slow", { input: Schema.Number }).pipe(
        Workflow.step("work", { success: Schema.Number }, () =>
          Effect.andThen(Deferred.succeed(started, undefined), Effect.never).pipe(
            Effect.ensuring(finalized.hit("work"))
          ))
      )
      const Parent = Workflow.make("holder", { input: Schema.Number }).pipe(
        Workflow.parallel("both", {
          one: Workflow.child("one", Slow, (ctx) =>
            ctx.input),
          two: Workflow.child("two", Slow, (ctx) =>
            ctx.input + 1)
        })
      )
      yield* startWorker({ workflows: [Parent], concurrency: 2 })
      yield* engine.start(Parent, { input: 1, runId: "h1" })
      yield* until(Effect.map(Effect.all([statusOf("h1"), statusOf("h1/both/one/one")]), (s) =>
        s.join() === "waiting,running"))
      yield* engine.cancel("h1", { reason: "rollback" })
      yield* until(Effect.map(
        Effect.all([statusOf("h1"), statusOf("h1/both/one/one"), statusOf("h1/both/two/two")]),
        (s) =>
          s.every((status) =>
            status === "cancelled"
          )
      ))
      assert.isAtLeast(finalized.of("work"), 1, "a running child was interrupted")
      assert.strictEqual((yield* engine.inspect("h1/both/two/two")).run.error, "rollback")
    }).pipe(Effect.provide(backend())))

  it.effect("a child failing with a typed error reaches the parent as its error under a worker too", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      yield* startWorker({ workflows: [Rollout] })
      yield* engine.start(Rollout, { input: ["mars"], runId: "w3" })
      yield* until(hasStatus("w3", "failed"))
      const error = failure(yield* Effect.exit(engine.await(Rollout, "w3")))
      assert.instanceOf(error, WorkflowError.RunFailed)
      assert.include((error as WorkflowError.RunFailed).error, "RegionDown")
    }).pipe(Effect.provide(backend())))
})
