/**
 * The engine section of `npm run bench` (`npm run bench -- --only engine`), on Postgres:
 *
 * - `engine-overhead-1`, `engine-overhead-200` (harness cases, `overhead.ts`): a run under a
 *   worker against the same run under `Workflow.run`;
 * - `engine-throughput` (`throughput.ts`, `dbosThroughput.ts`): runs per second through 1, 2 and
 *   4 worker processes, and the statements each run costs; beside them, DBOS Transact's queue
 *   through 1, 2 and 4 DBOS processes;
 * - `engine-peers` (`peers.ts`, `peerThroughput.ts`): runs per second through 1 and 2 worker
 *   processes beside the Postgres job queues (graphile-worker, pg-boss in batch mode), 5,000
 *   runs (jobs) a trial;
 * - `engine-wake` (`latency.ts`): wake latency from `engine.signal` to the next step, with
 *   `NOTIFY` and with polling only;
 * - `engine-idle` (`idle.ts`): statements per second an idle worker sends.
 */
import { formatRows, type Measurement, median, rotatingRounds } from "../harness.ts"
import { dbosThroughputTrial } from "./dbosThroughput.ts"
import { idleConfigs, type IdleResult, measureIdle } from "./idle.ts"
import { measureWake, percentile, type WakeConfig, wakeConfigs } from "./latency.ts"
import { enginePeers } from "./peers.ts"
import { operations } from "./protocol.ts"
import { type ThroughputTrial, throughputTrial } from "./throughput.ts"
import { OneStep, TenSteps } from "./workflows.ts"

const workerCounts = [1, 2, 4] as const
const shapes = [
  { workflow: OneStep, steps: 1, runs: { full: 500, quick: 100 } },
  { workflow: TenSteps, steps: 10, runs: { full: 200, quick: 40 } }
] as const
/** Runs each worker process executes at once: plait's `concurrency`, DBOS's `workerConcurrency`. */
const CONCURRENCY = 16
/**
 * DBOS's queue poll (`minPollingIntervalMs`; its default is 1 s, which caps a process at
 * `CONCURRENCY` workflows a second). 10 ms, as the journal bench's resume queue: at 1, 5, 10
 * and 50 ms one process ran 72–102 1-step runs/s here, no trend, so the poll is not the limit.
 */
const DBOS_POLL_MS = 10

const systems = ["plait", "DBOS"] as const
type System = (typeof systems)[number]

const throughput = (url: string): Measurement => ({
  name: "engine-throughput",
  description: `runs per second through 1, 2 and 4 worker processes (concurrency ${CONCURRENCY} each), a 1-step ` +
    `and a 10-step workflow: plait's workers, and DBOS Transact's queue (polled every ${DBOS_POLL_MS} ms)`,
  run: async ({ log, quick }) => {
    const rounds = quick ? 1 : 5
    const configs = systems.flatMap((system) =>
      shapes.flatMap((shape) => workerCounts.map((workers) => ({ ...shape, workers, system })))
    )
    const trials = await rotatingRounds(configs, rounds, async (config) => {
      const runs = config.runs[quick ? "quick" : "full"]
      const settings = { url, steps: config.steps, workers: config.workers, runs, concurrency: CONCURRENCY }
      const trial = config.system === "plait"
        ? await throughputTrial({ ...settings, workflow: config.workflow })
        : await dbosThroughputTrial({ ...settings, pollMs: DBOS_POLL_MS })
      log(
        `  ${config.system}, ${config.steps}-step × ${runs}, ${config.workers} worker(s): ${
          trial.runsPerSecond.toFixed(0)
        } runs/s`
      )
      return trial
    })
    const summary = configs.map((config, i) => {
      const runs = config.runs[quick ? "quick" : "full"]
      const perRun = (count: (trial: ThroughputTrial) => number) => median(trials[i]!.map(count)) / runs
      return {
        system: config.system,
        steps: config.steps,
        workers: config.workers,
        runs,
        runsPerSecond: median(trials[i]!.map((trial) => trial.runsPerSecond)),
        stepsPerSecond: median(trials[i]!.map((trial) => trial.runsPerSecond)) * config.steps,
        statementsPerRun: perRun((trial) => trial.statementsTotal),
        workerCpuMsPerRun: perRun((trial) => trial.workerCpuMs),
        perOperation: Object.fromEntries(
          operations.map((operation) => [operation, perRun((trial) => trial.statements[operation] ?? 0)])
        ),
        trials: trials[i]!
      }
    })
    type Row = (typeof summary)[number]
    const find = (system: System, steps: number, workers: number) =>
      summary.find((row) => row.system === system && row.steps === steps && row.workers === workers)!
    const shown = ["claim", "load", "append", "release", "nextDue", "heartbeat"] as const
    const columns = (row: Row) => [
      `${row.steps}-step`,
      String(row.workers),
      String(row.runs),
      row.runsPerSecond.toFixed(0),
      row.stepsPerSecond.toFixed(0),
      `${(row.runsPerSecond / find(row.system, row.steps, 1).runsPerSecond).toFixed(2)}×`,
      row.workerCpuMsPerRun.toFixed(2),
      row.statementsPerRun.toFixed(2)
    ]
    const header = [
      "workflow",
      "workers",
      "runs",
      "runs/s",
      "steps/s",
      "÷ 1 worker",
      "worker CPU ms/run",
      "statements/run"
    ]
    const plait = formatRows(
      [...header, ...shown.map((o) => `${o}/run`)],
      summary.filter((row) => row.system === "plait").map((row) => [
        ...columns(row),
        ...shown.map((operation) => row.perOperation[operation]!.toFixed(2))
      ]),
      1
    )
    const dbos = formatRows(header, summary.filter((row) => row.system === "DBOS").map(columns), 1)
    const versus = formatRows(
      ["workflow", "workers", "plait runs/s", "DBOS runs/s", "plait ÷ DBOS", "plait CPU ms/run", "DBOS CPU ms/run"],
      summary.filter((row) => row.system === "plait").map((row) => {
        const other = find("DBOS", row.steps, row.workers)
        return [
          `${row.steps}-step`,
          String(row.workers),
          row.runsPerSecond.toFixed(0),
          other.runsPerSecond.toFixed(0),
          `${(row.runsPerSecond / other.runsPerSecond).toFixed(2)}×`,
          row.workerCpuMsPerRun.toFixed(2),
          other.workerCpuMsPerRun.toFixed(2)
        ]
      }),
      1
    )
    return {
      table: [
        `medians over ${rounds} trial(s), plait and DBOS interleaved`,
        `plait's workers; statements counted by the workers' journals\n${plait}`,
        `DBOS Transact's queue (workerConcurrency ${CONCURRENCY}, polled every ${DBOS_POLL_MS} ms); ` +
        `statements counted at pg's Client.query in the workers, BEGIN and COMMIT included\n${dbos}`,
        `runs per second, plait ÷ DBOS (above 1×: plait completes more runs per second)\n${versus}`
      ].join("\n\n"),
      results: summary
    }
  }
})

