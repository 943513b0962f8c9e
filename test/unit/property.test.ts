/**
 * A property over random workflows: steps, parallel blocks (every error strategy and merge),
 * forEach (Effect and segment bodies, nested), branches and durable sleeps, whose steps fail
 * with a typed error on their first few attempts. Resumed after each failure until it
 * completes, a run must end with the context of a run without failures, and every step must
 * have run exactly its failing attempts plus one: nothing completed ran again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import { runFor } from "../support/runs.ts"

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { site: Schema.String, attempt: Schema.Number }) {}

interface StepShape {
  readonly _tag: "Step"
  readonly name: string
  /** Attempts that fail before one succeeds, counted across runs. */
  readonly failures: number
  readonly retry: number
}
interface ParallelShape {
  readonly _tag: "Parallel"
  readonly name: string
  readonly branches: ReadonlyArray<ReadonlyArray<Shape>>
  readonly onError: "failFast" | "completeAll" | "settle"
  readonly merge: "deep" | "lastWins" | "collect"
  readonly concurrency: number | undefined
}
interface ForEachShape {
  readonly _tag: "ForEach"
  readonly name: string
  readonly count: number
  readonly body: StepShape | ReadonlyArray<Shape>
  readonly onError: "failFast" | "completeAll"
  readonly concurrency: number | undefined
}
interface BranchShape {
  readonly _tag: "Branch"
  readonly name: string
  readonly cases: ReadonlyArray<ReadonlyArray<Shape>>
  readonly pick: number
}
interface SleepShape {
  readonly _tag: "Sleep"
  readonly name: string
}
type Shape = StepShape | ParallelShape | ForEachShape | BranchShape | SleepShape

/** Reads a workflow shape off a tape of random numbers; the same tape gives the same shape. */
const shapeOf = (tape: ReadonlyArray<number>): ReadonlyArray<Shape> => {
  let at = 0
  let names = 0
  const next = (n: number) => (tape.length === 0 ? 0 : tape[at++ % tape.length]! % n)
  const name = () => `n${names++}`
  // Under "settle" an exhausted failure would become part of the outcome for good: there,
  // failures stay within the retry budget.
  const step = (settled: boolean): StepShape => {
    const retry = next(3)
    const failures = next(4)
    return { _tag: "Step", name: name(), failures: settled ? Math.min(failures, retry) : failures, retry }
  }
  const segment = (depth: number, settled: boolean): ReadonlyArray<Shape> =>
    Array.from({ length: 1 + next(3) }, () => node(depth, settled))
  const node = (depth: number, settled: boolean): Shape => {
    const kind = depth >= 2 ? next(3) : next(8)
    switch (kind) {
      case 0:
      case 1:
        return step(settled)
      case 2:
        return { _tag: "Sleep", name: name() }
      case 3:
      case 4: {
        const onError = (["failFast", "completeAll", "settle"] as const)[next(3)]!
        return {
          _tag: "Parallel",
          name: name(),
          onError,
          merge: (["deep", "lastWins", "collect"] as const)[next(3)]!,
          concurrency: [undefined, 1, 2][next(3)],
          branches: Array.from({ length: 1 + next(3) }, () => segment(depth + 1, settled || onError === "settle"))
        }
      }
      case 5:
      case 6:
        return {
          _tag: "ForEach",
          name: name(),
          count: next(4),
          onError: (["failFast", "completeAll"] as const)[next(2)]!,
          concurrency: [undefined, 1, 3][next(3)],
          body: next(2) === 0 ? step(settled) : segment(depth + 1, settled)
        }
      default:
        return {
          _tag: "Branch",
          name: name(),
          pick: next(2),
          cases: [segment(depth + 1, settled), segment(depth + 1, settled)]
        }
    }
  }
  return segment(0, false)
}

type AnySegment = (self: any) => any

/**
 * Builds the workflow of a shape. Every step counts its executions by site (its name and the
 * item it runs for, unique across nested forEach items) and fails its first `failures`
 * attempts when `failing`.
 */
