/**
 * The journal and run store in process memory, for tests. Every operation is synchronous, so
 * each is atomic the way one SQL statement is; times follow the `Clock` (`TestClock` drives
 * leases, wake times and deadlines).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as RunStatus from "../RunStatus.ts"
import { JournalError, LeaseLost } from "../WorkflowError.ts"
import { defaultMaxPayloadBytes, entryKey } from "./entry.ts"
import { markInstantAppends } from "./instantAppends.ts"
import { cursorOf, decodeCursor, pageLimit, statusesOf } from "./listing.ts"
import { dueOf } from "./schedule.ts"
import { withBounds } from "./storeBounds.ts"
import type {
  Acquired,
  Journal,
  JournalEntry,
  Lease,
  LeaseState,
  Release,
  RunInfo,
  RunRecord,
  SlotClaim
} from "../Journal.ts"
import type { Claimed, Notification, RunStore, ScheduleInfo, StatusCounts } from "../RunStore.ts"

interface StoredRun {
  info: RunInfo
  readonly entries: Map<string, JournalEntry>
}

export const makeMemoryBackend = (): { readonly journal: Journal["Service"]; readonly store: RunStore["Service"] } => {
  const runs = new Map<string, StoredRun>()
  /** Concurrency slots: per key, the holders by `runId path`, with the lease token they hold under. */
  const slots = new Map<string, Map<string, { readonly runId: string; readonly token: number }>>()
  /** Runs waiting for a slot of a key. */
  const slotWaiters = new Map<string, Set<string>>()
  const schedules = new Map<string, ScheduleInfo>()
  const subscribers = new Set<Queue.Queue<Notification>>()
  const publish = (notification: Notification) => {
    for (const queue of subscribers) Queue.offerUnsafe(queue, notification)
  }
  const withNow = <A>(f: (now: number) => A) => Effect.map(Clock.currentTimeMillis, f)

  const newRun = (
    record: RunRecord,
    now: number,
    lease: Omit<Lease, "runId"> | undefined,
    leaseMs: number
  ): StoredRun => ({
    info: {
      runId: record.runId,
      workflow: record.workflow,
      fingerprint: record.fingerprint,
      input: record.input,
      priority: record.priority ?? 0,
      parentRunId: record.parentRunId,
      status: lease === undefined ? "queued" : "running",
      owner: lease?.owner,
      leaseToken: lease?.token ?? 0,
      leaseExpiresAt: lease === undefined ? undefined : now + leaseMs,
      wakeAt: undefined,
      dueAt: lease === undefined ? now : now + leaseMs,
      waitingFor: [],
      executions: lease === undefined ? 0 : 1,
      wakeups: 0,
      cancelRequested: false,
      error: undefined,
      createdAt: now,
      updatedAt: now
    },
    entries: new Map()
  })

  const leaseIsLive = (stored: StoredRun, now: number) =>
    stored.info.owner !== undefined && stored.info.leaseExpiresAt !== undefined && stored.info.leaseExpiresAt > now

  const take = (stored: StoredRun, owner: string, leaseMs: number, now: number): Lease => {
    const token = stored.info.leaseToken + 1
    stored.info = {
      ...stored.info,
      status: "running",
      owner,
      leaseToken: token,
      leaseExpiresAt: now + leaseMs,
      executions: stored.info.executions + 1,
      dueAt: now + leaseMs,
      updatedAt: now
    }
    return { runId: stored.info.runId, owner, token }
  }

  const holding = (lease: Lease): StoredRun | undefined => {
    const stored = runs.get(lease.runId)
    return stored !== undefined && stored.info.leaseToken === lease.token && stored.info.owner === lease.owner
      ? stored
      : undefined
  }

  /** Waiters first by priority, then oldest first, as claims take runs. */
  const claimOrder = (a: StoredRun | undefined, b: StoredRun | undefined) =>
    (b?.info.priority ?? 0) - (a?.info.priority ?? 0) || (a?.info.createdAt ?? 0) - (b?.info.createdAt ?? 0)

  const lost = (lease: Lease) => new LeaseLost({ runId: lease.runId, owner: lease.owner, token: lease.token })

  const snapshot = (stored: StoredRun) => ({ run: stored.info, entries: Array.from(stored.entries.values()) })

  /** A wake-up (a signal, a child that ended, a freed slot): a waiting run becomes due. */
  const wake = (stored: StoredRun, now: number) => {
    stored.info = { ...stored.info, wakeups: stored.info.wakeups + 1, updatedAt: now }
    if (stored.info.status === "waiting") {
      stored.info = { ...stored.info, dueAt: now }
      publish({ _tag: "Runnable", runId: stored.info.runId, workflow: stored.info.workflow })
    }
  }

  const wakeParent = (stored: StoredRun, now: number) => {
    const parent = stored.info.parentRunId === undefined ? undefined : runs.get(stored.info.parentRunId)
    if (parent !== undefined) wake(parent, now)
  }

  const mustCompensate = (stored: StoredRun) => {
    for (const entry of stored.entries.values()) if (entry.kind === "compensable") return true
    return false
  }

  /** The run and every run it started, transitively. */
  const family = (runId: string): Array<StoredRun> => {
    const found: Array<StoredRun> = []
    const ids = [runId]
    for (let i = 0; i < ids.length; i++) {
      const stored = runs.get(ids[i]!)
      if (stored === undefined) continue
      found.push(stored)
      for (const candidate of runs.values()) {
        if (candidate.info.parentRunId === ids[i]) ids.push(candidate.info.runId)
      }
    }
    return found
  }

  /**
   * A slot holder whose lease expired loses the slot, and the lease with it: its token moves
   * on, so nothing the stalled holder does later (a completion, a heartbeat) is accepted.
   */
  const fenceExpiredHolder = (runId: string, token: number, now: number) => {
    const stored = runs.get(runId)
    if (stored === undefined || stored.info.leaseToken !== token || stored.info.status !== "running") return
    stored.info = { ...stored.info, leaseToken: token + 1, updatedAt: now }
  }

  const holdsLease = (runId: string, token: number, now: number) => {
    const stored = runs.get(runId)
    return stored !== undefined && stored.info.leaseToken === token && stored.info.status === "running" &&
      leaseIsLive(stored, now)
  }

  const journal: Journal["Service"] = markInstantAppends({
    acquire: (record, { anyFingerprint, leaseMs, owner, reclaim }) =>
      withNow((now): Acquired => {
        const existing = runs.get(record.runId)
        if (existing === undefined) {
          const created = newRun(record, now, { owner, token: 1 }, leaseMs)
          runs.set(record.runId, created)
          return { run: created.info, lease: { runId: record.runId, owner, token: 1 }, created: true }
        }
        const stored = existing.info
        const same = stored.workflow === record.workflow && stored.input === record.input &&
          (anyFingerprint === true || stored.fingerprint === record.fingerprint)
        const held = leaseIsLive(existing, now) && !(reclaim === true && stored.owner === owner)
        // A status this version does not know is not taken over: the run reads it and reports it.
        if (!same || RunStatus.isFinal(stored.status) || !RunStatus.is(stored.status) || held) {
          return {
            run: existing.info,
            lease: undefined,
            created: false,
            entries: Array.from(existing.entries.values())
          }
        }
        // A run continued under a changed definition carries that definition's fingerprint from
        // now on, so workers holding it claim the run when it next suspends.
        existing.info = { ...existing.info, fingerprint: record.fingerprint }
        const lease = take(existing, owner, leaseMs, now)
        return { run: existing.info, lease, created: false }
      }),
    load: (runId) =>
      Effect.sync(() => {
        const stored = runs.get(runId)
        return stored === undefined ? Option.none() : Option.some(snapshot(stored))
      }),
    append: (lease, entries) =>
      Effect.suspend(() => {
        const stored = holding(lease)
        if (stored === undefined) return Effect.fail(lost(lease))
        for (const entry of entries) {
          const key = entryKey(entry)
          if (!stored.entries.has(key)) stored.entries.set(key, entry)
        }
        return Effect.void
      }),
    heartbeat: (_owner, leases, leaseMs) =>
      withNow((now) =>
        leases.map((lease): LeaseState => {
          const stored = holding(lease)
          // An expired lease is not renewed: another executor may already have taken over the
          // run's work (a slot it held), even if nobody claimed the run yet.
          if (stored === undefined || stored.info.status !== "running" || !leaseIsLive(stored, now)) {
            return { runId: lease.runId, held: false, cancelRequested: false, cancelReason: undefined }
          }
          stored.info = { ...stored.info, leaseExpiresAt: now + leaseMs, dueAt: now + leaseMs, updatedAt: now }
          const { cancelRequested, error } = stored.info
          return { runId: lease.runId, held: true, cancelRequested, cancelReason: cancelRequested ? error : undefined }
        })
      ),
    release: (lease, release) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const stored = holding(lease)
        if (stored === undefined) return Effect.fail(lost(lease))
        const overridden = release.ifCancelRequested !== undefined && stored.info.cancelRequested &&
          !RunStatus.isDone(release.status)
        const due = overridden
          ? dueAfterRelease({ status: release.ifCancelRequested! }, stored.info.wakeups, now)
          : dueAfterRelease(release, stored.info.wakeups, now)
        stored.info = {
          ...stored.info,
          status: due.status,
          owner: undefined,
          leaseExpiresAt: undefined,
          wakeAt: due.wakeAt,
          dueAt: due.dueAt,
          waitingFor: release.waitingFor ?? [],
          // The reason given to `cancel` is kept while the cancellation is pending or done.
          error: due.status === "cancelled" || overridden ? release.error ?? stored.info.error : release.error,
          updatedAt: now
        }
        if (RunStatus.isDone(due.status)) wakeParent(stored, now)
        publish({ _tag: "Released", runId: lease.runId, status: due.status })
        if (due.dueAt !== undefined && due.dueAt <= now) {
          publish({ _tag: "Runnable", runId: lease.runId, workflow: stored.info.workflow })
        }
        return Effect.void
      }),
    startChild: (lease, record) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<{ run: RunInfo; created: boolean }, LeaseLost> => {
        if (holding(lease) === undefined) return Effect.fail(lost(lease))
        const existing = runs.get(record.runId)
        if (existing !== undefined) return Effect.succeed({ run: existing.info, created: false })
        const created = newRun({ ...record, parentRunId: lease.runId }, now, undefined, 0)
        runs.set(record.runId, created)
        publish({ _tag: "Runnable", runId: record.runId, workflow: record.workflow })
        return Effect.succeed({ run: created.info, created: true })
      }),
    acquireSlot: (lease, request) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<SlotClaim, LeaseLost> => {
        if (holding(lease) === undefined) return Effect.fail(lost(lease))
        const holders = slots.get(request.key) ?? new Map<string, { readonly runId: string; readonly token: number }>()
        slots.set(request.key, holders)
        const self = `${lease.runId} ${request.path}`
        let live = 0
        let retryAt: number | undefined
        for (const [holder, { runId, token }] of holders) {
          if (holder === self) continue
          if (!holdsLease(runId, token, now)) {
            holders.delete(holder)
            fenceExpiredHolder(runId, token, now)
            continue
          }
          live++
          const expires = runs.get(runId)!.info.leaseExpiresAt!
          retryAt = retryAt === undefined ? expires : Math.min(retryAt, expires)
        }
        if (live < request.max) {
          holders.set(self, { runId: lease.runId, token: lease.token })
          return Effect.succeed({ acquired: true } as const)
        }
        const waiters = slotWaiters.get(request.key) ?? new Set<string>()
        slotWaiters.set(request.key, waiters.add(lease.runId))
        return Effect.succeed({ acquired: false, retryAt } as const)
      }),
    releaseSlot: (lease, request) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const holders = slots.get(request.key)
        const self = `${lease.runId} ${request.path}`
        if (holders?.get(self)?.token === lease.token) holders.delete(self)
        const waiters = slotWaiters.get(request.key)
        if (waiters === undefined) return Effect.void
        // One waiter per free slot, in claim order: the others would only find the key full.
        let live = 0
        for (const { runId, token } of holders?.values() ?? []) if (holdsLease(runId, token, now)) live++
        const next = Array.from(waiters)
          .sort((a, b) => claimOrder(runs.get(a), runs.get(b)))
          .slice(0, Math.max(0, request.max - live))
        for (const runId of next) {
          waiters.delete(runId)
          const stored = runs.get(runId)
          if (stored !== undefined) wake(stored, now)
        }
        return Effect.void
      })
  })

  const cancelOne = (stored: StoredRun, reason: string, now: number) => {
    const runId = stored.info.runId
    if (RunStatus.isDone(stored.info.status)) return
    if (leaseIsLive(stored, now)) {
      stored.info = { ...stored.info, cancelRequested: true, error: reason, updatedAt: now }
      publish({ _tag: "CancelRequested", runId })
    } else if (mustCompensate(stored)) {
      // Nobody executes it, but its completed steps must be undone: due now, for an executor.
      stored.info = {
        ...stored.info,
        status: "queued",
        cancelRequested: true,
        error: reason,
        dueAt: now,
        updatedAt: now
      }
      publish({ _tag: "Runnable", runId, workflow: stored.info.workflow })
    } else {
      stored.info = {
        ...stored.info,
        status: "cancelled",
        cancelRequested: true,
        error: reason,
        // A new token: an executor whose lease had expired cannot write to the run any more.
        leaseToken: stored.info.leaseToken + 1,
        owner: undefined,
        leaseExpiresAt: undefined,
        wakeAt: undefined,
        dueAt: undefined,
        updatedAt: now
      }
      wakeParent(stored, now)
      publish({ _tag: "Released", runId, status: "cancelled" })
    }
  }

  const store: RunStore["Service"] = {
    create: (record) =>
      withNow((now) => {
        const existing = runs.get(record.runId)
        if (existing !== undefined) return { run: existing.info, created: false }
        const created = newRun(record, now, undefined, 0)
        runs.set(record.runId, created)
        publish({ _tag: "Runnable", runId: record.runId, workflow: record.workflow })
        return { run: created.info, created: true }
      }),
    get: (runId) => Effect.sync(() => Option.map(Option.fromNullishOr(runs.get(runId)), (stored) => stored.info)),
    claim: (request) =>
      withNow((now) => {
        const wanted = new Map(request.workflows.map((workflow) => [workflow.name, workflow.fingerprint]))
        const due = Array.from(runs.values()).filter((stored) =>
          stored.info.dueAt !== undefined && stored.info.dueAt <= now &&
          wanted.get(stored.info.workflow) === stored.info.fingerprint
        )
        due.sort((a, b) => a.info.dueAt! - b.info.dueAt! || b.info.priority - a.info.priority)
        return due.slice(0, request.limit).map((stored): Claimed => {
          const lease = take(stored, request.owner, request.leaseMs, now)
          return { ...snapshot(stored), lease }
        })
      }),
    deliver: (runId, entry) =>
      withNow((now) => {
        const stored = runs.get(runId)
        if (stored === undefined) return "missing" as const
        const key = entryKey(entry)
        if (stored.entries.has(key)) return "duplicate" as const
        stored.entries.set(key, entry)
        wake(stored, now)
        return "delivered" as const
      }),
    cancel: (runId, reason) =>
      withNow((now) => {
        const root = runs.get(runId)
        if (root === undefined) return Option.none()
        for (const stored of family(runId)) cancelOne(stored, reason, now)
        return Option.some(root.info)
      }),
    resume: (runId) =>
      withNow((now) => {
        const root = runs.get(runId)
        if (root === undefined) return Option.none()
        for (const stored of family(runId)) {
          const status = stored.info.status
          if (status === "failed" || (stored === root && (status === "sleeping" || status === "waiting"))) {
            stored.info = {
              ...stored.info,
              status: status === "failed" ? "queued" : status,
              error: status === "failed" ? undefined : stored.info.error,
              dueAt: now,
              updatedAt: now
            }
            publish({ _tag: "Runnable", runId: stored.info.runId, workflow: stored.info.workflow })
          }
        }
        return Option.some(root.info)
      }),
    list: (filter) =>
      Effect.sync(() => {
        const statuses = statusesOf(filter.status)
        const after = decodeCursor(filter.cursor)
        const limit = pageLimit(filter.limit)
        const matching = Array.from(runs.values(), (stored) => stored.info)
          .filter((run) =>
            (filter.workflow === undefined || run.workflow === filter.workflow) &&
            (filter.parentRunId === undefined || run.parentRunId === filter.parentRunId) &&
            (statuses === undefined || statuses.includes(run.status)) &&
            (filter.createdAfter === undefined || run.createdAt >= filter.createdAfter) &&
            (filter.createdBefore === undefined || run.createdAt < filter.createdBefore) &&
            (after === undefined || run.createdAt < after.createdAt ||
              (run.createdAt === after.createdAt && run.runId < after.runId))
          )
          .sort((a, b) => b.createdAt - a.createdAt || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0))
        const page = matching.slice(0, limit)
        return { runs: page, next: matching.length > limit ? cursorOf(page[page.length - 1]!) : undefined }
      }),
    counts: (filter) =>
      Effect.sync(() => {
        const counts = Object.fromEntries(RunStatus.all.map((status) => [status, 0])) as Record<
          RunStatus.RunStatus,
          number
        >
        for (const { info } of runs.values()) {
          if (filter?.workflow === undefined || info.workflow === filter.workflow) counts[info.status]++
        }
        return counts as StatusCounts
      }),
    nextDue: (workflows) =>
      withNow((now) => {
        let next: number | undefined
        for (const stored of runs.values()) {
          const due = stored.info.dueAt
          if (due !== undefined && due > now && workflows.includes(stored.info.workflow)) {
            next = next === undefined ? due : Math.min(next, due)
          }
        }
        return Option.fromNullishOr(next)
      }),
    saveSchedule: (record) =>
      withNow((now) => {
        const existing = schedules.get(record.id)
        const saved: ScheduleInfo = {
          ...record,
          lastTickAt: existing?.lastTickAt,
          lastRunId: existing?.lastRunId,
          createdAt: existing?.createdAt ?? now,
          updatedAt: now
        }
        schedules.set(record.id, saved)
        return saved
      }),
    removeSchedule: (id) => Effect.sync(() => schedules.delete(id)),
    listSchedules: (filter) =>
      Effect.sync(() =>
        Array.from(schedules.values())
          .filter((schedule) => filter?.workflow === undefined || schedule.workflow === filter.workflow)
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      ),
    dueSchedules: (workflows) =>
      withNow((now) =>
        dueOf(now, Array.from(schedules.values()).filter((schedule) => workflows.includes(schedule.workflow)))
      ),
    fireSchedule: (firing) =>
      withNow((now) => {
        const schedule = schedules.get(firing.id)
        if (schedule === undefined || schedule.nextAt !== firing.expectedNextAt) return false
        schedules.set(firing.id, {
          ...schedule,
          nextAt: firing.nextAt,
          lastTickAt: firing.run === undefined ? schedule.lastTickAt : firing.tickAt,
          lastRunId: firing.run === undefined ? schedule.lastRunId : firing.run.runId,
          updatedAt: now
        })
        if (firing.run !== undefined && !runs.has(firing.run.runId)) {
          runs.set(firing.run.runId, newRun(firing.run, now, undefined, 0))
          publish({ _tag: "Runnable", runId: firing.run.runId, workflow: firing.run.workflow })
        }
        return true
      }),
    subscribe: Effect.acquireRelease(
      Effect.tap(Queue.unbounded<Notification>(), (queue) => Effect.sync(() => subscribers.add(queue))),
      (queue) => Effect.sync(() => subscribers.delete(queue)).pipe(Effect.andThen(Queue.shutdown(queue)))
    )
  }

  return withBounds({ journal, store }, { maxPayloadBytes: defaultMaxPayloadBytes, deadline: undefined })
}

/** A journal operation on a run the store does not have. */
export const missingRun = (runId: string) =>
  new JournalError({ reason: "Conflict", runId, detail: "the run does not exist" })

/**
 * Where a released run stands: its status, its wake time, and when it is claimable again. A
 * waiting run that received a wake-up since its executor loaded it is due at once.
 */
export const dueAfterRelease = (
  release: Release,
  wakeups: number,
  now: number
): {
  readonly status: RunStatus.RunStatus
  readonly wakeAt: number | undefined
  readonly dueAt: number | undefined
} => {
  switch (release.status) {
    case "queued":
      return { status: "queued", wakeAt: undefined, dueAt: now }
    case "sleeping":
    case "waiting": {
      const woken = release.wakeupsSeen !== undefined && release.wakeupsSeen !== wakeups
      return { status: release.status, wakeAt: release.wakeAt, dueAt: woken ? now : release.wakeAt }
    }
    default:
      return { status: release.status, wakeAt: undefined, dueAt: undefined }
  }
}
