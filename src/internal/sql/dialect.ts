/**
 * What a SQL dialect provides to `SqlJournal`: its migrations and, bound to one set of tables,
 * one statement per journal and run store operation (`Statements`). Each dialect keeps all of its
 * SQL in one file (`pg.ts`, `sqlite.ts`).
 *
 * `Statements` is derived from the contract (`Journal`, `RunStore`): an operation added there is
 * a compile error in each dialect until it has its statement, which takes the operation's own
 * arguments and returns the operation's own result, decoded from named columns (`wire.ts`).
 * `SqlJournal` sends every statement the same way (storage failures become `JournalError`
 * `Unavailable` naming the run, the operation timeout bounds it); only the few operations
 * listed in `Outcomes` return more than the contract's result, for what `SqlJournal` must do
 * after them (tell this process's subscribers, retry a race).
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { SqlError } from "effect/sql/SqlError"
import * as RunStatus from "../../RunStatus.ts"
import type { Acquired, Journal, RunInfo, SlotClaim } from "../../Journal.ts"
import type { RunStore } from "../../RunStore.ts"
import type { Exec, Operation } from "./statement.ts"
import type { Woken } from "./wire.ts"

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

type Contract = Journal["Service"] & RunStore["Service"]

type Success<F> = F extends (...args: ReadonlyArray<any>) => Effect.Effect<infer A, infer _E, infer _R> ? A : never
type Failure<F> = F extends (...args: ReadonlyArray<any>) => Effect.Effect<infer _A, infer E, infer _R> ? E : never

/** A run as a statement that may create it returns it; undefined when it raced with another creating it: try again. */
export type Created = { readonly run: RunInfo; readonly created: boolean } | undefined

/** What a release did: the run's workflow and status, whether it is due now, the parent it woke. */
export interface Released {
  readonly workflow: string
  readonly status: RunStatus.RunStatus
  readonly due: boolean
  readonly parent: Woken | undefined
}

/**
 * The operations whose statement returns more than the contract's result, and what it returns.
 * Every other operation's statement returns exactly the contract's result.
 */
export interface Outcomes {
  /** Undefined when the statement raced with another creating the run: try again. */
  readonly acquire: Acquired | undefined
  readonly create: Created
  /** `leaseLost` when the parent's lease is not current. */
  readonly startChild: Created | "leaseLost"
  /** False when the lease is no longer the run's: nothing was written. */
  readonly append: boolean
  /** Undefined when the lease was lost. */
  readonly release: Released | undefined
  /** Undefined when the lease was lost. */
  readonly acquireSlot: SlotClaim | undefined
  /** The waiters it woke. */
  readonly releaseSlot: ReadonlyArray<Woken>
  /** The run after the change, every run the cascade changed, and the parent the run's cancellation woke. */
  readonly cancel: {
    readonly run: Option.Option<RunInfo>
    readonly changed: ReadonlyArray<RunInfo>
    readonly parent: Woken | undefined
  }
  /** The run after the change, and every run the cascade made due. */
  readonly resume: { readonly run: Option.Option<RunInfo>; readonly resumed: ReadonlyArray<RunInfo> }
  /** Whether this call fired the tick, and whether it created the tick's run. */
  readonly fireSchedule: { readonly fired: boolean; readonly created: boolean }
}

/** What the statement of `operation` returns. */
export type Outcome<K extends Operation> = K extends keyof Outcomes ? Outcomes[K] : Success<Contract[K]>

/** One statement per operation, bound to a set of tables: the operation's arguments in, its outcome out. */
export type Statements = {
  readonly [K in Operation]: (
    exec: Exec,
    ...args: Parameters<Contract[K]>
  ) => Effect.Effect<Outcome<K>, SqlError | Failure<Contract[K]>>
}

export interface Dialect {
  readonly name: "pg" | "sqlite"
  /** How a transaction begins: every journal transaction writes. */
  readonly begin: string
  /** Postgres delivers notifications across processes; the others only within this process. */
  readonly notifiesAcrossProcesses: boolean
  /** Creates the migrations table; the migrations transaction then runs under `lockMigrations`. */
  readonly createMigrationsTable: (t: Tables) => string
  /** Statements run first in the migrations transaction (an advisory lock on Postgres). */
  readonly lockMigrations: (t: Tables) => ReadonlyArray<readonly [text: string, params: ReadonlyArray<unknown>]>
  /** Records a migration as applied: `(version, name)`. */
  readonly recordMigration: (t: Tables) => string
  /** The DDL of each migration, by version. */
  readonly migrations: Readonly<Record<number, (t: Tables) => ReadonlyArray<string>>>
  /** The statements, bound once to a set of tables. */
  readonly statements: (t: Tables) => Statements
}

/** `'runId', r.run_id, 'workflow', r.workflow, ...`: the arguments of a JSON object builder. */
export const jsonArguments = (
  fields: ReadonlyArray<readonly [key: string, column: string]>,
  column: (name: string) => string
): string => fields.map(([key, name]) => `'${key}', ${column(name)}`).join(", ")

/**
 * The statuses `acquire` takes a run in, as a SQL list: every status this version knows that is
 * not final. A status it does not know is not taken over (and overwritten): the run is read
 * back as it is, and its executor reports the status as corrupt.
 */
export const acquirable: string = RunStatus.all.filter((status) => !RunStatus.isFinal(status)).map((status) =>
  `'${status}'`
).join(", ")
