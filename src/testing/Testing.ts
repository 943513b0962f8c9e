/**
 * A testing kit for plait workflows, built on `effect/testing`'s `TestClock` and meant for
 * `@effect/vitest`'s `it.effect` (it needs nothing but `effect` itself):
 *
 * - `run` runs a workflow on a memory journal and moves the `TestClock` through every sleep,
 *   signal timeout and retry backoff by itself, sends signals at the points a test chooses, and
 *   reports how often each step ran;
 * - `crashAtEveryStep` crashes a run after each step it completes, resumes it, and checks that
 *   no journaled step runs again and the run ends as it does without a crash;
 * - `replay` checks that a (changed) definition replays a run exported from production with
 *   `plait runs export`, without `DefinitionChanged`, reporting the first path where it does not.
 *
 * `docs/testing.md` has recipes.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Schema from "effect/Schema"
import { type Journal, type JournalError, type LoadedRun, makeMemory } from "../Journal.ts"
import type { RunStore } from "../RunStore.ts"
import type { Outcome, StepEvent, Workflow } from "../Workflow.ts"
import type {
  DefinitionChanged,
  DuplicateEffect,
  InvalidOutput,
  RunConflict,
  RunError,
  RunNotFound,
  SignalAlreadyDelivered,
  UnknownSignal
} from "../WorkflowError.ts"
import type { SignalPaths, SignalValueAt, WaitPaths } from "../internal/SignalPaths.ts"
import type { Simplify } from "../internal/types.ts"
import * as Crash from "./crash.ts"
import { withDriver } from "./drive.ts"
import type * as Errors from "./errors.ts"
import * as Exported from "./exported.ts"
import * as Replays from "./replay.ts"
import * as Runner from "./runner.ts"

// -------------------------------------------------------------------------------------------
// models
// -------------------------------------------------------------------------------------------

/**
 * A signal a test sends to its run: to the signal at `path` (a path of the workflow, typed with
 * its value), when the run first waits on it, or at `at` of virtual time after the test began
 * (before the run reaches the signal, or too late for its timeout).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 * import type { Testing } from "plait/testing"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean, timeout: "2 days" }),
 *   Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval))
 * )
 *
 * const whenAsked: Testing.SignalScript<Workflow.SignalAt<"approval", boolean>> = { path: "approval", value: true }
 * const tooLate: Testing.SignalScript<Workflow.SignalAt<"approval", boolean>> = { path: "approval", value: true, at: "3 days" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SignalScript<S> = {
  readonly [P in SignalPaths<S>]: {
    readonly path: P
    readonly value: SignalValueAt<S, P>
    /** Virtual time after the test began. Without it, the signal is sent when the run waits on `path`. */
    readonly at?: Duration.Input | undefined
  }
}[SignalPaths<S>]

/**
 * A memory journal and its run store, as `Journal.makeMemory()` makes them: what a test runs on
 * when it wants to keep the journal (to run the same run id again, or to import a run into it).
 *
 * @example
 * ```ts
 * import { Journal } from "plait"
 * import type { Testing } from "plait/testing"
 *
 * const memory: Testing.Memory = Journal.makeMemory()
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Memory {
  readonly journal: Journal["Service"]
  readonly store: RunStore["Service"]
}

/**
 * How `run` runs a workflow.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 * import type { Testing } from "plait/testing"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean }),
 *   Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval))
 * )
 *
 * const approved: Testing.RunOptions<number, Workflow.SignalAt<"approval", boolean>> = {
 *   input: 120,
 *   runId: "expense-7",
 *   signals: [{ path: "approval", value: true }],
 *   timeLimit: "30 days"
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<I, S> {
  /** The input, in the encoded form the input schema decodes. */
  readonly input: I
  /** Default `"test-run"`. */
  readonly runId?: string | undefined
  readonly signals?: ReadonlyArray<SignalScript<S>> | undefined
  /** Called with every event of the run (and of its children), after the kit recorded it. */
  readonly observe?: ((event: StepEvent) => Effect.Effect<void>) | undefined
  /**
   * The virtual time the run may take before the kit gives up on it with `Stuck`. Default 3650
   * days: long enough for any sleep a workflow means, short enough to end a run that retries or
   * loops for ever.
   */
  readonly timeLimit?: Duration.Input | undefined
  /** The memory journal to run on. Default: a fresh one. */
  readonly memory?: Memory | undefined
  readonly allowDefinitionChange?: boolean | undefined
}

