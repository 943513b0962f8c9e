/**
 * Transient store failures, retried: a write made under a lease that failed because the
 * connection did (refused, reset, a pool that gave no connection in time, the server shutting
 * down) is sent again with backoff, but never once the lease may have expired.
 *
 * Sending a write again is safe when its first attempt may have committed (the connection
 * dropped after `COMMIT` was sent): every lease write names its fencing token, so it cannot
 * land for a lease another executor took over, and each is idempotent on its own terms: an
 * append inserts entries keyed by `(run, path, kind, seq)` and skips those already there, a
 * release or a heartbeat sets the same columns to the same values, a slot or a child is keyed.
 *
 * A lease's local deadline is when the request that last granted or renewed it was sent, plus
 * the lease's length: the store sets the expiry from its own clock once it receives that
 * request, so never earlier.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { JournalError } from "../WorkflowError.ts"
import type { Lease } from "../Journal.ts"

/** The cause of an operation that did not finish within the journal's operation timeout. */
export class OperationTimedOut extends Error {
  override readonly name = "OperationTimedOut"
}

/**
 * Why a failure is worth sending again: the connection failed, or the server could not take the
 * statement for a while. A constraint violation, a corrupt row, a lost lease or a value too large
 * fail the same way every time.
 */
const transientReasons = new Set(["ConnectionError", "DeadlockError", "SerializationError", "LockTimeoutError"])

/**
 * Postgres states the driver does not classify as connection failures: `57P01` admin shutdown,
 * `57P02` crash shutdown, `57P03` cannot connect now (starting up, in recovery), `53300` too
 * many connections. Socket error codes from a connection that died under a statement.
 */
const transientCodes = new Set([
  "57P01",
  "57P02",
  "57P03",
  "53300",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH"
])

const codeOf = (value: unknown): unknown =>
  typeof value === "object" && value !== null ? (value as { readonly code?: unknown }).code : undefined

/** Whether `error` is a store failure that may not happen again: see `transientReasons`. */
export const isTransient = (error: unknown): boolean => {
  if (!(error instanceof JournalError) || error.reason !== "Unavailable") return false
  const cause = error.cause
  if (cause instanceof OperationTimedOut) return true
  if (typeof cause !== "object" || cause === null || (cause as { readonly _tag?: unknown })._tag !== "SqlError") {
    return false
  }
  const reason = (cause as { readonly reason: { readonly _tag: string; readonly cause?: unknown } }).reason
  return transientReasons.has(reason._tag) || transientCodes.has(String(codeOf(reason.cause)))
}

/** The longest wait between two attempts: the store is tried again at least this often. */
export const maxRetryDelay = Duration.seconds(1)

/** 100 ms, doubling, capped at `maxRetryDelay`, jittered so a fleet does not retry in step. */
const backoff = Schedule.exponential("100 millis").pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, maxRetryDelay))),
  Schedule.jittered
)

/** The local deadlines of the leases a journal granted or renewed. */
export interface LeaseDeadlines {
  /** A request sent at `sentAt` (epoch milliseconds) granted or renewed `lease` for `leaseMs`. */
  readonly renewed: (lease: Lease, sentAt: number, leaseMs: number) => void
  /** Until when `lease` surely holds, if this journal granted it. */
  readonly deadline: (lease: Lease) => number | undefined
  readonly forget: (lease: Lease) => void
}

export const makeLeaseDeadlines = (): LeaseDeadlines => {
  const deadlines = new Map<string, number>()
  const keyOf = (lease: Lease) => `${lease.token} ${lease.runId}`
  // A run that ends without a release this journal saw (its executor interrupted while the store
  // was down) leaves its deadline behind: expired ones are dropped whenever the map doubles.
  let sweepAt = 1024
  const sweep = (now: number) => {
    for (const [key, deadline] of deadlines) if (deadline <= now) deadlines.delete(key)
    sweepAt = Math.max(1024, deadlines.size * 2)
  }
  return {
    renewed: (lease, sentAt, leaseMs) => {
      const key = keyOf(lease)
      const deadline = sentAt + leaseMs
      if (deadline > (deadlines.get(key) ?? 0)) deadlines.set(key, deadline)
      if (deadlines.size >= sweepAt) sweep(sentAt)
    },
    deadline: (lease) => deadlines.get(keyOf(lease)),
    forget: (lease) => void deadlines.delete(keyOf(lease))
  }
}

/** What a retried operation is, for its log lines: `subject` names the run or the worker. */
export interface Attempted {
  readonly operation: string
  readonly subject: string
}

/**
 * Runs `attempt`; on a transient failure, runs it again with backoff while the next attempt can
 * start before `deadline()` (epoch milliseconds, read at every failure; `undefined`: not
 * retried). The first failure and the give-up are logged as warnings with the cause, the
 * recovery as info.
 */
export const retryTransient = <A, E>(
  attempt: Effect.Effect<A, E>,
  attempted: Attempted,
  deadline: () => number | undefined
): Effect.Effect<A, E> =>
  Effect.catchIf(attempt, isTransient, (first) =>
    Effect.gen(function*() {
      const until = deadline()
      const what = `plait: ${attempted.operation} of ${attempted.subject}`
      const now = yield* Clock.currentTimeMillis
      if (until === undefined || now + Duration.toMillis(maxRetryDelay) >= until) {
        const why = until === undefined ? "this journal granted no lease it knows of" : "its lease may have expired"
        yield* Effect.logWarning(`${what} failed and is not retried: ${why}`, first)
        return yield* Effect.fail(first as E)
      }
      yield* Effect.logWarning(
        `${what} failed; retrying while its lease holds (until ${new Date(until).toISOString()} unless renewed)`,
        first
      )
      let failures = 1
      const exit = yield* Effect.exit(Effect.retry(attempt, {
        schedule: backoff,
        // Read again at every failure: a heartbeat may have renewed the lease meanwhile, or
        // learnt that it is lost.
        while: (error) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            failures++
            const current = deadline()
            return isTransient(error) && current !== undefined && now + Duration.toMillis(maxRetryDelay) < current
          })
      }))
      if (exit._tag === "Success") {
        yield* Effect.logInfo(`${what} succeeded after ${failures} failed attempts`)
      } else {
        yield* Effect.logWarning(`${what} gave up after ${failures} failed attempts`, exit.cause)
      }
      return yield* exit
    }))
