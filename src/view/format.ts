/** Times, durations and a run's ending as the CLI and the dashboard write them. */
import type { Engine } from "../index.ts"

/** `2026-11-30 01:51:01.922` (UTC), or `-` when there is none. */
export const formatTime = (ms: number | undefined): string =>
  ms === undefined ? "-" : new Date(ms).toISOString().replace("T", " ").replace("Z", "")

/** `310ms`, `2.45s`, `14.2s`, `8m0s`, `3h12m`. */
export const formatDuration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`
  if (ms < 3_600_000 - 500) {
    const seconds = Math.round(ms / 1000)
    return `${Math.floor(seconds / 60)}m${seconds % 60}s`
  }
  const minutes = Math.round(ms / 60_000)
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`
}

/** Why a run compensates (its `compensating` entry): `the run failed: …`, `the run was cancelled: …`. */
export const endingText = (entry: Engine.EntryDetail | undefined): string => {
  const ending = entry?.ending
  if (ending === undefined) return "the run failed or was cancelled"
  return `${ending.reason === "cancelled" ? "the run was cancelled" : "the run failed"}: ${ending.error}`
}
