/**
 * The SQL journal's wire format: what its rows look like, read by column name and decoded with
 * Schema into the contract's values (`RunInfo`, `JournalEntry`, `ScheduleInfo`), and the
 * notification payload Postgres carries between processes. Both dialects build the same rows,
 * so one decoder reads each from every statement; a row that does not decode is a `Corrupt`
 * `JournalError` naming the run (and the path, for an entry).
 *
 * A run (and a schedule) travels as one JSON column built in SQL from the fields listed here
 * (`runJsonFields`), so a statement that returns runs beside other rows (a load's entries, a
 * claim's) has one column to name; `waitingFor` is a JSON array in it.
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { isEntryKind } from "../entry.ts"
import { receivedRunId } from "../notifiedRunId.ts"
import * as RunStatus from "../../RunStatus.ts"
import { JournalError } from "../../WorkflowError.ts"
import type { JournalEntry, RunInfo } from "../../Journal.ts"
import type { MissedTicks, Notification, ScheduleInfo } from "../../RunStore.ts"

/** A whole number as a driver returns it: a number, a bigint, or (a Postgres `bigint`) its digits. */
const Whole = Schema.Union([Schema.Number, Schema.BigInt, Schema.String]).pipe(
  Schema.decodeTo(
    Schema.Number.check(Schema.isInt()),
    SchemaTransformation.transform<number, number | bigint | string>({ decode: Number, encode: (value) => value })
  )
)

/** A boolean as a driver returns it: Postgres `boolean`, SQLite `0`/`1`. */
const Flag = Schema.Union([Schema.Boolean, Schema.Number]).pipe(
  Schema.decodeTo(
    Schema.Boolean,
    SchemaTransformation.transform<boolean, boolean | number>({
      decode: (value) => value === true || value === 1,
      encode: (value) => value
    })
  )
)

const MaybeWhole = Schema.NullishOr(Whole)
const MaybeText = Schema.NullishOr(Schema.String)

/** The fields of a run's JSON column (key, then column), in the order both dialects build them. */
export const runJsonFields: ReadonlyArray<readonly [key: string, column: string]> = [
  ["runId", "run_id"],
  ["workflow", "workflow"],
  ["fingerprint", "fingerprint"],
  ["input", "input"],
  ["status", "status"],
  ["priority", "priority"],
  ["parentRunId", "parent_run_id"],
  ["owner", "owner"],
  ["leaseToken", "lease_token"],
  ["leaseExpiresAt", "lease_expires_at"],
  ["wakeAt", "wake_at"],
  ["dueAt", "due_at"],
  ["waitingFor", "waiting_for"],
  ["executions", "executions"],
  ["wakeups", "wakeups"],
  ["cancelRequested", "cancel_requested"],
  ["error", "error"],
  ["createdAt", "created_ms"],
  ["updatedAt", "updated_ms"]
]

/** A run's JSON column. */
const RunJson = Schema.Struct({
  runId: Schema.String,
  workflow: Schema.String,
  fingerprint: Schema.String,
  input: Schema.String,
  status: Schema.String,
  priority: MaybeWhole,
  parentRunId: MaybeText,
  owner: MaybeText,
  leaseToken: MaybeWhole,
  leaseExpiresAt: MaybeWhole,
  wakeAt: MaybeWhole,
  dueAt: MaybeWhole,
  waitingFor: Schema.NullishOr(Schema.Array(Schema.String)),
  executions: MaybeWhole,
  wakeups: MaybeWhole,
  cancelRequested: Schema.NullishOr(Flag),
  error: MaybeText,
  createdAt: MaybeWhole,
  updatedAt: MaybeWhole
})

/** The fields of a schedule's JSON column, in the order both dialects build them. */
export const scheduleJsonFields: ReadonlyArray<readonly [key: string, column: string]> = [
  ["id", "id"],
  ["workflow", "workflow"],
  ["input", "input"],
  ["cron", "cron"],
  ["timezone", "timezone"],
  ["missed", "missed"],
  ["nextAt", "next_at"],
  ["lastTickAt", "last_tick_at"],
  ["lastRunId", "last_run_id"],
  ["createdAt", "created_ms"],
  ["updatedAt", "updated_ms"]
]

const missedTicks: ReadonlyArray<MissedTicks> = ["skip", "catchUp"]

const ScheduleJson = Schema.Struct({
  id: Schema.String,
  workflow: Schema.String,
  input: Schema.String,
  cron: Schema.String,
  timezone: MaybeText,
  missed: Schema.Literals(missedTicks),
  nextAt: Whole,
  lastTickAt: MaybeWhole,
  lastRunId: MaybeText,
  createdAt: MaybeWhole,
  updatedAt: MaybeWhole
})

