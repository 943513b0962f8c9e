/**
 * The journal and run store over any `effect/sql` `SqlClient` whose dialect is Postgres or
 * SQLite.
 *
 * Two tables hold everything: `plait_runs` (one row per run: its record, status, lease and wake
 * time) and `plait_entries` (one row per entry, keyed by `(run_id, path, kind, seq)`). Their
 * migrations ship with the library and run when the journal is built, or on demand with
 * {@link migrate}. Each dialect's statements live in one place (`internal/sql/pg.ts`,
 * `internal/sql/sqlite.ts`).
 *
 * What the journal's operations cost on Postgres: one statement each. `acquire` is an upsert
 * that creates the run leased or takes its lease; `load` returns the run row and all its entries;
 * `append` writes one entry (scalar parameters) or a batch of any size (`unnest` of arrays) only
 * while the lease token is current; `heartbeat` renews every lease of an executor; `release`
 * records where the run stands. On SQLite, where statements do not cross a network, a few
 * operations take two or three statements in one transaction.
 *
 * Storage failures become `JournalError` with reason `Unavailable`, naming the run; the
 * `SqlError` is kept as the cause. So does an operation that does not finish within
 * `operationTimeout` (waiting for a pooled connection has no limit of its own).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { makeDeadline } from "./internal/deadline.ts"
import { isEntryKind } from "./internal/entry.ts"
import * as JournalOptions from "./internal/journalOptions.ts"
import { receivedRunId } from "./internal/notifiedRunId.ts"
import { decodeCursor, pageLimit } from "./internal/listing.ts"
import { cursorOf } from "./internal/listing.ts"
import { dueOf } from "./internal/schedule.ts"
import {
  type Dialect,
  type Exec,
  type NotificationWire,
  type Operation as DialectOperation,
  type Tables,
  tables,
  type Woken
} from "./internal/sql/dialect.ts"
import { pg } from "./internal/sql/pg.ts"
import { sqlite } from "./internal/sql/sqlite.ts"
import { withBounds } from "./internal/storeBounds.ts"
import * as Journal from "./Journal.ts"
import * as RunStatus from "./RunStatus.ts"
import {
  type Claimed,
  type MissedTicks,
  type Notification,
  RunStore,
  type ScheduleInfo,
  type StatusCounts
} from "./RunStore.ts"

/**
 * How a SQL journal is set up.
 *
 * @example
 * ```ts
 * import { SqliteJournal, SqlJournal } from "plait"
 *
 * const options: SqlJournal.Options = {
 *   tablePrefix: "billing_", // billing_runs, billing_entries, billing_migrations
 *   migrate: false // applied at deploy time with `SqlJournal.migrate` instead
 * }
 *
 * const JournalLive = SqliteJournal.layer({ filename: "billing.sqlite", ...options })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Prefix of the journal's table names: `<prefix>runs`, `<prefix>entries`,
   * `<prefix>migrations`. Letters, digits and `_`, at most 40 characters. Defaults to `plait_`.
   */
  readonly tablePrefix?: string | undefined
  /** Run pending migrations when the journal is built. Defaults to `true`. */
  readonly migrate?: boolean | undefined
  /** Counts the statements the journal sends, for benchmarks. Off (and free) when absent. */
  readonly roundTrips?: RoundTrips | undefined
  /**
   * Postgres: hear every process's changes (runs started, signalled, resumed, released,
   * cancelled) through `LISTEN`/`NOTIFY`, so idle workers and `Engine.await` wake at once.
   * Defaults to `true`. With `false` this process opens no `LISTEN` connection and learns of
   * other processes' changes only by polling, as on SQLite (its own changes still reach its
   * subscribers); the statements still send `NOTIFY` for processes that listen. Ignored on SQLite.
   */
  readonly listen?: boolean | undefined
  /**
   * The largest value, in UTF-8 bytes, the journal stores: a step output, a signal payload, a
   * failure, a run input. A larger one is refused with `JournalError` reason `TooLarge`, naming
   * the run and the path. Defaults to `Journal.defaultMaxPayloadBytes` (8 MiB); at most 1 GB.
   */
  readonly maxPayloadBytes?: number | undefined
  /**
   * How long one journal or run store operation may take, waiting for a pooled connection
   * included, before it fails with `JournalError` reason `Unavailable`. A connection pool makes
   * a caller wait for a free connection with no limit; this is that limit. Defaults to 30 seconds.
   */
  readonly operationTimeout?: Duration.Input | undefined
}

