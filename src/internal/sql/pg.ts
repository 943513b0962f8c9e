/**
 * Every statement the journal and run store send to Postgres, one per operation, bound to a set
 * of tables once (`statements`).
 *
 * Each operation is one statement. Leases are fenced by their token: an append locks the run
 * row `FOR SHARE` while it checks the token, so a takeover (which updates the row) waits for an
 * append in flight to commit, and the new owner's load, a later statement, sees it. Claims take
 * rows `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait for each other. Notifications
 * are sent with `pg_notify` in the statement that makes the change, so they are delivered when,
 * and only if, it commits.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { dueOf } from "../schedule.ts"
import { runFields } from "../notifiedRunId.ts"
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
import type { SqlError } from "effect/sql/SqlError"
import type { Acquired, JournalError } from "../../Journal.ts"
import type { Created, Dialect, Released, Statements, Tables } from "./dialect.ts"
import type { Exec, Row } from "./statement.ts"

const now = "(extract(epoch from now()) * 1000)::bigint"

const sql = compiler((position) => `$${position}`)

/** A run's row as one JSON text column; `waiting_for` is `jsonb`, so it is an array in it. */
const runJson = (row: string) =>
  `json_build_object(${jsonArguments(runJsonFields, (column) => `${row}.${column}`)})::text`

const scheduleJson = (row: string) =>
  `json_build_object(${jsonArguments(scheduleJsonFields, (column) => `${row}.${column}`)})::text`

/** `pg_notify` on the tables' channel as a boolean expression, so it can stand in a select list. */
const notify = (fields: string) => `(pg_notify(:channel, json_build_object(${fields})::text) IS NULL)`

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

// `waiting_for` holds the list of paths a run waits on as a JSON array, where it held them
// joined with ", ".
const migration4 = (t: Tables) => [
  `ALTER TABLE ${t.runs} ALTER COLUMN waiting_for TYPE jsonb USING
  CASE WHEN waiting_for IS NULL OR waiting_for = '' THEN NULL ELSE to_jsonb(string_to_array(waiting_for, ', ')) END`
]

/**
 * A wake-up of the runs `ids` selects (`run_id` column): each counts it, and a waiting one is due
 * now (a notification says so). Returns `run_id`, `workflow`, `due`.
 */
const wakeRuns = (t: Tables, ids: string) =>
  `UPDATE ${t.runs} AS w SET wakeups = w.wakeups + 1, updated_ms = ${now},
    due_at = CASE WHEN w.status = 'waiting' THEN ${now} ELSE w.due_at END
  FROM (${ids}) AS ids WHERE w.run_id = ids.run_id
  RETURNING w.run_id, w.workflow,
    (w.status = 'waiting' AND ${notify(`'k', 'r', ${runFields("w.run_id")}, 'w', w.workflow`)}) AS due`

/** The run `:runId` and every run it started, transitively, as `tree (run_id)`. */
const family = (t: Tables) =>
  `tree AS (
  SELECT run_id FROM ${t.runs} WHERE run_id = :runId
  UNION SELECT c.run_id FROM ${t.runs} AS c JOIN tree ON c.parent_run_id = tree.run_id
)`

const liveHolder = (slot: string, run: string) =>
  `${run}.run_id = ${slot}.run_id AND ${run}.lease_token = ${slot}.lease_token AND ${run}.status = 'running'
    AND ${run}.lease_expires_at > ${now}`

