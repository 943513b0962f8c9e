/**
 * The journal's value formats: each entry kind's value reads back as it was written (a finished
 * run replays from its journal alone, a failed one compensates and ends from it), and a stored
 * value of any kind that does not decode is a `JournalError` `Corrupt` naming the run and the
 * entry's path, with nothing the journal already holds lost.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result, Schema } from "effect"
import { Engine, Journal, Workflow, WorkflowError } from "plait"
import { backend, hasStatus, startWorker, statusOf, until } from "../support/engine.ts"
import { advance, completed, entriesOf, failure, finished, makeCounts, plant, runFor, start } from "../support/runs.ts"

class Declined extends Schema.TaggedError<Declined>()("Declined", { reason: Schema.String }) {}
class Shut extends Schema.TaggedError<Shut>()("Shut", {}) {}
class Boom extends Schema.TaggedError<Boom>()("Boom", { code: Schema.Number }) {}

/** A first step that fails until opened: the run stops before anything after it is journaled. */
const gated = () => {
  const state = { open: false }
  const gate = Workflow.step(
    "gate",
    { success: Schema.Boolean },
    () => Effect.suspend(() => state.open ? Effect.succeed(true) : Effect.fail(new Shut()))
  )
  return { state, gate }
}

type Gate = ReturnType<typeof gated>["gate"]

const numberStep = (name: string, n: number) => Workflow.step(name, { success: Schema.Number }, () => Effect.succeed(n))

/** Two one-step branches, `a` and `b`, each its own step name unless `same` names both. */
const twoBranches = (same?: string) => ({ a: numberStep(same ?? "a", 1), b: numberStep(same ?? "b", 2) })

/** A workflow that, past its gate, runs one compensable step, `charge`. */
const charging = (name: string) => (gate: Gate) =>
  Workflow.make(name, { input: Schema.Number }).pipe(
    gate,
    Workflow.step("charge", { success: Schema.String, compensate: () => Effect.void }, () => Effect.succeed("c"))
  )

