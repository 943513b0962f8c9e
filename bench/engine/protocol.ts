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

/** What a worker did over a window: the statements it sent, by journal operation, and its CPU time. */
export interface Counts {
  readonly total: number
  readonly byOperation: Readonly<Record<string, number>>
  readonly elapsedMs: number
  /** The worker process's CPU time (user + system) over the window. */
  readonly cpuMs: number
}

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
