/**
 * The testing kit's `Testing.crashAtEveryStep`, through the public entry point: a crash after
 * every completion, a resume that runs nothing journaled and ends as the run that never crashed,
 * and the workflows whose resume goes wrong, caught at the crash point that shows it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Schema } from "effect"
import { Workflow, WorkflowError } from "plait"
import { Testing } from "plait/testing"

class Declined extends Data.TaggedError("Declined")<{}> {}

const Order = Workflow.make("order", { input: Schema.Number }).pipe(
  Workflow.step("reserved", { success: Schema.String }, (ctx) => Effect.succeed(`R-${ctx.input}`)),
  Workflow.parallel("payment", {
    card: Workflow.step(
      "charged",
      { success: Schema.Number, retry: { times: 2, delay: "1 minute" } },
      (ctx) => Effect.succeed(ctx.input * 10)
    ),
    paper: Workflow.sequence(
      Workflow.sleep("batch", "1 hour"),
      Workflow.step("invoiced", { success: Schema.String }, (ctx) => Effect.succeed(`INV-${ctx.input}`))
    )
  }),
  Workflow.signal("approval", { schema: Schema.Boolean, timeout: "1 day" }),
  Workflow.forEach("labels", (ctx) => [ctx.reserved, ctx.invoiced], (label) => Effect.succeed(label.length), {
    success: Schema.Number,
    concurrency: 2
  }),
  Workflow.step("shipped", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval))
)

describe("Testing.crashAtEveryStep", () => {
  it.effect("crashes after every completion, in order, and each resume runs only what was not journaled", () =>
    Effect.gen(function*() {
      const report = yield* Testing.crashAtEveryStep(Order, {
        input: 7,
        signals: [{ path: "approval", value: true }]
      })
      const steps = report.reference.journal.entries.filter((entry) => entry.kind === "step")
      assert.strictEqual(steps.length, 6)
      // One crash per completion, after each in the order it was journaled.
      assert.deepStrictEqual(report.crashes.map((crash) => crash.completions), [1, 2, 3, 4, 5, 6])
      assert.deepStrictEqual(report.crashes.map((crash) => crash.after), steps.map((entry) => entry.path))
      assert.sameMembers(report.crashes.map((crash) => crash.after), [
        "reserved",
        "payment/card/charged",
        "payment/paper/invoiced",
        "labels[0]",
        "labels[1]",
        "shipped"
      ])
      for (const crash of report.crashes) {
        const journaledBefore = new Set(steps.slice(0, crash.completions).map((entry) => entry.path))
        for (const path of Object.keys(crash.resumed.executions)) assert.isFalse(journaledBefore.has(path), path)
        const outcome = yield* crash.resumed.exit
        assert.strictEqual(outcome._tag, "Completed")
      }
      // The last crash left nothing to run.
      assert.deepStrictEqual(report.crashes[5]!.resumed.executions, {})
    }))

  it.effect("a run that fails and compensates: the compensations are crash points too, none is repeated", () =>
    Effect.gen(function*() {
      const Booking = Workflow.make("booking", { input: Schema.Number }).pipe(
        Workflow.step("flight", { success: Schema.String, compensate: () => Effect.void }, () => Effect.succeed("F-1")),
        Workflow.step("hotel", { success: Schema.String, compensate: () => Effect.void }, () => Effect.succeed("H-1")),
        Workflow.step("car", { success: Schema.String }, () => Effect.fail(new Declined()))
      )
      const report = yield* Testing.crashAtEveryStep(Booking, { input: 1 })
      assert.deepStrictEqual(report.crashes.map((crash) => crash.after), [
        "flight",
        "hotel",
        "hotel/compensate",
        "flight/compensate"
      ])
      for (const crash of report.crashes) {
        const error = yield* Effect.flip(crash.resumed.exit)
        // Resumed mid-compensation, the run fails with the failure as journaled: its tag and
        // fields, not yet an instance of its class (issue 21 point 3).
        assert.strictEqual(error._tag, "Declined")
      }
      // Crashed between the two compensations: only the flight's is left to run.
      assert.deepStrictEqual(report.crashes[2]!.resumed.executions, { "flight/compensate": 1 })
    }))

  it.effect("a workflow that reads what a step returned beyond its schema is caught at the one crash that shows it", () =>
    Effect.gen(function*() {
      // `quote` returns a field its schema does not keep: live, `priced` sees it; resumed after
      // `quote` was journaled and before `priced` ran, it does not. Only the crash after
      // `quote` shows it: after `start`, `quote` runs live again; after `priced`, its output is
      // journaled.
      const Quote = Schema.Struct({ amount: Schema.Number })
      const Pricing = Workflow.make("pricing", { input: Schema.Number }).pipe(
        Workflow.step("start", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input)),
        Workflow.step("quote", { success: Quote }, (ctx) => Effect.succeed({ amount: ctx.start, currency: "EUR" })),
        Workflow.step(
          "priced",
          { success: Schema.String },
          (ctx) =>
            Effect.succeed(`${ctx.quote.amount} ${(ctx.quote as { readonly currency?: string }).currency ?? "?"}`)
        ),
        Workflow.step("done", { success: Schema.Boolean }, () => Effect.succeed(true))
      )
      const error = yield* Effect.flip(Testing.crashAtEveryStep(Pricing, { input: 5, runId: "pricing-1" }))
      assert.instanceOf(error, Testing.ResumeDiverged)
      const diverged = error as Testing.ResumeDiverged
      assert.strictEqual(diverged.runId, "pricing-1")
      assert.strictEqual(diverged.crashedAfter, "quote")
      assert.strictEqual(diverged.completions, 2)
      assert.include(diverged.detail, "\"priced\":\"5 ?\"")
      assert.include(diverged.detail, "\"priced\":\"5 EUR\"")
    }))

  it.effect("values that differ from run to run need an equivalence, and pass with one", () =>
    Effect.gen(function*() {
      const Tagged = Workflow.make("tagged", { input: Schema.Number }).pipe(
        Workflow.step("id", { success: Schema.String }, () => Effect.sync(() => crypto.randomUUID())),
        Workflow.step("total", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input * 2))
      )
      const strict = yield* Effect.flip(Testing.crashAtEveryStep(Tagged, { input: 2 }))
      assert.instanceOf(strict, Testing.ResumeDiverged)
      const report = yield* Testing.crashAtEveryStep(Tagged, {
        input: 2,
        equivalent: (reference, resumed) => reference.total === resumed.total
      })
      assert.strictEqual(report.crashes.length, 2)
    }))

  it.effect("a defect retried with defects: true keeps its budget across every crash", () =>
    Effect.gen(function*() {
      let calls = 0
      const Upload = Workflow.make("upload", { input: Schema.Number }).pipe(
        Workflow.step("prepared", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input)),
        Workflow.step("sent", { success: Schema.Number, retry: { times: 1, delay: "1 second", defects: true } }, () =>
          Effect.sync(() => {
            calls++
            throw new Error("socket hang up")
          }))
      )
      const report = yield* Testing.crashAtEveryStep(Upload, { input: 1 })
      assert.deepStrictEqual(
        report.crashes.map((crash) =>
          crash.after
        ),
        ["prepared"]
      )
      const error = yield* Effect.flip(report.crashes[0]!.resumed.exit)
      assert.instanceOf(error, WorkflowError.StepDefect)
      // Two attempts in the reference run, two in the resumed one.
      assert.strictEqual(calls, 4)
    }))
})
