/**
 * The contract's results as both dialects assemble them from decoded rows: a loaded run, a
 * page of runs, status counts, lease states. A dialect's statement names its columns as these
 * expect; how it gets them is its own.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { cursorOf, decodeCursor, pageLimit } from "../listing.ts"
import * as RunStatus from "../../RunStatus.ts"
import { corrupt, decodeEntries, decodeRun, decodeSchedule } from "./wire.ts"
import type { JournalError, Lease, LeaseState, LoadedRun, RunInfo } from "../../Journal.ts"
import type { ListFilter, RunPage, ScheduleInfo, StatusCounts } from "../../RunStore.ts"
import type { Cursor } from "../listing.ts"
import type { Row } from "./statement.ts"

/** A run's JSON column, decoded. */
export const runOf = (runId: string, json: unknown): Effect.Effect<RunInfo, JournalError> =>
  Effect.fromResult(decodeRun(runId, json))

/** The `run` column of each row, decoded. */
export const runsOf = (runId: string, rows: ReadonlyArray<Row>): Effect.Effect<ReadonlyArray<RunInfo>, JournalError> =>
  Effect.forEach(rows, (row) => runOf(runId, row.run))

/** The `run` column of the first row, decoded; none without rows. */
export const maybeRunOf = (
  runId: string,
  rows: ReadonlyArray<Row>
): Effect.Effect<Option.Option<RunInfo>, JournalError> =>
  rows.length === 0 ? Effect.succeedNone : Effect.map(runOf(runId, rows[0]!.run), Option.some)

/** The `schedule` column of each row, decoded. */
export const schedulesOf = (
  id: string,
  rows: ReadonlyArray<Row>
): Effect.Effect<ReadonlyArray<ScheduleInfo>, JournalError> =>
  Effect.forEach(rows, (row) => Effect.fromResult(decodeSchedule(id, row.schedule)))

/** Entry rows, decoded. */
export const entriesOf = (runId: string, rows: ReadonlyArray<Row>) => Effect.fromResult(decodeEntries(runId, rows))

/**
 * A run and its entries from the rows of a load: one row with the run's JSON in `run`, then one
 * row per entry (`run` null). None when there is no run row and no entry.
 */
export const loadedOf = (
  runId: string,
  rows: ReadonlyArray<Row>
): Effect.Effect<Option.Option<LoadedRun>, JournalError> => {
  let json: unknown = undefined
  const entries: Array<Row> = []
  for (const row of rows) {
    if (row.run === null || row.run === undefined) entries.push(row)
    else json = row.run
  }
  if (json === undefined) {
    return entries.length === 0
      ? Effect.succeedNone
      : Effect.fail(corrupt(runId, undefined, "entries exist without their run row"))
  }
  return Effect.flatMap(
    runOf(runId, json),
    (run) => Effect.map(entriesOf(runId, entries), (decoded) => Option.some({ run, entries: decoded }))
  )
}

/** Each lease's state from the `run_id`, `cancel_requested`, `error` rows of the leases a heartbeat renewed. */
export const leaseStatesOf = (leases: ReadonlyArray<Lease>, rows: ReadonlyArray<Row>): ReadonlyArray<LeaseState> => {
  const held = new Map(rows.map((row) => [String(row.run_id), row]))
  return leases.map((lease): LeaseState => {
    const row = held.get(lease.runId)
    const cancelRequested = row !== undefined && (row.cancel_requested === true || Number(row.cancel_requested) === 1)
    return {
      runId: lease.runId,
      held: row !== undefined,
      cancelRequested,
      cancelReason: cancelRequested && typeof row!.error === "string" ? row!.error : undefined
    }
  })
}

/** Every status's count from `status`, `count` rows. */
export const statusCountsOf = (rows: ReadonlyArray<Row>): StatusCounts => {
  const counts = Object.fromEntries(RunStatus.all.map((status) => [status, 0])) as Record<RunStatus.RunStatus, number>
  for (const { count, status } of rows) {
    if (typeof status === "string" && RunStatus.is(status)) counts[status] = Number(count)
  }
  return counts
}

/** A whole number column that may be null. */
export const optionalNumber = (value: unknown): number | undefined =>
  value === null || value === undefined ? undefined : Number(value)

/** A boolean column: Postgres `boolean`, SQLite `0`/`1`. */
export const flag = (value: unknown): boolean => value === true || Number(value) === 1

/**
 * A page of runs, newest first: `fetch` reads up to `limit` runs (as `run` columns) after the
 * cursor; one more than the page tells whether there is a next page.
 */
export const pageOf = <E>(
  filter: ListFilter,
  fetch: (after: Cursor | undefined, limit: number) => Effect.Effect<ReadonlyArray<Row>, E>
): Effect.Effect<RunPage, E | JournalError> => {
  const after = decodeCursor(filter.cursor)
  if (filter.cursor !== undefined && filter.cursor !== "" && after === undefined) {
    return Effect.fail(
      corrupt("(list)", undefined, `the cursor ${JSON.stringify(filter.cursor)} is not one list returned`)
    )
  }
  const limit = pageLimit(filter.limit)
  return Effect.flatMap(
    fetch(after, limit + 1),
    (rows) =>
      Effect.map(runsOf("(list)", rows.slice(0, limit)), (runs) => ({
        runs,
        next: rows.length > limit ? cursorOf(runs[runs.length - 1]!) : undefined
      }))
  )
}
