/**
 * An executor trusts its lease only until its local deadline (the last renewal sent, plus the
 * lease, minus a margin): past it, it starts no step or attempt, and a watchdog stops the run's
 * fiber. A heartbeat that reports the lease lost stops the run the same way. Under `Workflow.run`
 * and under workers, on the memory backend, with the TestClock; a stalled process is a clock
 * that jumps while no other fiber of the process runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Fiber, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Engine, Journal, Workflow } from "plait"
import { hasStatus, settle, startWorker, until } from "../support/engine.ts"
import { failure, makeCounts, memoryLayer } from "../support/runs.ts"

/** The fiber's clock, `stall.ms` ahead: a jump of it is a process that did not run for that long. */
const stallableClock = (clock: Clock.Clock, stall: { ms: number }): Clock.Clock => ({
  currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe() + stall.ms,
  currentTimeMillis: Effect.sync(() => clock.currentTimeMillisUnsafe() + stall.ms),
  currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe() + BigInt(stall.ms) * 1_000_000n,
  currentTimeNanos: Effect.sync(() => clock.currentTimeNanosUnsafe() + BigInt(stall.ms) * 1_000_000n),
  monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: clock.monotonicTimeNanos,
  sleep: (duration) => clock.sleep(duration)
})

const withStallableClock = <A, E, R>(stall: { ms: number }, effect: Effect.Effect<A, E, R>) =>
  Clock.clockWith((clock) => Effect.provideService(effect, Clock.Clock, stallableClock(clock, stall)))

const entryPaths = (memory: ReturnType<typeof Journal.makeMemory>, runId: string) =>
  Effect.map(
    memory.journal.load(runId),
    (loaded) => Option.getOrThrow(loaded).entries.map((entry) => `${entry.kind} ${entry.path}`)
  )

describe("the lease's local deadline", () => {
  it.effect("a worker stalled past its lease right after a commit starts no step the new owner journaled", () => {
    const memory = Journal.makeMemory()
    const stall = { ms: 0 }
    return withStallableClock(
      stall,
      Effect.gen(function*() {
        const counts = makeCounts()
        const resumed = yield* Deferred.make<void>()
        const Flow = Workflow.make("stalled_flow", { input: Schema.Number }).pipe(
          Workflow.step("first", { success: Schema.Number }, (ctx) => counts.run("first", Effect.succeed(ctx.input))),
          Workflow.step("second", { success: Schema.Number }, (ctx) => counts.run("second", Effect.succeed(ctx.first)))
        )
        // Worker A's process stops right after its write of `first` committed, for longer than
        // its lease, and nothing of it runs meanwhile (its heartbeat neither).
        const pausedAfterFirst = memoryLayer((journal) => ({
          ...journal,
          append: (lease, entries) =>
            Effect.andThen(
              journal.append(lease, entries),
              entries.some((entry) => entry.path === "first")
                ? Effect.uninterruptible(Effect.andThen(
                  Effect.sync(() => void (stall.ms += 5_000)),
                  Deferred.await(resumed)
                ))
                : Effect.void
            )
        }), memory)
        const engine = yield* Engine.Engine
        yield* engine.start(Flow, { input: 7, runId: "stalled" })
        yield* startWorker({ workflows: [Flow], leaseDuration: "2 seconds", workerId: "a" }).pipe(
          Effect.provide(pausedAfterFirst)
        )
        yield* settle
        assert.strictEqual(counts.of("first"), 1)
        // Meanwhile worker B takes the run over (its lease expired) and completes it.
        yield* startWorker({ workflows: [Flow], leaseDuration: "2 seconds", workerId: "b" })
        yield* settle
        assert.isTrue(yield* hasStatus("stalled", "completed"), "worker B did not complete the run")
        assert.strictEqual(counts.of("second"), 1)
        // A runs again: its next step is past its lease's local deadline, so it does not start.
        yield* Deferred.succeed(resumed, undefined)
        yield* settle
        assert.strictEqual(counts.of("second"), 1, "the stalled worker ran a step the new owner journaled")
        assert.deepStrictEqual(yield* entryPaths(memory, "stalled"), ["step first", "step second"])
      }).pipe(Effect.provide(Layer.provideMerge(Engine.layer, memoryLayer(undefined, memory))))
    )
  })

  it.effect("a step in flight when the deadline passes without a renewal is interrupted, its finalizers run, nothing is written", () => {
    const memory = Journal.makeMemory()
    return Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = Workflow.make("unrenewed_flow", { input: Schema.Number }).pipe(
        Workflow.step("long", { success: Schema.Number }, (ctx) =>
          counts.run(
            "long",
            Effect.as(Effect.ensuring(Effect.sleep("1 minute"), counts.hit("finalized")), ctx.input)
          )),
        Workflow.step("after", { success: Schema.Number }, (ctx) => counts.run("after", Effect.succeed(ctx.long)))
      )
      // The worker's heartbeats never come back: its lease is never renewed.
      const unrenewed = memoryLayer((journal) => ({ ...journal, heartbeat: () => Effect.never }), memory)
      const engine = yield* Engine.Engine
      yield* engine.start(Flow, { input: 3, runId: "unrenewed" })
      yield* startWorker({ workflows: [Flow], leaseDuration: "10 seconds" }).pipe(Effect.provide(unrenewed))
      yield* until(Effect.sync(() => counts.of("long") === 1), 1_000)
      // Before the deadline (8 s of a 10 s lease) the step goes on; past it, it is stopped.
      yield* TestClock.adjust("7 seconds")
      yield* settle
      assert.strictEqual(counts.of("finalized"), 0)
      yield* TestClock.adjust("1500 millis")
      yield* settle
      assert.strictEqual(counts.of("finalized"), 1, "the step was not interrupted at the deadline")
      assert.strictEqual(counts.of("after"), 0)
      assert.deepStrictEqual(yield* entryPaths(memory, "unrenewed"), [])
      // The lease runs out in the store later: the run is still the stopped executor's until then.
      const run = Option.getOrThrow(yield* memory.journal.load("unrenewed")).run
      assert.strictEqual(run.status, "running")
      assert.isAbove(run.leaseExpiresAt!, yield* Clock.currentTimeMillis)
    }).pipe(Effect.provide(Layer.provideMerge(Engine.layer, memoryLayer(undefined, memory))))
  })
})

