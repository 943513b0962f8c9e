/**
 * Multi-region child workflows: a rollout provisions every region as a child run of its own and
 * summarizes their contexts. Runnable:
 *
 *   npm run example -- examples/multiRegion.ts
 *
 * The engine starts the rollout and a worker executes it, on an SQLite file. The worker has one
 * slot, and that is enough: the parent does not hold it while its children run (they run one
 * after the other here; with more slots, at once). Each child's end wakes the parent, and each
 * child is listed as a run of its own, named after its parent and its path.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Engine, SqliteJournal, Worker, Workflow } from "plait"

const work = <A>(value: A) => Effect.as(Effect.sleep("300 millis"), value)

const ProvisionRegion = Workflow.make("provision_region", { input: Schema.Struct({ region: Schema.String }) }).pipe(
  Workflow.step("cluster", { success: Schema.String }, (ctx) => work(`k8s-${ctx.input.region}`)),
  Workflow.parallel("services", {
    database: Workflow.step("database", { success: Schema.String }, (ctx) => work(`pg.${ctx.cluster}`)),
    cache: Workflow.step("cache", { success: Schema.String }, (ctx) => work(`redis.${ctx.cluster}`))
  }),
  Workflow.step("endpoint", { success: Schema.String }, (ctx) => work(`https://${ctx.input.region}.example.com`))
)

const Rollout = Workflow.make("rollout", {
  input: Schema.Struct({ release: Schema.String, regions: Schema.Array(Schema.String) })
}).pipe(
  Workflow.forEach(
    "regions",
    (ctx) => ctx.input.regions,
    Workflow.child("provisioned", ProvisionRegion, (ctx) => ({ region: ctx.item })),
    { concurrency: 3, key: (region) => region }
  ),
  Workflow.step(
    "summary",
    { success: Schema.Array(Schema.String) },
    (ctx) =>
      Effect.succeed(ctx.regions.map((region) => `${region.provisioned.input.region}: ${region.provisioned.endpoint}`))
  )
)

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-multi-region-"))

const program = Effect.gen(function*() {
  const engine = yield* Engine.Engine
  yield* Worker.make({ workflows: [Rollout], concurrency: 1 })
  const run = yield* engine.start(Rollout, {
    input: { release: "v42", regions: ["eu-west", "us-east", "ap-south"] },
    runId: "rollout-v42"
  })
  yield* Console.log(`started ${run.runId}`)
  const outcome = yield* engine.await(Rollout, run.runId)
  if (outcome._tag === "Completed") {
    yield* Console.log("summary:")
    for (const line of outcome.context.summary) yield* Console.log(`  ${line}`)
  }
  const children = yield* engine.list({ workflow: "provision_region" })
  yield* Console.log("child runs:")
  for (const child of children.runs) {
    yield* Console.log(`  ${child.runId}: ${child.status} (parent ${child.parentRunId})`)
  }
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.provideMerge(Engine.layer, SqliteJournal.layer({ filename: Path.join(dir, "journal.sqlite") }))),
  Effect.ensuring(Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
)

NodeRuntime.runMain(program)