const build = (shapes: ReadonlyArray<Shape>, executions: Map<string, number>, failing: boolean) => {
  const attempt = (shape: StepShape, site: string, output: () => string) =>
    Effect.suspend(() => {
      const n = (executions.get(site) ?? 0) + 1
      executions.set(site, n)
      return failing && n <= shape.failures ? Effect.fail(new Flaky({ site, attempt: n })) : Effect.succeed(output())
    })
  const stepOptions = (shape: StepShape) => ({ success: Schema.String, error: Flaky, retry: { times: shape.retry } })
  const sequence = (list: ReadonlyArray<Shape>): AnySegment => (self) =>
    list.reduce((acc, shape) => one(shape)(acc), self)
  const keyed = (lists: ReadonlyArray<ReadonlyArray<Shape>>, prefix: string) =>
    Object.fromEntries(lists.map((list, i) => [`${prefix}${i}`, sequence(list)]))
  const one = (shape: Shape): AnySegment => {
    const W = Workflow as any
    switch (shape._tag) {
      case "Step":
        return W.step(shape.name, stepOptions(shape), (ctx: any) => {
          const site = `${shape.name}@${ctx.item ?? ""}`
          // The output depends on what the step sees, so a wrong context shows in the result.
          return attempt(shape, site, () => `${site}:${Object.keys(ctx).sort().join(",")}`)
        })
      case "Sleep":
        return W.sleep(shape.name, "0 millis")
      case "Parallel":
        return W.parallel(shape.name, keyed(shape.branches, "b"), {
          onError: shape.onError,
          merge: shape.merge,
          concurrency: shape.concurrency
        })
      case "Branch":
        return W.branch(shape.name, () => `c${shape.pick}`, keyed(shape.cases, "c"))
      case "ForEach": {
        const items = (ctx: any) => Array.from({ length: shape.count }, (_, i) => `${ctx.item ?? "i"}.${i}`)
        const options = { key: (item: string) => item, onError: shape.onError, concurrency: shape.concurrency }
        const body = shape.body
        return "_tag" in body
          ? W.forEach(shape.name, items, (item: string) => attempt(body, `${body.name}@${item}`, () => item), {
            ...options,
            ...stepOptions(body)
          })
          : W.forEach(shape.name, items, sequence(body), options)
      }
    }
  }
  return Workflow.make("random", { input: Schema.Number }).pipe(sequence(shapes)) as Workflow.Workflow<
    number,
    any,
    any,
    never
  >
}

const failuresOf = (shapes: ReadonlyArray<Shape>): Map<string, number> => {
  const byName = new Map<string, number>()
  const walk = (shape: Shape): void => {
    if (shape._tag === "Step") byName.set(shape.name, shape.failures)
    if (shape._tag === "Parallel") shape.branches.flat().forEach(walk)
    if (shape._tag === "Branch") shape.cases.flat().forEach(walk)
    if (shape._tag === "ForEach") ("_tag" in shape.body ? [shape.body] : shape.body).forEach(walk)
  }
  shapes.forEach(walk)
  return byName
}

/** Runs `workflow` as `runId` again and again until it completes; every failure must be typed. */
const runToCompletion = (workflow: Workflow.Workflow<number, any, any, never>, runId: string) =>
  Effect.gen(function*() {
    for (let run = 1; run <= 200; run++) {
      const exit = yield* runFor(Workflow.run(workflow, { input: 0, runId }), "1 second")
      if (Exit.isSuccess(exit)) {
        assert.strictEqual(exit.value._tag, "Completed")
        return (exit.value as Workflow.Completed<unknown>).context
      }
      const error = Cause.squash(exit.cause)
      if (!(error instanceof Flaky) && !(error instanceof WorkflowError.ParallelFailure)) {
        return assert.fail(
          `run ${run} failed with something other than a step's typed error: ${Cause.pretty(exit.cause)}`
        )
      }
    }
    return assert.fail("the run did not complete after 200 resumes")
  })

const Tape = Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10_000 }))).check(
  Schema.isBetweenLength(10, 60)
)

describe("property", () => {
  it.effect.prop(
    "random workflows with random typed failures, resumed until complete, match a run without failures; every step ran its failures plus once",
    { tape: Tape },
    ({ tape }) =>
      Effect.gen(function*() {
        const shapes = shapeOf(tape)
        const reference = new Map<string, number>()
        const expected = yield* runToCompletion(build(shapes, reference, false), "reference")
        // Without failures, each step that runs at all runs once.
        for (const [site, count] of reference) {
          assert.strictEqual(count, 1, `${site} ran ${count} times without failures`)
        }

        const executions = new Map<string, number>()
        const workflow = build(shapes, executions, true)
        const actual = yield* runToCompletion(workflow, "flaky")
        assert.deepStrictEqual(actual, expected)
        const failures = failuresOf(shapes)
        const expectedCounts = new Map(
          [...reference.keys()].map((site) => [site, failures.get(site.split("@")[0]!)! + 1])
        )
        assert.deepStrictEqual(executions, expectedCounts)

        // Completed, it replays whole: the same context, nothing runs.
        assert.deepStrictEqual(yield* runToCompletion(workflow, "flaky"), expected)
        assert.deepStrictEqual(executions, expectedCounts)
      }).pipe(Effect.provide(Journal.layerMemory)),
    { timeout: 120_000, arbitrary: { runs: 150 } }
  )
})
