/**
 * `observe` reports more than step lifecycles: durable sleeps (with the journaled wake time),
 * signal waits and deliveries, and the race, branch and `lastWins` decisions a resumed run
 * replays, each marked `replayed` when it was read back from the journal.
 */
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Journal, Workflow } from "plait"
import { advance, completed, runFor } from "../support/runs.ts"

/** Records every event; `of(...tags)` lists those with the given tags, in order, without `runId`. */
const recorder = () => {
  const events: Array<Workflow.StepEvent> = []
  const observe = (event: Workflow.StepEvent) => Effect.sync(() => void events.push(event))
  const of = (...tags: ReadonlyArray<Workflow.StepEvent["_tag"]>) =>
    events.filter((event) => tags.includes(event._tag)).map(({ runId: _, ...rest }) => rest)
  return { events, observe, of }
}

const hour = 60 * 60 * 1000

describe("observe: sleep", () => {
  const Nap = Workflow.make("nap", { input: Schema.Number }).pipe(
    Workflow.sleep("nap", "1 hour"),
    Workflow.step("after", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input))
  )
  // Suspends after its sleep, so a later run of the same id resumes it (a completed run is only read).
  const NapThenWait = Nap.pipe(Workflow.signal("ack", { schema: Schema.Boolean }))
  const suspended = <A extends { readonly _tag: string }, E>(exit: Exit.Exit<A, E>) =>
    assert.isTrue(Exit.isSuccess(exit) && exit.value._tag === "Suspended", "the run should be suspended")

  it.effect("reports Sleeping with the journaled wake time, and Woke when it is over", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(10 * hour)
      const seen = recorder()
      completed(
        yield* runFor(Workflow.run(Nap, { input: 1, runId: "nap", observe: seen.observe }), "61 minutes", "1 minute")
      )
      assert.deepStrictEqual(seen.of("Sleeping", "Woke"), [
        { _tag: "Sleeping", path: "nap", wakeAt: DateTime.makeUnsafe(11 * hour) },
        { _tag: "Woke", path: "nap" }
      ])
      // Woke comes before the next step starts.
      assert.deepStrictEqual(seen.events.map((event) => event._tag), ["Sleeping", "Woke", "Started", "Completed"])
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a run stopped mid-sleep reports the same wake time when it resumes", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(10 * hour)
      const first = recorder()
      const fiber = yield* Effect.forkChild(
        Workflow.run(NapThenWait, { input: 1, runId: "nap", observe: first.observe })
      )
      yield* advance("20 minutes", "1 minute")
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(first.of("Sleeping", "Woke"), [
        { _tag: "Sleeping", path: "nap", wakeAt: DateTime.makeUnsafe(11 * hour) }
      ])

      const second = recorder()
      suspended(
        yield* runFor(
          Workflow.run(NapThenWait, { input: 1, runId: "nap", observe: second.observe }),
          "41 minutes",
          "1 minute"
        )
      )
      assert.deepStrictEqual(second.of("Sleeping", "Woke"), [
        { _tag: "Sleeping", path: "nap", wakeAt: DateTime.makeUnsafe(11 * hour) },
        { _tag: "Woke", path: "nap" }
      ])

      // Once the wake time has passed, a resume reports only that the sleep is over.
      const third = recorder()
      suspended(yield* runFor(Workflow.run(NapThenWait, { input: 1, runId: "nap", observe: third.observe })))
      assert.deepStrictEqual(third.of("Sleeping", "Woke"), [{ _tag: "Woke", path: "nap" }])
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("observe: signals", () => {
  const Approval = Schema.Struct({ approved: Schema.Boolean })
  const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
    Workflow.signal("approval", { schema: Approval }),
    Workflow.signal("receipt", { schema: Schema.String, timeout: "2 hours" }),
    Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved))
  )

  it.effect("reports each wait (with its deadline) and each delivered value the run takes", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(hour)
      const run = (observe: Workflow.RunOptions<number>["observe"]) =>
        Workflow.run(Expense, { input: 5, runId: "e", observe })

      const waiting = recorder()
      assert.strictEqual((yield* run(waiting.observe))._tag, "Suspended")
      assert.deepStrictEqual(waiting.of("AwaitingSignal", "SignalReceived"), [
        { _tag: "AwaitingSignal", path: "approval", deadline: undefined }
      ])

      yield* Workflow.sendSignal(Expense, { runId: "e", path: "approval", value: { approved: true } })
      const approved = recorder()
      assert.strictEqual((yield* run(approved.observe))._tag, "Suspended")
      assert.deepStrictEqual(approved.of("AwaitingSignal", "SignalReceived"), [
        { _tag: "SignalReceived", path: "approval" },
        { _tag: "AwaitingSignal", path: "receipt", deadline: DateTime.makeUnsafe(3 * hour) }
      ])

      yield* Workflow.sendSignal(Expense, { runId: "e", path: "receipt", value: "R-1" })
      const done = recorder()
      completed(yield* runFor(run(done.observe)))
      assert.deepStrictEqual(done.of("AwaitingSignal", "SignalReceived"), [
        { _tag: "SignalReceived", path: "approval" },
        { _tag: "SignalReceived", path: "receipt" }
      ])
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("observe: decisions", () => {
  let shipments = 0
  const Decide = Workflow.make("decide", { input: Schema.Number }).pipe(
    Workflow.race("fastest", {
      slow: Workflow.step("answer", { success: Schema.String }, () => Effect.as(Effect.sleep("1 minute"), "slow")),
      quick: Workflow.step("answer", { success: Schema.String }, () => Effect.succeed("quick"))
    }),
    Workflow.branch("size", (ctx) => (ctx.input > 10 ? "big" : "small"), {
      big: Workflow.step("box", { success: Schema.String }, () => Effect.succeed("crate")),
      small: Workflow.step("box", { success: Schema.String }, () => Effect.succeed("envelope"))
    }),
    Workflow.parallel("labels", {
      late: Workflow.step("label", { success: Schema.String }, () => Effect.as(Effect.sleep("2 seconds"), "late")),
      early: Workflow.step("label", { success: Schema.String }, () => Effect.as(Effect.sleep("1 second"), "early"))
    }, { merge: "lastWins" }),
    // Fails the first run after every decision is journaled; the second run resumes it.
    Workflow.step(
      "shipped",
      { success: Schema.Boolean },
      () => (shipments++ === 0 ? Effect.fail("carrier down") : Effect.succeed(true))
    )
  )
  const decisions = ["RaceWon", "BranchChosen", "LastWinsOrder"] as const

  it.effect("reports the race winner, the branch case and the lastWins order, then replays them", () =>
    Effect.gen(function*() {
      const first = recorder()
      assert.isTrue(
        Exit.isFailure(
          yield* runFor(Workflow.run(Decide, { input: 3, runId: "d", observe: first.observe }), "3 seconds")
        )
      )
      assert.deepStrictEqual(first.of(...decisions), [
        { _tag: "RaceWon", path: "fastest", winner: "quick", replayed: false },
        { _tag: "BranchChosen", path: "size", choice: "small", replayed: false },
        { _tag: "LastWinsOrder", path: "labels", order: ["early", "late"], replayed: false }
      ])

      const again = recorder()
      const ctx = completed(yield* runFor(Workflow.run(Decide, { input: 3, runId: "d", observe: again.observe })))
      assert.strictEqual(ctx.label, "late")
      assert.deepStrictEqual(again.of(...decisions), [
        { _tag: "RaceWon", path: "fastest", winner: "quick", replayed: true },
        { _tag: "BranchChosen", path: "size", choice: "small", replayed: true },
        { _tag: "LastWinsOrder", path: "labels", order: ["early", "late"], replayed: true }
      ])
    }).pipe(Effect.provide(Journal.layerMemory)))
})
