/**
 * The journal and run store a SQL dialect's statements make: one service whose every operation
 * sends its statement (`Statements`) and turns a storage failure into `JournalError`
 * `Unavailable` naming the run. An operation added to the contract needs nothing here: its
 * statement's result is its result. The few operations listed in `Outcomes` are finished here,
 * each by one follow-up: telling this process's subscribers what changed (where the database
 * does not notify), retrying a creation that raced, failing with `LeaseLost`.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import { subjectOf } from "../storeBounds.ts"
import { JournalError, LeaseLost } from "../../WorkflowError.ts"
import type { Journal, Lease, RunInfo } from "../../Journal.ts"
import type { RunStore } from "../../RunStore.ts"
import type { Outcome, Statements } from "./dialect.ts"
import type { Hub } from "./hub.ts"
import type { Exec, Operation } from "./statement.ts"
import type { Woken } from "./wire.ts"

/** The journal and run store in one service. */
export type SqlStore = Journal["Service"] & RunStore["Service"]

export const makeSqlStore = (statements: Statements, exec: Exec, hub: Hub, listens: boolean): SqlStore => {
  const send = <K extends Operation>(
    operation: K,
    ...args: Parameters<Statements[K]> extends [Exec, ...infer A] ? A : never
  ): Effect.Effect<Outcome<K>, JournalError | LeaseLost> =>
    Effect.mapError(
      (statements[operation] as (exec: Exec, ...args: ReadonlyArray<unknown>) => Effect.Effect<Outcome<K>, unknown>)(
        exec,
        ...args
      ),
      (error) =>
        isSqlError(error)
          ? unavailable(subjectOf(operation, args), operation, error)
          : error as JournalError | LeaseLost
    )

  // Every operation as its statement returns it; those of `Outcomes` are finished below.
  const sent: Record<string, unknown> = {}
  for (const operation of Object.keys(statements) as ReadonlyArray<Operation>) {
    sent[operation] = (...args: ReadonlyArray<never>) =>
      (send as (...args: ReadonlyArray<unknown>) => unknown)(operation, ...args)
  }

  const runnable = (run: Pick<RunInfo, "runId" | "workflow">) =>
    hub.local({ _tag: "Runnable", runId: run.runId, workflow: run.workflow })
  const announceWoken = (woken: Woken | undefined) => {
    if (woken?.due === true) runnable(woken)
  }

  /** Sends a statement that returns undefined when it raced with another creating the run, up to three times. */
  const retryingRace = <A>(
    runId: string,
    operation: string,
    attempt: Effect.Effect<A | undefined, JournalError | LeaseLost>
  ) =>
    Effect.flatMap(
      Effect.repeat(attempt, { until: (result) => result !== undefined, times: 2 }),
      (result) =>
        result === undefined
          ? Effect.fail(new JournalError({ reason: "Unavailable", runId, detail: `${operation} did not see the run` }))
          : Effect.succeed(result)
    )

  const created = (result: { readonly run: RunInfo; readonly created: boolean }) => {
    if (result.created) runnable(result.run)
    return result
  }

  const service: SqlStore = {
    ...(sent as unknown as SqlStore),
    subscribe: hub.subscribe,

    // On Postgres a concurrent creator can commit the run after this statement's snapshot: the
    // insert does nothing and the read sees no run. The next statement sees it.
    acquire: (record, options) => retryingRace(record.runId, "acquire", send("acquire", record, options)) as never,
    create: (record) => Effect.map(retryingRace(record.runId, "create", send("create", record)), created) as never,
    startChild: (lease, child) =>
      Effect.flatMap(
        retryingRace(child.runId, "startChild", send("startChild", lease, child)),
        (result) => result === "leaseLost" ? Effect.fail(leaseLost(lease)) : Effect.succeed(created(result))
      ),

    // A storage failure names the first lease's run, as the executor renewing it reads it.
    heartbeat: (owner, leases, leaseMs) =>
      leases.length === 0 ? Effect.succeed([]) : Effect.mapError(
        statements.heartbeat(exec, owner, leases, leaseMs),
        (error) => isSqlError(error) ? unavailable(leases[0]!.runId, "heartbeat", error) : error
      ),

    append: (lease, entries) =>
      entries.length === 0 ? Effect.void : Effect.matchEffect(
        Effect.mapError(statements.append(exec, lease, entries), (error) => error),
        {
          onFailure: (error) => isSqlError(error) ? explain(lease.runId, error) : Effect.fail(error),
          onSuccess: (held) => held ? Effect.void : Effect.fail(leaseLost(lease))
        }
      ),

    release: (lease, release) =>
      Effect.flatMap(send("release", lease, release), (released) => {
        if (released === undefined) return Effect.fail(leaseLost(lease))
        hub.local({ _tag: "Released", runId: lease.runId, status: released.status })
        if (released.due) runnable({ runId: lease.runId, workflow: released.workflow })
        announceWoken(released.parent)
        return Effect.void
      }),

    acquireSlot: (lease, request) =>
      Effect.flatMap(
        send("acquireSlot", lease, request),
        (claim) => claim === undefined ? Effect.fail(leaseLost(lease)) : Effect.succeed(claim)
      ),
    releaseSlot: (lease, request) =>
      Effect.map(
        Effect.mapError(send("releaseSlot", lease, request), (error) => error as JournalError),
        (woken) => woken.forEach(announceWoken)
      ),

    deliver: (runId, entry) =>
      Effect.flatMap(send("deliver", runId, entry), (delivery) =>
        delivery !== "delivered" || listens
          ? Effect.succeed(delivery)
          : Effect.map(service.get(runId), (info) => {
            if (Option.isSome(info) && info.value.status === "waiting") runnable(info.value)
            return delivery
          })) as never,

    cancel: (runId, reason) =>
      Effect.map(send("cancel", runId, reason), ({ changed, parent, run }) => {
        for (const info of changed) {
          if (info.status === "cancelled") hub.local({ _tag: "Released", runId: info.runId, status: "cancelled" })
          else if (info.owner === undefined) runnable(info)
          else hub.local({ _tag: "CancelRequested", runId: info.runId })
        }
        announceWoken(parent)
        return run
      }) as never,

    resume: (runId) =>
      Effect.map(send("resume", runId), ({ resumed, run }) => {
        resumed.forEach(runnable)
        return run
      }) as never,

    fireSchedule: (firing) =>
      Effect.map(send("fireSchedule", firing), (result) => {
        if (result.created && firing.run !== undefined) runnable(firing.run)
        return result.fired
      }) as never
  }

  // A constraint failure on append is a missing run (the foreign key) or a malformed entry;
  // only the failure path pays for telling them apart.
  const explain = (runId: string, error: SqlError) =>
    error.reason._tag === "ConstraintError"
      ? Effect.flatMap(Effect.option(service.get(runId)), (found) =>
        Effect.fail(
          Option.isSome(found) && Option.isNone(found.value)
            ? new JournalError({ reason: "Conflict", runId, detail: "the run does not exist" })
            : unavailable(runId, "append", error)
        ))
      : Effect.fail(unavailable(runId, "append", error))

  return service
}

const unavailable = (runId: string, operation: string, error: SqlError) =>
  new JournalError({ reason: "Unavailable", runId, detail: `${operation} failed: ${error.message}`, cause: error })

const leaseLost = (lease: Lease) => new LeaseLost({ runId: lease.runId, owner: lease.owner, token: lease.token })