/** An entry's columns, as `load` and `claim` return them. */
const EntryRow = Schema.Struct({
  path: Schema.String,
  kind: Schema.String,
  value: Schema.String,
  seq: Whole,
  started_at: MaybeWhole,
  finished_at: MaybeWhole
})

/** A run a statement woke (a parent, a slot waiter): due now if it was waiting. */
export interface Woken {
  readonly runId: string
  readonly workflow: string
  readonly due: boolean
}

const WokenRow = Schema.Struct({ run_id: Schema.String, workflow: Schema.String, due: Flag })

const decodeRunJson = Schema.decodeUnknownResult(RunJson)
const decodeScheduleJson = Schema.decodeUnknownResult(ScheduleJson)
const decodeEntryRow = Schema.decodeUnknownResult(EntryRow)
const decodeWokenRow = Schema.decodeUnknownResult(WokenRow)

/** A JSON column as the driver returns it: text, or (a `json` column) already parsed. */
const parsed = (json: unknown): unknown => {
  if (typeof json !== "string") return json
  try {
    return JSON.parse(json)
  } catch {
    return undefined
  }
}

/** Reads a run's JSON column; anything unexpected is a corrupt row. */
export const decodeRun = (runId: string, json: unknown): Result.Result<RunInfo, JournalError> => {
  const object = parsed(json)
  const id = typeof object === "object" && object !== null && typeof (object as { runId?: unknown }).runId === "string"
    ? (object as { runId: string }).runId
    : runId
  const decoded = decodeRunJson(object)
  if (Result.isFailure(decoded)) return Result.fail(corrupt(id, undefined, `the run row: ${decoded.failure.message}`))
  const row = decoded.success
  if (!RunStatus.is(row.status)) {
    return Result.fail(corrupt(id, undefined, `unknown run status ${JSON.stringify(row.status)}`))
  }
  return Result.succeed({
    runId: row.runId,
    workflow: row.workflow,
    fingerprint: row.fingerprint,
    input: row.input,
    status: row.status,
    priority: row.priority ?? 0,
    parentRunId: row.parentRunId ?? undefined,
    owner: row.owner ?? undefined,
    leaseToken: row.leaseToken ?? 0,
    leaseExpiresAt: row.leaseExpiresAt ?? undefined,
    wakeAt: row.wakeAt ?? undefined,
    dueAt: row.dueAt ?? undefined,
    waitingFor: row.waitingFor ?? [],
    executions: row.executions ?? 0,
    wakeups: row.wakeups ?? 0,
    cancelRequested: row.cancelRequested ?? false,
    error: row.error ?? undefined,
    createdAt: row.createdAt ?? 0,
    updatedAt: row.updatedAt ?? 0
  })
}

/** Reads a schedule's JSON column; anything unexpected is a corrupt row. */
export const decodeSchedule = (id: string, json: unknown): Result.Result<ScheduleInfo, JournalError> => {
  const decoded = decodeScheduleJson(parsed(json))
  if (Result.isFailure(decoded)) {
    return Result.fail(corrupt(id, undefined, `the schedule row: ${decoded.failure.message}`))
  }
  const row = decoded.success
  return Result.succeed({
    id: row.id,
    workflow: row.workflow,
    input: row.input,
    cron: row.cron,
    timezone: row.timezone ?? undefined,
    missed: row.missed,
    nextAt: row.nextAt,
    lastTickAt: row.lastTickAt ?? undefined,
    lastRunId: row.lastRunId ?? undefined,
    createdAt: row.createdAt ?? 0,
    updatedAt: row.updatedAt ?? 0
  })
}

/**
 * Reads entry rows (`path`, `kind`, `value`, `seq`, `started_at`, `finished_at`); anything
 * unexpected is a corrupt row.
 */
export const decodeEntries = (
  runId: string,
  rows: ReadonlyArray<unknown>
): Result.Result<ReadonlyArray<JournalEntry>, JournalError> => {
  const entries: Array<JournalEntry> = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const entry = plainEntry(rows[i] as EntryColumns) ?? decodeEntry(runId, rows[i])
    if (Result.isResult(entry)) return entry
    entries[i] = entry
  }
  return Result.succeed(entries)
}

type EntryColumns = { readonly [K in keyof typeof EntryRow.Encoded]?: unknown }

