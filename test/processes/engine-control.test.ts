/**
 * Controlling runs that worker processes execute, from the test's own process.
 *
 * - Cancel: a running run's fiber is interrupted in its worker (its step's finalizer runs), its
 *   status becomes `cancelled`, and running it again fails with `RunCancelled`; a sleeping and a
 *   waiting run, which nobody executes, are cancelled at once and never run again.
 * - Deploys: workers holding the old and the new definition of one workflow share the database;
 *   each claims only the runs stored with its own definition's fingerprint.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Journal, type RunStatus, Workflow } from "plait"
import { readExecutions } from "../support/processes/engine/effects.ts"
import {
  approvalFor,
  CancelFlow,
  type CancelInput,
  SideEffects,
  VersionedV1,
  VersionedV2,
  type WorkflowSet
} from "../support/processes/engine/flows.ts"
import { eventually, isReady } from "../support/processes/engine/processes.ts"
import {
  type BackendKind,
  backendKinds,
  type Setup,
  setup,
  spawnWorker,
  untilAllCompleted
} from "../support/processes/engine/setup.ts"
import { failure } from "../support/runs.ts"

const startWorker = (env: Setup, label: string, workflows: WorkflowSet) =>
  Effect.gen(function*() {
    const worker = yield* spawnWorker(env, label, { workflows, concurrency: 8 })
    yield* worker.waitFor("Ready", isReady)
    return worker
  })

const statusOf = (env: Setup, runId: string) => Effect.map(env.store.get(runId), (run) => Option.getOrThrow(run).status)

const hasStatus = (env: Setup, runId: string, status: RunStatus.RunStatus) =>
  Effect.map(statusOf(env, runId), (current) => current === status)

/** Runs `runId` again from this process, with `Workflow.run`. */
const runAgain = (env: Setup, runId: string, mode: typeof CancelInput.Type["mode"]) =>
  Workflow.run(CancelFlow, { input: { id: runId, mode }, runId }).pipe(
    Effect.provideService(Journal.Journal, env.journal),
    Effect.provideService(SideEffects, { record: () => Effect.die("nothing may execute"), hold: () => Effect.void }),
    Effect.exit
  )

const executedPaths = (env: Setup, runId: string) =>
  readExecutions(env.dir).filter((execution) => execution.runId === runId).map((execution) => execution.path)

const cancelEach = (kind: BackendKind) =>
  Effect.gen(function*() {
    const env = yield* setup(kind)
    const worker = yield* startWorker(env, "w1", "current")

    // Running: the worker interrupts the run's fiber, whose step's finalizer runs.
    const running = "cancel-block"
    yield* env.engine.start(CancelFlow, { input: { id: running, mode: "block" }, runId: running })
    yield* worker.waitFor("the blocked step", (line) => line === `SideEffect ${running} mode/block/blocked`)
    const requested = yield* env.engine.cancel(running, { reason: "duplicate order" })
    assert.isTrue(requested.cancelRequested)
    yield* eventually(`${running} becomes cancelled`, hasStatus(env, running, "cancelled"), 30_000)
    yield* worker.waitFor("the finalizer", (line) => line === `SideEffect ${running} mode/block/blocked:finalizer`)
    const cancelled = Option.getOrThrow(yield* env.store.get(running))
    assert.strictEqual(cancelled.error, "duplicate order")
    assert.isUndefined(cancelled.owner)
    assert.strictEqual(failure(yield* runAgain(env, running, "block"))._tag, "RunCancelled")
    assert.strictEqual(failure(yield* Effect.exit(env.engine.await(CancelFlow, running)))._tag, "RunCancelled")

    // Sleeping and waiting: nobody executes them, so they are cancelled at once.
    const sleeping = "cancel-sleep"
    const waiting = "cancel-wait"
    yield* env.engine.start(CancelFlow, { input: { id: sleeping, mode: "sleep" }, runId: sleeping })
    yield* env.engine.start(CancelFlow, { input: { id: waiting, mode: "wait" }, runId: waiting })
    yield* eventually(`${sleeping} sleeps`, hasStatus(env, sleeping, "sleeping"), 30_000)
    yield* eventually(`${waiting} waits`, hasStatus(env, waiting, "waiting"), 30_000)
    for (const runId of [sleeping, waiting]) {
      const run = yield* env.engine.cancel(runId)
      assert.strictEqual(run.status, "cancelled", `${runId} was not cancelled at once`)
      assert.isUndefined(run.dueAt, `${runId} is still due at some time`)
    }
    // A signal for the cancelled run does not bring it back.
    yield* Effect.ignore(env.engine.signal(CancelFlow, waiting, "mode/wait/approval", approvalFor(waiting)))
    const afterSignal = Option.getOrThrow(yield* env.store.get(waiting))
    assert.strictEqual(afterSignal.status, "cancelled")
    assert.isUndefined(afterSignal.dueAt)
    assert.strictEqual(failure(yield* runAgain(env, sleeping, "sleep"))._tag, "RunCancelled")
    assert.strictEqual(failure(yield* runAgain(env, waiting, "wait"))._tag, "RunCancelled")

    assert.deepStrictEqual(executedPaths(env, running), ["mode/block/blocked", "mode/block/blocked:finalizer"])
    assert.deepStrictEqual(executedPaths(env, sleeping), ["mode/sleep/dozing"])
    assert.deepStrictEqual(executedPaths(env, waiting), ["mode/wait/asking"])
    // The worker lost three runs, not its life.
    assert.isUndefined(worker.ended())
  }).pipe(Effect.scoped)

