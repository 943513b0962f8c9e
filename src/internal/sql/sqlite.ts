/**
 * Every statement the journal and run store send to SQLite.
 *
 * SQLite has one writer at a time per database file, across every process that opens it, so a
 * statement (or a `BEGIN IMMEDIATE` transaction) sees no concurrent write: checking a lease
 * token and writing in the same statement is exact. Where an operation needs several
 * statements, they run in one transaction. SQLite cannot notify other processes; workers there
 * rely on polling, and notifications reach subscribers of the same process only.
 */
import * as Effect from "effect/Effect"
import { acquirable, runJsonArguments, scheduleJsonArguments, splitLoad, wokenRows } from "./dialect.ts"
import type { JournalEntry } from "../../Journal.ts"
import type { Dialect, Exec, Rows, Tables } from "./dialect.ts"

const now = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

const runJson = (qualifier = "") => `json_object(${runJsonArguments(qualifier)})`

const unowned = `(owner IS NULL OR lease_expires_at <= ${now})`

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

const scheduleJson = (qualifier = "") => `json_object(${scheduleJsonArguments(qualifier)})`

/** The run and every run it started, transitively, as `tree (run_id)`. */
const family = (t: Tables) =>
  `WITH RECURSIVE tree (run_id) AS (
  SELECT ?1 UNION SELECT c.run_id FROM ${t.runs} AS c JOIN tree ON c.parent_run_id = tree.run_id
)`

/** A wake-up of the runs whose ids are in the JSON array `?1`: `run_id, workflow, due` of each. */
const wakeRuns = (exec: Exec, t: Tables, operation: "cancel" | "releaseSlot", runIds: ReadonlyArray<string>) =>
  runIds.length === 0
    ? Effect.succeed([] as Rows)
    : exec.query(
      operation,
      `UPDATE ${t.runs} SET wakeups = wakeups + 1, updated_ms = ${now},
  due_at = CASE WHEN status = 'waiting' THEN ${now} ELSE due_at END
WHERE run_id IN (SELECT value FROM json_each(?1))
RETURNING run_id, workflow, status = 'waiting'`,
      [JSON.stringify(runIds)]
    )

const liveHolder = `r.run_id = s.run_id AND r.lease_token = s.lease_token AND r.status = 'running'
  AND r.lease_expires_at > ${now}`

const leaseHeld = (exec: Exec, t: Tables, operation: "startChild" | "acquireSlot", runId: string, token: number) =>
  Effect.map(
    exec.query(operation, `SELECT 1 FROM ${t.runs} WHERE run_id = ?1 AND lease_token = ?2`, [runId, token]),
    (rows) => rows.length > 0
  )

const selectRun = (t: Tables) => `SELECT ${runJson()} FROM ${t.runs} WHERE run_id = ?1`

const get = (
  exec: Exec,
  t: Tables,
  runId: string,
  operation: "get" | "acquire" | "cancel" | "resume" | "create" | "startChild" = "get"
) => Effect.map(exec.query(operation, selectRun(t), [runId]), (rows) => rows[0]?.[0])

const first = (rows: ReadonlyArray<ReadonlyArray<unknown>>) => rows[0]?.[0]

// SQLite binds at most 32766 parameters per statement; an entry row takes seven. Anonymous `?`
// parameters only: node:sqlite binds numbered ones (`?7`) in time quadratic in their count.
const rowsPerStatement = Math.floor((32766 - 2) / 7)

const entryRow = "(?,?,?,?,?,?,?)"

const insertEntries = (t: Tables, runId: string, token: number, entries: ReadonlyArray<JournalEntry>) => {
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
RETURNING 1`,
    params
  ] as const
}

const load = (exec: Exec, t: Tables, runId: string, operation: "load" | "acquire") =>
  Effect.map(
    exec.query(
      operation,
      `SELECT 0, NULL, NULL, NULL, NULL, NULL, NULL, ${runJson()} FROM ${t.runs} WHERE run_id = ?1
UNION ALL
SELECT 1, path, kind, value, seq, started_at, finished_at, NULL FROM ${t.entries} WHERE run_id = ?1`,
      [runId]
    ),
    splitLoad
  )

export const sqlite: Dialect = {
  name: "sqlite",
  notifiesAcrossProcesses: false,
  createMigrationsTable: (t) =>
    `CREATE TABLE IF NOT EXISTS ${t.migrations} (version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (${sqliteNowText}))`,
  lockMigrations: () => [],
  recordMigration: (t) => `INSERT INTO ${t.migrations} (version, name) VALUES (?1, ?2)`,
  migrations: { 1: migration1, 2: migration2, 3: migration3 },

  acquire: (exec, t, run, { anyFingerprint, leaseMs, owner, reclaim }) =>
    exec.transaction(
      "acquire",
      Effect.gen(function*() {
        const created = first(
          yield* exec.query(
            "acquire",
            `INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, owner, lease_token,
  lease_expires_at, due_at, executions, created_ms, updated_ms)
VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, 1, ${now} + ?7, ${now} + ?7, 1, ${now}, ${now})
ON CONFLICT (run_id) DO NOTHING
RETURNING ${runJson()}`,
            [run.runId, run.workflow, run.fingerprint, run.input, run.priority ?? 0, owner, leaseMs]
          )
        )
        if (created !== undefined) return { run: created, acquired: true, created: true }
        const taken = first(
          yield* exec.query(
            "acquire",
            `UPDATE ${t.runs} SET status = 'running', owner = ?2, lease_token = lease_token + 1,
  lease_expires_at = ${now} + ?3, due_at = ${now} + ?3, executions = executions + 1, updated_ms = ${now},
  fingerprint = ?7
WHERE run_id = ?1 AND workflow = ?4 AND input = ?5 AND (?6 OR fingerprint = ?7)
  AND status IN (${acquirable}) AND (${unowned} OR (?8 AND owner = ?2))
RETURNING ${runJson()}`,
            [
              run.runId,
              owner,
              leaseMs,
              run.workflow,
              run.input,
              anyFingerprint ? 1 : 0,
              run.fingerprint,
              reclaim ? 1 : 0
            ]
          )
        )
        if (taken !== undefined) return { run: taken, acquired: true, created: false }
        const stored = yield* load(exec, t, run.runId, "acquire")
        return stored.run === undefined
          ? undefined
          : { run: stored.run, acquired: false, created: false, entries: stored.entries }
      })
    ),

  load: (exec, t, runId) => load(exec, t, runId, "load"),

  // One statement writes the batch only if the token is current. Fewer rows back than entries
  // means duplicates or a lost lease; the token, re-read, tells which (tokens only grow, so a
  // token current now was current then).
  append: (exec, t, lease, entries) => {
    const parts: Array<ReadonlyArray<JournalEntry>> = []
    for (let i = 0; i < entries.length; i += rowsPerStatement) parts.push(entries.slice(i, i + rowsPerStatement))
    const write = Effect.map(
      Effect.forEach(parts, (part) => exec.query("append", ...insertEntries(t, lease.runId, lease.token, part))),
      (results) => results.reduce((sum, rows) => sum + rows.length, 0)
    )
    const written = parts.length > 1 ? exec.transaction("append", write) : write
    return Effect.flatMap(written, (count) =>
      count === entries.length
        ? Effect.succeed(true)
        : Effect.map(
          exec.query("append", `SELECT 1 FROM ${t.runs} WHERE run_id = ?1 AND lease_token = ?2`, [
            lease.runId,
            lease.token
          ]),
          (rows) => rows.length > 0
        ))
  },

  heartbeat: (exec, t, owner, leases, leaseMs) =>
    exec.query(
      "heartbeat",
      `UPDATE ${t.runs} SET lease_expires_at = ${now} + ?2, due_at = ${now} + ?2, updated_ms = ${now}
WHERE owner = ?1 AND status = 'running' AND lease_expires_at > ${now}
  AND (run_id, lease_token) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?3))
