/**
 * Two copies of `effect` in one app: schemas built by the app's copy and read by plait's fail
 * with `DuplicateEffect`, naming the schema's path, before anything is decoded or written,
 * instead of a misleading `InvalidInput`. The second copy is a real one: `effect-floor`, the
 * oldest `effect` of the peer range, installed as a dev dependency under another name.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import * as OtherCopy from "effect-floor"
import { Journal, Workflow, WorkflowError } from "plait"
import { failure, runFor } from "../support/runs.ts"

// Types of the two copies are not interchangeable; the run-time check is what is tested.
const foreign = <S>(schema: unknown): S => schema as S
const Seats = Schema.Struct({ seats: Schema.Number })
const OtherSeats = foreign<typeof Seats>(OtherCopy.Schema.Struct({ seats: OtherCopy.Schema.Number }))

const duplicate = (error: unknown): WorkflowError.DuplicateEffect => {
  assert.instanceOf(error, WorkflowError.DuplicateEffect)
  return error as WorkflowError.DuplicateEffect
}

describe("a second copy of effect", () => {
  it.effect("an input schema from another copy fails the run with DuplicateEffect, writing nothing", () =>
    Effect.gen(function*() {
      const Book = Workflow.make("book", { input: OtherSeats }).pipe(
        Workflow.step("booked", { success: Schema.Boolean }, () => Effect.succeed(true))
      )
      const error = duplicate(failure(yield* runFor(Workflow.run(Book, { input: { seats: 2 }, runId: "book-1" }))))
      assert.strictEqual(error.runId, "book-1")
      assert.strictEqual(error.workflow, "book")
      assert.strictEqual(error.path, "input")
      assert.include(error.message, "different copy of the effect package")
      assert.include(error.message, "npm ls effect")
      assert.isTrue(Option.isNone(yield* (yield* Journal.Journal).load("book-1")))
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a nested step's schema from another copy is named by its path", () =>
    Effect.gen(function*() {
      const Book = Workflow.make("book", { input: Seats }).pipe(
        Workflow.parallel("checks", {
          stock: Workflow.step("stock", { success: Schema.Number }, () => Effect.succeed(1)),
          price: Workflow.step("price", { success: foreign<typeof Schema.Number>(OtherCopy.Schema.Number) }, () =>
            Effect.succeed(9))
        })
      )
      const error = duplicate(failure(yield* runFor(Workflow.run(Book, { input: { seats: 2 }, runId: "book-2" }))))
      assert.strictEqual(error.path, "checks/price/price")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("sendSignal with a signal schema from another copy fails with DuplicateEffect", () =>
    Effect.gen(function*() {
      const Approve = Workflow.make("approve", { input: Seats }).pipe(
        Workflow.signal("approval", { schema: foreign<typeof Schema.Boolean>(OtherCopy.Schema.Boolean) })
      )
      const exit = yield* Effect.exit(Workflow.sendSignal(Approve, { runId: "a-1", path: "approval", value: true }))
      assert.strictEqual(duplicate(failure(exit)).path, "approval")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("schemas of plait's own copy pass", () =>
    Effect.gen(function*() {
      const Book = Workflow.make("book", { input: Seats }).pipe(
        Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.input.seats > 0))
      )
      const outcome = yield* Workflow.run(Book, { input: { seats: 2 }, runId: "book-3" })
      assert.strictEqual(outcome._tag, "Completed")
    }).pipe(Effect.provide(Journal.layerMemory)))
})