/**
 * What `run` reports. `exit` is how the run ended: `Completed`, `Suspended` (at a signal no
 * scripted signal answered, with no deadline to move the clock to), or the run's failure.
 * `executions` counts, by journal path, the attempts of each step body that ran (its `Started`
 * events; a compensation at `<step path>/compensate`, a child's steps under the child's path);
 * `replays`, the steps whose journaled output was replayed instead.
 *
 * @example
 * ```ts
 * import { assert, it } from "@effect/vitest"
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 * import { Testing } from "plait/testing"
 *
 * const Reminder = Workflow.make("reminder", { input: Schema.String }).pipe(
 *   Workflow.sleep("wait", "1 day"),
 *   Workflow.step("sent", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * it.effect("reminds a day later", () =>
 *   Effect.gen(function*() {
 *     const report: Testing.TestRun<{ readonly input: string }, never> = yield* Testing.run(Reminder, { input: "ada" })
 *     const outcome = yield* report.exit
 *     assert.strictEqual(outcome._tag, "Completed")
 *     assert.deepStrictEqual(report.executions, { sent: 1 })
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TestRun<Ctx, E, Path extends string = string> {
  readonly runId: string
  readonly exit: Exit.Exit<Outcome<Ctx, Path>, E | RunError>
  readonly executions: { readonly [path: string]: number }
  readonly replays: { readonly [path: string]: number }
  /** Every event of every execution, in order. */
  readonly events: ReadonlyArray<StepEvent>
  /** The signals the kit sent, in order, each with the virtual time since the test began. */
  readonly signalsSent: ReadonlyArray<{ readonly path: string; readonly at: Duration.Duration }>
  /** How often the run was started or resumed: once, plus once per resume after a signal or deadline. */
  readonly starts: number
  /** The virtual time the run took. */
  readonly elapsed: Duration.Duration
  /** The run and its journal as it ended. */
  readonly journal: LoadedRun
}