/**
 * A journal or run store operation, as counted by {@link RoundTrips}.
 *
 * @example
 * ```ts
 * import { SqlJournal } from "plait"
 *
 * const roundTrips = SqlJournal.makeRoundTrips()
 * const operations: ReadonlyArray<SqlJournal.Operation> = ["acquire", "load", "append", "release"]
 *
 * // After a workload: "acquire 1, load 0, append 3, release 1".
 * const report = () => operations.map((operation) => `${operation} ${roundTrips.of(operation)}`).join(", ")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = DialectOperation

/**
 * Counts the round trips a journal makes: every statement it sends and waits for, with
 * `BEGIN` and `COMMIT` counted when it opens a transaction. Pass one in
 * {@link Options.roundTrips}; read it after a workload.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * // Logs the round trips a workload costs, given the counter its journal was built with.
 * const measured = (roundTrips: SqlJournal.RoundTrips) => <A, E, R>(workload: Effect.Effect<A, E, R>) =>
 *   Effect.gen(function*() {
 *     roundTrips.reset()
 *     const result = yield* workload
 *     yield* Effect.log(`${roundTrips.total} round trips, ${roundTrips.of("append")} for appends`)
 *     return result
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RoundTrips {
  /** Round trips since creation or the last `reset`. */
  readonly total: number
  /** Round trips of one operation since creation or the last `reset`. */
  readonly of: (operation: Operation) => number
  /** Adds round trips of an operation; the journal calls this. */
  readonly record: (operation: Operation, count: number) => void
  readonly reset: () => void
}

