/**
 * Plain Effect: the same step effects and the same programs as effect/workflow, with no
 * durability. Its resume is running the 10,000 steps again, which is all it can do.
 */
import { Effect, Layer } from "effect"
import type { Case } from "../harness.ts"
import { effectTrial, programs, stepsOf, stepWork, workloads } from "./shared.ts"

export const plainCases = (system: string): ReadonlyArray<Case> =>
  [
    {
      workload: workloads.sequential.name,
      program: programs.sequential(stepsOf(workloads.sequential.steps, stepWork))
    },
    { workload: workloads.parallel.name, program: programs.parallel(stepsOf(workloads.parallel.steps, stepWork)) },
    { workload: workloads.forEach.name, program: programs.forEach(stepsOf(workloads.forEach.steps, stepWork)) },
    { workload: workloads.resume.name, program: programs.sequential(stepsOf(workloads.resume.steps, stepWork)) }
  ].map(({ program, workload }) => ({
    system,
    workload,
    prepare: () => effectTrial(Layer.empty, Effect.void, () => program),
    checksum: (result) => result as number
  }))
