/**
 * The testing kit's `Testing.run`, through the public entry point: the clock is moved through
 * every sleep, timeout and backoff without the test touching it, signals are sent when the run
 * waits for them or at their time, and executions are counted per step.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, DateTime, Duration, Effect, Exit, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Journal, Workflow, WorkflowError } from "plait"
import { Testing } from "plait/testing"

class Busy extends Data.TaggedError("Busy")<{}> {}

const hours = (report: { readonly elapsed: Duration.Duration }) => Duration.toHours(report.elapsed)

/** A step that fails its first `failures` attempts with a typed error. */
const flaky = (failures: number) => {
  let attempts = 0
  return () => Effect.suspend(() => ++attempts <= failures ? Effect.fail(new Busy()) : Effect.succeed(attempts))
}

/** A step whose first attempt sleeps 2 hours, and every later one 30 minutes. */
const slowThenFast = () => {
  let attempts = 0
  return () => Effect.suspend(() => Effect.as(Effect.sleep(++attempts === 1 ? "2 hours" : "30 minutes"), attempts))
}

const completedContext = <Ctx, E, P extends string>(report: Testing.TestRun<Ctx, E, P>): Ctx => {
  if (Exit.isFailure(report.exit)) return assert.fail(`the run failed: ${String(report.exit.cause)}`)
  const outcome = report.exit.value
  if (outcome._tag !== "Completed") return assert.fail(`the run is ${outcome._tag}`)
  return outcome.context
}

describe("Testing.run moves the clock by itself", () => {
  it.effect("through a durable sleep, a retry's backoffs, a step's timeout and a sleep inside a step", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("timed", { input: Schema.Number }).pipe(
        // Fails twice: backoffs of 1 and 2 minutes.
        Workflow.step("flaky", {
          success: Schema.Number,
          retry: { times: 3, delay: "1 minute", backoff: "exponential" }
        }, flaky(2)),
        Workflow.sleep("cooldown", "1 day"),
        // The first attempt times out after 1 hour; the second sleeps 30 minutes in the step.
        Workflow.step("slow", { success: Schema.Number, timeout: "1 hour", retry: { times: 1 } }, slowThenFast()),
        Workflow.step("at", { success: Schema.Number }, () => Effect.map(DateTime.now, DateTime.toEpochMillis))
      )
      const report = yield* Testing.run(Flow, { input: 0 })
      const ctx = completedContext(report)
      assert.strictEqual(ctx.flaky, 3)
      // Exactly the waits, in virtual time: 3 minutes, a day, an hour and a half.
      const expected = Duration.toMillis(Duration.sum(Duration.days(1), Duration.minutes(93)))
      assert.strictEqual(ctx.at, expected)
      assert.strictEqual(Duration.toMillis(report.elapsed), expected)
      assert.deepStrictEqual(report.executions, { flaky: 3, slow: 2, at: 1 })
      assert.strictEqual(report.starts, 1)
      assert.strictEqual(report.journal.run.status, "completed")
    }))

  it.effect("through parallel branches that sleep for different times, in order", () =>
    Effect.gen(function*() {
      const woke: Array<string> = []
      const after = (name: string, time: Duration.Input) =>
        Workflow.step(name, { success: Schema.String }, () =>
          Effect.as(
            Effect.andThen(Effect.sleep(time), Effect.sync(() => woke.push(name))),
            name
          ))
      const Flow = Workflow.make("branches", { input: Schema.Number }).pipe(
        Workflow.parallel("all", {
          slow: Workflow.sequence(Workflow.sleep("wait", "3 hours"), after("c", "1 hour")),
          fast: after("a", "1 hour"),
          middle: after("b", "2 hours")
        })
      )
      const report = yield* Testing.run(Flow, { input: 0 })
      completedContext(report)
      assert.deepStrictEqual(woke, ["a", "b", "c"])
      assert.strictEqual(hours(report), 4)
    }))

  it.effect("with the TestClock of the test: the test's clock has moved when the run is over", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("long", { input: Schema.Number }).pipe(Workflow.sleep("wait", "30 days"))
      yield* Testing.run(Flow, { input: 0 })
      assert.strictEqual(yield* TestClock.testClockWith((clock) => clock.currentTimeMillis), 30 * 86_400_000)
    }))

  it("with a TestClock of its own outside it.effect", async () => {
    const Flow = Workflow.make("plain", { input: Schema.Number }).pipe(
      Workflow.sleep("wait", "1 hour"),
      Workflow.step("done", { success: Schema.Boolean }, () => Effect.succeed(true))
    )
    const report = await Effect.runPromise(Testing.run(Flow, { input: 0 }))
    assert.strictEqual(hours(report), 1)
    assert.deepStrictEqual(report.executions, { done: 1 })
  })
})

