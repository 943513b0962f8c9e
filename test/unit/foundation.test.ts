import { assert, describe, it } from "@effect/vitest"
import { Clock, Data, Deferred, type Duration, Effect, Exit, Option, Schema, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { Journal, Workflow, WorkflowError } from "plait"
import {
  advance,
  completed,
  entriesOf,
  entryAt,
  failure,
  finished,
  interrupt,
  makeCounts,
  memoryLayer,
  plant,
  runFor,
  start,
  stepPaths
} from "../support/runs.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly attempt: number }> {}

describe("foundation", () => {
  describe("resume", () => {
    it.effect("after a failure part-way, every completed step ran exactly once", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        let failing = true
        const Flow = Workflow.make("resume", { input: Schema.Number }).pipe(
          Workflow.step("a", { success: Schema.Number }, (ctx) => counts.run("a", Effect.succeed(ctx.input + 1))),
          Workflow.step("b", { success: Schema.Number }, (ctx) => counts.run("b", Effect.succeed(ctx.a * 2))),
          Workflow.step("c", { success: Schema.Number }, (ctx) =>
            counts.run(
              "c",
              Effect.suspend(() => failing ? Effect.fail(new Boom({ attempt: 1 })) : Effect.succeed(ctx.b + 1))
            )),
          Workflow.step("d", { success: Schema.String }, (ctx) =>
            counts.run("d", Effect.succeed(`${ctx.a}/${ctx.b}/${ctx.c}`)))
        )
        assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: 1, runId: "r" }))), Boom)
        assert.deepStrictEqual(counts.snapshot(), { a: 1, b: 1, c: 1 })
        failing = false
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 1, runId: "r" })))
        assert.deepStrictEqual(ctx, { input: 1, a: 2, b: 4, c: 5, d: "2/4/5" })
        assert.deepStrictEqual(counts.snapshot(), { a: 1, b: 1, c: 2, d: 1 })
        // A completed run replays entirely.
        assert.deepStrictEqual(completed(yield* runFor(Workflow.run(Flow, { input: 1, runId: "r" }))), ctx)
        assert.deepStrictEqual(counts.snapshot(), { a: 1, b: 1, c: 2, d: 1 })
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("retries", () => {
    /** A step that fails its first `failures` attempts (counted across runs), then succeeds. */
    const flaky = (
      options: { readonly failures: () => number; readonly times: number; readonly delay?: Duration.Input }
    ) => {
      let attempts = 0
      const Flow = Workflow.make("flaky", { input: Schema.Number }).pipe(
        Workflow.step("charge", {
          success: Schema.String,
          retry: { times: options.times, delay: options.delay ?? "1 second" }
        }, () =>
          Effect.suspend(() => {
            attempts++
            return attempts <= options.failures()
              ? Effect.fail(new Boom({ attempt: attempts }))
              : Effect.succeed(`ok after ${attempts}`)
          }))
      )
      return { Flow, attempts: () => attempts }
    }

    it.effect("a failing step is retried after its delay and each failed attempt is journaled", () =>
      Effect.gen(function*() {
        const { Flow, attempts } = flaky({ failures: () => 2, times: 3 })
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "retry" }), "2 seconds"))
        assert.strictEqual(ctx.charge, "ok after 3")
        assert.strictEqual(attempts(), 3)
        const failed = (yield* entriesOf("retry")).filter((entry) => entry.kind === "attempt")
        assert.deepStrictEqual(failed.map((entry) => entry.seq).sort(), [1, 2])
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("the retry budget survives a crash during the backoff sleep", () =>
      Effect.gen(function*() {
        // `times: 5` is five retries after the first attempt: six attempts in all.
        const { Flow, attempts } = flaky({ failures: () => Infinity, times: 5, delay: "10 seconds" })
        const fiber = yield* start(Workflow.run(Flow, { input: 0, runId: "budget" }))
        yield* advance("15 seconds")
        // Two attempts failed; the run is sleeping before the third.
        assert.strictEqual(attempts(), 2)
        assert.isUndefined(fiber.pollUnsafe())
        yield* interrupt(fiber)

        const exit = yield* runFor(Workflow.run(Flow, { input: 0, runId: "budget" }), "100 seconds")
        // Only what was left of the budget ran: four more attempts, not a fresh six.
        assert.strictEqual(attempts() - 2, 4)
        const error = failure(exit)
        assert.instanceOf(error, Boom)
        assert.strictEqual((error as Boom).attempt, 6)
        const journaled = (yield* entriesOf("budget")).filter((entry) => entry.kind === "attempt")
        assert.strictEqual(journaled.length, 6)
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("exhausted retries fail with the step's own typed error, and a re-driven run gets a fresh budget", () =>
      Effect.gen(function*() {
        const { Flow, attempts } = flaky({ failures: () => 3, times: 1 })
        const first = yield* runFor(Workflow.run(Flow, { input: 0, runId: "redrive" }), "5 seconds")
        const error = failure(first)
        assert.instanceOf(error, Boom)
        assert.strictEqual((error as Boom).attempt, 2)
        assert.strictEqual(attempts(), 2)

        // Re-driven: attempt 3 fails and attempt 4 (its one retry) succeeds only with a fresh budget.
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "redrive" }), "5 seconds"))
        assert.strictEqual(ctx.charge, "ok after 4")
        assert.strictEqual(attempts(), 4)
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("timeout", () => {
    it.effect("interrupts the step (its finalizer runs) and fails with StepTimeout naming run and path", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        const Flow = Workflow.make("timeout", { input: Schema.Number }).pipe(
          Workflow.parallel("p", {
            slow: Workflow.step(
              "slow",
              { success: Schema.Number, timeout: "1 second" },
              () =>
                counts.run("started", Effect.sleep("10 seconds")).pipe(
                  Effect.andThen(counts.hit("finished")),
                  Effect.as(1),
                  Effect.onInterrupt(() => counts.hit("interrupted"))
                )
            )
          })
        )
        const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "slow-run" }), "2 seconds"))
        assert.instanceOf(error, WorkflowError.StepTimeout)
        const timeout = error as WorkflowError.StepTimeout
        assert.strictEqual(timeout.runId, "slow-run")
        assert.strictEqual(timeout.path, "p/slow/slow")
        assert.deepStrictEqual(counts.snapshot(), { started: 1, interrupted: 1 })
        yield* advance("20 seconds")
        assert.strictEqual(counts.of("finished"), 0)
        assert.deepStrictEqual(yield* stepPaths("slow-run"), [])
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("a timed-out attempt counts against the retry budget and the next attempt may succeed", () =>
      Effect.gen(function*() {
        let attempts = 0
        const Flow = Workflow.make("timeout_retry", { input: Schema.Number }).pipe(
          Workflow.step(
            "fetch",
            { success: Schema.Number, timeout: "1 second", retry: { times: 1 } },
            () =>
              Effect.suspend(
                () => (++attempts === 1 ? Effect.as(Effect.sleep("1 minute"), 0) : Effect.succeed(attempts))
              )
          )
        )
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "tr" }), "2 seconds"))
        assert.strictEqual(ctx.fetch, 2)
        const failed = (yield* entriesOf("tr")).filter((entry) => entry.kind === "attempt")
        assert.strictEqual(failed.length, 1)
        assert.include(failed[0]!.value, "StepTimeout")
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("validation", () => {
    const Typed = Workflow.make("typed", { input: Schema.Struct({ email: Schema.String }) }).pipe(
      Workflow.step("user", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input.email))
    )

    it.effect("bad input fails with InvalidInput and leaves no run in the journal", () =>
      Effect.gen(function*() {
        const exit = yield* runFor(
          Workflow.run(Typed, { input: { email: 42 } as unknown as { email: string }, runId: "bad" })
        )
        const error = failure(exit)
        assert.instanceOf(error, WorkflowError.InvalidInput)
        assert.strictEqual((error as WorkflowError.InvalidInput).runId, "bad")
        assert.strictEqual((error as WorkflowError.InvalidInput).workflow, "typed")
        const journal = yield* Journal.Journal
        assert.isTrue(Option.isNone(yield* journal.load("bad")))
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("InvalidInput lists every schema issue, not only the first", () =>
      Effect.gen(function*() {
        const Signup = Workflow.make("signup", {
          input: Schema.Struct({ email: Schema.String, age: Schema.Number, name: Schema.NonEmptyString })
        })
        const bad = { email: 42, age: "old", name: "" } as unknown as { email: string; age: number; name: string }
        const error = failure(yield* runFor(Workflow.run(Signup, { input: bad, runId: "signup" })))
        assert.instanceOf(error, WorkflowError.InvalidInput)
        const issue = (error as WorkflowError.InvalidInput).issue
        for (const field of ["email", "age", "name"]) assert.include(issue, `["${field}"]`)
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("a resume must pass the run's input and belong to the run's workflow", () =>
      Effect.gen(function*() {
        completed(yield* runFor(Workflow.run(Typed, { input: { email: "ada@example.com" }, runId: "owned" })))

        const otherInput = failure(
          yield* runFor(Workflow.run(Typed, { input: { email: "bob@example.com" }, runId: "owned" }))
        )
        assert.instanceOf(otherInput, WorkflowError.InvalidInput)
        assert.strictEqual((otherInput as WorkflowError.InvalidInput).runId, "owned")

        const Other = Workflow.make("other", { input: Schema.Struct({ email: Schema.String }) })
        const conflict = failure(
          yield* runFor(Workflow.run(Other, { input: { email: "ada@example.com" }, runId: "owned" }))
        )
        assert.instanceOf(conflict, WorkflowError.RunConflict)
        assert.strictEqual((conflict as WorkflowError.RunConflict).stored, "typed")
        assert.strictEqual((conflict as WorkflowError.RunConflict).requested, "other")

        // Neither attempt touched the run.
        const journal = yield* Journal.Journal
        const stored = Option.getOrThrow(yield* journal.load("owned"))
        assert.strictEqual(stored.run.status, "completed")
        assert.strictEqual(stored.run.workflow, "typed")
        assert.deepStrictEqual(stored.entries.map((entry) => entry.path), ["user"])
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("a changed definition fails with DefinitionChanged at the first differing path; allowDefinitionChange opts in", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        const base = Workflow.make("evolving", { input: Schema.Number }).pipe(
          Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1)))
        )
        const v1 = base.pipe(
          Workflow.parallel("p", {
            x: Workflow.step("x", { success: Schema.Number }, () => Effect.fail(new Boom({ attempt: 1 }))),
            y: Workflow.step("y", { success: Schema.Number }, () => Effect.succeed(2))
          })
        )
        const v2 = base.pipe(
          Workflow.parallel("p", {
            x: Workflow.step("x2", { success: Schema.Number }, () => counts.run("x2", Effect.succeed(3))),
            y: Workflow.step("y", { success: Schema.Number }, () => counts.run("y", Effect.succeed(2)))
          })
        )
        assert.instanceOf(failure(yield* runFor(Workflow.run(v1, { input: 0, runId: "v" }))), Boom)

        const error = failure(yield* runFor(Workflow.run(v2, { input: 0, runId: "v" })))
        assert.instanceOf(error, WorkflowError.DefinitionChanged)
        const changed = error as WorkflowError.DefinitionChanged
        assert.strictEqual(changed.runId, "v")
        assert.strictEqual(changed.path, "p/x/x2")
        assert.strictEqual(changed.stored, "p/x/x step")
        assert.strictEqual(changed.current, "p/x/x2 step")
        assert.deepStrictEqual(counts.snapshot(), { a: 1 })

        const ctx = completed(yield* runFor(Workflow.run(v2, { input: 0, runId: "v", allowDefinitionChange: true })))
        assert.deepStrictEqual(ctx, { input: 0, a: 1, x2: 3, y: 2 })
        assert.strictEqual(counts.of("a"), 1, "the unchanged step replays")
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("an output its schema rejects fails with InvalidOutput naming run and path; nothing is journaled for it", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("bad_output", { input: Schema.Number }).pipe(
          Workflow.step("ok", { success: Schema.Number }, () => Effect.succeed(1)),
          Workflow.step("count", { success: Schema.Number }, () => Effect.succeed("three" as unknown as number))
        )
        const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "out" })))
        assert.instanceOf(error, WorkflowError.InvalidOutput)
        assert.strictEqual((error as WorkflowError.InvalidOutput).runId, "out")
        assert.strictEqual((error as WorkflowError.InvalidOutput).path, "count")
        assert.deepStrictEqual(yield* stepPaths("out"), ["ok"])
      }).pipe(Effect.provide(Journal.layerMemory)))

    for (
      const [label, value] of [["a value its schema rejects", "\"not a number\""], [
        "text that is not JSON",
        "{oops"
      ]] as const
    ) {
      it.effect(`a corrupt journal row (${label}) fails with JournalError Corrupt naming run and path; the step does not run`, () =>
        Effect.gen(function*() {
          const counts = makeCounts()
          let failing = true
          const Flow = Workflow.make("corrupt", { input: Schema.Number }).pipe(
            Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1))),
            Workflow.step(
              "b",
              { success: Schema.Number },
              () =>
                counts.run(
                  "b",
                  Effect.suspend(() => failing ? Effect.fail(new Boom({ attempt: 1 })) : Effect.succeed(2))
                )
            )
          )
          assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "c" }))), Boom)
          yield* plant("c", [{ path: "b", kind: "step", seq: 0, value }])
          failing = false

          const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "c" })))
          assert.instanceOf(error, WorkflowError.JournalError)
          const corrupt = error as WorkflowError.JournalError
          assert.strictEqual(corrupt.reason, "Corrupt")
          assert.strictEqual(corrupt.runId, "c")
          assert.strictEqual(corrupt.path, "b")
          assert.isString(corrupt.detail)
          assert.deepStrictEqual(counts.snapshot(), { a: 1, b: 1 })
          // Nothing already journaled was lost.
          assert.deepStrictEqual(yield* entryAt("c", "step", "a"), {
            path: "a",
            kind: "step",
            seq: 0,
            value: "1",
            startedAt: 0,
            finishedAt: 0
          })
          assert.strictEqual((yield* entryAt("c", "step", "b"))?.value, value)
        }).pipe(Effect.provide(Journal.layerMemory)))
    }
  })

  describe("storage faults", () => {
    /** A memory journal whose appends fail while `down` says so for the batch. */
    const flakyJournal = (down: (entries: ReadonlyArray<Journal.JournalEntry>) => boolean) =>
      memoryLayer((inner) => ({
        ...inner,
        append: (lease, entries) =>
          Effect.suspend(() =>
            down(entries)
              ? Effect.fail(
                new Journal.JournalError({ reason: "Unavailable", runId: lease.runId, detail: "store down" })
              )
              : inner.append(lease, entries)
          )
      }))

    it.effect("a step is reported complete only after its write commits; a write that failed re-runs the step on resume", () => {
      const store = { down: true }
      return Effect.gen(function*() {
        const counts = makeCounts()
        const events: Array<string> = []
        const Flow = Workflow.make("write_fails", { input: Schema.Number }).pipe(
          Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1))),
          Workflow.step("b", { success: Schema.Number }, () => counts.run("b", Effect.succeed(2)))
        )
        const journal = yield* Journal.Journal
        const observe = (event: Workflow.StepEvent) =>
          Effect.gen(function*() {
            events.push(`${event._tag} ${event.path}`)
            if (event._tag !== "Completed") return
            const entries = Option.getOrThrow(yield* Effect.orDie(journal.load(event.runId))).entries
            assert.isTrue(
              entries.some((entry) => entry.kind === "step" && entry.path === event.path),
              `${event.path} was reported complete before its write committed`
            )
          })
        const run = Workflow.run(Flow, { input: 0, runId: "wf", observe })
        const error = failure(yield* runFor(run))
        assert.instanceOf(error, WorkflowError.JournalError)
        assert.strictEqual((error as WorkflowError.JournalError).reason, "Unavailable")
        assert.deepStrictEqual(events, ["Started a", "Completed a", "Started b"])

        store.down = false
        events.length = 0
        assert.deepStrictEqual(completed(yield* runFor(run)), { input: 0, a: 1, b: 2 })
        assert.deepStrictEqual(events, ["Replayed a", "Started b", "Completed b"])
        // `b` ran again: its first output never reached the journal.
        assert.deepStrictEqual(counts.snapshot(), { a: 1, b: 2 })
      }).pipe(Effect.provide(flakyJournal((entries) => store.down && entries.some((entry) => entry.path === "b"))))
    })

    it.effect("steps completing together are reported complete only once their batch commits, checked while the journal holds it open", () => {
      const release = Deferred.makeUnsafe<void>()
      const committed = new Set<string>()
      const held: Array<string> = []
      // Every append waits for `release` before it commits.
      const holding = memoryLayer((inner) => ({
        ...inner,
        append: (lease, entries) =>
          Effect.gen(function*() {
            held.push(...entries.map((entry) => entry.path))
            yield* Deferred.await(release)
            yield* inner.append(lease, entries)
            for (const entry of entries) committed.add(entry.path)
          })
      }))
      return Effect.gen(function*() {
        const reported: Array<string> = []
        const Flow = Workflow.make("batch_commit", { input: Schema.Number }).pipe(
          Workflow.parallel("p", {
            a: Workflow.step("a", { success: Schema.Number }, () => Effect.succeed(1)),
            b: Workflow.step("b", { success: Schema.Number }, () => Effect.succeed(2)),
            c: Workflow.step("c", { success: Schema.Number }, () => Effect.succeed(3))
          })
        )
        const observe = (event: Workflow.StepEvent) =>
          Effect.sync(() => {
            if (event._tag === "Completed") {
              reported.push(`${event.path} ${committed.has(event.path) ? "committed" : "NOT committed"}`)
            }
          })
        const fiber = yield* start(Workflow.run(Flow, { input: 0, runId: "held", observe }))
        yield* advance(0)
        for (let i = 0; i < 100; i++) yield* Effect.yieldNow
        // All three ran and are being written; none may be reported while the write is held.
        assert.deepStrictEqual([...held].sort(), ["p/a/a", "p/b/b", "p/c/c"])
        assert.deepStrictEqual(reported, [])
        Deferred.doneUnsafe(release, Exit.void)
        completed(yield* finished(fiber))
        assert.deepStrictEqual([...reported].sort(), ["p/a/a committed", "p/b/b committed", "p/c/c committed"])
      }).pipe(Effect.provide(holding))
    })

    it.effect("a journal fault in a settle branch fails the block instead of becoming a branch Result", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("settle_fault", { input: Schema.Number }).pipe(
          Workflow.parallel("p", {
            ok: Workflow.step("ok", { success: Schema.Number }, () => Effect.succeed(1)),
            stored: Workflow.step("stored", { success: Schema.Number }, () => Effect.succeed(2))
          }, { onError: "settle" })
        )
        const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "sf" })))
        assert.instanceOf(error, WorkflowError.JournalError)
        assert.strictEqual((error as WorkflowError.JournalError).reason, "Unavailable")
      }).pipe(Effect.provide(flakyJournal((entries) => entries.some((entry) => entry.path === "p/stored/stored")))))

    it.effect("a corrupt row in a race branch fails the race even when another branch would win", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        let gateOpen = false
        const Flow = Workflow.make("race_fault", { input: Schema.Number }).pipe(
          Workflow.step(
            "gate",
            { success: Schema.Boolean },
            () => Effect.suspend(() => gateOpen ? Effect.succeed(true) : Effect.fail(new Boom({ attempt: 1 })))
          ),
          Workflow.race("r", {
            damaged: Workflow.sequence(
              Workflow.step("first", { success: Schema.Number }, () => counts.run("first", Effect.succeed(1))),
              Workflow.step("second", { success: Schema.Number }, () => Effect.as(Effect.sleep("1 minute"), 2))
            ),
            healthy: Workflow.step(
              "healthy",
              { success: Schema.Number },
              () => counts.run("healthy", Effect.succeed(3))
            )
          })
        )
        assert.instanceOf(failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "rf" }))), Boom)
        yield* plant("rf", [{ path: "r/damaged/first", kind: "step", seq: 0, value: "\"garbled\"" }])
        gateOpen = true

        const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "rf" })))
        assert.instanceOf(error, WorkflowError.JournalError)
        assert.strictEqual((error as WorkflowError.JournalError).reason, "Corrupt")
        assert.strictEqual((error as WorkflowError.JournalError).path, "r/damaged/first")
        assert.strictEqual(counts.of("first"), 0)
        assert.isUndefined(yield* entryAt("rf", "choice", "r"))
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("payload bound", () => {
    /** A memory journal that stores values of at most 64 bytes. */
    const smallJournal = memoryLayer((journal) => ({ ...journal, maxPayloadBytes: 64 }))

    it.effect("an output over the journal's bound fails its step with TooLarge naming run and path; outputs batched beside it are journaled", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("too_large", { input: Schema.Number }).pipe(
          Workflow.parallel("p", {
            big: Workflow.step("big", { success: Schema.String }, () => Effect.succeed("x".repeat(100))),
            small: Workflow.step("small", { success: Schema.Number }, () => Effect.succeed(1)),
            other: Workflow.step("other", { success: Schema.Number }, () => Effect.succeed(2))
          }, { onError: "completeAll" })
        )
        const error = failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "large" })))
        assert.instanceOf(error, WorkflowError.JournalError)
        const tooLarge = error as WorkflowError.JournalError
        assert.strictEqual(tooLarge.reason, "TooLarge")
        assert.strictEqual(tooLarge.runId, "large")
        assert.strictEqual(tooLarge.path, "p/big/big")
        assert.include(tooLarge.detail, "64")
        assert.deepStrictEqual(yield* stepPaths("large"), ["p/other/other", "p/small/small"])
      }).pipe(Effect.provide(smallJournal)))

    it.effect("a signal value over the journal's bound is refused with TooLarge and not journaled", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("big_signal", { input: Schema.Number }).pipe(
          Workflow.signal("document", { schema: Schema.String })
        )
        yield* runFor(Workflow.run(Flow, { input: 0, runId: "doc" }))
        const value = "x".repeat(Journal.defaultMaxPayloadBytes)
        const error = failure(yield* Effect.exit(Workflow.sendSignal(Flow, { runId: "doc", path: "document", value })))
        assert.instanceOf(error, WorkflowError.JournalError)
        assert.strictEqual((error as WorkflowError.JournalError).reason, "TooLarge")
        assert.strictEqual((error as WorkflowError.JournalError).path, "document")
        assert.isUndefined(yield* entryAt("doc", "signal", "document"))
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("signal", () => {
    const Approval = Schema.Struct({ approved: Schema.Boolean })

    it.effect("a run suspends until the signal is delivered; a bad payload is rejected; the next run completes", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        const Flow = Workflow.make("expense", { input: Schema.Number }).pipe(
          Workflow.step("submit", { success: Schema.Number }, (ctx) => counts.run("submit", Effect.succeed(ctx.input))),
          Workflow.signal("approval", { schema: Approval }),
          Workflow.step(
            "book",
            { success: Schema.String },
            (ctx) => counts.run("book", Effect.succeed(ctx.approval.approved ? `booked ${ctx.submit}` : "rejected"))
          )
        )
        const journal = yield* Journal.Journal

        const first = yield* runFor(Workflow.run(Flow, { input: 30, runId: "exp" }))
        if (first._tag === "Failure") return assert.fail("the run failed instead of suspending")
        assert.deepStrictEqual(first.value, { _tag: "Suspended", runId: "exp", waitingFor: "approval" })
        assert.strictEqual(Option.getOrThrow(yield* journal.load("exp")).run.status, "waiting")

        // The types reject a wrong value or path; the run-time check stands for callers the types cannot see.
        const bad = yield* Effect.exit(
          // @ts-expect-error a string is not a boolean
          Workflow.sendSignal(Flow, { runId: "exp", path: "approval", value: { approved: "yes" } })
        )
        const invalid = failure(bad) as WorkflowError.InvalidSignal
        assert.instanceOf(invalid, WorkflowError.InvalidSignal)
        assert.strictEqual(invalid.path, "approval")
        assert.strictEqual(invalid.runId, "exp")
        assert.deepStrictEqual(invalid.issues, ["at approved: Expected boolean, got \"yes\""])
        assert.include(invalid.message, "signal approval of run exp was sent a value its schema rejects")
        // @ts-expect-error the workflow has no signal at "nope"
        const unknownPath = yield* Effect.exit(Workflow.sendSignal(Flow, { runId: "exp", path: "nope", value: {} }))
        assert.instanceOf(failure(unknownPath), WorkflowError.UnknownSignal)
        const still = yield* runFor(Workflow.run(Flow, { input: 30, runId: "exp" }))
        if (still._tag === "Failure") return assert.fail("the run failed instead of suspending")
        assert.strictEqual(still.value._tag, "Suspended")

        yield* Workflow.sendSignal(Flow, { runId: "exp", path: "approval", value: { approved: true } })
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: 30, runId: "exp" })))
        assert.deepStrictEqual(ctx, { input: 30, submit: 30, approval: { approved: true }, book: "booked 30" })
        assert.deepStrictEqual(counts.snapshot(), { submit: 1, book: 1 })
        assert.strictEqual(Option.getOrThrow(yield* journal.load("exp")).run.status, "completed")
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("a value a signal's schema rejects is reported with every problem, naming the signal and the run", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("expense", { input: Schema.Number }).pipe(
          Workflow.signal("approval", {
            schema: Schema.Struct({ approved: Schema.Boolean, by: Schema.String, cents: Schema.Int })
          })
        )
        yield* runFor(Workflow.run(Flow, { input: 30, runId: "exp-2" }))
        const bad = yield* Effect.exit(
          Workflow.sendSignal(Flow, {
            runId: "exp-2",
            path: "approval",
            value: { approved: "yes", cents: 1.5 } as never
          })
        )
        const invalid = failure(bad) as WorkflowError.InvalidSignal
        assert.instanceOf(invalid, WorkflowError.InvalidSignal)
        assert.strictEqual(invalid.issues.length, 3, invalid.message)
        assert.include(invalid.issues[0], "at approved: Expected boolean")
        assert.include(invalid.issues.join("\n"), "at by: Missing key")
        assert.include(invalid.issues.join("\n"), "at cents:")
        assert.include(invalid.message, "signal approval of run exp-2")
        for (const issue of invalid.issues) assert.include(invalid.message, issue)
        assert.isUndefined(yield* entryAt("exp-2", "signal", "approval"), "nothing is journaled")
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("signal in a forEach body", () => {
    it.effect("a signal waited on by one item is delivered at its item path", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("per_item_approval", { input: Schema.Array(Schema.String) }).pipe(
          Workflow.forEach("reviews", (ctx) => ctx.input, Workflow.signal("verdict", { schema: Schema.Boolean }), {
            key: (name) => name
          })
        )
        const first = yield* runFor(Workflow.run(Flow, { input: ["ada"], runId: "reviews" }))
        if (first._tag === "Failure") return assert.fail("the run failed instead of suspending")
        assert.deepStrictEqual(first.value, { _tag: "Suspended", runId: "reviews", waitingFor: "reviews[ada]/verdict" })

        yield* Workflow.sendSignal(Flow, { runId: "reviews", path: "reviews[ada]/verdict", value: true })
        const ctx = completed(yield* runFor(Workflow.run(Flow, { input: ["ada"], runId: "reviews" })))
        assert.deepStrictEqual(ctx.reviews, [{ verdict: true }])
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("durable sleep", () => {
    it.effect("the wake-up time is journaled and a resumed run sleeps only the rest", () =>
      Effect.gen(function*() {
        const counts = makeCounts()
        const Flow = Workflow.make("reminder", { input: Schema.Number }).pipe(
          Workflow.sleep("wait", "1 hour"),
          Workflow.step("remind", { success: Schema.Number }, () => counts.run("remind", Effect.succeed(1)))
        )
        const startedAt = yield* Clock.currentTimeMillis
        const fiber = yield* start(Workflow.run(Flow, { input: 0, runId: "nap" }))
        yield* advance("30 minutes", "1 minute")
        yield* interrupt(fiber)
        assert.strictEqual(counts.of("remind"), 0)
        assert.strictEqual((yield* entryAt("nap", "wake", "wait"))?.value, String(startedAt + 60 * 60 * 1000))

        const resumed = yield* start(Workflow.run(Flow, { input: 0, runId: "nap" }))
        yield* advance("29 minutes", "1 minute")
        assert.strictEqual(counts.of("remind"), 0, "woke before the journaled time")
        yield* advance("1 minute")
        // Woken at the journaled time: 30 minutes into the resume, not a full hour.
        assert.deepStrictEqual(completed(yield* finished(resumed)), { input: 0, remind: 1 })
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("a resume after the wake-up time has passed does not sleep at all", () =>
      Effect.gen(function*() {
        const Flow = Workflow.make("overslept", { input: Schema.Number }).pipe(
          Workflow.sleep("wait", "1 hour"),
          Workflow.step("after", { success: Schema.Number }, () => Effect.succeed(1))
        )
        const fiber = yield* start(Workflow.run(Flow, { input: 0, runId: "late" }))
        yield* advance("10 minutes", "1 minute")
        yield* interrupt(fiber)
        yield* TestClock.adjust("2 hours")
        assert.deepStrictEqual(completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "late" }))), {
          input: 0,
          after: 1
        })
      }).pipe(Effect.provide(Journal.layerMemory)))
  })

  describe("spans", () => {
    /** A tracer that keeps every span it makes. */
    const recordingTracer = () => {
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      return { spans, tracer }
    }

    it.effect("every step runs in a plait.step span with run id, path, attempt and replayed; each attempt in a plait.attempt span", () =>
      Effect.gen(function*() {
        const { spans, tracer } = recordingTracer()
        let attempts = 0
        let failing = true
        const Flow = Workflow.make("traced", { input: Schema.Number }).pipe(
          Workflow.step(
            "a",
            { success: Schema.Number, retry: { times: 1 } },
            () => Effect.suspend(() => (++attempts === 1 ? Effect.fail(new Boom({ attempt: 1 })) : Effect.succeed(1)))
          ),
          Workflow.parallel("p", {
            b: Workflow.step(
              "b",
              { success: Schema.Number },
              () => Effect.suspend(() => failing ? Effect.fail(new Boom({ attempt: 1 })) : Effect.succeed(2))
            )
          })
        )
        const stepSpans = () =>
          spans.filter((span) => span.name === "plait.step").map((span) => Object.fromEntries(span.attributes))
        assert.instanceOf(
          failure(yield* runFor(Workflow.run(Flow, { input: 0, runId: "t" }).pipe(Effect.withTracer(tracer)))),
          Boom
        )
        // A step's span carries the last attempt it made; its attempts are spans inside it.
        assert.deepStrictEqual(stepSpans(), [
          { "plait.run_id": "t", "plait.path": "a", "plait.attempt": 2, "plait.replayed": false },
          { "plait.run_id": "t", "plait.path": "p/b/b", "plait.attempt": 1, "plait.replayed": false }
        ])
        assert.deepStrictEqual(
          spans.filter((span) => span.name === "plait.attempt").map((span) => Object.fromEntries(span.attributes)),
          [
            { "plait.run_id": "t", "plait.path": "a", "plait.attempt": 1 },
            { "plait.run_id": "t", "plait.path": "a", "plait.attempt": 2 },
            { "plait.run_id": "t", "plait.path": "p/b/b", "plait.attempt": 1 }
          ]
        )

        spans.length = 0
        failing = false
        completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "t" }).pipe(Effect.withTracer(tracer))))
        const resumed = stepSpans()
        assert.strictEqual(resumed.length, 2)
        assert.deepStrictEqual(resumed[0], {
          "plait.run_id": "t",
          "plait.path": "a",
          "plait.attempt": 0,
          "plait.replayed": true
        })
        // `b` exhausted its budget in the first run; the re-driven run starts a fresh one.
        assert.deepStrictEqual(resumed[1], {
          "plait.run_id": "t",
          "plait.path": "p/b/b",
          "plait.attempt": 1,
          "plait.replayed": false
        })
        assert.isTrue(spans.some((span) => span.name === "plait.run"))
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("a step's own spans are children of its attempt's span, inside the step's; every step and attempt span ends", () =>
      Effect.gen(function*() {
        const { spans, tracer } = recordingTracer()
        const Flow = Workflow.make("nested", { input: Schema.Number }).pipe(
          Workflow.step(
            "a",
            { success: Schema.Number },
            (ctx) => Effect.withSpan(Effect.succeed(ctx.input + 1), "user.a")
          ),
          Workflow.forEach("items", () => [1, 2], (item) => Effect.withSpan(Effect.succeed(item), "user.item"), {
            success: Schema.Number,
            concurrency: 2
          })
        )
        const pathOf = (span: Tracer.NativeSpan) => span.attributes.get("plait.path")
        // For each span called `name`: its parent's name and path.
        const parentsOf = (name: string) =>
          spans.filter((span) => span.name === name).map((span) => {
            const parent = Option.getOrUndefined(span.parent)
            return parent?._tag === "Span" ? `${parent.name} ${String(parent.attributes.get("plait.path"))}` : "none"
          }).sort()
        completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "n" }).pipe(Effect.withTracer(tracer))))
        const executed = spans.filter((span) => span.name === "plait.step" || span.name === "plait.attempt")
        assert.deepStrictEqual(parentsOf("user.a"), ["plait.attempt a"])
        assert.deepStrictEqual(parentsOf("user.item"), ["plait.attempt items[0]", "plait.attempt items[1]"])
        assert.deepStrictEqual(parentsOf("plait.attempt"), [
          "plait.step a",
          "plait.step items[0]",
          "plait.step items[1]"
        ])

        spans.length = 0
        completed(yield* runFor(Workflow.run(Flow, { input: 0, runId: "n" }).pipe(Effect.withTracer(tracer))))
        const replayed = spans.filter((span) => span.name === "plait.step")
        assert.deepStrictEqual(replayed.map(pathOf).sort(), ["a", "items[0]", "items[1]"])
        assert.isTrue(replayed.every((span) => span.attributes.get("plait.replayed") === true))
        assert.isFalse(
          spans.some((span) => span.name.startsWith("user.") || span.name === "plait.attempt"),
          "nothing of a replayed step runs"
        )
        for (const span of [...executed, ...replayed]) {
          assert.strictEqual(span.status._tag, "Ended", `${span.name} ${pathOf(span)} ended`)
        }
      }).pipe(Effect.provide(Journal.layerMemory)))
  })
})
