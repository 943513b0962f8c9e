/**
 * Every statement the journal and run store send to Postgres.
 *
 * Each operation is one statement. Leases are fenced by their token: an append locks the run
 * row `FOR SHARE` while it checks the token, so a takeover (which updates the row) waits for an
 * append in flight to commit, and the new owner's load, a later statement, sees it. Claims take
 * rows `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait for each other. Notifications
 * are sent with `pg_notify` in the statement that makes the change, so they are delivered when,
 * and only if, it commits.
 */
import * as Effect from "effect/Effect"
import type { SqlError } from "effect/sql/SqlError"
import { runFields } from "../notifiedRunId.ts"
import { memoizeByIdentity } from "../memo.ts"
import type { AcquireResult, ClaimedRow, Dialect, Exec, Rows, RunJson, Tables } from "./dialect.ts"
import { acquirable, runJsonArguments, scheduleJsonArguments, splitLoad, wokenRows } from "./dialect.ts"

const now = "(extract(epoch from now()) * 1000)::bigint"

const runJson = (qualifier: string) => `json_build_object(${runJsonArguments(qualifier)})::text`

/** `pg_notify` as a boolean expression, so it can stand in a select list beside other columns. */
const notify = (channelParam: string, fields: string) =>
  `(pg_notify(${channelParam}, json_build_object(${fields})::text) IS NULL)`

const unowned = `(r.owner IS NULL OR r.lease_expires_at <= ${now})`

const migration1 = (t: Tables) => [
  `CREATE TABLE ${t.runs} (
  run_id text PRIMARY KEY,
  workflow text NOT NULL,
  fingerprint text NOT NULL,
  input text NOT NULL,
  status text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
)`,
  `CREATE TABLE ${t.entries} (
  run_id text NOT NULL REFERENCES ${t.runs} (run_id) ON DELETE CASCADE,
  path text NOT NULL,
  kind text NOT NULL,
  seq integer NOT NULL,
  value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, path, kind, seq)
)`
]

// Leases, wake times and claims. Times are epoch milliseconds (bigint) on the database's clock;
// runs that were `running` under the previous version (no lease) become claimable at once, and
// `suspended` runs become `waiting`.
const migration2 = (t: Tables) => [
  `ALTER TABLE ${t.runs}
  ADD COLUMN priority integer NOT NULL DEFAULT 0,
  ADD COLUMN owner text,
  ADD COLUMN lease_token bigint NOT NULL DEFAULT 0,
  ADD COLUMN lease_expires_at bigint,
  ADD COLUMN wake_at bigint,
  ADD COLUMN due_at bigint,
  ADD COLUMN waiting_for text,
  ADD COLUMN executions integer NOT NULL DEFAULT 0,
  ADD COLUMN wakeups integer NOT NULL DEFAULT 0,
  ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false,
  ADD COLUMN error text,
  ADD COLUMN created_ms bigint,
  ADD COLUMN updated_ms bigint`,
  `UPDATE ${t.runs} SET
  created_ms = (extract(epoch from created_at) * 1000)::bigint,
  updated_ms = (extract(epoch from updated_at) * 1000)::bigint,
  status = CASE status WHEN 'suspended' THEN 'waiting' WHEN 'running' THEN 'queued' ELSE status END,
  due_at = CASE WHEN status = 'running' THEN ${now} ELSE NULL END`,
  `ALTER TABLE ${t.runs}
  ALTER COLUMN created_ms SET NOT NULL, ALTER COLUMN created_ms SET DEFAULT ${now},
  ALTER COLUMN updated_ms SET NOT NULL, ALTER COLUMN updated_ms SET DEFAULT ${now}`,
  `ALTER TABLE ${t.entries} ADD COLUMN started_at bigint, ADD COLUMN finished_at bigint`,
  `CREATE INDEX "${t.prefix}runs_due" ON ${t.runs} (due_at) WHERE due_at IS NOT NULL`,
  `CREATE INDEX "${t.prefix}runs_created" ON ${t.runs} (created_ms DESC, run_id DESC)`
]

