/**
 * The run store: what the engine and workers need across runs. Creating runs, claiming the
 * runnable ones, delivering signals, cancelling, listing, and telling idle workers that there is
 * work. It lives in the same database as the journal (every journal layer provides both), so a
 * signal and the wake-up of the run it is for commit together. What belongs here and what belongs
 * to the `Journal` is decided by the lease: see the `Journal` module.
 *
 * @since 0.1.0
 */
import { namesRun } from "./internal/notifiedRunId.ts"
import type { JournalEntry, Lease, RunInfo, RunRecord } from "./Journal.ts"
import type { RunStatus } from "./RunStatus.ts"
import type { JournalError } from "./WorkflowError.ts"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

/**
 * What a worker asks for: up to `limit` runnable runs of the workflows it holds, each with the
 * fingerprint it holds, leased to `owner` for `leaseMs`.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const request: RunStore.ClaimRequest = {
 *   owner: "worker-1",
 *   leaseMs: 30_000,
 *   limit: 8,
 *   workflows: [{ name: "onboard_user", fingerprint: "[\"user step\"]" }]
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ClaimRequest {
  readonly owner: string
  readonly leaseMs: number
  readonly limit: number
  readonly workflows: ReadonlyArray<{ readonly name: string; readonly fingerprint: string }>
}

/**
 * A claimed run: the run as stored after the claim, its lease, and its journal as the claim read
 * it, so the run's executor needs no `load` first.
 *
 * `entries` is absent when the store could not read the journal consistently with the claim: on
 * Postgres, a run taken over from an expired lease (its last owner may be committing an append
 * while the claim runs) or changed between the start of the claim's statement and its lock on the
 * run (a signal delivered just then). The executor then loads the journal itself.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const label = (claimed: RunStore.Claimed) =>
 *   `${claimed.run.workflow}/${claimed.run.runId} #${claimed.lease.token}: ${claimed.entries?.length ?? "unread"} entries`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Claimed {
  readonly run: RunInfo
  readonly lease: Lease
  readonly entries?: ReadonlyArray<JournalEntry> | undefined
}

/**
 * Which runs `list` returns, newest first. `cursor` is the `next` of the previous page.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const failedToday: RunStore.ListFilter = {
 *   status: "failed",
 *   createdAfter: Date.now() - 86_400_000,
 *   limit: 50
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListFilter {
  readonly workflow?: string | undefined
  /** Only the child runs this run started (`Workflow.child`). */
  readonly parentRunId?: string | undefined
  readonly status?: RunStatus | ReadonlyArray<RunStatus> | undefined
  /** Only runs created at or after this time (epoch milliseconds). */
  readonly createdAfter?: number | undefined
  /** Only runs created before this time (epoch milliseconds). */
  readonly createdBefore?: number | undefined
  /** At most this many runs: a whole number from 1 to 1000 (default 50); `Engine.list` refuses any other. */
  readonly limit?: number | undefined
  readonly cursor?: string | undefined
}

