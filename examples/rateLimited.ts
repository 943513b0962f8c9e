/**
 * A rate-limited fan-out: two orders geocode their delivery addresses, each with up to eight calls
 * at once, but the geocoding API allows three calls in flight per account, across every worker.
 * A global limit on the step keeps it at three, whatever the number of workers and runs. Runnable:
 *
 *   npm run example -- examples/rateLimited.ts
 *
 * Two workers share one SQLite file (as two processes would); the stand-in API counts the calls
 * in flight and reports the most it saw.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Engine, SqliteJournal, Worker, Workflow } from "plait"

class Geocoder extends Context.Service<Geocoder, {
  readonly locate: (address: string) => Effect.Effect<string>
}>()("rateLimited/Geocoder") {}

const Delivery = Workflow.make("delivery", {
  input: Schema.Struct({ order: Schema.String, addresses: Schema.Array(Schema.String) })
}).pipe(
  Workflow.forEach(
    "points",
    (ctx) => ctx.input.addresses,
    (address) => Geocoder.use((geocoder) => geocoder.locate(address)),
    {
      success: Schema.String,
      concurrency: 8,
      limit: { key: "geocoding-api", max: 3 }
    }
  ),
  Workflow.step(
    "route",
    { success: Schema.String },
    (ctx) => Effect.succeed(`${ctx.input.order}: ${ctx.points.length} stops`)
  )
)

/** The API stand-in: a call takes a moment; it counts the calls in flight and the most there were. */
const calls = { inFlight: 0, most: 0, total: 0 }

const GeocoderLive = Layer.succeed(
  Geocoder,
  Geocoder.of({
    locate: (address) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          calls.total++
          calls.most = Math.max(calls.most, ++calls.inFlight)
        }),
        () => Effect.as(Effect.sleep("150 millis"), `${address} -> 48.8${address.length},2.3${address.length}`),
        () => Effect.sync(() => void calls.inFlight--)
      )
  })
)

const addresses = (order: string) => Array.from({ length: 8 }, (_, i) => `${i + 1} ${order} Street`)

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-rate-limited-"))

const program = Effect.gen(function*() {
  const engine = yield* Engine.Engine
  yield* Worker.make({ workflows: [Delivery], workerId: "worker-a" })
  yield* Worker.make({ workflows: [Delivery], workerId: "worker-b" })
  const orders = ["A-1", "B-2"]
  for (const order of orders) {
    yield* engine.start(Delivery, { input: { order, addresses: addresses(order) }, runId: `delivery-${order}` })
  }
  for (const order of orders) {
    const outcome = yield* engine.await(Delivery, `delivery-${order}`)
    if (outcome._tag === "Completed") {
      yield* Console.log(`${outcome.context.route}; first: ${outcome.context.points[0]}`)
    }
  }
  yield* Console.log(`${calls.total} geocoding calls by two workers, at most ${calls.most} at once`)
}).pipe(
  Effect.scoped,
  Effect.provide(
    Layer.provideMerge(Engine.layer, SqliteJournal.layer({ filename: Path.join(dir, "journal.sqlite") })).pipe(
      Layer.merge(GeocoderLive)
    )
  ),
  Effect.ensuring(Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
)

NodeRuntime.runMain(program)
