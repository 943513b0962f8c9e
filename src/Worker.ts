/**
 * Workers execute runs. A worker claims runnable runs of the workflows it was given (at most as
 * many as it has free slots, in one statement), executes each under a lease it renews with one
 * heartbeat statement for all its runs, and releases them when they finish or suspend. Several
 * workers, in one process or many, share the journal's database; each run is executed by one of
 * them at a time.
 *
 * An idle worker sleeps until the earliest time something becomes due, a notification (a run
 * started, signalled, resumed, released; across processes on Postgres), or a poll interval that
 * backs off while nothing happens. Closing the worker's scope (SIGTERM under `NodeRuntime`)
 * interrupts its runs, which are released as `queued` so another worker takes them at once.
 *
 * A worker also executes the child workflows of the workflows it was given, and fires the ticks
 * of their schedules: every worker holding a workflow watches its schedules, and each tick is
 * fired by exactly one of them.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import {
  defaultLeaseMs,
  executeClaimed,
  type Execution,
  executorName,
  type ExecutorSettings,
  fingerprintOf
} from "./internal/executor.ts"
import { type Node, nodesWithPaths } from "./internal/node.ts"
import { namesRun } from "./internal/notifiedRunId.ts"
import { parseCron, planTick, tickRunId } from "./internal/schedule.ts"
import { Journal, type Lease } from "./Journal.ts"
import { type Claimed, RunStore, type ScheduleInfo } from "./RunStore.ts"
import { JournalError } from "./WorkflowError.ts"
import type { Definition } from "./internal/definition.ts"
import type { Observer } from "./internal/runState.ts"
import type { Workflow } from "./Workflow.ts"

/**
 * How a worker runs.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Worker, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * const options: Worker.Options<readonly [typeof Ping]> = {
 *   workflows: [Ping],
 *   concurrency: 32,
 *   leaseDuration: "30 seconds"
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<W extends ReadonlyArray<Workflow<any, any, any, any>>> {
  /**
   * The workflows this worker executes (and the workflows they start as children); it claims
   * only their runs, with their fingerprints, and fires their schedules.
   */
  readonly workflows: W
  /** How many runs it executes at once. Default 16. */
  readonly concurrency?: number | undefined
  /**
   * How long a lease lasts without a heartbeat (renewed every third of it). A crashed worker's
   * runs are taken over once their leases expire. Default 30 seconds.
   */
  readonly leaseDuration?: Duration.Input | undefined
  /** The shortest wait between two claims while idle. Default 200 milliseconds. */
  readonly pollInterval?: Duration.Input | undefined
  /** The longest wait while idle: the idle poll backs off up to it. Default 5 seconds. */
  readonly maxPollInterval?: Duration.Input | undefined
  /** The name this worker's leases carry. Default: host, process id and a random suffix. */
  readonly workerId?: string | undefined
  /** Group step completions that finish together into one journal write. Default `true`. */
  readonly batching?: boolean | undefined
  /** Called as steps start, complete, fail or are replayed, in every run the worker executes. */
  readonly observe?: Observer | undefined
}

/**
 * The services the workflows of a worker need.
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { Worker, Workflow } from "plait"
 *
 * class Mailer extends Context.Service<Mailer, { readonly send: (to: string) => Effect.Effect<void> }>()("app/Mailer") {}
 *
 * const Welcome = Workflow.make("welcome", { input: Schema.String }).pipe(
 *   Workflow.step("sent", { success: Schema.Void }, (ctx) => Effect.flatMap(Mailer, (mailer) => mailer.send(ctx.input)))
 * )
 *
 * type Needs = Worker.ServicesOf<readonly [typeof Welcome]> // Mailer
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ServicesOf<W extends ReadonlyArray<Workflow<any, any, any, any>>> = W[number] extends
  Workflow<any, any, any, infer R> ? R : never

/**
 * A running worker.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Worker } from "plait"
 *
 * const report = (worker: Worker.Worker) =>
 *   Effect.flatMap(worker.active, (active) => Effect.log(`${worker.workerId}: ${active} runs`))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Worker {
  readonly workerId: string
  /** How many runs it executes right now. */
  readonly active: Effect.Effect<number>
}