/**
 * One page of runs, and the cursor of the next page when there is one.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const ids = (page: RunStore.RunPage) => page.runs.map((run) => run.runId)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunPage {
  readonly runs: ReadonlyArray<RunInfo>
  readonly next: string | undefined
}

/**
 * Counts of runs by status, for dashboards.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const active = (counts: RunStore.StatusCounts) => counts.running + counts.queued
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type StatusCounts = { readonly [S in RunStatus]: number }

/**
 * What happened to a signal handed to the store.
 *
 * - `delivered`: stored now; a run waiting for it is due at once.
 * - `duplicate`: a value for this path was already stored; the first one is kept.
 * - `missing`: no run has this id.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const accepted = (delivery: RunStore.Delivery) => delivery === "delivered"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Delivery = "delivered" | "duplicate" | "missing"

/**
 * A notification from the store. On Postgres they cross processes (`LISTEN`/`NOTIFY`); on SQLite
 * and in memory they reach subscribers of the same process, and polling covers the rest.
 *
 * - `Runnable`: a run of `workflow` became runnable (started, signalled, resumed, released).
 * - `CancelRequested`: stop the run if you execute it.
 * - `Released`: the run's executor let it go with `status`.
 *
 * No notification grows with the run id: across processes on Postgres, a run whose id is over 64
 * UTF-8 bytes is named by a digest of its id instead. Match a notification to a run with
 * {@link isAbout}, which knows both forms.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const concerns = (runId: string) => (notification: RunStore.Notification) => RunStore.isAbout(notification, runId)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Notification =
  | { readonly _tag: "Runnable"; readonly runId: string; readonly workflow: string }
  | { readonly _tag: "CancelRequested"; readonly runId: string }
  | { readonly _tag: "Released"; readonly runId: string; readonly status: RunStatus }

/**
 * Whether `notification` is about the run `runId`: it names the run by its id, or (a Postgres
 * notification of a run whose id is over 64 UTF-8 bytes) by the digest of its id.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const wakesMe = (notification: RunStore.Notification) =>
 *   notification._tag === "Released" && RunStore.isAbout(notification, "order-7")
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const isAbout = (notification: Notification, runId: string): boolean => namesRun(notification.runId, runId)

/**
 * What to do with ticks of a schedule that no worker fired in time (everything was down):
 * `"skip"` them, or `"catchUp"` with one run for all of them. A tick is missed when no worker
 * fired it within a minute of its time.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const policy: RunStore.MissedTicks = "catchUp"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type MissedTicks = "skip" | "catchUp"

/**
 * A schedule as stored: which workflow it starts, with which input, when.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const nightly: RunStore.ScheduleRecord = {
 *   id: "nightly-report",
 *   workflow: "report",
 *   input: JSON.stringify({ kind: "daily" }),
 *   cron: "0 3 * * *",
 *   timezone: "Europe/Paris",
 *   missed: "skip",
 *   nextAt: Date.parse("2025-01-02T02:00:00Z")
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ScheduleRecord {
  readonly id: string
  readonly workflow: string
  /** The input of every run it starts, encoded through the workflow's input schema (JSON). */
  readonly input: string
  /** A cron expression of five or six fields (`effect/Cron`). */
  readonly cron: string
  /** The IANA time zone the expression is read in; UTC when absent. */
  readonly timezone: string | undefined
  readonly missed: MissedTicks
  /** The next tick not yet fired (epoch milliseconds). */
  readonly nextAt: number
}

