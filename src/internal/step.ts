/**
 * One journaled unit of work: replay it from the journal, or run it with its retry budget,
 * timeout and concurrency limit, then write its encoded output before anyone can depend on it.
 * A step's compensation is a unit of work of its own, run the same way.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Tracer from "effect/Tracer"
import { InvalidOutput, JournalError, StepDefect, StepTimeout } from "../WorkflowError.ts"
import * as Formats from "./formats.ts"
import { memoizeByIdentity } from "./memo.ts"
import { compensationPath } from "./path.ts"
import { type ExhaustedFailure, notify, type Reached, type RunState } from "./runState.ts"
import { idempotencyKeyOf, StepInfo } from "./stepInfo.ts"
import { withSlot } from "./stepLimit.ts"
import { suspendOn } from "./suspend.ts"
import type { JournalEntry } from "../Journal.ts"
import type { Ctx, RetryPolicy, StepNode } from "./node.ts"

/**
 * Runs the step `node` at `path` on the context `ctx`, or returns its journaled output.
 */
export const runStep = (
  node: StepNode,
  path: string,
  state: RunState,
  ctx: Ctx
): Effect.Effect<unknown, unknown, unknown> => {
  const format = Formats.stepOutput(node)
  const mode = state.mode
  const stored = state.stored("step", path)
  if (stored !== undefined) {
    const output = format.decode(state.runId, path, stored.value)
    const compensate = node.compensate
    if (mode._tag === "Rebuilding" && compensate !== undefined && Exit.isSuccess(output)) {
      // A segment adds outputs to its context object as it goes: keep what the step saw.
      mode.reached.set(path, { node, compensate, output: output.value, ctx: { ...ctx } })
    }
    return replayed(state, path, output)
  }
  if (state.recorded === "succeeded") {
    return Exit.fail(
      new JournalError({
        reason: "Corrupt",
        runId: state.runId,
        path,
        detail: "a settled block recorded this step's branch as succeeded, but the step has no journaled output"
      })
    )
  }
  // A rebuild replays failures too: a settled block then settles as it did, and what came after
  // it is reached.
  if (state.recorded === "failed" || mode._tag === "Rebuilding") {
    const history = state.attempts(path)
    if (Exit.isFailure(history)) return history
    const exhausted = history.value.exhaustedWith
    if (exhausted !== undefined) {
      return replayed(state, path, Effect.flatMap(decodeFailure(node, path, state, exhausted), Effect.fail))
    }
  }
  if (mode._tag === "Rebuilding") return Effect.fail(suspendOn({ path, kind: "replay", until: undefined }))
  if (mode._tag === "Replaying") {
    return Effect.fail(
      new JournalError({
        reason: "Corrupt",
        runId: state.runId,
        path,
        detail: "the run is finished but this step has no journaled output"
      })
    )
  }
  const encode = format.encode
  return inStepSpan(state, path, (span) =>
    execute(node, path, state, span, (value, startedAt, finishedAt) => {
      const encoded = encode(value)
      if (Exit.isFailure(encoded)) return encoded as Exit.Exit<never, string>
      const output: JournalEntry = { path, kind: "step", seq: 0, value: encoded.value, startedAt, finishedAt }
      // The step's place in the completion order commits with its output, so the order the
      // compensations run in is exactly the order the steps' completions became durable.
      return Exit.succeed(
        node.compensate === undefined
          ? [output]
          : [output, {
            path,
            kind: "compensable",
            seq: 0,
            value: Formats.completionOrder.text(state.compensation.next++),
            finishedAt
          }]
      )
    }, Effect.suspend(() => node.run(ctx))))
}

/**
 * Undoes the completed step at `path` with its compensation, retried by its own policy (the
 * step's when it has none) and journaled as done, unless the journal says it is done already.
 */
export const runCompensation = (path: string, reached: Reached, state: RunState) => {
  const at = compensationPath(path)
  const done = state.stored("compensated", at)
  if (done !== undefined) return replayed(state, at, Formats.compensated.decode(state.runId, at, done.value))
  return inStepSpan(state, at, (span) =>
    execute(
      compensationNodeOf(reached.node),
      at,
      state,
      span,
      (_, startedAt, finishedAt) =>
        Exit.succeed([{
          path: at,
          kind: "compensated",
          seq: 0,
          value: Formats.compensated.text(null),
          startedAt,
          finishedAt
        }]),
      Effect.suspend(() => reached.compensate(reached.output, reached.ctx))
    ))
}

/**
 * Runs an executed unit of work in its `plait.step` span, the parent of its attempts' spans and
 * of its journal write. `useSpan` with the parent set directly, rather than `withSpan`, which
 * also pushes a stack frame: a second context switch per span (a step has two), for a frame that
 * would name this file, not the user's step.
 */
