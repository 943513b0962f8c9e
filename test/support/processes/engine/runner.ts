/**
 * A process calling `Workflow.run` on `GateFlow`, for the test of two executors of one run id.
 *
 * Started as `node --conditions=plait-source test/support/processes/engine/runner.ts '<RunnerArgs as JSON>'`. It
 * builds its journal, prints `Ready`, and on the stdin line `go` runs the workflow, printing
 * `Outcome <tag>` when the run returns, or `Refused <error tag> <holder>` when it fails (with
 * the holder named by `RunBusy`).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Readline from "node:readline"
import { Workflow } from "plait"
import { type Backend, forProcess, journalLayer } from "./backend.ts"
import { say, sideEffectsLayer, type SideEffectsOptions } from "./effects.ts"
import { GateFlow } from "./flows.ts"

export interface RunnerArgs extends SideEffectsOptions {
  readonly backend: Backend
  readonly runId: string
}

const args = JSON.parse(process.argv[2] ?? "") as RunnerArgs

const go = Effect.callback<void>((resume) => {
  const lines = Readline.createInterface({ input: process.stdin })
  lines.on("line", (line) => {
    if (line !== "go") return
    // Nothing more to read: an open stdin would keep the process alive once the run is over.
    lines.close()
    process.stdin.destroy()
    resume(Effect.void)
  })
})

const program = Effect.gen(function*() {
  yield* say("Ready")
  yield* go
  const outcome = yield* Workflow.run(GateFlow, {
    input: { id: args.runId },
    runId: args.runId,
    leaseDuration: "2 seconds"
  })
  yield* say(`Outcome ${outcome._tag}`)
}).pipe(
  Effect.catch((error) => say(`Refused ${error._tag} ${error._tag === "RunBusy" ? error.owner : error.message}`)),
  Effect.provide(Layer.merge(journalLayer(forProcess(args.backend, args.label)), sideEffectsLayer(args)))
)

NodeRuntime.runMain(program)