// Children, concurrency slots and schedules. A child names its parent (indexed, for cancel and
// resume cascades); slots and their waiters have tables of their own, as do schedules.
const migration3 = (t: Tables) => [
  `ALTER TABLE ${t.runs} ADD COLUMN parent_run_id text`,
  `CREATE INDEX "${t.prefix}runs_parent" ON ${t.runs} (parent_run_id) WHERE parent_run_id IS NOT NULL`,
  `CREATE TABLE ${t.slots} (
  key text NOT NULL,
  run_id text NOT NULL,
  path text NOT NULL,
  lease_token bigint NOT NULL,
  acquired_ms bigint NOT NULL,
  PRIMARY KEY (key, run_id, path)
)`,
  `CREATE TABLE ${t.slotWaiters} (
  key text NOT NULL,
  run_id text NOT NULL,
  PRIMARY KEY (key, run_id)
)`,
  `CREATE TABLE ${t.schedules} (
  id text PRIMARY KEY,
  workflow text NOT NULL,
  input text NOT NULL,
  cron text NOT NULL,
  timezone text,
  missed text NOT NULL,
  next_at bigint NOT NULL,
  last_tick_at bigint,
  last_run_id text,
  created_ms bigint NOT NULL,
  updated_ms bigint NOT NULL
)`,
  `CREATE INDEX "${t.prefix}schedules_workflow" ON ${t.schedules} (workflow)`
]

/**
 * A wake-up of the runs `ids` selects (`run_id` column): each counts it, and a waiting one is due
 * now (a notification says so). Returns `run_id, workflow, due`.
 */
const wakeRuns = (t: Tables, ids: string, channelParam: string) =>
  `UPDATE ${t.runs} AS w SET wakeups = w.wakeups + 1, updated_ms = ${now},
    due_at = CASE WHEN w.status = 'waiting' THEN ${now} ELSE w.due_at END
  FROM (${ids}) AS ids WHERE w.run_id = ids.run_id
  RETURNING w.run_id, w.workflow,
    (w.status = 'waiting' AND ${notify(channelParam, `'k', 'r', ${runFields("w.run_id")}, 'w', w.workflow`)}) AS due`

/** The run and every run it started, transitively, as `tree (run_id)`. */
const family = (t: Tables, rootParam: string) =>
  `tree AS (
  SELECT run_id FROM ${t.runs} WHERE run_id = ${rootParam}
  UNION SELECT c.run_id FROM ${t.runs} AS c JOIN tree ON c.parent_run_id = tree.run_id
)`

/** Slot requests of one key are serialized by an advisory lock, held until the transaction ends. */
const lockSlots = (exec: Exec, t: Tables, operation: "acquireSlot" | "releaseSlot", key: string) =>
  exec.query(operation, `SELECT 1 FROM pg_advisory_xact_lock($1::integer, hashtext($2::text)) AS l`, [
    slotLockNamespace,
    `${t.prefix}${key}`
  ])

const liveHolder = (slot: string, run: string) =>
  `${run}.run_id = ${slot}.run_id AND ${run}.lease_token = ${slot}.lease_token AND ${run}.status = 'running'
    AND ${run}.lease_expires_at > ${now}`

const getStatement = (t: Tables) => `SELECT ${runJson("r.")} FROM ${t.runs} AS r WHERE r.run_id = $1`

const get = (exec: Exec, t: Tables, runId: string, operation: "get" | "acquire" | "cancel" | "resume" = "get") =>
  Effect.map(exec.query(operation, getStatement(t), [runId]), (rows) => rows[0]?.[0])

const load = (exec: Exec, t: Tables, runId: string, operation: "load" | "acquire") =>
  Effect.map(
    exec.query(
      operation,
      `SELECT 0 AS r, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::bigint, NULL::bigint, ${runJson("r.")}
FROM ${t.runs} AS r WHERE r.run_id = $1
UNION ALL
SELECT 1, path, kind, value, seq, started_at, finished_at, NULL FROM ${t.entries} WHERE run_id = $1`,
      [runId]
    ),
    splitLoad
  )

/**
 * The append's statements, built once per set of tables: the entries are written only while the
 * lease token is current, checked under a `FOR SHARE` lock of the run row in the same statement.
 */
const appendStatements = memoizeByIdentity((t: Tables) => {
  const fenced = (rows: string) =>
    `WITH lease AS (SELECT 1 FROM ${t.runs} WHERE run_id = $1 AND lease_token = $2 FOR SHARE),
written AS (
  INSERT INTO ${t.entries} (run_id, path, kind, seq, value, started_at, finished_at)
  ${rows}
  ON CONFLICT DO NOTHING
)
SELECT count(*)::integer FROM lease`
  return {
    one: fenced(
      `SELECT $1, $3::text, $4::text, $5::integer, $6::text, $7::bigint, $8::bigint WHERE EXISTS (SELECT 1 FROM lease)`
    ),
    many: fenced(
      `SELECT $1, e.path, e.kind, e.seq, e.value, NULLIF(e.started_at, '')::bigint, NULLIF(e.finished_at, '')::bigint
  FROM unnest($3::text[], $4::text[], $5::integer[], $6::text[], $7::text[], $8::text[])
    AS e (path, kind, seq, value, started_at, finished_at)
  WHERE EXISTS (SELECT 1 FROM lease)`
    )
  }
})

