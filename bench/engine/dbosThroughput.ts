/**
 * Runs per second through DBOS Transact's queue, on the same Postgres as plait's workers and in
 * the same shape as `throughput.ts`: `runs` workflows of `steps` no-op steps (DBOS's
 * `plait_bench_sequential`) on a `WorkflowQueue` (`workerConcurrency` per process), executed by
 * `workers` DBOS processes (`dbosWorker.ts`).
 *
 * One trial: a fresh system database schema. The first worker process launches DBOS (creating
 * the schema) and registers the queue; then the others launch; each one's dispatch loop polls
 * the queue, and it says `ready`. The bench enqueues the workflows with `DBOSClient.enqueueInTransaction`,
 * all in one transaction of its own (untimed), starts the clock and commits: the commit is the
 * `go`, every workflow becoming visible to the workers at once. It then reads the workflows'
 * statuses every `OBSERVE_MS` until all are `SUCCESS` (DBOS notifies no completion a client
 * could wait on), checks three results, stops the processes and drops the schema.
 */
import { DBOSClient } from "@dbos-inc/dbos-sdk"
import { SEQUENTIAL, type sequential } from "../workloads/dbosWorkflows.ts"
import { pg } from "./pgDriver.ts"
import { spawnDbosWorker, type WorkerProcess } from "./processes.ts"
import { DBOS_APP, DBOS_APP_VERSION, type DbosWorkerArgs } from "./protocol.ts"
import { throughputOf, type ThroughputTrial } from "./throughput.ts"

/** How often the bench reads the statuses while it waits for the last workflow. */
const OBSERVE_MS = 5
const QUEUE = "plait_bench_queue"
/** Statuses a workflow never leaves: any but `SUCCESS` fails the trial. */
const FAILED = ["ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]

let schemas = 0

export const dbosThroughputTrial = async (options: {
  readonly url: string
  readonly steps: number
  readonly workers: number
  readonly runs: number
  readonly concurrency: number
  readonly pollMs: number
}): Promise<ThroughputTrial> => {
  const schema = `plait_bench_dbosq${process.pid}_${schemas++}`
  const settings: Omit<DbosWorkerArgs, "executorID" | "setup"> = {
    url: options.url,
    schema,
    queue: QUEUE,
    concurrency: options.concurrency,
    pollMs: options.pollMs
  }
  const sql = new pg.Client({ connectionString: options.url })
  await sql.connect()
  const processes: Array<WorkerProcess> = []
  let client: DBOSClient | undefined
  try {
    // The first creates the schema and the queue, alone: DBOS's migrations are not for two at once.
    processes.push(spawnDbosWorker({ ...settings, executorID: "plait-bench-0", setup: true }))
    await processes[0]!.ready
    for (let i = 1; i < options.workers; i++) {
      processes.push(spawnDbosWorker({ ...settings, executorID: `plait-bench-${i}`, setup: false }))
    }
    await Promise.all(processes.map((worker) => worker.ready))

    client = await DBOSClient.create({
      systemDatabaseUrl: options.url,
      systemDatabaseSchemaName: schema,
      applicationName: DBOS_APP
    })
    const workflowIDs = Array.from({ length: options.runs }, (_, i) => `run-${i}`)
    // DBOS types the client as `pg`'s (`@types/pg`, which graphile-worker brings in); it is one.
    const transaction = sql as unknown as Parameters<DBOSClient["enqueueInTransaction"]>[0]
    await sql.query("BEGIN")
    for (const workflowID of workflowIDs) {
      await client.enqueueInTransaction<typeof sequential>(
        transaction,
        { queueName: QUEUE, workflowName: SEQUENTIAL, workflowID, appVersion: DBOS_APP_VERSION },
        options.steps
      )
    }
    for (const worker of processes) worker.send("go")
    const start = performance.now()
    await sql.query("COMMIT")
    while (true) {
      const { rows } = await sql.query(
        `SELECT status, count(*)::int AS n FROM "${schema}".workflow_status GROUP BY status`
      )
      const failed = rows.find((row) => FAILED.includes(row.status as string))
      if (failed !== undefined) throw new Error(`DBOS workflows ended ${failed.status}: ${JSON.stringify(rows)}`)
      if (rows.find((row) => row.status === "SUCCESS")?.n === options.runs) break
      if (performance.now() - start > 5 * 60_000) {
        throw new Error(`DBOS workflows not done in 5 minutes: ${JSON.stringify(rows)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, OBSERVE_MS))
    }
    const ms = performance.now() - start

    const counted = await Promise.all(processes.map((worker) => worker.counts()))
    const expected = (options.steps * (options.steps - 1)) / 2
    for (
      const workflowID of [workflowIDs[0]!, workflowIDs[workflowIDs.length >> 1]!, workflowIDs[workflowIDs.length - 1]!]
    ) {
      const result = await client.retrieveWorkflow<number>(workflowID).getResult()
      if (result !== expected) throw new Error(`DBOS workflow ${workflowID}: ${result}, not ${expected}`)
    }
    return throughputOf(options.runs, ms, counted)
  } finally {
    await Promise.all(processes.map((worker) => worker.stop()))
    await client?.destroy()
    await sql.query("ROLLBACK") // a trial that failed while enqueueing; a no-op otherwise
    await sql.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await sql.end()
  }
}
