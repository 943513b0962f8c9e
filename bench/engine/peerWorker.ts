/**
 * A job-queue worker process of the engine benchmarks (graphile-worker or pg-boss), beside
 * `worker.ts` and `dbosWorker.ts` and driven the same way:
 *
 *   node --conditions=plait-source bench/engine/peerWorker.ts '<PeerWorkerArgs as JSON>'
 *
 * It starts the queue's worker on the schema `schema` (already installed by the bench) with
 * `concurrency` jobs at a time; the worker listens for new jobs (`LISTEN`) and polls. Then it
 * prints `ready`. Then, line by line on stdin:
 *
 * - `go`: restarts the counts (the bench's gate is the commit of the enqueued jobs, not this);
 * - `counts`: prints `counts <Counts as JSON>`: statements, CPU time, jobs executed and their
 *   checksum since `go` or the last `reset`;
 * - `reset`: restarts the counts, prints `reset`;
 * - `stop` (or the end of stdin): stops the worker and exits.
 *
 * A job is one step of a run: it adds its step index to the sum its payload carries and, unless
 * it is the run's last step, enqueues the next step with the new sum (graphile-worker's
 * `helpers.addJob`, pg-boss's `insert` of the whole batch's next steps); the queue then
 * completes the job. So a 10-step run is a chain of 10 jobs, each step's output durable in the
 * next job's row, as a plait step's is in its journal entry.
 *
 * Statements are counted by wrapping `query` of `pg`'s `Client`, the driver both queues run on:
 * every statement of every connection of the process, `BEGIN` and `COMMIT` included.
 */
import type { JobHelpers } from "graphile-worker"
import { countingWindow, runPeerProcess, say, serveCommands } from "./peerProcess.ts"
import { pgOf } from "./pgDriver.ts"
import { PEER_TASK, type PeerJob, type PeerWorkerArgs } from "./protocol.ts"

const args = JSON.parse(process.argv[2] ?? "") as PeerWorkerArgs
const isPgBoss = args.peer === "pg-boss, batch mode"

let jobs = 0
let checksum = 0
const window = countingWindow(pgOf(isPgBoss ? "pg-boss" : "graphile-worker"), {
  restart: () => {
    jobs = 0
    checksum = 0
  },
  counts: () => ({ jobs, checksum })
})

/** One step: the next job of the run, or `undefined` after its last step. */
const perform = (job: PeerJob): PeerJob | undefined => {
  jobs++
  const sum = job.sum + job.step
  if (job.step + 1 < args.steps) return { run: job.run, step: job.step + 1, sum }
  checksum += job.run + sum
  return undefined
}

/** Starts the queue's worker; resolves to its stop. */
const startGraphileWorker = async (): Promise<() => Promise<void>> => {
  const { Logger, run } = await import("graphile-worker")
  const batched = args.peer === "graphile-worker, batched"
  const runner = await run({
    connectionString: args.url,
    schema: args.schema,
    concurrency: args.concurrency,
    // Its default pool (10) is smaller than 16 jobs at once plus the LISTEN connection.
    maxPoolSize: args.concurrency + 2,
    noHandleSignals: true,
    logger: new Logger(() => () => {}),
    taskList: {
      [PEER_TASK]: async (payload: unknown, helpers: JobHelpers) => {
        const next = perform(payload as PeerJob)
        if (next !== undefined) await helpers.addJob(PEER_TASK, next)
      }
    },
    ...(batched
      ? { preset: { worker: { localQueue: { size: args.concurrency + 1 }, completeJobBatchDelay: 0 } } }
      : {})
  })
  return () => runner.stop()
}

const startPgBoss = async (): Promise<() => Promise<void>> => {
  const { PgBoss } = await import("pg-boss")
  const boss = new PgBoss({ connectionString: args.url, schema: args.schema, useListenNotify: true, migrate: false })
  boss.on("error", (error) => process.stderr.write(`pg-boss: ${String(error)}\n`))
  await boss.start()
  await boss.work<PeerJob>(
    PEER_TASK,
    { batchSize: args.concurrency, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
    async (batch) => {
      const next = batch.flatMap((job) => {
        const step = perform(job.data)
        return step === undefined ? [] : [{ data: step }]
      })
      if (next.length > 0) await boss.insert(PEER_TASK, next)
    }
  )
  return () => boss.stop({ graceful: true, timeout: 10_000 })
}

runPeerProcess(async () => {
  const stop = await (isPgBoss ? startPgBoss() : startGraphileWorker())
  say("ready")
  await serveCommands(window)
  await stop()
})
