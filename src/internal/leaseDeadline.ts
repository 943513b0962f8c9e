/**
 * How long an executor may trust its lease without asking the store: its local deadline. A
 * lease taken or renewed by a statement sent at `t` lasts at least until `t + leaseMs` in the
 * store (the store starts counting when the statement reaches it, later), so until
 * `t + leaseMs - margin` no other executor can have taken the run over. Past that instant
 * without a renewal, the lease may be gone: the executor starts no step or attempt (a stalled
 * process resumed after its lease expired would otherwise start steps the new owner already
 * journaled), and a watchdog stops the run's fiber, interrupting the step in flight.
 *
 * The margin covers what the deadline cannot see: the time between the check and the step's
 * first side effect, and clocks of machines that share the store drifting apart.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

export interface LeaseDeadline {
  /** The instant (epoch milliseconds) past which the executor starts nothing. */
  readonly at: number
  /** A renewal sent at `sentAt` came back held: the deadline moves on. */
  readonly renewed: (sentAt: number) => void
  /** Stops the run (the lease may be lost) and never returns: the run's fiber is interrupted. */
  readonly lapsed: Effect.Effect<never>
}

/** The share of a lease kept back from the local deadline. */
const marginShare = 5

/** The local deadline of a lease taken by a statement sent at `takenAt`. */
export const makeLeaseDeadline = (
  takenAt: number,
  leaseMs: number,
  stop: Effect.Effect<void>
): LeaseDeadline => {
  // A lease without end (the testing kit's) has no deadline.
  const trusted = Number.isFinite(leaseMs) ? leaseMs - Math.ceil(leaseMs / marginShare) : Infinity
  const deadline = {
    at: takenAt + trusted,
    renewed: (sentAt: number) => {
      deadline.at = Math.max(deadline.at, sentAt + trusted)
    },
    lapsed: Effect.andThen(stop, Effect.never)
  }
  return deadline
}

/**
 * Stops the run once its deadline passes without a renewal: sleeps until the deadline, and
 * again until the new one whenever a renewal moved it.
 */
export const watchDeadline = (deadline: LeaseDeadline): Effect.Effect<void> =>
  Effect.gen(function*() {
    while (true) {
      const now = yield* Clock.currentTimeMillis
      if (now >= deadline.at) return yield* deadline.lapsed
      if (!Number.isFinite(deadline.at)) return yield* Effect.never
      yield* Effect.sleep(deadline.at - now)
    }
  })
