/**
 * A run driven to its end on a memory journal: `Workflow.run` in a driven fiber, the clock moved
 * to each next wake time while its fibers wait, scripted signals sent when the run waits for
 * them (or at their time), and the run resumed after each, until it completes, fails, or waits
 * on something nothing scripted will bring. Every event is recorded on the way.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { Journal, type LoadedRun } from "../Journal.ts"
import { RunStore } from "../RunStore.ts"
import { run as runWorkflow, sendSignal, type StepEvent, type Workflow } from "../Workflow.ts"
import { type Driver, stop } from "./drive.ts"
import { Stuck } from "./errors.ts"

/** A memory journal and its run store, as `Journal.makeMemory` makes them. */
export interface Backend {
  readonly journal: Journal["Service"]
  readonly store: RunStore["Service"]
}

export interface ScriptedSignal {
  readonly path: string
  readonly value: unknown
  /** Virtual time after the start of the test; without it, sent when the run waits on `path`. */
  readonly at?: Duration.Input | undefined
}

export interface RunSettings {
  readonly workflow: Workflow<any, any, any, any, any>
  readonly input: unknown
  readonly runId: string
  readonly observe: ((event: StepEvent) => Effect.Effect<void>) | undefined
  readonly allowDefinitionChange: boolean
  /** Off for the crash helper: one completion per journal write, so every one is a crash point. */
  readonly batching: boolean
  /** The latest virtual time (epoch milliseconds) the run may reach. */
  readonly until: number
  /** Checked whenever the run's fibers wait: `true` stops the execution there, as a crash. */
  readonly crashed: () => boolean
}

/** The signals of a test, sent at most once each across every execution of its run. */
export interface Script {
  readonly pending: Array<{ readonly signal: ScriptedSignal; readonly at: number | undefined; sent: boolean }>
  readonly sent: Array<{ readonly path: string; readonly at: number }>
}

export const makeScript = (signals: ReadonlyArray<ScriptedSignal>, start: number): Script => ({
  pending: signals.map((signal) => ({
    signal,
    at: signal.at === undefined ? undefined : start + Duration.toMillis(Duration.fromInputUnsafe(signal.at)),
    sent: false
  })),
  sent: []
})

/** What the executions of one run did, as the kit reports it. */
export interface Recording {
  /** The signals sent while this recording was made, with the virtual time since it began. */
  readonly signalsSent: Array<{ readonly path: string; readonly at: number }>
  readonly runId: string
  exit: Exit.Exit<unknown, unknown>
  readonly executions: { [path: string]: number }
  readonly replays: { [path: string]: number }
  readonly events: Array<StepEvent>
  /** How many times the run was started or resumed. */
  starts: number
  readonly startedAt: number
  endedAt: number
  journal: LoadedRun | undefined
  /** The last execution was stopped by a simulated crash. */
  crashed: boolean
}

/**
 * Drives the run until it ends (or crashes), starting or resuming it as often as scripted
 * signals and signal deadlines call for.
 */
