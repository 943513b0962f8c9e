/**
 * One executor per run, with real processes.
 *
 * - A worker stopped with SIGSTOP in the middle of a step, past its lease, while another worker
 *   takes the run over, then let go on with SIGCONT: its write is refused with `LeaseLost`, and
 *   nothing it did after losing the lease is journaled. Every step's value names the worker that
 *   executed it, so the journal shows whose writes it kept.
 * - Two `Workflow.run` calls of one run id at once, in one process and in two processes: exactly
 *   one executes (its step holds until the test has seen the other's answer), the other fails at
 *   once with `RunBusy` naming the holder.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Ref } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Journal, Workflow } from "plait"
import { forProcess, journalLayer } from "../support/processes/engine/backend.ts"
import { type Execution, readExecutions, releaseFile } from "../support/processes/engine/effects.ts"
import { GateFlow, HoldFlow, holdSteps, SideEffects } from "../support/processes/engine/flows.ts"
import { eventually, isReady, processState, spawnChild } from "../support/processes/engine/processes.ts"
import type { RunnerArgs } from "../support/processes/engine/runner.ts"
import { type BackendKind, backendKinds, setup, spawnWorker } from "../support/processes/engine/setup.ts"
import { failure } from "../support/runs.ts"

const leaseMs = 1_000

const stepsBy = (executions: ReadonlyArray<Execution>, by: string) =>
  executions.filter((execution) => execution.by === by).map((execution) => execution.path)

const stoppedPastItsLease = (kind: BackendKind) =>
  Effect.gen(function*() {
    const env = yield* setup(kind)
    const worker = (label: string, hold: "freeze" | "wait") =>
      spawnWorker(env, label, { hold, leaseMs, concurrency: 4, maxPollMs: 200, traceWrites: true })
    const runId = "held-1"
    const holding = (line: string) => line === `Holding ${runId} held`
    const appendOf = (path: string) => (line: string) =>
      line.startsWith(`Append ${runId} `) && line.split(" ")[2]!.split(",").includes(path)

    // A executes the run up to `held`, where it holds its only thread; the test stops it there.
    const a = yield* worker("A", "freeze")
    yield* a.waitFor("Ready", isReady)
    yield* env.engine.start(HoldFlow, { input: { id: runId }, runId })
    yield* a.waitFor("A holding", holding)
    a.kill("SIGSTOP")
    yield* eventually("A is stopped", Effect.sync(() => processState(a.pid) === "T"), 10_000, 10)
    // A finds its release as soon as it runs again.
    Fs.writeFileSync(releaseFile(env.dir, "A"), "")

    // B takes the run over once A's lease expired, replays what A journaled, and holds in `held`.
    const b = yield* worker("B", "wait")
    yield* b.waitFor("B holding (the run taken over)", holding)
    const takenOver = Option.getOrThrow(yield* env.store.get(runId))
    assert.strictEqual(takenOver.owner, "B")
    assert.strictEqual(processState(a.pid), "T", "A ran again before B took the run over")

    // A goes on, finishes `held`, and its write is refused.
    a.kill("SIGCONT")
    const refused = yield* a.waitFor("A's write of held", appendOf("held"))
    assert.strictEqual(refused.split(" ")[3], "LeaseLost", `A's write of held was not refused: ${refused}`)

    // B goes on and completes the run.
    Fs.writeFileSync(releaseFile(env.dir, "B"), "")
    const outcome = yield* env.engine.await(HoldFlow, runId)
    assert.strictEqual(outcome._tag, "Completed")
    if (outcome._tag === "Completed") {
      assert.deepStrictEqual(outcome.context, {
        input: { id: runId },
        first: "A",
        second: "A",
        held: "B",
        third: "B",
        fourth: "B"
      })
    }

    // The journal kept A's writes from before it lost the lease and none after.
    const loaded = Option.getOrThrow(yield* env.journal.load(runId))
    const journaled = Object.fromEntries(
      loaded.entries.filter((entry) => entry.kind === "step").map((entry) => [entry.path, JSON.parse(entry.value)])
    )
    assert.deepStrictEqual(journaled, { first: "A", second: "A", held: "B", third: "B", fourth: "B" })

    // A did execute `held` (its side effect is at least once), then nothing more: its run stopped
    // at the refused write. B replayed what A had journaled.
    const executions = readExecutions(env.dir)
    assert.deepStrictEqual(stepsBy(executions, "A"), ["first", "second", "held"])
    assert.deepStrictEqual(stepsBy(executions, "B"), holdSteps.slice(2))
    assert.deepStrictEqual(a.lines.filter((line) => line.startsWith("Append")), [
      `Append ${runId} first ok`,
      `Append ${runId} second ok`,
      `Append ${runId} held LeaseLost`
    ])
    // A lost one run, not its life: it is still up.
    assert.isUndefined(a.ended())
  }).pipe(Effect.scoped)

// -------------------------------------------------------------------------------------------

const gateInput = (runId: string) => ({ input: { id: runId }, runId, leaseDuration: "2 seconds" as const })

/** Two runs of one id from two processes, released together by `go`. */
const twoProcesses = (kind: BackendKind) =>
  Effect.gen(function*() {
    const env = yield* setup(kind)
    const runId = "gate-1"
    const runners = yield* Effect.forEach(["P", "Q"], (label) => {
      const args: RunnerArgs = {
        backend: forProcess(env.backend, label),
        runId,
        label,
        log: Path.join(env.dir, `${label}.log`),
        holdDir: env.dir,
        hold: "wait"
      }
      return spawnChild("runner", label, args)
    })
    yield* Effect.forEach(runners, (runner) => runner.waitFor("Ready", isReady))
    for (const runner of runners) runner.write("go")

    // One holds in its step; the other is refused without running it.
    const answered = (line: string) => line.startsWith("Refused ") || line === `Holding ${runId} only`
    const answers = yield* Effect.forEach(runners, (runner) => runner.waitFor("an answer", answered))
    const executor = runners[answers.findIndex((line) => line.startsWith("Holding"))]
    const refused = runners[answers.findIndex((line) => line.startsWith("Refused"))]
    assert.isDefined(executor, `neither run executed: ${answers.join("; ")}`)
    assert.isDefined(refused, `both runs executed the step: ${answers.join("; ")}`)
    assert.match(refused!.lines.find((line) => line.startsWith("Refused"))!, new RegExp(`^Refused RunBusy run:`))

    Fs.writeFileSync(releaseFile(env.dir, executor!.label), "")
    yield* executor!.waitFor("the outcome", (line) => line.startsWith("Outcome "))
    assert.include(executor!.lines, "Outcome Completed")
    yield* Effect.forEach(runners, (runner) => Effect.timeout(runner.exit, "30 seconds"))
    assert.deepStrictEqual(readExecutions(env.dir).map((execution) => execution.by), [executor!.label])
    const loaded = Option.getOrThrow(yield* env.journal.load(runId))
    assert.deepStrictEqual(loaded.entries.map((entry) => [entry.path, entry.value]), [[
      "only",
      JSON.stringify(executor!.label)
    ]])
  }).pipe(Effect.scoped)

