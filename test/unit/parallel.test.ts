import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Result, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import {
  completed,
  entryAt,
  failure,
  interrupt,
  makeCounts,
  makeGauge,
  runFor,
  start,
  stepPaths
} from "../support/runs.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly at: string }> {}

const Input = Schema.Number

describe("parallel", () => {
  describe("failFast", () => {
    it.effect("a failing branch interrupts a running sibling; the sibling is not journaled and re-runs on resume", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        let failing = true
        const Flow = Workflow.make("fail_fast", { input: Input }).pipe(
          Workflow.parallel("p", {
            done: Workflow.step(
              "done",
              { success: Schema.Number },
              (ctx) => counts.run("done", Effect.succeed(ctx.input))
            ),
            slow: Workflow.step(
              "slow",
              { success: Schema.String },
              () =>
                counts.run("slow.started", Effect.sleep("10 seconds")).pipe(
                  Effect.andThen(counts.hit("slow.finished")),
                  Effect.as("slow"),
                  Effect.onInterrupt(() => counts.hit("slow.interrupted"))
                )
            ),
            bad: Workflow.step("bad", { success: Schema.String }, () =>
              Effect.sleep("1 second").pipe(
                Effect.andThen(
                  Effect.suspend(() => failing ? Effect.fail(new Boom({ at: "bad" })) : Effect.succeed("ok"))
                )
              ))
          })
        )

        const first = yield* runFor(Workflow.run(Flow, { input: 7, runId: "ff" }), "2 seconds")
        const error = failure(first)
        assert.instanceOf(error, Boom)
        assert.strictEqual((error as Boom).at, "bad")
        assert.strictEqual(counts.of("slow.started"), 1)
        assert.strictEqual(counts.of("slow.interrupted"), 1)
        assert.strictEqual(counts.of("slow.finished"), 0)
        // The sibling that finished before the failure stays journaled; the interrupted one is not.
        assert.deepStrictEqual(yield* stepPaths("ff"), ["p/done/done"])

        failing = false
        const second = yield* runFor(Workflow.run(Flow, { input: 7, runId: "ff" }), "10 seconds")
        assert.deepStrictEqual(completed(second), { input: 7, done: 7, slow: "slow", bad: "ok" })
        assert.strictEqual(counts.of("done"), 1, "a completed sibling must not re-run")
        assert.strictEqual(counts.of("slow.started"), 2, "the interrupted sibling re-runs")
        assert.strictEqual(counts.of("slow.finished"), 1)
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("the block fails with the first failure and later failures never happen", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        const Flow = Workflow.make("first_failure", { input: Input }).pipe(
          Workflow.parallel("p", {
            early: Workflow.step("early", { success: Schema.Number }, () =>
              Effect.andThen(Effect.sleep("1 second"), Effect.fail(new Boom({ at: "early" })))),
            late: Workflow.step("late", { success: Schema.Number }, () =>
              Effect.andThen(Effect.sleep("2 seconds"), counts.run("late", Effect.fail(new Boom({ at: "late" })))).pipe(
                Effect.ensuring(counts.hit("late.finalized"))
              ))
          })
        )
        const exit = yield* runFor(Workflow.run(Flow, { input: 1, runId: "first" }), "5 seconds")
        assert.strictEqual((failure(exit) as Boom).at, "early")
        assert.strictEqual(counts.of("late"), 0)
        assert.strictEqual(counts.of("late.finalized"), 1)
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("a multi-step sibling keeps the steps it finished and loses the one that was running", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        let failing = true
        const Flow = Workflow.make("multi_step_sibling", { input: Input }).pipe(
          Workflow.parallel("p", {
            chain: Workflow.sequence(
              Workflow.step(
                "one",
                { success: Schema.Number },
                (ctx) => counts.run("one", Effect.succeed(ctx.input + 1))
              ),
              Workflow.step(
                "two",
                { success: Schema.Number },
                (ctx) =>
                  counts.run("two", Effect.as(Effect.sleep("5 seconds"), ctx.one * 10)).pipe(
                    Effect.onInterrupt(() => counts.hit("two.interrupted"))
                  )
              )
            ),
            bad: Workflow.step(
              "bad",
              { success: Schema.Boolean },
              () =>
                Effect.andThen(
                  Effect.sleep("1 second"),
                  Effect.suspend(() => failing ? Effect.fail(new Boom({ at: "bad" })) : Effect.succeed(true))
                )
            )
          })
        )
        const first = yield* runFor(Workflow.run(Flow, { input: 1, runId: "chain" }), "2 seconds")
        assert.instanceOf(failure(first), Boom)
        assert.strictEqual(counts.of("two.interrupted"), 1)
        assert.deepStrictEqual(yield* stepPaths("chain"), ["p/chain/one"])

        failing = false
        const second = yield* runFor(Workflow.run(Flow, { input: 1, runId: "chain" }), "5 seconds")
        assert.deepStrictEqual(completed(second), { input: 1, one: 2, two: 20, bad: true })
        assert.strictEqual(counts.of("one"), 1)
        assert.strictEqual(counts.of("two"), 2)
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("completeAll", () => {
    it.effect("every branch runs; one ParallelFailure carries each failure by key and the successes", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        let failing = true
        const maybeFail = (at: string, value: number) =>
          Effect.suspend(() => failing ? Effect.fail(new Boom({ at })) : Effect.succeed(value))
        const Flow = Workflow.make("complete_all", { input: Input }).pipe(
          Workflow.parallel("p", {
            a: Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1))),
            b: Workflow.step("b", { success: Schema.Number }, () => counts.run("b", maybeFail("b", 2))),
            c: Workflow.step(
              "c",
              { success: Schema.Number },
              () => counts.run("c", Effect.andThen(Effect.sleep("1 second"), maybeFail("c", 3)))
            ),
            d: Workflow.step(
              "d",
              { success: Schema.String },
              () => Effect.andThen(Effect.sleep("5 seconds"), counts.run("d", Effect.succeed("late")))
            )
          }, { onError: "completeAll" })
        )

        const first = yield* runFor(Workflow.run(Flow, { input: 0, runId: "all" }), "5 seconds")
        const error = failure(first)
        assert.instanceOf(error, WorkflowError.ParallelFailure)
        const parallelFailure = error as WorkflowError.ParallelFailure
        assert.strictEqual(parallelFailure.runId, "all")
        assert.strictEqual(parallelFailure.path, "p")
        assert.deepStrictEqual(Object.keys(parallelFailure.failures).sort(), ["b", "c"])
        assert.instanceOf(parallelFailure.failures.b, Boom)
        assert.strictEqual((parallelFailure.failures.b as Boom).at, "b")
        assert.strictEqual((parallelFailure.failures.c as Boom).at, "c")
        assert.deepStrictEqual(parallelFailure.successes, { a: { a: 1 }, d: { d: "late" } })
        // The slowest branch finished even though two siblings had failed long before.
        assert.strictEqual(counts.of("d"), 1)
        assert.deepStrictEqual(yield* stepPaths("all"), ["p/a/a", "p/d/d"])

        failing = false
        const second = yield* runFor(Workflow.run(Flow, { input: 0, runId: "all" }), "5 seconds")
        assert.deepStrictEqual(completed(second), { input: 0, a: 1, b: 2, c: 3, d: "late" })
        assert.deepStrictEqual(counts.snapshot(), { a: 1, b: 2, c: 2, d: 1 })
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("settle", () => {
    it.effect("never fails; the context holds a Result per branch and later steps run", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("settle", { input: Input }).pipe(
          Workflow.parallel("p", {
            ok: Workflow.step("ok", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input * 2)),
            bad: Workflow.step("bad", { success: Schema.Number }, () =>
              Effect.andThen(Effect.sleep("1 second"), Effect.fail(new Boom({ at: "bad" }))))
          }, { onError: "settle" }),
          Workflow.step("after", { success: Schema.String }, (ctx) =>
            Effect.succeed(Result.isSuccess(ctx.p.ok) && Result.isFailure(ctx.p.bad) ? "one of each" : "unexpected"))
        )
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 4, runId: "settle" }), "1 second"))
        const ok = ctx.p.ok
        const bad = ctx.p.bad
        assert.isTrue(Result.isSuccess(ok))
        if (Result.isSuccess(ok)) {
          assert.deepStrictEqual(ok.success, { ok: 8 })
        }
        assert.isTrue(Result.isFailure(bad))
        if (Result.isFailure(bad)) {
          assert.instanceOf(bad.failure, Boom)
          assert.strictEqual(bad.failure.at, "bad")
        }
        assert.strictEqual(ctx.after, "one of each")
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("concurrency", () => {
    it.effect("at most `concurrency` branches are in flight", () =>
      Effect.gen(function*() {
        const gauge = makeGauge()
        const work = (value: number) => gauge.hold(Effect.as(Effect.sleep("1 second"), value))
        const Flow = Workflow.make("bounded", { input: Input }).pipe(
          Workflow.parallel("p", {
            a: Workflow.step("a", { success: Schema.Number }, () => work(1)),
            b: Workflow.step("b", { success: Schema.Number }, () => work(2)),
            c: Workflow.step("c", { success: Schema.Number }, () => work(3)),
            d: Workflow.step("d", { success: Schema.Number }, () => work(4)),
            e: Workflow.step("e", { success: Schema.Number }, () => work(5))
          }, { concurrency: 2 })
        )
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "bounded" }), "5 seconds"))
        assert.deepStrictEqual(ctx, { input: 0, a: 1, b: 2, c: 3, d: 4, e: 5 })
        assert.strictEqual(gauge.max, 2)
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("without a bound every branch is in flight at once", () =>
      Effect.gen(function*() {
        const gauge = makeGauge()
        const work = (value: number) => gauge.hold(Effect.as(Effect.sleep("1 second"), value))
        const Flow = Workflow.make("unbounded", { input: Input }).pipe(
          Workflow.parallel("p", {
            a: Workflow.step("a", { success: Schema.Number }, () => work(1)),
            b: Workflow.step("b", { success: Schema.Number }, () => work(2)),
            c: Workflow.step("c", { success: Schema.Number }, () => work(3))
          })
        )
        completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "unbounded" }), "1 second"))
        assert.strictEqual(gauge.max, 3)
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("resume", () => {
    it.effect("with concurrency > 1 and some branches done: no deadlock, no re-run, same context as an uncrashed run", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        let failing = true
        const Flow = Workflow.make("resume_bounded", { input: Input }).pipe(
          Workflow.step(
            "before",
            { success: Schema.Number },
            (ctx) => counts.run("before", Effect.succeed(ctx.input + 1))
          ),
          Workflow.parallel("p", {
            a: Workflow.step("a", { success: Schema.Number }, (ctx) => counts.run("a", Effect.succeed(ctx.before * 2))),
            b: Workflow.step("b", { success: Schema.Number }, (ctx) => counts.run("b", Effect.succeed(ctx.before * 3))),
            c: Workflow.step(
              "c",
              { success: Schema.Number },
              (ctx) => counts.run("c", Effect.as(Effect.sleep("3 seconds"), ctx.before * 4))
            ),
            d: Workflow.step("d", { success: Schema.Number }, (ctx) =>
              counts.run(
                "d",
                Effect.andThen(
                  Effect.sleep("1 second"),
                  Effect.suspend(() => failing ? Effect.fail(new Boom({ at: "d" })) : Effect.succeed(ctx.before * 5))
                )
              )),
            e: Workflow.sequence(
              Workflow.step("e1", { success: Schema.Number }, () => counts.run("e1", Effect.succeed(1))),
              Workflow.step("e2", { success: Schema.Number }, (ctx) => counts.run("e2", Effect.succeed(ctx.e1 + 1)))
            )
          }, { concurrency: 3 }),
          Workflow.step(
            "after",
            { success: Schema.Number },
            (ctx) => counts.run("after", Effect.succeed(ctx.a + ctx.b + ctx.c + ctx.d + ctx.e2))
          )
        )

        const first = yield* runFor(Workflow.run(Flow, { input: 1, runId: "crashy" }), "2 seconds")
        assert.instanceOf(failure(first), Boom)
        const journaled = yield* stepPaths("crashy")
        assert.includeMembers(journaled, ["before", "p/a/a", "p/b/b"])
        assert.notInclude(journaled, "p/c/c")
        const before = counts.snapshot()

        failing = false
        const resumed = completed(yield* runFor(Workflow.run(Flow, { input: 1, runId: "crashy" }), "5 seconds"))
        // Nothing journaled before the crash ran again.
        for (const path of journaled) {
          const name = path.split("/").at(-1)!
          assert.strictEqual(counts.of(name), before[name], `${path} ran again on resume`)
        }

        const clean = completed(yield* runFor(Workflow.run(Flow, { input: 1, runId: "clean" }), "5 seconds"))
        assert.deepStrictEqual(resumed, clean)
        assert.deepStrictEqual(clean, { input: 1, before: 2, a: 4, b: 6, c: 8, d: 10, e1: 1, e2: 2, after: 30 })
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("an interrupted run resumes: the branches that finished are replayed, the rest run", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        const Flow = Workflow.make("interrupted", { input: Input }).pipe(
          Workflow.parallel("p", {
            fast: Workflow.step(
              "fast",
              { success: Schema.Number },
              () => counts.run("fast", Effect.as(Effect.sleep("1 second"), 1))
            ),
            slow: Workflow.step(
              "slow",
              { success: Schema.Number },
              () =>
                counts.run("slow", Effect.as(Effect.sleep("10 seconds"), 2)).pipe(
                  Effect.onInterrupt(() => counts.hit("slow.interrupted"))
                )
            )
          }, { concurrency: 2 })
        )
        const fiber = yield* start(Workflow.run(Flow, { input: 0, runId: "cut" }))
        yield* runFor(Effect.void, "2 seconds")
        yield* interrupt(fiber)
        assert.strictEqual(counts.of("slow.interrupted"), 1)
        assert.deepStrictEqual(yield* stepPaths("cut"), ["p/fast/fast"])

        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "cut" }), "10 seconds"))
        assert.deepStrictEqual(ctx, { input: 0, fast: 1, slow: 2 })
        assert.deepStrictEqual(counts.snapshot(), { fast: 1, slow: 2, "slow.interrupted": 1 })
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("merge", () => {
    it.effect("deep: branch outputs are deep-merged in declaration order, not completion order", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("deep", { input: Input }).pipe(
          Workflow.parallel("p", {
            // Declared first, finishes last.
            first: Workflow.step("settings", {
              success: Schema.Struct({ theme: Schema.String, size: Schema.Number })
            }, () => Effect.as(Effect.sleep("2 seconds"), { theme: "dark", size: 1 })),
            second: Workflow.step("settings", {
              success: Schema.Struct({ lang: Schema.String, size: Schema.Number })
            }, () => Effect.succeed({ lang: "en", size: 2 }))
          })
        )
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "deep" }), "2 seconds"))
        assert.deepStrictEqual(ctx, { input: 0, settings: { theme: "dark", lang: "en", size: 2 } })
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("each branch sees the context from before the block, never a sibling's output", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("isolated", { input: Input }).pipe(
          Workflow.step("before", { success: Schema.Number }, () => Effect.succeed(1)),
          Workflow.parallel("p", {
            quick: Workflow.step("quick", { success: Schema.Number }, () => Effect.succeed(2)),
            looker: Workflow.step(
              "seen",
              { success: Schema.Array(Schema.String) },
              (ctx) => Effect.as(Effect.sleep("1 second"), Object.keys(ctx).sort())
            )
          })
        )
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "isolated" }), "1 second"))
        assert.deepStrictEqual(ctx.seen, ["before", "input"])
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("collect: the context gains { name: { branchKey: delta } }", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("collect", { input: Input }).pipe(
          Workflow.parallel("p", {
            a: Workflow.step("value", { success: Schema.Number }, () => Effect.succeed(1)),
            b: Workflow.step("value", { success: Schema.Number }, () => Effect.succeed(2))
          }, { merge: "collect" })
        )
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "collect" })))
        assert.deepStrictEqual(ctx, { input: 0, p: { a: { value: 1 }, b: { value: 2 } } })
        assert.deepStrictEqual(yield* stepPaths("collect"), ["p/a/value", "p/b/value"])
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("lastWins: the completion order is journaled, so a resume keeps the first run's winner", () =>
      Effect.gen(function*() {
        let firstRun = true
        let failAfter = true
        // In the first run `a` finishes last; in any later run it would finish first.
        const delay = (key: "a" | "b") => Effect.sleep(firstRun === (key === "a") ? "2 seconds" : "1 second")
        const Flow = Workflow.make("last_wins", { input: Input }).pipe(
          Workflow.parallel("p", {
            a: Workflow.step("winner", { success: Schema.String }, () => Effect.as(delay("a"), "a")),
            b: Workflow.step("winner", { success: Schema.String }, () => Effect.as(delay("b"), "b"))
          }, { merge: "lastWins" }),
          Workflow.step(
            "after",
            { success: Schema.Boolean },
            () => Effect.suspend(() => failAfter ? Effect.fail(new Boom({ at: "after" })) : Effect.succeed(true))
          )
        )

        const first = yield* runFor(Workflow.run(Flow, { input: 0, runId: "lw" }), "2 seconds")
        assert.instanceOf(failure(first), Boom)
        assert.deepStrictEqual(yield* entryAt("lw", "order", "p"), {
          path: "p",
          kind: "order",
          seq: 0,
          value: "[\"b\",\"a\"]"
        })

        firstRun = false
        failAfter = false
        const resumed = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "lw" }), "2 seconds"))
        assert.strictEqual(resumed.winner, "a")

        // The same timing in a fresh run gives the other winner: the resume above replayed the order.
        const fresh = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "lw-fresh" }), "2 seconds"))
        assert.strictEqual(fresh.winner, "b")
      }).pipe(Effect.provide(Journal.layerMemory)))
  })
})
