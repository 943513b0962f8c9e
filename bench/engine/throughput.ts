/**
 * Runs per second through worker processes on Postgres.
 *
 * One trial: fresh tables; `workers` worker processes are spawned and wait (`ready`, their
 * `LISTEN` up); the bench starts `runs` runs of the workflow with `engine.start` (queued, none
 * claimed yet); then it tells every worker `go` and times until it has heard every run released
 * `completed` (the release's `NOTIFY`). Spawning, creating runs and checking are untimed. The
 * workers count their own statements with `SqlJournal.makeRoundTrips()`, and their CPU time.
 */
import { Effect, Queue } from "effect"
import { Engine, RunStore } from "plait"
import { stepNames, sumOf } from "../workloads/plait.ts"
import { engineRuntime } from "./fixture.ts"
import { spawnWorker, type WorkerProcess } from "./processes.ts"
import type { Counts } from "./protocol.ts"
import type { StepsWorkflow } from "./workflows.ts"

export interface ThroughputTrial {
  readonly ms: number
  readonly runsPerSecond: number
  /** The workers' statements, summed, by operation. */
  readonly statements: Counts["byOperation"]
  readonly statementsTotal: number
  /** The workers' CPU time, summed. */
  readonly workerCpuMs: number
  /**
   * Runs a worker released back to `queued` (its store unavailable for a moment, as on a
   * saturated machine), which a worker then claimed again; absent where none was.
   */
  readonly requeued?: number | undefined
}

export const throughputTrial = async (options: {
  readonly url: string
  readonly workflow: StepsWorkflow
  readonly steps: number
  readonly workers: number
  readonly runs: number
  readonly concurrency: number
}): Promise<ThroughputTrial> => {
  const { runtime, tablePrefix } = engineRuntime(options.url, "tp")
  const processes: Array<WorkerProcess> = []
  try {
    const runIds = Array.from({ length: options.runs }, (_, i) => `run-${i}`)
    await runtime.runPromise(
      Effect.flatMap(
        Engine.Engine,
        (engine) =>
          Effect.forEach(runIds, (runId) => engine.start(options.workflow, { input: 0, runId }), { concurrency: 8 })
      )
    )
    for (let i = 0; i < options.workers; i++) {
      processes.push(spawnWorker({ url: options.url, tablePrefix, listen: true, concurrency: options.concurrency }))
    }
    await Promise.all(processes.map((worker) => worker.ready))

    let requeued = 0
    const ms = await runtime.runPromise(Effect.scoped(
      Effect.gen(function*() {
        const notifications = yield* Effect.flatMap(RunStore.RunStore, (store) => store.subscribe)
        const completed = new Set<string>()
        const start = performance.now()
        for (const worker of processes) worker.send("go")
        while (completed.size < options.runs) {
          const notification = yield* Queue.take(notifications)
          if (notification._tag !== "Released") continue
          // Released to be claimed again (the executor's answer to an unavailable store): the
          // run is not done, and its completion is still awaited.
          if (notification.status === "queued") {
            requeued++
            continue
          }
          if (notification.status !== "completed") {
            return yield* Effect.die(new Error(`run ${notification.runId} ended ${notification.status}`))
          }
          completed.add(notification.runId)
        }
        return performance.now() - start
      }).pipe(Effect.timeout("5 minutes"))
    ))

    const counted = await Promise.all(processes.map((worker) => worker.counts()))
    await runtime.runPromise(checkCompleted(options.workflow, options.steps, runIds))
    const trial = throughputOf(options.runs, ms, counted)
    return requeued === 0 ? trial : { ...trial, requeued }
  } finally {
    await Promise.all(processes.map((worker) => worker.stop()))
    await runtime.dispose()
  }
}

/** A trial's figures: `runs` in `ms`, and the counts of every worker process, summed. */
export const throughputOf = (runs: number, ms: number, counted: ReadonlyArray<Counts>): ThroughputTrial => {
  const statements: Record<string, number> = {}
  for (const counts of counted) {
    for (const [operation, n] of Object.entries(counts.byOperation)) {
      statements[operation] = (statements[operation] ?? 0) + n
    }
  }
  return {
    ms,
    runsPerSecond: (runs * 1000) / ms,
    statements,
    statementsTotal: counted.reduce((total, counts) => total + counts.total, 0),
    workerCpuMs: counted.reduce((total, counts) => total + counts.cpuMs, 0)
  }
}

/** Every run completed, and a few (first, middle, last) with the right outputs. */
const checkCompleted = (workflow: StepsWorkflow, steps: number, runIds: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const engine = yield* Engine.Engine
    const counts = yield* engine.counts({ workflow: workflow.name })
    if (counts.completed !== runIds.length) {
      return yield* Effect.die(
        new Error(`${counts.completed} of ${runIds.length} runs completed: ${JSON.stringify(counts)}`)
      )
    }
    const checksum = sumOf(stepNames("s", steps))
    for (const runId of [runIds[0]!, runIds[runIds.length >> 1]!, runIds[runIds.length - 1]!]) {
      const outcome = yield* engine.await(workflow, runId)
      if (checksum(outcome) !== (steps * (steps - 1)) / 2) {
        return yield* Effect.die(new Error(`run ${runId}: wrong outputs`))
      }
    }
  })