const inStepSpan = (
  state: RunState,
  path: string,
  f: (span: Tracer.Span) => Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<unknown, unknown, unknown> =>
  Effect.useSpan(
    "plait.step",
    spanOptions(state, path, false),
    (span) => Effect.provideService(f(span), Tracer.ParentSpan, span)
  )

/** The compensation as a unit of work: its retry policy, no timeout, no limit, no typed error. */
const compensationNodeOf = memoizeByIdentity((node: StepNode): StepNode => ({
  ...node,
  name: "compensate",
  error: undefined,
  retry: node.compensateRetry ?? node.retry,
  timeout: undefined,
  limit: undefined,
  compensate: undefined
}))

/**
 * Nothing runs inside a replayed step, so its span is parent to nothing and starts and ends in
 * the same instant: made and ended in place, without the parent-span context switch and exit
 * hook `withSpan` pays for, which were most of a replayed step's cost.
 */
const replayed = <A, E>(state: RunState, path: string, outcome: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const traced = Effect.flatMap(Effect.makeSpan("plait.step", spanOptions(state, path, true)), (span) => {
    if (Exit.isExit(outcome)) {
      span.end(span.status.startTime, outcome)
      return outcome
    }
    return Effect.onExit(outcome, (exit) => Effect.sync(() => span.end(span.status.startTime, exit)))
  })
  return state.observer === undefined
    ? traced
    : Effect.andThen(notify(state, { _tag: "Replayed", runId: state.runId, path }), traced)
}

/**
 * A failure is journaled through the step's `error` schema when it has one and the failure is
 * of that type, so it replays as the same typed value (`typed`). Otherwise it is kept as plain
 * JSON with its own fields, `_tag`, `name` and `message`: enough to match on, though no longer an
 * instance of its class.
 */
const encodeFailure = (node: StepNode, error: unknown): ExhaustedFailure => {
  const format = Formats.stepError(node)
  if (format !== undefined) {
    const encoded = format.encode(error)
    if (Exit.isSuccess(encoded)) return { failure: JSON.parse(encoded.value), typed: true }
  }
  return { failure: plainFailure(error), typed: false }
}

/** A failure as plain JSON: its own fields, `_tag`, `name` and `message`. */
export const plainFailure = (error: unknown): unknown => {
  if (error === null || typeof error !== "object") return error ?? null
  const fields: Record<string, unknown> = { ...error }
  if ("_tag" in error) fields._tag = error._tag
  if (error instanceof Error) {
    fields.name = error.name
    fields.message = error.message
  }
  try {
    return JSON.parse(JSON.stringify(fields))
  } catch {
    return { message: describeError(error) }
  }
}

const decodeFailure = (node: StepNode, path: string, state: RunState, exhausted: ExhaustedFailure) => {
  const format = Formats.stepError(node)
  const failure = exhausted.failure
  if (exhausted.typed && format !== undefined) return format.decode(state.runId, path, jsonText(failure))
  // A defect the policy retried ended as a `StepDefect`: it replays as one, not as its fields.
  return node.retry?.defects === true && isTagged(failure, "StepDefect")
    ? stepDefect.decode(state.runId, path, jsonText(failure))
    : Exit.succeed(failure)
}

const jsonText = (value: unknown): string => JSON.stringify(value) ?? "null"

const stepDefect = Formats.formatOf(StepDefect)

const isTagged = (u: unknown, tag: string): boolean =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === tag

/** A failed attempt's journal entry; the one that exhausts the budget carries the failure. */
const failedAttempt = (
  node: StepNode,
  path: string,
  seq: number,
  attempt: number,
  exhausted: boolean,
  error: unknown,
  times: { readonly startedAt: number; readonly finishedAt: number }
): JournalEntry => ({
  path,
  kind: "attempt",
  seq,
  ...times,
  value: Formats.attempt.text(
    exhausted
      ? { attempt, exhausted, error: describeError(error), ...encodeFailure(node, error) }
      : { attempt, exhausted, error: describeError(error) }
  )
})

const spanOptions = (state: RunState, path: string, replayed: boolean) => ({
  attributes: { "plait.run_id": state.runId, "plait.path": path, "plait.attempt": 0, "plait.replayed": replayed }
})

/** Each attempt of an executed step is a span inside the step's. */
const attemptSpanOptions = (state: RunState, path: string, attempt: number) => ({
  attributes: { "plait.run_id": state.runId, "plait.path": path, "plait.attempt": attempt }
})

/**
 * What a unit of work journals once it succeeded, or why its output cannot be journaled. Called
 * right before the write, so what it allocates (a place in the completion order) is in write order.
 */
type Completion = (
  value: unknown,
  startedAt: number,
  finishedAt: number
) => Exit.Exit<ReadonlyArray<JournalEntry>, string>

/**
 * Attempts a unit of work until it succeeds or its retry budget (counted across runs, from the
 * journal) is spent. Written as a chain rather than a generator: an unlimited step with no
 * observer and no failure is its attempt's span, the work, the completion and the write, and
 * nothing else; this is every step's hot path.
 */
const execute = (
  node: StepNode,
  path: string,
  state: RunState,
  stepSpan: Tracer.Span,
  complete: Completion,
  work: Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<unknown, unknown, unknown> => {
  const history = state.attempts(path)
  if (Exit.isFailure(history)) return history
  const bounded = node.timeout === undefined ? work : withTimeout(work, node.timeout, state, path)
  const unit: Unit = { node, path, state, stepSpan, complete, work: bounded, key: lazyKey(state.runId, path) }
  return attempt(unit, history.value.failures + 1, history.value.nextSeq)
}

/** What every attempt of one unit of work shares. */
interface Unit {
  readonly node: StepNode
  readonly path: string
  readonly state: RunState
  readonly stepSpan: Tracer.Span
  readonly complete: Completion
  readonly work: Effect.Effect<unknown, unknown, unknown>
  readonly key: () => string
}

/**
 * Attempt number `number`; `seq` numbers its journaled failure, if it fails. A limited step
 * holds its slot for one attempt: waiting for a slot is not an attempt.
 */
const attempt = (unit: Unit, number: number, seq: number): Effect.Effect<unknown, unknown, unknown> => {
  const settle = (exit: Exit.Exit<unknown, unknown>, startedAt: number, finishedAt: number) =>
    Exit.isSuccess(exit)
      ? succeeded(unit, number, seq, exit.value, { startedAt, finishedAt })
      : failed(unit, number, seq, exit.cause, { startedAt, finishedAt })
  const limit = unit.node.limit
  if (limit === undefined) {
    // One clock read starts the attempt; the one that ends it is made in place when it ends.
    return Clock.clockWith((clock) =>
      Effect.flatMap(
        timedAttempt(unit, number, clock),
        ([exit, startedAt]) => settle(exit, startedAt, clock.currentTimeMillisUnsafe())
      )
    )
  }
  return Clock.clockWith((clock) =>
    Effect.flatMap(
      withSlot(limit, unit.path, unit.state, timedAttempt(unit, number, clock)),
      ([exit, startedAt]) => settle(exit, startedAt, clock.currentTimeMillisUnsafe())
    )
  )
}

/** One attempt of a unit of work: its exit, and when it started. */
const timedAttempt = (unit: Unit, number: number, clock: Clock.Clock) => {
  const { path, state } = unit
  // The step's span carries the attempt it is at; each attempt also has a span of its own.
  unit.stepSpan.attribute("plait.attempt", number)
  const run = Effect.suspend(() => {
    const startedAt = clock.currentTimeMillisUnsafe()
    // Past the lease's local deadline another executor may own the run: start nothing.
    const mode = state.mode
    if (mode._tag === "Executing" && startedAt >= mode.deadline.at) return mode.deadline.lapsed
    return Effect.map(Effect.exit(inAttemptSpan(unit, number)), (exit) => [exit, startedAt] as const)
  })
  return state.observer === undefined
    ? run
    : Effect.andThen(notify(state, { _tag: "Started", runId: state.runId, path, attempt: number }), run)
}

/**
 * The work in its attempt's span, as the parent of whatever it traces, with the attempt's
 * `StepInfo`: both in one change of the fiber's context.
 */
const inAttemptSpan = (unit: Unit, number: number) =>
  Effect.useSpan(
    "plait.attempt",
    attemptSpanOptions(unit.state, unit.path, number),
    (span) =>
      Effect.updateContext(unit.work, (context: Context.Context<unknown>) =>
        Context.add(
          Context.add(context, StepInfo, stepInfo(unit.state.runId, unit.path, number, unit.key)),
          Tracer.ParentSpan,
          span
        ))
  )

interface AttemptTimes {
  readonly startedAt: number
  readonly finishedAt: number
}

/** Journals a successful attempt's completion; only then is the unit complete. */
const succeeded = (unit: Unit, number: number, seq: number, value: unknown, times: AttemptTimes) => {
  const { node, path, state } = unit
  const entries = unit.complete(value, times.startedAt, times.finishedAt)
  if (Exit.isFailure(entries)) {
    const invalid = new InvalidOutput({ runId: state.runId, path, issue: Cause.squash(entries.cause) as string })
    // Journaled as the attempt that exhausts the budget: a settled block that recorded this
    // branch as failed then replays the failure instead of running the step again.
    return Effect.andThen(
      state.writer.write(failedAttempt(node, path, seq, number, true, invalid, times)),
      Effect.fail(invalid)
    )
  }
  const written = Effect.as(state.writer.writeAll(entries.value, state.item), value)
  return state.observer === undefined
    ? written
    : Effect.tap(written, () => notify(state, { _tag: "Completed", runId: state.runId, path, attempt: number }))
}

/**
 * Journals a failed attempt, then retries after the policy's delay, or fails once the budget is
 * spent: with the attempt's own cause, or, for a defect, with a typed `StepDefect`. An
 * interruption is never an attempt; a defect is one only when the policy says `defects: true`,
 * and otherwise ends the step as it is.
 */
const failed = Effect.fnUntraced(function*(
  unit: Unit,
  number: number,
  seq: number,
  cause: Cause.Cause<unknown>,
  times: AttemptTimes
) {
  const { node, path, state } = unit
  const failure = attemptFailure(unit, number, cause)
  if (failure === undefined) return yield* Effect.failCause(cause)
  // Attempt `number` is one more than the failures before it: it is also the failures now.
  const exhausted = number > (node.retry?.times ?? 0)
  yield* state.writer.write(failedAttempt(node, path, seq, number, exhausted, failure.error, times))
  yield* notify(state, { _tag: "Failed", runId: state.runId, path, attempt: number, willRetry: !exhausted })
  if (exhausted) return yield* failure.exit
  yield* Effect.sleep(retryDelay(node.retry!, number))
  return yield* attempt(unit, number + 1, seq + 1)
})

/**
 * What a failed attempt counts as: its typed error, or its defect as a `StepDefect` when the
 * policy retries defects; `undefined` when it is no attempt at all (an interruption, or a
 * defect the step does not retry).
 */
const attemptFailure = (
  unit: Unit,
  number: number,
  cause: Cause.Cause<unknown>
): { readonly error: unknown; readonly exit: Exit.Exit<never, unknown> } | undefined => {
  const failure = Cause.findErrorOption(cause)
  if (failure._tag === "Some") return { error: failure.value, exit: Exit.failCause(cause) }
  if (unit.node.retry?.defects !== true || Cause.hasInterrupts(cause)) return undefined
  const defect = Cause.findDefect(cause)
  if (Result.isFailure(defect)) return undefined
  const error = new StepDefect({
    runId: unit.state.runId,
    path: unit.path,
    attempts: number,
    defect: describeError(defect.success)
  })
  return { error, exit: Exit.fail(error) }
}

/**
 * The key is hashed on first use only: most steps never read it, and a hash per step would cost
 * more than the rest of its bookkeeping.
 */
const lazyKey = (runId: string, path: string) => {
  let key: string | undefined
  return () => (key ??= idempotencyKeyOf(runId, path))
}

/**
 * A step's `StepInfo`: a class, so the key's getter is on the prototype rather than made with
 * an object literal's accessor for every attempt (the slowest allocation of a step).
 */
class AttemptInfo {
  readonly runId: string
  readonly path: string
  readonly attempt: number
  readonly #key: () => string
  constructor(runId: string, path: string, attempt: number, key: () => string) {
    this.runId = runId
    this.path = path
    this.attempt = attempt
    this.#key = key
  }
  get idempotencyKey() {
    return this.#key()
  }
}

const stepInfo = (runId: string, path: string, attempt: number, key: () => string): StepInfo["Service"] =>
  new AttemptInfo(runId, path, attempt, key)

const withTimeout = (
  work: Effect.Effect<unknown, unknown, unknown>,
  timeout: Duration.Input,
  state: RunState,
  path: string
) =>
  Effect.timeoutOrElse(work, {
    duration: timeout,
    orElse: () =>
      Effect.fail(
        new StepTimeout({ runId: state.runId, path, timeout: Duration.format(Duration.fromInputUnsafe(timeout)) })
      )
  })

const retryDelay = (policy: RetryPolicy, failures: number): Duration.Duration => {
  const base = Duration.fromInputUnsafe(policy.delay ?? 0)
  return policy.backoff === "exponential" ? Duration.times(base, 2 ** (failures - 1)) : base
}

export const describeError = (error: unknown): string => {
  // A tagged error often has no message of its own: its fields say what happened.
  if (error instanceof Error) return `${error.name}: ${error.message === "" ? safeJson({ ...error }) : error.message}`
  return safeJson(error)
}

const safeJson = (error: unknown): string => {
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