/**
 * The errors a scripted signal can meet as the kit sends it, as `Workflow.sendSignal` reports
 * them (a value the schema refuses, a signal sent twice).
 *
 * @example
 * ```ts
 * import type { Testing } from "plait/testing"
 *
 * const describe = (error: Testing.SignalError) => `${error._tag}: ${error.message}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SignalError =
  | InvalidOutput
  | UnknownSignal
  | DuplicateEffect
  | SignalAlreadyDelivered
  | RunNotFound
  | JournalError

/**
 * One crash of `crashAtEveryStep`: after the completion number `completions` (the step or
 * compensation at `after`) was journaled, the journal went down; `resumed` is the run that took
 * it over.
 *
 * @example
 * ```ts
 * import type { Testing } from "plait/testing"
 *
 * const describe = (crash: Testing.CrashPoint<unknown, unknown>) =>
 *   `crashed after ${crash.after} (${crash.completions}), resumed in ${crash.resumed.starts} start(s)`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CrashPoint<Ctx, E, Path extends string = string> {
  readonly completions: number
  readonly after: string
  readonly resumed: TestRun<Ctx, E, Path>
}

/**
 * What `crashAtEveryStep` reports when every crash resumed as it should: the run that never
 * crashed, and one crash per completion it journaled, in order.
 *
 * @example
 * ```ts
 * import type { Testing } from "plait/testing"
 *
 * const crashedAfter = (report: Testing.CrashReport<unknown, unknown>) => report.crashes.map((crash) => crash.after)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CrashReport<Ctx, E, Path extends string = string> {
  readonly reference: TestRun<Ctx, E, Path>
  readonly crashes: ReadonlyArray<CrashPoint<Ctx, E, Path>>
}

/**
 * How `crashAtEveryStep` runs: as `run`, and, for a workflow whose steps produce values that
 * differ from run to run (random ids, the time), how two final contexts compare. Default: deep
 * equality of the contexts as their journals replay them.
 *
 * @example
 * ```ts
 * import type { Testing } from "plait/testing"
 *
 * type Ctx = { readonly input: number; readonly order: { readonly id: string; readonly total: number } }
 *
 * const sameTotal: Testing.CrashOptions<number, never, Ctx> = {
 *   input: 3,
 *   equivalent: (reference, resumed) => reference.order.total === resumed.order.total
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CrashOptions<I, S, Ctx> extends Omit<RunOptions<I, S>, "memory"> {
  readonly equivalent?: ((reference: Ctx, resumed: Ctx) => boolean) | undefined
}

/**
 * Where a replay got to: `Completed` (with the final context, decoded with the definition's
 * schemas), `Waiting` at the paths where the journal ends, or `Failed` with the failure the
 * journal recorded.
 *
 * @example
 * ```ts
 * import type { Testing } from "plait/testing"
 *
 * const describe = (reached: Testing.Reached) =>
 *   reached._tag === "Waiting" ? `waits at ${reached.paths.join(", ")}` : reached._tag
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Reached = Replays.Reached

/**
 * What `replay` reports when the definition replays the run: the run's id and status as
 * exported, the journaled steps replayed, and where the replay got to.
 *
 * @example
 * ```ts
 * import type { Testing } from "plait/testing"
 *
 * const summary = (report: Testing.ReplayReport) =>
 *   `${report.runId} (${report.status}): ${report.replayed.length} steps replayed`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ReplayReport = Replays.Replay

/**
 * A run's journal as `plait runs export` writes it: `{ format: "plait/run", version: 1, run,
 * entries, children }`, the run record as stored, its entries, and its child runs alike. The
 * schema decodes the JSON file.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Testing } from "plait/testing"
 * import * as fs from "node:fs"
 *
 * const readExport = (file: string): Testing.ExportedRun =>
 *   Schema.decodeUnknownSync(Testing.ExportedRun)(JSON.parse(fs.readFileSync(file, "utf8")))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ExportedRun = Exported.ExportedRun

/**
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Testing } from "plait/testing"
 *
 * const toJson = (exported: Testing.ExportedRun) => JSON.stringify(Schema.encodeSync(Testing.ExportedRun)(exported), null, 2)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ExportedRun: Schema.Codec<Exported.ExportedRun, unknown> = Exported.ExportedRun as Schema.Codec<
  Exported.ExportedRun,
  unknown
>

// -------------------------------------------------------------------------------------------
// errors
// -------------------------------------------------------------------------------------------

export {
  /**
   * The kit cannot take the run further: every fiber of the run waits, and on nothing the
   * `TestClock` or a scripted signal brings (a `Deferred` nobody completes, real I/O), or the
   * run would go past the time limit. `detail` says which, with the steps started and not
   * finished.
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Workflow } from "plait"
   * import { Testing } from "plait/testing"
   *
   * const Hangs = Workflow.make("hangs", { input: Schema.Void }).pipe(
   *   Workflow.step("waits", { success: Schema.Void }, () => Effect.never)
   * )
   *
   * const program = Testing.run(Hangs, { input: undefined }).pipe(
   *   Effect.catchTag("Stuck", (error) => Effect.succeed(error.detail)) // "... steps started and not finished: waits"
   * )
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  Stuck
} from "./errors.ts"

export {
  /**
   * A run crashed by `crashAtEveryStep` did not resume as it should: it ran a journaled step
   * again, or ended otherwise than the run that never crashed. `crashedAfter` and `completions`
   * say where the crash was; `detail` what went wrong.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import type { Testing } from "plait/testing"
   *
   * const explain = (error: Testing.ResumeDiverged) =>
   *   Effect.logError(`crash after ${error.crashedAfter}: ${error.detail}`)
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ResumeDiverged
} from "./errors.ts"

export {
  /**
   * The definition does not replay an exported run: it does not reach a step the journal
   * completed (`path`, the first in journal order), a completed run's replay does not complete,
   * or the replay died.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import type { Testing } from "plait/testing"
   *
   * const explain = (error: Testing.ReplayDiverged) => Effect.logError(`${error.path}: ${error.detail}`)
   * ```
   *
   * @since 0.1.0
   * @category errors
   */
  ReplayDiverged
} from "./errors.ts"

// -------------------------------------------------------------------------------------------
// running
// -------------------------------------------------------------------------------------------

const defaultTimeLimit = Duration.days(3650)

const toMillis = (input: Duration.Input | undefined, fallback: Duration.Duration) =>
  Duration.toMillis(input === undefined ? fallback : Duration.fromInputUnsafe(input))

const testRunOf = <Ctx, E, Path extends string>(record: Runner.Recording) => {
  const report: TestRun<Ctx, E, Path> = {
    runId: record.runId,
    exit: record.exit as TestRun<Ctx, E, Path>["exit"],
    executions: record.executions,
    replays: record.replays,
    events: record.events,
    signalsSent: record.signalsSent.map(({ at, path }) => ({ path, at: Duration.millis(at) })),
    starts: record.starts,
    elapsed: Duration.millis(record.endedAt - record.startedAt),
    journal: record.journal!
  }
  return report
}

