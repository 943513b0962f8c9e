/**
 * The definition check on resume: each kind of structural change is refused with
 * `DefinitionChanged` at the first path where the outlines differ, before anything runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import { completed, failure, makeCounts, runFor } from "../support/runs.ts"

class Boom extends Data.TaggedError("Boom")<{}> {}

const Items = Schema.Array(Schema.Number)

/**
 * Runs `before` (which must fail part-way, so the run is unfinished), then resumes the same run
 * with `after`: it must fail with `DefinitionChanged` naming `path` and the two outline lines,
 * run nothing, and still resume with `allowDefinitionChange` once `heal` lets it finish.
 */
const expectChanged = (
  before: Workflow.Workflow<ReadonlyArray<number>, any, any, never>,
  after: Workflow.Workflow<ReadonlyArray<number>, any, any, never>,
  expected: { readonly path: string; readonly stored: string; readonly current: string },
  counts: ReturnType<typeof makeCounts>,
  heal: () => void = () => {}
) =>
  Effect.gen(function*() {
    const runId = `changed-${expected.path}`
    const first = failure(yield* runFor(Workflow.run(before, { input: [1, 2], runId })))
    assert.instanceOf(first, Boom, "the first run must fail part-way")
    const ran = counts.snapshot()
    const error = failure(yield* runFor(Workflow.run(after, { input: [1, 2], runId })))
    assert.instanceOf(error, WorkflowError.DefinitionChanged)
    const changed = error as WorkflowError.DefinitionChanged
    assert.deepStrictEqual(
      { runId: changed.runId, path: changed.path, stored: changed.stored, current: changed.current },
      { runId, ...expected }
    )
    assert.include(changed.message, expected.path)
    assert.deepStrictEqual(counts.snapshot(), ran, "nothing ran under the changed definition")
    heal()
    completed(yield* runFor(Workflow.run(after, { input: [1, 2], runId, allowDefinitionChange: true })))
  })

describe("definition check", () => {
  it.effect("a node whose kind changed at the same path: a step that became a sleep", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const start = Workflow.make("kind_change", { input: Items }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1)))
      )
      let failing = true
      const gate = Workflow.step("gate", { success: Schema.Number }, () =>
        Effect.suspend(() =>
          failing ? Effect.fail(new Boom()) : Effect.succeed(0)
        ))
      const before = start.pipe(
        Workflow.step("pause", { success: Schema.Number }, () => counts.run("pause", Effect.succeed(2))),
        gate
      )
      const after = start.pipe(Workflow.sleep("pause", "0 millis"), gate)
      yield* expectChanged(
        before,
        after,
        { path: "pause", stored: "pause step", current: "pause sleep" },
        counts,
        () => {
          failing = false
        }
      )
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a node whose kind changed at the same path, keeping its branch keys: a race that became a branch", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const cases = {
        left: Workflow.step("l", { success: Schema.Number }, () => counts.run("l", Effect.succeed(1))),
        right: Workflow.step("r", { success: Schema.Number }, () => counts.run("r", Effect.succeed(2)))
      }
      const fail = Workflow.step("fail", { success: Schema.Number }, () => Effect.fail(new Boom()))
      const before = Workflow.make("race_to_branch", { input: Items }).pipe(Workflow.race("pick", cases), fail)
      const after = Workflow.make("race_to_branch", { input: Items }).pipe(
        Workflow.branch("pick", () => "left", cases),
        Workflow.step("fail", { success: Schema.Number }, () => Effect.succeed(0))
      )
      yield* expectChanged(before, after, { path: "pick", stored: "pick race", current: "pick branch" }, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a step added at the end of the workflow", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let failing = true
      const before = Workflow.make("added_at_end", { input: Items }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1))),
        Workflow.step("b", { success: Schema.Number }, () =>
          Effect.suspend(() =>
            failing ? Effect.fail(new Boom()) : Effect.succeed(2)
          ))
      )
      const after = before.pipe(
        Workflow.step("c", { success: Schema.Number }, () => counts.run("c", Effect.succeed(3)))
      )
      yield* expectChanged(before, after, { path: "c", stored: "(nothing)", current: "c step" }, counts, () => {
        failing = false
      })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a step removed from the end of the workflow", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const head = Workflow.make("removed_at_end", { input: Items }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => Effect.fail(new Boom()))
      )
      const before = head.pipe(Workflow.step("z", { success: Schema.Number }, () => counts.run("z", Effect.succeed(1))))
      const after = Workflow.make("removed_at_end", { input: Items }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1)))
      )
      yield* expectChanged(before, after, { path: "z", stored: "z step", current: "(nothing)" }, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a change inside a forEach segment body, named with [] for any item", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const before = Workflow.make("for_each_body", { input: Items }).pipe(
        Workflow.forEach(
          "items",
          (ctx) => ctx.input,
          Workflow.sequence(
            Workflow.step("fetch", { success: Schema.Number }, (ctx) => counts.run("fetch", Effect.succeed(ctx.item))),
            Workflow.step("store", { success: Schema.Number }, () => Effect.fail(new Boom()))
          ),
          { concurrency: 2 }
        )
      )
      const after = Workflow.make("for_each_body", { input: Items }).pipe(
        Workflow.forEach(
          "items",
          (ctx) => ctx.input,
          Workflow.sequence(
            Workflow.step("fetch", { success: Schema.Number }, (ctx) => counts.run("fetch", Effect.succeed(ctx.item))),
            Workflow.step("save", { success: Schema.Number }, () => Effect.succeed(0))
          ),
          { concurrency: 2 }
        )
      )
      yield* expectChanged(before, after, {
        path: "items[]/save",
        stored: "items[]/store step",
        current: "items[]/save step"
      }, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a forEach whose Effect body became a segment", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const before = Workflow.make("for_each_body_kind", { input: Items }).pipe(
        Workflow.forEach("items", (ctx) => ctx.input, (_item: number) => Effect.fail(new Boom()), {
          success: Schema.Number
        })
      )
      const after = Workflow.make("for_each_body_kind", { input: Items }).pipe(
        Workflow.forEach(
          "items",
          (ctx) => ctx.input,
          Workflow.step("each", { success: Schema.Number }, (ctx) => counts.run("each", Effect.succeed(ctx.item)))
        )
      )
      yield* expectChanged(
        before,
        after,
        { path: "items[]/each", stored: "(nothing)", current: "items[]/each step" },
        counts
      )
    }).pipe(Effect.provide(Journal.layerMemory)))
})
