/**
 * The testing kit's replay of exported runs, through the public entry point: `exportRun`,
 * `importRun` and `replay` on memory journals, with definitions that still replay a run and
 * definitions that do not, each refused at the first path that differs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import { Testing } from "plait/testing"

class Declined extends Schema.TaggedError<Declined>()("Declined", { code: Schema.String }) {}
class Boom extends Data.TaggedError("Boom")<{}> {}

/** Counts the step bodies that ran: a replay must run none. */
const ran: Array<string> = []
const body = <A>(name: string, value: A) => () => Effect.sync(() => (ran.push(name), value))

const Provision = Workflow.make("provision", { input: Schema.String }).pipe(
  Workflow.step("cluster", { success: Schema.String }, (ctx) => Effect.succeed(`k8s-${ctx.input}`))
)

const order = (
  options: {
    readonly items?: (ctx: { readonly input: number }) => ReadonlyArray<number>
    readonly total?: Schema.Codec<number, any, never, never>
    readonly route?: (ctx: { readonly input: number }) => "express" | "standard"
    readonly last?: "shipped" | "sent"
  } = {}
) =>
  Workflow.make("order", { input: Schema.Number }).pipe(
    Workflow.step("total", { success: options.total ?? Schema.Number }, body("total", 30)),
    Workflow.forEach("lines", options.items ?? ((ctx) => [ctx.input, ctx.input + 1, ctx.input + 2]), (n) =>
      Effect.sync(() => (ran.push(`line ${n}`), n * 2)), { success: Schema.Number }),
    Workflow.branch(
      "route",
      options.route ?? (() =>
        "express"),
      {
        express: Workflow.step("courier", { success: Schema.String }, body("courier", "DHL")),
        standard: Workflow.step("post", { success: Schema.String }, body("post", "mail"))
      }
    ),
    Workflow.child("region", Provision, () =>
      "eu"),
    Workflow.signal("approval", { schema: Schema.Boolean }),
    Workflow.step(options.last ?? "shipped", { success: Schema.Boolean }, (ctx) =>
      Effect.sync(() => (ran.push("last"), ctx.approval)))
  )

/** A run of `order()` on a memory journal, exported: completed, or waiting for its approval. */
const exported = (approve: boolean) =>
  Effect.gen(function*() {
    const memory = Journal.makeMemory()
    yield* Testing.run(order(), {
      input: 1,
      runId: "order-1",
      memory,
      signals: approve ? [{ path: "approval", value: true }] : []
    })
    const run = yield* Testing.exportRun("order-1").pipe(Effect.provideService(Journal.Journal, memory.journal))
    // Through JSON, as a file committed beside the test would be.
    return JSON.parse(JSON.stringify(Schema.encodeSync(Testing.ExportedRun)(run))) as unknown
  })

const replaying = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    ran.length = 0
    const result = yield* effect
    assert.deepStrictEqual(ran, [], "a replay ran a step")
    return result
  })

describe("Testing.exportRun", () => {
  it.effect("writes the run, its entries and its child run; RunNotFound for a run the journal lacks", () =>
    Effect.gen(function*() {
      const run = yield* exported(true) as Effect.Effect<any>
      assert.strictEqual(run.format, "plait/run")
      assert.strictEqual(run.version, 1)
      assert.strictEqual(run.run.status, "completed")
      assert.deepStrictEqual(run.children.map((child: any) => child.run.runId), ["order-1/region"])
      assert.strictEqual(run.children[0].run.parentRunId, "order-1")
      const missing = yield* Effect.flip(Testing.exportRun("nope").pipe(Effect.provide(Journal.layerMemory)))
      assert.instanceOf(missing, WorkflowError.RunNotFound)
    }))
})

