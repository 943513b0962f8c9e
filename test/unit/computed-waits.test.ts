/**
 * Waits whose end comes from the context: `sleep` with a computed length, `sleepUntil` an instant
 * from the context, a signal timeout computed from the context. Each is worked out once, when the
 * run first reaches it, and journaled: a resumed run waits for the same wake time, whatever the
 * function would compute by then. The graph and the Mermaid drawing say the wait is computed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, DateTime, Duration, Effect, Exit, Schema } from "effect"
import { Journal, Workflow, WorkflowError, WorkflowGraph } from "plait"
import { Testing } from "plait/testing"
import { advance, completed, failure, finished, interrupt, makeCounts, start } from "../support/runs.ts"

const minutes = (report: { readonly elapsed: Duration.Duration }) => Duration.toMinutes(report.elapsed)

const Input = Schema.Struct({ minutes: Schema.Number })

describe("computed waits", () => {
  it.effect("sleep waits the length computed from the context", () =>
    Effect.gen(function*() {
      const CoolOff = Workflow.make("cool_off", { input: Input }).pipe(
        Workflow.step("doubled", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input.minutes * 2)),
        Workflow.sleep("coolOff", (ctx) => Duration.minutes(ctx.doubled)),
        Workflow.step("after", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.doubled))
      )
      const report = yield* Testing.run(CoolOff, { input: { minutes: 45 } })
      assert.isTrue(Exit.isSuccess(report.exit))
      assert.strictEqual(minutes(report), 90)
      const sleeping = report.events.find((event) => event._tag === "Sleeping")
      assert.strictEqual(sleeping?._tag === "Sleeping" ? DateTime.toEpochMillis(sleeping.wakeAt) : -1, 90 * 60_000)
    }))

  it.effect("sleepUntil wakes at the instant the context names, and at once for one already past", () =>
    Effect.gen(function*() {
      const Trial = Workflow.make("trial", { input: Schema.Struct({ days: Schema.Number }) }).pipe(
        Workflow.step(
          "endsAt",
          { success: Schema.Number },
          (ctx) => Effect.map(Clock.currentTimeMillis, (now) => now + ctx.input.days * 86_400_000)
        ),
        Workflow.sleepUntil("trialEnds", (ctx) => DateTime.makeUnsafe(ctx.endsAt)),
        Workflow.step("downgraded", { success: Schema.Boolean }, () => Effect.succeed(true))
      )
      const later = yield* Testing.run(Trial, { input: { days: 3 }, runId: "later" })
      assert.strictEqual(completedOf(later).downgraded, true)
      assert.strictEqual(Duration.toDays(later.elapsed), 3)
      const past = yield* Testing.run(Trial, { input: { days: -3 }, runId: "past" })
      assert.strictEqual(completedOf(past).downgraded, true)
      assert.strictEqual(Duration.toMillis(past.elapsed), 0)
    }))

  it.effect("a signal's timeout computed from the context: the deadline it gives, and SignalTimeout past it", () =>
    Effect.gen(function*() {
      const Expense = Workflow.make("expense", { input: Schema.Struct({ amount: Schema.Number }) }).pipe(
        Workflow.signal("approval", {
          schema: Schema.Boolean,
          timeout: (ctx) => Duration.hours(ctx.input.amount > 1000 ? 48 : 2)
        })
      )
      const small = yield* Testing.run(Expense, { input: { amount: 10 }, runId: "small" })
      const error = Exit.isFailure(small.exit) ? failure(small.exit) : assert.fail("the run should time out")
      assert.instanceOf(error, WorkflowError.SignalTimeout)
      assert.strictEqual((error as WorkflowError.SignalTimeout).timeout, "2h")
      assert.strictEqual(Duration.toHours(small.elapsed), 2)
      const large = yield* Testing.run(Expense, { input: { amount: 5000 }, runId: "large" })
      assert.strictEqual(Duration.toHours(large.elapsed), 48)
      const answered = yield* Testing.run(Expense, {
        input: { amount: 5000 },
        runId: "answered",
        signals: [{ path: "approval", value: true, at: "47 hours" }]
      })
      assert.strictEqual(completedOf(answered).approval, true)
    }))

  it.effect("a resumed run waits for the journaled wake time, not what the function computes now", () =>
    Effect.gen(function*() {
      let coolOff = Duration.minutes(60)
      const counts = makeCounts()
      const Flow = Workflow.make("resumed_sleep", { input: Schema.String }).pipe(
        Workflow.sleep("coolOff", () => coolOff),
        Workflow.step("done", { success: Schema.String }, (ctx) => counts.run("done", Effect.succeed(ctx.input)))
      )
      const first = yield* start(Workflow.run(Flow, { input: "x", runId: "r1" }))
      yield* advance("10 minutes", "1 minute")
      yield* interrupt(first)
      // The definition would now sleep ten hours; the run journaled its wake time an hour after it began.
      coolOff = Duration.hours(10)
      const second = yield* start(Workflow.run(Flow, { input: "x", runId: "r1" }))
      yield* advance("50 minutes", "1 minute")
      assert.strictEqual(completed(yield* finished(second)).done, "x")
      assert.strictEqual(counts.of("done"), 1)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a resumed run keeps the journaled instant of sleepUntil and the journaled signal deadline", () =>
    Effect.gen(function*() {
      let wakeAt = 2 * 3_600_000
      let timeout = Duration.hours(1)
      const Flow = Workflow.make("resumed_until", { input: Schema.String }).pipe(
        Workflow.sleepUntil("until", () => DateTime.makeUnsafe(wakeAt)),
        Workflow.signal("answer", { schema: Schema.String, timeout: () => timeout })
      )
      const first = yield* start(Workflow.run(Flow, { input: "x", runId: "u1" }))
      yield* advance("1 hour", "1 minute")
      yield* interrupt(first)
      wakeAt = 100 * 3_600_000
      const second = yield* start(Workflow.run(Flow, { input: "x", runId: "u1" }))
      yield* advance("1 hour", "1 minute")
      // Woke at the journaled 2 hours, then suspended at the signal with a deadline an hour later.
      const waiting = yield* finished(second)
      assert.isTrue(Exit.isSuccess(waiting) && waiting.value._tag === "Suspended")
      timeout = Duration.hours(100)
      yield* advance("2 hours", "1 minute")
      const third = yield* finished(yield* start(Workflow.run(Flow, { input: "x", runId: "u1" })))
      const error = failure(third)
      assert.instanceOf(error, WorkflowError.SignalTimeout)
      assert.strictEqual((error as WorkflowError.SignalTimeout).timeout, "1h")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it("the graph and the Mermaid drawing show a computed wait as computed", () => {
    const Flow = Workflow.make("drawn", { input: Input }).pipe(
      Workflow.sleep("fixed", "1 hour"),
      Workflow.sleep("coolOff", (ctx) => Duration.minutes(ctx.input.minutes)),
      Workflow.sleepUntil("until", () => DateTime.makeUnsafe(0)),
      Workflow.signal("answer", { schema: Schema.String, timeout: (ctx) => Duration.minutes(ctx.input.minutes) })
    )
    const details = Object.fromEntries(WorkflowGraph.fromWorkflow(Flow).nodes.map((node) => [node.path, node.detail]))
    assert.deepStrictEqual(details, {
      fixed: "1h",
      coolOff: "computed length",
      until: "until a computed time",
      answer: "timeout computed length"
    })
    const mermaid = Workflow.toMermaid(Flow)
    assert.include(mermaid, "sleep coolOff computed length")
    assert.include(mermaid, "sleep until until a computed time")
    assert.include(mermaid, "timeout computed length")
  })
})

const completedOf = <Ctx, E, P extends string>(report: Testing.TestRun<Ctx, E, P>): Ctx =>
  completed(report.exit as Exit.Exit<Workflow.Outcome<Ctx>, unknown>)
