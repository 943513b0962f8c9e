/**
 * Signals with a timeout: the deadline is journaled when the run first waits, so a restart
 * neither extends nor shortens it; a run after the deadline with nothing delivered fails with
 * `SignalTimeout`; a signal delivered in time wins.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Journal, Workflow, WorkflowError } from "plait"

const Approval = Schema.Struct({ approved: Schema.Boolean })

const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
  Workflow.signal("approval", { schema: Approval, timeout: "1 hour" }),
  Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved))
)

const run = (runId: string) => Workflow.run(Expense, { input: 120, runId })

describe("signal with a timeout", () => {
  it.effect("suspends until the deadline, then fails with SignalTimeout naming the run and path", () =>
    Effect.gen(function*() {
      const first = yield* run("expense-1")
      assert.strictEqual(first._tag, "Suspended")
      const journal = yield* Journal.Journal
      const loaded = yield* journal.load("expense-1")
      assert.isTrue(
        loaded._tag === "Some" && loaded.value.entries.some((e) => e.kind === "wake" && e.path === "approval"),
        "the deadline is journaled when the run first waits"
      )
      yield* TestClock.adjust("61 minutes")
      const late = yield* Effect.exit(run("expense-1"))
      assert.isTrue(Exit.isFailure(late))
      const error = Exit.isFailure(late) ? late.cause.reasons.find((r) => r._tag === "Fail") : undefined
      const failure = error?._tag === "Fail" ? error.error : undefined
      assert.instanceOf(failure, WorkflowError.SignalTimeout)
      assert.strictEqual((failure as WorkflowError.SignalTimeout).runId, "expense-1")
      assert.strictEqual((failure as WorkflowError.SignalTimeout).path, "approval")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a restart does not extend the deadline", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* run("expense-2"))._tag, "Suspended")
      yield* TestClock.adjust("40 minutes")
      assert.strictEqual((yield* run("expense-2"))._tag, "Suspended")
      // 70 minutes after the first wait: past a deadline kept from the first run, not one reset at 40.
      yield* TestClock.adjust("30 minutes")
      const exit = yield* Effect.exit(run("expense-2"))
      assert.isTrue(Exit.isFailure(exit), "the deadline moved with the restart")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a signal delivered before the run next runs wins, even past the deadline", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* run("expense-3"))._tag, "Suspended")
      yield* TestClock.adjust("30 minutes")
      yield* Workflow.sendSignal(Expense, { runId: "expense-3", path: "approval", value: { approved: true } })
      yield* TestClock.adjust("2 hours")
      const done = yield* run("expense-3")
      assert.strictEqual(done._tag, "Completed")
      if (done._tag === "Completed") assert.isTrue(done.context.booked)
    }).pipe(Effect.provide(Journal.layerMemory)))
})
