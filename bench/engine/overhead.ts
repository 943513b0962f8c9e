/**
 * Engine overhead (DESIGN §5: a step under a worker costs at most 1.1× the same step under
 * `Workflow.run`): the same sequential workflow on Postgres, run by `Workflow.run` in the
 * calling fiber, and by a worker in the same process, started with `engine.start` and timed
 * either until `engine.await` returns the outcome (what a caller sees, with `await`'s reads of
 * the run), or until the worker's release of the run is heard (the worker alone; the outcome is
 * read afterwards, untimed). Every system counts the journal's statements. Two lengths: a 1-step
 * run shows what a run costs to go through the engine, a 200-step run what a step costs once it
 * is there.
 */
import { Effect, Layer, Queue } from "effect"
import { Engine, RunStore, Worker, Workflow } from "plait"
import type { Case, Sample, Workload } from "../harness.ts"
import { journalTrial, postgresBackend } from "../workloads/journal.ts"
import { stepNames, sumOf } from "../workloads/plait.ts"
import { type StepsWorkflow, stepsWorkflow } from "./workflows.ts"

const triangle = (n: number) => (n * (n - 1)) / 2
const trials = { full: { warmup: 2, iterations: 21 }, quick: { warmup: 0, iterations: 3 } }

export const overheadWorkloads = {
  one: {
    name: "engine-overhead-1",
    steps: 1,
    expected: 0,
    description: "a 1-step run on Postgres: Workflow.run, or engine.start with a worker in the process",
    trials
  },
  sequential: {
    name: "engine-overhead-200",
    steps: 200,
    expected: triangle(200),
    description: "200 steps one after another on Postgres: Workflow.run, or engine.start with a worker in the process",
    trials
  }
} as const satisfies Record<string, Workload>

export const RUN = "Postgres, Workflow.run"
export const WORKER_AWAIT = "Postgres, Worker, until await returns"
export const WORKER_RELEASED = "Postgres, Worker, until released"

/** Starts the run and waits until its worker released it `completed`. */
const untilReleased = (workflow: StepsWorkflow, runId: string) =>
  Effect.scoped(Effect.gen(function*() {
    const notifications = yield* Effect.flatMap(RunStore.RunStore, (store) => store.subscribe)
    yield* Effect.flatMap(Engine.Engine, (engine) => engine.start(workflow, { input: 0, runId }))
    while (true) {
      const notification = yield* Queue.take(notifications)
      if (notification._tag !== "Released" || notification.runId !== runId) continue
      if (notification.status === "completed") return
      return yield* Effect.die(new Error(`run ${runId} ended ${notification.status}`))
    }
  }))

export const overheadCases = (url: string): ReadonlyArray<Case> => {
  const backend = postgresBackend(url)
  return Object.values(overheadWorkloads).flatMap((workload): ReadonlyArray<Case> => {
    const workflow = stepsWorkflow(workload.steps)
    const checksum = sumOf(stepNames("s", workload.steps))
    const services = Layer.merge(Engine.layer, Worker.layer({ workflows: [workflow], concurrency: 16 }))
    const awaited = (runId: string) => Effect.flatMap(Engine.Engine, (engine) => engine.await(workflow, runId))
    return [
      {
        system: RUN,
        workload: workload.name,
        prepare: () => journalTrial(backend, () => Effect.void, (runId) => Workflow.run(workflow, { input: 0, runId })),
        checksum
      },
      {
        system: WORKER_AWAIT,
        workload: workload.name,
        prepare: () =>
          journalTrial(
            backend,
            () => Effect.void,
            (runId) =>
              Effect.andThen(
                Effect.flatMap(Engine.Engine, (engine) => engine.start(workflow, { input: 0, runId })),
                awaited(runId)
              ),
            { services }
          ),
        checksum
      },
      {
        system: WORKER_RELEASED,
        workload: workload.name,
        prepare: () =>
          journalTrial(backend, () => Effect.void, (runId) => untilReleased(workflow, runId), {
            services,
            outcome: awaited
          }),
        checksum
      }
    ]
  })
}

/**
 * What one more step costs in each system: the 200-step run's median less the 1-step run's,
 * over the 199 steps between them, so the per-run costs (start, claim, load, await) cancel out.
 * In wall time, and in process CPU time (steadier on a shared machine).
 */
export const summarizeOverhead = (samples: ReadonlyArray<Sample>): string | undefined => {
  const perStep = (system: string, measure: (sample: Sample) => number) => {
    const of = (workload: Workload) => samples.find((s) => s.system === system && s.workload === workload.name)
    const long = of(overheadWorkloads.sequential)
    const short = of(overheadWorkloads.one)
    const steps = overheadWorkloads.sequential.steps - overheadWorkloads.one.steps
    return long === undefined || short === undefined ? undefined : (measure(long) - measure(short)) / steps
  }
  const line = (label: string, measure: (sample: Sample) => number) => {
    const run = perStep(RUN, measure)
    if (run === undefined) return undefined
    const ratios = [WORKER_AWAIT, WORKER_RELEASED].flatMap((system) => {
      const worker = perStep(system, measure)
      return worker === undefined
        ? []
        : [`${system.replace("Postgres, ", "")} ${(worker * 1000).toFixed(0)} µs (${(worker / run).toFixed(2)}×)`]
    })
    return `${label}: Workflow.run ${(run * 1000).toFixed(0)} µs; ${ratios.join("; ")}`
  }
  const wall = line("one more step, wall (200-step median less 1-step median, per step)", (s) => s.medianMs)
  const cpu = line("one more step, CPU", (s) => s.cpuMedianMs)
  return wall === undefined || cpu === undefined ? undefined : `${wall}\n${cpu}`
}
