/**
 * Runs one workflow of `workflows.ts` once with `Workflow.run`, in its own process, for a process
 * test to kill and restart: `node --conditions=plait-source test/support/processes/sagas/run.ts '<RunArgs as JSON>'`.
 *
 * It reports its progress on stdout as `test/support/processes/crash/child.ts` does (the run's `observe` events,
 * `SideEffect <path>` once a side effect is in the log, and at the end `Done <JSON>`: the final
 * context, or `{ "failed": <error> }`), and holds still at a frozen kill point. The side-effect log
 * gets one line per side effect: `<incarnation> <SideEffect as JSON>`, synced before the step goes on.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer, Schedule } from "effect"
import { Workflow } from "plait"
import type { ChildArgs } from "../crash/child.ts"
import { journalLayer, syncedLog } from "../crash/child-journal.ts"
import { makeSay } from "../crash/progress.ts"
import { Effects, Keyed, Rollout, Trip } from "./workflows.ts"

const runnable = { Trip, Rollout, Keyed } as const

/** A crash child's arguments, and which workflow to run on what input. */
export interface RunArgs extends ChildArgs {
  readonly workflow: keyof typeof runnable
  readonly input: unknown
}

const args = JSON.parse(process.argv[2] ?? "") as RunArgs
const say = makeSay(args.freezeAt)
const log = syncedLog(args.log)

const EffectsLive = Layer.succeed(Effects, {
  record: (effect) =>
    Effect.andThen(log(`${args.incarnation} ${JSON.stringify(effect)}`), say(`SideEffect ${effect.path}`))
})

const JournalLive = journalLayer(args.journal)

const workflow = runnable[args.workflow] as unknown as Workflow.Workflow<unknown, unknown, unknown, Effects>

// The killed incarnation's lease lives on until it expires (a second): until then the run is
// busy, and a restart waits for it, as a real restart would.
const program = Effect.gen(function*() {
  const exit = yield* Effect.exit(
    Workflow.run(workflow, {
      input: args.input,
      runId: args.runId,
      leaseDuration: "1 second",
      observe: (event) => say(`${event._tag} ${event.path}`)
    }).pipe(
      Effect.retry({
        while: (error) => (error as { _tag?: string })._tag === "RunBusy",
        schedule: Schedule.spaced("100 millis"),
        times: 100
      })
    )
  )
  if (Exit.isSuccess(exit)) {
    if (exit.value._tag !== "Completed") return yield* Effect.die(new Error(`the run is ${exit.value._tag}`))
    return yield* say(`Done ${JSON.stringify(exit.value.context)}`)
  }
  yield* say(`Done ${JSON.stringify({ failed: Cause.squash(exit.cause) })}`)
}).pipe(Effect.provide(Layer.merge(JournalLive, EffectsLive)))

NodeRuntime.runMain(program)
