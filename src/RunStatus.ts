/**
 * Where a run stands, and the words every part of plait uses about it: the engine and the
 * workers, the stores, the CLI, the dashboard and the views all read statuses through this
 * module, so a status is named, listed and classified in one place.
 *
 * - `queued`: created and runnable, nobody executes it yet (or its executor stopped and released it).
 * - `running`: an executor holds its lease.
 * - `sleeping`: released until its wake time by a durable sleep.
 * - `waiting`: released until a signal, a child run or a concurrency slot wakes it (or a
 *   signal's deadline passes).
 * - `completed`, `failed`, `cancelled`: done. A failed run can be driven again (`resume`); the
 *   other two are final.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The statuses, in the order a run usually passes through them.
 *
 * @example
 * ```ts
 * import { RunStatus } from "plait"
 *
 * // One column per status, in lifecycle order.
 * const header = RunStatus.all.join(" | ")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const all = ["queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled"] as const

/**
 * Where a run stands.
 *
 * @example
 * ```ts
 * import { RunStatus } from "plait"
 *
 * const label = (status: RunStatus.RunStatus) => status === "failed" ? "needs attention" : status
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type RunStatus = typeof all[number]

/**
 * The schema of a status: decodes exactly the statuses of {@link all}, so a status this version
 * does not know (from a newer version, or a corrupt row) is refused rather than guessed at.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RunStatus } from "plait"
 *
 * const parsed = Schema.decodeUnknownOption(RunStatus.RunStatus)("sleeping") // Option.some("sleeping")
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunStatus: Schema.Literals<typeof all> = Schema.Literals(all)

/**
 * Whether `value` is a status this version knows.
 *
 * @example
 * ```ts
 * import { RunStatus } from "plait"
 *
 * const fromQuery = (value: string | undefined) => RunStatus.is(value) ? value : undefined
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const is = (value: unknown): value is RunStatus =>
  typeof value === "string" && (all as ReadonlyArray<string>).includes(value)

/**
 * The run has ended: `completed`, `failed` or `cancelled`. Nothing executes it until someone
 * resumes a failed one.
 *
 * @example
 * ```ts
 * import { RunStatus } from "plait"
 *
 * const finished = (statuses: ReadonlyArray<RunStatus.RunStatus>) => statuses.filter(RunStatus.isDone).length
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isDone = (status: RunStatus): boolean =>
  status === "completed" || status === "failed" || status === "cancelled"

/**
 * The run has not ended: it is queued, running, sleeping or waiting, and something will execute it
 * again (a worker, a wake time, a signal). Pages showing a live run refresh it.
 *
 * @example
 * ```ts
 * import { RunStatus } from "plait"
 *
 * const refreshEverySecond = (status: RunStatus.RunStatus) => RunStatus.isLive(status)
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isLive = (status: RunStatus): boolean => !isDone(status)

/**
 * No executor will take the run again: `completed` (acquiring it replays its journal) or
 * `cancelled` (acquiring it is refused). Unlike {@link isDone}, a `failed` run is not final: it
 * can be resumed.
 *
 * @example
 * ```ts
 * import { RunStatus } from "plait"
 *
 * const canResume = (status: RunStatus.RunStatus) => !RunStatus.isFinal(status) && status !== "running"
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFinal = (status: RunStatus): boolean => status === "completed" || status === "cancelled"
