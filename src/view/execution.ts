/**
 * Who executes a run, in words the CLI and the dashboard share: a run whose worker stopped
 * renewing its lease (it died, or hangs) still reads `running` in the store until another worker
 * takes it over, so the lease's end is what tells a live executor from a dead one.
 */
import type { Journal } from "../index.ts"
import { formatDuration, formatTime } from "./format.ts"

/** The run's lease ran out: nobody executes it, and the next worker to poll takes it over. */
export const leaseExpired = (run: Journal.RunInfo, now: number): boolean =>
  run.status === "running" && run.leaseExpiresAt !== undefined && run.leaseExpiresAt <= now

/** `on worker-1`, or what an expired lease means; undefined when no executor holds the run. */
export const executorText = (run: Journal.RunInfo, now: number): string | undefined => {
  if (run.owner === undefined) return undefined
  if (!leaseExpired(run, now)) return `now on ${run.owner}`
  return `last on ${run.owner}, whose lease ran out at ${formatTime(run.leaseExpiresAt)} (${
    formatDuration(now - run.leaseExpiresAt!)
  } ago): that worker stopped renewing it (it died or hangs); the next worker to poll takes the run over`
}
