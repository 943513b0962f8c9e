/**
 * The workflows of the engine benchmarks, shared by the bench process (which starts and signals
 * runs) and the worker processes (which execute them): both must hold the same definitions, so
 * the fingerprints the workers claim match the ones the runs were started with.
 */
import { Effect, Schema } from "effect"
import { Workflow } from "plait"
import { sequentialWorkflow } from "../workloads/plait.ts"

/** A workflow the bench builds untyped, whose steps need no services. */
export type StepsWorkflow = Workflow.Workflow<number, Record<string, number>, never, never>

/** `n` steps one after another, step `i` returning `i`: a run's checksum is `n(n-1)/2`. */
export const stepsWorkflow = (n: number): StepsWorkflow => sequentialWorkflow(`bench_steps_${n}`, n) as StepsWorkflow

export const OneStep = stepsWorkflow(1)
export const TenSteps = stepsWorkflow(10)

/**
 * A step, a signal, a step: the run suspends (`waiting`) at `go`, and the bench measures from
 * `engine.signal` to the start of `after`.
 */
export const Wake = Workflow.make("bench_wake", { input: Schema.Number }).pipe(
  Workflow.step("before", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input)),
  Workflow.signal("go", { schema: Schema.Number }),
  Workflow.step("after", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.before + ctx.go))
)

/** The step whose start ends a wake-latency sample. */
export const WAKE_STEP = "after"

/** What every worker process of the bench executes. */
export const benchWorkflows = [OneStep, TenSteps, Wake] as const