/**
 * A well-formed row as the drivers return it (text columns; integers as numbers, or as digits
 * for a Postgres `bigint`), read without the Schema: `EntryRow`'s decoding costs about a
 * microsecond a row, which is 10 ms more CPU on the 10,000 entries of `journal-resume-10k`
 * (`npm run bench -- --only journal`), a sixth of that workload. Any other row goes through the
 * Schema, which says what is wrong with it.
 */
const plainEntry = (row: EntryColumns | null): JournalEntry | undefined => {
  if (row === null || typeof row !== "object") return undefined
  const { finished_at, kind, path, seq, started_at, value } = row
  if (typeof path !== "string" || typeof value !== "string" || !isEntryKind(kind) || !Number.isSafeInteger(seq)) {
    return undefined
  }
  const startedAt = plainWhole(started_at)
  const finishedAt = plainWhole(finished_at)
  if (startedAt === null || finishedAt === null) return undefined
  return startedAt === undefined && finishedAt === undefined
    ? { path, kind, seq: seq as number, value }
    : { path, kind, seq: seq as number, value, startedAt, finishedAt }
}

/** An optional whole number column read by hand: undefined when absent, null when not plainly one. */
const plainWhole = (value: unknown): number | undefined | null => {
  if (value === null || value === undefined) return undefined
  const number = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN
  return Number.isSafeInteger(number) && (typeof value === "number" || /^-?\d+$/.test(value as string)) ? number : null
}

/** Reads one entry row with its Schema: the entry, or the corrupt row's error. */
const decodeEntry = (runId: string, row: unknown): JournalEntry | Result.Result<never, JournalError> => {
  const decoded = decodeEntryRow(row)
  if (Result.isFailure(decoded)) {
    const path = (row as { readonly path?: unknown } | null)?.path
    return Result.fail(
      corrupt(runId, typeof path === "string" ? path : undefined, `an entry row: ${decoded.failure.message}`)
    )
  }
  const { finished_at, kind, path, seq, started_at, value } = decoded.success
  if (!isEntryKind(kind)) return Result.fail(corrupt(runId, path, `unknown entry kind ${JSON.stringify(kind)}`))
  const startedAt = started_at ?? undefined
  const finishedAt = finished_at ?? undefined
  return startedAt === undefined && finishedAt === undefined
    ? { path, kind, seq, value }
    : { path, kind, seq, value, startedAt, finishedAt }
}

/** Reads the `run_id`, `workflow`, `due` rows of runs a statement woke. */
export const decodeWoken = (rows: ReadonlyArray<unknown>): ReadonlyArray<Woken> =>
  rows.flatMap((row) => {
    const decoded = decodeWokenRow(row)
    return Result.isSuccess(decoded)
      ? [{ runId: decoded.success.run_id, workflow: decoded.success.workflow, due: decoded.success.due }]
      : []
  })

/** The notification payload a statement sends with `pg_notify` (`k`: `r` runnable, `c` cancel requested, `d` released). */
const NotificationWire = Schema.Struct({
  k: Schema.Literals(["r", "c", "d"]),
  // The run id when it is short enough to travel, else null and `h` its digest (`notifiedRunId.ts`).
  r: Schema.NullOr(Schema.String),
  h: Schema.optional(Schema.NullOr(Schema.String)),
  w: Schema.optional(Schema.NullOr(Schema.String)),
  s: Schema.optional(Schema.NullOr(Schema.String)),
  due: Schema.optional(Schema.NullOr(Schema.Boolean))
})

const decodeNotificationWire = Schema.decodeUnknownResult(Schema.fromJsonString(NotificationWire))

/** The notifications a payload carries; none when it is not one of plait's (someone else's on the channel). */
export const notificationsOf = (payload: string): ReadonlyArray<Notification> => {
  const decoded = decodeNotificationWire(payload)
  if (Result.isFailure(decoded)) return []
  const wire = decoded.success
  const runId = receivedRunId(wire.r, wire.h)
  switch (wire.k) {
    case "r":
      return [{ _tag: "Runnable", runId, workflow: wire.w ?? "" }]
    case "c":
      return [{ _tag: "CancelRequested", runId }]
    case "d": {
      const status = RunStatus.is(wire.s) ? wire.s : "queued"
      const released: Notification = { _tag: "Released", runId, status }
      return wire.due === true ? [released, { _tag: "Runnable", runId, workflow: wire.w ?? "" }] : [released]
    }
  }
}

export const corrupt = (runId: string, path: string | undefined, detail: string): JournalError =>
  new JournalError(
    path === undefined ? { reason: "Corrupt", runId, detail } : { reason: "Corrupt", runId, path, detail }
  )
