/**
 * Every statement the journal and run store send to SQLite, one per operation, bound to a set
 * of tables once (`statements`).
 *
 * SQLite has one writer at a time per database file, across every process that opens it, so a
 * statement (or a `BEGIN IMMEDIATE` transaction) sees no concurrent write: checking a lease
 * token and writing in the same statement is exact. Where an operation needs several
 * statements, they run in one transaction. SQLite cannot notify other processes; workers there
 * rely on polling, and notifications reach subscribers of the same process only.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { dueOf } from "../schedule.ts"
import { acquirable, jsonArguments } from "./dialect.ts"
import {
  entriesOf,
  flag,
  leaseStatesOf,
  loadedOf,
  maybeRunOf,
  optionalNumber,
  pageOf,
  runOf,
  runsOf,
  schedulesOf,
  statusCountsOf
} from "./results.ts"
import { compiler } from "./statement.ts"
import { decodeWoken, runJsonFields, scheduleJsonFields } from "./wire.ts"
import type { JournalEntry, RunInfo } from "../../Journal.ts"
import type { Dialect, Released, Statements, Tables } from "./dialect.ts"
import type { Exec, Row } from "./statement.ts"

const now = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

const sql = compiler((position) => `?${position}`)

/** A run's row as one JSON text column; `waiting_for` holds JSON text, embedded as the array it is. */
const runJson = (row?: string) =>
  `json_object(${
    jsonArguments(runJsonFields, (column) => column === "waiting_for" ? `json(${of(row, column)})` : of(row, column))
  })`

const scheduleJson = (row?: string) => `json_object(${jsonArguments(scheduleJsonFields, (column) => of(row, column))})`

/** A column, qualified by its row's name when given (`RETURNING` reads the updated table unqualified). */
const of = (row: string | undefined, column: string) => (row === undefined ? column : `${row}.${column}`)

