/**
 * The bounds every backend keeps around its journal and run store: no value over the payload
 * bound is stored, and no operation waits past the operation timeout (a connection pool has no
 * limit of its own on the wait for a free connection).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import { JournalError } from "../WorkflowError.ts"
import { payloadIssue } from "./entry.ts"
import { hasInstantAppends, markInstantAppends } from "./instantAppends.ts"
import type { Journal } from "../Journal.ts"
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
        } (waiting for a free connection or for the store)`
      }))

  return {
    journal: (hasInstantAppends(journal) ? markInstantAppends : identity)({
      maxPayloadBytes,
      acquire: (run, options) =>
        bounded(run.runId, "acquire", sized(run.runId, [{ value: run.input }], journal.acquire(run, options))),
      load: (runId) => bounded(runId, "load", journal.load(runId)),
      append: (lease, entries) =>
        bounded(lease.runId, "append", sized(lease.runId, entries, journal.append(lease, entries))),
      heartbeat: (owner, leases, leaseMs) => bounded(owner, "heartbeat", journal.heartbeat(owner, leases, leaseMs)),
      release: (lease, release) => bounded(lease.runId, "release", journal.release(lease, release)),
      startChild: (lease, child) =>
        bounded(
          child.runId,
          "startChild",
          sized(child.runId, [{ value: child.input }], journal.startChild(lease, child))
        ),
      acquireSlot: (lease, request) => bounded(lease.runId, "acquireSlot", journal.acquireSlot(lease, request)),
      releaseSlot: (lease, request) => bounded(lease.runId, "releaseSlot", journal.releaseSlot(lease, request))
    }),
    store: {
      ...store,
      create: (run) => bounded(run.runId, "create", sized(run.runId, [{ value: run.input }], store.create(run))),
      get: (runId) => bounded(runId, "get", store.get(runId)),
      claim: (request) => bounded(request.owner, "claim", store.claim(request)),
      deliver: (runId, entry) => bounded(runId, "deliver", sized(runId, [entry], store.deliver(runId, entry))),
      cancel: (runId, reason) => bounded(runId, "cancel", store.cancel(runId, reason)),
      resume: (runId) => bounded(runId, "resume", store.resume(runId)),
      list: (filter) => bounded("(list)", "list", store.list(filter)),
      counts: (filter) => bounded("(counts)", "counts", store.counts(filter)),
      nextDue: (workflows) => bounded("(nextDue)", "nextDue", store.nextDue(workflows)),
      saveSchedule: (schedule) =>
        bounded(
          schedule.id,
          "saveSchedule",
          sized(schedule.id, [{ value: schedule.input }], store.saveSchedule(schedule))
        ),
      removeSchedule: (id) => bounded(id, "removeSchedule", store.removeSchedule(id)),
      listSchedules: (filter) => bounded("(schedules)", "listSchedules", store.listSchedules(filter)),
      dueSchedules: (workflows) => bounded("(schedules)", "dueSchedules", store.dueSchedules(workflows)),
      fireSchedule: (firing) => bounded(firing.id, "fireSchedule", store.fireSchedule(firing))
    }
  }
}