RETURNING run_id, cancel_requested, error`,
      [owner, leaseMs, JSON.stringify(leases.map((lease) => [lease.runId, lease.token]))]
    ),

  // One statement releases the run and, when it ends, wakes its parent: both rows are updated by
  // the same UPDATE, each by its own branch of every CASE. The parent's row is found through the
  // run's, whose lease token and cancellation flag the release does not change.
  release: (exec, t, lease, release) => {
    const status = (row: string) =>
      `(CASE WHEN ?8 IS NOT NULL AND ${row}cancel_requested AND ?3 IN ('queued', 'sleeping', 'waiting') THEN ?8 ELSE ?3 END)`
    const own = status("")
    return Effect.map(
      exec.query(
        "release",
        `UPDATE ${t.runs} SET
  status = CASE WHEN run_id = ?1 THEN ${own} ELSE status END,
  owner = CASE WHEN run_id = ?1 THEN NULL ELSE owner END,
  lease_expires_at = CASE WHEN run_id = ?1 THEN NULL ELSE lease_expires_at END,
  wake_at = CASE WHEN run_id = ?1 THEN ?4 ELSE wake_at END,
  waiting_for = CASE WHEN run_id = ?1 THEN ?5 ELSE waiting_for END,
  error = CASE WHEN run_id <> ?1 THEN error
    WHEN ${own} = 'cancelled' OR ${own} <> ?3 THEN COALESCE(?6, error) ELSE ?6 END,
  due_at = CASE
    WHEN run_id <> ?1 THEN CASE WHEN status = 'waiting' THEN ${now} ELSE due_at END
    WHEN ${own} = 'queued' THEN ${now}
    WHEN ${own} IN ('sleeping', 'waiting') THEN CASE WHEN ?7 IS NOT NULL AND wakeups <> ?7 THEN ${now} ELSE ?4 END
    ELSE NULL END,
  wakeups = CASE WHEN run_id = ?1 THEN wakeups ELSE wakeups + 1 END,
  updated_ms = ${now}
WHERE (run_id = ?1 AND lease_token = ?2)
  OR run_id = (
    SELECT c.parent_run_id FROM ${t.runs} AS c WHERE c.run_id = ?1 AND c.lease_token = ?2
      AND ${status("c.")} IN ('completed', 'failed', 'cancelled')
  )
RETURNING run_id, workflow, status, COALESCE(due_at <= ${now}, 0)`,
        [
          lease.runId,
          lease.token,
          release.status,
          release.wakeAt ?? null,
          release.waitingFor ?? null,
          release.error ?? null,
          release.wakeupsSeen ?? null,
          release.ifCancelRequested ?? null
        ]
      ),
      (rows) => {
        const row = rows.find((row) => row[0] === lease.runId)
        const parent = rows.find((row) => row[0] !== lease.runId)
        return row === undefined ? undefined : {
          workflow: String(row[1]),
          status: String(row[2]),
          due: Number(row[3]) === 1,
          parent: parent === undefined
            ? undefined
            : { runId: String(parent[0]), workflow: String(parent[1]), due: parent[2] === "waiting" }
        }
      }
    )
  },

  startChild: (exec, t, lease, child) =>
    exec.transaction(
      "startChild",
      Effect.gen(function*() {
        if (!(yield* leaseHeld(exec, t, "startChild", lease.runId, lease.token))) return "leaseLost" as const
        const created = first(
          yield* exec.query(
            "startChild",
            `INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms,
  parent_run_id)
VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ${now}, ${now}, ${now}, ?6)
ON CONFLICT (run_id) DO NOTHING
RETURNING ${runJson()}`,
            [child.runId, child.workflow, child.fingerprint, child.input, child.priority ?? 0, lease.runId]
          )
        )
        if (created !== undefined) return { run: created, created: true }
        const stored = yield* get(exec, t, child.runId, "startChild")
        return stored === undefined ? undefined : { run: stored, created: false }
      })
    ),

  // SQLite's single writer serializes the whole transaction: counting the live holders and taking
  // a slot cannot interleave with another request.
  acquireSlot: (exec, t, lease, request) =>
    exec.transaction(
      "acquireSlot",
      Effect.gen(function*() {
        if (!(yield* leaseHeld(exec, t, "acquireSlot", lease.runId, lease.token))) return undefined
        const others = `s.key = ?1 AND NOT (s.run_id = ?2 AND s.path = ?3)`
        // A holder whose lease expired loses the lease with the slot: its token moves on, so
        // nothing the stalled holder does later (a completion, a heartbeat) is accepted.
        yield* exec.query(
          "acquireSlot",
          `UPDATE ${t.runs} AS r SET lease_token = r.lease_token + 1, updated_ms = ${now}
WHERE r.status = 'running' AND r.lease_expires_at <= ${now}
  AND EXISTS (SELECT 1 FROM ${t.slots} AS s WHERE ${others} AND s.run_id = r.run_id AND s.lease_token = r.lease_token)`,
          [request.key, lease.runId, request.path]
        )
        yield* exec.query(
          "acquireSlot",
          `DELETE FROM ${t.slots} AS s WHERE ${others} AND NOT EXISTS (SELECT 1 FROM ${t.runs} AS r WHERE ${liveHolder})`,
          [request.key, lease.runId, request.path]
        )
        const [live, retryAt] = (yield* exec.query(
          "acquireSlot",
          `SELECT count(*), min(r.lease_expires_at) FROM ${t.slots} AS s JOIN ${t.runs} AS r ON ${liveHolder} WHERE ${others}`,
          [request.key, lease.runId, request.path]
        ))[0] ?? [0, null]
        const acquired = Number(live) < request.max
        yield* acquired
          ? exec.query(
            "acquireSlot",
            `INSERT INTO ${t.slots} (key, run_id, path, lease_token, acquired_ms) VALUES (?1, ?2, ?3, ?4, ${now})
