/**
 * Workers killed for real, over and over, while they execute 300 runs of `ChaosFlow` (parallel,
 * forEach, race, branch, a durable sleep and a signal): worker processes share one database
 * (Postgres, or one SQLite file), a separate process sends the signals at random moments, before
 * or after each run reaches its wait, and a killer SIGKILLs a random worker about every second
 * and starts a fresh one. Leases are short, so runs of a killed worker are taken over quickly.
 * The signals go out in waves, one per kill, so the killer is at work until the last runs end.
 *
 * Every worker process logs each step execution (fsync'd, before the step goes on) with the time
 * it started. Once every run has completed the test checks that:
 * - every run completed with the context an uncrashed run of the same input and signal has
 *   (computed in this process, on the memory backend);
 * - no step whose completion was journaled ran again: no execution of a step started after the
 *   journaled one finished (the journal records when that was). An executor whose heartbeats
 *   come late on a loaded machine starts no step past its lease's local deadline, so this holds
 *   with CPU burners beside the workers too;
 * - every step execution the logs show belongs to a journaled step, and the journaled execution
 *   is among them; the others were cut short by a kill, and some were (the kills did land
 *   mid-step, and runs were taken over);
 * - every signal was delivered once and reached its run (its value is in the context);
 * - no run was left behind: the test fails, listing the stragglers, if any run is not completed
 *   within a generous bound long after leases expire.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option } from "effect"
import { Engine, Journal, Worker } from "plait"
import { type Execution, readExecutions } from "../support/processes/engine/effects.ts"
import { makeFleet } from "../support/processes/engine/fleet.ts"
import { approvalFor, ChaosFlow, chaosInput, SideEffects } from "../support/processes/engine/flows.ts"
import { eventually } from "../support/processes/engine/processes.ts"
import {
  type BackendKind,
  backendKinds,
  setup,
  spawnSignaller,
  spawnWorker,
  untilAllCompleted
} from "../support/processes/engine/setup.ts"

const runCount = 300

/**
 * Signals go out in this many waves, each spread at random over `waveSpreadMs`: some reach their
 * run before it waits for them, some after.
 */
const signalWaves = 12
const waveSpreadMs = 1_000

const leaseMs = 2_000

/** Far beyond what the runs need even on a loaded machine: reaching it means runs are stuck. */
const completionBoundMs = 240_000

const runIds = Array.from({ length: runCount }, (_, n) => `chaos-${n}`)

/** The contexts of uncrashed runs: every run executed once, in this process, on the memory backend. */
const referenceContexts = Effect.gen(function*() {
  const engine = yield* Engine.Engine
  yield* Worker.make({ workflows: [ChaosFlow], concurrency: runCount, pollInterval: 10 })
  yield* Effect.forEach(runIds, (runId, n) => engine.start(ChaosFlow, { input: chaosInput(runId, n), runId }))
  yield* Effect.forEach(runIds, (runId) => engine.signal(ChaosFlow, runId, "approval", approvalFor(runId)))
  const outcomes = yield* Effect.forEach(runIds, (runId) => engine.await(ChaosFlow, runId), {
    concurrency: "unbounded"
  })
  return new Map(outcomes.map((outcome) => {
    if (outcome._tag !== "Completed") throw new Error(`the reference run ${outcome.runId} is ${outcome._tag}`)
    return [outcome.runId, outcome.context as unknown]
  }))
}).pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(
    Layer.provideMerge(Engine.layer, Journal.layerMemory),
    Layer.succeed(SideEffects, { record: () => Effect.succeed("reference"), hold: () => Effect.void })
  ))
)

const keyOf = (runId: string, path: string) => `${runId} ${path}`

