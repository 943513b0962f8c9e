/**
 * Cron schedules: when their ticks fall (effect's `Cron`, read in the schedule's time zone), which
 * tick a worker fires, and the id of the run a tick starts. A tick's run id is derived from the
 * schedule and the tick, and a worker fires a tick only by moving the schedule on from it in the
 * store (see `RunStore.fireSchedule`), so every tick starts one run, whichever worker fires it.
 */
import * as Cron from "effect/Cron"
import * as Result from "effect/Result"
import type { ScheduleInfo } from "../RunStore.ts"
import { InvalidSchedule } from "../WorkflowError.ts"

/** A tick fired later than this after its time was missed (everything was down). */
export const missedAfterMs = 60_000

export const parseCron = (scheduleId: string, cron: string, timezone: string | undefined) =>
  Result.mapError(Cron.parse(cron, timezone), (error) => new InvalidSchedule({ scheduleId, issue: error.message }))

/** The first tick strictly after `after` (epoch milliseconds). */
export const nextTick = (cron: Cron.Cron, after: number): number => Cron.next(cron, after).getTime()

/** The run a schedule's tick starts. */
export const tickRunId = (scheduleId: string, tickAt: number): string => `${scheduleId}@${new Date(tickAt).toISOString()}`

/**
 * What a worker does with a schedule whose next tick came: the tick to start a run for (the
 * latest one due; earlier ones, overtaken, start none), unless it was missed and missed ticks are
 * skipped; and the schedule's next tick after `now`.
 */
export const planTick = (
  schedule: ScheduleInfo,
  cron: Cron.Cron,
  now: number
): { readonly tickAt: number | undefined; readonly nextAt: number } => {
  const latest = Math.max(schedule.nextAt, Cron.prev(cron, now + 1).getTime())
  const missed = now - latest > missedAfterMs
  return { tickAt: missed && schedule.missed === "skip" ? undefined : latest, nextAt: nextTick(cron, now) }
}