const leaseHeld = (rows: ReadonlyArray<ReadonlyArray<unknown>>) => Number(rows[0]?.[0]) > 0

/**
 * Splits the rows of a claim (`0`, the run id, six empty columns, the run's JSON and
 * whether its entries follow; `1`, the run id, then an entry's columns) into the claimed runs.
 */
const splitClaim = (rows: Rows): ReadonlyArray<ClaimedRow> => {
  const claimed = new Map<unknown, { run: RunJson; entries: Array<ReadonlyArray<unknown>> | undefined }>()
  for (const row of rows) {
    if (Number(row[0]) === 0) claimed.set(row[1], { run: row[8], entries: row[9] === true ? [] : undefined })
  }
  for (const row of rows) {
    if (Number(row[0]) === 1) claimed.get(row[1])?.entries?.push(row.slice(2, 8))
  }
  return Array.from(claimed.values())
}

export const pg: Dialect = {
  name: "pg",
  notifiesAcrossProcesses: true,
  createMigrationsTable: (t) =>
    `CREATE TABLE IF NOT EXISTS ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  lockMigrations: (t) => [[`SELECT 1 FROM pg_advisory_xact_lock($1, $2) AS l`, [lockNamespace, hash(t.prefix)]]],
  recordMigration: (t) => `INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`,
  migrations: { 1: migration1, 2: migration2, 3: migration3 },

  // An upsert: creates the run leased, or takes the lease of an existing one when it is free and
  // matches. `xmax = 0` tells an inserted row from an updated one.
  acquire: (exec, t, run, { anyFingerprint, leaseMs, owner, reclaim }) =>
    Effect.flatMap(
      exec.query(
        "acquire",
        `INSERT INTO ${t.runs} AS r (run_id, workflow, fingerprint, input, priority, status, owner, lease_token,
  lease_expires_at, due_at, executions, created_ms, updated_ms)
VALUES ($1, $2, $3, $4, $5::integer, 'running', $6, 1, ${now} + $7::bigint, ${now} + $7::bigint, 1, ${now}, ${now})
ON CONFLICT (run_id) DO UPDATE SET status = 'running', owner = $6, lease_token = r.lease_token + 1,
  lease_expires_at = ${now} + $7::bigint, due_at = ${now} + $7::bigint, executions = r.executions + 1, updated_ms = ${now},
  fingerprint = excluded.fingerprint
WHERE r.workflow = $2 AND r.input = $4 AND ($8::boolean OR r.fingerprint = $3)
  AND r.status IN (${acquirable}) AND (${unowned} OR ($9::boolean AND r.owner = $6))
RETURNING ${runJson("r.")}, (r.xmax = 0)`,
        [
          run.runId,
          run.workflow,
          run.fingerprint,
          run.input,
          run.priority ?? 0,
          owner,
          leaseMs,
          anyFingerprint,
          reclaim
        ]
      ),
      (rows): Effect.Effect<AcquireResult | undefined, SqlError> =>
        rows.length > 0
          ? Effect.succeed({ run: rows[0]![0], acquired: true, created: rows[0]![1] === true })
          : Effect.map(load(exec, t, run.runId, "acquire"), (loaded) =>
            loaded.run === undefined
              ? undefined
              : { run: loaded.run, acquired: false, created: false, entries: loaded.entries })
    ),

  load: (exec, t, runId) => load(exec, t, runId, "load"),

  append: (exec, t, lease, entries) => {
    const n = entries.length
    // One entry, a step's output in a sequential run, the common case: scalar parameters, which
    // encode without the array machinery and plan without `unnest`.
    if (n === 1) {
      const entry = entries[0]!
      return Effect.map(
        exec.query("append", appendStatements(t).one, [
          lease.runId,
          lease.token,
          entry.path,
          entry.kind,
          entry.seq,
          entry.value,
          entry.startedAt ?? null,
          entry.finishedAt ?? null
        ]),
        leaseHeld
      )
    }
    const paths = new Array<string>(n)
    const kinds = new Array<string>(n)
    const seqs = new Array<number>(n)
    const values = new Array<string>(n)
    // The driver infers an array's type from its elements (an array of nulls has none, and
    // small and large numbers infer different types): times travel as text, absent ones empty.
    const started = new Array<string>(n)
    const finished = new Array<string>(n)
    for (let i = 0; i < n; i++) {
      const entry = entries[i]!
      paths[i] = entry.path
      kinds[i] = entry.kind
      seqs[i] = entry.seq
      values[i] = entry.value
      started[i] = entry.startedAt === undefined ? "" : String(entry.startedAt)
      finished[i] = entry.finishedAt === undefined ? "" : String(entry.finishedAt)
    }
    return Effect.map(
      exec.query("append", appendStatements(t).many, [
        lease.runId,
        lease.token,
        paths,
        kinds,
        seqs,
        values,
        started,
        finished
      ]),
      leaseHeld
    )
  },

  heartbeat: (exec, t, owner, leases, leaseMs) =>
    exec.query(
      "heartbeat",
      `UPDATE ${t.runs} AS r SET lease_expires_at = ${now} + $2::bigint, due_at = ${now} + $2::bigint, updated_ms = ${now}
FROM unnest($3::text[], $4::bigint[]) AS l (run_id, token)
WHERE r.run_id = l.run_id AND r.lease_token = l.token AND r.owner = $1 AND r.status = 'running'
RETURNING r.run_id, r.cancel_requested, r.error`,
      [owner, leaseMs, leases.map((lease) => lease.runId), leases.map((lease) => lease.token)]
    ),

  // The status a release asks for, unless a cancellation came too late for the executor to see.
  release: (exec, t, lease, release) => {
    const status =
      `(CASE WHEN $9::text IS NOT NULL AND r.cancel_requested AND $3::text IN ('queued', 'sleeping', 'waiting')
      THEN $9::text ELSE $3::text END)`
    return Effect.map(
      exec.query(
        "release",
        `WITH released AS (
  UPDATE ${t.runs} AS r SET status = ${status}, owner = NULL, lease_expires_at = NULL, wake_at = $4::bigint,
    waiting_for = $5::text, updated_ms = ${now},
    error = CASE WHEN ${status} = 'cancelled' OR ${status} <> $3::text THEN COALESCE($6::text, r.error) ELSE $6::text END,
    due_at = CASE
      WHEN ${status} = 'queued' THEN ${now}
      WHEN ${status} IN ('sleeping', 'waiting') THEN
        CASE WHEN $7::integer IS NOT NULL AND r.wakeups <> $7::integer THEN ${now} ELSE $4::bigint END
      ELSE NULL END
  WHERE r.run_id = $1 AND r.lease_token = $2
  RETURNING r.workflow, r.status, r.due_at, r.parent_run_id
),
parent AS (
  ${
          wakeRuns(
            t,
            `SELECT parent_run_id AS run_id FROM released WHERE status IN ('completed', 'failed', 'cancelled')`,
            "$8"
          )
        }
)
SELECT 0, workflow, status, COALESCE(due_at <= ${now}, false) AS due,
  ${
          notify(
            "$8",
            `'k', 'd', ${runFields("$1::text")}, 'w', workflow, 's', status, 'due', COALESCE(due_at <= ${now}, false)`
          )
        }
FROM released
UNION ALL
SELECT 1, run_id, workflow, due, NULL::boolean FROM parent`,
        [
          lease.runId,
          lease.token,
          release.status,
          release.wakeAt ?? null,
          release.waitingFor ?? null,
          release.error ?? null,
          release.wakeupsSeen ?? null,
          t.channel,
          release.ifCancelRequested ?? null
        ]
      ),
      (rows) => {
        const row = rows.find((row) => Number(row[0]) === 0)
        const parent = rows.find((row) => Number(row[0]) === 1)
        return row === undefined ? undefined : {
          workflow: String(row[1]),
          status: String(row[2]),
          due: row[3] === true,
          parent: parent === undefined ? undefined : wokenRows([parent.slice(1)])[0]
        }
      }
    )
  },

  startChild: (exec, t, lease, child) =>
    Effect.map(
      exec.query(
        "startChild",
        `WITH lease AS (SELECT 1 FROM ${t.runs} WHERE run_id = $6 AND lease_token = $7 FOR SHARE),
inserted AS (
  INSERT INTO ${t.runs} AS r (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms,
    parent_run_id)
  SELECT $1, $2, $3, $4, $5::integer, 'queued', ${now}, ${now}, ${now}, $6 FROM lease
  ON CONFLICT (run_id) DO NOTHING
  RETURNING ${runJson("r.")} AS json
)
SELECT json, true, ${notify("$8", `'k', 'r', ${runFields("$1::text")}, 'w', $2::text`)} FROM inserted
UNION ALL
SELECT ${runJson("r.")}, false, false FROM ${t.runs} AS r
WHERE r.run_id = $1 AND NOT EXISTS (SELECT 1 FROM inserted) AND EXISTS (SELECT 1 FROM lease)
UNION ALL
SELECT NULL, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM lease)`,
        [
          child.runId,
          child.workflow,
          child.fingerprint,
          child.input,
          child.priority ?? 0,
          lease.runId,
          lease.token,
          t.channel
        ]
      ),
      (rows) => {
        const row = rows[0]
        // No row: the child was created concurrently after this statement's snapshot; try again.
        if (row === undefined) return undefined
        return row[0] === null ? "leaseLost" as const : { run: row[0], created: row[1] === true }
      }
    ),

  acquireSlot: (exec, t, lease, request) =>
    exec.transaction(
      "acquireSlot",
      Effect.gen(function*() {
        yield* lockSlots(exec, t, "acquireSlot", request.key)
        const rows = yield* exec.query(
          "acquireSlot",
          `WITH lease AS (SELECT 1 FROM ${t.runs} WHERE run_id = $2 AND lease_token = $3),