/**
 * A stored schedule and what it did last.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const describe = (schedule: RunStore.ScheduleInfo) =>
 *   `${schedule.id}: next ${new Date(schedule.nextAt).toISOString()}, last run ${schedule.lastRunId ?? "none"}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ScheduleInfo extends ScheduleRecord {
  /** The tick of the last run it started (epoch milliseconds). */
  readonly lastTickAt: number | undefined
  readonly lastRunId: string | undefined
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * A tick a worker fires: the schedule moves on from `expectedNextAt` to `nextAt` only if no other
 * worker moved it first, and in the same transaction `run` (the tick's run, when one is due) is
 * created unless it exists.
 *
 * @example
 * ```ts
 * import { RunStore } from "plait"
 *
 * const fire: RunStore.Firing = {
 *   id: "nightly-report",
 *   expectedNextAt: 1_000,
 *   nextAt: 2_000,
 *   run: { runId: "nightly-report@1970-01-01T00:00:01.000Z", workflow: "report", fingerprint: "[]", input: "{}" },
 *   tickAt: 1_000
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Firing {
  readonly id: string
  readonly expectedNextAt: number
  readonly nextAt: number
  readonly run: RunRecord | undefined
  readonly tickAt: number | undefined
}

/**
 * The run store service. Provided by every journal layer, over the same database.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunStore } from "plait"
 *
 * const failedCount = Effect.gen(function*() {
 *   const store = yield* RunStore.RunStore
 *   const counts = yield* store.counts()
 *   return counts.failed
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class RunStore extends Context.Service<RunStore, {
  /** Creates a queued run unless the id exists; returns the stored run either way. */
  readonly create: (run: RunRecord) => Effect.Effect<{ readonly run: RunInfo; readonly created: boolean }, JournalError>
  readonly get: (runId: string) => Effect.Effect<Option.Option<RunInfo>, JournalError>
  /**
   * Claims up to `limit` runnable runs in one statement, oldest due first (then priority):
   * queued runs, sleeping or waiting runs whose wake time came, running runs whose lease expired.
   * Only runs of the given workflows with the given fingerprints. The same statement reads the
   * claimed runs' journals (see `Claimed.entries` for when it cannot).
   */
  readonly claim: (request: ClaimRequest) => Effect.Effect<ReadonlyArray<Claimed>, JournalError>
  /**
   * Stores an entry from outside the run (a signal, a resume) unless one is stored with its
   * identity, and in the same transaction makes a waiting run due.
   */
  readonly deliver: (runId: string, entry: JournalEntry) => Effect.Effect<Delivery, JournalError>
  /**
   * Asks for a run and every unfinished run it started (its children, theirs, ...) to stop, in
   * one statement. A run nobody executes (queued, sleeping, waiting, or with an expired lease) is
   * cancelled at once, unless it has completed steps to compensate: then it is flagged and due,
   * for an executor to compensate it. A running one is flagged for its executor. Finished runs
   * are left as they are. Returns the run after the change.
   */
  readonly cancel: (runId: string, reason: string) => Effect.Effect<Option.Option<RunInfo>, JournalError>
  /**
   * Makes a failed, sleeping or waiting run due now, and its failed children (theirs, ...)
   * queued again. Returns the run after the change.
   */
  readonly resume: (runId: string) => Effect.Effect<Option.Option<RunInfo>, JournalError>
  readonly list: (filter: ListFilter) => Effect.Effect<RunPage, JournalError>
  readonly counts: (filter?: { readonly workflow?: string | undefined }) => Effect.Effect<StatusCounts, JournalError>
  /**
   * The earliest time something of these workflows that is not runnable now becomes runnable (a
   * wake time, a lease expiry), if any: how long an idle worker may sleep.
   */
  readonly nextDue: (workflows: ReadonlyArray<string>) => Effect.Effect<Option.Option<number>, JournalError>
  /**
   * Notifications from now on, until the scope closes. The store sends them itself, with the
   * change they announce.
   */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Notification>, JournalError, Scope.Scope>
  /** Stores a schedule, replacing the one with its id. Returns it as stored. */
  readonly saveSchedule: (schedule: ScheduleRecord) => Effect.Effect<ScheduleInfo, JournalError>
  /** Removes a schedule; false when none had the id. Runs it started are left as they are. */
  readonly removeSchedule: (id: string) => Effect.Effect<boolean, JournalError>
  readonly listSchedules: (
    filter?: { readonly workflow?: string | undefined }
  ) => Effect.Effect<ReadonlyArray<ScheduleInfo>, JournalError>
  /**
   * The schedules of these workflows whose next tick has come, the store's current time, and the
   * earliest next tick of the others (how long a scheduler may sleep).
   */
  readonly dueSchedules: (workflows: ReadonlyArray<string>) => Effect.Effect<
    {
      readonly now: number
      readonly due: ReadonlyArray<ScheduleInfo>
      readonly nextAt: number | undefined
    },
    JournalError
  >
  /**
   * Fires a tick: moves the schedule on and creates the tick's run in one transaction, only if
   * the schedule still expects `expectedNextAt` (another worker did not fire it first). True
   * when this call fired it.
   */
  readonly fireSchedule: (firing: Firing) => Effect.Effect<boolean, JournalError>
}>()("plait/RunStore") {}