/**
 * One schema migration shipped with the library.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * const describe = (migration: SqlJournal.Migration) => `${migration.version}_${migration.name}`
 *
 * const program = SqlJournal.migrate().pipe(
 *   Effect.flatMap((applied) => Effect.forEach(applied, (migration) => Effect.log(`applied ${describe(migration)}`)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Migration {
  readonly version: number
  readonly name: string
}

/**
 * Creates a round-trip counter.
 *
 * @example
 * ```ts
 * import { SqlJournal } from "plait"
 *
 * const roundTrips = SqlJournal.makeRoundTrips()
 * const journal = SqlJournal.layer({ roundTrips })
 * // ... run a workload, then:
 * console.log(roundTrips.total, roundTrips.of("append"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRoundTrips = (): RoundTrips => {
  const counts = new Map<Operation, number>()
  let total = 0
  return {
    get total() {
      return total
    },
    of: (operation) => counts.get(operation) ?? 0,
    record: (operation, count) => {
      counts.set(operation, (counts.get(operation) ?? 0) + count)
      total += count
    },
    reset: () => {
      counts.clear()
      total = 0
    }
  }
}

/**
 * The migrations this version of the library ships, oldest first.
 *
 * @example
 * ```ts
 * import { SqlJournal } from "plait"
 *
 * // The schema version this build expects, for a readiness check against `<prefix>migrations`.
 * const expectedVersion = Math.max(...SqlJournal.migrations.map((migration) => migration.version))
 * ```
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrations: ReadonlyArray<Migration> = [
  { version: 1, name: "create_runs_and_entries" },
  { version: 2, name: "leases_wake_times_and_claims" },
  { version: 3, name: "children_slots_and_schedules" }
]

/**
 * Brings the journal's tables up to date, creating them if needed, and returns the migrations
 * it applied (none when already current). Concurrent callers serialize: a Postgres advisory
 * lock, or SQLite's write lock (`BEGIN IMMEDIATE`), is held for the whole transaction.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * // With `migrate: false` on the layer, run this once at deploy time instead.
 * const program = SqlJournal.migrate({ tablePrefix: "plait_" }).pipe(
 *   Effect.tap((applied) => Effect.log(`applied ${applied.length} migrations`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrate: (
  options?: Pick<Options, "tablePrefix">
) => Effect.Effect<ReadonlyArray<Migration>, SqlError | Journal.InvalidOption, SqlClient.SqlClient> = Effect.fn(
  "SqlJournal.migrate"
)(
  function*(options?: Pick<Options, "tablePrefix">) {
    const t = tables(yield* JournalOptions.tablePrefix(options?.tablePrefix))
    const sql = yield* SqlClient.SqlClient
    const dialect = yield* dialectOf(sql)
    const run = (text: string, params: ReadonlyArray<unknown> = []) => sql.unsafe(text, params).unprepared
    const transaction = Effect.gen(function*() {
      for (const [text, params] of dialect.lockMigrations(t)) yield* run(text, params)
      yield* run(dialect.createMigrationsTable(t))
      const rows = yield* sql.unsafe(`SELECT version FROM ${t.migrations}`).values
      const done = new Set(rows.map((row) => Number(row[0])))
      const applied: Array<Migration> = []
      for (const migration of migrations) {
        if (done.has(migration.version)) continue
        for (const statement of dialect.migrations[migration.version]!(t)) yield* run(statement)
        yield* run(dialect.recordMigration(t), [migration.version, migration.name])
        applied.push(migration)
      }
      return applied
    })
    return yield* sql.withTransaction(transaction).pipe(
      Effect.provideService(SqlClient.BeginTransaction, beginFor(dialect))
    )
  }
)

/**
 * Builds the journal and the run store over the `SqlClient` in context, migrating first unless
 * `migrate: false`. Use it to share one instance by hand; {@link layer} is the usual way in.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlJournal } from "plait"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const { journal } = yield* SqlJournal.make({ tablePrefix: "plait_" })
 *   return yield* journal.load("run-1")
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<
  { readonly journal: Journal.Journal["Service"]; readonly store: RunStore["Service"] },
  SqlError | Journal.InvalidOption,
  SqlClient.SqlClient | Scope.Scope
> = Effect.fnUntraced(function*(options?: Options) {
  const checked = yield* JournalOptions.sqlOptions(options)
  const t = tables(checked.tablePrefix)
  const sql = yield* SqlClient.SqlClient
  const dialect = yield* dialectOf(sql)
  if (options?.migrate !== false) yield* migrate({ tablePrefix: t.prefix })
  if (dialect.name === "sqlite") yield* sql.unsafe("PRAGMA foreign_keys = ON").unprepared
  const exec = makeExec(sql, dialect, options?.roundTrips)
  const listens = dialect.notifiesAcrossProcesses && options?.listen !== false
  const hub = yield* makeHub(sql, listens, t)
  const deadline = yield* makeDeadline(checked.operationTimeout)

  const failWith = (runId: string, operation: string) => (error: SqlError) => unavailable(runId, operation)(error)
  const run = (runId: string, json: unknown) => decodeRun(runId, json)

  // On Postgres a concurrent creator can commit the run after this statement's snapshot: the
  // insert does nothing and the read sees no run. The next statement sees it.
  const retryingRace = <A>(runId: string, operation: string, attempt: Effect.Effect<A | undefined, SqlError>) =>
    Effect.flatMap(
      Effect.mapError(
        Effect.repeat(attempt, { until: (result) => result !== undefined, times: 2 }),
        failWith(runId, operation)
      ),
      (result) =>
        result === undefined
          ? Effect.fail(
            new Journal.JournalError({ reason: "Unavailable", runId, detail: `${operation} did not see the run` })
          )
          : Effect.succeed(result)
    )

  const announceWoken = (woken: ReadonlyArray<Woken>) => {
    for (const run of woken) if (run.due) hub.local({ _tag: "Runnable", runId: run.runId, workflow: run.workflow })
  }

  const journal = Journal.Journal.of({
    acquire: (record, options) =>
      Effect.flatMap(
        retryingRace(
          record.runId,
          "acquire",
          dialect.acquire(exec, t, record, {
            owner: options.owner,
            leaseMs: options.leaseMs,
            anyFingerprint: options.anyFingerprint === true,
            reclaim: options.reclaim === true
          })
        ),
        (result) =>
          Effect.flatMap(run(record.runId, result.run), (info) =>
            result.entries === undefined
              ? Effect.succeed<Journal.Acquired>({
                run: info,
                lease: result.acquired
                  ? { runId: record.runId, owner: options.owner, token: info.leaseToken }
                  : undefined,
                created: result.created
              })
              : Effect.map(decodeEntries(record.runId, result.entries), (entries): Journal.Acquired => ({
                run: info,
                lease: undefined,
                created: false,
                entries
              })))
      ),
    load: (runId) =>
      Effect.flatMap(
        Effect.mapError(dialect.load(exec, t, runId), failWith(runId, "load")),
        ({ entries, run: json }) => {
          if (json === undefined || json === null) {
            return entries.length === 0
              ? Effect.succeedNone
              : Effect.fail(corrupt(runId, undefined, "entries exist without their run row"))
          }
          return Effect.flatMap(run(runId, json), (info) =>
            Effect.map(decodeEntries(runId, entries), (decoded) => Option.some({ run: info, entries: decoded })))
        }
      ),
    append: (lease, entries) =>
      entries.length === 0
        ? Effect.void
        : Effect.matchEffect(dialect.append(exec, t, lease, entries), {
          onFailure: (error) => explain(lease.runId, "append", error),
          onSuccess: (held) => (held ? Effect.void : Effect.fail(leaseLost(lease)))
        }),
    heartbeat: (owner, leases, leaseMs) =>
      leases.length === 0
        ? Effect.succeed([])
        : Effect.map(
          Effect.mapError(dialect.heartbeat(exec, t, owner, leases, leaseMs), failWith(leases[0]!.runId, "heartbeat")),
          (rows) => {
            const held = new Map(rows.map((row) => [String(row[0]), row]))
            return leases.map((lease): Journal.LeaseState => {
              const row = held.get(lease.runId)
              const cancelRequested = row !== undefined && (row[1] === true || Number(row[1]) === 1)
              return {
                runId: lease.runId,
                held: row !== undefined,
                cancelRequested,
                cancelReason: cancelRequested && typeof row![2] === "string" ? row![2] : undefined
              }
            })
          }
        ),
    release: (lease, release) =>
      Effect.flatMap(
        Effect.mapError(dialect.release(exec, t, lease, release), failWith(lease.runId, "release")),
        (released) => {
          if (released === undefined) return Effect.fail(leaseLost(lease))
          hub.local({ _tag: "Released", runId: lease.runId, status: released.status as RunStatus.RunStatus })
          if (released.due) hub.local({ _tag: "Runnable", runId: lease.runId, workflow: released.workflow })
          announceWoken(released.parent === undefined ? [] : [released.parent])
          return Effect.void
        }
      ),
    startChild: (lease, child) =>
      Effect.flatMap(retryingRace(child.runId, "startChild", dialect.startChild(exec, t, lease, child)), (
        result
      ): Effect.Effect<
        { readonly run: Journal.RunInfo; readonly created: boolean },
        Journal.JournalError | Journal.LeaseLost
      > =>
        result === "leaseLost"
          ? Effect.fail(leaseLost(lease))
          : Effect.map(run(child.runId, result.run), (info) => {
            if (result.created) hub.local({ _tag: "Runnable", runId: info.runId, workflow: info.workflow })
            return { run: info, created: result.created }
          })),
    acquireSlot: (lease, request) =>
      Effect.flatMap(
        Effect.mapError(dialect.acquireSlot(exec, t, lease, request), failWith(lease.runId, "acquireSlot")),
        (claim): Effect.Effect<Journal.SlotClaim, Journal.LeaseLost> =>
          claim === undefined
            ? Effect.fail(leaseLost(lease))
            : Effect.succeed(claim.acquired ? { acquired: true } : { acquired: false, retryAt: claim.retryAt })
      ),
    releaseSlot: (lease, request) =>
      Effect.map(
        Effect.mapError(dialect.releaseSlot(exec, t, lease, request), failWith(lease.runId, "releaseSlot")),
        announceWoken
      )
  })

  const store = RunStore.of({
    create: (record) =>
      Effect.flatMap(
        retryingRace(record.runId, "create", dialect.create(exec, t, record)),
        (result) =>
          Effect.map(run(record.runId, result.run), (info) => {
            if (result.created) hub.local({ _tag: "Runnable", runId: info.runId, workflow: info.workflow })
            return { run: info, created: result.created }
          })
      ),
    get: (runId) =>
      Effect.flatMap(
        Effect.mapError(dialect.get(exec, t, runId), failWith(runId, "get")),
        (json) => json === undefined ? Effect.succeedNone : Effect.map(run(runId, json), Option.some)
      ),
    claim: (request) =>
      Effect.flatMap(
        Effect.mapError(dialect.claim(exec, t, request), failWith(request.owner, "claim")),
        (rows) =>
          Effect.forEach(rows, (row) =>
            Effect.flatMap(run(request.owner, row.run), (info) =>
              Effect.map(
                row.entries === undefined ? Effect.succeed(undefined) : decodeEntries(info.runId, row.entries),
                (entries): Claimed => ({
                  run: info,
                  lease: { runId: info.runId, owner: request.owner, token: info.leaseToken },
                  entries
                })
              )))
      ),
    deliver: (runId, entry) =>
      Effect.flatMap(
        Effect.mapError(dialect.deliver(exec, t, runId, entry), failWith(runId, "deliver")),
        (delivery) =>
          delivery !== "delivered" || listens
            ? Effect.succeed(delivery)
            : Effect.map(store.get(runId), (info) => {
              if (Option.isSome(info) && info.value.status === "waiting") {
                hub.local({ _tag: "Runnable", runId, workflow: info.value.workflow })
              }
              return delivery
            })
      ),
    cancel: (runId, reason) =>
      Effect.flatMap(
        Effect.mapError(dialect.cancel(exec, t, runId, reason), failWith(runId, "cancel")),
        (result) =>
          Effect.gen(function*() {
            for (const json of result.changed) {
              const info = yield* run(runId, json)
              if (info.status === "cancelled") hub.local({ _tag: "Released", runId: info.runId, status: "cancelled" })
              else if (info.owner === undefined) {
                hub.local({ _tag: "Runnable", runId: info.runId, workflow: info.workflow })
              } else hub.local({ _tag: "CancelRequested", runId: info.runId })
            }
            announceWoken(result.parent === undefined ? [] : [result.parent])
            return result.run === undefined ? Option.none() : Option.some(yield* run(runId, result.run))
          })
      ),
    resume: (runId) =>
      Effect.flatMap(
        Effect.mapError(dialect.resume(exec, t, runId), failWith(runId, "resume")),
        (result) =>
          Effect.gen(function*() {
            for (const json of result.resumed) {
              const info = yield* run(runId, json)
              hub.local({ _tag: "Runnable", runId: info.runId, workflow: info.workflow })
            }
            return result.run === undefined ? Option.none() : Option.some(yield* run(runId, result.run))
          })
      ),
    list: (filter) => {
      const after = decodeCursor(filter.cursor)
      if (filter.cursor !== undefined && filter.cursor !== "" && after === undefined) {
        return Effect.fail(
          corrupt("(list)", undefined, `the cursor ${JSON.stringify(filter.cursor)} is not one list returned`)
        )
      }
      const limit = pageLimit(filter.limit)
      return Effect.flatMap(
        Effect.mapError(dialect.list(exec, t, filter, after, limit + 1), failWith("(list)", "list")),
        (rows) =>
          Effect.map(Effect.forEach(rows.slice(0, limit), (json) => run("(list)", json)), (runs) => ({
            runs,
            next: rows.length > limit ? cursorOf(runs[runs.length - 1]!) : undefined
          }))
      )
    },
    counts: (filter) =>
      Effect.map(Effect.mapError(dialect.counts(exec, t, filter?.workflow), failWith("(counts)", "counts")), (rows) => {
        const counts = Object.fromEntries(RunStatus.all.map((status) => [status, 0])) as Record<
          RunStatus.RunStatus,
          number
        >
        for (const [status, count] of rows) {
          if (typeof status === "string" && status in counts) counts[status as RunStatus.RunStatus] = Number(count)
        }
        return counts as StatusCounts
      }),
    nextDue: (workflows) =>
      Effect.map(
        Effect.mapError(dialect.nextDue(exec, t, workflows), failWith("(nextDue)", "nextDue")),
        Option.fromNullishOr
      ),
    subscribe: hub.subscribe,
    saveSchedule: (schedule) =>
      Effect.flatMap(
        Effect.mapError(dialect.saveSchedule(exec, t, schedule), failWith(schedule.id, "saveSchedule")),
        (json) => decodeSchedule(schedule.id, json)
      ),
    removeSchedule: (id) => Effect.mapError(dialect.removeSchedule(exec, t, id), failWith(id, "removeSchedule")),
    listSchedules: (filter) =>
      Effect.flatMap(
        Effect.mapError(dialect.listSchedules(exec, t, filter?.workflow), failWith("(schedules)", "listSchedules")),
        (rows) => Effect.forEach(rows, (json) => decodeSchedule("(schedules)", json))
      ),
    dueSchedules: (workflows) =>
      Effect.flatMap(
        Effect.mapError(dialect.schedulesOf(exec, t, workflows), failWith("(schedules)", "dueSchedules")),
        ({ now, schedules }) =>
          Effect.map(Effect.forEach(schedules, (json) => decodeSchedule("(schedules)", json)), (decoded) =>
            dueOf(now, decoded))
      ),
    fireSchedule: (firing) =>
      Effect.map(
        Effect.mapError(dialect.fireSchedule(exec, t, firing), failWith(firing.id, "fireSchedule")),
        (result) => {
          if (result.created && firing.run !== undefined) {
            hub.local({ _tag: "Runnable", runId: firing.run.runId, workflow: firing.run.workflow })
          }
          return result.fired
        }
      )
  })

  // A constraint failure on append is a missing run (the foreign key) or a malformed entry;
  // only the failure path pays for telling them apart.
  const explain = (runId: string, operation: string, error: SqlError) =>
    error.reason._tag === "ConstraintError"
      ? Effect.flatMap(Effect.option(store.get(runId)), (found) =>
        Effect.fail(
          Option.isSome(found) && Option.isNone(found.value) ? missingRun(runId) : unavailable(runId, operation)(error)
        ))
      : Effect.fail(unavailable(runId, operation)(error))

  return withBounds({ journal, store }, { maxPayloadBytes: checked.maxPayloadBytes, deadline })
})

/**
 * The journal and run store as a layer over the `SqlClient` in context.
 *
 * @example
 * ```ts
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer, Redacted } from "effect"
 * import { SqlJournal } from "plait"
 *
 * const JournalLive = SqlJournal.layer({ tablePrefix: "plait_" }).pipe(
 *   Layer.provide(PgClient.layer({ url: Redacted.make("postgres://localhost/app") }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Options
): Layer.Layer<Journal.Journal | RunStore, SqlError | Journal.InvalidOption, SqlClient.SqlClient> =>
  Layer.effectContext(
    Effect.map(
      make(options),
      ({ journal, store }) => Context.make(Journal.Journal, journal).pipe(Context.add(RunStore, store))
    )
  )

// internal

const dialectOf = (sql: SqlClient.SqlClient): Effect.Effect<Dialect> =>
  sql.onDialectOrElse({
    pg: () => Effect.succeed(pg),
    sqlite: () => Effect.succeed(sqlite),
    orElse: () => Effect.die(new Error("SqlJournal supports Postgres and SQLite clients only"))
  })

const beginFor = (dialect: Dialect) => (dialect.name === "pg" ? "BEGIN" : "BEGIN IMMEDIATE")

const makeExec = (sql: SqlClient.SqlClient, dialect: Dialect, counter: RoundTrips | undefined): Exec => ({
  query: (operation, text, params) =>
    counter === undefined ? sql.unsafe(text, params).values : Effect.suspend(() => {
      counter.record(operation, 1)
      return sql.unsafe(text, params).values
    }),
  transaction: (operation, effect) => {
    const transaction = sql.withTransaction(effect).pipe(
      Effect.provideService(SqlClient.BeginTransaction, beginFor(dialect))
    )
    return counter === undefined
      ? transaction
      : Effect.andThen(Effect.sync(() => counter.record(operation, 2)), transaction)
  }
})

/**
 * Notifications to this process's subscribers. When `listens` (Postgres, unless switched off)
 * they arrive through one shared `LISTEN` connection, opened on the first subscription and
 * reopened if it drops, and carry every process's changes; otherwise the journal announces its
 * own changes in process.
 */