live AS (
  SELECT s.run_id, s.path, r.lease_expires_at FROM ${t.slots} AS s JOIN ${t.runs} AS r ON ${liveHolder("s", "r")}
  WHERE s.key = $1 AND NOT (s.run_id = $2 AND s.path = $4)
),
purged AS (
  DELETE FROM ${t.slots} AS s WHERE s.key = $1 AND NOT (s.run_id = $2 AND s.path = $4)
    AND NOT EXISTS (SELECT 1 FROM ${t.runs} AS r WHERE ${liveHolder("s", "r")})
),
taken AS (
  INSERT INTO ${t.slots} (key, run_id, path, lease_token, acquired_ms)
  SELECT $1, $2, $4, $3, ${now} FROM lease WHERE (SELECT count(*) FROM live) < $5::integer
  ON CONFLICT (key, run_id, path) DO UPDATE SET lease_token = excluded.lease_token, acquired_ms = excluded.acquired_ms
  RETURNING 1
),
waiting AS (
  INSERT INTO ${t.slotWaiters} (key, run_id) SELECT $1, $2 FROM lease WHERE NOT EXISTS (SELECT 1 FROM taken)
  ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM lease)::integer, (SELECT count(*) FROM taken)::integer, (SELECT min(lease_expires_at) FROM live)`,
          [request.key, lease.runId, lease.token, request.path, request.max]
        )
        const [held, taken, retryAt] = rows[0] ?? [0, 0, null]
        return Number(held) === 0
          ? undefined
          : {
            acquired: Number(taken) > 0,
            retryAt: retryAt === null || retryAt === undefined ? undefined : Number(retryAt)
          }
      })
    ),

  releaseSlot: (exec, t, lease, request) =>
    exec.transaction(
      "releaseSlot",
      Effect.gen(function*() {
        yield* lockSlots(exec, t, "releaseSlot", request.key)
        return wokenRows(
          yield* exec.query(
            "releaseSlot",
            `WITH freed AS (
  DELETE FROM ${t.slots} WHERE key = $1 AND run_id = $2 AND path = $3 AND lease_token = $4
),
waiters AS (DELETE FROM ${t.slotWaiters} WHERE key = $1 RETURNING run_id),
woken AS (${wakeRuns(t, "SELECT run_id FROM waiters", "$5")})
SELECT * FROM woken`,
            [request.key, lease.runId, request.path, lease.token, t.channel]
          )
        )
      })
    ),

  create: (exec, t, run) =>
    Effect.map(
      exec.query(
        "create",
        `WITH inserted AS (
  INSERT INTO ${t.runs} AS r (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms)
  VALUES ($1, $2, $3, $4, $5::integer, 'queued', ${now}, ${now}, ${now})
  ON CONFLICT (run_id) DO NOTHING
  RETURNING ${runJson("r.")} AS json
)
SELECT json, true, ${notify("$6", `'k', 'r', ${runFields("$1::text")}, 'w', $2::text`)} FROM inserted
UNION ALL
SELECT ${runJson("r.")}, false, false FROM ${t.runs} AS r WHERE r.run_id = $1 AND NOT EXISTS (SELECT 1 FROM inserted)`,
        [run.runId, run.workflow, run.fingerprint, run.input, run.priority ?? 0, t.channel]
      ),
      (rows) => (rows.length === 0 ? undefined : { run: rows[0]![0], created: rows[0]![1] === true })
    ),

  get: (exec, t, runId) => get(exec, t, runId),

  // Claims the due runs and reads their entries in one statement, whose snapshot is taken when
  // it starts. The entries are returned only for a run that snapshot saw as it was locked (its
  // `xmin` unchanged: no signal came in between) and that had no live owner before (not a
  // takeover from an expired lease, whose owner may commit an append after the snapshot without
  // changing the row); for the others the executor loads them, in a later statement.
  claim: (exec, t, request) =>
    Effect.map(
      exec.query(
        "claim",
        `WITH due AS (
  SELECT run_id, status AS was, xmin AS version FROM ${t.runs}
  WHERE due_at <= ${now}
    AND (workflow, fingerprint) IN (SELECT w, f FROM unnest($4::text[], $5::text[]) AS c (w, f))
  ORDER BY due_at, priority DESC
  LIMIT $3
  FOR UPDATE SKIP LOCKED
),
claimed AS (
  UPDATE ${t.runs} AS r SET status = 'running', owner = $1, lease_token = r.lease_token + 1,
    lease_expires_at = ${now} + $2::bigint, due_at = ${now} + $2::bigint, executions = r.executions + 1,
    updated_ms = ${now}
  FROM due WHERE r.run_id = due.run_id
  RETURNING r.run_id, ${runJson("r.")} AS json,
    (due.was <> 'running' AND due.version = (SELECT s.xmin FROM ${t.runs} AS s WHERE s.run_id = r.run_id)) AS fresh
)
SELECT 0 AS r, run_id, NULL::text, NULL::text, NULL::text, NULL::integer, NULL::bigint, NULL::bigint, json, fresh FROM claimed
UNION ALL
SELECT 1, e.run_id, e.path, e.kind, e.value, e.seq, e.started_at, e.finished_at, NULL, NULL
FROM ${t.entries} AS e JOIN claimed AS c ON e.run_id = c.run_id WHERE c.fresh`,
        [
          request.owner,
          request.leaseMs,
          request.limit,
          request.workflows.map((workflow) => workflow.name),
          request.workflows.map((workflow) => workflow.fingerprint)
        ]
      ),
      splitClaim
    ),

  // The run row is locked first, so a release deciding whether a waiting run was woken sees
  // either the run before this signal or after it, never between.
  deliver: (exec, t, runId, entry) =>
    Effect.map(
      exec.query(
        "deliver",
        `WITH run AS (SELECT run_id FROM ${t.runs} WHERE run_id = $1 FOR UPDATE),