const wake = (url: string): Measurement => ({
  name: "engine-wake",
  description: "wake latency from engine.signal to the start of the next step, with NOTIFY and with polling only",
  run: async ({ log, quick }) => {
    const results = await Promise.all(wakeConfigs.map((config) => measureWake({ url, config, quick })))
    const pattern = (config: WakeConfig) => `${config.pipelines} at a time, 0–${config.maxDelayMs / 1000} s`
    for (const result of results) {
      log(`  ${result.config.name}, ${pattern(result.config)}: p50 ${percentile(result.samplesMs, 50).toFixed(1)} ms`)
    }
    const table = formatRows(
      ["woken by", "runs, signal after suspension", "samples", "p50 ms", "p99 ms", "max ms", "p50 ÷ NOTIFY"],
      results.map((result) => {
        const p50 = percentile(result.samplesMs, 50)
        const notify = results.find((other) => other.config.listen && pattern(other.config) === pattern(result.config))
        return [
          result.config.name,
          pattern(result.config),
          String(result.samplesMs.length),
          p50.toFixed(1),
          percentile(result.samplesMs, 99).toFixed(1),
          Math.max(...result.samplesMs).toFixed(1),
          notify === undefined ? "" : `${(p50 / percentile(notify.samplesMs, 50)).toFixed(1)}×`
        ]
      }),
      2
    )
    return { table: `configurations side by side, one worker process each\n${table}`, results }
  }
})

const idle = (url: string): Measurement => ({
  name: "engine-idle",
  description: "statements per second an idle worker sends, once its poll has backed off",
  background: true,
  run: async ({ quick }) => {
    const warmupMs = 10_000
    const windowMs = quick ? 15_000 : 60_000
    const results: ReadonlyArray<IdleResult> = await Promise.all(
      idleConfigs.map((config) => measureIdle({ url, config, warmupMs, windowMs }))
    )
    const table = formatRows(
      ["worker", "window s", "statements", "per second", "claim", "nextDue", "dueSchedules"],
      results.map((result) => [
        result.config.name,
        (result.counts.elapsedMs / 1000).toFixed(1),
        String(result.counts.total),
        result.perSecond.toFixed(2),
        String(result.counts.byOperation.claim ?? 0),
        String(result.counts.byOperation.nextDue ?? 0),
        String(result.counts.byOperation.dueSchedules ?? 0)
      ]),
      1
    )
    return {
      table: `counted from ${warmupMs / 1000} s after the worker started, over ${windowMs / 1000} s\n${table}`,
      results
    }
  }
})

export const engineMeasurements = (url: string): ReadonlyArray<Measurement> => [
  idle(url),
  throughput(url),
  enginePeers(url),
  wake(url)
]