export const driveRun = (driver: Driver, backend: Backend, settings: RunSettings, script: Script) =>
  Effect.gen(function*() {
    const services = Context.make(Journal, backend.journal).pipe(Context.add(RunStore, backend.store))
    const record: Recording = {
      signalsSent: [],
      runId: settings.runId,
      exit: Exit.void,
      executions: {},
      replays: {},
      events: [],
      starts: 0,
      startedAt: driver.now(),
      endedAt: driver.now(),
      journal: undefined,
      crashed: false
    }
    // The signal waits and deadlines of the current execution, from its events.
    let waits: Array<{ readonly path: string; readonly deadline: number | undefined; readonly own: boolean }> = []
    const observe = (event: StepEvent) =>
      Effect.suspend(() => {
        recordEvent(record, event)
        if (event._tag === "AwaitingSignal") {
          waits.push({
            path: event.path,
            deadline: event.deadline === undefined ? undefined : event.deadline.epochMilliseconds,
            own: event.runId === settings.runId
          })
        }
        return settings.observe === undefined ? Effect.void : settings.observe(event)
      })

    const send = (entry: Script["pending"][number]) =>
      Effect.flatMap(
        sendSignal(settings.workflow, { runId: settings.runId, path: entry.signal.path, value: entry.signal.value }),
        () =>
          Effect.sync(() => {
            entry.sent = true
            const sent = { path: entry.signal.path, at: driver.now() - record.startedAt }
            script.sent.push(sent)
            record.signalsSent.push(sent)
          })
      ).pipe(Effect.provideContext(services))
    const sendDue = Effect.suspend(() =>
      Effect.forEach(
        script.pending.filter((entry) => !entry.sent && entry.at !== undefined && entry.at <= driver.now()),
        send,
        { discard: true }
      )
    )
    const nextScripted = () => earliest(script.pending.filter((entry) => !entry.sent).map((entry) => entry.at))

    const stuck = (detail: string) => new Stuck({ runId: settings.runId, detail: `${detail}${inFlight(record)}` })

    /** One execution: idles, moves the clock, sends what is due, until the run's fiber ends. */
    const execute = Effect.gen(function*() {
      const fiber = yield* driver.start(
        runWorkflow(settings.workflow, {
          input: settings.input,
          runId: settings.runId,
          observe,
          batching: settings.batching,
          allowDefinitionChange: settings.allowDefinitionChange,
          // Nothing else executes the run: a lease that never needs renewing keeps the
          // heartbeat's sleeps out of the times to advance through.
          leaseDuration: Duration.infinity
        }).pipe(Effect.provideContext(services))
      )
      while (true) {
        yield* driver.idle
        if (settings.crashed()) {
          yield* stop(driver, fiber)
          return undefined
        }
        const exit = fiber.pollUnsafe()
        if (exit !== undefined) return exit as Exit.Exit<unknown, unknown>
        const next = earliest([driver.nextWake(), nextScripted()])
        if (next === undefined || next > settings.until) {
          yield* stop(driver, fiber)
          return yield* stuck(
            next === undefined
              ? "its fibers all wait, and on no sleep, timeout or scripted signal: on something outside the TestClock (a Deferred, a promise, real I/O)"
              : `it would wait past the time limit (${
                Duration.format(Duration.millis(settings.until - record.startedAt))
              } of virtual time)`
          )
        }
        yield* driver.moveTo(next)
        yield* sendDue
      }
    })

    while (true) {
      waits = []
      record.starts++
      const sentBefore = script.sent.length
      const exit = yield* execute
      record.endedAt = driver.now()
      if (exit === undefined) {
        record.crashed = true
        return record
      }
      record.exit = exit
      if (Exit.isFailure(exit) || (exit.value as { readonly _tag: string })._tag !== "Suspended") break
      // Suspended. A signal sent while it executed is read by the next execution: resume now.
      // Else send what the run waits for, or move on to the next scripted time or deadline.
      if (script.sent.length > sentBefore) continue
      const ready = script.pending.filter((entry) =>
        !entry.sent && entry.at === undefined && waits.some((wait) => wait.own && wait.path === entry.signal.path)
      )
      if (ready.length > 0) {
        yield* Effect.forEach(ready, send, { discard: true })
        continue
      }
      const next = earliest([nextScripted(), ...waits.map((wait) => wait.deadline)])
      if (next === undefined) break
      if (next > settings.until) {
        return yield* stuck(
          `it waits past the time limit (${
            Duration.format(Duration.millis(settings.until - record.startedAt))
          } of virtual time)`
        )
      }
      yield* driver.moveTo(next)
      yield* sendDue
    }
    record.journal = Option.getOrUndefined(yield* backend.journal.load(settings.runId))
    return record
  })

/** Counts executions and replays by path. */
const recordEvent = (record: Recording, event: StepEvent) => {
  record.events.push(event)
  if (event._tag !== "Started" && event._tag !== "Replayed") return
  const path = pathIn(record.runId, event.runId, event.path)
  const counts = event._tag === "Started" ? record.executions : record.replays
  counts[path] = (counts[path] ?? 0) + 1
}

/**
 * How the kit names `path` of run `runId` in a test of the run `root`: as it is, or, in a child
 * run (whose id is `<root>/<child's path>`), under the child's path, as `approval/decision`.
 */
export const pathIn = (root: string, runId: string, path: string): string =>
  runId === root ? path : runId.startsWith(`${root}/`) ? `${runId.slice(root.length + 1)}/${path}` : `${runId}:${path}`

/** The steps started and not finished, for a stuck run's message. */
const inFlight = (record: Recording): string => {
  const running = new Set<string>()
  for (const event of record.events) {
    if (event._tag === "Started") running.add(event.path)
    else if (event._tag === "Completed" || event._tag === "Failed") running.delete(event.path)
  }
  return running.size === 0 ? "" : `; steps started and not finished: ${[...running].join(", ")}`
}

const earliest = (times: ReadonlyArray<number | undefined>): number | undefined => {
  let min: number | undefined
  for (const time of times) if (time !== undefined && (min === undefined || time < min)) min = time
  return min
}