describe("Testing.run sends signals", () => {
  const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
    Workflow.step("filed", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input)),
    Workflow.sleep("review", "1 hour"),
    Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean }), timeout: "2 days" }),
    Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved))
  )

  it.effect("when the run waits on the signal, then resumes it: journaled steps replay", () =>
    Effect.gen(function*() {
      const report = yield* Testing.run(Expense, {
        input: 120,
        signals: [{ path: "approval", value: { approved: true } }]
      })
      assert.strictEqual(completedContext(report).booked, true)
      assert.strictEqual(report.starts, 2)
      assert.deepStrictEqual(report.executions, { filed: 1, booked: 1 })
      assert.deepStrictEqual(report.replays, { filed: 1 })
      assert.deepStrictEqual(report.signalsSent.map(({ at, path }) => [path, Duration.toHours(at)]), [["approval", 1]])
    }))

  it.effect("at a chosen time, before the run waits: the signal is kept until the run takes it", () =>
    Effect.gen(function*() {
      const report = yield* Testing.run(Expense, {
        input: 120,
        signals: [{ path: "approval", value: { approved: false }, at: "10 minutes" }]
      })
      assert.strictEqual(completedContext(report).booked, false)
      assert.deepStrictEqual(report.signalsSent.map(({ at }) => Duration.toMinutes(at)), [10])
      // A run reads its journal when it starts: the execution that was sleeping when the signal
      // came suspended at the signal, and the next one took it at once.
      assert.strictEqual(report.starts, 2)
      assert.strictEqual(hours(report), 1)
    }))

  it.effect("with no signal the clock moves to the deadline and the run fails with SignalTimeout", () =>
    Effect.gen(function*() {
      const report = yield* Testing.run(Expense, { input: 120 })
      assert.isTrue(Exit.isFailure(report.exit))
      const error = yield* Effect.flip(report.exit)
      assert.instanceOf(error, WorkflowError.SignalTimeout)
      assert.strictEqual(hours(report), 49)
      assert.strictEqual(report.starts, 2)
    }))

  it.effect("a signal scripted after the deadline comes too late", () =>
    Effect.gen(function*() {
      const report = yield* Testing.run(Expense, {
        input: 120,
        signals: [{ path: "approval", value: { approved: true }, at: "3 days" }]
      })
      assert.instanceOf(yield* Effect.flip(report.exit), WorkflowError.SignalTimeout)
      assert.deepStrictEqual(report.signalsSent, [])
    }))

  it.effect("a signal without a timeout and without a script leaves the run Suspended there", () =>
    Effect.gen(function*() {
      const Review = Workflow.make("review", { input: Schema.String }).pipe(
        Workflow.signal("decision", { schema: Schema.Boolean })
      )
      const report = yield* Testing.run(Review, { input: "doc" })
      const outcome = yield* report.exit
      assert.deepStrictEqual(outcome, { _tag: "Suspended", runId: "test-run", waitingFor: "decision" })
      assert.strictEqual(report.journal.run.status, "waiting")
    }))

  it.effect("signals inside forEach items, by item path", () =>
    Effect.gen(function*() {
      const Votes = Workflow.make("votes", { input: Schema.Array(Schema.String) }).pipe(
        Workflow.forEach("voters", (ctx) => ctx.input, Workflow.signal("vote", { schema: Schema.Boolean }), {
          key: (voter) => voter
        })
      )
      const report = yield* Testing.run(Votes, {
        input: ["ada", "bob"],
        signals: [{ path: "voters[bob]/vote", value: false }, { path: "voters[ada]/vote", value: true }]
      })
      assert.deepStrictEqual(completedContext(report).voters, [{ vote: true }, { vote: false }])
    }))
})

