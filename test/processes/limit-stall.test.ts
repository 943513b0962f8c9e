/**
 * `limit: { key, max: 3 }` stays exact when a holder stalls, with real processes on a saturated
 * machine: three worker processes with 2 s leases execute 9 runs of one limited step (12 s each),
 * beside two CPU burners. One holder is stopped with SIGSTOP right as its step starts, and let go
 * on with SIGCONT well past its lease, once its slot went to another run.
 *
 * Every execution logs when it started, and when it ended (`call:end`) or was interrupted
 * (`call:stopped`), fsync'd, with the time. Once every run completed the test checks that:
 * - at no instant did more than 3 executions run. A stopped process runs nothing: an execution
 *   interrupted after the pause counts until the SIGSTOP, one that ran to its end counts whole;
 * - the stalled holder's slot was taken by another run while it was stopped (the test did test a
 *   reclaimed slot), and the stalled holder's step was stopped, not finished, once it ran again;
 * - every run completed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cpuBurners } from "../support/processes/engine/burners.ts"
import { type Execution, readExecutions } from "../support/processes/engine/effects.ts"
import { limitMax, LimitedFlow } from "../support/processes/engine/flows.ts"
import { eventually, isReady, processState } from "../support/processes/engine/processes.ts"
import {
  type BackendKind,
  backendKinds,
  setup,
  spawnWorker,
  untilAllCompleted
} from "../support/processes/engine/setup.ts"

const leaseMs = 2_000
const runCount = 9
/**
 * Well past the lease, and past the 5 s after which Postgres ends a session stopped inside a slot
 * transaction (the stopped holder's other runs may have been taking slots), so another run can
 * take the slot; well short of the step's 12 s, so the step is not over when its holder runs again.
 */
const stallMs = 7_000

interface Interval {
  readonly by: string
  readonly runId: string
  readonly start: number
  readonly end: number
  readonly ending: "end" | "stopped"
}

/** Each execution of the step, from its start to its end or interruption, as the logs show it. */
const intervalsOf = (executions: ReadonlyArray<Execution>): Array<Interval> => {
  const open = new Map<string, number>()
  const intervals: Array<Interval> = []
  for (const execution of executions) {
    const key = `${execution.by} ${execution.runId}`
    if (execution.path === "call") {
      open.set(key, execution.at)
      continue
    }
    const start = open.get(key)
    assert.isDefined(start, `${execution.path} of ${key} without a start`)
    open.delete(key)
    intervals.push({
      by: execution.by,
      runId: execution.runId,
      start: start!,
      end: execution.at,
      ending: execution.path === "call:end" ? "end" : "stopped"
    })
  }
  assert.deepStrictEqual([...open.keys()], [], "executions that neither ended nor were stopped")
  return intervals
}

/** The most executions running at one instant; an end at the instant of a start does not overlap it. */
const mostAtOnce = (intervals: ReadonlyArray<readonly [number, number]>) => {
  const events = intervals.flatMap(([start, end]) => [[start, 1], [end, -1]] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let running = 0
  let most = 0
  for (const [, delta] of events) most = Math.max(most, running += delta)
  return most
}

const stalledHolder = (kind: BackendKind) =>
  Effect.gen(function*() {
    const env = yield* setup(kind)
    yield* cpuBurners(2)
    const workers = yield* Effect.forEach(
      ["w1", "w2", "w3"],
      (label) => spawnWorker(env, label, { workflows: "limited", leaseMs, concurrency: 3, pollMs: 50, maxPollMs: 500 })
    )
    for (const worker of workers) yield* worker.waitFor("Ready", isReady)
    const runIds = Array.from({ length: runCount }, (_, n) => `limited-${n}`)
    yield* Effect.forEach(runIds, (runId) => env.engine.start(LimitedFlow, { input: { id: runId }, runId }))

    // The first holder to start its step is stopped right there.
    const victim = yield* Effect.raceAll(
      workers.map((worker) =>
        Effect.as(worker.waitFor("a limited step started", (line) => line.endsWith(" call"), 120_000), worker)
      )
    )
    victim.kill("SIGSTOP")
    yield* eventually("the holder is stopped", Effect.sync(() => processState(victim.pid) === "T"), 10_000, 5)
    const stoppedAt = Date.now()
    yield* Effect.sleep(stallMs)
    const continuedAt = Date.now()
    victim.kill("SIGCONT")
    yield* untilAllCompleted(env, runCount, 180_000)

    const intervals = intervalsOf(readExecutions(env.dir))
    const stalled = intervals.filter((interval) =>
      interval.by === victim.label && interval.start < stoppedAt && interval.end > continuedAt
    )
    assert.isAbove(stalled.length, 0, "no execution of the stopped worker spanned its stop")
    for (const interval of stalled) {
      assert.strictEqual(interval.ending, "stopped", `the stalled holder finished ${interval.runId} after its lease`)
    }
    const reclaimed = intervals.filter((interval) =>
      interval.by !== victim.label && interval.start > stoppedAt && interval.start < continuedAt
    )
    assert.isAbove(reclaimed.length, 0, "no run took a slot while its holder was stopped")

    // A stopped process runs nothing: an execution interrupted after the pause ran until the pause.
    const ran = intervals.map((interval) =>
      interval.ending === "stopped" && interval.by === victim.label && interval.start < stoppedAt &&
        interval.end > continuedAt
        ? [interval.start, stoppedAt] as const
        : [interval.start, interval.end] as const
    )
    const most = mostAtOnce(ran)
    console.log(`limit under a stall (${kind}): ${intervals.length} executions, at most ${most} at once`)
    assert.isAtMost(most, limitMax, `more than ${limitMax} limited steps ran at once`)
    assert.isAtLeast(most, 2, "the steps did not run concurrently")
  }).pipe(Effect.scoped)

describe("a limit holder SIGSTOPped past its 2 s lease beside two CPU burners", () => {
  for (const { kind, skip } of backendKinds) {
    it.live.skipIf(skip)(
      `${kind}: never more than max limited steps at once; the stalled holder's step is stopped`,
      () => stalledHolder(kind),
      240_000
    )
  }
})