describe("journal value formats", () => {
  it.effect("a finished run replays from its journal alone: outputs, choices, an order, a wake time, items, signals, a settle record with its typed failure, a completion order", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let selects = 0
      const Flow = Workflow.make("formats", { input: Schema.Array(Schema.String) }).pipe(
        Workflow.step(
          "first",
          { success: Schema.Struct({ n: Schema.Number, tags: Schema.Array(Schema.String) }) },
          () => counts.run("first", Effect.succeed({ n: 1, tags: ["a", "b"] }))
        ),
        Workflow.branch("route", (ctx) => (selects++, ctx.first.n > 0 ? "up" : "down"), {
          up: Workflow.step("viaUp", { success: Schema.String }, () => counts.run("viaUp", Effect.succeed("up"))),
          down: Workflow.step("viaDown", { success: Schema.String }, () => Effect.succeed("down"))
        }),
        Workflow.race("fastest", {
          slow: Workflow.step("slow", { success: Schema.String }, () => Effect.as(Effect.sleep("1 day"), "slow")),
          quick: Workflow.step("quick", { success: Schema.String }, () => counts.run("quick", Effect.succeed("quick")))
        }),
        Workflow.parallel("merged", {
          x: Workflow.step("v", { success: Schema.Number }, () => counts.run("x", Effect.succeed(1))),
          y: Workflow.step("v", { success: Schema.Number }, () => counts.run("y", Effect.succeed(2)))
        }, { merge: "lastWins" }),
        Workflow.parallel("settled", {
          ok: Workflow.step("ok", { success: Schema.Number }, () => counts.run("ok", Effect.succeed(3))),
          bad: Workflow.step(
            "bad",
            { success: Schema.Number, error: Declined },
            () => counts.run("bad", Effect.fail(new Declined({ reason: "no funds" })))
          )
        }, { onError: "settle" }),
        Workflow.sleep("nap", "1 hour"),
        Workflow.forEach("reviews", (ctx) => ctx.input, Workflow.signal("verdict", { schema: Schema.Boolean }), {
          key: (name) => name
        }),
        Workflow.step(
          "charge",
          { success: Schema.String, compensate: () => Effect.void },
          () => counts.run("charge", Effect.succeed("ch_1"))
        )
      )
      const fiber = yield* start(Workflow.run(Flow, { input: ["ada", "bob"], runId: "f" }))
      yield* advance("1 hour", "1 minute")
      const waiting = yield* finished(fiber)
      assert.isTrue(Exit.isSuccess(waiting) && waiting.value._tag === "Suspended", String(waiting))
      yield* Workflow.sendSignal(Flow, { runId: "f", path: "reviews[ada]/verdict", value: true })
      yield* Workflow.sendSignal(Flow, { runId: "f", path: "reviews[bob]/verdict", value: false })
      const ctx = completed(yield* runFor(Workflow.run(Flow, { input: ["ada", "bob"], runId: "f" })))
      const ran = counts.snapshot()

      // Completed: a run again replays every value from the journal and runs nothing.
      const replayed = completed(yield* runFor(Workflow.run(Flow, { input: ["ada", "bob"], runId: "f" })))
      assert.deepStrictEqual(counts.snapshot(), ran, "nothing ran again")
      assert.strictEqual(selects, 1, "the branch's choice is the journaled one")
      assert.deepStrictEqual(replayed.first, { n: 1, tags: ["a", "b"] })
      assert.deepStrictEqual(replayed.route, ctx.route)
      assert.deepStrictEqual(replayed.fastest, { _tag: "quick", value: { quick: "quick" } })
      assert.strictEqual(replayed.v, ctx.v, "the lastWins order is the journaled one")
      assert.deepStrictEqual(replayed.reviews, [{ verdict: true }, { verdict: false }])
      assert.strictEqual(replayed.charge, "ch_1")
      const bad = replayed.settled.bad
      assert.isTrue(Result.isFailure(bad))
      assert.instanceOf(
        (bad as Result.Failure<unknown, unknown>).failure,
        Declined,
        "the typed failure decodes as its class"
      )
      assert.deepStrictEqual(replayed, ctx)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("a failed run's ending, its compensations and its failure read back: a second execution finishes the saga and ends with the same failure", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let refundWorks = false
      const Flow = Workflow.make("saga_formats", { input: Schema.Number }).pipe(
        Workflow.step(
          "reserve",
          { success: Schema.Number, compensate: () => counts.run("unreserve", Effect.void) },
          () => Effect.succeed(1)
        ),
        Workflow.step(
          "charge",
          {
            success: Schema.String,
            compensate: () =>
              Effect.suspend(() => refundWorks ? counts.run("refund", Effect.void) : Effect.fail(new Shut()))
          },
          () => Effect.succeed("ch_1")
        ),
        Workflow.step("ship", { success: Schema.Number, error: Boom }, () => Effect.fail(new Boom({ code: 7 })))
      )
      const first = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "s" })))
      assert.instanceOf(first, WorkflowError.CompensationFailed)
      refundWorks = true
      const second = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "s" })))
      assert.strictEqual((second as { readonly _tag: string })._tag, "Boom", "the journaled ending's failure")
      assert.strictEqual((second as { readonly code: number }).code, 7)
      assert.deepStrictEqual(counts.snapshot(), { refund: 1, unreserve: 1 })
      // Both compensations are journaled as done: a third execution runs neither.
      const third = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "s" })))
      assert.deepStrictEqual(counts.snapshot(), { refund: 1, unreserve: 1 })
      assert.deepStrictEqual(third, second)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("inspect reads an attempt's record and the compensating entry's ending through their formats", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const Flow = Workflow.make("inspected", { input: Schema.Number }).pipe(
        Workflow.step("charge", { success: Schema.String, compensate: () => Effect.void }, () => Effect.succeed("c")),
        Workflow.step(
          "ship",
          { success: Schema.Number, error: Boom, retry: { times: 1 } },
          () => Effect.fail(new Boom({ code: 7 }))
        )
      )
      assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "i" }))), Boom)
      const { entries } = yield* engine.inspect("i")
      const attempts = entries.filter((entry) => entry.kind === "attempt")
      assert.deepStrictEqual(attempts.map(({ attempt, exhausted }) => ({ attempt, exhausted })), [
        { attempt: 1, exhausted: false },
        { attempt: 2, exhausted: true }
      ])
      assert.include(attempts[1]!.error, "Boom")
      const ending = entries.find((entry) => entry.kind === "compensating")?.ending
      assert.strictEqual(ending?.reason, "failed")
      assert.include(ending?.error, "Boom")
    }).pipe(Effect.provide(backend())))

  describe("a stored value that does not decode is JournalError Corrupt naming the run and the path", () => {
    const cases: ReadonlyArray<{
      readonly kind: Journal.EntryKind
      readonly label: string
      readonly flow: (gate: Gate) => Workflow.Workflow<any, any, any, any>
      readonly entries: ReadonlyArray<Journal.JournalEntry>
      readonly path: string
      readonly input?: unknown
    }> = [
      {
        kind: "step",
        label: "a step's output",
        flow: (gate) => Workflow.make("c_step", { input: Schema.Number }).pipe(gate, numberStep("s", 1)),
        entries: [{ path: "s", kind: "step", seq: 0, value: "\"one\"" }],
        path: "s"
      },
      {
        kind: "attempt",
        label: "a failed attempt",
        flow: (gate) =>
          Workflow.make("c_attempt", { input: Schema.Number }).pipe(
            gate,
            Workflow.step("s", { success: Schema.Number, retry: { times: 3 } }, () => Effect.succeed(1))
          ),
        entries: [{ path: "s", kind: "attempt", seq: 1, value: "{\"attempt\":\"one\",\"exhausted\":false}" }],
        path: "s"
      },
      {
        kind: "choice",
        label: "a branch's choice",
        flow: (gate) =>
          Workflow.make("c_branch", { input: Schema.Number }).pipe(
            gate,
            Workflow.branch("route", () => "a", twoBranches())
          ),
        entries: [{ path: "route", kind: "choice", seq: 0, value: "\"c\"" }],
        path: "route"
      },
      {
        kind: "choice",
        label: "a race's winner",
        flow: (gate) =>
          Workflow.make("c_race", { input: Schema.Number }).pipe(
            gate,
            Workflow.race("fastest", twoBranches())
          ),
        entries: [{ path: "fastest", kind: "choice", seq: 0, value: "42" }],
        path: "fastest"
      },
      {
        kind: "choice",
        label: "a settle record",
        flow: (gate) =>
          Workflow.make("c_settle", { input: Schema.Number }).pipe(
            gate,
            Workflow.parallel("settled", twoBranches(), { onError: "settle" })
          ),
        entries: [{ path: "settled", kind: "choice", seq: 0, value: "{\"failed\":\"b\"}" }],
        path: "settled"
      },
      {
        kind: "order",
        label: "a lastWins completion order",
        flow: (gate) =>
          Workflow.make("c_order", { input: Schema.Number }).pipe(
            gate,
            Workflow.parallel("merged", twoBranches("v"), { merge: "lastWins" })
          ),
        entries: [{ path: "merged", kind: "order", seq: 0, value: "{\"a\":0}" }],
        path: "merged"
      },
      {
        kind: "wake",
        label: "a wake time",
        flow: (gate) => Workflow.make("c_wake", { input: Schema.Number }).pipe(gate, Workflow.sleep("nap", "1 hour")),
        entries: [{ path: "nap", kind: "wake", seq: 0, value: "\"soon\"" }],
        path: "nap"
      },
      {
        kind: "items",
        label: "a forEach's items",
        flow: (gate) =>
          Workflow.make("c_items", { input: Schema.Array(Schema.String) }).pipe(
            gate,
            Workflow.forEach("reviews", (ctx) => ctx.input, Workflow.signal("verdict", { schema: Schema.Boolean }), {
              key: (name) => name
            })
          ),
        entries: [{ path: "reviews", kind: "items", seq: 0, value: "[\"reviews[ada]\"" }],
        path: "reviews",
        input: ["ada"]
      },
      {
        kind: "signal",
        label: "a signal's value",
        flow: (gate) =>
          Workflow.make("c_signal", { input: Schema.Number }).pipe(
            gate,
            Workflow.signal("approval", { schema: Schema.Boolean })
          ),
        entries: [{ path: "approval", kind: "signal", seq: 0, value: "\"yes\"" }],
        path: "approval"
      },
      {
        kind: "compensable",
        label: "a place in the completion order",
        flow: charging("c_compensable"),
        entries: [
          { path: "charge", kind: "step", seq: 0, value: "\"c\"" },
          { path: "charge", kind: "compensable", seq: 0, value: "\"first\"" }
        ],
        path: "charge"
      },
      {
        kind: "compensating",
        label: "why the run compensates",
        flow: charging("c_compensating"),
        entries: [{ path: "", kind: "compensating", seq: 0, value: "{\"reason\":\"bored\",\"error\":\"x\"}" }],
        path: ""
      },
      {
        kind: "compensated",
        label: "a compensation done",
        flow: charging("c_compensated"),
        entries: [
          { path: "gate", kind: "step", seq: 0, value: "true" },
          { path: "charge", kind: "step", seq: 0, value: "\"c\"" },
          { path: "charge", kind: "compensable", seq: 0, value: "0" },
          { path: "", kind: "compensating", seq: 0, value: "{\"reason\":\"cancelled\",\"error\":\"asked\"}" },
          { path: "charge/compensate", kind: "compensated", seq: 0, value: "\"done\"" }
        ],
        path: "charge/compensate"
      }
    ]

    for (const { entries, flow, input, kind, label, path } of cases) {
      it.effect(`${kind}: ${label}`, () =>
        Effect.gen(function*() {
          const { gate, state } = gated()
          const Flow = flow(gate)
          const runId = `corrupt-${kind}-${path}`
          const run = Workflow.run(Flow, { input: input ?? 0, runId })
          assert.instanceOf(failure(yield* runFor(run)), Shut)
          yield* plant(runId, entries)
          const before = yield* entriesOf(runId)
          state.open = true

          const error = failure(yield* runFor(run))
          assert.instanceOf(error, WorkflowError.JournalError, String(error))
          const corrupt = error as WorkflowError.JournalError
          assert.strictEqual(corrupt.reason, "Corrupt")
          assert.strictEqual(corrupt.runId, runId)
          assert.strictEqual(corrupt.path, path)
          // Nothing already journaled was lost.
          const after = yield* entriesOf(runId)
          for (const entry of before) assert.deepInclude(after, entry)
        }).pipe(Effect.provide(Journal.layerMemory)))
    }

    it.effect("failed: a child's failure, read by its parent under a worker, names the child run", () =>
      Effect.gen(function*() {
        const engine = yield* Engine.Engine
        const Kid = Workflow.make("kid", { input: Schema.String }).pipe(
          Workflow.step(
            "up",
            { success: Schema.String, error: Declined },
            () => Effect.fail(new Declined({ reason: "down" }))
          )
        )
        const Parent = Workflow.make("parent", { input: Schema.String }).pipe(
          Workflow.child("region", Kid, (ctx) => ctx.input)
        )
        yield* startWorker({ workflows: [Parent] })
        yield* engine.start(Parent, { input: "eu", runId: "p" })
        yield* until(hasStatus("p", "failed"))
        // The child's latest execution is the one its parent reads.
        yield* plant("p/region", [{ path: "", kind: "failed", seq: 99, value: "{\"error\":3}" }])
        const error = Effect.map(engine.inspect("p"), (detail) => detail.run.error ?? "")
        assert.include(yield* error, "Declined")
        yield* engine.resume("p")
        // The store, not the run, failed: the run is released failed with the error's text, and
        // journals no failure of its own.
        yield* until(Effect.map(error, (text) => text.includes("Corrupt") || text.includes("corrupt")))
        assert.strictEqual(yield* statusOf("p"), "failed")
        assert.match(yield* error, /^JournalError: journal corrupt for run p\/region at : /)
      }).pipe(Effect.provide(backend())))
  })
})