ON CONFLICT (key, run_id, path) DO UPDATE SET lease_token = excluded.lease_token, acquired_ms = excluded.acquired_ms`,
            [request.key, lease.runId, request.path, lease.token]
          )
          : exec.query(
            "acquireSlot",
            `INSERT INTO ${t.slotWaiters} (key, run_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING`,
            [request.key, lease.runId]
          )
        return { acquired, retryAt: retryAt === null || retryAt === undefined ? undefined : Number(retryAt) }
      })
    ),

  releaseSlot: (exec, t, lease, request) =>
    exec.transaction(
      "releaseSlot",
      Effect.gen(function*() {
        yield* exec.query(
          "releaseSlot",
          `DELETE FROM ${t.slots} WHERE key = ?1 AND run_id = ?2 AND path = ?3 AND lease_token = ?4`,
          [request.key, lease.runId, request.path, lease.token]
        )
        // One waiter per free slot, in claim order: the others would only find the key full.
        const waiters = yield* exec.query(
          "releaseSlot",
          `DELETE FROM ${t.slotWaiters} WHERE key = ?1 AND run_id IN (
  SELECT w.run_id FROM ${t.slotWaiters} AS w LEFT JOIN ${t.runs} AS r ON r.run_id = w.run_id WHERE w.key = ?1
  ORDER BY r.priority DESC, r.created_ms, w.run_id
  LIMIT max(0, ?2 - (SELECT count(*) FROM ${t.slots} AS s JOIN ${t.runs} AS r ON ${liveHolder} WHERE s.key = ?1))
)
RETURNING run_id`,
          [request.key, request.max]
        )
        return wokenRows(yield* wakeRuns(exec, t, "releaseSlot", waiters.map((row) => String(row[0]))))
      })
    ),

  create: (exec, t, run) =>
    exec.transaction(
      "create",
      Effect.gen(function*() {
        const created = first(
          yield* exec.query(
            "create",
            `INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms)
VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ${now}, ${now}, ${now})
ON CONFLICT (run_id) DO NOTHING
RETURNING ${runJson()}`,
            [run.runId, run.workflow, run.fingerprint, run.input, run.priority ?? 0]
          )
        )
        if (created !== undefined) return { run: created, created: true }
        const stored = yield* get(exec, t, run.runId, "create")
        return stored === undefined ? undefined : { run: stored, created: false }
      })
    ),

  get: (exec, t, runId) => get(exec, t, runId),

  // One statement claims the runs and reads their entries (SQLite has one writer at a time, so
  // no append can come between): as a JSON array per run, a subquery of \`RETURNING\`.
  claim: (exec, t, request) =>
    Effect.map(
      exec.query(
        "claim",
        `UPDATE ${t.runs} SET status = 'running', owner = ?1, lease_token = lease_token + 1,
  lease_expires_at = ${now} + ?2, due_at = ${now} + ?2, executions = executions + 1, updated_ms = ${now}
WHERE run_id IN (
  SELECT run_id FROM ${t.runs}
  WHERE due_at <= ${now}
    AND (workflow, fingerprint) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?4))
  ORDER BY due_at, priority DESC
  LIMIT ?3
)
RETURNING ${runJson()}, (
  SELECT json_group_array(json_array(e.path, e.kind, e.value, e.seq, e.started_at, e.finished_at))
  FROM ${t.entries} AS e WHERE e.run_id = ${t.runs}.run_id
)`,
        [
          request.owner,
          request.leaseMs,
          request.limit,
          JSON.stringify(request.workflows.map((workflow) => [workflow.name, workflow.fingerprint]))
        ]
      ),
      (rows) => rows.map((row) => ({ run: row[0], entries: JSON.parse(String(row[1])) as Rows }))
    ),

  deliver: (exec, t, runId, entry) =>
    exec.transaction(
      "deliver",
      Effect.gen(function*() {
        const found = yield* exec.query("deliver", `SELECT 1 FROM ${t.runs} WHERE run_id = ?1`, [runId])
        if (found.length === 0) return "missing" as const
        const stored = yield* exec.query(
          "deliver",
          `INSERT INTO ${t.entries} (run_id, path, kind, seq, value, finished_at) VALUES (?1, ?2, ?5, ?6, ?3, ?4)