describe("Testing.replay", () => {
  it.effect("the same definition replays a completed run to its end, running nothing", () =>
    Effect.gen(function*() {
      const run = yield* exported(true)
      const report = yield* replaying(Testing.replay(order(), run))
      assert.strictEqual(report.status, "completed")
      assert.deepStrictEqual(report.reached, {
        _tag: "Completed",
        context: {
          input: 1,
          total: 30,
          lines: [2, 4, 6],
          route: { _tag: "express", courier: "DHL" },
          region: { input: "eu", cluster: "k8s-eu" },
          approval: true,
          shipped: true
        }
      })
      assert.deepStrictEqual(report.replayed, [
        "total",
        "lines[0]",
        "lines[1]",
        "lines[2]",
        "route/express/courier",
        "shipped"
      ])
    }))

  it.effect("a run waiting for a signal replays to that signal", () =>
    Effect.gen(function*() {
      const report = yield* replaying(Testing.replay(order(), yield* exported(false)))
      assert.strictEqual(report.status, "waiting")
      assert.deepStrictEqual(report.reached, { _tag: "Waiting", paths: ["approval"] })
    }))

  it.effect("changes that keep the structure replay: new step code, a changed select (the choice is journaled)", () =>
    Effect.gen(function*() {
      const report = yield* replaying(Testing.replay(order({ route: () => "standard" }), yield* exported(true)))
      assert.strictEqual(report.reached._tag, "Completed")
    }))

  it.effect("a renamed step fails with DefinitionChanged at its path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Testing.replay(order({ last: "sent" }), yield* exported(true)))
      assert.instanceOf(error, WorkflowError.DefinitionChanged)
      assert.strictEqual((error as WorkflowError.DefinitionChanged).path, "sent")
      assert.strictEqual((error as WorkflowError.DefinitionChanged).stored, "shipped step")
    }))

  it.effect("a schema that no longer decodes a journaled output fails with JournalError Corrupt at its path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Testing.replay(order({ total: Schema.Number.check(Schema.isLessThan(10)) }), yield* exported(true))
      )
      assert.instanceOf(error, WorkflowError.JournalError)
      assert.strictEqual((error as WorkflowError.JournalError).reason, "Corrupt")
      assert.strictEqual((error as WorkflowError.JournalError).path, "total")
    }))

  it.effect("items that changed: ReplayDiverged at the first journaled item the definition no longer reaches", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        replaying(Testing.replay(order({ items: (ctx) => [ctx.input, ctx.input + 1] }), yield* exported(true)))
      )
      assert.instanceOf(error, Testing.ReplayDiverged)
      assert.strictEqual((error as Testing.ReplayDiverged).runId, "order-1")
      assert.strictEqual((error as Testing.ReplayDiverged).path, "lines[2]")
    }))

  it.effect("an export without its child run stops at the child: the steps after it are not reached", () =>
    Effect.gen(function*() {
      const run = (yield* exported(true)) as { readonly children: ReadonlyArray<unknown> }
      const error = yield* Effect.flip(Testing.replay(order(), { ...run, children: [] }))
      assert.instanceOf(error, Testing.ReplayDiverged)
      assert.strictEqual((error as Testing.ReplayDiverged).path, "shipped")
      assert.include((error as Testing.ReplayDiverged).detail, "stops at region")
    }))

  it.effect("a failed run replays to its failure, typed through the step's error schema", () =>
    Effect.gen(function*() {
      const Charge = Workflow.make("charge", { input: Schema.Number }).pipe(
        Workflow.step("card", { success: Schema.String, error: Declined, retry: { times: 1 } }, () =>
          Effect.fail(new Declined({ code: "expired" })))
      )
      const memory = Journal.makeMemory()
      yield* Testing.run(Charge, { input: 5, runId: "charge-1", memory })
      const run = yield* Testing.exportRun("charge-1").pipe(Effect.provideService(Journal.Journal, memory.journal))
      const report = yield* Testing.replay(Charge, run)
      assert.strictEqual(report.status, "failed")
      assert.strictEqual(report.reached._tag, "Failed")
      assert.instanceOf(report.reached._tag === "Failed" ? report.reached.error : undefined, Declined)
    }))

  it.effect("another workflow's run is a RunConflict; a value that is not an export, JournalError Corrupt", () =>
    Effect.gen(function*() {
      const run = yield* exported(true)
      assert.instanceOf(yield* Effect.flip(Testing.replay(Provision, run)), WorkflowError.RunConflict)
      const garbage = yield* Effect.flip(Testing.replay(order(), { format: "plait/run", run: { runId: "x" } }))
      assert.instanceOf(garbage, WorkflowError.JournalError)
      assert.include((garbage as WorkflowError.JournalError).detail, "not a plait run export")
    }))
})

describe("Testing.importRun", () => {
  it.effect("loads an exported waiting run into a memory journal, where Testing.run resumes it", () =>
    Effect.gen(function*() {
      const run = yield* exported(false)
      const memory = Journal.makeMemory()
      const imported = yield* Testing.importRun(run).pipe(Effect.provideService(Journal.Journal, memory.journal))
      assert.strictEqual(imported.run.status, "waiting")
      ran.length = 0
      const report = yield* Testing.run(order(), {
        input: 1,
        runId: "order-1",
        memory,
        signals: [{ path: "approval", value: false }]
      })
      const outcome = yield* report.exit
      assert.isTrue(outcome._tag === "Completed" && outcome.context.shipped === false)
      // Only what came after the signal ran; the rest replayed from the imported journal.
      assert.deepStrictEqual(ran, ["last"])
      const again = yield* Effect.flip(
        Testing.importRun(run).pipe(Effect.provideService(Journal.Journal, memory.journal))
      )
      assert.strictEqual(again.reason, "Conflict")
    }))

  it.effect("a run that failed with a defect stops its replay at the step that died", () =>
    Effect.gen(function*() {
      const Dies = Workflow.make("dies", { input: Schema.Number }).pipe(
        Workflow.step("ok", { success: Schema.Number }, () => Effect.succeed(1)),
        Workflow.step("dies", { success: Schema.Number }, () => Effect.die(new Boom()))
      )
      const memory = Journal.makeMemory()
      yield* Testing.run(Dies, { input: 1, runId: "dies-1", memory })
      const run = yield* Testing.exportRun("dies-1").pipe(Effect.provideService(Journal.Journal, memory.journal))
      const report = yield* Testing.replay(Dies, run)
      assert.strictEqual(report.status, "failed")
      assert.deepStrictEqual(report.reached, { _tag: "Waiting", paths: ["dies"] })
    }))
})
