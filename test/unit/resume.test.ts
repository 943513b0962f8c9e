/**
 * Edges of resuming a run: decisions recorded per scope, an input that changed, an interrupted
 * run, signal values and where signals can reach.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Option, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import { advance, completed, entriesOf, failure, interrupt, makeCounts, runFor, start } from "../support/runs.ts"

class Boom extends Data.TaggedError("Boom")<{}> {}

/** Fails while `gate.closed`, so a first run stops there and a resume goes on. */
const passGate = (gate: { closed: boolean }) =>
  Effect.suspend(() => gate.closed ? Effect.fail(new Boom()) : Effect.succeed(true))

const statusOf = (runId: string) =>
  Effect.map(
    Effect.flatMap(Journal.Journal, (journal) => journal.load(runId)),
    (loaded) => Option.getOrThrow(loaded).run.status
  )

describe("recorded decisions are scoped by path", () => {
  it.effect("two races named alike in different branches each replay their own winner", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const gate = { closed: true }
      // First run: the left race's `a` is faster, the right race's `b`. Resumed, the timings flip.
      const timing = { left: { a: 1, b: 2 }, right: { a: 2, b: 1 } }
      const race = (side: "left" | "right") =>
        Workflow.race("pick", {
          a: Workflow.step(
            "a",
            { success: Schema.String },
            () => counts.run(`${side}.a`, Effect.as(Effect.sleep(`${timing[side].a} seconds`), `${side} a`))
          ),
          b: Workflow.step(
            "b",
            { success: Schema.String },
            () => counts.run(`${side}.b`, Effect.as(Effect.sleep(`${timing[side].b} seconds`), `${side} b`))
          )
        })
      const Flow = Workflow.make("scoped_races", { input: Schema.Number }).pipe(
        Workflow.parallel("p", { left: race("left"), right: race("right") }, { merge: "collect" }),
        Workflow.step("gate", { success: Schema.Boolean }, () => passGate(gate))
      )
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "races" }), "2 seconds")), Boom)
      const before = counts.snapshot()

      gate.closed = false
      timing.left = { a: 2, b: 1 }
      timing.right = { a: 1, b: 2 }
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "races" }), "2 seconds"))
      assert.deepStrictEqual(ctx.p, {
        left: { pick: { _tag: "a", value: { a: "left a" } } },
        right: { pick: { _tag: "b", value: { b: "right b" } } }
      })
      assert.deepStrictEqual(counts.snapshot(), before, "a race ran a branch again")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("two branches named alike, in parallel branches and in forEach items, each replay their own case", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const gate = { closed: true }
      const flip = { on: false }
      const choose = (odd: boolean) => (odd !== flip.on ? "odd" : "even")
      // In a parallel branch the context has no `item`; in a forEach item it does.
      type Ctx = { readonly input: ReadonlyArray<number>; readonly item?: number }
      const route = (label: (ctx: Ctx) => string, odd: (ctx: Ctx) => boolean) =>
        Workflow.branch("route", (ctx: Ctx) => choose(odd(ctx)), {
          odd: Workflow.step(
            "odd",
            { success: Schema.String },
            (ctx: Ctx) => counts.run(`${label(ctx)}.odd`, Effect.succeed("odd"))
          ),
          even: Workflow.step(
            "even",
            { success: Schema.String },
            (ctx: Ctx) => counts.run(`${label(ctx)}.even`, Effect.succeed("even"))
          )
        })
      const Flow = Workflow.make("scoped_branches", { input: Schema.Array(Schema.Number) }).pipe(
        Workflow.parallel("p", { x: route(() => "x", () => true), y: route(() => "y", () => false) }, {
          merge: "collect"
        }),
        Workflow.forEach("items", (ctx) => ctx.input, route((ctx) => `item${ctx.item}`, (ctx) => ctx.item! % 2 === 1), {
          concurrency: 2
        }),
        Workflow.step("gate", { success: Schema.Boolean }, () => passGate(gate))
      )
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: [1, 2], runId: "branches" }))), Boom)
      const before = counts.snapshot()
      assert.deepStrictEqual(before, { "x.odd": 1, "y.even": 1, "item1.odd": 1, "item2.even": 1 })

      // Every `select` now picks the other case; each branch must replay the case it recorded.
      gate.closed = false
      flip.on = true
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: [1, 2], runId: "branches" })))
      assert.deepStrictEqual(ctx.p, {
        x: { route: { _tag: "odd", odd: "odd" } },
        y: { route: { _tag: "even", even: "even" } }
      })
      assert.deepStrictEqual(ctx.items, [{ route: { _tag: "odd", odd: "odd" } }, {
        route: { _tag: "even", even: "even" }
      }])
      assert.deepStrictEqual(counts.snapshot(), before, "a branch ran another case")
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("resume edges", () => {
  const Typed = (counts: ReturnType<typeof makeCounts>, gate: { closed: boolean }) =>
    Workflow.make("typed_resume", { input: Schema.Struct({ email: Schema.String }) }).pipe(
      Workflow.step("user", { success: Schema.String }, (ctx) => counts.run("user", Effect.succeed(ctx.input.email))),
      Workflow.step("gate", { success: Schema.Boolean }, () => passGate(gate)),
      Workflow.signal("approval", { schema: Schema.Boolean })
    )

  it.effect("a resume of an unfinished run (failed, or waiting on a signal) with a different input is refused", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const gate = { closed: true }
      const Flow = Typed(counts, gate)
      const ada = { email: "ada@example.com" }
      const bob = { email: "bob@example.com" }
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: ada, runId: "unfinished" }))), Boom)

      const refuse = Effect.gen(function*() {
        const entries = yield* entriesOf("unfinished")
        const status = yield* statusOf("unfinished")
        const error = failure(yield* runFor(Workflow.run(Flow, { input: bob, runId: "unfinished" })))
        assert.instanceOf(error, WorkflowError.InvalidInput)
        assert.strictEqual((error as WorkflowError.InvalidInput).runId, "unfinished")
        assert.include((error as WorkflowError.InvalidInput).issue, "different input")
        assert.deepStrictEqual(yield* entriesOf("unfinished"), entries, "the refused resume wrote")
        assert.strictEqual(yield* statusOf("unfinished"), status, "the refused resume changed the status")
      })
      yield* refuse // failed
      gate.closed = false
      const waiting = yield* runFor(Workflow.run(Flow, { input: ada, runId: "unfinished" }))
      assert.strictEqual(waiting._tag === "Success" && waiting.value._tag, "Suspended")
      yield* refuse // waiting for its signal
      assert.deepStrictEqual(counts.snapshot(), { user: 1 })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a run interrupted from outside is queued again, not failed, and resumes; completed steps do not run again", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("interrupted", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1))),
        Workflow.step(
          "slow",
          { success: Schema.Number },
          () => counts.run("slow", Effect.as(Effect.sleep("10 seconds"), 2))
        ),
        Workflow.step("c", { success: Schema.Number }, () => counts.run("c", Effect.succeed(3)))
      )
      const fiber = yield* start(Workflow.run(Flow, { input: 0, runId: "cut" }))
      yield* advance("1 second")
      yield* interrupt(fiber)
      // Stopped, not failed: runnable again at once.
      assert.strictEqual(yield* statusOf("cut"), "queued")

      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "cut" }), "10 seconds"))
      assert.deepStrictEqual(ctx, { input: 0, a: 1, slow: 2, c: 3 })
      assert.deepStrictEqual(counts.snapshot(), { a: 1, slow: 2, c: 1 })
      assert.strictEqual(yield* statusOf("cut"), "completed")
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a run whose step is interrupted from inside is not marked failed, and resumes", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let interrupting = true
      const Flow = Workflow.make("self_interrupted", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1))),
        Workflow.step(
          "b",
          { success: Schema.Number },
          () => counts.run("b", Effect.suspend(() => interrupting ? Effect.interrupt : Effect.succeed(2)))
        )
      )
      const exit = yield* runFor(Workflow.run(Flow, { input: 0, runId: "self" }))
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual(yield* statusOf("self"), "queued")
      interrupting = false
      assert.deepStrictEqual(completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "self" }))), {
        input: 0,
        a: 1,
        b: 2
      })
      assert.deepStrictEqual(counts.snapshot(), { a: 1, b: 2 })
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a signal value replays through its schema: a Date comes back a Date", () =>
    Effect.gen(function*() {
      const Flow = Workflow.make("dated", { input: Schema.Number }).pipe(
        Workflow.signal("due", { schema: Schema.Date }),
        Workflow.step("weekday", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.due.getUTCDay()))
      )
      const due = new Date("2024-03-01T12:00:00.000Z")
      yield* runFor(Workflow.run(Flow, { input: 0, runId: "dated" }))
      yield* Workflow.sendSignal(Flow, { runId: "dated", path: "due", value: due })
      for (let run = 0; run < 2; run++) {
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "dated" })))
        assert.instanceOf(ctx.due, Date)
        assert.strictEqual(ctx.due.getTime(), due.getTime())
        assert.strictEqual(ctx.weekday, 5)
      }
    }).pipe(Effect.provide(Journal.layerMemory)))
})

