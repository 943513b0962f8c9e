/**
 * What the bench and its worker processes (`worker.ts`) say to each other: the worker's
 * settings, and the statement counts it reports.
 */
import type { SqlJournal } from "plait"

export interface WorkerArgs {
  readonly url: string
  readonly tablePrefix: string
  /** `false`: no `LISTEN`, the worker learns of new work by polling only. */
  readonly listen: boolean
  readonly concurrency: number
  /** Milliseconds; the worker's defaults when absent. */
  readonly pollInterval?: number | undefined
  readonly maxPollInterval?: number | undefined
}

/** A DBOS worker process's settings (`dbosWorker.ts`). */
export interface DbosWorkerArgs {
  readonly url: string
  /** DBOS's system database: a schema of the bench's database. */
  readonly schema: string
  readonly queue: string
  /** The queue's `workerConcurrency`: workflows this process runs at once. */
  readonly concurrency: number
  /** The queue's `minPollingIntervalMs`: how often this process polls it for work. */
  readonly pollMs: number
  /** DBOS's `executorID`, distinct per process. */
  readonly executorID: string
  /** `true` for a trial's first process: it creates the schema and registers the queue first. */
  readonly setup: boolean
}

/**
 * The job queues measured beside plait's workers (`peerWorker.ts`):
 *
 * - `graphile-worker`: its defaults (each job fetched with `get_job`, completed with `complete_job`);
 * - `graphile-worker, batched`: its batching options, a local queue of `concurrency + 1` jobs
 *   fetched in one statement and completions batched (`completeJobBatchDelay: 0`);
 * - `pg-boss, batch mode`: `work` with `batchSize: concurrency`, the handler taking the whole
 *   batch, which pg-boss completes in one statement.
 */
export const queuePeers = ["graphile-worker", "graphile-worker, batched", "pg-boss, batch mode"] as const
export type QueuePeer = (typeof queuePeers)[number]

/** A job-queue worker process's settings (`peerWorker.ts`). */
export interface PeerWorkerArgs {
  readonly peer: QueuePeer
  readonly url: string
  /** The queue's tables: a schema of the bench's database, fresh per trial. */
  readonly schema: string
  /** Jobs this process runs at once. */
  readonly concurrency: number
  /** Jobs in one run's chain: each job but the last enqueues the next. */
  readonly steps: number
}

/** The task (graphile-worker) or queue (pg-boss) name of the bench's jobs. */
export const PEER_TASK = "plait_bench_step"

/** A job's payload: the run it belongs to, its step in the run's chain, the sum of the steps before it. */
export interface PeerJob {
  readonly run: number
  readonly step: number
  readonly sum: number
}

/** What a worker did over a window: the statements it sent, by journal operation, and its CPU time. */
export interface Counts {
  readonly total: number
  readonly byOperation: Readonly<Record<string, number>>
  readonly elapsedMs: number
  /** The worker process's CPU time (user + system) over the window. */
  readonly cpuMs: number
  /** A job-queue worker's jobs executed, and the sum of `run + sum` over the last jobs of runs. */
  readonly jobs?: number | undefined
  readonly checksum?: number | undefined
}

/** The DBOS application of the bench's DBOS processes: it owns the queue and the enqueued workflows. */
export const DBOS_APP = "plait-bench-queue"

/** The application version every DBOS process of the bench runs and every workflow is enqueued for. */
export const DBOS_APP_VERSION = "plait-bench"

export const operations: ReadonlyArray<SqlJournal.Operation> = [
  "claim",
  "nextDue",
  "load",
  "append",
  "heartbeat",
  "release",
  "acquire",
  "get",
  "create",
  "deliver",
  "cancel",
  "resume",
  "list",
  "counts",
  "dueSchedules"
]
