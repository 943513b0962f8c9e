/**
 * `limit: { key, max: 3 }` stays exact when a holder stalls, with real processes on a saturated
 * machine: three worker processes with 2 s leases execute 9 runs of one limited step (12 s each),
 * beside two CPU burners. One holder, whose run no other worker can take over, is stopped with
 * SIGSTOP right as its step starts, and let go on with SIGCONT well past its lease, once its slot
 * went to another run: nothing but the holder's own lease checks stops it from going on.
 *
 * Every execution logs when it started, and when it ended (`call:end`) or was interrupted
 * (`call:stopped`), fsync'd, with the time. Once every run completed the test checks that:
 * - at no instant did more than 3 executions run. A stopped process runs nothing: an execution
 *   interrupted after the pause counts until the SIGSTOP, one that ran to its end counts whole;
 * - the stalled holder's slot was taken by another run while it was stopped (3 others ran at
 *   once then: the test did test a reclaimed slot), and the stalled holder's step was stopped, not
 *   finished, once it ran again;
 * - every run completed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cpuBurners } from "../support/processes/engine/burners.ts"
import { type Execution, readExecutions } from "../support/processes/engine/effects.ts"
import { LimitedAloneFlow, LimitedFlow, limitMax } from "../support/processes/engine/flows.ts"
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

/** The most of `intervals` running at one instant within `[from, to]`. */
const mostAtOnceWithin = (intervals: ReadonlyArray<readonly [number, number]>, from: number, to: number) =>
  mostAtOnce(
    intervals.filter(([start, end]) => start < to && end > from).map(([start, end]) =>
      [Math.max(start, from), Math.min(end, to)] as const
    )
  )

const stalledHolder = (kind: BackendKind) =>
  Effect.gen(function*() {
    const env = yield* setup(kind)
    yield* cpuBurners(2)
    const options = { leaseMs, pollMs: 50, maxPollMs: 500 }
    // The holder to be stopped executes a workflow of its own: nobody else can take its run over,
    // so only the holder itself can go on with it once it runs again.
    const holder = yield* spawnWorker(env, "holder", { ...options, workflows: "limitedAlone", concurrency: 1 })
    const others = yield* Effect.forEach(
      ["w1", "w2"],
      (label) => spawnWorker(env, label, { ...options, workflows: "limited", concurrency: 3 })
    )
    for (const worker of [holder, ...others]) yield* worker.waitFor("Ready", isReady)

    yield* env.engine.start(LimitedAloneFlow, { input: { id: "alone" }, runId: "alone" })
    yield* holder.waitFor("its limited step started", (line) => line === "SideEffect alone call", 120_000)
    holder.kill("SIGSTOP")
    yield* eventually("the holder is stopped", Effect.sync(() => processState(holder.pid) === "T"), 10_000, 5)
    const stoppedAt = Date.now()
    // Two runs take the free slots at once; the others wait for one, and one of them gets the
    // stopped holder's once its lease expired.
    const runIds = Array.from({ length: runCount - 1 }, (_, n) => `limited-${n}`)
    yield* Effect.forEach(runIds, (runId) => env.engine.start(LimitedFlow, { input: { id: runId }, runId }))
    yield* Effect.sleep(stallMs)
    const continuedAt = Date.now()
    holder.kill("SIGCONT")
    yield* untilAllCompleted(env, runCount, 180_000)

    const intervals = intervalsOf(readExecutions(env.dir))
    const stalled = intervals.filter((interval) => interval.by === "holder" && interval.start < stoppedAt)
    assert.strictEqual(stalled.length, 1, "the holder's execution that spanned its stop")
    assert.strictEqual(stalled[0]!.ending, "stopped", "the stalled holder finished its step after its lease")
    const othersRan = intervals.filter((interval) => interval.by !== "holder")
      .map((interval) => [interval.start, interval.end] as const)
    assert.strictEqual(
      mostAtOnceWithin(othersRan, stoppedAt, continuedAt),
      limitMax,
      "the stopped holder's slot was not taken while it was stopped"
    )

    // A stopped process runs nothing: the execution interrupted after the pause ran until the pause.
    const ran = intervals.map((interval) =>
      interval === stalled[0] ? [interval.start, stoppedAt] as const : [interval.start, interval.end] as const
    )
    const most = mostAtOnce(ran)
    console.log(`limit under a stall (${kind}): ${intervals.length} executions, at most ${most} at once`)
    assert.isAtMost(most, limitMax, `more than ${limitMax} limited steps ran at once`)
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