describe("Testing.run reports", () => {
  it.effect("executions per path, a compensation under <step>/compensate, a child's under the child's path", () =>
    Effect.gen(function*() {
      const Approval = Workflow.make("approval", { input: Schema.Number }).pipe(
        Workflow.step("checked", { success: Schema.Boolean }, () => Effect.succeed(true))
      )
      const Flow = Workflow.make("reported", { input: Schema.Number }).pipe(
        Workflow.child("approved", Approval, (ctx) => ctx.input),
        Workflow.step(
          "reserved",
          { success: Schema.String, compensate: () => Effect.void },
          () => Effect.succeed("R-1")
        ),
        Workflow.step(
          "charged",
          { success: Schema.String, retry: { times: 2, delay: "1 second" } },
          () => Effect.fail(new Busy())
        )
      )
      const report = yield* Testing.run(Flow, { input: 1 })
      assert.instanceOf(yield* Effect.flip(report.exit), Busy)
      assert.deepStrictEqual(report.executions, {
        "approved/checked": 1,
        reserved: 1,
        charged: 3,
        "reserved/compensate": 1
      })
    }))

  it.effect("on the memory journal it is given: the same run id again replays the completed run", () =>
    Effect.gen(function*() {
      const memory = Journal.makeMemory()
      const Flow = Workflow.make("kept", { input: Schema.Number }).pipe(
        Workflow.step("once", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input + 1))
      )
      const first = yield* Testing.run(Flow, { input: 1, runId: "kept-1", memory })
      const second = yield* Testing.run(Flow, { input: 1, runId: "kept-1", memory })
      assert.deepStrictEqual(first.executions, { once: 1 })
      assert.deepStrictEqual(second.executions, {})
      assert.deepStrictEqual(completedContext(second), { input: 1, once: 2 })
    }))
})

describe("Testing.run gives up with Stuck", () => {
  it.effect("when the run waits on something no clock or signal brings, naming the steps in flight", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("hangs", { input: Schema.Number }).pipe(
        Workflow.parallel("both", {
          fine: Workflow.step("fine", { success: Schema.Number }, () => Effect.succeed(1)),
          hangs: Workflow.step("hangs", { success: Schema.Number }, () => Effect.never)
        })
      )
      const error = yield* Effect.flip(Testing.run(Flow, { input: 0, runId: "stuck-1" }))
      assert.instanceOf(error, Testing.Stuck)
      assert.strictEqual((error as Testing.Stuck).runId, "stuck-1")
      assert.include((error as Testing.Stuck).detail, "outside the TestClock")
      assert.include((error as Testing.Stuck).detail, "not finished: both/hangs/hangs")
    }))

  it.effect("when the run would go past the time limit", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("forever", { input: Schema.Number }).pipe(
        Workflow.step("poll", { success: Schema.Number, retry: { times: 1_000_000, delay: "1 day" } }, () =>
          Effect.fail(new Busy()))
      )
      const error = yield* Effect.flip(Testing.run(Flow, { input: 0, timeLimit: "10 days" }))
      assert.instanceOf(error, Testing.Stuck)
      assert.include((error as Testing.Stuck).detail, "time limit (10d")
    }))
})