describe("signals and forEach items", () => {
  const Orders = Schema.Array(Schema.Struct({ id: Schema.String, lines: Schema.Array(Schema.String) }))
  const input = [{ id: "o1", lines: ["x", "y"] }, { id: "o2", lines: ["z"] }]
  const Packing = Workflow.make("packing", { input: Orders }).pipe(
    Workflow.forEach(
      "orders",
      (ctx) => ctx.input,
      Workflow.forEach(
        "lines",
        (ctx) => ctx.item.lines,
        Workflow.sequence(
          Workflow.signal("ok", { schema: Schema.Boolean }),
          Workflow.step("packed", { success: Schema.String }, (ctx) => Effect.succeed(`${ctx.item}:${ctx.ok}`))
        ),
        { key: (sku) => sku, concurrency: 4 }
      ),
      { key: (order) => order.id, concurrency: 4 }
    )
  )

  it.effect("a signal reaches an item of a forEach nested in a forEach item", () =>
    Effect.gen(function*() {
      const first = yield* runFor(Workflow.run(Packing, { input, runId: "packing" }))
      assert.strictEqual(first._tag === "Success" && first.value._tag, "Suspended")
      for (const [order, sku, ok] of [["o1", "x", true], ["o1", "y", false], ["o2", "z", true]] as const) {
        yield* Workflow.sendSignal(Packing, { runId: "packing", path: `orders[${order}]/lines[${sku}]/ok`, value: ok })
      }
      const ctx = completed(yield* runFor(Workflow.run(Packing, { input, runId: "packing" })))
      assert.deepStrictEqual(ctx.orders, [
        { lines: [{ ok: true, packed: "x:true" }, { ok: false, packed: "y:false" }] },
        { lines: [{ ok: true, packed: "z:true" }] }
      ])
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a signal for an item a started forEach does not have, or for a path with no signal, is refused and not journaled", () =>
    Effect.gen(function*() {
      yield* runFor(Workflow.run(Packing, { input, runId: "refused" }))
      const before = yield* entriesOf("refused")
      for (
        const [path, issue] of [
          ["orders[o3]/lines[x]/ok", "the forEach orders has no item orders[o3]"],
          ["orders[o1]/lines[z]/ok", "the forEach orders[o1]/lines has no item orders[o1]/lines[z]"],
          ["orders[o1]/lines[x]/nope", "the workflow has no signal at this path"],
          ["orders[o1]/ok", "the workflow has no signal at this path"]
        ] as const
      ) {
        // The types reject the last two paths (no signal there); a path read from a request is not
        // checked by them, so the run-time check stands.
        const untyped = path as Workflow.SignalPath<typeof Packing>
        const error = failure(
          yield* Effect.exit(Workflow.sendSignal(Packing, { runId: "refused", path: untyped, value: true }))
        )
        assert.instanceOf(error, WorkflowError.UnknownSignal, path)
        assert.deepStrictEqual(
          { runId: (error as WorkflowError.UnknownSignal).runId, path: (error as WorkflowError.UnknownSignal).path },
          { runId: "refused", path }
        )
        assert.strictEqual((error as WorkflowError.UnknownSignal).issue, issue)
      }
      assert.deepStrictEqual(yield* entriesOf("refused"), before)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a signal sent before its forEach has started is kept, and consumed when the item gets there", () =>
    Effect.gen(function*() {
      const gate = { closed: true }
      const Flow = Workflow.make("early", { input: Schema.Array(Schema.String) }).pipe(
        Workflow.step("gate", { success: Schema.Boolean }, () => passGate(gate)),
        Workflow.forEach("reviews", (ctx) => ctx.input, Workflow.signal("verdict", { schema: Schema.Boolean }), {
          key: (name) => name
        })
      )
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: ["ada"], runId: "early" }))), Boom)
      yield* Workflow.sendSignal(Flow, { runId: "early", path: "reviews[ada]/verdict", value: true })
      gate.closed = false
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: ["ada"], runId: "early" })))
      assert.deepStrictEqual(ctx.reviews, [{ verdict: true }])
    }).pipe(Effect.provide(Journal.layerMemory)))
})