describe("a heartbeat that reports the lease lost", () => {
  const makeFlow = (counts: ReturnType<typeof makeCounts>) =>
    Workflow.make("lost_flow", { input: Schema.Number }).pipe(
      Workflow.step("long", { success: Schema.Number }, (ctx) =>
        counts.run(
          "long",
          Effect.as(Effect.ensuring(Effect.sleep("1 minute"), counts.hit("finalized")), ctx.input)
        )),
      Workflow.step("after", { success: Schema.Number }, (ctx) => counts.run("after", Effect.succeed(ctx.long)))
    )

  /** A journal whose heartbeats say every lease was lost, and that counts the writes after one did. */
  const losing = (memory: ReturnType<typeof Journal.makeMemory>) => {
    const told = { lost: false, writesAfter: 0 }
    const layer = memoryLayer((journal) => ({
      ...journal,
      heartbeat: (_owner, leases) =>
        Effect.sync(() => {
          told.lost = true
          return leases.map((lease) => ({
            runId: lease.runId,
            held: false,
            cancelRequested: false,
            cancelReason: undefined
          }))
        }),
      append: (lease, entries) =>
        Effect.andThen(Effect.sync(() => void (told.lost && told.writesAfter++)), journal.append(lease, entries)),
      release: (lease, release) =>
        Effect.andThen(Effect.sync(() => void (told.lost && told.writesAfter++)), journal.release(lease, release))
    }), memory)
    return { told, layer }
  }

  it.effect("under Workflow.run: stops the current step (finalizers run), writes nothing, fails with LeaseLost", () => {
    const memory = Journal.makeMemory()
    const { layer, told } = losing(memory)
    return Effect.gen(function*() {
      const counts = makeCounts()
      const run = yield* Effect.forkChild(
        Workflow.run(makeFlow(counts), { input: 1, runId: "lost-run", leaseDuration: "30 seconds" })
      )
      yield* until(Effect.sync(() => counts.of("long") === 1), 1_000)
      yield* TestClock.adjust(Duration.seconds(10))
      yield* settle
      assert.isTrue(told.lost)
      assert.strictEqual(counts.of("finalized"), 1, "the step was not stopped")
      const lost = failure(yield* Fiber.await(run))
      assert.instanceOf(lost, Journal.LeaseLost)
      assert.strictEqual((lost as Journal.LeaseLost).runId, "lost-run")
      assert.strictEqual(told.writesAfter, 0, "the executor wrote after it was told its lease was lost")
      assert.strictEqual(counts.of("after"), 0)
      assert.deepStrictEqual(yield* entryPaths(memory, "lost-run"), [])
    }).pipe(Effect.provide(layer))
  })

  it.effect("under a worker: stops the current step (finalizers run) and writes nothing", () => {
    const memory = Journal.makeMemory()
    const { layer, told } = losing(memory)
    return Effect.gen(function*() {
      const counts = makeCounts()
      const Flow = makeFlow(counts)
      const engine = yield* Engine.Engine
      yield* engine.start(Flow, { input: 1, runId: "lost-worker" })
      const { worker } = yield* startWorker({ workflows: [Flow], leaseDuration: "30 seconds" }).pipe(
        Effect.provide(layer)
      )
      yield* until(Effect.sync(() => counts.of("long") === 1), 1_000)
      yield* TestClock.adjust(Duration.seconds(10))
      yield* settle
      assert.isTrue(told.lost)
      assert.strictEqual(counts.of("finalized"), 1, "the step was not stopped")
      assert.strictEqual(yield* worker.active, 0)
      assert.strictEqual(told.writesAfter, 0, "the executor wrote after it was told its lease was lost")
      assert.strictEqual(counts.of("after"), 0)
      assert.deepStrictEqual(yield* entryPaths(memory, "lost-worker"), [])
    }).pipe(Effect.provide(Layer.provideMerge(Engine.layer, memoryLayer(undefined, memory))))
  })
})
