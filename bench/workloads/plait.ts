/**
 * plait's side of every workload, over any journal layer: pass a SQLite or Postgres journal to
 * `plaitCases` to benchmark it the same way.
 */
import { Effect, type Layer, Schema } from "effect"
import { type Journal, Workflow } from "plait"
import type { Case } from "../harness.ts"
import { effectTrial, FOR_EACH_CONCURRENCY, forEachItems, stepWork, sum, workloads } from "./shared.ts"

// The typed API checks names against a context known statically; a bench builds thousands of
// steps in a loop, so it drives the same constructors untyped.
export type AnyWorkflow = Workflow.Workflow<any, any, any, any>
type AnySegment = (self: AnyWorkflow) => AnyWorkflow
const step = (name: string, i: number): AnySegment =>
  (Workflow.step as any)(name, { success: Schema.Number }, () => stepWork(i))

export const stepNames = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

export const sequentialWorkflow = (name: string, n: number): AnyWorkflow => {
  let workflow: AnyWorkflow = Workflow.make(name, { input: Schema.Number })
  for (let i = 0; i < n; i++) workflow = workflow.pipe(step(`s${i}`, i))
  return workflow
}

/** One `parallel` block of `n` single-step branches, all at once: step `p<i>` returns `i`. */
export const parallelWorkflow = (name: string, n: number): AnyWorkflow => {
  const branches: Record<string, AnySegment> = {}
  for (let i = 0; i < n; i++) branches[`b${i}`] = step(`p${i}`, i)
  return Workflow.make(name, { input: Schema.Number }).pipe((Workflow.parallel as any)("fan", branches))
}

/** A `forEach` named `items` over `items`, `FOR_EACH_CONCURRENCY` at a time. */
export const forEachWorkflow = (name: string, items: ReadonlyArray<number>): AnyWorkflow =>
  Workflow.make(name, { input: Schema.Number }).pipe(
    (Workflow.forEach as any)("items", () => items, (item: number) => stepWork(item), {
      success: Schema.Number,
      concurrency: FOR_EACH_CONCURRENCY
    })
  )

export const contextOf = (outcome: unknown): Record<string, any> => {
  const result = outcome as Workflow.Outcome<Record<string, any>>
  if (result._tag !== "Completed") throw new Error(`plait run ended ${result._tag}`)
  return result.context
}
export const sumOf = (names: ReadonlyArray<string>) => (outcome: unknown) => {
  const context = contextOf(outcome)
  return sum(names.map((name) => context[name] as number))
}

/** The checksum of a run of `forEachWorkflow`. */
export const itemsSum = (outcome: unknown): number => sum(contextOf(outcome).items as ReadonlyArray<number>)

export const plaitCases = (system: string, journal: Layer.Layer<Journal.Journal, unknown>): ReadonlyArray<Case> => {
  const forEach = forEachWorkflow("forEach", forEachItems)
  const sequential = sequentialWorkflow("sequential", workloads.sequential.steps)
  const resumable = sequentialWorkflow("resume", workloads.resume.steps)
  const parallel = parallelWorkflow("parallel", workloads.parallel.steps)
  const run = (workflow: AnyWorkflow, runId: string) => Workflow.run(workflow, { input: 0, runId })
  const fresh = (workflow: AnyWorkflow, workload: string) => (trial: number) =>
    effectTrial(journal, Effect.void, () => run(workflow, `${workload}-${trial}`))
  return [
    {
      system,
      workload: workloads.sequential.name,
      prepare: fresh(sequential, "sequential"),
      checksum: sumOf(stepNames("s", workloads.sequential.steps))
    },
    {
      system,
      workload: workloads.parallel.name,
      prepare: fresh(parallel, "parallel"),
      checksum: sumOf(stepNames("p", workloads.parallel.steps))
    },
    {
      system,
      workload: workloads.forEach.name,
      prepare: fresh(forEach, "forEach"),
      checksum: itemsSum
    },
    {
      system,
      workload: workloads.resume.name,
      // The first run completes every step, untimed; the timed run is the same run id again.
      prepare: (trial) => {
        const runId = `resume-${trial}`
        return effectTrial(journal, Effect.map(run(resumable, runId), contextOf), () => run(resumable, runId))
      },
      checksum: sumOf(stepNames("s", workloads.resume.steps))
    }
  ]
}
