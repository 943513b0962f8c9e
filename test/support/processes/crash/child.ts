/**
 * Runs `CrashWorkflow` once, in its own process, for `test/processes/crash.test.ts` to kill and
 * restart.
 *
 * Started as `node --conditions=plait-source test/support/processes/crash/child.ts '<ChildArgs as JSON>'`.
 * It reports its progress on stdout, one line per event, which the test reads to decide when
 * to send SIGKILL:
 *
 * - `Started <path>`, `Completed <path>`, `Replayed <path>`, `Failed <path>`: the run's `observe` events;
 * - `SideEffect <path>`: the step has appended `<incarnation> <path>` to the side-effect log;
 * - `Done <context as JSON>`: the run completed.
 *
 * The side-effect log is opened with `O_APPEND` and written (and synced) before the step goes
 * on, so what a killed child did stays recorded. With `freezeAt`, the child blocks its thread
 * right after printing that kill point's line, so the test's SIGKILL lands exactly there (or,
 * for an `untilJournaled` point, once that step has been reported completed).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schedule } from "effect"
import { Workflow } from "plait"
import { type JournalArgs, journalLayer, syncedLog } from "./child-journal.ts"
import type { KillPoint } from "./kill-point.ts"
import { makeSay } from "./progress.ts"
import { CrashWorkflow, input, SideEffects } from "./workflow.ts"

export type ChildArgs = {
  readonly journal: JournalArgs
  readonly runId: string
  readonly log: string
  /** Which start of the run this is, 1 for the first; written on each side-effect line. */
  readonly incarnation: number
  readonly freezeAt?: KillPoint | undefined
}

const args = JSON.parse(process.argv[2] ?? "") as ChildArgs

const say = makeSay(args.freezeAt)

const log = syncedLog(args.log)

const SideEffectsLive = Layer.succeed(SideEffects, {
  record: (path) => Effect.andThen(log(`${args.incarnation} ${path}`), say(`SideEffect ${path}`))
})

const JournalLive = journalLayer(args.journal)

// The killed incarnation's lease lives on until it expires (a second, here): until then the
// run is busy, and a restart waits for it, as a real restart would.
const program = Effect.gen(function*() {
  const outcome = yield* Workflow.run(CrashWorkflow, {
    input,
    runId: args.runId,
    leaseDuration: "1 second",
    observe: (event) => say(`${event._tag} ${event.path}`)
  }).pipe(
    Effect.retry({ while: (error) => error._tag === "RunBusy", schedule: Schedule.spaced("100 millis"), times: 100 })
  )
  if (outcome._tag !== "Completed") return yield* Effect.die(new Error(`the run is ${outcome._tag}`))
  yield* say(`Done ${JSON.stringify(outcome.context)}`)
}).pipe(Effect.provide(Layer.merge(JournalLive, SideEffectsLive)))

NodeRuntime.runMain(program)
