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

/** What a worker did over a window: the statements it sent, by journal operation, and its CPU time. */
export interface Counts {
  readonly total: number
  readonly byOperation: Readonly<Record<string, number>>
  readonly elapsedMs: number
  /** The worker process's CPU time (user + system) over the window. */
  readonly cpuMs: number
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
  "counts"
]