const sqliteNowText = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`

const migration1 = (t: Tables) => [
  `CREATE TABLE ${t.runs} (
  run_id TEXT PRIMARY KEY NOT NULL,
  workflow TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  input TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (${sqliteNowText}),
  updated_at TEXT NOT NULL DEFAULT (${sqliteNowText})
)`,
  `CREATE TABLE ${t.entries} (
  run_id TEXT NOT NULL REFERENCES ${t.runs} (run_id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq INTEGER NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (${sqliteNowText}),
  PRIMARY KEY (run_id, path, kind, seq)
)`
]

// Leases, wake times and claims, as in the Postgres migration. SQLite cannot add NOT NULL
// columns without a constant default, so the millisecond timestamps default to 0 and are filled in.
const migration2 = (t: Tables) => [
  ...[
    "priority INTEGER NOT NULL DEFAULT 0",
    "owner TEXT",
    "lease_token INTEGER NOT NULL DEFAULT 0",
    "lease_expires_at INTEGER",
    "wake_at INTEGER",
    "due_at INTEGER",
    "waiting_for TEXT",
    "executions INTEGER NOT NULL DEFAULT 0",
    "wakeups INTEGER NOT NULL DEFAULT 0",
    "cancel_requested INTEGER NOT NULL DEFAULT 0",
    "error TEXT",
    "created_ms INTEGER NOT NULL DEFAULT 0",
    "updated_ms INTEGER NOT NULL DEFAULT 0"
  ].map((column) => `ALTER TABLE ${t.runs} ADD COLUMN ${column}`),
  `UPDATE ${t.runs} SET
  created_ms = CAST((julianday(created_at) - 2440587.5) * 86400000 AS INTEGER),
  updated_ms = CAST((julianday(updated_at) - 2440587.5) * 86400000 AS INTEGER),
  due_at = CASE WHEN status = 'running' THEN ${now} ELSE NULL END,
  status = CASE status WHEN 'suspended' THEN 'waiting' WHEN 'running' THEN 'queued' ELSE status END`,
  `ALTER TABLE ${t.entries} ADD COLUMN started_at INTEGER`,
  `ALTER TABLE ${t.entries} ADD COLUMN finished_at INTEGER`,
  `CREATE INDEX "${t.prefix}runs_due" ON ${t.runs} (due_at) WHERE due_at IS NOT NULL`,
  `CREATE INDEX "${t.prefix}runs_created" ON ${t.runs} (created_ms DESC, run_id DESC)`
]

// Children, concurrency slots and schedules, as in the Postgres migration.
const migration3 = (t: Tables) => [
  `ALTER TABLE ${t.runs} ADD COLUMN parent_run_id TEXT`,
  `CREATE INDEX "${t.prefix}runs_parent" ON ${t.runs} (parent_run_id) WHERE parent_run_id IS NOT NULL`,
  `CREATE TABLE ${t.slots} (
  key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  path TEXT NOT NULL,
  lease_token INTEGER NOT NULL,
  acquired_ms INTEGER NOT NULL,
  PRIMARY KEY (key, run_id, path)
)`,
  `CREATE TABLE ${t.slotWaiters} (
  key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (key, run_id)
)`,
  `CREATE TABLE ${t.schedules} (
  id TEXT PRIMARY KEY NOT NULL,
  workflow TEXT NOT NULL,
  input TEXT NOT NULL,
  cron TEXT NOT NULL,
  timezone TEXT,
  missed TEXT NOT NULL,
  next_at INTEGER NOT NULL,
  last_tick_at INTEGER,
  last_run_id TEXT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
)`,
  `CREATE INDEX "${t.prefix}schedules_workflow" ON ${t.schedules} (workflow)`
]

// `waiting_for` holds the list of paths a run waits on as a JSON array, where it held them
// joined with ", ": each joined text is split into its parts.
const migration4 = (t: Tables) => [
  `UPDATE ${t.runs} SET waiting_for = CASE WHEN waiting_for = '' THEN NULL ELSE (
  WITH RECURSIVE parts (part, rest) AS (
    SELECT NULL, waiting_for || ', '
    UNION ALL
    SELECT substr(rest, 1, instr(rest, ', ') - 1), substr(rest, instr(rest, ', ') + 2) FROM parts WHERE rest <> ''
  )
  SELECT json_group_array(part) FROM parts WHERE part IS NOT NULL
) END
WHERE waiting_for IS NOT NULL`
]

/** The run `?1` and every run it started, transitively, as `tree (run_id)`. */
const family = (t: Tables) =>
  `WITH RECURSIVE tree (run_id) AS (
  SELECT :runId UNION SELECT c.run_id FROM ${t.runs} AS c JOIN tree ON c.parent_run_id = tree.run_id
)`

const liveHolder = `r.run_id = s.run_id AND r.lease_token = s.lease_token AND r.status = 'running'
  AND r.lease_expires_at > ${now}`

// SQLite binds at most 32766 parameters per statement; an entry row takes seven. Anonymous `?`
// parameters only: node:sqlite binds numbered ones (`?7`) in time quadratic in their count.
const rowsPerStatement = Math.floor((32766 - 2) / 7)

const entryRow = "(?,?,?,?,?,?,?)"

/** The statements, bound to one set of tables. */
const statements = (t: Tables): Statements => {
  const unowned = `(r.owner IS NULL OR r.lease_expires_at <= ${now})`

  const get = sql(`SELECT ${runJson("r")} AS run FROM ${t.runs} AS r WHERE r.run_id = :runId`)

  const load = sql(`SELECT ${runJson("r")} AS run, NULL AS path, NULL AS kind, NULL AS value, NULL AS seq,
  NULL AS started_at, NULL AS finished_at
FROM ${t.runs} AS r WHERE r.run_id = :runId
UNION ALL
SELECT NULL, path, kind, value, seq, started_at, finished_at FROM ${t.entries} WHERE run_id = :runId`)

  const leaseHeld = sql(`SELECT 1 AS held FROM ${t.runs} WHERE run_id = :runId AND lease_token = :token`)

  const insertRun = sql(
    `INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, owner, lease_token,
  lease_expires_at, due_at, executions, created_ms, updated_ms)
VALUES (:runId, :workflow, :fingerprint, :input, :priority, 'running', :owner, 1, ${now} + :leaseMs,
  ${now} + :leaseMs, 1, ${now}, ${now})
ON CONFLICT (run_id) DO NOTHING
RETURNING ${runJson()} AS run`
  )

  const takeLease = sql(`UPDATE ${t.runs} SET status = 'running', owner = :owner, lease_token = lease_token + 1,
  lease_expires_at = ${now} + :leaseMs, due_at = ${now} + :leaseMs, executions = executions + 1, updated_ms = ${now},
  fingerprint = :fingerprint
WHERE run_id = :runId AND workflow = :workflow AND input = :input AND (:anyFingerprint OR fingerprint = :fingerprint)
  AND status IN (${acquirable}) AND (owner IS NULL OR lease_expires_at <= ${now} OR (:reclaim AND owner = :owner))
