/**
 * Cron schedules: when their ticks fall (effect's `Cron`, read in the schedule's time zone), which
 * tick a worker fires, and the id of the run a tick starts. A tick's run id is derived from the
 * schedule and the tick, and a worker fires a tick only by moving the schedule on from it in the
 * store (see `RunStore.fireSchedule`), so every tick starts one run, whichever worker fires it.
 * Either alone would do; the two together keep a tick single even if one of them is broken.
 */
import * as Cron from "effect/Cron"
import * as Result from "effect/Result"
import { InvalidSchedule } from "../WorkflowError.ts"
import type { ScheduleInfo } from "../RunStore.ts"

/** A tick fired later than this after its time was missed (everything was down). */
export const missedAfterMs = 60_000

export const parseCron = (scheduleId: string, cron: string, timezone: string | undefined) =>
  Result.mapError(Cron.parse(cron, timezone), (error) => new InvalidSchedule({ scheduleId, issue: error.message }))

/** The first tick strictly after `after` (epoch milliseconds). */
export const nextTick = (cron: Cron.Cron, after: number): number => Cron.next(cron, after).getTime()

/** The run a schedule's tick starts. */
export const tickRunId = (scheduleId: string, tickAt: number): string =>
  `${scheduleId}@${new Date(tickAt).toISOString()}`

/**
 * What a worker does with a schedule whose next tick came. A tick fired within a minute of its
 * time starts its run, and the schedule moves on to the tick after it: a worker that fell behind
 * fires the ticks it owes one by one. A tick older than that was missed (everything was down):
 * with `"skip"` the schedule moves on to the first tick not missed, with `"catchUp"` it also
 * starts one run, for the latest missed tick.
 */
export const planTick = (
  schedule: ScheduleInfo,
  cron: Cron.Cron,
  now: number
): { readonly tickAt: number | undefined; readonly nextAt: number } => {
  const tick = schedule.nextAt
  if (now - tick <= missedAfterMs) return { tickAt: tick, nextAt: nextTick(cron, tick) }
  const lastMissed = Cron.prev(cron, now - missedAfterMs).getTime()
  return {
    tickAt: schedule.missed === "catchUp" ? Math.max(tick, lastMissed) : undefined,
    nextAt: nextTick(cron, Math.max(tick, lastMissed))
  }
}

/** Splits a worker's schedules at `now`: the ones due, and when the next of the others falls. */
export const dueOf = (
  now: number,
  schedules: ReadonlyArray<ScheduleInfo>
): { readonly now: number; readonly due: ReadonlyArray<ScheduleInfo>; readonly nextAt: number | undefined } => {
  const later = schedules.filter((schedule) => schedule.nextAt > now).map((schedule) => schedule.nextAt)
  return {
    now,
    due: schedules.filter((schedule) => schedule.nextAt <= now),
    nextAt: later.length === 0 ? undefined : Math.min(...later)
  }
}
