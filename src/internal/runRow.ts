/**
 * Rules about a run's row shared by every backend: which statuses are final, and where a run
 * stands once its executor releases it.
 */
import type { Release, RunStatus } from "../Journal.ts"

export const runStatuses: ReadonlyArray<RunStatus> = [
  "queued",
  "running",
  "sleeping",
  "waiting",
  "completed",
  "failed",
  "cancelled"
]

/** A status this version knows: anything else in a run row is corrupt. */
export const isRunStatus = (status: unknown): status is RunStatus =>
  typeof status === "string" && (runStatuses as ReadonlyArray<string>).includes(status)

/** Nothing will execute the run again: acquiring it replays (completed) or refuses (cancelled). */
export const isFinal = (status: RunStatus): boolean => status === "completed" || status === "cancelled"

/** The run ended, for good or until someone drives a failed run again. */
export const isDone = (status: RunStatus): boolean => isFinal(status) || status === "failed"

/**
 * Where a released run stands: its status, its wake time, and when it is claimable again. A
 * waiting run that received a wake-up since its executor loaded it is due at once.
 */
export const dueAfterRelease = (
  release: Release,
  wakeups: number,
  now: number
): { readonly status: RunStatus; readonly wakeAt: number | undefined; readonly dueAt: number | undefined } => {
  switch (release.status) {
    case "queued":
      return { status: "queued", wakeAt: undefined, dueAt: now }
    case "sleeping":
    case "waiting": {
      const woken = release.wakeupsSeen !== undefined && release.wakeupsSeen !== wakeups
      return { status: release.status, wakeAt: release.wakeAt, dueAt: woken ? now : release.wakeAt }
    }
    default:
      return { status: release.status, wakeAt: undefined, dueAt: undefined }
  }
}