stored AS (
  INSERT INTO ${t.entries} (run_id, path, kind, seq, value, finished_at)
  SELECT $1, $2, 'signal', 0, $3, $4::bigint FROM run
  ON CONFLICT DO NOTHING
  RETURNING 1
),
woken AS (
  UPDATE ${t.runs} AS r SET wakeups = r.wakeups + 1, updated_ms = ${now},
    due_at = CASE WHEN r.status = 'waiting' THEN ${now} ELSE r.due_at END
  WHERE r.run_id = $1 AND EXISTS (SELECT 1 FROM stored)
  RETURNING r.workflow, r.status
)
SELECT (SELECT count(*) FROM run)::integer, (SELECT count(*) FROM stored)::integer,
  (SELECT count(*) FROM woken WHERE status = 'waiting' AND ${
          notify("$5", `'k', 'r', ${runFields("$1::text")}, 'w', workflow`)
        })::integer`,
        [runId, entry.path, entry.value, entry.finishedAt ?? null, t.channel]
      ),
      (rows) => {
        const [found, stored] = rows[0] ?? [0, 0]
        return Number(found) === 0 ? "missing" : Number(stored) === 0 ? "duplicate" : "delivered"
      }
    ),

  // Unowned runs are cancelled at once, and their token moves on so an executor whose lease had
  // expired cannot write to them any more; owned ones are flagged for their executor, and so are
  // unowned ones with steps to compensate, made due for an executor to do it. Children follow
  // their parent in the same statement.
  cancel: (exec, t, runId, reason) => {
    const compensable = `EXISTS (SELECT 1 FROM ${t.entries} AS e WHERE e.run_id = r.run_id AND e.kind = 'compensable')`
    const cancelNow = `(${unowned} AND NOT ${compensable})`
    const queueNow = `(${unowned} AND ${compensable})`
    return Effect.flatMap(
      exec.query(
        "cancel",
        `WITH RECURSIVE ${family(t, "$1")},