/**
 * Two fibers of one process run one id at once. With `separateLayers`, each builds its own
 * journal layer (its own connection pool), as two requests that each provide the layer do.
 */
const oneProcess = <E extends { readonly _tag: string }>(
  journal: Layer.Layer<Journal.Journal, E>,
  separateLayers: boolean
) =>
  Effect.gen(function*() {
    const runId = "gate-1"
    const executed = yield* Ref.make<ReadonlyArray<string>>([])
    const held = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const sideEffects = (label: string) =>
      Layer.succeed(SideEffects, {
        record: () => Effect.as(Ref.update(executed, (labels) => [...labels, label]), label),
        hold: () => Effect.andThen(Deferred.succeed(held, undefined), Deferred.await(release))
      })
    const shared = yield* Layer.build(journal)
    const run = (label: string) =>
      Workflow.run(GateFlow, gateInput(runId)).pipe(
        Effect.provide(sideEffects(label)),
        separateLayers ? Effect.provide(journal) : Effect.provideContext(shared)
      )
    const first = yield* Effect.forkChild(run("first"))
    yield* Deferred.await(held)
    // Refused at once, or it executes: then it holds in the step until the timeout ends it.
    const second = yield* Effect.exit(Effect.timeout(run("second"), "20 seconds"))
    yield* Deferred.succeed(release, undefined)
    const firstExit = yield* Fiber.await(first)

    assert.deepStrictEqual(yield* Ref.get(executed), ["first"], "both runs executed the step")
    assert.isTrue(Exit.isSuccess(firstExit), `the first run failed: ${firstExit}`)
    assert.strictEqual(failure(second)._tag, "RunBusy")
  }).pipe(Effect.scoped)

describe("a worker SIGSTOPped past its lease while another takes the run over, then SIGCONTed", () => {
  for (const { kind, skip } of backendKinds) {
    it.live.skipIf(skip)(
      `${kind}: its write is refused (LeaseLost) and nothing it did after losing the lease is journaled`,
      () => stoppedPastItsLease(kind),
      120_000
    )
  }
})

describe("two Workflow.run calls of one run id at once: exactly one executes, the other gets RunBusy", () => {
  for (const { kind, skip } of backendKinds) {
    it.live.skipIf(skip)(`${kind}: in two processes`, () => twoProcesses(kind), 120_000)

    it.live.skipIf(skip)(
      `${kind}: in one process, one journal layer`,
      () =>
        Effect.flatMap(setup(kind), (env) => oneProcess(journalLayer(forProcess(env.backend, "one")), false)).pipe(
          Effect.scoped
        )
    )

    it.live.skipIf(skip)(
      `${kind}: in one process, a journal layer per call`,
      () =>
        Effect.flatMap(setup(kind), (env) => oneProcess(journalLayer(forProcess(env.backend, "one")), true)).pipe(
          Effect.scoped
        )
    )
  }

  it.live("memory: in one process", () => oneProcess(Journal.layerMemory, false))
})