ON CONFLICT DO NOTHING RETURNING 1`,
          [runId, entry.path, entry.value, entry.finishedAt ?? null, entry.kind, entry.seq]
        )
        if (stored.length === 0) return "duplicate" as const
        yield* exec.query(
          "deliver",
          `UPDATE ${t.runs} SET wakeups = wakeups + 1, updated_ms = ${now},
  due_at = CASE WHEN status = 'waiting' THEN ${now} ELSE due_at END
WHERE run_id = ?1`,
          [runId]
        )
        return "delivered" as const
      })
    ),

  // As on Postgres: unowned runs are cancelled at once (or queued to compensate), owned ones
  // flagged, children with their parent; the run's parent is woken when it ended now.
  cancel: (exec, t, runId, reason) =>
    exec.transaction(
      "cancel",
      Effect.gen(function*() {
        const compensable =
          `EXISTS (SELECT 1 FROM ${t.entries} AS e WHERE e.run_id = r.run_id AND e.kind = 'compensable')`
        const unownedRow = `(r.owner IS NULL OR r.lease_expires_at <= ${now})`
        const cancelNow = `(${unownedRow} AND NOT ${compensable})`
        const queueNow = `(${unownedRow} AND ${compensable})`
        const changed = yield* exec.query(
          "cancel",
          `${family(t)}
UPDATE ${t.runs} AS r SET cancel_requested = 1, error = ?2, updated_ms = ${now},
  status = CASE WHEN ${cancelNow} THEN 'cancelled' WHEN ${queueNow} THEN 'queued' ELSE status END,
  lease_token = CASE WHEN ${unownedRow} THEN lease_token + 1 ELSE lease_token END,
  lease_expires_at = CASE WHEN ${unownedRow} THEN NULL ELSE lease_expires_at END,
  wake_at = CASE WHEN ${unownedRow} THEN NULL ELSE wake_at END,
  due_at = CASE WHEN ${cancelNow} THEN NULL WHEN ${queueNow} THEN ${now} ELSE due_at END,
  owner = CASE WHEN ${unownedRow} THEN NULL ELSE owner END
WHERE r.run_id IN (SELECT run_id FROM tree) AND r.status NOT IN ('completed', 'failed', 'cancelled')
RETURNING ${runJson()}, run_id, status, parent_run_id`,
          [runId, reason]
        )
        const root = changed.find((row) => row[1] === runId)
        const parentId = root !== undefined && root[2] === "cancelled" && typeof root[3] === "string"
          ? root[3]
          : undefined
        const woken = wokenRows(yield* wakeRuns(exec, t, "cancel", parentId === undefined ? [] : [parentId]))
        return { run: yield* get(exec, t, runId, "cancel"), changed: changed.map((row) => row[0]), parent: woken[0] }
      })
    ),

  // A failed run is queued again, with its failed children; a suspended one is made due.
  resume: (exec, t, runId) =>
    Effect.flatMap(
      exec.query(
        "resume",
        `${family(t)}
UPDATE ${t.runs} SET due_at = ${now}, updated_ms = ${now},
  error = CASE WHEN status = 'failed' THEN NULL ELSE error END,
  status = CASE WHEN status = 'failed' THEN 'queued' ELSE status END
WHERE run_id IN (SELECT run_id FROM tree)
  AND (status = 'failed' OR (run_id = ?1 AND status IN ('sleeping', 'waiting')))
RETURNING ${runJson()}`,
        [runId]
      ),
      (rows) => Effect.map(get(exec, t, runId, "resume"), (run) => ({ run, resumed: rows.map((row) => row[0]) }))
    ),

  list: (exec, t, filter, after, limit) => {
    const params: Array<unknown> = []
    const where: Array<string> = []
    const param = (value: unknown) => {
      params.push(value)
      return `?${params.length}`
    }
    if (filter.workflow !== undefined) where.push(`workflow = ${param(filter.workflow)}`)
    if (filter.parentRunId !== undefined) where.push(`parent_run_id = ${param(filter.parentRunId)}`)
    if (filter.status !== undefined) {
      const statuses = typeof filter.status === "string" ? [filter.status] : filter.status
      where.push(`status IN (SELECT value FROM json_each(${param(JSON.stringify(statuses))}))`)
    }
    if (filter.createdAfter !== undefined) where.push(`created_ms >= ${param(filter.createdAfter)}`)
    if (filter.createdBefore !== undefined) where.push(`created_ms < ${param(filter.createdBefore)}`)
    if (after !== undefined) where.push(`(created_ms, run_id) < (${param(after.createdAt)}, ${param(after.runId)})`)
    return Effect.map(
      exec.query(
        "list",
        `SELECT ${runJson()} FROM ${t.runs}${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}