changed AS (
  UPDATE ${t.runs} AS r SET cancel_requested = true, error = $2, updated_ms = ${now},
    status = CASE WHEN ${cancelNow} THEN 'cancelled' WHEN ${queueNow} THEN 'queued' ELSE r.status END,
    lease_token = CASE WHEN ${unowned} THEN r.lease_token + 1 ELSE r.lease_token END,
    owner = CASE WHEN ${unowned} THEN NULL ELSE r.owner END,
    lease_expires_at = CASE WHEN ${unowned} THEN NULL ELSE r.lease_expires_at END,
    wake_at = CASE WHEN ${unowned} THEN NULL ELSE r.wake_at END,
    due_at = CASE WHEN ${cancelNow} THEN NULL WHEN ${queueNow} THEN ${now} ELSE r.due_at END
  FROM tree WHERE r.run_id = tree.run_id AND r.status NOT IN ('completed', 'failed', 'cancelled')
  RETURNING ${runJson("r.")} AS json, r.run_id, r.status, r.workflow, r.parent_run_id, r.owner IS NULL AS unowned
),
parent AS (
  ${wakeRuns(t, `SELECT parent_run_id AS run_id FROM changed WHERE run_id = $1 AND status = 'cancelled'`, "$3")}
)
SELECT 0, json, NULL::text, (pg_notify($3, CASE
  WHEN status = 'cancelled' THEN json_build_object('k', 'd', ${
          runFields("run_id")
        }, 'w', workflow, 's', 'cancelled', 'due', false)::text
  WHEN unowned THEN json_build_object('k', 'r', ${runFields("run_id")}, 'w', workflow)::text
  ELSE json_build_object('k', 'c', ${runFields("run_id")})::text END) IS NULL) FROM changed
