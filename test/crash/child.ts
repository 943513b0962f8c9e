/**
 * Runs `CrashWorkflow` once, in its own process, for `crash.test.ts` to kill and restart.
 *
 * Started as `node --conditions=plait-source test/crash/child.ts '<ChildArgs as JSON>'`.
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
import { Effect, Layer, Redacted, Schedule } from "effect"
import { SqliteJournal, Workflow } from "plait"
import * as PgJournal from "plait/PgJournal"
import * as Fs from "node:fs"
import { type KillPoint, matcher } from "./killPoint.ts"
import { CrashWorkflow, input, SideEffects } from "./workflow.ts"

export type ChildArgs = {
  readonly journal:
    | { readonly _tag: "sqlite"; readonly filename: string }
    | { readonly _tag: "pg"; readonly url: string; readonly tablePrefix: string; readonly applicationName: string }
  readonly runId: string
  readonly log: string
  /** Which start of the run this is, 1 for the first; written on each side-effect line. */
  readonly incarnation: number
  readonly freezeAt?: KillPoint | undefined
}

const args = JSON.parse(process.argv[2] ?? "") as ChildArgs

const isKillPoint = args.freezeAt === undefined ? () => false : matcher(args.freezeAt)
const untilJournaled = args.freezeAt?.untilJournaled === true
// For an `untilJournaled` point: the line at which to hold still (the step's completion).
let holdAt: string | undefined

const freeze = () => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000)
  process.exit(70) // never killed: the test will report it
}

// Stdout is a pipe, written synchronously on Linux: the line is out before the thread blocks.
const say = (line: string) =>
  Effect.sync(() => {
    process.stdout.write(`${line}\n`)
    if (line === holdAt) return freeze()
    if (!isKillPoint(line)) return
    if (!untilJournaled) return freeze()
    holdAt = `Completed ${line.slice(line.indexOf(" ") + 1)}`
  })

const log = Fs.openSync(args.log, "a")

const SideEffectsLive = Layer.succeed(SideEffects, {
  record: (path) =>
    Effect.andThen(
      Effect.sync(() => {
        Fs.writeSync(log, `${args.incarnation} ${path}\n`)
        Fs.fsyncSync(log)
      }),
      say(`SideEffect ${path}`)
    )
})

const JournalLive = args.journal._tag === "sqlite"
  ? SqliteJournal.layer({ filename: args.journal.filename })
  : PgJournal.layer({
    url: Redacted.make(args.journal.url),
    tablePrefix: args.journal.tablePrefix,
    applicationName: args.journal.applicationName
  })

// The killed incarnation's lease lives on until it expires (a second, here): until then the
// run is busy, and a restart waits for it, as a real restart would.
const program = Effect.gen(function*() {
  const outcome = yield* Workflow.run(CrashWorkflow, {
    input,
    runId: args.runId,
    leaseDuration: "1 second",
    observe: (event) => say(`${event._tag} ${event.path}`)
  }).pipe(Effect.retry({ while: (error) => error._tag === "RunBusy", schedule: Schedule.spaced("100 millis"), times: 100 }))
  if (outcome._tag !== "Completed") return yield* Effect.die(new Error(`the run is ${outcome._tag}`))
  yield* say(`Done ${JSON.stringify(outcome.context)}`)
}).pipe(Effect.provide(Layer.merge(JournalLive, SideEffectsLive)))

NodeRuntime.runMain(program)