/**
 * Runs a workflow to its end on a memory journal under the `TestClock`: whenever every fiber
 * of the run waits, the clock moves to the next wake time (a durable sleep, a retry's backoff, a
 * step's timeout, a `sleep` inside a step), until the run completes or fails. A run that
 * suspends at a signal is sent the scripted signal for that path and resumed; with none, the
 * clock moves to the signal's deadline (the resumed run then fails with `SignalTimeout`) or to
 * the next scripted signal's time; with neither, the run is reported `Suspended`.
 *
 * Uses the `TestClock` of the context (`it.effect` provides one), or one of its own. Steps that
 * wait on real I/O look idle to the kit: give them a `TestClock`-driven fake.
 *
 * @example
 * ```ts
 * import { assert, it } from "@effect/vitest"
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 * import { Testing } from "plait/testing"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.step("filed", { success: Schema.Number, retry: { times: 3, delay: "1 minute", backoff: "exponential" } }, (ctx) =>
 *     Effect.succeed(ctx.input)),
 *   Workflow.signal("approval", { schema: Schema.Boolean, timeout: "2 days" }),
 *   Workflow.sleep("settle", "1 day"),
 *   Workflow.step("paid", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval))
 * )
 *
 * it.effect("pays an approved expense a day after approval", () =>
 *   Effect.gen(function*() {
 *     const report = yield* Testing.run(Expense, { input: 120, signals: [{ path: "approval", value: true }] })
 *     const outcome = yield* report.exit
 *     assert.strictEqual(outcome._tag === "Completed" && outcome.context.paid, true)
 *     assert.deepStrictEqual(report.executions, { filed: 1, paid: 1 })
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <I, Ctx, E, R, S>(
  workflow: Workflow<I, Ctx, E, R, S>,
  options: RunOptions<I, S>
): Effect.Effect<TestRun<Simplify<Ctx>, E, WaitPaths<S>>, Errors.Stuck | SignalError, R> =>
  withDriver((driver) =>
    Effect.gen(function*() {
      const script = Runner.makeScript(options.signals ?? [], driver.now())
      const record = yield* Runner.driveRun(driver, options.memory ?? makeMemory(), {
        workflow,
        input: options.input,
        runId: options.runId ?? "test-run",
        observe: options.observe,
        allowDefinitionChange: options.allowDefinitionChange === true,
        batching: true,
        until: driver.now() + toMillis(options.timeLimit, defaultTimeLimit),
        crashed: () => false
      }, script)
      return testRunOf<Simplify<Ctx>, E, WaitPaths<S>>(record)
    })
  ).pipe(Effect.withSpan("plait.testing.run")) as any

/**
 * Proves that a workflow resumes from its journal: runs it once without a crash (`reference`),
 * then, for each completion it journals (a step's output, a compensation done), runs it again
 * on a fresh memory journal that goes down right after that completion commits, as if the
 * process died there, and resumes it on the same journal. Each resumed run must run no step
 * whose completion was journaled, and end as the reference did (completed with an equal final
 * context, failed with an equal error, or waiting at the same signal); otherwise the helper fails
 * with `ResumeDiverged`, naming the crash point.
 *
 * Every journal write holds one completion (batching is off), so every completion is a crash
 * point. Signals are sent as in `run`, in every run.
 *
 * @example
 * ```ts
 * import { assert, it } from "@effect/vitest"
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 * import { Testing } from "plait/testing"
 *
 * const Order = Workflow.make("order", { input: Schema.Number }).pipe(
 *   Workflow.step("reserved", { success: Schema.String }, (ctx) => Effect.succeed(`R-${ctx.input}`)),
 *   Workflow.parallel("payment", {
 *     charged: Workflow.step("charged", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input * 10)),
 *     invoiced: Workflow.step("invoiced", { success: Schema.String }, (ctx) => Effect.succeed(`INV-${ctx.input}`))
 *   }),
 *   Workflow.step("shipped", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * it.effect("resumes after a crash at every step", () =>
 *   Effect.gen(function*() {
 *     const report = yield* Testing.crashAtEveryStep(Order, { input: 7 })
 *     assert.strictEqual(report.crashes.length, 4)
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const crashAtEveryStep = <I, Ctx, E, R, S>(
  workflow: Workflow<I, Ctx, E, R, S>,
  options: CrashOptions<I, S, Simplify<Ctx>>
): Effect.Effect<
  CrashReport<Simplify<Ctx>, E, WaitPaths<S>>,
  Errors.ResumeDiverged | Errors.Stuck | SignalError,
  R
> =>
  withDriver((driver) =>
    Effect.gen(function*() {
      const result = yield* Crash.crashAtEveryStep(driver, {
        workflow,
        input: options.input,
        runId: options.runId ?? "test-run",
        observe: options.observe,
        allowDefinitionChange: options.allowDefinitionChange === true,
        signals: options.signals ?? [],
        timeLimit: toMillis(options.timeLimit, defaultTimeLimit),
        equivalent: options.equivalent as ((reference: unknown, resumed: unknown) => boolean) | undefined
      })
      const report: CrashReport<Simplify<Ctx>, E, WaitPaths<S>> = {
        reference: testRunOf(result.reference),
        crashes: result.points.map((point) => ({
          completions: point.completions,
          after: point.path,
          resumed: testRunOf(point.resumed)
        }))
      }
      return report
    })
  ).pipe(Effect.withSpan("plait.testing.crashAtEveryStep")) as any

/**
 * Checks that `workflow` replays a run exported with `plait runs export` (the parsed JSON, or an
 * `ExportedRun`): the run and its children are loaded into a memory journal and replayed,
 * running nothing and writing nothing. Fails with `DefinitionChanged` at the first path where
 * the workflow's outline differs from the one the run was started with, `JournalError`
 * (`Corrupt`) at a journaled value the workflow's schemas no longer decode, `RunConflict` for
 * another workflow's run, and `ReplayDiverged` at the first journaled step the workflow does not
 * reach (or when a completed run's replay does not complete).
 *
 * @example
 * ```ts
 * import { assert, it } from "@effect/vitest"
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 * import { Testing } from "plait/testing"
 * import * as fs from "node:fs"
 *
 * const Order = Workflow.make("order", { input: Schema.Number }).pipe(
 *   Workflow.step("charged", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input * 10))
 * )
 *
 * // test/runs/order-7.json was written by `plait runs export order-7 --output test/runs/order-7.json`.
 * it.effect("today's Order replays the production run order-7", () =>
 *   Effect.gen(function*() {
 *     const exported: unknown = JSON.parse(fs.readFileSync("test/runs/order-7.json", "utf8"))
 *     const report = yield* Testing.replay(Order, exported)
 *     assert.strictEqual(report.reached._tag, "Completed")
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const replay = <I, Ctx, E, R, S>(
  workflow: Workflow<I, Ctx, E, R, S>,
  exported: unknown
): Effect.Effect<ReplayReport, DefinitionChanged | JournalError | RunConflict | Errors.ReplayDiverged> =>
  Replays.replay(workflow, exported)

// -------------------------------------------------------------------------------------------
// exporting
// -------------------------------------------------------------------------------------------

/**
 * A run of the journal in the context, with its entries and its child runs, in the export
 * format: what `plait runs export` writes. Child runs are found by their ids, `<run id>/<path>`,
 * for each `child` of the run's outline (in a `forEach`, under each item key the journal names).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { SqliteJournal } from "plait"
 * import { Testing } from "plait/testing"
 *
 * const program = Testing.exportRun("order-7").pipe(
 *   Effect.map((exported) => JSON.stringify(Schema.encodeSync(Testing.ExportedRun)(exported), null, 2)),
 *   Effect.provide(SqliteJournal.layer({ filename: "journal.sqlite" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category exporting
 */
