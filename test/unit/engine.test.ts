/**
 * The engine and workers in one process, on the memory backend, with every sleep, lease and
 * deadline driven by the TestClock. What spans processes (kills, takeovers, NOTIFY) is tested
 * with real processes in `test/processes/`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Deferred, Effect, Fiber, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Engine, Journal, Workflow, WorkflowError } from "plait"
import { backend, hasStatus, settle, startWorker, statusOf, until } from "../support/engine.ts"
import { advance, completed, failure, makeCounts, memoryLayer } from "../support/runs.ts"

class Declined extends Data.TaggedError("Declined")<{ readonly reason: string }> {}

const Order = Workflow.make("order", { input: Schema.Struct({ id: Schema.String, amount: Schema.Number }) }).pipe(
  Workflow.step("charged", { success: Schema.String }, (ctx) => Effect.succeed(`ch_${ctx.input.id}`)),
  Workflow.step("receipt", { success: Schema.String }, (ctx) => Effect.succeed(`${ctx.charged}: ${ctx.input.amount}`))
)

describe("Engine", () => {
  it.effect("start is idempotent per run id; another input or workflow under that id is refused; bad input stores nothing", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const first = yield* engine.start(Order, { input: { id: "A-1", amount: 10 }, runId: "order-A-1" })
      assert.isTrue(first.created)
      assert.strictEqual(first.status, "queued")
      const again = yield* engine.start(Order, { input: { id: "A-1", amount: 10 }, runId: "order-A-1" })
      assert.isFalse(again.created)
      assert.strictEqual(again.runId, "order-A-1")

      const other = failure(
        yield* Effect.exit(engine.start(Order, { input: { id: "A-1", amount: 99 }, runId: "order-A-1" }))
      )
      assert.instanceOf(other, WorkflowError.InvalidInput)

      const Refund = Workflow.make("refund", { input: Schema.Struct({ id: Schema.String, amount: Schema.Number }) })
      const conflict = failure(
        yield* Effect.exit(engine.start(Refund, { input: { id: "A-1", amount: 10 }, runId: "order-A-1" }))
      )
      assert.instanceOf(conflict, WorkflowError.RunConflict)

      const bad = failure(
        yield* Effect.exit(engine.start(Order, { input: { id: "B", amount: "ten" } as never, runId: "bad" }))
      )
      assert.instanceOf(bad, WorkflowError.InvalidInput)
      assert.strictEqual(failure(yield* Effect.exit(engine.inspect("bad")))._tag, "RunNotFound")
    }).pipe(Effect.provide(backend())))

  it.effect("a worker executes started runs; await returns the final context", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      yield* startWorker({ workflows: [Order] })
      yield* engine.start(Order, { input: { id: "A-2", amount: 5 }, runId: "a2" })
      const awaited = yield* Effect.forkChild(engine.await(Order, "a2"))
      yield* until(hasStatus("a2", "completed"))
      const ctx = completed(yield* Fiber.await(awaited))
      assert.deepStrictEqual(ctx, { input: { id: "A-2", amount: 5 }, charged: "ch_A-2", receipt: "ch_A-2: 5" })
      const detail = yield* engine.inspect("a2")
      assert.deepStrictEqual(
        detail.entries.filter((entry) => entry.kind === "step").map((entry) => entry.path).sort(),
        [
          "charged",
          "receipt"
        ]
      )
      assert.isUndefined(detail.run.owner)
    }).pipe(Effect.provide(backend())))

  it.effect("under a worker a durable sleep releases the run and its slot, and the run resumes when due", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const counts = makeCounts()
      const Nap = Workflow.make("nap", { input: Schema.String }).pipe(
        Workflow.step("before", { success: Schema.String }, (ctx) => counts.run("before", Effect.succeed(ctx.input))),
        Workflow.sleep("rest", "1 hour"),
        Workflow.step(
          "after",
          { success: Schema.String },
          (ctx) => counts.run("after", Effect.succeed(`${ctx.before}!`))
        )
      )
      const Quick = Workflow.make("quick", { input: Schema.Number }).pipe(
        Workflow.step("done", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input + 1))
      )
      yield* startWorker({ workflows: [Nap, Quick], concurrency: 1 })
      yield* engine.start(Nap, { input: "zz", runId: "nap" })
      yield* until(hasStatus("nap", "sleeping"))
      const sleeping = (yield* engine.inspect("nap")).run
      assert.isUndefined(sleeping.owner)
      assert.deepStrictEqual(sleeping.waitingFor, ["rest"])
      assert.strictEqual(sleeping.wakeAt, sleeping.dueAt)

      // The one slot is free: another run completes while the first sleeps.
      yield* engine.start(Quick, { input: 1, runId: "quick" })
      yield* until(hasStatus("quick", "completed"), 1000)
      assert.strictEqual(yield* statusOf("nap"), "sleeping")

      yield* until(hasStatus("nap", "completed"), 2 * 3_600_000, 60_000)
      assert.deepStrictEqual(counts.snapshot(), { before: 1, after: 1 })
    }).pipe(Effect.provide(backend())))

  it.effect("a signal sent before the run waits for it is kept; a second value, a wrong value and an unknown run are refused", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const gate = yield* Deferred.make<void>()
      const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
        Workflow.step("submitted", { success: Schema.Number }, (ctx) => Effect.as(Deferred.await(gate), ctx.input)),
        Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean }) }),
        Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved))
      )
      yield* startWorker({ workflows: [Expense] })
      yield* engine.start(Expense, { input: 120, runId: "exp" })
      yield* until(hasStatus("exp", "running"))
      // Delivered while `submitted` still runs, before the run reaches its signal.
      yield* engine.signal(Expense, "exp", "approval", { approved: true })
      const second = failure(yield* Effect.exit(engine.signal(Expense, "exp", "approval", { approved: false })))
      assert.instanceOf(second, WorkflowError.SignalAlreadyDelivered)
      const wrong = failure(yield* Effect.exit(engine.signal(Expense, "exp", "approval", { approved: "yes" } as never)))
      assert.instanceOf(wrong, WorkflowError.InvalidSignal)
      const missing = failure(yield* Effect.exit(engine.signal(Expense, "nobody", "approval", { approved: true })))
      assert.instanceOf(missing, WorkflowError.RunNotFound)

      yield* Deferred.succeed(gate, undefined)
      yield* until(hasStatus("exp", "completed"))
      const ctx = completed(yield* Effect.exit(engine.await(Expense, "exp")))
      assert.isTrue(ctx.booked)
    }).pipe(Effect.provide(backend())))

  it.effect("a signal wakes a waiting run at once; await reports a run waiting for a signal as Suspended", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
        Workflow.signal("approval", { schema: Schema.Boolean }),
        Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval))
      )
      yield* startWorker({ workflows: [Expense] })
      yield* engine.start(Expense, { input: 1, runId: "w" })
      yield* until(hasStatus("w", "waiting"))
      const waiting = yield* engine.await(Expense, "w")
      assert.deepStrictEqual(waiting, { _tag: "Suspended", runId: "w", waitingFor: "approval" })
      yield* engine.signal(Expense, "w", "approval", true)
      // No time passes: the delivery itself wakes the worker.
      yield* settle
      yield* settle
      assert.strictEqual(yield* statusOf("w"), "completed")
    }).pipe(Effect.provide(backend())))

  it.effect("a signal's timeout fails the run at its deadline with nobody calling run", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
        Workflow.signal("approval", { schema: Schema.Boolean, timeout: "3 days" })
      )
      yield* startWorker({ workflows: [Expense] })
      yield* engine.start(Expense, { input: 1, runId: "late" })
      yield* until(hasStatus("late", "waiting"))
      const waiting = (yield* engine.inspect("late")).run
      assert.isDefined(waiting.wakeAt)
      yield* until(hasStatus("late", "failed"), 4 * 86_400_000, 3_600_000)
      const error = failure(yield* Effect.exit(engine.await(Expense, "late")))
      assert.instanceOf(error, WorkflowError.RunFailed)
      assert.include((error as WorkflowError.RunFailed).error, "SignalTimeout")
    }).pipe(Effect.provide(backend())))

  it.effect("cancel interrupts a running run (its finalizers run) and ends it cancelled; running it again is refused", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const finalized = makeCounts()
      const Long = Workflow.make("long", { input: Schema.Number }).pipe(
        Workflow.step(
          "work",
          { success: Schema.Number },
          () => Effect.never.pipe(Effect.ensuring(finalized.hit("work")), Effect.as(1))
        )
      )
      yield* startWorker({ workflows: [Long], leaseDuration: "30 seconds" })
      yield* engine.start(Long, { input: 1, runId: "long" })
      yield* until(hasStatus("long", "running"))
      const flagged = yield* engine.cancel("long", { reason: "customer asked" })
      assert.isTrue(flagged.cancelRequested)
      yield* until(hasStatus("long", "cancelled"), 1000)
      assert.strictEqual(finalized.of("work"), 1)
      const detail = yield* engine.inspect("long")
      assert.strictEqual(detail.run.error, "customer asked")
      const again = failure(yield* Effect.exit(Workflow.run(Long, { input: 1, runId: "long" })))
      assert.instanceOf(again, WorkflowError.RunCancelled)
      const awaited = failure(yield* Effect.exit(engine.await(Long, "long")))
      assert.instanceOf(awaited, WorkflowError.RunCancelled)
    }).pipe(Effect.provide(backend())))

  it.effect("a sleeping or waiting run nobody executes is cancelled at once", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const Both = Workflow.make("both", { input: Schema.Boolean }).pipe(
        Workflow.branch("wait", (ctx) => (ctx.input ? "sleep" : "signal"), {
          sleep: Workflow.sleep("nap", "1 day"),
          signal: Workflow.signal("go", { schema: Schema.Boolean })
        })
      )
      const { stop } = yield* startWorker({ workflows: [Both] })
      yield* engine.start(Both, { input: true, runId: "sleeper" })
      yield* engine.start(Both, { input: false, runId: "waiter" })
      yield* until(
        Effect.map(Effect.all([statusOf("sleeper"), statusOf("waiter")]), (s) => s.join() === "sleeping,waiting")
      )
      yield* stop
      for (const runId of ["sleeper", "waiter"]) {
        const cancelled = yield* engine.cancel(runId)
        assert.strictEqual(cancelled.status, "cancelled")
        assert.isUndefined(cancelled.dueAt)
      }
      assert.strictEqual(failure(yield* Effect.exit(engine.cancel("nobody")))._tag, "RunNotFound")
      const late = failure(yield* Effect.exit(engine.signal(Both, "waiter", "wait/signal/go", true)))
      assert.instanceOf(late, WorkflowError.RunCancelled, "a signal to a cancelled run is refused, not stored")
    }).pipe(Effect.provide(backend())))

  it.effect("closing a worker releases its runs as queued; another worker completes them without repeating journaled steps", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const counts = makeCounts()
      const Two = Workflow.make("two", { input: Schema.Number }).pipe(
        Workflow.step("first", { success: Schema.Number }, (ctx) => counts.run("first", Effect.succeed(ctx.input))),
        Workflow.step(
          "second",
          { success: Schema.Number },
          (ctx) => counts.run("second", Effect.as(Effect.sleep("10 minutes"), ctx.first + 1))
        )
      )
      const first = yield* startWorker({ workflows: [Two], workerId: "worker-1" })
      yield* engine.start(Two, { input: 1, runId: "two" })
      yield* until(Effect.map(Effect.sync(() => counts.of("second")), (n) => n === 1))
      yield* first.stop
      const released = (yield* engine.inspect("two")).run
      assert.strictEqual(released.status, "queued")
      assert.isUndefined(released.owner)

      yield* startWorker({ workflows: [Two], workerId: "worker-2" })
      yield* until(hasStatus("two", "completed"), 3_600_000, 60_000)
      assert.deepStrictEqual(counts.snapshot(), { first: 1, second: 2 })
      assert.strictEqual((yield* engine.inspect("two")).run.executions, 2)
    }).pipe(Effect.provide(backend())))

  it.effect("a worker claims only runs of its workflows stored with the fingerprint it holds", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const V1 = Workflow.make("versioned", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input))
      )
      const V2 = V1.pipe(Workflow.step("b", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.a + 1)))
      yield* engine.start(V1, { input: 1, runId: "old" })
      yield* engine.start(V2, { input: 1, runId: "new" })
      const v2 = yield* startWorker({ workflows: [V2] })
      yield* until(hasStatus("new", "completed"))
      yield* advance("1 minute")
      assert.strictEqual(yield* statusOf("old"), "queued", "a V2 worker leaves V1 runs alone")
      yield* v2.stop
      yield* startWorker({ workflows: [V1] })
      yield* until(hasStatus("old", "completed"))
    }).pipe(Effect.provide(backend())))

  it.effect("a run continued under a changed definition is claimed by workers holding that definition", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const V1 = Workflow.make("moved", { input: Schema.Number }).pipe(
        Workflow.signal("approval", { schema: Schema.Boolean })
      )
      const V2 = V1.pipe(Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval)))
      assert.strictEqual((yield* Workflow.run(V1, { input: 1, runId: "moved" }))._tag, "Suspended")
      const continued = yield* Workflow.run(V2, { input: 1, runId: "moved", allowDefinitionChange: true })
      assert.strictEqual(continued._tag, "Suspended")
      yield* startWorker({ workflows: [V2] })
      yield* engine.signal(V2, "moved", "approval", true)
      yield* until(hasStatus("moved", "completed"))
      assert.isTrue(completed(yield* Effect.exit(engine.await(V2, "moved"))).booked)
    }).pipe(Effect.provide(backend())))

  it.effect("resume re-drives a failed run; list, counts and inspect show runs and their journal", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      let declining = true
      const Pay = Workflow.make("pay", { input: Schema.Number }).pipe(
        Workflow.parallel("checks", {
          fraud: Workflow.step("fraud", { success: Schema.Boolean }, () => Effect.succeed(true)),
          card: Workflow.step(
            "card",
            { success: Schema.Boolean, retry: { times: 1 } },
            () => declining ? Effect.fail(new Declined({ reason: "expired" })) : Effect.succeed(true)
          )
        }, { onError: "completeAll" })
      )
      yield* startWorker({ workflows: [Pay] })
      yield* engine.start(Pay, { input: 1, runId: "pay-1" })
      yield* engine.start(Pay, { input: 2, runId: "pay-2" })
      yield* until(hasStatus("pay-1", "failed"))
      yield* until(hasStatus("pay-2", "failed"))
      assert.strictEqual((yield* engine.counts({ workflow: "pay" })).failed, 2)
      const page = yield* engine.list({ workflow: "pay", status: "failed", limit: 1 })
      assert.strictEqual(page.runs.length, 1)
      const rest = yield* engine.list({ workflow: "pay", status: "failed", limit: 1, cursor: page.next })
      assert.deepStrictEqual([...page.runs, ...rest.runs].map((run) => run.runId).sort(), ["pay-1", "pay-2"])

      const detail = yield* engine.inspect("pay-1")
      const attempts = detail.entries.filter((entry) => entry.kind === "attempt")
      assert.deepStrictEqual(attempts.map((entry) => [entry.path, entry.lane, entry.attempt]), [
        ["checks/card/card", "checks/card", 1],
        ["checks/card/card", "checks/card", 2]
      ])
      for (const attempt of attempts) assert.include(attempt.error, "Declined")
      assert.include(detail.run.error ?? "", "ParallelFailure")

      declining = false
      const resumed = yield* engine.resume("pay-1")
      assert.strictEqual(resumed.status, "queued")
      yield* until(hasStatus("pay-1", "completed"))
      assert.strictEqual(yield* statusOf("pay-2"), "failed")
    }).pipe(Effect.provide(backend())))

  it.effect("under a worker a sleeping branch does not interrupt its siblings; the block suspends once they finished", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const counts = makeCounts()
      const Mixed = Workflow.make("mixed", { input: Schema.Number }).pipe(
        Workflow.parallel("both", {
          nap: Workflow.sleep("nap", "1 hour"),
          work: Workflow.step(
            "work",
            { success: Schema.Number },
            (ctx) => counts.run("work", Effect.as(Effect.sleep("5 minutes"), ctx.input))
          )
        })
      )
      yield* startWorker({ workflows: [Mixed] })
      yield* engine.start(Mixed, { input: 3, runId: "mixed" })
      yield* until(hasStatus("mixed", "sleeping"), 3_600_000, 10_000)
      const detail = yield* engine.inspect("mixed")
      assert.isTrue(detail.entries.some((entry) => entry.kind === "step" && entry.path === "both/work/work"))
      yield* until(hasStatus("mixed", "completed"), 3_600_000, 60_000)
      assert.strictEqual(counts.of("work"), 1)
    }).pipe(Effect.provide(backend())))
})

describe("Workflow.run under leases", () => {
  it.effect("two runs of one id at once: one executes, the other fails with RunBusy naming the holder", () => {
    const memory = Journal.makeMemory()
    return Effect.gen(function*() {
      const counts = makeCounts()
      const gate = yield* Deferred.make<void>()
      const Slow = Workflow.make("slow", { input: Schema.Number }).pipe(
        Workflow.step(
          "work",
          { success: Schema.Number },
          (ctx) => counts.run("work", Effect.as(Deferred.await(gate), ctx.input))
        )
      )
      const first = yield* Effect.forkChild(Workflow.run(Slow, { input: 1, runId: "once" }))
      yield* settle
      const busy = failure(yield* Effect.exit(Workflow.run(Slow, { input: 1, runId: "once" })))
      assert.instanceOf(busy, WorkflowError.RunBusy)
      assert.strictEqual((busy as WorkflowError.RunBusy).runId, "once")
      assert.isString((busy as WorkflowError.RunBusy).owner)
      // Another executor over the same store (another journal object, as another layer would be):
      // not refused by the executor's own bookkeeping, so only the lease taken in acquire stops it.
      const other = yield* Effect.forkChild(
        Workflow.run(Slow, { input: 1, runId: "once" }).pipe(
          Effect.provide(memoryLayer((journal) => ({ ...journal }), memory))
        )
      )
      yield* settle
      assert.strictEqual(counts.of("work"), 1, "a second executor ran the step")
      const otherExit = other.pollUnsafe()
      assert.isDefined(otherExit, "a second executor was not refused")
      const elsewhere = failure(otherExit!)
      assert.instanceOf(elsewhere, WorkflowError.RunBusy)
      assert.strictEqual((elsewhere as WorkflowError.RunBusy).owner, (busy as WorkflowError.RunBusy).owner)
      yield* Deferred.succeed(gate, undefined)
      completed(yield* Fiber.await(first))
      assert.strictEqual(counts.of("work"), 1)
    }).pipe(Effect.provide(memoryLayer(undefined, memory)))
  })

  // Its heartbeats never answer, so it cannot know whether the run was taken over: it stops at its
  // lease's local deadline with an Unavailable JournalError (LeaseLost is for a store that says the
  // lease is gone: test/unit/lease-deadline.test.ts), and whoever takes the run over finds only
  // what it journaled before.
  it.effect("an executor whose lease lapsed stops at its local deadline and journals nothing more", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const gate = yield* Deferred.make<void>()
      const memory = Journal.makeMemory()
      // This executor's heartbeats never get through: its lease runs out while it works.
      const silenced = memoryLayer((journal) => ({ ...journal, heartbeat: () => Effect.never }), memory)
      const Flow = Workflow.make("flow", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, (ctx) => counts.run("a", Effect.succeed(ctx.input))),
        Workflow.step(
          "b",
          { success: Schema.Number },
          (ctx) => counts.run("b", Effect.as(Deferred.await(gate), ctx.a + 1))
        ),
        Workflow.step("c", { success: Schema.Number }, (ctx) => counts.run("c", Effect.succeed(ctx.b + 1)))
      )
      const stale = yield* Effect.forkChild(
        Workflow.run(Flow, { input: 1, runId: "taken", leaseDuration: "10 seconds" }).pipe(Effect.provide(silenced))
      )
      yield* until(Effect.sync(() => counts.of("b") === 1))
      yield* TestClock.adjust("11 seconds")
      const taker = yield* memory.journal.acquire(
        { runId: "taken", workflow: "flow", fingerprint: (yield* loadRun(memory, "taken")).fingerprint, input: "1" },
        { owner: "another-executor", leaseMs: 60_000 }
      )
      assert.isDefined(taker.lease)
      yield* Deferred.succeed(gate, undefined)
      const lost = failure(yield* Fiber.await(stale))
      assert.instanceOf(lost, Journal.JournalError)
      assert.strictEqual((lost as Journal.JournalError).reason, "Unavailable")
      assert.strictEqual((lost as Journal.JournalError).runId, "taken")
      assert.include((lost as Journal.JournalError).message, "local deadline")
      assert.strictEqual(counts.of("c"), 0, "the run fiber stopped at its deadline")
      const entries = (yield* loadEntries(memory, "taken")).map((entry) => `${entry.kind} ${entry.path}`)
      assert.deepStrictEqual(entries, ["step a"])
      assert.strictEqual((yield* loadRun(memory, "taken")).owner, "another-executor")
    }))
})

const loadRun = (memory: ReturnType<typeof Journal.makeMemory>, runId: string) =>
  Effect.map(memory.journal.load(runId), (loaded) => Option.getOrThrow(loaded).run)

const loadEntries = (memory: ReturnType<typeof Journal.makeMemory>, runId: string) =>
  Effect.map(memory.journal.load(runId), (loaded) => Option.getOrThrow(loaded).entries)
