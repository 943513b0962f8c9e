/**
 * `engine-peers`: plait's workers beside the Postgres job queues, on the same Postgres, in one
 * run: graphile-worker (its defaults, and its batching options), and pg-boss in batch mode.
 * 5,000 1-step runs against 5,000 trivial jobs, and 1,000 10-step runs against 1,000 chains of
 * 10 jobs (each job enqueues the next with the running sum, `peerWorker.ts`); 1 and 2 worker
 * processes, 16 runs (jobs) at a time each; three rounds, every configuration once per round in
 * an order that rotates; medians. Per configuration: runs per second, worker CPU per run (the
 * processes' CPU time ÷ runs), statements per run (every statement the worker processes send,
 * `BEGIN` and `COMMIT` included: plait's counted by its journal, the queues' at `pg`'s
 * `Client.query`), and the 1-minute load average when each trial started.
 */
import * as os from "node:os"
import { formatRows, type Measurement, median, rotatingRounds } from "../harness.ts"
import { peerThroughputTrial } from "./peerThroughput.ts"
import { type QueuePeer, queuePeers } from "./protocol.ts"
import { type ThroughputTrial, throughputTrial } from "./throughput.ts"
import { OneStep, TenSteps } from "./workflows.ts"

const CONCURRENCY = 16
const shapes = [
  { workflow: OneStep, steps: 1, runs: { full: 5_000, quick: 500 } },
  { workflow: TenSteps, steps: 10, runs: { full: 1_000, quick: 100 } }
] as const
const processCounts = [1, 2] as const

type System = "plait" | QueuePeer
const systems: ReadonlyArray<System> = ["plait", ...queuePeers]

/** What completing a step (a job) commits, in each system: the row under each table. */
export const commitMeaning: Readonly<Record<System, string>> = {
  plait: "the step's output appended to the run's journal in one Postgres transaction (fsync'd at commit); " +
    "the run's release in another; claims take up to the free slots at once",
  "graphile-worker": "the job's row deleted by complete_job in one transaction (fsync'd at commit); " +
    "each job fetched by a get_job of its own; the next step's job added by add_job first",
  "graphile-worker, batched": "as graphile-worker, but up to 17 jobs fetched (locked) by one statement into a " +
    "local queue, and completions that arrive together deleted by one statement",
  "pg-boss, batch mode": "a batch's jobs (up to 16) marked completed by one UPDATE when the handler resolves; " +
    "fetched 16 at a time by one statement; the next steps inserted by one statement per batch"
}

interface TrialSample extends ThroughputTrial {
  /** The 1-minute load average when the trial started. */
  readonly load: number
}

export const enginePeers = (url: string): Measurement => ({
  name: "engine-peers",
  description: `runs per second through 1 and 2 worker processes (concurrency ${CONCURRENCY} each), 1-step ` +
    `and 10-step: plait's workers, graphile-worker (defaults, and batched) and pg-boss in batch mode`,
  run: async ({ log, quick }) => {
    const rounds = quick ? 1 : 3
    const configs = systems.flatMap((system) =>
      shapes.flatMap((shape) => processCounts.map((workers) => ({ ...shape, workers, system })))
    )
    const trials = await rotatingRounds(configs, rounds, async (config): Promise<TrialSample> => {
      const runs = config.runs[quick ? "quick" : "full"]
      const settings = { url, steps: config.steps, workers: config.workers, runs, concurrency: CONCURRENCY }
      const load = os.loadavg()[0]!
      const trial = config.system === "plait"
        ? await throughputTrial({ ...settings, workflow: config.workflow })
        : await peerThroughputTrial({ ...settings, peer: config.system })
      const requeued = trial.requeued === undefined ? "" : `, ${trial.requeued} run(s) requeued`
      log(
        `  ${config.system}, ${config.steps}-step × ${runs}, ${config.workers} process(es): ${
          trial.runsPerSecond.toFixed(0)
        } runs/s (load ${load.toFixed(1)}${requeued})`
      )
      return { ...trial, load }
    })
    const summary = configs.map((config, i) => {
      const runs = config.runs[quick ? "quick" : "full"]
      const of = (measure: (trial: TrialSample) => number) => trials[i]!.map(measure)
      return {
        system: config.system,
        steps: config.steps,
        workers: config.workers,
        runs,
        runsPerSecond: median(of((trial) => trial.runsPerSecond)),
        runsPerSecondRange: [Math.min(...of((t) => t.runsPerSecond)), Math.max(...of((t) => t.runsPerSecond))],
        workerCpuMsPerRun: median(of((trial) => trial.workerCpuMs)) / runs,
        statementsPerRun: median(of((trial) => trial.statementsTotal)) / runs,
        load: median(of((trial) => trial.load)),
        trials: trials[i]!
      }
    })
    type Row = (typeof summary)[number]
    const find = (system: System, steps: number, workers: number) =>
      summary.find((row) => row.system === system && row.steps === steps && row.workers === workers)!
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`
    const table = formatRows(
      [
        "workflow",
        "processes",
        "system",
        "runs/s",
        "range",
        "steps/s",
        "worker CPU ms/run",
        "statements/run",
        "statements/step",
        "load",
        "plait ÷ this, runs/s",
        "plait ÷ this, CPU/run"
      ],
      summary.map((row: Row) => {
        const plait = find("plait", row.steps, row.workers)
        return [
          `${row.steps}-step`,
          String(row.workers),
          row.system,
          row.runsPerSecond.toFixed(0),
          row.runsPerSecondRange.map((rate) => rate.toFixed(0)).join("–"),
          (row.runsPerSecond * row.steps).toFixed(0),
          row.workerCpuMsPerRun.toFixed(3),
          row.statementsPerRun.toFixed(2),
          (row.statementsPerRun / row.steps).toFixed(2),
          row.load.toFixed(1),
          row.system === "plait" ? "" : ratio(plait.runsPerSecond, row.runsPerSecond),
          row.system === "plait" ? "" : ratio(plait.workerCpuMsPerRun, row.workerCpuMsPerRun)
        ]
      }).sort((a, b) => a[0]!.localeCompare(b[0]!, "en", { numeric: true }) || a[1]!.localeCompare(b[1]!)),
      3
    )
    const meanings = systems.map((system) => `  ${system}: ${commitMeaning[system]}`).join("\n")
    return {
      table: [
        `medians over ${rounds} round(s), every configuration once per round, rotating; load: the 1-minute ` +
        `load average at each trial's start (median), on ${os.cpus().length} cores`,
        table,
        `plait ÷ this, runs/s: above 1× plait completes more runs per second; CPU/run: above 1× plait spends more`,
        `what completing a step (job) commits:\n${meanings}`
      ].join("\n\n"),
      results: { concurrency: CONCURRENCY, commitMeaning, summary }
    }
  }
})