UNION ALL
SELECT 1, run_id, workflow, due FROM parent`,
        [runId, reason, t.channel]
      ),
      (rows) => {
        const changed = rows.filter((row) => Number(row[0]) === 0).map((row) => row[1])
        const parent = rows.find((row) => Number(row[0]) === 1)
        const woken = parent === undefined ? undefined : wokenRows([parent.slice(1)])[0]
        return Effect.map(get(exec, t, runId, "cancel"), (run) => ({ run, changed, parent: woken }))
      }
    )
  },

  // A failed run is queued again, with its failed children; a suspended one is made due.
  resume: (exec, t, runId) =>
    Effect.flatMap(
      exec.query(
        "resume",
        `WITH RECURSIVE ${family(t, "$1")},
resumed AS (
  UPDATE ${t.runs} AS r SET due_at = ${now}, updated_ms = ${now},
    status = CASE WHEN r.status = 'failed' THEN 'queued' ELSE r.status END,
    error = CASE WHEN r.status = 'failed' THEN NULL ELSE r.error END
  FROM tree WHERE r.run_id = tree.run_id
    AND (r.status = 'failed' OR (r.run_id = $1 AND r.status IN ('sleeping', 'waiting')))
  RETURNING ${runJson("r.")} AS json, r.run_id, r.workflow
)
SELECT json, ${notify("$2", `'k', 'r', ${runFields("run_id")}, 'w', workflow`)} FROM resumed`,
        [runId, t.channel]
      ),
      (rows) => Effect.map(get(exec, t, runId, "resume"), (run) => ({ run, resumed: rows.map((row) => row[0]) }))
    ),

  list: (exec, t, filter, after, limit) => {
    const params: Array<unknown> = []
    const where: Array<string> = []
    const param = (value: unknown) => {
      params.push(value)
      return `$${params.length}`
    }
    if (filter.workflow !== undefined) where.push(`r.workflow = ${param(filter.workflow)}`)
    if (filter.parentRunId !== undefined) where.push(`r.parent_run_id = ${param(filter.parentRunId)}`)
    if (filter.status !== undefined) {
      where.push(
        `r.status = ANY(${param(typeof filter.status === "string" ? [filter.status] : filter.status)}::text[])`
      )
    }
    if (filter.createdAfter !== undefined) where.push(`r.created_ms >= ${param(filter.createdAfter)}::bigint`)
    if (filter.createdBefore !== undefined) where.push(`r.created_ms < ${param(filter.createdBefore)}::bigint`)
    if (after !== undefined) {
      where.push(`(r.created_ms, r.run_id) < (${param(after.createdAt)}::bigint, ${param(after.runId)}::text)`)
    }
    return Effect.map(
      exec.query(
        "list",
        `SELECT ${runJson("r.")} FROM ${t.runs} AS r${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}