RETURNING ${runJson()} AS run`)

  // One statement writes the batch only if the token is current (the text depends on the batch's
  // size: see `insertEntries`).
  const insertEntries = (runId: string, token: number, entries: ReadonlyArray<JournalEntry>) => {
    const params = new Array<unknown>(entries.length * 7 + 2)
    for (let i = 0, j = 0; i < entries.length; i++, j += 7) {
      const entry = entries[i]!
      params[j] = runId
      params[j + 1] = entry.path
      params[j + 2] = entry.kind
      params[j + 3] = entry.seq
      params[j + 4] = entry.value
      params[j + 5] = entry.startedAt ?? null
      params[j + 6] = entry.finishedAt ?? null
    }
    params[entries.length * 7] = runId
    params[entries.length * 7 + 1] = token
    return [
      `INSERT INTO ${t.entries} (run_id, path, kind, seq, value, started_at, finished_at)
SELECT * FROM (VALUES ${entryRow}${`,${entryRow}`.repeat(entries.length - 1)})
WHERE EXISTS (SELECT 1 FROM ${t.runs} WHERE run_id = ? AND lease_token = ?)
ON CONFLICT DO NOTHING
RETURNING 1 AS written`,
      params
    ] as const
  }

  const heartbeat = sql(`UPDATE ${t.runs} SET lease_expires_at = ${now} + :leaseMs, due_at = ${now} + :leaseMs,
  updated_ms = ${now}
WHERE owner = :owner AND status = 'running' AND lease_expires_at > ${now}
  AND (run_id, lease_token) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(:leases))
RETURNING run_id, cancel_requested, error`)

  // One statement releases the run and, when it ends, wakes its parent: both rows are updated by
  // the same UPDATE, each by its own branch of every CASE. The parent's row is found through the
  // run's, whose lease token and cancellation flag the release does not change.
  const releasedStatus = (row: string) =>
    `(CASE WHEN :ifCancelRequested IS NOT NULL AND ${row}cancel_requested
    AND :status IN ('queued', 'sleeping', 'waiting') THEN :ifCancelRequested ELSE :status END)`
  const own = releasedStatus("")
  const release = sql(`UPDATE ${t.runs} SET
  status = CASE WHEN run_id = :runId THEN ${own} ELSE status END,
  owner = CASE WHEN run_id = :runId THEN NULL ELSE owner END,
  lease_expires_at = CASE WHEN run_id = :runId THEN NULL ELSE lease_expires_at END,
  wake_at = CASE WHEN run_id = :runId THEN :wakeAt ELSE wake_at END,
  waiting_for = CASE WHEN run_id = :runId THEN :waitingFor ELSE waiting_for END,
  error = CASE WHEN run_id <> :runId THEN error
    WHEN ${own} = 'cancelled' OR ${own} <> :status THEN COALESCE(:error, error) ELSE :error END,
  due_at = CASE
    WHEN run_id <> :runId THEN CASE WHEN status = 'waiting' THEN ${now} ELSE due_at END
    WHEN ${own} = 'queued' THEN ${now}
    WHEN ${own} IN ('sleeping', 'waiting') THEN
      CASE WHEN :wakeupsSeen IS NOT NULL AND wakeups <> :wakeupsSeen THEN ${now} ELSE :wakeAt END
    ELSE NULL END,
  wakeups = CASE WHEN run_id = :runId THEN wakeups ELSE wakeups + 1 END,
  updated_ms = ${now}
WHERE (run_id = :runId AND lease_token = :token)
  OR run_id = (
    SELECT c.parent_run_id FROM ${t.runs} AS c WHERE c.run_id = :runId AND c.lease_token = :token
      AND ${releasedStatus("c.")} IN ('completed', 'failed', 'cancelled')
  )
RETURNING run_id, workflow, status, COALESCE(due_at <= ${now}, 0) AS due`)

  const insertChild = sql(`INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, due_at,
  created_ms, updated_ms, parent_run_id)
VALUES (:runId, :workflow, :fingerprint, :input, :priority, 'queued', ${now}, ${now}, ${now}, :parentRunId)
ON CONFLICT (run_id) DO NOTHING
RETURNING ${runJson()} AS run`)

  const otherSlots = `s.key = :key AND NOT (s.run_id = :runId AND s.path = :path)`
  // A holder whose lease expired loses the lease with the slot: its token moves on, so nothing
  // the stalled holder does later (a completion, a heartbeat) is accepted.
  const fenceExpiredHolders = sql(`UPDATE ${t.runs} AS r SET lease_token = r.lease_token + 1, updated_ms = ${now}
