/**
 * What a SQL dialect provides to `SqlJournal`: its migrations and, for every journal and run
 * store operation, the statements that perform it. Each dialect keeps all of its SQL in one file
 * (`pg.ts`, `sqlite.ts`); `SqlJournal` runs them, decodes rows and maps errors.
 *
 * Every statement that returns runs returns each as one JSON text column built by the dialect
 * (`runJson`), so one decoder reads runs from every statement of every dialect.
 */
import type * as Effect from "effect/Effect"
import type { SqlError } from "effect/sql/SqlError"
import type { JournalEntry, Lease, Release, RunRecord, SlotRequest } from "../../Journal.ts"
import * as RunStatus from "../../RunStatus.ts"
import type { ClaimRequest, Delivery, Firing, ListFilter, ScheduleRecord } from "../../RunStore.ts"
import type { Cursor } from "../listing.ts"

/** The journal's tables, quoted, for one prefix. */
export interface Tables {
  readonly prefix: string
  readonly runs: string
  readonly entries: string
  readonly migrations: string
  /** Concurrency slots held: `(key, run_id, path)` and the holder's lease token. */
  readonly slots: string
  /** Runs waiting for a slot of a key. */
  readonly slotWaiters: string
  readonly schedules: string
  /** The `LISTEN`/`NOTIFY` channel of this prefix (Postgres). */
  readonly channel: string
}

/**
 * The tables of the journal under `prefix`. The prefix has been checked to be a plain identifier
 * (`JournalOptions.tablePrefix`).
 */
export const tables = (prefix: string): Tables => ({
  prefix,
  runs: `"${prefix}runs"`,
  entries: `"${prefix}entries"`,
  migrations: `"${prefix}migrations"`,
  slots: `"${prefix}slots"`,
  slotWaiters: `"${prefix}slot_waiters"`,
  schedules: `"${prefix}schedules"`,
  channel: `${prefix}events`.toLowerCase()
})

/** A journal or run store operation, as counted in round trips. */
export type Operation =
  | "acquire"
  | "load"
  | "append"
  | "heartbeat"
  | "release"
  | "create"
  | "get"
  | "claim"
  | "deliver"
  | "cancel"
  | "resume"
  | "list"
  | "counts"
  | "nextDue"
  | "startChild"
  | "acquireSlot"
  | "releaseSlot"
  | "saveSchedule"
  | "removeSchedule"
  | "listSchedules"
  | "dueSchedules"
  | "fireSchedule"

export type Rows = ReadonlyArray<ReadonlyArray<unknown>>

/** Runs statements for a dialect, counting round trips. */
export interface Exec {
  readonly query: (operation: Operation, text: string, params: ReadonlyArray<unknown>) => Effect.Effect<Rows, SqlError>
  /** Runs `effect` in one transaction; `BEGIN` and `COMMIT` count as round trips of `operation`. */
  readonly transaction: <A>(operation: Operation, effect: Effect.Effect<A, SqlError>) => Effect.Effect<A, SqlError>
}

/** A run as a dialect returns it: the JSON text of its row (see `decodeRunJson`). */
export type RunJson = unknown

/** A schedule as a dialect returns it: the JSON text of its row. */
export type ScheduleJson = unknown

export interface AcquireResult {
  readonly run: RunJson
  readonly acquired: boolean
  readonly created: boolean
  /** When not acquired: the run's entry rows, as `load` returns them. */
  readonly entries?: Rows | undefined
}

/** A run a claim took, and its entry rows as `load` returns them, or undefined when unread. */
export interface ClaimedRow {
  readonly run: RunJson
  readonly entries: Rows | undefined
}

export interface LoadResult {
  readonly run: RunJson | undefined
  /** `[path, kind, value, seq, startedAt, finishedAt]` per entry. */
  readonly entries: Rows
}

/** A run a statement woke (a parent, a slot waiter): due now if it was waiting. */
export interface Woken {
  readonly runId: string
  readonly workflow: string
  readonly due: boolean
}