const oldAndNewDefinitions = (kind: BackendKind) =>
  Effect.gen(function*() {
    const env = yield* setup(kind)
    const ids = (prefix: string, from: number) => Array.from({ length: 10 }, (_, i) => `${prefix}-${from + i}`)
    const startAll = <Ctx>(
      runIds: ReadonlyArray<string>,
      version: Workflow.Workflow<{ readonly id: string }, Ctx, never, SideEffects>
    ) => Effect.forEach(runIds, (runId) => env.engine.start(version, { input: { id: runId }, runId }))
    const completed = (runIds: ReadonlyArray<string>) =>
      Effect.map(Effect.forEach(runIds, (runId) => statusOf(env, runId)), (statuses) =>
        statuses.every((s) => s === "completed"))

    // Only a worker with the new definition is up: it executes the new runs, though the old
    // ones were due first, and leaves the old ones queued.
    yield* startWorker(env, "new", "v2")
    const oldRuns = ids("old", 0)
    const newRuns = ids("new", 0)
    yield* startAll(oldRuns, VersionedV1)
    yield* startAll(newRuns, VersionedV2)
    yield* eventually("the new runs complete", completed(newRuns), 60_000)
    for (const runId of oldRuns) {
      const run = Option.getOrThrow(yield* env.store.get(runId))
      assert.strictEqual(run.status, "queued", `${runId} was claimed by the new worker`)
      assert.strictEqual(run.executions, 0)
    }

    // Side by side: a worker with the old definition joins, and more runs of both arrive.
    yield* startWorker(env, "old", "v1")
    const moreOld = ids("old", 10)
    const moreNew = ids("new", 10)
    yield* startAll(moreOld, VersionedV1)
    yield* startAll(moreNew, VersionedV2)
    yield* untilAllCompleted(env, 40, 60_000)

    const executors = new Map<string, Set<string>>()
    for (const execution of readExecutions(env.dir)) {
      executors.set(execution.runId, (executors.get(execution.runId) ?? new Set()).add(execution.by))
    }
    for (const runId of [...oldRuns, ...moreOld]) {
      assert.deepStrictEqual([...executors.get(runId) ?? []], ["old"], `${runId} (old definition)`)
      const outcome = yield* env.engine.await(VersionedV1, runId)
      assert.deepStrictEqual(outcome._tag === "Completed" ? outcome.context : outcome, {
        input: { id: runId },
        a: "old",
        b: "old"
      })
    }
    for (const runId of [...newRuns, ...moreNew]) {
      assert.deepStrictEqual([...executors.get(runId) ?? []], ["new"], `${runId} (new definition)`)
      const outcome = yield* env.engine.await(VersionedV2, runId)
      assert.deepStrictEqual(outcome._tag === "Completed" ? outcome.context : outcome, {
        input: { id: runId },
        a: "new",
        b: "new",
        c: "new"
      })
    }
  }).pipe(Effect.scoped)

describe("cancelling runs a worker process executes", () => {
  for (const { kind, skip } of backendKinds) {
    it.live.skipIf(skip)(
      `${kind}: a running run is interrupted (finalizers run) and cancelled; a sleeping and a waiting run at once`,
      () => cancelEach(kind),
      120_000
    )
  }
})

describe("old and new definitions side by side", () => {
  for (const { kind, skip } of backendKinds) {
    it.live.skipIf(skip)(
      `${kind}: each worker claims only runs of its own definition's fingerprint`,
      () => oldAndNewDefinitions(kind),
      120_000
    )
  }
})