WHERE r.status = 'running' AND r.lease_expires_at <= ${now}
  AND EXISTS (SELECT 1 FROM ${t.slots} AS s WHERE ${otherSlots} AND s.run_id = r.run_id AND s.lease_token = r.lease_token)`)
  const purgeSlots = sql(
    `DELETE FROM ${t.slots} AS s WHERE ${otherSlots} AND NOT EXISTS (SELECT 1 FROM ${t.runs} AS r WHERE ${liveHolder})`
  )
  const liveSlots = sql(`SELECT count(*) AS live, min(r.lease_expires_at) AS retry_at
FROM ${t.slots} AS s JOIN ${t.runs} AS r ON ${liveHolder} WHERE ${otherSlots}`)
  const takeSlot = sql(`INSERT INTO ${t.slots} (key, run_id, path, lease_token, acquired_ms)
VALUES (:key, :runId, :path, :token, ${now})
ON CONFLICT (key, run_id, path) DO UPDATE SET lease_token = excluded.lease_token, acquired_ms = excluded.acquired_ms`)
  const waitForSlot = sql(`INSERT INTO ${t.slotWaiters} (key, run_id) VALUES (:key, :runId) ON CONFLICT DO NOTHING`)
  const freeSlot = sql(
    `DELETE FROM ${t.slots} WHERE key = :key AND run_id = :runId AND path = :path AND lease_token = :token`
  )
  // One waiter per free slot, in claim order: the others would only find the key full.
  const takeWaiters = sql(`DELETE FROM ${t.slotWaiters} WHERE key = :key AND run_id IN (
  SELECT w.run_id FROM ${t.slotWaiters} AS w LEFT JOIN ${t.runs} AS r ON r.run_id = w.run_id WHERE w.key = :key
  ORDER BY r.priority DESC, r.created_ms, w.run_id
  LIMIT max(0, :max - (SELECT count(*) FROM ${t.slots} AS s JOIN ${t.runs} AS r ON ${liveHolder} WHERE s.key = :key))
)
RETURNING run_id`)

  /** A wake-up of the runs whose ids are in the JSON array `:runIds`: each counts it, a waiting one is due now. */
  const wakeRuns = sql(`UPDATE ${t.runs} SET wakeups = wakeups + 1, updated_ms = ${now},
  due_at = CASE WHEN status = 'waiting' THEN ${now} ELSE due_at END
WHERE run_id IN (SELECT value FROM json_each(:runIds))
RETURNING run_id, workflow, status = 'waiting' AS due`)
  const wake = (exec: Exec, operation: "cancel" | "releaseSlot", runIds: ReadonlyArray<string>) =>
    runIds.length === 0
      ? Effect.succeed([])
      : Effect.map(exec.rows(operation, wakeRuns, { runIds: JSON.stringify(runIds) }), decodeWoken)

  const create = sql(`INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms,
  updated_ms)
VALUES (:runId, :workflow, :fingerprint, :input, :priority, 'queued', ${now}, ${now}, ${now})
ON CONFLICT (run_id) DO NOTHING
RETURNING ${runJson()} AS run`)

  // One statement claims the runs and reads their entries (SQLite has one writer at a time, so
  // no append can come between): as a JSON array of entry objects per run, a subquery of `RETURNING`.
  const claim = sql(`UPDATE ${t.runs} SET status = 'running', owner = :owner, lease_token = lease_token + 1,
  lease_expires_at = ${now} + :leaseMs, due_at = ${now} + :leaseMs, executions = executions + 1, updated_ms = ${now}
WHERE run_id IN (
  SELECT run_id FROM ${t.runs}
  WHERE due_at <= ${now}
    AND (workflow, fingerprint) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(:workflows))
  ORDER BY due_at, priority DESC
  LIMIT :limit
)
RETURNING ${runJson()} AS run, (
  SELECT json_group_array(json_object('path', e.path, 'kind', e.kind, 'value', e.value, 'seq', e.seq,
    'started_at', e.started_at, 'finished_at', e.finished_at))
  FROM ${t.entries} AS e WHERE e.run_id = ${t.runs}.run_id
) AS entries`)

  const runExists = sql(`SELECT 1 AS found FROM ${t.runs} WHERE run_id = :runId`)
  const storeSignal = sql(`INSERT INTO ${t.entries} (run_id, path, kind, seq, value, finished_at)
