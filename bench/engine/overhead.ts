/**
 * Engine overhead (DESIGN §5: a step under a worker costs at most 1.1× the same step under
 * `Workflow.run`): the same sequential workflow on Postgres, run by `Workflow.run` in the
 * calling fiber, and by a worker in the same process, started with `engine.start` and waited
 * for with `engine.await`. Both return the run's outcome; both count the journal's statements.
 * Two lengths: a 1-step run shows what a run costs to go through the engine, a 200-step run
 * what a step costs once it is there.
 */
import { Effect, Layer } from "effect"
import { Engine, Worker, Workflow } from "plait"
import type { Case, Sample, Workload } from "../harness.ts"
import { journalTrial, postgresBackend } from "../workloads/journal.ts"
import { stepNames, sumOf } from "../workloads/plait.ts"
import { stepsWorkflow } from "./workflows.ts"

const triangle = (n: number) => (n * (n - 1)) / 2
const trials = { full: { warmup: 2, iterations: 21 }, quick: { warmup: 0, iterations: 3 } }

export const overheadWorkloads = {
  one: {
    name: "engine-overhead-1",
    steps: 1,
    expected: 0,
    description: "a 1-step run on Postgres: Workflow.run, or engine.start + engine.await with a worker in the process",
    trials
  },
  sequential: {
    name: "engine-overhead-200",
    steps: 200,
    expected: triangle(200),
    description: "200 steps one after another on Postgres: Workflow.run, or engine.start + engine.await with a worker",
    trials
  }
} as const satisfies Record<string, Workload>

export const RUN = "Postgres, Workflow.run"
export const WORKER = "Postgres, Worker (same process)"

export const overheadCases = (url: string): ReadonlyArray<Case> => {
  const backend = postgresBackend(url)
  return Object.values(overheadWorkloads).flatMap((workload): ReadonlyArray<Case> => {
    const workflow = stepsWorkflow(workload.steps)
    const checksum = sumOf(stepNames("s", workload.steps))
    const worker = Layer.merge(Engine.layer, Worker.layer({ workflows: [workflow], concurrency: 16 }))
    return [
      {
        system: RUN,
        workload: workload.name,
        prepare: () => journalTrial(backend, () => Effect.void, (runId) => Workflow.run(workflow, { input: 0, runId })),
        checksum
      },
      {
        system: WORKER,
        workload: workload.name,
        prepare: () =>
          journalTrial(
            backend,
            () => Effect.void,
            (runId) =>
              Effect.gen(function*() {
                const engine = yield* Engine.Engine
                yield* engine.start(workflow, { input: 0, runId })
                return yield* engine.await(workflow, runId)
              }),
            worker
          ),
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
    const worker = perStep(WORKER, measure)
    return run === undefined || worker === undefined
      ? undefined
      : `${label}: Workflow.run ${(run * 1000).toFixed(0)} µs, worker ${(worker * 1000).toFixed(0)} µs, ` +
        `worker ÷ Workflow.run ${(worker / run).toFixed(2)}×`
  }
  const wall = line("one more step, wall (200-step median less 1-step median, per step)", (s) => s.medianMs)
  const cpu = line("one more step, CPU", (s) => s.cpuMedianMs)
  return wall === undefined || cpu === undefined ? undefined : `${wall}\n${cpu}`
}