export const exportRun: (runId: string) => Effect.Effect<ExportedRun, RunNotFound | JournalError, Journal> =
  Exported.exportRun

/**
 * Writes an exported run (the parsed JSON, or an `ExportedRun`) and its children into the
 * journal of the context, as they were: records, entries and statuses (a `running` run comes
 * back `queued`). A test can then resume it, with `run` on the same memory journal. Fails with
 * `JournalError` `Corrupt` when the value is not an export, `Conflict` when the journal already
 * has the run.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 * import { Testing } from "plait/testing"
 *
 * const Order = Workflow.make("order", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean }),
 *   Workflow.step("charged", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.approval ? ctx.input : 0))
 * )
 *
 * // Resume a production run that waits for its approval, in a test.
 * const resume = (exported: unknown) =>
 *   Effect.gen(function*() {
 *     const memory = Journal.makeMemory()
 *     const { run } = yield* Testing.importRun(exported).pipe(Effect.provideService(Journal.Journal, memory.journal))
 *     return yield* Testing.run(Order, {
 *       input: JSON.parse(run.input) as number,
 *       runId: run.runId,
 *       memory,
 *       signals: [{ path: "approval", value: true }]
 *     })
 *   })
 * ```
 *
 * @since 0.1.0
 * @category exporting
 */
export const importRun: (exported: unknown) => Effect.Effect<ExportedRun, JournalError, Journal> = Exported.importRun