VALUES (:runId, :path, :kind, :seq, :value, :finishedAt)
ON CONFLICT DO NOTHING RETURNING 1 AS stored`)
  const wakeSignalled = sql(`UPDATE ${t.runs} SET wakeups = wakeups + 1, updated_ms = ${now},
  due_at = CASE WHEN status = 'waiting' THEN ${now} ELSE due_at END
WHERE run_id = :runId`)

  // As on Postgres: unowned runs are cancelled at once (or queued to compensate), owned ones
  // flagged, children with their parent; the run's parent is woken when it ended now.
  const compensable = `EXISTS (SELECT 1 FROM ${t.entries} AS e WHERE e.run_id = r.run_id AND e.kind = 'compensable')`
  const cancelNow = `(${unowned} AND NOT ${compensable})`
  const queueNow = `(${unowned} AND ${compensable})`
  const cancel = sql(`${family(t)}
UPDATE ${t.runs} AS r SET cancel_requested = 1, error = :reason, updated_ms = ${now},
  status = CASE WHEN ${cancelNow} THEN 'cancelled' WHEN ${queueNow} THEN 'queued' ELSE status END,
  lease_token = CASE WHEN ${unowned} THEN lease_token + 1 ELSE lease_token END,
  lease_expires_at = CASE WHEN ${unowned} THEN NULL ELSE lease_expires_at END,
  wake_at = CASE WHEN ${unowned} THEN NULL ELSE wake_at END,
  due_at = CASE WHEN ${cancelNow} THEN NULL WHEN ${queueNow} THEN ${now} ELSE due_at END,
  owner = CASE WHEN ${unowned} THEN NULL ELSE owner END
WHERE r.run_id IN (SELECT run_id FROM tree) AND r.status NOT IN ('completed', 'failed', 'cancelled')
RETURNING ${runJson()} AS run, run_id, status, parent_run_id`)

  // A failed run is queued again, with its failed children; a suspended one is made due.
  const resume = sql(`${family(t)}
UPDATE ${t.runs} SET due_at = ${now}, updated_ms = ${now},
  error = CASE WHEN status = 'failed' THEN NULL ELSE error END,
  status = CASE WHEN status = 'failed' THEN 'queued' ELSE status END
WHERE run_id IN (SELECT run_id FROM tree)
  AND (status = 'failed' OR (run_id = :runId AND status IN ('sleeping', 'waiting')))
RETURNING ${runJson()} AS run`)

  const list = sql(`SELECT ${runJson("r")} AS run FROM ${t.runs} AS r
WHERE (:workflow IS NULL OR r.workflow = :workflow)
  AND (:parentRunId IS NULL OR r.parent_run_id = :parentRunId)
  AND (:statuses IS NULL OR r.status IN (SELECT value FROM json_each(:statuses)))
  AND (:createdAfter IS NULL OR r.created_ms >= :createdAfter)
  AND (:createdBefore IS NULL OR r.created_ms < :createdBefore)
  AND (:afterCreatedAt IS NULL OR (r.created_ms, r.run_id) < (:afterCreatedAt, :afterRunId))
ORDER BY r.created_ms DESC, r.run_id DESC LIMIT :limit`)

  const counts = sql(`SELECT status, count(*) AS count FROM ${t.runs}
WHERE :workflow IS NULL OR workflow = :workflow GROUP BY status`)

  const nextDue = sql(`SELECT min(due_at) AS due_at FROM ${t.runs}
WHERE due_at > ${now} AND workflow IN (SELECT value FROM json_each(:workflows))`)

  const saveSchedule = sql(
    `INSERT INTO ${t.schedules} (id, workflow, input, cron, timezone, missed, next_at, created_ms,
  updated_ms)
VALUES (:id, :workflow, :input, :cron, :timezone, :missed, :nextAt, ${now}, ${now})
ON CONFLICT (id) DO UPDATE SET workflow = excluded.workflow, input = excluded.input, cron = excluded.cron,
  timezone = excluded.timezone, missed = excluded.missed, next_at = excluded.next_at, updated_ms = excluded.updated_ms
