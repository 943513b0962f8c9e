/**
 * The bounds every backend keeps around its journal and run store: no value over the payload
 * bound is stored, no operation waits past the operation timeout (a connection pool has no
 * limit of its own on the wait for a free connection), and a claim or a write under a lease that
 * failed on a transient error is sent again while its lease surely holds (`transient.ts`).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import { JournalError, LeaseLost } from "../WorkflowError.ts"
import { payloadIssue } from "./entry.ts"
import { hasInstantAppends, markInstantAppends } from "./instantAppends.ts"
import { makeLeaseDeadlines, OperationTimedOut, retryTransient } from "./transient.ts"
import type { Journal, Lease } from "../Journal.ts"
import type { RunStore } from "../RunStore.ts"
import type { Deadline } from "./deadline.ts"

export interface StoreBounds {
  readonly maxPayloadBytes: number
  /** The operation timeout's watchdog (`makeDeadline`), when operations have a timeout. */
  readonly deadline: Deadline | undefined
}

interface Backend {
  readonly journal: Journal["Service"]
  readonly store: RunStore["Service"]
}

/** Values to check, each with the path it is stored at (none for a run's input). */
type Values = ReadonlyArray<{ readonly path?: string | undefined; readonly value: string }>

export const withBounds = ({ journal, store }: Backend, bounds: StoreBounds): Backend => {
  const { deadline, maxPayloadBytes } = bounds
  // Refused before the store sees it: the store would take it, but a run holding it might not
  // load again.
  const sized = <A, E>(
    runId: string,
    values: Values,
    effect: Effect.Effect<A, E>
  ): Effect.Effect<A, E | JournalError> =>
    Effect.suspend((): Effect.Effect<A, E | JournalError> => {
      for (let i = 0; i < values.length; i++) {
        const { path, value } = values[i]!
        const issue = payloadIssue(value, maxPayloadBytes)
        if (issue !== undefined) {
          return Effect.fail(new JournalError({ reason: "TooLarge", runId, path, detail: issue }))
        }
      }
      return effect
    })

  const bounded = <A, E>(
    runId: string,
    operation: string,
    effect: Effect.Effect<A, E>
  ): Effect.Effect<A, E | JournalError> =>
    deadline === undefined ? effect : deadline.bound(effect, () =>
      new JournalError({
        reason: "Unavailable",
        runId,
        detail: `${operation} did not finish within ${
          Duration.format(deadline.timeout)
        } (waiting for a free connection or for the store)`,
        cause: new OperationTimedOut(`${operation} timed out`)
      }))

  // Every operation is bounded, a new one included; those that store values are sized first.
  const boundedAll = <S extends object>(service: S): S => {
    const out: Record<string | symbol, unknown> = {}
    for (const key of Reflect.ownKeys(service)) {
      const member = (service as Record<string | symbol, unknown>)[key]
      out[key] = typeof member === "function" && typeof key === "string"
        ? (...args: ReadonlyArray<unknown>) =>
          bounded(subjectOf(key, args), key, member(...args) as Effect.Effect<unknown, unknown>)
        : member
    }
    return out as S
  }
  const journalBounded = boundedAll(journal)
  const storeBounded = boundedAll(store)
  const leases = makeLeaseDeadlines()
  // A write under `lease`, retried while the lease surely holds; a lost lease is forgotten.
  const underLease = <A, E>(lease: Lease, operation: string, effect: Effect.Effect<A, E>) =>
    Effect.tapError(
      retryTransient(effect, { operation, subject: `run ${lease.runId}` }, () => leases.deadline(lease)),
      (error) => Effect.sync(() => error instanceof LeaseLost && leases.forget(lease))
    )
  // Past it, none of `held` surely holds.
  const latestDeadline = (held: ReadonlyArray<Lease>) => {
    let latest: number | undefined
    for (const lease of held) {
      const deadline = leases.deadline(lease)
      if (deadline !== undefined && (latest === undefined || deadline > latest)) latest = deadline
    }
    return latest
  }
  // Runs `effect`, a request that grants or renews leases, with the time it was sent.
  const sentAt = <A, E>(effect: (sentAt: number) => Effect.Effect<A, E>) =>
    Effect.flatMap(Clock.currentTimeMillis, effect)

  return {
    journal: (hasInstantAppends(journal) ? markInstantAppends : identity)({
      ...journalBounded,
      maxPayloadBytes,
      acquire: (run, options) =>
        sentAt((at) =>
          Effect.map(
            bounded(run.runId, "acquire", sized(run.runId, [{ value: run.input }], journal.acquire(run, options))),
            (acquired) => {
              if (acquired.lease !== undefined) leases.renewed(acquired.lease, at, options.leaseMs)
              return acquired
            }
          )
        ),
      append: (lease, entries) =>
        underLease(
          lease,
          "append",
          bounded(lease.runId, "append", sized(lease.runId, entries, journal.append(lease, entries)))
        ),
      heartbeat: (owner, held, leaseMs) =>
        sentAt((at) =>
          Effect.map(
            retryTransient(
              bounded(held[0]?.runId ?? owner, "heartbeat", journal.heartbeat(owner, held, leaseMs)),
              {
                operation: "heartbeat",
                subject: held.length === 1 ? `run ${held[0]!.runId}` : `${held.length} runs of ${owner}`
              },
              () => latestDeadline(held)
            ),
            // One state per lease, in the leases' order.
            (states) => {
              for (let i = 0; i < states.length; i++) {
                const lease = held[i]
                if (lease === undefined || lease.runId !== states[i]!.runId) continue
                if (states[i]!.held) leases.renewed(lease, at, leaseMs)
                else leases.forget(lease)
              }
              return states
            }
          )
        ),
      release: (lease, release) =>
        Effect.map(
          underLease(lease, "release", bounded(lease.runId, "release", journal.release(lease, release))),
          () => leases.forget(lease)
        ),
      startChild: (lease, child) =>
        underLease(
          lease,
          "startChild",
          bounded(
            child.runId,
            "startChild",
            sized(child.runId, [{ value: child.input }], journal.startChild(lease, child))
          )
        ),
      acquireSlot: (lease, request) =>
        underLease(lease, "acquireSlot", bounded(lease.runId, "acquireSlot", journal.acquireSlot(lease, request))),
      releaseSlot: (lease, request) =>
        underLease(lease, "releaseSlot", bounded(lease.runId, "releaseSlot", journal.releaseSlot(lease, request)))
    }),
    store: {
      ...storeBounded,
      create: (run) => bounded(run.runId, "create", sized(run.runId, [{ value: run.input }], store.create(run))),
      // Nothing is leased before a claim succeeds: it is retried for as long as it would lease.
      claim: (request) =>
        sentAt((at) =>
          Effect.map(
            retryTransient(
              bounded(request.owner, "claim", store.claim(request)),
              { operation: "claim", subject: `worker ${request.owner}` },
              () => at + request.leaseMs
            ),
            (claimed) => {
              for (const run of claimed) leases.renewed(run.lease, at, request.leaseMs)
              return claimed
            }
          )
        ),
      deliver: (runId, entry) => bounded(runId, "deliver", sized(runId, [entry], store.deliver(runId, entry))),
      saveSchedule: (schedule) =>
        bounded(
          schedule.id,
          "saveSchedule",
          sized(schedule.id, [{ value: schedule.input }], store.saveSchedule(schedule))
        )
    }
  }
}

/**
 * What an operation's errors name, from its arguments: the run (a run id, a record's or a
 * lease's `runId`), a schedule's `id`, an executor's `owner`, or else the operation itself.
 */
export const subjectOf = (operation: string, args: ReadonlyArray<unknown>): string => {
  const first = args[0]
  if (typeof first === "string") return first
  if (typeof first === "object" && first !== null && !Array.isArray(first)) {
    for (const key of ["runId", "id", "owner"] as const) {
      const value = (first as Record<string, unknown>)[key]
      if (typeof value === "string") return value
    }
  }
  return `(${operation})`
}
