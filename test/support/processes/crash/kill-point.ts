/**
 * Where in a child's progress it is killed, shared by the test (which sends SIGKILL) and the
 * child (which, for a frozen kill point, holds still there until the signal arrives).
 */

/**
 * Right after the `nth` line `<event> <path>` whose path starts with `prefix`.
 *
 * - `freeze`: the child blocks its only thread right after printing that line, so nothing
 *   else happens in it before the kill however late the test reacts: the kill lands exactly
 *   there. Without it the child runs on until the signal arrives, wherever that falls.
 * - `untilJournaled` (for a `SideEffect` point): the child runs on after the line, so the kill
 *   may land before or after that step's journal write commits; but it holds still once the
 *   step is reported completed, so a test that reacts late still kills it inside that window.
 * - `optional`: a child that completes before the point is the run's last start, not a failure.
 */
export interface KillPoint {
  readonly event: "Completed" | "SideEffect"
  readonly prefix: string
  readonly nth: number
  readonly freeze?: boolean | undefined
  readonly untilJournaled?: boolean | undefined
  readonly optional?: boolean | undefined
}

export const describeKillPoint = (point: KillPoint): string =>
  `${point.freeze === true ? "frozen " : ""}after ${point.event} #${point.nth}` +
  (point.prefix === "" ? "" : ` of ${point.prefix}*`)

/** A predicate fed every line the child prints, in order; true on the kill point's line only. */
export const matcher = (point: KillPoint): (line: string) => boolean => {
  let seen = 0
  const head = `${point.event} ${point.prefix}`
  return (line) => line.startsWith(head) && ++seen === point.nth
}
