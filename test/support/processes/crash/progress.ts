/**
 * The child side of the kill protocol: a process reports its progress on stdout, one line per
 * event, and at a frozen kill point holds still right after printing that line, so the test's
 * SIGKILL lands exactly there however late the test reacts (see `kill-point.ts`).
 */
import { Effect } from "effect"
import { type KillPoint, matcher } from "./kill-point.ts"

const freeze = () => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000)
  process.exit(70) // never killed: the test will report it
}

/** Prints a progress line, freezing the process at `freezeAt` (when given). */
export const makeSay = (freezeAt: KillPoint | undefined): (line: string) => Effect.Effect<void> => {
  const isKillPoint = freezeAt === undefined ? () => false : matcher(freezeAt)
  const untilJournaled = freezeAt?.untilJournaled === true
  // For an `untilJournaled` point: the line at which to hold still (the step's completion).
  let holdAt: string | undefined
  // Stdout is a pipe, written synchronously on Linux: the line is out before the thread blocks.
  return (line) =>
    Effect.sync(() => {
      process.stdout.write(`${line}\n`)
      if (line === holdAt) return freeze()
      if (!isKillPoint(line)) return
      if (!untilJournaled) return freeze()
      holdAt = `Completed ${line.slice(line.indexOf(" ") + 1)}`
    })
}
