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

  return {
    journal: (hasInstantAppends(journal) ? markInstantAppends : identity)({
      ...journalBounded,
      maxPayloadBytes,
      acquire: (run, options) =>
        bounded(run.runId, "acquire", sized(run.runId, [{ value: run.input }], journal.acquire(run, options))),
      append: (lease, entries) =>
        bounded(lease.runId, "append", sized(lease.runId, entries, journal.append(lease, entries))),
      startChild: (lease, child) =>
        bounded(
          child.runId,
          "startChild",
          sized(child.runId, [{ value: child.input }], journal.startChild(lease, child))
        )
    }),
    store: {
      ...storeBounded,
      create: (run) => bounded(run.runId, "create", sized(run.runId, [{ value: run.input }], store.create(run))),
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