export interface Dialect {
  readonly name: "pg" | "sqlite"
  /** Creates the migrations table; the migrations transaction then runs under `lockMigrations`. */
  readonly createMigrationsTable: (t: Tables) => string
  /** Statements run first in the migrations transaction (an advisory lock on Postgres). */
  readonly lockMigrations: (t: Tables) => ReadonlyArray<readonly [text: string, params: ReadonlyArray<unknown>]>
  readonly recordMigration: (t: Tables) => string
  /** The DDL of each migration, by version. */
  readonly migrations: Readonly<Record<number, (t: Tables) => ReadonlyArray<string>>>

  /** Undefined when the statement raced with another creating the run: try again. */
  readonly acquire: (
    exec: Exec,
    t: Tables,
    run: RunRecord,
    options: {
      readonly owner: string
      readonly leaseMs: number
      readonly anyFingerprint: boolean
      readonly reclaim: boolean
    }
  ) => Effect.Effect<AcquireResult | undefined, SqlError>
  readonly load: (exec: Exec, t: Tables, runId: string) => Effect.Effect<LoadResult, SqlError>
  /** False when the lease is no longer the run's: nothing was written. */
  readonly append: (
    exec: Exec,
    t: Tables,
    lease: Lease,
    entries: ReadonlyArray<JournalEntry>
  ) => Effect.Effect<boolean, SqlError>
  /** `[runId, cancelRequested, error]` for every lease still held. */
  readonly heartbeat: (
    exec: Exec,
    t: Tables,
    owner: string,
    leases: ReadonlyArray<Lease>,
    leaseMs: number
  ) => Effect.Effect<Rows, SqlError>
  /**
   * The released run's workflow, status, whether it is due now, and its parent if the release
   * (as finished) woke it; undefined when the lease was lost.
   */
  readonly release: (
    exec: Exec,
    t: Tables,
    lease: Lease,
    release: Release
  ) => Effect.Effect<
    {
      readonly workflow: string
      readonly status: string
      readonly due: boolean
      readonly parent: Woken | undefined
    } | undefined,
    SqlError
  >
  /**
   * The child as stored and whether this call created it; `leaseLost` when the parent's lease
   * is not current; undefined when the statement raced with another creating the child.
   */
  readonly startChild: (
    exec: Exec,
    t: Tables,
    lease: Lease,
    child: RunRecord
  ) => Effect.Effect<{ readonly run: RunJson; readonly created: boolean } | "leaseLost" | undefined, SqlError>
  /** Undefined when the lease was lost; else whether a slot was taken, and the earliest live holder's lease expiry. */
  readonly acquireSlot: (
    exec: Exec,
    t: Tables,
    lease: Lease,
    request: SlotRequest
  ) => Effect.Effect<{ readonly acquired: boolean; readonly retryAt: number | undefined } | undefined, SqlError>
  /** The waiters it woke. */
  readonly releaseSlot: (
    exec: Exec,
    t: Tables,
    lease: Lease,
    request: SlotRequest
  ) => Effect.Effect<ReadonlyArray<Woken>, SqlError>
  readonly saveSchedule: (exec: Exec, t: Tables, schedule: ScheduleRecord) => Effect.Effect<ScheduleJson, SqlError>
  readonly removeSchedule: (exec: Exec, t: Tables, id: string) => Effect.Effect<boolean, SqlError>
  readonly listSchedules: (
    exec: Exec,
    t: Tables,
    workflow: string | undefined
  ) => Effect.Effect<ReadonlyArray<ScheduleJson>, SqlError>
  /** The store's time, and every schedule of these workflows. */
  readonly schedulesOf: (
    exec: Exec,
    t: Tables,
    workflows: ReadonlyArray<string>
  ) => Effect.Effect<{ readonly now: number; readonly schedules: ReadonlyArray<ScheduleJson> }, SqlError>
  /** Whether this call fired the tick, and the run it created (when it created one). */
  readonly fireSchedule: (
    exec: Exec,
    t: Tables,
    firing: Firing
  ) => Effect.Effect<{ readonly fired: boolean; readonly created: boolean }, SqlError>

