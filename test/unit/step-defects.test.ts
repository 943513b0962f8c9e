/**
 * Steps whose code throws: a defect ends the run at once by default; `retry: { defects: true }`
 * makes it a journaled, retried attempt, and a typed `StepDefect` once the budget is spent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Effect, Exit, Option, Result, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import { advance, completed, entriesOf, failure, interrupt, makeCounts, runFor, start } from "../support/runs.ts"

class Declined extends Data.TaggedError("Declined")<{}> {}

/** A step body that throws its first `throws` attempts (counted across runs), then returns. */
const throwing = (throws: () => number) => {
  let attempts = 0
  return {
    attempts: () => attempts,
    body: () =>
      Effect.sync(() => {
        attempts++
        if (attempts <= throws()) throw new Error(`socket hang up (attempt ${attempts})`)
        return `ok after ${attempts}`
      })
  }
}

const attemptsOf = (runId: string) =>
  Effect.map(entriesOf(runId), (entries) =>
    entries
      .filter((entry) => entry.kind === "attempt")
      .sort((a, b) => a.seq - b.seq)
      .map((entry) => JSON.parse(entry.value) as { readonly attempt: number; readonly error: string }))

describe("defects, by default", () => {
  it.effect("a throw ends the run at once whatever the retry budget, and journals no attempt", () =>
    Effect.gen(function*() {
      const step = throwing(() => Infinity)
      const Flow = Workflow.make("default_defect", { input: Schema.Number }).pipe(
        Workflow.step("fetch", { success: Schema.String, retry: { times: 3, delay: "1 second" } }, step.body)
      )
      const exit = yield* runFor(Workflow.run(Flow, { input: 0, runId: "dd" }), "10 seconds")
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), "the run should die with the defect")
      assert.strictEqual(step.attempts(), 1)
      assert.deepStrictEqual(yield* attemptsOf("dd"), [])
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("retry: { defects: true }", () => {
  it.effect("a throw is a failed attempt: journaled with its message, retried after the delay", () =>
    Effect.gen(function*() {
      const step = throwing(() => 2)
      const events = makeCounts()
      const Flow = Workflow.make("retried_defect", { input: Schema.Number }).pipe(
        Workflow.step(
          "fetch",
          { success: Schema.String, retry: { times: 3, delay: "1 second", defects: true } },
          step.body
        )
      )
      const ctx = completed(
        yield* runFor(
          Workflow.run(Flow, { input: 0, runId: "rd", observe: (event) => events.hit(event._tag) }),
          "3 seconds"
        )
      )
      assert.strictEqual(ctx.fetch, "ok after 3")
      assert.strictEqual(step.attempts(), 3)
      const attempts = yield* attemptsOf("rd")
      assert.deepStrictEqual(attempts.map((record) => record.attempt), [1, 2])
      assert.include(attempts[0]!.error, "socket hang up (attempt 1)")
      assert.strictEqual(events.of("Failed"), 2)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("past the budget the run fails with StepDefect naming run, path, attempt and the defect", () =>
    Effect.gen(function*() {
      const step = throwing(() => Infinity)
      const Flow = Workflow.make("exhausted_defect", { input: Schema.Number }).pipe(
        Workflow.parallel("sync", {
          remote: Workflow.step("fetch", { success: Schema.String, retry: { times: 2, defects: true } }, step.body)
        })
      )
      const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "ed" })))
      assert.instanceOf(error, WorkflowError.StepDefect)
      const defect = error as WorkflowError.StepDefect
      assert.strictEqual(defect.runId, "ed")
      assert.strictEqual(defect.path, "sync/remote/fetch")
      assert.strictEqual(defect.attempts, 3)
      assert.include(defect.defect, "socket hang up (attempt 3)")
      assert.include(defect.message, "sync/remote/fetch")
      assert.strictEqual(step.attempts(), 3)
      // The run's own record of how it ended is the typed error, as JSON.
      const ended = (yield* entriesOf("ed")).find((entry) => entry.kind === "failed")
      assert.strictEqual(JSON.parse(ended!.value).failure._tag, "StepDefect")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a rejected Effect.promise and an Effect.die count as attempts; times: 0 makes the first one typed", () =>
    Effect.gen(function*() {
      let calls = 0
      const Flow = Workflow.make("rejected", { input: Schema.Number }).pipe(
        Workflow.step(
          "upload",
          { success: Schema.Number, retry: { times: 1, defects: true } },
          () =>
            Effect.promise(() => {
              calls++
              return calls === 1 ? Promise.reject(new TypeError("fetch failed")) : Promise.resolve(calls)
            })
        ),
        Workflow.step(
          "check",
          { success: Schema.Number, retry: { times: 0, defects: true } },
          () => Effect.die("checksum mismatch")
        )
      )
      const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "rj" })))
      assert.strictEqual(calls, 2)
      assert.instanceOf(error, WorkflowError.StepDefect)
      assert.strictEqual((error as WorkflowError.StepDefect).path, "check")
      assert.strictEqual((error as WorkflowError.StepDefect).attempts, 1)
      assert.include((error as WorkflowError.StepDefect).defect, "checksum mismatch")
      const attempts = yield* attemptsOf("rj")
      assert.include(attempts[0]!.error, "TypeError: fetch failed")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("the budget survives a crash during the backoff sleep", () =>
    Effect.gen(function*() {
      const step = throwing(() => Infinity)
      const Flow = Workflow.make("defect_budget", { input: Schema.Number }).pipe(
        Workflow.step(
          "fetch",
          { success: Schema.String, retry: { times: 4, delay: "10 seconds", defects: true } },
          step.body
        )
      )
      const fiber = yield* start(Workflow.run(Flow, { input: 0, runId: "db" }))
      yield* advance("15 seconds")
      assert.strictEqual(step.attempts(), 2)
      yield* interrupt(fiber)

      const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "db" }), "100 seconds"))
      // Five attempts in all: the two before the crash count.
      assert.strictEqual(step.attempts(), 5)
      assert.strictEqual((error as WorkflowError.StepDefect).attempts, 5)
      assert.deepStrictEqual((yield* attemptsOf("db")).map((record) => record.attempt), [1, 2, 3, 4, 5])
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("an interrupted attempt is no attempt: nothing is journaled and the budget is whole", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("interrupted", { input: Schema.Number }).pipe(
        Workflow.step(
          "slow",
          { success: Schema.Number, retry: { times: 1, defects: true } },
          () => counts.run("slow", Effect.as(Effect.sleep("1 hour"), 1))
        )
      )
      const fiber = yield* start(Workflow.run(Flow, { input: 0, runId: "in" }))
      yield* advance("1 minute")
      yield* interrupt(fiber)
      assert.deepStrictEqual(yield* attemptsOf("in"), [])
      assert.strictEqual(counts.of("slow"), 1)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("typed failures and defects share one budget, and the typed error still ends typed", () =>
    Effect.gen(function*() {
      let attempts = 0
      const Flow = Workflow.make("mixed", { input: Schema.Number }).pipe(
        Workflow.step(
          "charge",
          { success: Schema.String, retry: { times: 2, defects: true } },
          () =>
            Effect.suspend(() => {
              attempts++
              if (attempts % 2 === 1) throw new Error("gateway reset")
              return Effect.fail(new Declined())
            })
        )
      )
      const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "mx" })))
      // Attempts 1 and 3 threw, 2 was declined: three attempts, the last a defect.
      assert.strictEqual(attempts, 3)
      assert.instanceOf(error, WorkflowError.StepDefect)
      const attemptErrors = (yield* attemptsOf("mx")).map((record) => record.error)
      assert.include(attemptErrors[1]!, "Declined")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a StepDefect ends the run for good: the completed steps are compensated", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("defect_saga", { input: Schema.Number }).pipe(
        Workflow.step("reserve", {
          success: Schema.String,
          compensate: (reservation) => counts.run(`release ${reservation}`, Effect.void)
        }, () => Effect.succeed("R-1")),
        Workflow.step("charge", { success: Schema.String, retry: { times: 0, defects: true } }, () =>
          Effect.sync(() => {
            throw new Error("card processor crashed")
          }))
      )
      const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "saga" })))
      assert.instanceOf(error, WorkflowError.StepDefect)
      assert.strictEqual(counts.of("release R-1"), 1)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("in a settled block the defect is the branch's typed failure, and replays as a StepDefect", () =>
    Effect.gen(function*() {
      const step = throwing(() => Infinity)
      let gate = true
      const Flow = Workflow.make("settled_defect", { input: Schema.Number }).pipe(
        Workflow.parallel("calls", {
          flaky: Workflow.step("flaky", { success: Schema.String, retry: { times: 1, defects: true } }, step.body),
          fine: Workflow.step("fine", { success: Schema.String }, () => Effect.succeed("fine"))
        }, { onError: "settle" }),
        Workflow.step(
          "after",
          { success: Schema.Boolean },
          () => Effect.suspend(() => gate ? Effect.fail(new Declined()) : Effect.succeed(true))
        )
      )
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "st" }))), Declined)
      gate = false
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "st" })))
      // The replayed failure is decoded into a StepDefect again, not left as its JSON fields.
      const settled = ctx.calls.flaky
      assert.isTrue(Result.isFailure(settled))
      // Typed `never`, as a settled StepTimeout is: both are RunErrors, not the step's own `E`.
      const replayed: unknown = Option.getOrThrow(Result.getFailure(settled))
      assert.instanceOf(replayed, WorkflowError.StepDefect)
      assert.strictEqual((replayed as WorkflowError.StepDefect).path, "calls/flaky/flaky")
      assert.strictEqual(step.attempts(), 2, "the settled failure replays: the step does not run again")
    }).pipe(Effect.provide(Journal.layerMemory)))
})
