/**
 * Wake latency: from `engine.signal` to the start of the step after the signal, on Postgres,
 * with `NOTIFY` and with polling only.
 *
 * Each configuration gets fresh tables and one worker process. A sample: the bench starts a run
 * of `Wake`, waits until it is `waiting` at its signal (the worker released it), waits a random
 * 0 to `maxDelayMs` more (a signal comes whenever it comes, whatever the worker's idle back-off is
 * at), reads `process.hrtime.bigint()` and calls `engine.signal`; the worker reads the same
 * machine-wide monotonic clock when `after` starts. `pipelines` samples run at once per
 * configuration, and the configurations run side by side, so load falls on each alike.
 */
import { Effect } from "effect"
import { Engine } from "plait"
import { withWorkerProcess } from "./fixture.ts"
import { Wake } from "./workflows.ts"

export interface WakeConfig {
  readonly name: string
  readonly listen: boolean
  readonly pollInterval?: number | undefined
  readonly maxPollInterval?: number | undefined
  /** Runs in flight at once: with more than one the worker is rarely idle long enough to back off. */
  readonly pipelines: number
  /** The signal comes 0 to this many milliseconds after the run suspended. */
  readonly maxDelayMs: number
  readonly samples: { readonly full: number; readonly quick: number }
}

/**
 * Two patterns: 4 runs at a time, signalled within a second (a busy worker), and one run at a
 * time, signalled within 4 seconds (a quiet worker, whose idle poll has backed off by then).
 */
export const wakeConfigs: ReadonlyArray<WakeConfig> = [
  { name: "NOTIFY", listen: true, pipelines: 4, maxDelayMs: 1000, samples: { full: 100, quick: 20 } },
  {
    name: "polling only, every 200 ms",
    listen: false,
    maxPollInterval: 200,
    pipelines: 4,
    maxDelayMs: 1000,
    samples: { full: 100, quick: 20 }
  },
  { name: "NOTIFY", listen: true, pipelines: 1, maxDelayMs: 4000, samples: { full: 20, quick: 5 } },
  {
    name: "polling only, 200 ms backing off to 5 s (defaults)",
    listen: false,
    pipelines: 1,
    maxDelayMs: 4000,
    samples: { full: 20, quick: 5 }
  }
]

export interface WakeResult {
  readonly config: WakeConfig
  /** Milliseconds, in the order measured. */
  readonly samplesMs: ReadonlyArray<number>
}

export const measureWake = (options: {
  readonly url: string
  readonly config: WakeConfig
  readonly quick: boolean
}): Promise<WakeResult> => {
  const { config } = options
  const samples = config.samples[options.quick ? "quick" : "full"]
  const settings = {
    listen: config.listen,
    concurrency: 16,
    pollInterval: config.pollInterval,
    maxPollInterval: config.maxPollInterval
  }
  return withWorkerProcess(options.url, "wake", settings, async (runtime, worker) => {
    const woken = new Map<string, (ns: bigint) => void>()
    worker.onWoke((runId, ns) => woken.get(runId)?.(ns))
    const samplesMs: Array<number> = []
    const pipeline = async (lane: number) => {
      for (let i = lane; i < samples; i += config.pipelines) {
        const runId = `wake-${i}`
        const wokeAt = new Promise<bigint>((resolve) => woken.set(runId, resolve))
        await runtime.runPromise(Effect.gen(function*() {
          const engine = yield* Engine.Engine
          yield* engine.start(Wake, { input: i, runId })
          const suspended = yield* engine.await(Wake, runId)
          if (suspended._tag !== "Suspended") {
            return yield* Effect.die(new Error(`${runId} did not wait for its signal`))
          }
        }))
        await new Promise((resolve) => setTimeout(resolve, Math.random() * config.maxDelayMs))
        const signalledAt = process.hrtime.bigint()
        await runtime.runPromise(Effect.flatMap(Engine.Engine, (engine) => engine.signal(Wake, runId, "go", 1)))
        samplesMs.push(Number((await wokeAt) - signalledAt) / 1e6)
        woken.delete(runId)
        const outcome = await runtime.runPromise(Effect.flatMap(Engine.Engine, (engine) => engine.await(Wake, runId)))
        if (outcome._tag !== "Completed" || outcome.context.after !== i + 1) throw new Error(`${runId}: wrong outcome`)
      }
    }
    await Promise.all(Array.from({ length: config.pipelines }, (_, lane) => pipeline(lane)))
    return { config, samplesMs }
  })
}

/** The nearest-rank percentile `p` (0–100). */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!
}