  /** Undefined when the statement raced with another creating the run: try again. */
  readonly create: (
    exec: Exec,
    t: Tables,
    run: RunRecord
  ) => Effect.Effect<{ readonly run: RunJson; readonly created: boolean } | undefined, SqlError>
  readonly get: (exec: Exec, t: Tables, runId: string) => Effect.Effect<RunJson | undefined, SqlError>
  /** Claimed runs, each with its entry rows when the statement read them consistently with the claim. */
  readonly claim: (exec: Exec, t: Tables, request: ClaimRequest) => Effect.Effect<ReadonlyArray<ClaimedRow>, SqlError>
  readonly deliver: (exec: Exec, t: Tables, runId: string, entry: JournalEntry) => Effect.Effect<Delivery, SqlError>
  /**
   * The run after the change (undefined when missing), every run the cascade changed, and the
   * parent the run's cancellation woke.
   */
  readonly cancel: (
    exec: Exec,
    t: Tables,
    runId: string,
    reason: string
  ) => Effect.Effect<
    { readonly run: RunJson | undefined; readonly changed: ReadonlyArray<RunJson>; readonly parent: Woken | undefined },
    SqlError
  >
  /** The run after the change (undefined when missing), and every run the cascade made due. */
  readonly resume: (
    exec: Exec,
    t: Tables,
    runId: string
  ) => Effect.Effect<{ readonly run: RunJson | undefined; readonly resumed: ReadonlyArray<RunJson> }, SqlError>
  readonly list: (
    exec: Exec,
    t: Tables,
    filter: ListFilter,
    after: Cursor | undefined,
    limit: number
  ) => Effect.Effect<ReadonlyArray<RunJson>, SqlError>
  /** `[status, count]` rows. */
  readonly counts: (exec: Exec, t: Tables, workflow: string | undefined) => Effect.Effect<Rows, SqlError>
  readonly nextDue: (
    exec: Exec,
    t: Tables,
    workflows: ReadonlyArray<string>
  ) => Effect.Effect<number | undefined, SqlError>
  /** Postgres delivers notifications across processes; the others only within this process. */
  readonly notifiesAcrossProcesses: boolean
}

/** The fields of a run's JSON, in the order both dialects build them. */
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

/** `'runId', r.run_id, 'workflow', r.workflow, ...`: the arguments of a JSON object builder. */
export const runJsonArguments = (qualifier: string): string => jsonArguments(runJsonFields, qualifier)

/** The fields of a schedule's JSON, in the order both dialects build them. */
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

export const scheduleJsonArguments = (qualifier: string): string => jsonArguments(scheduleJsonFields, qualifier)

const jsonArguments = (fields: ReadonlyArray<readonly [key: string, column: string]>, qualifier: string) =>
  fields.map(([key, column]) => `'${key}', ${qualifier}${column}`).join(", ")

/** Reads the rows `[run_id, workflow, due]` of runs a statement woke. */
export const wokenRows = (rows: Rows): ReadonlyArray<Woken> =>
  rows.map((row) => ({ runId: String(row[0]), workflow: String(row[1]), due: row[2] === true || Number(row[2]) === 1 }))

/** The notification payload a dialect sends with `pg_notify`, read back by `SqlJournal`. */
export interface NotificationWire {
  /** `r` runnable, `c` cancel requested, `d` released. */
  readonly k: "r" | "c" | "d"
  /** The run id when it is short enough to travel, else null and `h` its digest (`notifiedRunId.ts`). */
  readonly r: string | null
  readonly h?: string | null
  readonly w?: string
  readonly s?: string
}

/** Splits the rows of a load (`0` then the run's JSON; `1` then an entry's columns) into the run and its entries. */
export const splitLoad = (rows: Rows): LoadResult => {
  const entries: Array<ReadonlyArray<unknown>> = []
  let run: unknown
  for (const row of rows) {
    if (Number(row[0]) === 0) run = row[7]
    else entries.push(row.slice(1, 7))
  }
  return { run, entries }
}

/**
 * The statuses `acquire` takes a run in, as a SQL list: every status this version knows that is
 * not final. A status it does not know is not taken over (and overwritten): the run is read
 * back as it is, and its executor reports the status as corrupt.
 */
export const acquirable: string = RunStatus.all.filter((status) => !RunStatus.isFinal(status)).map((status) =>
  `'${status}'`
).join(
  ", "
)