ORDER BY r.created_ms DESC, r.run_id DESC LIMIT ${param(limit)}`,
        params
      ),
      (rows) => rows.map((row) => row[0])
    )
  },

  counts: (exec, t, workflow) =>
    workflow === undefined
      ? exec.query("counts", `SELECT status, count(*)::integer FROM ${t.runs} GROUP BY status`, [])
      : exec.query("counts", `SELECT status, count(*)::integer FROM ${t.runs} WHERE workflow = $1 GROUP BY status`, [
        workflow
      ]),

  nextDue: (exec, t, workflows) =>
    Effect.map(
      exec.query(
        "nextDue",
        `SELECT min(due_at) FROM ${t.runs} WHERE due_at > ${now} AND workflow = ANY($1::text[])`,
        [workflows]
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
        `INSERT INTO ${t.schedules} AS s (id, workflow, input, cron, timezone, missed, next_at, created_ms, updated_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, ${now}, ${now})
ON CONFLICT (id) DO UPDATE SET workflow = excluded.workflow, input = excluded.input, cron = excluded.cron,
  timezone = excluded.timezone, missed = excluded.missed, next_at = excluded.next_at, updated_ms = excluded.updated_ms
RETURNING ${scheduleJson("s.")}`,
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
      (rows) => rows[0]?.[0]
    ),

  removeSchedule: (exec, t, id) =>
    Effect.map(
      exec.query("removeSchedule", `DELETE FROM ${t.schedules} WHERE id = $1 RETURNING 1`, [id]),
      (rows) => rows.length > 0
    ),

  listSchedules: (exec, t, workflow) =>
    Effect.map(
      exec.query(
        "listSchedules",
        `SELECT ${scheduleJson("s.")} FROM ${t.schedules} AS s WHERE $1::text IS NULL OR s.workflow = $1 ORDER BY s.id`,
        [workflow ?? null]
      ),
      (rows) => rows.map((row) => row[0])
    ),

  schedulesOf: (exec, t, workflows) =>
    Effect.map(
      exec.query(
        "dueSchedules",
        `SELECT 0, ${now}, NULL UNION ALL
SELECT 1, s.next_at, ${scheduleJson("s.")} FROM ${t.schedules} AS s WHERE s.workflow = ANY($1::text[])`,
        [workflows]
      ),
      (rows) => ({
        now: Number(rows.find((row) => Number(row[0]) === 0)?.[1]),
        schedules: rows.filter((row) => Number(row[0]) === 1).map((row) => row[2])
      })
    ),

  // The schedule moves on only from the tick this worker read, and the tick's run is created in
  // the same statement: a tick is fired once, and a fired tick always has its run.
  fireSchedule: (exec, t, firing) =>
    Effect.map(
      exec.query(
        "fireSchedule",
        `WITH fired AS (
  UPDATE ${t.schedules} SET next_at = $3::bigint, updated_ms = ${now},
    last_tick_at = COALESCE($4::bigint, last_tick_at), last_run_id = COALESCE($5::text, last_run_id)
  WHERE id = $1 AND next_at = $2::bigint
  RETURNING id
),
created AS (
  INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms)
  SELECT $5, $6, $7, $8, 0, 'queued', ${now}, ${now}, ${now} FROM fired WHERE $5::text IS NOT NULL
  ON CONFLICT (run_id) DO NOTHING
  RETURNING run_id, workflow
)
SELECT (SELECT count(*) FROM fired)::integer,
  (SELECT count(*) FROM created WHERE ${notify("$9", `'k', 'r', ${runFields("run_id")}, 'w', workflow`)})::integer`,
        [
          firing.id,
          firing.expectedNextAt,
          firing.nextAt,
          firing.tickAt ?? null,
          firing.run?.runId ?? null,
          firing.run?.workflow ?? null,
          firing.run?.fingerprint ?? null,
          firing.run?.input ?? null,
          t.channel
        ]
      ),
      (rows) => ({ fired: Number(rows[0]?.[0]) > 0, created: Number(rows[0]?.[1]) > 0 })
    )
}

const scheduleJson = (qualifier: string) => `json_build_object(${scheduleJsonArguments(qualifier)})::text`

// "plai" as a 32-bit integer: the advisory lock's namespace, next to a hash of the prefix.
const lockNamespace = 0x706c6169

// "plas": the namespace of the per-key slot locks, next to a hash of the prefix and the key.
const slotLockNamespace = 0x706c6173

const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h | 0
}
