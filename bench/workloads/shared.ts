/**
 * What every system runs: the workloads' sizes and checksums, the per-step work, and the
 * Effect programs shared by the effect/workflow and plain-Effect systems (which differ only in
 * what one step is: an `Activity`, or the bare effect).
 */
import { Effect, type Layer, ManagedRuntime } from "effect"
import type { Trial, Workload } from "../harness.ts"

const range = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => i)
const triangle = (n: number) => (n * (n - 1)) / 2

export const FOR_EACH_CONCURRENCY = 16

/** Step `i` returns `i`, so every run's checksum is the sum of its outputs. */
export const workloads = {
  sequential: {
    name: "sequential-1k",
    steps: 1_000,
    expected: triangle(1_000),
    description: "1,000 steps one after another"
  },
  parallel: {
    name: "parallel-1k",
    steps: 1_000,
    expected: triangle(1_000),
    description: "one parallel block of 1,000 single-step branches, all at once"
  },
  forEach: {
    name: "forEach-10k",
    steps: 10_000,
    expected: triangle(10_000),
    description: `10,000 items, ${FOR_EACH_CONCURRENCY} at a time`
  },
  resume: {
    name: "resume-10k",
    steps: 10_000,
    expected: triangle(10_000),
    description: "a second run of a run whose 10,000 sequential steps are all complete"
  }
} as const satisfies Record<string, Workload>

export type WorkloadKey = keyof typeof workloads

/** The input of the forEach workload, shared so no system pays for building it. */
export const forEachItems = range(workloads.forEach.steps)

/** The work of one step: an effect producing a small number. */
export const stepWork = (i: number): Effect.Effect<number> => Effect.succeed(i)

export const sum = (values: Iterable<number>): number => {
  let total = 0
  for (const value of values) total += value
  return total
}

/** The programs behind each workload, over any per-step effect. */
export const programs = {
  sequential: <E, R>(steps: ReadonlyArray<Effect.Effect<number, E, R>>): Effect.Effect<number, E, R> =>
    Effect.gen(function*() {
      let total = 0
      for (const step of steps) total += yield* step
      return total
    }),
  parallel: <E, R>(steps: ReadonlyArray<Effect.Effect<number, E, R>>): Effect.Effect<number, E, R> =>
    Effect.map(Effect.all(steps, { concurrency: "unbounded" }), sum),
  forEach: <E, R>(steps: ReadonlyArray<Effect.Effect<number, E, R>>): Effect.Effect<number, E, R> =>
    Effect.map(Effect.forEach(forEachItems, (i) => steps[i]!, { concurrency: FOR_EACH_CONCURRENCY }), sum)
}

export const stepsOf = <A>(n: number, make: (i: number) => A): ReadonlyArray<A> =>
  Array.from({ length: n }, (_, i) => make(i))

/**
 * A trial on a fresh runtime built from `layer` (built before the clock starts): `setup` runs
 * untimed, `timed` is what is measured, `outcome` (untimed, when given) reads what the checksum
 * checks.
 */
export const effectTrial = async <R, S>(
  layer: Layer.Layer<R, unknown>,
  setup: Effect.Effect<S, unknown, R>,
  timed: (state: S) => Effect.Effect<unknown, unknown, R>,
  outcome?: (state: S) => Effect.Effect<unknown, unknown, R>
): Promise<Trial> => {
  const runtime = ManagedRuntime.make(layer)
  const state = await runtime.runPromise(setup)
  return {
    run: () => runtime.runPromise(timed(state)),
    dispose: () => runtime.dispose(),
    outcome: outcome === undefined ? undefined : () => runtime.runPromise(outcome(state))
  }
}