const chaos = (kind: BackendKind, workers: number) =>
  Effect.gen(function*() {
    const reference = yield* referenceContexts
    const env = yield* setup(kind)
    yield* Effect.forEach(runIds, (runId, n) => env.engine.start(ChaosFlow, { input: chaosInput(runId, n), runId }), {
      concurrency: 8
    })

    const fleet = yield* makeFleet(workers, (label) => spawnWorker(env, label, { leaseMs }))
    const signaller = yield* spawnSignaller(env)

    // The signals go out in waves, one after each kill: no run can complete before the killer
    // has been through the fleet many times, however fast the runs or slow the restarts are.
    const killer = yield* Effect.forkChild(fleet.killer)
    const sendWaves = Effect.gen(function*() {
      for (let wave = 0; wave < signalWaves; wave++) {
        yield* eventually(`kill ${wave}`, Effect.sync(() => fleet.kills() >= wave), completionBoundMs)
        for (const runId of runIds.filter((_, n) => n % signalWaves === wave)) {
          signaller.write(`${ChaosFlow.name} ${runId} ${Math.floor(Math.random() * waveSpreadMs)}`)
        }
      }
      signaller.endInput()
    })
    yield* Effect.andThen(sendWaves, untilAllCompleted(env, runCount, completionBoundMs)).pipe(
      Effect.raceFirst(Effect.flatMap(Fiber.join(killer), () => Effect.never)),
      Effect.catch((error) =>
        Effect.fail(new Error(`${error instanceof Error ? error.message : String(error)}\n\n${fleet.describe()}`))
      )
    )
    yield* Fiber.interrupt(killer)
    yield* signaller.waitFor("Done", (line) => line === "Done")

    // Signals: each sent once, none refused, none failed.
    const sent = signaller.lines.filter((line) => line.startsWith("Sent "))
    assert.deepStrictEqual(signaller.lines.filter((line) => line.startsWith("SendFailed")), [])
    assert.deepStrictEqual(sent.map((line) => line.split(" ")[1]).sort(), [...runIds].sort())

    // Contexts: those of uncrashed runs, signal values included.
    for (const runId of runIds) {
      const outcome = yield* env.engine.await(ChaosFlow, runId)
      assert.strictEqual(outcome._tag, "Completed")
      if (outcome._tag === "Completed") {
        assert.deepStrictEqual(outcome.context, reference.get(runId), `run ${runId} ended with another context`)
      }
    }

    // Executions against the journal.
    const executions = new Map<string, Array<Execution>>()
    for (const execution of readExecutions(env.dir)) {
      const key = keyOf(execution.runId, execution.path)
      executions.set(key, [...(executions.get(key) ?? []), execution])
    }
    let journaledSteps = 0
    let cutShort = 0
    for (const runId of runIds) {
      const loaded = Option.getOrThrow(yield* env.journal.load(runId))
      for (const entry of loaded.entries) {
        if (entry.kind !== "step") continue
        journaledSteps++
        const ran = executions.get(keyOf(runId, entry.path)) ?? []
        executions.delete(keyOf(runId, entry.path))
        const where = `${entry.path} of ${runId} (journaled from ${entry.startedAt} to ${entry.finishedAt})`
        assert.isTrue(
          ran.some((execution) => execution.at >= entry.startedAt! && execution.at <= entry.finishedAt!),
          `${where}: no log shows the execution it was journaled from: ${JSON.stringify(ran)}`
        )
        for (const execution of ran) {
          assert.isAtMost(execution.at, entry.finishedAt!, `${where}: ${execution.by} ran it again at ${execution.at}`)
        }
        cutShort += ran.length - 1
      }
    }
    assert.deepStrictEqual([...executions.keys()], [], "steps ran that no run journaled")
    // Kills landed while steps were in flight: some executions were cut short and done again.
    assert.isAbove(cutShort, 0, "no kill cut a step short: the test did not test takeovers")
    console.log(
      `chaos ${kind}: ${runCount} runs, ${journaledSteps} steps, ${fleet.kills()} workers killed, ` +
        `${cutShort} executions cut short and redone`
    )
  }).pipe(Effect.scoped)

describe("worker processes SIGKILLed at random while they execute 300 runs", () => {
  const [pg, sqlite] = backendKinds
  it.live.skipIf(pg!.skip)(
    "Postgres, 4 workers: every run completes as if uncrashed, no journaled step reruns, no signal is lost",
    () => chaos("pg", 4),
    completionBoundMs + 60_000
  )

  it.live(
    "SQLite, 3 workers on one file: every run completes as if uncrashed, no journaled step reruns, no signal is lost",
    () => chaos(sqlite!.kind, 3),
    completionBoundMs + 60_000
  )
})