/**
 * Starts a worker in the current scope; closing the scope stops it and releases its runs.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Worker, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const worker = yield* Worker.make({ workflows: [Ping] })
 *   yield* Effect.log(`worker ${worker.workerId} started`)
 *   yield* Effect.never
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const W extends ReadonlyArray<Workflow<any, any, any, any>>>(
  options: Options<W>
): Effect.Effect<Worker, never, Scope.Scope | Journal | RunStore | ServicesOf<W>> =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const store = yield* RunStore
    const definitions = definitionsByName(options.workflows)
    const names = Array.from(definitions.keys())
    const claimable = Array.from(definitions.values(), (definition) => ({
      name: definition.name,
      fingerprint: fingerprintOf(definition)
    }))
    const concurrency = Math.max(1, Math.floor(options.concurrency ?? 16))
    const leaseMs = millis(options.leaseDuration, defaultLeaseMs)
    const pollMs = millis(options.pollInterval, 200)
    const maxPollMs = Math.max(pollMs, millis(options.maxPollInterval, 5000))
    const workerId = options.workerId ?? executorName("worker")
    const settings: ExecutorSettings = {
      owner: workerId,
      leaseMs,
      driver: "worker",
      batching: options.batching ?? true,
      observer: options.observe
    }

    // Leases from the claim on; stops once each run's executor has registered.
    const leases = new Map<string, Lease>()
    const executions = new Map<string, Execution>()
    const stop = (runId: string, reason: Parameters<Execution["stop"]>[0]) => {
      const execution = executions.get(runId) ?? executionNamed(runId)
      return execution === undefined ? Effect.void : execution.stop(reason)
    }
    /** The execution a notification names by digest (a long run id, on Postgres), if any. */
    const executionNamed = (notified: string) => {
      if (notified.charCodeAt(0) !== 0) return undefined
      for (const [runId, execution] of executions) if (namesRun(notified, runId)) return execution
      return undefined
    }

    // Created first, so closing the scope interrupts the runs last: after the claim loop stopped.
    const runs = yield* FiberSet.make<unknown, unknown>()
    const wake = yield* Queue.sliding<void>(1)
    const poke = () => void Queue.offerUnsafe(wake, undefined)
    const notifications = yield* Effect.orDie(store.subscribe)

    const startRun = (claimed: Claimed, takenAt: number) => {
      const { lease, run } = claimed
      leases.set(run.runId, lease)
      return FiberSet.run(runs)(
        executeClaimed(definitions.get(run.workflow)!, claimed, takenAt, settings, (execution) =>
          void executions.set(run.runId, execution)).pipe(
            Effect.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause)
                ? Effect.failCause(cause)
                // The store failed the run's execution (its retries gave up): an operator's matter.
                : storeFailed(cause)
                ? Effect.logWarning(`plait worker ${workerId}: run ${run.runId} stopped: the store failed`, cause)
                : Effect.logDebug(`plait worker ${workerId}: run ${run.runId} ended`, cause)
            ),
            Effect.ensuring(Effect.sync(() => {
              leases.delete(run.runId)
              executions.delete(run.runId)
              poke()
            }))
          )
      )
    }

    const claimLoop = Effect.gen(function*() {
      let idleMs = pollMs
      while (true) {
        const free = concurrency - leases.size
        let claimedAny = false
        if (free > 0) {
          // The claimed leases' local deadlines count from before the claim's statement.
          const takenAt = yield* Clock.currentTimeMillis
          const claimed = yield* store.claim({ owner: workerId, leaseMs, limit: free, workflows: claimable }).pipe(
            Effect.tapError((error) =>
              Effect.logWarning(`plait worker ${workerId}: claim failed`, error)
            ),
            Effect.orElseSucceed(() =>
              [] as ReadonlyArray<Claimed>
            )
          )
          for (const claimed1 of claimed) yield* startRun(claimed1, takenAt)
          claimedAny = claimed.length > 0
          // A full batch may have left more behind: claim again before waiting.
          if (claimed.length === free) continue
        }
        if (claimedAny) idleMs = pollMs
        const waitMs = yield* idleWait(free > 0 && !claimedAny, idleMs)
        const woken = yield* Effect.timeoutOption(Queue.take(wake), waitMs)
        if (Option.isNone(woken) && !claimedAny) idleMs = Math.min(maxPollMs, idleMs * 2)
        else if (Option.isSome(woken)) idleMs = pollMs
      }
    })

    // How long to sleep: until the earliest run becomes due, at most the idle poll, with jitter
    // so a fleet of idle workers does not poll in step.
    const idleWait = (idle: boolean, idleMs: number) =>
      Effect.gen(function*() {
        let waitMs = idleMs
        if (idle) {
          const next = yield* Effect.orElseSucceed(store.nextDue(names), () => Option.none<number>())
          if (Option.isSome(next)) waitMs = Math.min(waitMs, Math.max(0, next.value - (yield* Clock.currentTimeMillis)))
        }
        return Math.round(waitMs * (yield* Random.nextBetween(0.8, 1.2)))
      })

    const listen = Effect.forever(Effect.flatMap(Queue.take(notifications), (notification) => {
      switch (notification._tag) {
        case "Runnable":
          if (definitions.has(notification.workflow)) poke()
          return Effect.void
        case "CancelRequested":
          return stop(notification.runId, { _tag: "Cancel", reason: undefined })
        case "Released":
          return Effect.void
      }
    }))

    const heartbeat = Effect.forever(Effect.gen(function*() {
      yield* Effect.sleep(Math.max(1, Math.floor(leaseMs / 3)))
      if (leases.size === 0) return
      const sentAt = yield* Clock.currentTimeMillis
      const states = yield* journal.heartbeat(workerId, Array.from(leases.values()), leaseMs).pipe(
        Effect.tapError((error) => Effect.logWarning(`plait worker ${workerId}: heartbeat failed`, error)),
        Effect.orElseSucceed(() => [])
      )
      for (const state of states) {
        if (!state.held) {
          yield* stop(state.runId, { _tag: "LeaseLost" })
          continue
        }
        executions.get(state.runId)?.renewed(sentAt)
        if (state.cancelRequested) yield* stop(state.runId, { _tag: "Cancel", reason: state.cancelReason })
      }
    }))

    // Fires the ticks of this worker's workflows' schedules. Any number of workers may see a
    // tick due: the store lets one of them move the schedule on, with the tick's run.
    const fire = (schedule: ScheduleInfo, now: number) =>
      Effect.gen(function*() {
        const definition = definitions.get(schedule.workflow)!
        const cron = parseCron(schedule.id, schedule.cron, schedule.timezone)
        if (cron._tag === "Failure") {
          return yield* Effect.logWarning(`plait worker ${workerId}: ${cron.failure.message}`)
        }
        const plan = planTick(schedule, cron.success, now)
        return yield* store.fireSchedule({
          id: schedule.id,
          expectedNextAt: schedule.nextAt,
          nextAt: plan.nextAt,
          tickAt: plan.tickAt,
          run: plan.tickAt === undefined ? undefined : {
            runId: tickRunId(schedule.id, plan.tickAt),
            workflow: definition.name,
            fingerprint: fingerprintOf(definition),
            input: schedule.input
          }
        })
      })

    const scheduler = Effect.forever(Effect.gen(function*() {
      const schedules = yield* store.dueSchedules(names).pipe(
        Effect.tapError((error) => Effect.logWarning(`plait worker ${workerId}: reading schedules failed`, error)),
        Effect.option
      )
      let waitMs = maxPollMs
      if (Option.isSome(schedules)) {
        const { due, nextAt, now } = schedules.value
        let fired = false
        for (const schedule of due) {
          fired = (yield* fire(schedule, now).pipe(
                Effect.tapError((error) =>
                  Effect.logWarning(`plait worker ${workerId}: firing ${schedule.id} failed`, error)
                ),
                Effect.orElseSucceed(() => false)
              )) === true || fired
        }
        // A schedule this worker fired may owe more ticks: look again at once.
        if (fired) waitMs = 0
        else if (nextAt !== undefined) waitMs = Math.min(waitMs, Math.max(0, nextAt - now))
      }
      // A tick is fired right at its time; the poll catches schedules stored since.
      if (waitMs > 0) yield* Effect.sleep(waitMs)
    }))

    yield* Effect.forkScoped(heartbeat)
    yield* Effect.forkScoped(listen)
    yield* Effect.forkScoped(claimLoop)
    yield* Effect.forkScoped(scheduler)
    return { workerId, active: Effect.sync(() => leases.size) }
  }) as Effect.Effect<Worker, never, Scope.Scope | Journal | RunStore | ServicesOf<W>>