const makeHub = (sql: SqlClient.SqlClient, listens: boolean, t: Tables) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const subscribers = new Set<Queue.Queue<Notification>>()
    const publish = (notification: Notification) => {
      for (const queue of subscribers) Queue.offerUnsafe(queue, notification)
    }
    const listen = (sql as Partial<
      {
        listen: (
          channel: string
        ) => Effect.Effect<Queue.Dequeue<{ readonly payload: string }, SqlError>, SqlError, Scope.Scope>
      }
    >).listen
    let listening = false
    const ready = yield* Deferred.make<void>()
    // Subscribers wait for the first `LISTEN` to be confirmed (so they miss nothing sent after
    // they subscribed), but not forever: while Postgres is unreachable, polling covers.
    const startListening = Effect.suspend(() => {
      if (!listens || listen === undefined) return Effect.void
      if (!listening) {
        listening = true
        const loop = Effect.scoped(Effect.flatMap(listen(t.channel), (queue) =>
          Effect.andThen(
            Deferred.succeed(ready, undefined),
            Effect.forever(Effect.flatMap(Queue.take(queue), (message) =>
              Effect.sync(() => {
                for (const notification of fromWire(message.payload)) publish(notification)
              })))
          )))
        const retried = Effect.retry(
          loop,
          Schedule.exponential("100 millis").pipe(
            Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(5))))
          )
        )
        return Effect.andThen(Effect.forkIn(retried, scope), Effect.timeoutOption(Deferred.await(ready), "5 seconds"))
      }
      return Effect.timeoutOption(Deferred.await(ready), "5 seconds")
    })
    return {
      /** Announces a change made by this process, where the database does not. */
      local: (notification: Notification) => {
        if (!listens) publish(notification)
      },
      subscribe: Effect.acquireRelease(
        Effect.tap(Queue.unbounded<Notification>(), (queue) =>
          Effect.andThen(Effect.sync(() => subscribers.add(queue)), startListening)),
        (queue) =>
          Effect.andThen(Effect.sync(() => subscribers.delete(queue)), Queue.shutdown(queue))
      )
    }
  })