/** The statements, bound to one set of tables. */
const statements = (t: Tables): Statements => {
  const get = sql(`SELECT ${runJson("r")} AS run FROM ${t.runs} AS r WHERE r.run_id = :runId`)

  const load = sql(`SELECT ${runJson("r")} AS run, NULL::text AS path, NULL::text AS kind, NULL::text AS value,
  NULL::integer AS seq, NULL::bigint AS started_at, NULL::bigint AS finished_at
FROM ${t.runs} AS r WHERE r.run_id = :runId
UNION ALL
SELECT NULL, path, kind, value, seq, started_at, finished_at FROM ${t.entries} WHERE run_id = :runId`)

  // An upsert: creates the run leased, or takes the lease of an existing one when it is free and
  // matches. `xmax = 0` tells an inserted row from an updated one.
  const acquire = sql(`INSERT INTO ${t.runs} AS r (run_id, workflow, fingerprint, input, priority, status, owner,
  lease_token, lease_expires_at, due_at, executions, created_ms, updated_ms)
VALUES (:runId, :workflow, :fingerprint, :input, :priority::integer, 'running', :owner, 1, ${now} + :leaseMs::bigint,
  ${now} + :leaseMs::bigint, 1, ${now}, ${now})
ON CONFLICT (run_id) DO UPDATE SET status = 'running', owner = :owner, lease_token = r.lease_token + 1,
  lease_expires_at = ${now} + :leaseMs::bigint, due_at = ${now} + :leaseMs::bigint, executions = r.executions + 1,
  updated_ms = ${now}, fingerprint = excluded.fingerprint
WHERE r.workflow = :workflow AND r.input = :input AND (:anyFingerprint::boolean OR r.fingerprint = :fingerprint)
  AND r.status IN (${acquirable}) AND (${unowned} OR (:reclaim::boolean AND r.owner = :owner))
RETURNING ${runJson("r")} AS run, (r.xmax = 0) AS created`)

  // The entries are written only while the lease token is current, checked under a `FOR SHARE`
  // lock of the run row in the same statement.
  const fencedAppend = (rows: string) =>
    sql(`WITH lease AS (SELECT 1 FROM ${t.runs} WHERE run_id = :runId AND lease_token = :token FOR SHARE),
written AS (
  INSERT INTO ${t.entries} (run_id, path, kind, seq, value, started_at, finished_at)
  ${rows}
  ON CONFLICT DO NOTHING
)
SELECT count(*)::integer AS held FROM lease`)
  // One entry, a step's output in a sequential run, the common case: scalar parameters, which
  // encode without the array machinery and plan without `unnest`.
  const appendOne = fencedAppend(
    `SELECT :runId, :path::text, :kind::text, :seq::integer, :value::text, :startedAt::bigint, :finishedAt::bigint
  WHERE EXISTS (SELECT 1 FROM lease)`
  )
  const appendMany = fencedAppend(
    `SELECT :runId, e.path, e.kind, e.seq, e.value, NULLIF(e.started_at, '')::bigint, NULLIF(e.finished_at, '')::bigint
  FROM unnest(:paths::text[], :kinds::text[], :seqs::integer[], :values::text[], :startedAts::text[],
    :finishedAts::text[]) AS e (path, kind, seq, value, started_at, finished_at)
  WHERE EXISTS (SELECT 1 FROM lease)`
  )

  const heartbeat = sql(`UPDATE ${t.runs} AS r SET lease_expires_at = ${now} + :leaseMs::bigint,
  due_at = ${now} + :leaseMs::bigint, updated_ms = ${now}
FROM unnest(:runIds::text[], :tokens::bigint[]) AS l (run_id, token)
WHERE r.run_id = l.run_id AND r.lease_token = l.token AND r.owner = :owner AND r.status = 'running'
  AND r.lease_expires_at > ${now}
RETURNING r.run_id, r.cancel_requested, r.error`)

  // The status a release asks for, unless a cancellation came too late for the executor to see.
  const releasedStatus = `(CASE WHEN :ifCancelRequested::text IS NOT NULL AND r.cancel_requested
    AND :status::text IN ('queued', 'sleeping', 'waiting') THEN :ifCancelRequested::text ELSE :status::text END)`
  const releaseStatement = sql(`WITH released AS (
  UPDATE ${t.runs} AS r SET status = ${releasedStatus}, owner = NULL, lease_expires_at = NULL,
    wake_at = :wakeAt::bigint, waiting_for = :waitingFor::jsonb, updated_ms = ${now},
    error = CASE WHEN ${releasedStatus} = 'cancelled' OR ${releasedStatus} <> :status::text
      THEN COALESCE(:error::text, r.error) ELSE :error::text END,
    due_at = CASE
      WHEN ${releasedStatus} = 'queued' THEN ${now}
      WHEN ${releasedStatus} IN ('sleeping', 'waiting') THEN
        CASE WHEN :wakeupsSeen::integer IS NOT NULL AND r.wakeups <> :wakeupsSeen::integer THEN ${now}
        ELSE :wakeAt::bigint END
      ELSE NULL END
  WHERE r.run_id = :runId AND r.lease_token = :token
  RETURNING r.workflow, r.status, r.due_at, r.parent_run_id
),
parent AS (
  ${wakeRuns(t, `SELECT parent_run_id AS run_id FROM released WHERE status IN ('completed', 'failed', 'cancelled')`)}
)
SELECT 'released' AS part, NULL::text AS run_id, workflow, status, COALESCE(due_at <= ${now}, false) AS due,
  ${
    notify(
      `'k', 'd', ${runFields(":runId::text")}, 'w', workflow, 's', status, 'due', COALESCE(due_at <= ${now}, false)`
    )
  }
    AS notified
FROM released
UNION ALL
SELECT 'parent', run_id, workflow, NULL, due, NULL FROM parent`)

  const startChild = sql(
    `WITH lease AS (SELECT 1 FROM ${t.runs} WHERE run_id = :parentRunId AND lease_token = :token FOR SHARE),
inserted AS (
  INSERT INTO ${t.runs} AS r (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms,
    parent_run_id)
  SELECT :runId, :workflow, :fingerprint, :input, :priority::integer, 'queued', ${now}, ${now}, ${now}, :parentRunId
  FROM lease
  ON CONFLICT (run_id) DO NOTHING
  RETURNING ${runJson("r")} AS run
)
SELECT run, true AS created, ${
      notify(`'k', 'r', ${runFields(":runId::text")}, 'w', :workflow::text`)
    } AS notified FROM inserted
UNION ALL
SELECT ${runJson("r")}, false, false FROM ${t.runs} AS r
WHERE r.run_id = :runId AND NOT EXISTS (SELECT 1 FROM inserted) AND EXISTS (SELECT 1 FROM lease)
UNION ALL
SELECT NULL, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM lease)`
  )

  // Slot requests of one key are serialized by an advisory lock, held until the transaction ends.
  // A process stopped inside the transaction (SIGSTOP, a stalled machine) would hold it for ever:
  // its session is ended after 5 s idle in the transaction, which frees the lock.
  const lockSlots = sql(`SELECT set_config('idle_in_transaction_session_timeout', '5000', true)
FROM pg_advisory_xact_lock(:namespace::integer, hashtext(:key::text)) AS l`)
  const lockKey = (key: string) => ({ namespace: slotLockNamespace, key: `${t.prefix}${key}` })

  const acquireSlot = sql(`WITH lease AS (SELECT 1 FROM ${t.runs} WHERE run_id = :runId AND lease_token = :token),
live AS (
  SELECT s.run_id, s.path, r.lease_expires_at FROM ${t.slots} AS s JOIN ${t.runs} AS r ON ${liveHolder("s", "r")}
  WHERE s.key = :key AND NOT (s.run_id = :runId AND s.path = :path)
),
fenced AS (
  UPDATE ${t.runs} AS r SET lease_token = r.lease_token + 1, updated_ms = ${now}
  FROM ${t.slots} AS s
  WHERE s.key = :key AND NOT (s.run_id = :runId AND s.path = :path) AND r.run_id = s.run_id
    AND r.lease_token = s.lease_token AND r.status = 'running' AND r.lease_expires_at <= ${now}
),
purged AS (
  DELETE FROM ${t.slots} AS s WHERE s.key = :key AND NOT (s.run_id = :runId AND s.path = :path)
    AND NOT EXISTS (SELECT 1 FROM ${t.runs} AS r WHERE ${liveHolder("s", "r")})
),
taken AS (
  INSERT INTO ${t.slots} (key, run_id, path, lease_token, acquired_ms)
  SELECT :key, :runId, :path, :token, ${now} FROM lease WHERE (SELECT count(*) FROM live) < :max::integer
  ON CONFLICT (key, run_id, path) DO UPDATE SET lease_token = excluded.lease_token, acquired_ms = excluded.acquired_ms
  RETURNING 1
),
waiting AS (
  INSERT INTO ${t.slotWaiters} (key, run_id) SELECT :key, :runId FROM lease WHERE NOT EXISTS (SELECT 1 FROM taken)
  ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM lease)::integer AS held, (SELECT count(*) FROM taken)::integer AS taken,
  (SELECT min(lease_expires_at) FROM live) AS retry_at`)

  const releaseSlot = sql(`WITH freed AS (
  DELETE FROM ${t.slots} WHERE key = :key AND run_id = :runId AND path = :path AND lease_token = :token
),
waiters AS (
  -- One waiter per free slot, in claim order: the others would only find the key full.
  DELETE FROM ${t.slotWaiters} WHERE key = :key AND run_id IN (
    SELECT w.run_id FROM ${t.slotWaiters} AS w LEFT JOIN ${t.runs} AS r ON r.run_id = w.run_id WHERE w.key = :key
    ORDER BY r.priority DESC NULLS LAST, r.created_ms, w.run_id
    LIMIT greatest(0, :max::integer - (
      SELECT count(*) FROM ${t.slots} AS s JOIN ${t.runs} AS r ON ${liveHolder("s", "r")}
      WHERE s.key = :key AND NOT (s.run_id = :runId AND s.path = :path)
    ))
  )
  RETURNING run_id
),
woken AS (${wakeRuns(t, "SELECT run_id FROM waiters")})
SELECT run_id, workflow, due FROM woken`)

  const create = sql(`WITH inserted AS (
  INSERT INTO ${t.runs} AS r (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms)
  VALUES (:runId, :workflow, :fingerprint, :input, :priority::integer, 'queued', ${now}, ${now}, ${now})
  ON CONFLICT (run_id) DO NOTHING
  RETURNING ${runJson("r")} AS run
)
SELECT run, true AS created, ${
    notify(`'k', 'r', ${runFields(":runId::text")}, 'w', :workflow::text`)
  } AS notified FROM inserted
UNION ALL
SELECT ${runJson("r")}, false, false FROM ${t.runs} AS r
WHERE r.run_id = :runId AND NOT EXISTS (SELECT 1 FROM inserted)`)

  // Claims the due runs and reads their entries in one statement, whose snapshot is taken when
  // it starts. The entries are returned only for a run that snapshot saw as it was locked (its
  // `xmin` unchanged: no signal came in between) and that had no live owner before (not a
  // takeover from an expired lease, whose owner may commit an append after the snapshot without
  // changing the row); for the others the executor loads them, in a later statement.
  const claim = sql(`WITH due AS (
  SELECT run_id, status AS was, xmin AS version FROM ${t.runs}
  WHERE due_at <= ${now}
    AND (workflow, fingerprint) IN (SELECT w, f FROM unnest(:workflows::text[], :fingerprints::text[]) AS c (w, f))
  ORDER BY due_at, priority DESC
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
),
claimed AS (
  UPDATE ${t.runs} AS r SET status = 'running', owner = :owner, lease_token = r.lease_token + 1,
    lease_expires_at = ${now} + :leaseMs::bigint, due_at = ${now} + :leaseMs::bigint, executions = r.executions + 1,
    updated_ms = ${now}
  FROM due WHERE r.run_id = due.run_id
  RETURNING r.run_id, ${runJson("r")} AS run,
    (due.was <> 'running' AND due.version = (SELECT s.xmin FROM ${t.runs} AS s WHERE s.run_id = r.run_id)) AS fresh
)
SELECT run_id, run, fresh, NULL::text AS path, NULL::text AS kind, NULL::text AS value, NULL::integer AS seq,
  NULL::bigint AS started_at, NULL::bigint AS finished_at
FROM claimed
UNION ALL
SELECT e.run_id, NULL, NULL, e.path, e.kind, e.value, e.seq, e.started_at, e.finished_at
FROM ${t.entries} AS e JOIN claimed AS c ON e.run_id = c.run_id WHERE c.fresh`)

  // The run row is locked first, so a release deciding whether a waiting run was woken sees
  // either the run before this signal or after it, never between.
  const deliver = sql(`WITH run AS (SELECT run_id FROM ${t.runs} WHERE run_id = :runId FOR UPDATE),
stored AS (
  INSERT INTO ${t.entries} (run_id, path, kind, seq, value, finished_at)
  SELECT :runId, :path, :kind::text, :seq::integer, :value, :finishedAt::bigint FROM run
  ON CONFLICT DO NOTHING
  RETURNING 1
),
woken AS (
  UPDATE ${t.runs} AS r SET wakeups = r.wakeups + 1, updated_ms = ${now},
    due_at = CASE WHEN r.status = 'waiting' THEN ${now} ELSE r.due_at END
  WHERE r.run_id = :runId AND EXISTS (SELECT 1 FROM stored)
  RETURNING r.workflow, r.status
)
SELECT (SELECT count(*) FROM run)::integer AS found, (SELECT count(*) FROM stored)::integer AS stored,
  (SELECT count(*) FROM woken WHERE status = 'waiting' AND ${
    notify(`'k', 'r', ${runFields(":runId::text")}, 'w', workflow`)
  })::integer AS woken`)

  // Unowned runs are cancelled at once, and their token moves on so an executor whose lease had
  // expired cannot write to them any more; owned ones are flagged for their executor, and so are
  // unowned ones with steps to compensate, made due for an executor to do it. Children follow
  // their parent in the same statement.
  const compensable = `EXISTS (SELECT 1 FROM ${t.entries} AS e WHERE e.run_id = r.run_id AND e.kind = 'compensable')`
  const cancelNow = `(${unowned} AND NOT ${compensable})`
  const queueNow = `(${unowned} AND ${compensable})`
  const cancel = sql(`WITH RECURSIVE ${family(t)},
changed AS (
  UPDATE ${t.runs} AS r SET cancel_requested = true, error = :reason, updated_ms = ${now},
    status = CASE WHEN ${cancelNow} THEN 'cancelled' WHEN ${queueNow} THEN 'queued' ELSE r.status END,
    lease_token = CASE WHEN ${unowned} THEN r.lease_token + 1 ELSE r.lease_token END,
    owner = CASE WHEN ${unowned} THEN NULL ELSE r.owner END,
    lease_expires_at = CASE WHEN ${unowned} THEN NULL ELSE r.lease_expires_at END,
    wake_at = CASE WHEN ${unowned} THEN NULL ELSE r.wake_at END,
    due_at = CASE WHEN ${cancelNow} THEN NULL WHEN ${queueNow} THEN ${now} ELSE r.due_at END
  FROM tree WHERE r.run_id = tree.run_id AND r.status NOT IN ('completed', 'failed', 'cancelled')
  RETURNING ${runJson("r")} AS run, r.run_id, r.status, r.workflow, r.parent_run_id, r.owner IS NULL AS unowned
),
parent AS (
  ${wakeRuns(t, `SELECT parent_run_id AS run_id FROM changed WHERE run_id = :runId AND status = 'cancelled'`)}
)
SELECT run, NULL::text AS run_id, NULL::text AS workflow, (pg_notify(:channel, CASE
  WHEN status = 'cancelled' THEN json_build_object('k', 'd', ${
    runFields("run_id")
  }, 'w', workflow, 's', 'cancelled', 'due', false)::text
  WHEN unowned THEN json_build_object('k', 'r', ${runFields("run_id")}, 'w', workflow)::text
  ELSE json_build_object('k', 'c', ${runFields("run_id")})::text END) IS NULL) AS due FROM changed
UNION ALL
SELECT NULL, run_id, workflow, due FROM parent`)

  // A failed run is queued again, with its failed children; a suspended one is made due.
  const resume = sql(`WITH RECURSIVE ${family(t)},
resumed AS (
  UPDATE ${t.runs} AS r SET due_at = ${now}, updated_ms = ${now},
    status = CASE WHEN r.status = 'failed' THEN 'queued' ELSE r.status END,
    error = CASE WHEN r.status = 'failed' THEN NULL ELSE r.error END
  FROM tree WHERE r.run_id = tree.run_id
    AND (r.status = 'failed' OR (r.run_id = :runId AND r.status IN ('sleeping', 'waiting')))
  RETURNING ${runJson("r")} AS run, r.run_id, r.workflow
)
SELECT run, ${notify(`'k', 'r', ${runFields("run_id")}, 'w', workflow`)} AS notified FROM resumed`)

  const list = sql(`SELECT ${runJson("r")} AS run FROM ${t.runs} AS r
WHERE (:workflow::text IS NULL OR r.workflow = :workflow)
  AND (:parentRunId::text IS NULL OR r.parent_run_id = :parentRunId)
  AND (:statuses::text[] IS NULL OR r.status = ANY(:statuses::text[]))
  AND (:createdAfter::bigint IS NULL OR r.created_ms >= :createdAfter::bigint)
  AND (:createdBefore::bigint IS NULL OR r.created_ms < :createdBefore::bigint)
  AND (:afterCreatedAt::bigint IS NULL OR (r.created_ms, r.run_id) < (:afterCreatedAt::bigint, :afterRunId::text))
ORDER BY r.created_ms DESC, r.run_id DESC LIMIT :limit`)

  const counts = sql(`SELECT status, count(*)::integer AS count FROM ${t.runs}
WHERE :workflow::text IS NULL OR workflow = :workflow GROUP BY status`)

  const nextDue = sql(`SELECT min(due_at) AS due_at FROM ${t.runs}
WHERE due_at > ${now} AND workflow = ANY(:workflows::text[])`)

  const saveSchedule = sql(`INSERT INTO ${t.schedules} AS s (id, workflow, input, cron, timezone, missed, next_at,
  created_ms, updated_ms)
VALUES (:id, :workflow, :input, :cron, :timezone, :missed, :nextAt::bigint, ${now}, ${now})
ON CONFLICT (id) DO UPDATE SET workflow = excluded.workflow, input = excluded.input, cron = excluded.cron,
  timezone = excluded.timezone, missed = excluded.missed, next_at = excluded.next_at, updated_ms = excluded.updated_ms
RETURNING ${scheduleJson("s")} AS schedule`)

  const removeSchedule = sql(`DELETE FROM ${t.schedules} WHERE id = :id RETURNING id`)

  const listSchedules = sql(`SELECT ${scheduleJson("s")} AS schedule FROM ${t.schedules} AS s
WHERE :workflow::text IS NULL OR s.workflow = :workflow ORDER BY s.id`)

  const dueSchedules = sql(`SELECT ${now} AS now, NULL AS schedule UNION ALL
SELECT NULL, ${scheduleJson("s")} FROM ${t.schedules} AS s WHERE s.workflow = ANY(:workflows::text[])`)

  // The schedule moves on only from the tick this worker read, and the tick's run is created in
  // the same statement: a tick is fired once, and a fired tick always has its run.
  const fireSchedule = sql(`WITH fired AS (
  UPDATE ${t.schedules} SET next_at = :nextAt::bigint, updated_ms = ${now},
    last_tick_at = COALESCE(:tickAt::bigint, last_tick_at), last_run_id = COALESCE(:runId::text, last_run_id)
  WHERE id = :id AND next_at = :expectedNextAt::bigint
  RETURNING id
),
created AS (
  INSERT INTO ${t.runs} (run_id, workflow, fingerprint, input, priority, status, due_at, created_ms, updated_ms)
  SELECT :runId, :workflow, :fingerprint, :input, 0, 'queued', ${now}, ${now}, ${now} FROM fired
  WHERE :runId::text IS NOT NULL
  ON CONFLICT (run_id) DO NOTHING
  RETURNING run_id, workflow
)
SELECT (SELECT count(*) FROM fired)::integer AS fired,
  (SELECT count(*) FROM created WHERE ${
    notify(`'k', 'r', ${runFields("run_id")}, 'w', workflow`)
  })::integer AS created`)

  const channel = t.channel
  const getRun = (exec: Exec, runId: string, operation: "get" | "acquire" | "cancel" | "resume") =>
    Effect.flatMap(exec.rows(operation, get, { runId }), (rows) => maybeRunOf(runId, rows))

  return {
    acquire: (exec, record, { anyFingerprint, leaseMs, owner, reclaim }) =>
      Effect.flatMap(
        exec.rows("acquire", acquire, {
          ...record,
          priority: record.priority ?? 0,
          owner,
          leaseMs,
          anyFingerprint: anyFingerprint === true,
          reclaim: reclaim === true
        }),
        (rows): Effect.Effect<Acquired | undefined, JournalError | SqlError> =>
          rows.length > 0
            ? Effect.map(runOf(record.runId, rows[0]!.run), (run) => ({
              run,
              lease: { runId: run.runId, owner, token: run.leaseToken },
              created: rows[0]!.created === true
            }))
            : Effect.map(
              Effect.flatMap(
                exec.rows("acquire", load, { runId: record.runId }),
                (rows) => loadedOf(record.runId, rows)
              ),
              Option.match({
                onNone: () => undefined,
                onSome: ({ entries, run }) => ({ run, lease: undefined, created: false, entries })
              })
            )
      ),

    load: (exec, runId) => Effect.flatMap(exec.rows("load", load, { runId }), (rows) => loadedOf(runId, rows)),

    append: (exec, lease, entries) => {
      const fence = { runId: lease.runId, token: lease.token }
      if (entries.length === 1) {
        const entry = entries[0]!
        return Effect.map(exec.rows("append", appendOne, { ...fence, ...entry }), (rows) => Number(rows[0]?.held) > 0)
      }
      const n = entries.length
      const paths = new Array<string>(n)
      const kinds = new Array<string>(n)
      const seqs = new Array<number>(n)
      const values = new Array<string>(n)
      // The driver infers an array's type from its elements (an array of nulls has none, and
      // small and large numbers infer different types): times travel as text, absent ones empty.
      const startedAts = new Array<string>(n)
      const finishedAts = new Array<string>(n)
      for (let i = 0; i < n; i++) {
        const entry = entries[i]!
        paths[i] = entry.path
        kinds[i] = entry.kind
        seqs[i] = entry.seq
        values[i] = entry.value
        startedAts[i] = entry.startedAt === undefined ? "" : String(entry.startedAt)
        finishedAts[i] = entry.finishedAt === undefined ? "" : String(entry.finishedAt)
      }
      return Effect.map(
        exec.rows("append", appendMany, { ...fence, paths, kinds, seqs, values, startedAts, finishedAts }),
        (rows) => Number(rows[0]?.held) > 0
      )
    },

    heartbeat: (exec, owner, leases, leaseMs) =>
      leases.length === 0 ? Effect.succeed([]) : Effect.map(
        exec.rows("heartbeat", heartbeat, {
          owner,
          leaseMs,
          runIds: leases.map((lease) => lease.runId),
          tokens: leases.map((lease) => lease.token)
        }),
        (rows) => leaseStatesOf(leases, rows)
      ),

    release: (exec, lease, release) =>
      Effect.map(
        exec.rows("release", releaseStatement, {
          runId: lease.runId,
          token: lease.token,
          status: release.status,
          wakeAt: release.wakeAt,
          waitingFor: release.waitingFor === undefined || release.waitingFor.length === 0
            ? null
            : JSON.stringify(release.waitingFor),
          error: release.error,
          wakeupsSeen: release.wakeupsSeen,
          ifCancelRequested: release.ifCancelRequested,
          channel
        }),
        (rows) => {
          const released = rows.find((row) => row.part === "released")
          const parent = rows.filter((row) => row.part === "parent")
          return released === undefined ? undefined : {
            workflow: String(released.workflow),
            status: released.status as Released["status"],
            due: flag(released.due),
            parent: decodeWoken(parent)[0]
          }
        }
      ),

    startChild: (exec, lease, child) =>
      Effect.flatMap(
        exec.rows("startChild", startChild, {
          ...child,
          priority: child.priority ?? 0,
          parentRunId: lease.runId,
          token: lease.token,
          channel
        }),
        (rows): Effect.Effect<Created | "leaseLost", JournalError> => {
          // No row: the child was created concurrently after this statement's snapshot; try again.
          if (rows.length === 0) return Effect.succeed(undefined)
          const row = rows[0]!
          return row.run === null
            ? Effect.succeed("leaseLost" as const)
            : Effect.map(runOf(child.runId, row.run), (run) => ({ run, created: row.created === true }))
        }
      ),

    acquireSlot: (exec, lease, request) =>
      exec.transaction(
        "acquireSlot",
        Effect.andThen(exec.rows("acquireSlot", lockSlots, lockKey(request.key)), () =>
          Effect.map(
            exec.rows("acquireSlot", acquireSlot, { ...request, runId: lease.runId, token: lease.token }),
            ([row]) =>
              row === undefined || Number(row.held) === 0 ? undefined : Number(row.taken) > 0
                ? { acquired: true as const }
                : { acquired: false as const, retryAt: optionalNumber(row.retry_at) }
          ))
      ),

    releaseSlot: (exec, lease, request) =>
      exec.transaction(
        "releaseSlot",
        Effect.andThen(exec.rows("releaseSlot", lockSlots, lockKey(request.key)), () =>
          Effect.map(
            exec.rows("releaseSlot", releaseSlot, { ...request, runId: lease.runId, token: lease.token, channel }),
            decodeWoken
          ))
      ),

    create: (exec, record) =>
      Effect.flatMap(
        exec.rows("create", create, { ...record, priority: record.priority ?? 0, channel }),
        (rows) =>
          rows.length === 0
            ? Effect.succeed(undefined)
            : Effect.map(runOf(record.runId, rows[0]!.run), (run) => ({ run, created: rows[0]!.created === true }))
      ),

    get: (exec, runId) => getRun(exec, runId, "get"),

    claim: (exec, request) =>
      Effect.flatMap(
        exec.rows("claim", claim, {
          owner: request.owner,
          leaseMs: request.leaseMs,
          limit: request.limit,
          workflows: request.workflows.map((workflow) => workflow.name),
          fingerprints: request.workflows.map((workflow) => workflow.fingerprint)
        }),
        (rows) => {
          const entries = new Map<unknown, Array<Row>>()
          for (const row of rows) if (row.fresh === true) entries.set(row.run_id, [])
          for (const row of rows) if (row.run === null) entries.get(row.run_id)?.push(row)
          return Effect.forEach(rows.filter((row) => row.run !== null), (row) =>
            Effect.flatMap(runOf(request.owner, row.run), (run) =>
              Effect.map(
                row.fresh === true ? entriesOf(run.runId, entries.get(row.run_id)!) : Effect.succeed(undefined),
                (entries) => ({
                  run,
                  lease: { runId: run.runId, owner: request.owner, token: run.leaseToken },
                  entries
                })
              )))
        }
      ),

    deliver: (exec, runId, entry) =>
      Effect.map(
        exec.rows("deliver", deliver, { ...entry, runId, channel }),
        ([row]) => Number(row?.found) === 0 ? "missing" : Number(row?.stored) === 0 ? "duplicate" : "delivered"
      ),

    cancel: (exec, runId, reason) =>
      Effect.flatMap(exec.rows("cancel", cancel, { runId, reason, channel }), (rows) =>
        Effect.all({
          run: getRun(exec, runId, "cancel"),
          changed: runsOf(runId, rows.filter((row) => row.run !== null)),
          parent: Effect.succeed(decodeWoken(rows.filter((row) => row.run === null))[0])
        })),

    resume: (exec, runId) =>
      Effect.flatMap(
        exec.rows("resume", resume, { runId, channel }),
        (rows) => Effect.all({ run: getRun(exec, runId, "resume"), resumed: runsOf(runId, rows) })
      ),

    list: (exec, filter) =>
      pageOf(filter, (after, limit) =>
        exec.rows("list", list, {
          workflow: filter.workflow,
          parentRunId: filter.parentRunId,
          statuses: filter.status === undefined
            ? null
            : typeof filter.status === "string"
            ? [filter.status]
            : filter.status,
          createdAfter: filter.createdAfter,
          createdBefore: filter.createdBefore,
          afterCreatedAt: after?.createdAt,
          afterRunId: after?.runId,
          limit
        })),

    counts: (exec, filter) => Effect.map(exec.rows("counts", counts, { workflow: filter?.workflow }), statusCountsOf),

    nextDue: (exec, workflows) =>
      Effect.map(
        exec.rows("nextDue", nextDue, { workflows }),
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
      Effect.flatMap(exec.rows("dueSchedules", dueSchedules, { workflows }), (rows) =>
        Effect.map(
          schedulesOf("(schedules)", rows.filter((row) => row.schedule !== null)),
          (schedules) => dueOf(Number(rows.find((row) => row.schedule === null)?.now), schedules)
        )),

    fireSchedule: (exec, firing) =>
      Effect.map(
        exec.rows("fireSchedule", fireSchedule, {
          id: firing.id,
          expectedNextAt: firing.expectedNextAt,
          nextAt: firing.nextAt,
          tickAt: firing.tickAt,
          runId: firing.run?.runId,
          workflow: firing.run?.workflow,
          fingerprint: firing.run?.fingerprint,
          input: firing.run?.input,
          channel
        }),
        ([row]) => ({ fired: Number(row?.fired) > 0, created: Number(row?.created) > 0 })
      )
  }
}

export const pg: Dialect = {
  name: "pg",
  begin: "BEGIN",
  notifiesAcrossProcesses: true,
  createMigrationsTable: (t) =>
    `CREATE TABLE IF NOT EXISTS ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  lockMigrations: (t) => [[`SELECT 1 FROM pg_advisory_xact_lock($1, $2) AS l`, [lockNamespace, hash(t.prefix)]]],
  recordMigration: (t) => `INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`,
  migrations: { 1: migration1, 2: migration2, 3: migration3, 4: migration4 },
  statements
}

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
