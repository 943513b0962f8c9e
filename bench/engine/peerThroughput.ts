/**
 * Runs per second through a Postgres job queue (graphile-worker or pg-boss), on the same
 * Postgres as plait's workers and in the same shape as `throughput.ts`: `runs` runs of `steps`
 * trivial jobs each (a chain: each job enqueues the next, `peerWorker.ts`), executed by
 * `workers` processes at `concurrency` jobs each.
 *
 * One trial: a fresh schema, installed by the bench (graphile-worker's migrations; pg-boss's
 * schema and its queue, with `notify` on). The worker processes start and say `ready` (their
 * `LISTEN` up). The bench enqueues the first job of every run in one transaction of its own
 * (untimed), tells the workers `go`, starts the clock and commits: the commit makes every job
 * visible at once, and its `NOTIFY` wakes the workers, as DBOS's trial does. It then counts the
 * unfinished jobs every `OBSERVE_MS` until none is left (neither queue notifies a completion a
 * client could wait on): graphile-worker deletes a job when it completes, pg-boss marks it
 * `completed`. It checks every run's chain ran (the jobs executed and their checksum, reported
 * by the processes), stops the processes and drops the schema.
 */
import type { PgBoss } from "pg-boss"
import { type PgClient, pgOf } from "./pgDriver.ts"
import { spawnPeerWorker, type WorkerProcess } from "./processes.ts"
import { PEER_TASK, type PeerJob, type QueuePeer } from "./protocol.ts"
import { throughputOf, type ThroughputTrial } from "./throughput.ts"

/** How often the bench counts the unfinished jobs while it waits for the last one. */
const OBSERVE_MS = 5

let schemas = 0

/** What a trial does with one queue: install its schema, enqueue in a transaction, count what is left. */
interface Queue {
  readonly enqueue: (sql: PgClient, jobs: ReadonlyArray<PeerJob>) => Promise<void>
  /** Jobs not yet completed, and jobs that failed (any fails the trial). */
  readonly left: (sql: PgClient) => Promise<{ readonly pending: number; readonly failed: number }>
  readonly close: () => Promise<void>
}

const quoted = (schema: string) => `"${schema}"`

const graphileWorkerQueue = async (url: string, schema: string): Promise<Queue> => {
  const { Logger, runMigrations } = await import("graphile-worker")
  await runMigrations({ connectionString: url, schema, logger: new Logger(() => () => {}) })
  return {
    enqueue: async (sql, jobs) => {
      const specs = jobs.map((payload) => ({ identifier: PEER_TASK, payload }))
      await sql.query(
        `SELECT count(*) FROM ${quoted(schema)}.add_jobs(
           array(SELECT json_populate_recordset(NULL::${quoted(schema)}.job_spec, $1::json)))`,
        [JSON.stringify(specs)]
      )
    },
    left: async (sql) => {
      const { rows } = await sql.query(
        `SELECT count(*)::int AS pending, (count(*) FILTER (WHERE last_error IS NOT NULL))::int AS failed
         FROM ${quoted(schema)}._private_jobs`
      )
      return { pending: rows[0]!.pending as number, failed: rows[0]!.failed as number }
    },
    close: async () => {}
  }
}

const pgBossQueue = async (url: string, schema: string): Promise<Queue> => {
  const { PgBoss: Boss } = await import("pg-boss")
  // The bench's own instance installs the schema and enqueues; it runs no maintenance.
  const boss: PgBoss = new Boss({ connectionString: url, schema, supervise: false, schedule: false })
  boss.on("error", (error) => process.stderr.write(`pg-boss (bench): ${String(error)}\n`))
  await boss.start()
  await boss.createQueue(PEER_TASK, { notify: true })
  return {
    enqueue: async (sql, jobs) => {
      const db = {
        executeSql: (text: string, values?: Array<unknown>) =>
          sql.query(text, values).then(({ rows }) => ({ rows: [...rows] }))
      }
      await boss.insert(PEER_TASK, jobs.map((data) => ({ data })), { db })
    },
    left: async (sql) => {
      const { rows } = await sql.query(
        `SELECT (count(*) FILTER (WHERE state < 'completed'))::int AS pending,
                (count(*) FILTER (WHERE state IN ('retry', 'failed')))::int AS failed
         FROM ${quoted(schema)}.job`
      )
      return { pending: rows[0]!.pending as number, failed: rows[0]!.failed as number }
    },
    close: () => boss.stop({ graceful: false })
  }
}

export const peerThroughputTrial = async (options: {
  readonly url: string
  readonly peer: QueuePeer
  readonly steps: number
  readonly workers: number
  readonly runs: number
  readonly concurrency: number
}): Promise<ThroughputTrial> => {
  const isPgBoss = options.peer === "pg-boss, batch mode"
  const schema = `plait_bench_${isPgBoss ? "pgboss" : "gw"}${process.pid}_${schemas++}`
  const pg = pgOf(isPgBoss ? "pg-boss" : "graphile-worker")
  const sql = new pg.Client({ connectionString: options.url })
  await sql.connect()
  const processes: Array<WorkerProcess> = []
  let queue: Queue | undefined
  try {
    queue = await (isPgBoss ? pgBossQueue : graphileWorkerQueue)(options.url, schema)
    for (let i = 0; i < options.workers; i++) {
      processes.push(
        spawnPeerWorker({
          peer: options.peer,
          url: options.url,
          schema,
          concurrency: options.concurrency,
          steps: options.steps
        })
      )
    }
    await Promise.all(processes.map((worker) => worker.ready))

    const firstSteps = Array.from({ length: options.runs }, (_, run): PeerJob => ({ run, step: 0, sum: 0 }))
    await sql.query("BEGIN")
    await queue.enqueue(sql, firstSteps)
    for (const worker of processes) worker.send("go")
    const start = performance.now()
    await sql.query("COMMIT")
    while (true) {
      const left = await queue.left(sql)
      if (left.failed > 0) throw new Error(`${options.peer}: ${left.failed} job(s) failed`)
      if (left.pending === 0) break
      if (performance.now() - start > 5 * 60_000) {
        throw new Error(`${options.peer}: ${left.pending} job(s) not done in 5 minutes`)
      }
      await new Promise((resolve) => setTimeout(resolve, OBSERVE_MS))
    }
    const ms = performance.now() - start

    const counted = await Promise.all(processes.map((worker) => worker.counts()))
    const jobs = counted.reduce((total, counts) => total + (counts.jobs ?? 0), 0)
    const checksum = counted.reduce((total, counts) => total + (counts.checksum ?? 0), 0)
    const expected = (options.runs * (options.runs - 1)) / 2 + (options.runs * options.steps * (options.steps - 1)) / 2
    if (jobs !== options.runs * options.steps || checksum !== expected) {
      throw new Error(
        `${options.peer}: ${jobs} jobs (checksum ${checksum}), expected ${options.runs * options.steps} (${expected})`
      )
    }
    return throughputOf(options.runs, ms, counted)
  } finally {
    await Promise.all(processes.map((worker) => worker.stop()))
    await queue?.close()
    await sql.query("ROLLBACK") // a trial that failed while enqueueing; a no-op otherwise
    await sql.query(`DROP SCHEMA IF EXISTS ${quoted(schema)} CASCADE`)
    await sql.end()
  }
}