ORDER BY created_ms DESC, run_id DESC LIMIT ${param(limit)}`,
        params
      ),
      (rows) => rows.map((row) => row[0])
    )
  },

  counts: (exec, t, workflow) =>
    workflow === undefined
      ? exec.query("counts", `SELECT status, count(*) FROM ${t.runs} GROUP BY status`, [])
      : exec.query("counts", `SELECT status, count(*) FROM ${t.runs} WHERE workflow = ?1 GROUP BY status`, [workflow]),

  nextDue: (exec, t, workflows) =>
    Effect.map(
      exec.query(
        "nextDue",
        `SELECT min(due_at) FROM ${t.runs} WHERE due_at > ${now} AND workflow IN (SELECT value FROM json_each(?1))`,
        [JSON.stringify(workflows)]
      ),
      (rows) => {
        const value = rows[0]?.[0]
        return value === null || value === undefined ? undefined : Number(value)
      }
    ),

  saveSchedule: (exec, t, schedule) =>
    Effect.map(
      exec.query(
        "saveSchedule",
        `INSERT INTO ${t.schedules} (id, workflow, input, cron, timezone, missed, next_at, created_ms, updated_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ${now}, ${now})
ON CONFLICT (id) DO UPDATE SET workflow = excluded.workflow, input = excluded.input, cron = excluded.cron,
  timezone = excluded.timezone, missed = excluded.missed, next_at = excluded.next_at, updated_ms = excluded.updated_ms
RETURNING ${scheduleJson()}`,
        [
          schedule.id,
          schedule.workflow,
          schedule.input,
          schedule.cron,
          schedule.timezone ?? null,
          schedule.missed,
          schedule.nextAt
        ]
      ),
      first
    ),

  removeSchedule: (exec, t, id) =>
    Effect.map(
      exec.query("removeSchedule", `DELETE FROM ${t.schedules} WHERE id = ?1 RETURNING 1`, [id]),
      (rows) => rows.length > 0
    ),

  listSchedules: (exec, t, workflow) =>
    Effect.map(
      exec.query(
        "listSchedules",
        `SELECT ${scheduleJson()} FROM ${t.schedules} WHERE ?1 IS NULL OR workflow = ?1 ORDER BY id`,
        [workflow ?? null]
      ),
      (rows) => rows.map((row) => row[0])
    ),

  schedulesOf: (exec, t, workflows) =>
    Effect.map(
      exec.query(
        "dueSchedules",
        `SELECT 0, ${now}, NULL UNION ALL
SELECT 1, next_at, ${scheduleJson()} FROM ${t.schedules} WHERE workflow IN (SELECT value FROM json_each(?1))`,
        [JSON.stringify(workflows)]
      ),
      (rows) => ({
        now: Number(rows.find((row) => Number(row[0]) === 0)?.[1]),
        schedules: rows.filter((row) => Number(row[0]) === 1).map((row) => row[2])
      })
    ),

  fireSchedule: (exec, t, firing) =>
    exec.transaction(
      "fireSchedule",
      Effect.gen(function*() {
        const fired = yield* exec.query(
          "fireSchedule",
          `UPDATE ${t.schedules} SET next_at = ?3, updated_ms = ${now},
  last_tick_at = COALESCE(?4, last_tick_at), last_run_id = COALESCE(?5, last_run_id)
WHERE id = ?1 AND next_at = ?2
RETURNING id`,
          [firing.id, firing.expectedNextAt, firing.nextAt, firing.tickAt ?? null, firing.run?.runId ?? null]
        )
        if (fired.length === 0) return { fired: false, created: false }
        const run = firing.run
        if (run === undefined) return { fired: true, created: false }
        const created = yield* exec.query(
          "fireSchedule",
          `INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms)
VALUES (?1, ?2, ?3, ?4, 0, 'queued', ${now}, ${now}, ${now})
ON CONFLICT (run_id) DO NOTHING
RETURNING 1`,
          [run.runId, run.workflow, run.fingerprint, run.input]
        )
        return { fired: true, created: created.length > 0 }
      })
    )
}
