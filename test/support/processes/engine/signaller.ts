/**
 * A signal-sending process: delivers `approval` signals through `Engine.signal`, from outside
 * the workers, as a web handler would.
 *
 * Started as `node --conditions=plait-source test/support/processes/engine/signaller.ts '<SignallerArgs as JSON>'`.
 * Reads one order per stdin line, `<workflow> <runId> <delayMs>`, and sends that run its
 * `approvalFor(runId)` after the delay (orders run concurrently). With `releaseDir`, it first
 * creates the run's release file there (`effects.ts`): a run held until its signal is on its way
 * goes on while the signal is being sent. Prints `Sent <runId> <result>`
 * per signal (`delivered`, or `duplicate` when a retry finds its own first send stored), and
 * `Done` once stdin has closed and every send has ended. A send that fails prints
 * `SendFailed <runId> <error>`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, FiberSet, Layer, Queue, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Readline from "node:readline"
import { Engine } from "plait"
import { type Backend, forProcess, journalLayer } from "./backend.ts"
import { releaseFile, say } from "./effects.ts"
import { approvalFor, ChaosFlow, SignalRaceFlow } from "./flows.ts"

export interface SignallerArgs {
  readonly backend: Backend
  readonly label: string
  readonly releaseDir?: string | undefined
}

const args = JSON.parse(process.argv[2] ?? "") as SignallerArgs

const signalled = { [ChaosFlow.name]: ChaosFlow, [SignalRaceFlow.name]: SignalRaceFlow }

const send = (engine: Engine.Engine["Service"], order: string) =>
  Effect.gen(function*() {
    const [workflow, runId, delay] = order.split(" ")
    const flow = signalled[workflow!]
    if (flow === undefined || runId === undefined) return yield* say(`SendFailed ${runId} unknown order "${order}"`)
    if (args.releaseDir !== undefined) Fs.writeFileSync(releaseFile(args.releaseDir, runId), "")
    yield* Effect.sleep(Number(delay ?? 0))
    const result = yield* engine.signal(flow, runId, "approval", approvalFor(runId)).pipe(
      // The store may be briefly unreachable (SQLite's lock, a busy server): retrying is safe,
      // and a retry of a send that did commit finds it stored.
      Effect.retry({
        while: (error) => error._tag === "JournalError" && error.reason === "Unavailable",
        schedule: Schedule.spaced("50 millis"),
        times: 100
      }),
      Effect.as("delivered"),
      Effect.catchTag("SignalAlreadyDelivered", () => Effect.succeed("duplicate"))
    )
    yield* say(`Sent ${runId} ${result}`)
  }).pipe(Effect.catch((error) => say(`SendFailed ${order} ${error._tag}: ${error.message}`)))

const program = Effect.scoped(Effect.gen(function*() {
  const engine = yield* Engine.Engine
  const orders = yield* Queue.unbounded<string | undefined>()
  Readline.createInterface({ input: process.stdin })
    .on("line", (line) => Queue.offerUnsafe(orders, line))
    .on("close", () => Queue.offerUnsafe(orders, undefined))
  const sends = yield* FiberSet.make()
  yield* say("Ready")
  while (true) {
    const order = yield* Queue.take(orders)
    if (order === undefined) break
    yield* FiberSet.run(sends, send(engine, order))
  }
  yield* FiberSet.awaitEmpty(sends)
  yield* say("Done")
})).pipe(Effect.provide(Engine.layer.pipe(Layer.provide(journalLayer(forProcess(args.backend, args.label))))))

NodeRuntime.runMain(program)