RETURNING ${scheduleJson()} AS schedule`
  )

  const removeSchedule = sql(`DELETE FROM ${t.schedules} WHERE id = :id RETURNING id`)

  const listSchedules = sql(`SELECT ${scheduleJson("s")} AS schedule FROM ${t.schedules} AS s
WHERE :workflow IS NULL OR s.workflow = :workflow ORDER BY s.id`)

  const dueSchedules = sql(`SELECT ${now} AS now, NULL AS schedule UNION ALL
SELECT NULL, ${
    scheduleJson("s")
  } FROM ${t.schedules} AS s WHERE s.workflow IN (SELECT value FROM json_each(:workflows))`)

  const moveSchedule = sql(`UPDATE ${t.schedules} SET next_at = :nextAt, updated_ms = ${now},
  last_tick_at = COALESCE(:tickAt, last_tick_at), last_run_id = COALESCE(:runId, last_run_id)
WHERE id = :id AND next_at = :expectedNextAt
RETURNING id`)
  const insertTickRun = sql(`INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, due_at,
  created_ms, updated_ms)
VALUES (:runId, :workflow, :fingerprint, :input, 0, 'queued', ${now}, ${now}, ${now})
ON CONFLICT (run_id) DO NOTHING
RETURNING run_id`)

  const getRun = (
    exec: Exec,
    runId: string,
    operation: "get" | "acquire" | "cancel" | "resume" | "create" | "startChild"
  ) => Effect.flatMap(exec.rows(operation, get, { runId }), (rows) => maybeRunOf(runId, rows))

  const loadRun = (exec: Exec, runId: string, operation: "load" | "acquire") =>
    Effect.flatMap(exec.rows(operation, load, { runId }), (rows) => loadedOf(runId, rows))

  const holds = (exec: Exec, operation: "startChild" | "acquireSlot" | "append", runId: string, token: number) =>
    Effect.map(exec.rows(operation, leaseHeld, { runId, token }), (rows) => rows.length > 0)

  /** Creates the run, or reads it as stored when it exists. */
  const created = (exec: Exec, operation: "create" | "startChild", runId: string, rows: ReadonlyArray<Row>) =>
    rows.length > 0
      ? Effect.map(runOf(runId, rows[0]!.run), (run) => ({ run, created: true }))
      : Effect.map(
        getRun(exec, runId, operation),
        Option.match({ onNone: () => undefined, onSome: (run) => ({ run, created: false }) })
      )

  return {
    acquire: (exec, record, { anyFingerprint, leaseMs, owner, reclaim }) =>
      exec.transaction(
        "acquire",
        Effect.gen(function*() {
          const lease = (run: RunInfo) => ({ runId: run.runId, owner, token: run.leaseToken })
          const params = {
            ...record,
            priority: record.priority ?? 0,
            owner,
            leaseMs,
            anyFingerprint: anyFingerprint === true ? 1 : 0,
            reclaim: reclaim === true ? 1 : 0
          }
          const inserted = yield* exec.rows("acquire", insertRun, params)
          if (inserted.length > 0) {
            const run = yield* runOf(record.runId, inserted[0]!.run)
            return { run, lease: lease(run), created: true }
          }
          const taken = yield* exec.rows("acquire", takeLease, params)
          if (taken.length > 0) {
            const run = yield* runOf(record.runId, taken[0]!.run)
            return { run, lease: lease(run), created: false }
          }
          const stored = yield* loadRun(exec, record.runId, "acquire")
          return Option.isNone(stored)
            ? undefined
            : { run: stored.value.run, lease: undefined, created: false, entries: stored.value.entries }
        })
      ),

    load: (exec, runId) => loadRun(exec, runId, "load"),

    // Fewer rows back than entries means duplicates or a lost lease; the token, re-read, tells
    // which (tokens only grow, so a token current now was current then).
    append: (exec, lease, entries) => {
      const parts: Array<ReadonlyArray<JournalEntry>> = []
      for (let i = 0; i < entries.length; i += rowsPerStatement) parts.push(entries.slice(i, i + rowsPerStatement))
      const write = Effect.map(
        Effect.forEach(parts, (part) => exec.rowsOf("append", ...insertEntries(lease.runId, lease.token, part))),
        (results) => results.reduce((sum, rows) => sum + rows.length, 0)
      )
      const written = parts.length > 1 ? exec.transaction("append", write) : write
      return Effect.flatMap(
        written,
        (count) => count === entries.length ? Effect.succeed(true) : holds(exec, "append", lease.runId, lease.token)
      )
    },

    heartbeat: (exec, owner, leases, leaseMs) =>
      leases.length === 0 ? Effect.succeed([]) : Effect.map(
        exec.rows("heartbeat", heartbeat, {
          owner,
          leaseMs,
          leases: JSON.stringify(leases.map((lease) => [lease.runId, lease.token]))
        }),
        (rows) => leaseStatesOf(leases, rows)
      ),

    release: (exec, lease, { error, ifCancelRequested, status, waitingFor, wakeAt, wakeupsSeen }) =>
      Effect.map(
        exec.rows("release", release, {
          runId: lease.runId,
          token: lease.token,
          status,
          wakeAt,
          waitingFor: waitingFor === undefined || waitingFor.length === 0 ? null : JSON.stringify(waitingFor),
          error,
          wakeupsSeen,
          ifCancelRequested
        }),
        (rows) => {
          const released = rows.find((row) => row.run_id === lease.runId)
          const parent = rows.find((row) => row.run_id !== lease.runId)
          return released === undefined ? undefined : {
            workflow: String(released.workflow),
            status: released.status as Released["status"],
            due: flag(released.due),
            parent: parent === undefined
              ? undefined
              : { runId: String(parent.run_id), workflow: String(parent.workflow), due: parent.status === "waiting" }
          }
        }
      ),

    startChild: (exec, lease, child) =>
      exec.transaction(
        "startChild",
        Effect.gen(function*() {
          if (!(yield* holds(exec, "startChild", lease.runId, lease.token))) return "leaseLost" as const
          const inserted = yield* exec.rows("startChild", insertChild, {
            ...child,
            priority: child.priority ?? 0,
            parentRunId: lease.runId
          })
          return yield* created(exec, "startChild", child.runId, inserted)
        })
      ),

    // SQLite's single writer serializes the whole transaction: counting the live holders and taking
    // a slot cannot interleave with another request.
    acquireSlot: (exec, lease, request) =>
      exec.transaction(
        "acquireSlot",
        Effect.gen(function*() {
          if (!(yield* holds(exec, "acquireSlot", lease.runId, lease.token))) return undefined
          const params = { key: request.key, runId: lease.runId, path: request.path, token: lease.token }
          yield* exec.rows("acquireSlot", fenceExpiredHolders, params)
          yield* exec.rows("acquireSlot", purgeSlots, params)
          const [live] = yield* exec.rows("acquireSlot", liveSlots, params)
          if (Number(live?.live ?? 0) < request.max) {
            yield* exec.rows("acquireSlot", takeSlot, params)
            return { acquired: true as const }
          }
          yield* exec.rows("acquireSlot", waitForSlot, params)
          return { acquired: false as const, retryAt: optionalNumber(live?.retry_at) }
        })
      ),

    releaseSlot: (exec, lease, request) =>
      exec.transaction(
        "releaseSlot",
        Effect.gen(function*() {
          yield* exec.rows("releaseSlot", freeSlot, { ...request, runId: lease.runId, token: lease.token })
          const waiters = yield* exec.rows("releaseSlot", takeWaiters, request)
          return yield* wake(exec, "releaseSlot", waiters.map((row) => String(row.run_id)))
        })
      ),

    create: (exec, record) =>
      exec.transaction(
        "create",
        Effect.flatMap(
          exec.rows("create", create, { ...record, priority: record.priority ?? 0 }),
          (rows) => created(exec, "create", record.runId, rows)
        )
      ),

    get: (exec, runId) => getRun(exec, runId, "get"),

    claim: (exec, request) =>
      Effect.flatMap(
        exec.rows("claim", claim, {
          owner: request.owner,
          leaseMs: request.leaseMs,
          limit: request.limit,
          workflows: JSON.stringify(request.workflows.map((workflow) => [workflow.name, workflow.fingerprint]))
        }),
        (rows) =>
          Effect.forEach(rows, (row) =>
            Effect.flatMap(runOf(request.owner, row.run), (run) =>
              Effect.map(
                entriesOf(run.runId, JSON.parse(String(row.entries)) as ReadonlyArray<Row>),
                (entries) => ({
                  run,
                  lease: { runId: run.runId, owner: request.owner, token: run.leaseToken },
                  entries
                })
              )))
      ),

    deliver: (exec, runId, entry) =>
      exec.transaction(
        "deliver",
        Effect.gen(function*() {
          if ((yield* exec.rows("deliver", runExists, { runId })).length === 0) return "missing" as const
          const stored = yield* exec.rows("deliver", storeSignal, { ...entry, runId })
          if (stored.length === 0) return "duplicate" as const
          yield* exec.rows("deliver", wakeSignalled, { runId })
          return "delivered" as const
        })
      ),

    cancel: (exec, runId, reason) =>
      exec.transaction(
        "cancel",
        Effect.gen(function*() {
          const changed = yield* exec.rows("cancel", cancel, { runId, reason })
          const root = changed.find((row) => row.run_id === runId)
          const parentId = root !== undefined && root.status === "cancelled" && typeof root.parent_run_id === "string"
            ? root.parent_run_id
            : undefined
          const woken = yield* wake(exec, "cancel", parentId === undefined ? [] : [parentId])
          return {
            run: yield* getRun(exec, runId, "cancel"),
            changed: yield* runsOf(runId, changed),
            parent: woken[0]
          }
        })
      ),

    resume: (exec, runId) =>
      Effect.flatMap(
        exec.rows("resume", resume, { runId }),
        (rows) => Effect.all({ run: getRun(exec, runId, "resume"), resumed: runsOf(runId, rows) })
      ),

    list: (exec, filter) =>
      pageOf(filter, (after, limit) =>
        exec.rows("list", list, {
          workflow: filter.workflow,
          parentRunId: filter.parentRunId,
          statuses: filter.status === undefined
            ? null
            : JSON.stringify(typeof filter.status === "string" ? [filter.status] : filter.status),
          createdAfter: filter.createdAfter,
          createdBefore: filter.createdBefore,
          afterCreatedAt: after?.createdAt,
          afterRunId: after?.runId,
          limit
        })),

    counts: (exec, filter) => Effect.map(exec.rows("counts", counts, { workflow: filter?.workflow }), statusCountsOf),

    nextDue: (exec, workflows) =>
      Effect.map(
        exec.rows("nextDue", nextDue, { workflows: JSON.stringify(workflows) }),
        ([row]) => Option.fromNullishOr(optionalNumber(row?.due_at))
      ),

    saveSchedule: (exec, schedule) =>
      Effect.flatMap(
        exec.rows("saveSchedule", saveSchedule, schedule),
        (rows) => Effect.map(schedulesOf(schedule.id, rows), (saved) => saved[0]!)
      ),

    removeSchedule: (exec, id) =>
      Effect.map(exec.rows("removeSchedule", removeSchedule, { id }), (rows) => rows.length > 0),

    listSchedules: (exec, filter) =>
      Effect.flatMap(
        exec.rows("listSchedules", listSchedules, { workflow: filter?.workflow }),
        (rows) => schedulesOf("(schedules)", rows)
      ),

    dueSchedules: (exec, workflows) =>
      Effect.flatMap(
        exec.rows("dueSchedules", dueSchedules, { workflows: JSON.stringify(workflows) }),
        (rows) =>
          Effect.map(
            schedulesOf("(schedules)", rows.filter((row) => row.schedule !== null)),
            (schedules) => dueOf(Number(rows.find((row) => row.schedule === null)?.now), schedules)
          )
      ),

    fireSchedule: (exec, firing) =>
      exec.transaction(
        "fireSchedule",
        Effect.gen(function*() {
          const fired = yield* exec.rows("fireSchedule", moveSchedule, {
            id: firing.id,
            expectedNextAt: firing.expectedNextAt,
            nextAt: firing.nextAt,
            tickAt: firing.tickAt,
            runId: firing.run?.runId
          })
          if (fired.length === 0) return { fired: false, created: false }
          if (firing.run === undefined) return { fired: true, created: false }
          const inserted = yield* exec.rows("fireSchedule", insertTickRun, firing.run)
          return { fired: true, created: inserted.length > 0 }
        })
      )
  }
}

export const sqlite: Dialect = {
  name: "sqlite",
  begin: "BEGIN IMMEDIATE",
  notifiesAcrossProcesses: false,
  createMigrationsTable: (t) =>
    `CREATE TABLE IF NOT EXISTS ${t.migrations} (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (${sqliteNowText}))`,
  lockMigrations: () => [],
  recordMigration: (t) => `INSERT INTO ${t.migrations} (version, name) VALUES (?1, ?2)`,
  migrations: { 1: migration1, 2: migration2, 3: migration3, 4: migration4 },
  statements
}