const fromWire = (payload: string): ReadonlyArray<Notification> => {
  try {
    const wire = JSON.parse(payload) as NotificationWire & { readonly due?: boolean }
    const runId = receivedRunId(wire.r, wire.h)
    switch (wire.k) {
      case "r":
        return [{ _tag: "Runnable", runId, workflow: wire.w ?? "" }]
      case "c":
        return [{ _tag: "CancelRequested", runId }]
      case "d": {
        const released: Notification = {
          _tag: "Released",
          runId,
          status: (wire.s ?? "queued") as RunStatus.RunStatus
        }
        return wire.due === true ? [released, { _tag: "Runnable", runId, workflow: wire.w ?? "" }] : [released]
      }
    }
  } catch {
    // Not one of ours: someone else notifies on the channel.
  }
  return []
}

/** A row's JSON as a dialect built it (text, or already parsed), or undefined if it is not an object. */
const rowObject = (json: unknown): Record<string, unknown> | undefined => {
  try {
    const row: unknown = typeof json === "string" ? JSON.parse(json) : json
    return typeof row === "object" && row !== null ? (row as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/**
 * Checks that `texts` are text in a `what` row and reads `integers`, each absent or a safe
 * integer: the integers read, or what is wrong with the row.
 */
const readFields = (
  what: string,
  row: Record<string, unknown>,
  texts: ReadonlyArray<string>,
  integers: ReadonlyArray<string>
): Record<string, number | undefined> | string => {
  for (const key of texts) {
    if (typeof row[key] !== "string") return `the ${what} row has a missing or non-text ${key}`
  }
  const numbers: Record<string, number | undefined> = {}
  for (const key of integers) {
    const value = optionalNumber(row[key])
    if (value === null) return `the ${what} row has a non-integer ${key}`
    numbers[key] = value
  }
  return numbers
}

const optionalNumber = (value: unknown): number | undefined | null =>
  value === null || value === undefined
    ? undefined
    : typeof value === "number" || typeof value === "bigint" || typeof value === "string"
    ? (Number.isSafeInteger(Number(value)) ? Number(value) : null)
    : null

/** Reads a run's JSON as a dialect built it; anything unexpected is a corrupt row. */
const decodeRun = (runId: string, json: unknown): Effect.Effect<Journal.RunInfo, Journal.JournalError> => {
  const row = rowObject(json)
  if (row === undefined) return Effect.fail(corrupt(runId, undefined, "the run row cannot be read"))
  const id = typeof row.runId === "string" ? row.runId : runId
  const numbers = readFields("run", row, ["runId", "workflow", "fingerprint", "input", "status"], [
    "priority",
    "leaseToken",
    "leaseExpiresAt",
    "wakeAt",
    "dueAt",
    "executions",
    "wakeups",
    "createdAt",
    "updatedAt"
  ])
  if (typeof numbers === "string") return Effect.fail(corrupt(id, undefined, numbers))
  if (!RunStatus.is(row.status)) {
    return Effect.fail(corrupt(id, undefined, `unknown run status ${JSON.stringify(row.status)}`))
  }
  const optionalText = (key: string) => (typeof row[key] === "string" ? (row[key] as string) : undefined)
  return Effect.succeed({
    runId: id,
    workflow: row.workflow as string,
    fingerprint: row.fingerprint as string,
    input: row.input as string,
    status: row.status as RunStatus.RunStatus,
    priority: numbers.priority ?? 0,
    parentRunId: optionalText("parentRunId"),
    owner: optionalText("owner"),
    leaseToken: numbers.leaseToken ?? 0,
    leaseExpiresAt: numbers.leaseExpiresAt,
    wakeAt: numbers.wakeAt,
    dueAt: numbers.dueAt,
    waitingFor: optionalText("waitingFor"),
    executions: numbers.executions ?? 0,
    wakeups: numbers.wakeups ?? 0,
    cancelRequested: row.cancelRequested === true || row.cancelRequested === 1,
    error: optionalText("error"),
    createdAt: numbers.createdAt ?? 0,
    updatedAt: numbers.updatedAt ?? 0
  })
}

const missedTicks: ReadonlySet<string> = new Set<MissedTicks>(["skip", "catchUp"])

/** Reads a schedule's JSON as a dialect built it; anything unexpected is a corrupt row. */
const decodeSchedule = (id: string, json: unknown): Effect.Effect<ScheduleInfo, Journal.JournalError> => {
  const row = rowObject(json)
  if (row === undefined) return Effect.fail(corrupt(id, undefined, "the schedule row cannot be read"))
  const scheduleId = typeof row.id === "string" ? row.id : id
  const numbers = readFields("schedule", row, ["id", "workflow", "input", "cron", "missed"], [
    "nextAt",
    "lastTickAt",
    "createdAt",
    "updatedAt"
  ])
  if (typeof numbers === "string") return Effect.fail(corrupt(scheduleId, undefined, numbers))
  if (!missedTicks.has(row.missed as string)) {
    return Effect.fail(corrupt(scheduleId, undefined, `unknown missed-tick policy ${JSON.stringify(row.missed)}`))
  }
  if (numbers.nextAt === undefined) return Effect.fail(corrupt(scheduleId, undefined, "the schedule row has no nextAt"))
  return Effect.succeed({
    id: scheduleId,
    workflow: row.workflow as string,
    input: row.input as string,
    cron: row.cron as string,
    timezone: typeof row.timezone === "string" ? row.timezone : undefined,
    missed: row.missed as MissedTicks,
    nextAt: numbers.nextAt,
    lastTickAt: numbers.lastTickAt,
    lastRunId: typeof row.lastRunId === "string" ? row.lastRunId : undefined,
    createdAt: numbers.createdAt ?? 0,
    updatedAt: numbers.updatedAt ?? 0
  })
}

/** Reads `[path, kind, value, seq, startedAt, finishedAt]` rows; anything unexpected is a corrupt row. */
const decodeEntries = (
  runId: string,
  rows: ReadonlyArray<ReadonlyArray<unknown>>
): Effect.Effect<ReadonlyArray<Journal.JournalEntry>, Journal.JournalError> => {
  const entries: Array<Journal.JournalEntry> = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const [path, kind, value, n, started, finished] = rows[i]!
    if (typeof path !== "string") return Effect.fail(corrupt(runId, undefined, "an entry row has no path"))
    if (!isEntryKind(kind)) {
      return Effect.fail(corrupt(runId, path, `unknown entry kind ${JSON.stringify(kind)}`))
    }
    if (typeof value !== "string") return Effect.fail(corrupt(runId, path, `the ${kind} entry has a non-text value`))
    const seq = typeof n === "bigint" ? Number(n) : n
    if (typeof seq !== "number" || !Number.isSafeInteger(seq)) {
      return Effect.fail(corrupt(runId, path, `the ${kind} entry has a non-integer seq`))
    }
    const startedAt = optionalNumber(started)
    const finishedAt = optionalNumber(finished)
    if (startedAt === null || finishedAt === null) {
      return Effect.fail(corrupt(runId, path, `the ${kind} entry has a non-integer time`))
    }
    entries[i] = startedAt === undefined && finishedAt === undefined
      ? { path, kind, seq, value }
      : { path, kind, seq, value, startedAt, finishedAt }
  }
  return Effect.succeed(entries)
}

const corrupt = (runId: string, path: string | undefined, detail: string) =>
  new Journal.JournalError(
    path === undefined ? { reason: "Corrupt", runId, detail } : { reason: "Corrupt", runId, path, detail }
  )

const unavailable = (runId: string, operation: string) => (error: SqlError) =>
  new Journal.JournalError({
    reason: "Unavailable",
    runId,
    detail: `${operation} failed: ${error.message}`,
    cause: error
  })

const missingRun = (runId: string) =>
  new Journal.JournalError({ reason: "Conflict", runId, detail: "the run does not exist" })

const leaseLost = (lease: Journal.Lease) =>
  new Journal.LeaseLost({ runId: lease.runId, owner: lease.owner, token: lease.token })
