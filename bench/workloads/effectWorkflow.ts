/**
 * effect/workflow on `WorkflowEngine.layerMemory`: each plait step is one `Activity`, made once
 * when the bench starts (the cheapest way for effect/workflow: `Activity.make` costs several
 * microseconds, more than some whole plait steps).
 */
import { Effect, Exit, Layer, Option, Schema } from "effect"
import { Activity, DurableDeferred, Workflow, WorkflowEngine } from "effect/workflow"
import type { Case } from "../harness.ts"
import { effectTrial, programs, stepsOf, stepWork, workloads } from "./shared.ts"

const define = <const Name extends string>(name: Name) =>
  Workflow.make(name, {
    payload: { id: Schema.String },
    success: Schema.Number,
    idempotencyKey: (payload) => payload.id
  })

const activities = (prefix: string, n: number) =>
  stepsOf(n, (i) => Activity.make({ name: `${prefix}${i}`, success: Schema.Number, execute: stepWork(i) }))

const Sequential = define("Sequential")
const Parallel = define("Parallel")
const ForEach = define("ForEach")
/** Suspends on `Gate` after its steps, so completing the gate replays every completed activity. */
const Resume = define("Resume")
const Rerun = define("Rerun")
const Gate = DurableDeferred.make("gate")

const layer = (() => {
  const sequential = activities("s", workloads.sequential.steps)
  const parallel = activities("p", workloads.parallel.steps)
  const forEach = activities("item", workloads.forEach.steps)
  const resume = activities("s", workloads.resume.steps)
  return Layer.mergeAll(
    Sequential.toLayer(() => programs.sequential(sequential)),
    Parallel.toLayer(() => programs.parallel(parallel)),
    ForEach.toLayer(() => programs.forEach(forEach)),
    Resume.toLayer(() =>
      Effect.andThen(programs.sequential(resume), (total) => Effect.as(DurableDeferred.await(Gate), total))
    ),
    Rerun.toLayer(() => programs.sequential(resume))
  ).pipe(Layer.provideMerge(WorkflowEngine.layerMemory))
})()

/** Starts an execution and waits (untimed) until it has suspended on the gate. */
const startSuspended = (id: string) =>
  Effect.gen(function*() {
    const executionId = yield* Resume.execute({ id }, { discard: true })
    while (true) {
      const result = yield* Resume.poll(executionId)
      if (Option.isSome(result)) {
        if (result.value._tag !== "Suspended") return yield* Effect.die("the Resume workflow did not suspend")
        return DurableDeferred.tokenFromExecutionId(Gate, { workflow: Resume, executionId })
      }
      yield* Effect.sleep("1 millis")
    }
  })

const fresh =
  (timed: (id: string) => Effect.Effect<number, unknown, WorkflowEngine.WorkflowEngine>, workload: string) =>
  (trial: number) => effectTrial(layer, Effect.void, () => timed(`${workload}-${trial}`))

const total = (result: unknown) => result as number

export const effectWorkflowCases = (system: string, cachedSystem: string): ReadonlyArray<Case> => [
  {
    system,
    workload: workloads.sequential.name,
    prepare: fresh((id) => Sequential.execute({ id }), "sequential"),
    checksum: total
  },
  {
    system,
    workload: workloads.parallel.name,
    prepare: fresh((id) => Parallel.execute({ id }), "parallel"),
    checksum: total
  },
  {
    system,
    workload: workloads.forEach.name,
    prepare: fresh((id) => ForEach.execute({ id }), "forEach"),
    checksum: total
  },
  {
    system,
    workload: workloads.resume.name,
    // Timed: completing the gate, which makes the engine replay the execution (its 10,000
    // activities answered from the engine's store), and awaiting the replay's result.
    prepare: (trial) => {
      const id = `resume-${trial}`
      return effectTrial(
        layer,
        startSuspended(id),
        (token) => Effect.andThen(DurableDeferred.done(Gate, { token, exit: Exit.void }), Resume.execute({ id }))
      )
    },
    checksum: total
  },
  {
    system: cachedSystem,
    workload: workloads.resume.name,
    // Timed: executing a completed execution id again. The memory engine returns the finished
    // run's result without replaying anything.
    prepare: (trial) => {
      const id = `rerun-${trial}`
      return effectTrial(layer, Rerun.execute({ id }), () => Rerun.execute({ id }))
    },
    checksum: total
  }
]
