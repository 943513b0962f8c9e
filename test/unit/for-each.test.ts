import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Effect, Result, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import {
  completed,
  countingJournal,
  entryAt,
  failure,
  makeCounts,
  makeGauge,
  runFor,
  stepPaths
} from "../support/runs.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly at: string }> {}

const Numbers = Schema.Array(Schema.Number)

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("forEach", () => {
  it.effect("results are in input order whatever the completion order; items are journaled at name[i]", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("for_each_order", { input: Numbers }).pipe(
        Workflow.forEach(
          "scaled",
          (ctx) => ctx.input,
          (seconds) => Effect.as(Effect.sleep(`${seconds} seconds`), seconds * 10),
          {
            success: Schema.Number,
            concurrency: 3
          }
        )
      )
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: [3, 1, 2], runId: "order" }), "3 seconds"))
      assert.deepStrictEqual(ctx.scaled, [30, 10, 20])
      assert.deepStrictEqual(yield* stepPaths("order"), ["scaled[0]", "scaled[1]", "scaled[2]"])
      assert.strictEqual((yield* entryAt("order", "step", "scaled[0]"))?.value, "30")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("with `key` items are journaled at name[key], for an Effect body and a segment body", () =>
    Effect.gen(function*() {
      const Line = Schema.Struct({ sku: Schema.String, qty: Schema.Number })
      const Order = Schema.Array(Line)
      const Flow = Workflow.make("for_each_key", { input: Order }).pipe(
        Workflow.forEach("charge", (ctx) => ctx.input, (line) => Effect.succeed(line.qty * 2), {
          success: Schema.Number,
          key: (line) => line.sku
        }),
        Workflow.forEach(
          "pack",
          (ctx) => ctx.input,
          Workflow.step("box", { success: Schema.String }, (ctx) => Effect.succeed(`${ctx.item.sku}x${ctx.item.qty}`)),
          { key: (line) => line.sku }
        )
      )
      const input = [{ sku: "apple", qty: 1 }, { sku: "pear", qty: 3 }]
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input, runId: "keys" })))
      assert.deepStrictEqual(ctx.charge, [2, 6])
      assert.deepStrictEqual(ctx.pack, [{ box: "applex1" }, { box: "pearx3" }])
      assert.deepStrictEqual(yield* stepPaths("keys"), [
        "charge[apple]",
        "charge[pear]",
        "pack[apple]/box",
        "pack[pear]/box"
      ])
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("at most `concurrency` items are in flight; the default is one at a time", () =>
    Effect.gen(function*() {
      const wide = makeGauge()
      const narrow = makeGauge()
      const Flow = Workflow.make("for_each_bounded", { input: Numbers }).pipe(
        Workflow.forEach("wide", (ctx) => ctx.input, (n) => wide.hold(Effect.as(Effect.sleep("1 second"), n)), {
          success: Schema.Number,
          concurrency: 3
        }),
        Workflow.forEach("narrow", (ctx) => ctx.input, (n) => narrow.hold(Effect.as(Effect.sleep("1 second"), n)), {
          success: Schema.Number
        })
      )
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: range(10), runId: "bounded" }), "20 seconds"))
      assert.deepStrictEqual(ctx.wide, range(10))
      assert.deepStrictEqual(ctx.narrow, range(10))
      assert.strictEqual(wide.max, 3)
      assert.strictEqual(narrow.max, 1)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("completed items are skipped on resume and the results equal an uncrashed run's", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let failing = true
      const Flow = Workflow.make("for_each_resume", { input: Numbers }).pipe(
        Workflow.forEach("squares", (ctx) => ctx.input, (n) =>
          counts.run(
            `item${n}`,
            Effect.andThen(
              Effect.sleep(`${n} seconds`),
              Effect.suspend(() => failing && n === 3 ? Effect.fail(new Boom({ at: `${n}` })) : Effect.succeed(n * n))
            )
          ), { success: Schema.Number, concurrency: 2 })
      )
      const first = yield* runFor(Workflow.run(Flow, { input: range(6), runId: "resume" }), "6 seconds")
      assert.strictEqual((failure(first) as Boom).at, "3")
      const journaled = yield* stepPaths("resume")
      assert.includeMembers(journaled, ["squares[0]", "squares[1]", "squares[2]"])
      assert.notInclude(journaled, "squares[3]")
      const before = counts.snapshot()

      failing = false
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: range(6), runId: "resume" }), "10 seconds"))
      assert.deepStrictEqual(ctx.squares, [0, 1, 4, 9, 16, 25])
      for (const path of journaled) {
        const n = path.slice("squares[".length, -1)
        assert.strictEqual(counts.of(`item${n}`), before[`item${n}`], `${path} ran again on resume`)
      }
      assert.strictEqual(counts.of("item3"), 2)
      const clean = completed(yield* runFor(Workflow.run(Flow, { input: range(6), runId: "clean" }), "10 seconds"))
      assert.deepStrictEqual(ctx, clean)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("completions that arrive together are written in one batch: 100 items, concurrency 16, ceil(100 / 16) = 7 appends", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("for_each_batching", { input: Numbers }).pipe(
        Workflow.forEach("items", (ctx) => ctx.input, (n) => Effect.succeed(n + 1), {
          success: Schema.Number,
          concurrency: 16
        })
      )
      const batched = countingJournal()
      const ctx = completed(
        yield* runFor(Workflow.run(Flow, { input: range(100), runId: "batched" }).pipe(Effect.provide(batched.layer)))
      )
      assert.deepStrictEqual(ctx.items, range(100).map((n) => n + 1))
      const written = batched.batches.flat().filter((entry) => entry.kind === "step")
      assert.strictEqual(written.length, 100)
      // The memory journal's appends are instant, so items are not pipelined on it (see
      // backends/pipeline.test.ts for journals that take time): no batch can hold more items than
      // run at once, and each holds every completion that arrived while the one before it was
      // written, which for steps finishing at once is all.
      // Counting batches alone would pass with batches capped below 16 (15 per batch is also 7).
      assert.deepStrictEqual(batched.batches.map((batch) => batch.length), [16, 16, 16, 16, 16, 16, 4])
      assert.strictEqual(batched.batches.length, Math.ceil(100 / 16))

      // Without batching the same run writes once per item: the count above is really the batching.
      const unbatched = countingJournal()
      completed(
        yield* runFor(
          Workflow.run(Flow, { input: range(100), runId: "unbatched", batching: false }).pipe(
            Effect.provide(unbatched.layer)
          )
        )
      )
      assert.strictEqual(unbatched.batches.length, 100)
    }))

  it.effect("a segment body sees ctx.item and ctx.index and is journaled under name[i]/step", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("for_each_segment", { input: Schema.Array(Schema.String) }).pipe(
        Workflow.step("prefix", { success: Schema.String }, () => Effect.succeed("#")),
        Workflow.forEach(
          "labels",
          (ctx) => ctx.input,
          Workflow.sequence(
            Workflow.step("upper", { success: Schema.String }, (ctx) => Effect.succeed(ctx.item.toUpperCase())),
            Workflow.step(
              "label",
              { success: Schema.String },
              (ctx) => Effect.succeed(`${ctx.prefix}${ctx.index} ${ctx.upper}`)
            )
          ),
          { concurrency: 2 }
        )
      )
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: ["a", "b"], runId: "segment" })))
      assert.deepStrictEqual(ctx.labels, [{ upper: "A", label: "#0 A" }, { upper: "B", label: "#1 B" }])
      assert.deepStrictEqual(yield* stepPaths("segment"), [
        "labels[0]/label",
        "labels[0]/upper",
        "labels[1]/label",
        "labels[1]/upper",
        "prefix"
      ])
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a parallel inside a branch inside a segment body works and resumes without re-running finished steps", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let failing = true
      const Line = Schema.Struct({ sku: Schema.String, digital: Schema.Boolean })
      const Flow = Workflow.make("for_each_nested", { input: Schema.Array(Line) }).pipe(
        Workflow.forEach(
          "lines",
          (ctx) => ctx.input,
          Workflow.sequence(
            Workflow.step(
              "price",
              { success: Schema.Number },
              (ctx) => counts.run(`price ${ctx.item.sku}`, Effect.succeed(ctx.index + 10))
            ),
            Workflow.branch("route", (ctx) => (ctx.item.digital ? "digital" : "physical"), {
              digital: Workflow.step(
                "link",
                { success: Schema.String },
                (ctx) => counts.run(`link ${ctx.item.sku}`, Effect.succeed(`https://dl/${ctx.item.sku}`))
              ),
              physical: Workflow.parallel("ship", {
                label: Workflow.step(
                  "label",
                  { success: Schema.String },
                  (ctx) => counts.run(`label ${ctx.item.sku}`, Effect.succeed(`LBL-${ctx.item.sku}-${ctx.price}`))
                ),
                pickup: Workflow.step("pickup", { success: Schema.String }, (ctx) =>
                  counts.run(
                    `pickup ${ctx.item.sku}`,
                    Effect.andThen(
                      Effect.sleep("1 second"),
                      Effect.suspend(() =>
                        failing && ctx.item.sku === "box"
                          ? Effect.fail(new Boom({ at: "pickup" }))
                          : Effect.succeed("tomorrow")
                      )
                    )
                  ))
              }, { concurrency: 2 })
            })
          ),
          { concurrency: 2 }
        )
      )
      const input = [{ sku: "ebook", digital: true }, { sku: "box", digital: false }]
      const first = yield* runFor(Workflow.run(Flow, { input, runId: "nested" }), "3 seconds")
      assert.instanceOf(failure(first), Boom)
      assert.deepStrictEqual(yield* stepPaths("nested"), [
        "lines[0]/price",
        "lines[0]/route/digital/link",
        "lines[1]/price",
        "lines[1]/route/physical/ship/label/label"
      ])
      assert.strictEqual((yield* entryAt("nested", "choice", "lines[1]/route"))?.value, "\"physical\"")

      failing = false
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input, runId: "nested" }), "3 seconds"))
      assert.deepStrictEqual(ctx.lines, [
        { price: 10, route: { _tag: "digital", link: "https://dl/ebook" } },
        { price: 11, route: { _tag: "physical", label: "LBL-box-11", pickup: "tomorrow" } }
      ])
      assert.deepStrictEqual(counts.snapshot(), {
        "price ebook": 1,
        "link ebook": 1,
        "price box": 1,
        "label box": 1,
        "pickup box": 2
      })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("two items under one key are refused before anything runs: they would share a journal slot", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("for_each_duplicate_keys", { input: Numbers }).pipe(
        Workflow.forEach("items", (ctx) => ctx.input, (n) => counts.run(`item ${n}`, Effect.succeed(n * 10)), {
          success: Schema.Number,
          key: (n) => n % 2
        })
      )
      const exit = yield* runFor(Workflow.run(Flow, { input: [1, 2, 3], runId: "dup" }))
      if (exit._tag === "Success") return assert.fail("colliding keys were accepted")
      assert.include(Cause.pretty(exit.cause), "items[1]")
      assert.include(Cause.pretty(exit.cause), "dup")
      assert.deepStrictEqual(counts.snapshot(), {})
      assert.deepStrictEqual(yield* stepPaths("dup"), [])
    }).pipe(Effect.provide(Journal.layerMemory)))

  describe("error strategies", () => {
    const flaky = (failing: ReadonlySet<number>) =>
      Workflow.make("for_each_flaky", { input: Numbers }).pipe(
        Workflow.forEach("items", (ctx) =>
          ctx.input, (n) =>
          failing.has(n) ? Effect.fail(new Boom({ at: `${n}` })) : Effect.succeed(n * 2), {
          success: Schema.Number,
          concurrency: 2,
          onError: "completeAll"
        })
      )

    it.effect("completeAll: every item runs; ParallelFailure keyed by item path, with the successes", () =>
      Effect.gen(function*() {
        const error = failure(yield* runFor(Workflow.run(flaky(new Set([1, 3])), { input: range(5), runId: "ca" })))
        assert.instanceOf(error, WorkflowError.ParallelFailure)
        const parallelFailure = error as WorkflowError.ParallelFailure
        assert.strictEqual(parallelFailure.path, "items")
        assert.deepStrictEqual(Object.keys(parallelFailure.failures).sort(), ["items[1]", "items[3]"])
        assert.strictEqual((parallelFailure.failures["items[3]"] as Boom).at, "3")
        assert.deepStrictEqual(parallelFailure.successes, { "items[0]": 0, "items[2]": 4, "items[4]": 8 })
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("failFast: a failing item interrupts items in flight, which are not journaled", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        const Flow = Workflow.make("for_each_fail_fast", { input: Numbers }).pipe(
          Workflow.forEach("items", (ctx) => ctx.input, (n) =>
            n === 0
              ? Effect.andThen(Effect.sleep("1 second"), Effect.fail(new Boom({ at: "0" })))
              : counts.run(`started ${n}`, Effect.as(Effect.sleep("5 seconds"), n)).pipe(
                Effect.onInterrupt(() => counts.hit(`interrupted ${n}`))
              ), { success: Schema.Number, concurrency: 3 })
        )
        const error = failure(yield* runFor(Workflow.run(Flow, { input: range(5), runId: "ff" }), "5 seconds"))
        assert.strictEqual((error as Boom).at, "0")
        assert.deepStrictEqual(counts.snapshot(), {
          "started 1": 1,
          "started 2": 1,
          "interrupted 1": 1,
          "interrupted 2": 1
        })
        assert.deepStrictEqual(yield* stepPaths("ff"), [])
      }).pipe(Effect.provide(Journal.layerMemory)))

    const settling = (tolerate: { readonly count: number } | { readonly fraction: number }) =>
      Workflow.make("for_each_settle", { input: Numbers }).pipe(
        Workflow.forEach(
          "items",
          (ctx) => ctx.input,
          (n) => n % 2 === 1 ? Effect.fail(new Boom({ at: `${n}` })) : Effect.succeed(n),
          {
            success: Schema.Number,
            concurrency: 4,
            onError: "settle",
            tolerate
          }
        )
      )

    // Five items, two of which (1 and 3) fail.
    const underThreshold = [{ count: 2 }, { count: 5 }, { fraction: 0.4 }, { fraction: 1 }] as const
    const overThreshold = [{ count: 1 }, { count: 0 }, { fraction: 0.2 }, { fraction: 0.39 }] as const

    for (const tolerate of underThreshold) {
      it.effect(`settle tolerating ${JSON.stringify(tolerate)} of 2 failures: a Result per item`, () =>
        Effect.gen(function*() {
          const ctx = completed(yield* runFor(Workflow.run(settling(tolerate), { input: range(5), runId: "settle" })))
          assert.strictEqual(ctx.items.length, 5)
          assert.deepStrictEqual(ctx.items.map((result) => Result.isSuccess(result)), [true, false, true, false, true])
          const third = ctx.items[3]!
          if (Result.isFailure(third)) assert.strictEqual((third.failure as Boom).at, "3")
          const second = ctx.items[2]!
          if (Result.isSuccess(second)) assert.strictEqual(second.success, 2)
        }).pipe(Effect.provide(Journal.layerMemory)))
    }

    for (const tolerate of overThreshold) {
      it.effect(`settle tolerating ${JSON.stringify(tolerate)} of 2 failures: ParallelFailure`, () =>
        Effect.gen(function*() {
          const error = failure(yield* runFor(Workflow.run(settling(tolerate), { input: range(5), runId: "settle" })))
          assert.instanceOf(error, WorkflowError.ParallelFailure)
          assert.deepStrictEqual(Object.keys((error as WorkflowError.ParallelFailure).failures).sort(), [
            "items[1]",
            "items[3]"
          ])
        }).pipe(Effect.provide(Journal.layerMemory)))
    }

    it.effect("settle without a threshold never fails", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("for_each_settle_all", { input: Numbers }).pipe(
          Workflow.forEach("items", (ctx) => ctx.input, (n) => Effect.fail(new Boom({ at: `${n}` })), {
            success: Schema.Number,
            onError: "settle"
          })
        )
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: range(3), runId: "all-bad" })))
        assert.deepStrictEqual(ctx.items.map(Result.isFailure), [true, true, true])
      }).pipe(Effect.provide(Journal.layerMemory)))
  })
})
