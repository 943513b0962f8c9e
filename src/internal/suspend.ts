/**
 * A run that must wait for the outside world (a signal not yet delivered, or, under a worker, a
 * durable sleep, a child run, a concurrency slot) stops by failing with `Suspend`; the executor
 * turns it into a `Suspended` outcome and releases the run until it is due. It never reaches
 * users as an error.
 *
 * Blocks running several branches collect the waits of every branch that suspended, so the run
 * wakes for whichever comes first.
 *
 * A rebuild (replaying a run's journal to find what its compensations need, running nothing)
 * stops each branch where the journal ends with a `replay` wait, so a branch that cannot go on
 * never interrupts a sibling that can.
 */

export interface Wait {
  readonly path: string
  readonly kind: "signal" | "sleep" | "child" | "limit" | "replay"
  /** When the wait ends by itself (a sleep's wake time, a signal's deadline), epoch milliseconds. */
  readonly until: number | undefined
}

export class Suspend {
  readonly _tag = "plait/Suspend"
  readonly waits: ReadonlyArray<Wait>
  constructor(waits: ReadonlyArray<Wait>) {
    this.waits = waits
  }
  /** The first path waited on: what `Suspended.waitingFor` reports. */
  get path(): string {
    return this.waits[0]!.path
  }
}

export const isSuspend = (u: unknown): u is Suspend => u instanceof Suspend

export const suspendOn = (wait: Wait): Suspend => new Suspend([wait])

/** One suspension for several suspended branches. */
export const mergeSuspends = (suspends: ReadonlyArray<Suspend>): Suspend =>
  suspends.length === 1 ? suspends[0]! : new Suspend(suspends.flatMap((suspend) => suspend.waits))

/** Sleeping when every wait is a sleep, else waiting; due at the earliest time any wait ends. */
export const releaseOf = (suspend: Suspend, wakeupsSeen: number) => {
  let wakeAt: number | undefined
  for (const wait of suspend.waits) {
    if (wait.until !== undefined) wakeAt = wakeAt === undefined ? wait.until : Math.min(wakeAt, wait.until)
  }
  return {
    status: suspend.waits.every((wait) => wait.kind === "sleep") ? "sleeping" as const : "waiting" as const,
    wakeAt,
    waitingFor: suspend.waits.map((wait) => wait.path),
    wakeupsSeen
  }
}