/**
 * A worker as a layer: it runs for as long as the layer is alive.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer, Schema } from "effect"
 * import { SqliteJournal, Worker, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * const WorkerLive = Worker.layer({ workflows: [Ping], concurrency: 32 }).pipe(
 *   Layer.provide(SqliteJournal.layer({ filename: ".plait/app.sqlite" }))
 * )
 *
 * // SIGTERM closes the layer: the worker's runs are released for another worker at once.
 * Layer.launch(WorkerLive).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <const W extends ReadonlyArray<Workflow<any, any, any, any>>>(
  options: Options<W>
): Layer.Layer<never, never, Journal | RunStore | ServicesOf<W>> => Layer.effectDiscard(make(options))

// internal

const storeFailed = (cause: Cause.Cause<unknown>): boolean => {
  const error = Cause.findErrorOption(cause)
  return error._tag === "Some" && error.value instanceof JournalError
}

const millis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(input))

/** The workflows given, and every workflow they start as a child, by name. */
const definitionsByName = (workflows: ReadonlyArray<Workflow<any, any, any, any>>): Map<string, Definition> => {
  const byName = new Map<string, Definition>()
  const add = (definition: Definition) => {
    const known = byName.get(definition.name)
    if (known === definition) return
    if (known !== undefined) {
      throw new Error(`plait: Worker was given two workflows named "${definition.name}"; names identify runs`)
    }
    byName.set(definition.name, definition)
    for (const child of childWorkflows(definition.nodes)) add(child)
  }
  for (const workflow of workflows) add(workflow as unknown as Definition)
  return byName
}

const childWorkflows = (nodes: ReadonlyArray<Node>): Array<Definition> =>
  Array.from(nodesWithPaths(nodes)).flatMap(([node]) => (node._tag === "Child" ? [node.workflow] : []))
