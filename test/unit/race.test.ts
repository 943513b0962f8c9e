import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Option, Scheduler, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import { completed, entryAt, failure, interrupt, makeCounts, plant, runFor, start, stepPaths } from "../support/runs.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly at: string }> {}

describe("race", () => {
  it.effect("the first success wins; losers are interrupted, never complete and are not journaled", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("race_basic", { input: Schema.String }).pipe(
        Workflow.race("answer", {
          fast: Workflow.step(
            "fromCache",
            { success: Schema.String },
            (ctx) => Effect.as(Effect.sleep("1 second"), `cached ${ctx.input}`)
          ),
          slow: Workflow.step(
            "fromOrigin",
            { success: Schema.String },
            (ctx) =>
              counts.run("slow.started", Effect.sleep("5 seconds")).pipe(
                Effect.andThen(counts.hit("slow.finished")),
                Effect.as(`origin ${ctx.input}`),
                Effect.onInterrupt(() => counts.hit("slow.interrupted"))
              )
          )
        }),
        // Losers are interrupted when the winner is known, not left running into what follows.
        Workflow.step(
          "losersInterrupted",
          { success: Schema.Number },
          () => Effect.sync(() => counts.of("slow.interrupted"))
        )
      )
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: "k", runId: "race" }), "1 second"))
      assert.deepStrictEqual(ctx, {
        input: "k",
        answer: { _tag: "fast", value: { fromCache: "cached k" } },
        losersInterrupted: 1
      })
      assert.strictEqual(counts.of("slow.started"), 1)
      assert.strictEqual(counts.of("slow.interrupted"), 1)
      yield* runFor(Effect.void, "10 seconds")
      assert.strictEqual(counts.of("slow.finished"), 0)
      assert.deepStrictEqual(yield* stepPaths("race"), ["answer/fast/fromCache", "losersInterrupted"])
      assert.strictEqual((yield* entryAt("race", "choice", "answer"))?.value, "\"fast\"")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a branch that fails does not win: the first branch to succeed does", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("race_failure_first", { input: Schema.String }).pipe(
        Workflow.race("answer", {
          broken: Workflow.step("broken", { success: Schema.String }, () =>
            Effect.andThen(Effect.sleep("1 second"), Effect.fail(new Boom({ at: "broken" })))),
          steady: Workflow.step("steady", { success: Schema.String }, () =>
            Effect.as(Effect.sleep("3 seconds"), "ok"))
        })
      )
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: "k", runId: "rf" }), "3 seconds"))
      assert.deepStrictEqual(ctx.answer, { _tag: "steady", value: { steady: "ok" } })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("when every branch fails the race fails with RaceFailure holding every error", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("race_all_fail", { input: Schema.String }).pipe(
        Workflow.race("answer", {
          a: Workflow.step("a", { success: Schema.String }, () => Effect.fail(new Boom({ at: "a" }))),
          b: Workflow.step(
            "b",
            { success: Schema.String },
            () => Effect.andThen(Effect.sleep("2 seconds"), Effect.fail(new Boom({ at: "b" })))
          ),
          c: Workflow.sequence(
            Workflow.step("c1", { success: Schema.Number }, () => Effect.succeed(1)),
            Workflow.step(
              "c2",
              { success: Schema.Number },
              () => Effect.andThen(Effect.sleep("1 second"), Effect.fail(new Boom({ at: "c2" })))
            )
          )
        })
      )
      const exit = yield* runFor(Workflow.run(Flow, { input: "k", runId: "none" }), "2 seconds")
      const error = failure(exit)
      assert.instanceOf(error, WorkflowError.RaceFailure)
      const raceFailure = error as WorkflowError.RaceFailure
      assert.strictEqual(raceFailure.runId, "none")
      assert.strictEqual(raceFailure.path, "answer")
      assert.deepStrictEqual(Object.keys(raceFailure.failures).sort(), ["a", "b", "c"])
      assert.strictEqual((raceFailure.failures.a as Boom).at, "a")
      assert.strictEqual((raceFailure.failures.b as Boom).at, "b")
      assert.strictEqual((raceFailure.failures.c as Boom).at, "c2")
      assert.isUndefined(yield* entryAt("none", "choice", "answer"))
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a resumed race replays its journaled winner, though a fresh race over the same journal would pick another", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let firstRun = true
      // `manual` waits for a signal; `automatic` takes a second. The first run has no signal, so
      // `automatic` wins. Then the signal arrives: from then on `manual` replays at once and,
      // declared first, beats `automatic`'s replay in any race run afresh.
      const Flow = Workflow.make("race_resume", { input: Schema.String }).pipe(
        Workflow.race("decision", {
          manual: Workflow.signal("approval", { schema: Schema.Boolean }),
          automatic: Workflow.step(
            "auto",
            { success: Schema.Boolean },
            () => counts.run("auto", Effect.as(Effect.sleep("1 second"), true))
          )
        }),
        Workflow.step(
          "after",
          { success: Schema.String },
          (ctx) =>
            Effect.suspend(() => firstRun ? Effect.fail(new Boom({ at: "after" })) : Effect.succeed(ctx.decision._tag))
        )
      )
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: "k", runId: "rr" }), "1 second")), Boom)
      assert.strictEqual((yield* entryAt("rr", "choice", "decision"))?.value, "\"automatic\"")
      yield* Workflow.sendSignal(Flow, { runId: "rr", path: "decision/manual/approval", value: false })
      firstRun = false

      // The premise: the same journal without the recorded winner makes a fresh race pick `manual`.
      const journal = yield* Journal.Journal
      const recorded = Option.getOrThrow(yield* journal.load("rr"))
      yield* plant("rr-fresh", recorded.entries.filter((entry) => entry.kind !== "choice"), recorded.run)
      const fresh = completed(yield* runFor(Workflow.run(Flow, { input: "k", runId: "rr-fresh" })))
      assert.deepStrictEqual(fresh.decision, { _tag: "manual", value: { approval: false } })

      const before = counts.snapshot()
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: "k", runId: "rr" })))
      assert.deepStrictEqual(ctx.decision, { _tag: "automatic", value: { auto: true } })
      assert.strictEqual(ctx.after, "automatic")
      assert.deepStrictEqual(counts.snapshot(), before, "a branch ran again")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a race interrupted before any branch won runs again and journals the new winner", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("race_cut", { input: Schema.String }).pipe(
        Workflow.race("answer", {
          a: Workflow.step(
            "a",
            { success: Schema.String },
            () => counts.run("a", Effect.as(Effect.sleep("5 seconds"), "A"))
          ),
          b: Workflow.step(
            "b",
            { success: Schema.String },
            () => counts.run("b", Effect.as(Effect.sleep("8 seconds"), "B"))
          )
        })
      )
      const fiber = yield* start(Workflow.run(Flow, { input: "k", runId: "cut" }))
      yield* runFor(Effect.void, "2 seconds")
      yield* interrupt(fiber)
      assert.isUndefined(yield* entryAt("cut", "choice", "answer"))
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: "k", runId: "cut" }), "5 seconds"))
      assert.deepStrictEqual(ctx.answer, { _tag: "a", value: { a: "A" } })
      assert.strictEqual((yield* entryAt("cut", "choice", "answer"))?.value, "\"a\"")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a journaled winner that is not a branch of the race is reported as corrupt, naming run and path", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("race_corrupt", { input: Schema.String }).pipe(
        Workflow.race("answer", {
          a: Workflow.step("a", { success: Schema.String }, () => counts.run("a", Effect.succeed("A"))),
          b: Workflow.step("b", { success: Schema.String }, () => counts.run("b", Effect.succeed("B")))
        })
      )
      const journal = yield* Journal.Journal
      // Start the run (it completes), then plant a winner the race does not have under a new run.
      completed(yield* runFor(Workflow.run(Flow, { input: "k", runId: "seed" })))
      const seeded = yield* journal.load("seed")
      if (seeded._tag === "None") return assert.fail("seed run missing")
      yield* plant("bad-choice", [{ path: "answer", kind: "choice", seq: 0, value: "\"nope\"" }], seeded.value.run)
      const before = counts.snapshot()

      const error = failure(yield* runFor(Workflow.run(Flow, { input: "k", runId: "bad-choice" })))
      assert.instanceOf(error, WorkflowError.JournalError)
      const journalError = error as WorkflowError.JournalError
      assert.strictEqual(journalError.reason, "Corrupt")
      assert.strictEqual(journalError.runId, "bad-choice")
      assert.strictEqual(journalError.path, "answer")
      assert.deepStrictEqual(counts.snapshot(), before)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a branch waiting on a signal has not lost: the race suspends, and the delivered signal then wins", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("race_signal", { input: Schema.String }).pipe(
        Workflow.race("decision", {
          manual: Workflow.signal("approval", { schema: Schema.Boolean }),
          automatic: Workflow.step(
            "auto",
            { success: Schema.Boolean },
            () => counts.run("auto", Effect.fail(new Boom({ at: "auto" })))
          )
        })
      )
      const first = yield* runFor(Workflow.run(Flow, { input: "k", runId: "rs" }))
      if (first._tag === "Failure") {
        return assert.fail(`the race failed instead of suspending: ${String(failure(first))}`)
      }
      assert.deepStrictEqual(first.value, { _tag: "Suspended", runId: "rs", waitingFor: "decision/manual/approval" })
      assert.isUndefined(yield* entryAt("rs", "choice", "decision"))

      yield* Workflow.sendSignal(Flow, { runId: "rs", path: "decision/manual/approval", value: true })
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: "k", runId: "rs" })))
      assert.deepStrictEqual(ctx.decision, { _tag: "manual", value: { approval: true } })
      assert.strictEqual((yield* entryAt("rs", "choice", "decision"))?.value, "\"manual\"")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a branch that succeeds beats a branch still waiting on its signal", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("race_signal_loses", { input: Schema.String }).pipe(
        Workflow.race("decision", {
          manual: Workflow.signal("approval", { schema: Schema.Boolean }),
          automatic: Workflow.step("auto", { success: Schema.Boolean }, () => Effect.as(Effect.sleep("1 second"), true))
        })
      )
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: "k", runId: "rsl" }), "1 second"))
      assert.deepStrictEqual(ctx.decision, { _tag: "automatic", value: { auto: true } })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a race with no branch fails with RaceFailure instead of waiting forever", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("race_empty", { input: Schema.String }).pipe(Workflow.race("nothing", {}))
      const error = failure(yield* runFor(Workflow.run(Flow, { input: "k", runId: "empty" })))
      assert.instanceOf(error, WorkflowError.RaceFailure)
      assert.deepStrictEqual((error as WorkflowError.RaceFailure).failures, {})
    }).pipe(Effect.provide(Journal.layerMemory)))

  // Preemption can land anywhere: with fibers yielding every few operations, losers are
  // interrupted at every point of their step, including as they open a journal batch (an
  // interruption there once left the batch unwritten and every later write of the run waiting on
  // it). Whatever the interleaving, the race must journal its winner and the run go on.
  for (const branchCount of [2, 5, 8]) {
    it.effect(`under heavy preemption a race always finishes and journals its winner (${branchCount} branches)`, () =>
      Effect.gen(function*() {
        const busy = (n: number) =>
          Effect.gen(function*() {
            for (let i = 0; i < n; i++) yield* Effect.void
          })
        const branches: Record<string, Workflow.Branch<{ readonly input: number }>> = {}
        for (let i = 0; i < branchCount; i++) {
          branches[`b${i}`] = Workflow.step(`s${i}`, { success: Schema.Number }, () => Effect.as(busy(i), i))
        }
        const Flow = Workflow.make("race_preempted", { input: Schema.Number }).pipe(
          Workflow.race("first", branches),
          Workflow.step("after", { success: Schema.Number }, () => Effect.succeed(1))
        )
        const stuck: Array<number> = []
        for (let ops = 3; ops <= 40; ops++) {
          const runId = `preempted-${ops}`
          const exit = yield* runFor(
            Workflow.run(Flow, { input: 0, runId }).pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, ops))
          ).pipe(Effect.exit)
          if (exit._tag === "Failure") {
            stuck.push(ops)
            continue
          }
          completed(exit.value)
          assert.isDefined(yield* entryAt(runId, "choice", "first"))
        }
        assert.deepStrictEqual(stuck, [], "runs that never finished, by operations between yields")
      }).pipe(Effect.provide(Journal.layerMemory)))
  }
})
