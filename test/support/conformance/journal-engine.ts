/**
 * The conformance tests of the store operations children, concurrency limits, cancellation
 * cascades and schedules need; registered by `journalConformance` for every backend.
 */
import { assert, type Vitest } from "@effect/vitest"
import { Deferred, Effect, Exit, Option, Schema, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { Engine, Journal, RunStore, Worker, Workflow } from "plait"
import { expectLeaseLost, leased, loadSome, newRun } from "./helpers.ts"

const runOf = (runId: string) => Effect.map(loadSome(runId), (loaded) => loaded.run)

/** A child record of `parent`'s workflow family. */
const childOf = (parent: Journal.RunRecord, path: string): Journal.RunRecord =>
  newRun({ runId: `${parent.runId}/${path}`, workflow: `${parent.workflow}_child` })

/** A parent leased to this executor, and a child it started at `path`. */
const parentWithChild = (path = "a") =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const parent = newRun()
    const parentLease = yield* leased(parent)
    const child = childOf(parent, path)
    yield* journal.startChild(parentLease, child)
    return { parent, parentLease, child }
  })

export const engineConformance = (it: Vitest.MethodsNonLive<Journal.Journal | RunStore.RunStore>): void => {
  // --- children ------------------------------------------------------------------------------

  it.effect("startChild creates the child once, queued and naming its parent, only under the parent's lease", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const parent = newRun()
      const stale = yield* leased(parent, "executor-a", -1)
      const lease = yield* leased(parent, "executor-b")
      const child = childOf(parent, "region")
      yield* expectLeaseLost(stale, journal.startChild(stale, child))
      assert.isTrue(Option.isNone(yield* journal.load(child.runId)), "a stale parent creates nothing")

      const first = yield* journal.startChild(lease, child)
      assert.isTrue(first.created)
      assert.strictEqual(first.run.status, "queued")
      assert.strictEqual(first.run.parentRunId, parent.runId)
      assert.isDefined(first.run.dueAt)
      const second = yield* journal.startChild(lease, { ...child, input: "{}" })
      assert.isFalse(second.created)
      assert.strictEqual(second.run.input, child.input)
    }))

  it.effect("list finds a run's children by their parent, and only them", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const store = yield* RunStore.RunStore
      const { child, parent, parentLease } = yield* parentWithChild("region")
      const second = childOf(parent, "lines[3]/restock")
      yield* journal.startChild(parentLease, second)
      const other = yield* parentWithChild("region")
      const children = yield* store.list({ parentRunId: parent.runId })
      assert.deepStrictEqual(children.runs.map((run) => run.runId).sort(), [child.runId, second.runId].sort())
      assert.deepStrictEqual((yield* store.list({ parentRunId: other.parent.runId })).runs.map((run) => run.runId), [
        other.child.runId
      ])
      assert.deepStrictEqual((yield* store.list({ parentRunId: child.runId })).runs, [])
    }))

  it.effect("a child's release as finished wakes its waiting parent; an unfinished release does not", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const { child, parent, parentLease } = yield* parentWithChild("region")
      yield* journal.release(parentLease, { status: "waiting", waitingFor: ["region"], wakeupsSeen: 0 })
      assert.isUndefined((yield* runOf(parent.runId)).dueAt)

      const childLease = yield* leased(child)
      yield* journal.release(childLease, { status: "sleeping", wakeAt: Date.now() - 1, wakeupsSeen: 0 })
      assert.isUndefined((yield* runOf(parent.runId)).dueAt, "a suspended child wakes nobody")
      yield* journal.release(yield* leased(child), { status: "completed" })
      const woken = yield* runOf(parent.runId)
      assert.strictEqual(woken.wakeups, 1)
      assert.strictEqual(woken.status, "waiting")
      assert.isDefined(woken.dueAt, "the parent is due")
    }))

  it.effect("a child that ends while its parent runs makes the parent's suspension due at once", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const { child, parent, parentLease } = yield* parentWithChild("region")
      const seen = (yield* runOf(parent.runId)).wakeups
      yield* journal.release(yield* leased(child), { status: "failed", error: "boom" })
      yield* journal.release(parentLease, { status: "waiting", waitingFor: ["region"], wakeupsSeen: seen })
      assert.isDefined((yield* runOf(parent.runId)).dueAt, "the child's end between load and suspension is not lost")
    }))

  it.effect("cancel reaches every unfinished descendant: unowned ones end, owned ones are flagged", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const store = yield* RunStore.RunStore
      const { child, parent, parentLease } = yield* parentWithChild()
      const childLease = yield* leased(child)
      const grandchild = childOf(child, "b")
      yield* journal.startChild(childLease, grandchild)
      const done = childOf(parent, "done")
      yield* journal.startChild(parentLease, done)
      yield* journal.release(yield* leased(done), { status: "completed" })
      yield* journal.release(parentLease, { status: "waiting", waitingFor: ["a"], wakeupsSeen: 0 })

      const cancelled = Option.getOrThrow(yield* store.cancel(parent.runId, "rollback"))
      assert.strictEqual(cancelled.status, "cancelled")
      const flagged = yield* runOf(child.runId)
      assert.strictEqual(flagged.status, "running")
      assert.isTrue(flagged.cancelRequested)
      assert.strictEqual(flagged.error, "rollback")
      assert.strictEqual((yield* runOf(grandchild.runId)).status, "cancelled")
      assert.strictEqual((yield* runOf(done.runId)).status, "completed", "a finished child stays as it is")
      assert.isTrue(Option.isNone(yield* store.cancel(`missing-${randomUUID()}`, "none")))
    }))

  it.effect("cancelling a child nobody executes wakes its waiting parent", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const store = yield* RunStore.RunStore
      const { child, parent, parentLease } = yield* parentWithChild()
      yield* journal.release(parentLease, { status: "waiting", waitingFor: ["a"], wakeupsSeen: 0 })
      yield* store.cancel(child.runId, "not needed")
      const woken = yield* runOf(parent.runId)
      assert.strictEqual(woken.wakeups, 1)
      assert.isDefined(woken.dueAt)
    }))

  it.effect("cancelling an unowned run with steps to compensate flags it and makes it due", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const store = yield* RunStore.RunStore
      const run = newRun()
      const lease = yield* leased(run)
      yield* journal.append(lease, [
        { path: "charge", kind: "step", seq: 0, value: "\"ch_1\"" },
        { path: "charge", kind: "compensable", seq: 0, value: "0" }
      ])
      yield* journal.release(lease, { status: "sleeping", wakeAt: Date.now() + 3_600_000, wakeupsSeen: 0 })
      const flagged = Option.getOrThrow(yield* store.cancel(run.runId, "refund it"))
      assert.strictEqual(flagged.status, "queued")
      assert.isTrue(flagged.cancelRequested)
      assert.isDefined(flagged.dueAt)
      assert.isAtMost(flagged.dueAt!, Date.now() + 1_000)
      assert.strictEqual(flagged.error, "refund it")
    }))

  it.effect("an unfinished release of a run whose cancellation came too late takes the status asked for then", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const store = yield* RunStore.RunStore
      const plain = newRun()
      const plainLease = yield* leased(plain)
      yield* store.cancel(plain.runId, "stop")
      yield* journal.release(plainLease, { status: "queued", ifCancelRequested: "cancelled" })
      const ended = yield* runOf(plain.runId)
      assert.strictEqual(ended.status, "cancelled")
      assert.strictEqual(ended.error, "stop")
      assert.isUndefined(ended.dueAt)

      const saga = newRun()
      const sagaLease = yield* leased(saga)
      yield* store.cancel(saga.runId, "undo")
      yield* journal.release(sagaLease, {
        status: "waiting",
        waitingFor: ["x"],
        wakeupsSeen: 0,
        ifCancelRequested: "queued"
      })
      const queued = yield* runOf(saga.runId)
      assert.strictEqual(queued.status, "queued")
      assert.isDefined(queued.dueAt)
      assert.strictEqual(queued.error, "undo")

      const untouched = newRun()
      const untouchedLease = yield* leased(untouched)
      yield* journal.release(untouchedLease, { status: "queued", ifCancelRequested: "cancelled" })
      assert.strictEqual(
        (yield* runOf(untouched.runId)).status,
        "queued",
        "without a cancellation the status is as asked"
      )
    }))

  it.effect("resume queues a failed run's failed descendants again", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const store = yield* RunStore.RunStore
      const { child, parent, parentLease } = yield* parentWithChild()
      yield* journal.release(yield* leased(child), { status: "failed", error: "down" })
      yield* journal.release(parentLease, { status: "failed", error: "child down" })
      const resumed = Option.getOrThrow(yield* store.resume(parent.runId))
      assert.strictEqual(resumed.status, "queued")
      const requeued = yield* runOf(child.runId)
      assert.strictEqual(requeued.status, "queued")
      assert.isUndefined(requeued.error)
    }))

  // --- concurrency slots ---------------------------------------------------------------------

  it.effect("slots: at most max holders of a key; a waiter is woken when one is given back", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const key = `key-${randomUUID()}`
      const request = (path: string) => ({ key, max: 2, path })
      const waiter = newRun()
      const [a, b, c] = yield* Effect.all([leased(newRun()), leased(newRun()), leased(waiter)])
      assert.deepStrictEqual(yield* journal.acquireSlot(a!, request("call")), { acquired: true })
      assert.deepStrictEqual(
        yield* journal.acquireSlot(a!, request("call")),
        { acquired: true },
        "taking it again is idempotent"
      )
      assert.deepStrictEqual(yield* journal.acquireSlot(b!, request("call")), { acquired: true })
      const full = yield* journal.acquireSlot(c!, request("call"))
      assert.isFalse(full.acquired)
      const expiries = yield* Effect.all([runOf(a!.runId), runOf(b!.runId)])
      assert.strictEqual(
        (full as { readonly retryAt: number | undefined }).retryAt,
        Math.min(...expiries.map((run) => run.leaseExpiresAt!))
      )
      assert.deepStrictEqual(yield* journal.acquireSlot(b!, { key: `${key}-other`, max: 1, path: "call" }), {
        acquired: true
      })

      yield* journal.release(c!, { status: "waiting", waitingFor: ["call"], wakeupsSeen: 0 })
      assert.isUndefined((yield* runOf(c!.runId)).dueAt)
      yield* journal.releaseSlot(a!, request("call"))
      const woken = yield* runOf(c!.runId)
      assert.strictEqual(woken.wakeups, 1)
      assert.isDefined(woken.dueAt, "the waiter is due")
      assert.deepStrictEqual(yield* journal.acquireSlot(yield* leased(waiter), request("call")), { acquired: true })
    }))

  it.effect("slots: a holder whose lease expired or was released holds its slot no more", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const key = `key-${randomUUID()}`
      const request = { key, max: 1, path: "call" }
      const dead = yield* leased(newRun(), "dead-worker", -1)
      assert.deepStrictEqual(yield* journal.acquireSlot(dead, request), { acquired: true })
      const live = yield* leased(newRun())
      assert.deepStrictEqual(
        yield* journal.acquireSlot(live, request),
        { acquired: true },
        "the expired lease's slot is free"
      )
      const done = newRun()
      const doneLease = yield* leased(done)
      assert.isFalse((yield* journal.acquireSlot(doneLease, request)).acquired)
      yield* journal.release(live, { status: "completed" })
      assert.deepStrictEqual(
        yield* journal.acquireSlot(doneLease, request),
        { acquired: true },
        "a finished run holds nothing"
      )
      const takenOver = newRun()
      const stale = yield* leased(takenOver, "dead-worker", -1)
      yield* leased(takenOver, "executor-b")
      yield* expectLeaseLost(stale, journal.acquireSlot(stale, { key: `${key}-x`, max: 5, path: "call" }))
    }))

  it.effect("slots: reclaiming an expired holder's slot fences the holder: its writes, heartbeat and release are refused", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const store = yield* RunStore.RunStore
      const key = `key-${randomUUID()}`
      const request = { key, max: 1, path: "call" }
      const workflow = `fenced_${randomUUID().slice(0, 8)}`
      const stalledRun = newRun({ workflow })
      // Its lease expired while it held the slot, and nobody claimed the run yet.
      const stalled = yield* leased(stalledRun, "stalled-worker", -1)
      assert.deepStrictEqual(yield* journal.acquireSlot(stalled, request), { acquired: true })
      const next = yield* leased(newRun())
      assert.deepStrictEqual(yield* journal.acquireSlot(next, request), { acquired: true })
      yield* expectLeaseLost(stalled, journal.append(stalled, [{ path: "call", kind: "step", seq: 0, value: "1" }]))
      const [state] = yield* journal.heartbeat("stalled-worker", [stalled], 60_000)
      assert.isFalse(state!.held, "the stalled holder's lease was renewed")
      yield* expectLeaseLost(stalled, journal.release(stalled, { status: "completed" }))
      assert.deepStrictEqual((yield* loadSome(stalledRun.runId)).entries, [])
      // The run itself is anybody's to claim.
      const claimed = yield* store.claim({
        owner: "worker-2",
        leaseMs: 60_000,
        limit: 10,
        workflows: [{ name: workflow, fingerprint: stalledRun.fingerprint }]
      })
      assert.deepStrictEqual(claimed.map((c) => c.run.runId), [stalledRun.runId])
    }))

  it.effect("slots: a freed slot wakes one waiter, the first in claim order (priority, then age)", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const key = `key-${randomUUID()}`
      const request = { key, max: 1, path: "call" }
      const holder = yield* leased(newRun())
      assert.deepStrictEqual(yield* journal.acquireSlot(holder, request), { acquired: true })
      const waiters = [newRun(), newRun(), newRun({ priority: 5 })]
      for (const waiter of waiters) {
        const lease = yield* leased(waiter)
        assert.isFalse((yield* journal.acquireSlot(lease, request)).acquired)
        yield* journal.release(lease, { status: "waiting", waitingFor: ["call"], wakeupsSeen: 0 })
      }
      const dueOnes = Effect.map(
        Effect.forEach(waiters, (waiter) => runOf(waiter.runId)),
        (runs) => runs.filter((run) => run.dueAt !== undefined).map((run) => run.runId)
      )
      yield* journal.releaseSlot(holder, request)
      assert.deepStrictEqual(yield* dueOnes, [waiters[2]!.runId], "not exactly the first waiter was woken")
      const second = yield* leased(waiters[2]!)
      assert.deepStrictEqual(yield* journal.acquireSlot(second, request), { acquired: true })
      yield* journal.releaseSlot(second, request)
      assert.deepStrictEqual(yield* dueOnes, [waiters[0]!.runId, waiters[2]!.runId])
    }))

  it.effect("slots: many requests at once take exactly max slots", () =>
    Effect.gen(function*() {
      const journal = yield* Journal.Journal
      const key = `key-${randomUUID()}`
      const leases = yield* Effect.forEach(Array.from({ length: 12 }), () => leased(newRun()))
      const claims = yield* Effect.forEach(
        leases,
        (lease) => journal.acquireSlot(lease, { key, max: 3, path: "call" }),
        {
          concurrency: "unbounded"
        }
      )
      assert.strictEqual(claims.filter((claim) => claim.acquired).length, 3)
    }))

  // --- resume --------------------------------------------------------------------------------

  it.effect("resume cuts a sleeping run's sleep short, journaled: an executor that takes it over later does not sleep again", () =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const store = yield* RunStore.RunStore
      const held = yield* Deferred.make<void>()
      const letGo = yield* Deferred.make<void>()
      let ran = 0
      const Nap = Workflow.make(`nap_${randomUUID().slice(0, 8)}`, { input: Schema.Number }).pipe(
        Workflow.sleep("nap", "1 day"),
        Workflow.step("after", { success: Schema.Number }, (ctx) =>
          Effect.gen(function*() {
            ran++
            yield* Deferred.succeed(held, undefined)
            yield* Deferred.await(letGo)
            return ctx.input
          }))
      )
      const runId = `nap-${randomUUID()}`
      const worker = (scope: Scope.Scope) =>
        Worker.make({ workflows: [Nap], pollInterval: "20 millis", maxPollInterval: "100 millis" }).pipe(
          Scope.provide(scope)
        )
      const first = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(first, Exit.void))
      yield* worker(first)
      yield* engine.start(Nap, { input: 5, runId })
      while (Option.getOrThrow(yield* store.get(runId)).status !== "sleeping") yield* Effect.sleep("10 millis")

      yield* engine.resume(runId)
      yield* Deferred.await(held).pipe(Effect.timeout("20 seconds"))
      const entries = Option.getOrThrow(yield* Journal.Journal.use((journal) => journal.load(runId))).entries
      assert.isTrue(entries.some((entry) => entry.kind === "resumed" && entry.path === ""), "no resumed entry")
      // The run is taken over before its next step is journaled: it replays the sleep.
      yield* Scope.close(first, Exit.void)
      yield* Deferred.succeed(letGo, undefined)
      const second = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(second, Exit.void))
      yield* worker(second)
      const outcome = yield* engine.await(Nap, runId).pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(outcome._tag, "Completed")
      assert.strictEqual(ran, 2)
    }).pipe(Effect.scoped, Effect.provide(Engine.layer)))

  // --- schedules -----------------------------------------------------------------------------

  it.effect("schedules are saved (replacing by id), listed, found due and removed", () =>
    Effect.gen(function*() {
      const store = yield* RunStore.RunStore
      const workflow = `report_${randomUUID().slice(0, 8)}`
      const record = (id: string, nextAt: number): RunStore.ScheduleRecord => ({
        id,
        workflow,
        input: "{\"kind\":\"daily\"}",
        cron: "0 3 * * *",
        timezone: undefined,
        missed: "skip",
        nextAt
      })
      const past = Date.now() - 60_000
      const future = Date.now() + 3_600_000
      const saved = yield* store.saveSchedule(record(`${workflow}-a`, past))
      assert.strictEqual(saved.nextAt, past)
      assert.isUndefined(saved.lastRunId)
      yield* store.saveSchedule({ ...record(`${workflow}-b`, future), timezone: "Europe/Paris", missed: "catchUp" })
      const replaced = yield* store.saveSchedule({ ...record(`${workflow}-a`, past), cron: "0 4 * * *" })
      assert.strictEqual(replaced.cron, "0 4 * * *")
      const listed = yield* store.listSchedules({ workflow })
      assert.deepStrictEqual(listed.map((s) => [s.id, s.timezone, s.missed]), [
        [`${workflow}-a`, undefined, "skip"],
        [`${workflow}-b`, "Europe/Paris", "catchUp"]
      ])
      const due = yield* store.dueSchedules([workflow])
      assert.deepStrictEqual(due.due.map((s) => s.id), [`${workflow}-a`])
      assert.strictEqual(due.nextAt, future)
      assert.isAtLeast(due.now, past)
      assert.deepStrictEqual((yield* store.dueSchedules([`${workflow}-none`])).due, [])
      assert.isTrue(yield* store.removeSchedule(`${workflow}-a`))
      assert.isFalse(yield* store.removeSchedule(`${workflow}-a`))
      assert.lengthOf(yield* store.listSchedules({ workflow }), 1)
    }))

  it.effect("fireSchedule moves the schedule on and creates the tick's run once, only from the tick it expects", () =>
    Effect.gen(function*() {
      const store = yield* RunStore.RunStore
      const workflow = `report_${randomUUID().slice(0, 8)}`
      const id = `${workflow}-nightly`
      yield* store.saveSchedule({
        id,
        workflow,
        input: "{}",
        cron: "* * * * *",
        timezone: undefined,
        missed: "skip",
        nextAt: 1_000
      })
      const run: Journal.RunRecord = { runId: `${id}@tick-1`, workflow, fingerprint: "[]", input: "{}" }
      const firing: RunStore.Firing = { id, expectedNextAt: 1_000, nextAt: 2_000, tickAt: 1_000, run }
      const fired = yield* Effect.all([store.fireSchedule(firing), store.fireSchedule(firing)], {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual([...fired].sort(), [false, true], "one of two workers fires the tick")
      const [schedule] = yield* store.listSchedules({ workflow })
      assert.strictEqual(schedule!.nextAt, 2_000)
      assert.strictEqual(schedule!.lastTickAt, 1_000)
      assert.strictEqual(schedule!.lastRunId, run.runId)
      const created = Option.getOrThrow(yield* store.get(run.runId))
      assert.strictEqual(created.status, "queued")
      assert.isDefined(created.dueAt)

      // A skipped tick moves the schedule on without a run; the last run stays.
      assert.isTrue(
        yield* store.fireSchedule({ id, expectedNextAt: 2_000, nextAt: 3_000, tickAt: undefined, run: undefined })
      )
      const [moved] = yield* store.listSchedules({ workflow })
      assert.strictEqual(moved!.nextAt, 3_000)
      assert.strictEqual(moved!.lastRunId, run.runId)
      assert.isFalse(yield* store.fireSchedule({ ...firing, id: `${workflow}-missing` }))
    }))
}
