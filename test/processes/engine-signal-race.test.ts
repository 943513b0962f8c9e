/**
 * A signal raced against the suspension it must end, 1,000 times, across processes: two worker
 * processes execute runs of `SignalRaceFlow`, whose first step announces itself on stdout and
 * holds; the test relays each announcement to a separate signal-sending process, which lets the
 * run go on and, a random 0 to 20 ms later (every fourth run 50 to 500 ms), sends it its signal. Meanwhile the run finishes the
 * step and suspends to wait for `approval`. So each signal lands around the suspension: before
 * the run is released as waiting (the release must see that a signal arrived since the run was
 * claimed, and leave it due) or after (the delivery must wake it).
 *
 * No signal may be lost: every run completes with its signal's value, within a bound far beyond
 * what the runs need; a run left waiting with its signal stored fails the test, named.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { approvalFor, SignalRaceFlow } from "../support/processes/engine/flows.ts"
import { isReady } from "../support/processes/engine/processes.ts"
import {
  type BackendKind,
  backendKinds,
  setup,
  spawnSignaller,
  spawnWorker,
  untilAllCompleted
} from "../support/processes/engine/setup.ts"

const runCount = 1_000

const completionBoundMs = 240_000

/**
 * How long the signal sender waits between letting a run go on and sending its signal: most runs
 * up to 20 ms, so the signal lands while the run finishes its step and suspends; every fourth run
 * 50 to 500 ms, so that on a slow or loaded machine too some signals land after the run is released
 * as waiting and must wake it.
 */
const sendDelayMs = (n: number) => n % 4 === 3 ? 50 + Math.floor(Math.random() * 450) : Math.floor(Math.random() * 20)

const signalRace = (kind: BackendKind) =>
  Effect.gen(function*() {
    const env = yield* setup(kind)
    const signaller = yield* spawnSignaller(env, true)
    const workers = yield* Effect.forEach(["w1", "w2"], (label) =>
      spawnWorker(env, label, { leaseMs: 2_000, concurrency: 32, pollMs: 20, maxPollMs: 200, traceWrites: true }))
    for (const worker of workers) {
      yield* worker.waitFor("Ready", isReady)
      worker.onLine((line) => {
        const [event, runId, path] = line.split(" ")
        if (event === "SideEffect" && path === "armed") {
          signaller.write(`${SignalRaceFlow.name} ${runId} ${sendDelayMs(Number(runId!.slice("race-".length)))}`)
        }
      })
    }

    const runIds = Array.from({ length: runCount }, (_, n) =>
      `race-${n}`)
    yield* Effect.forEach(runIds, (runId) =>
      env.engine.start(SignalRaceFlow, { input: { id: runId }, runId }), {
      concurrency: 8
    })
    yield* untilAllCompleted(env, runCount, completionBoundMs)
    signaller.endInput()
    yield* signaller.waitFor("Done", (line) => line === "Done")
    assert.deepStrictEqual(signaller.lines.filter((line) => line.startsWith("SendFailed")), [])

    // When each run first suspended, from the workers' traces: `Release <runId> waiting <start> <end> ok`.
    const suspensions = new Map<string, { readonly start: number; readonly end: number }>()
    for (const line of workers.flatMap((worker) => worker.lines)) {
      const [event, runId, status, start, end, outcome] = line.split(" ")
      if (event === "Release" && status === "waiting" && outcome === "ok" && !suspensions.has(runId!)) {
        suspensions.set(runId!, { start: Number(start), end: Number(end) })
      }
    }
    let beforeRelease = 0
    let afterRelease = 0
    for (const runId of runIds) {
      const outcome = yield* env.engine.await(SignalRaceFlow, runId)
      assert.strictEqual(outcome._tag, "Completed")
      if (outcome._tag === "Completed") assert.strictEqual(outcome.context.done, approvalFor(runId).by)
      const detail = yield* env.engine.inspect(runId)
      const sentAt = detail.entries.find((entry) => entry.kind === "signal")!.finishedAt!
      const suspension = suspensions.get(runId)
      if (suspension === undefined || sentAt < suspension.start) beforeRelease++
      else if (sentAt > suspension.end) afterRelease++
    }
    console.log(
      `signal race ${kind}: ${beforeRelease} signals sent before their run's release started, ${afterRelease} after it ended, ` +
        `${runCount - beforeRelease - afterRelease} during`
    )
    // The signals straddle the suspension: the race was run, from both sides.
    assert.isAbove(beforeRelease, 0)
    assert.isAbove(afterRelease, 0)
  }).pipe(Effect.scoped)

describe("a signal raced against the run's suspension 1,000 times", () => {
  for (const { kind, skip } of backendKinds) {
    it.live.skipIf(skip)(`${kind}: no signal is lost`, () => signalRace(kind), completionBoundMs + 60_000)
  }
})
