/**
 * One journaled unit of work: replay it from the journal, or run it with its retry budget and
 * timeout, then write its encoded output before anyone can depend on it.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"
import { type JournalEntry, JournalError } from "../Journal.ts"
import { InvalidOutput, StepTimeout } from "../WorkflowError.ts"
import { type JsonCodec, jsonCodec } from "./codec.ts"
import { memoizeByIdentity } from "./memo.ts"
import type { Ctx, RetryPolicy, StepNode } from "./node.ts"
import { type ExhaustedFailure, notify, type RunState } from "./runState.ts"

/** Codecs are derived once per step definition, not once per execution. */
export const codecOf = memoizeByIdentity((node: StepNode): JsonCodec => jsonCodec(node.success))

const errorCodecOf = memoizeByIdentity((node: StepNode): JsonCodec | undefined =>
  node.error === undefined ? undefined : jsonCodec(node.error)
)

/** Decodes a stored value, or reports the row as corrupt, naming the run and the path. */
export const decodeStored = (
  state: { readonly runId: string },
  path: string,
  codec: JsonCodec,
  text: string
): Exit.Exit<unknown, JournalError> => {
  const decoded = codec.decode(text)
  return Exit.isSuccess(decoded)
    ? decoded as Exit.Exit<unknown, never>
    : Exit.fail(
      new JournalError({ reason: "Corrupt", runId: state.runId, path, detail: Cause.squash(decoded.cause) as string })
    )
}

/**
 * Runs the step `node` at `path` on `ctx`, or returns its journaled output.
 */
export const runStep = (
  node: StepNode,
  path: string,
  state: RunState,
  ctx: Ctx
): Effect.Effect<unknown, unknown, unknown> => {
  const codec = codecOf(node)
  const stored = state.stored("step", path)
  if (stored !== undefined) {
    return replayed(state, path, decodeStored(state, path, codec, stored.value))
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
  if (state.recorded === "failed") {
    const history = state.attempts(path)
    if (Exit.isFailure(history)) return history
    const exhausted = history.value.exhaustedWith
    if (exhausted !== undefined) {
      return replayed(state, path, Effect.flatMap(decodeFailure(node, path, state, exhausted), Effect.fail))
    }
  }
  if (state.readOnly) {
    return Effect.fail(
      new JournalError({ reason: "Corrupt", runId: state.runId, path, detail: "the run is finished but this step has no journaled output" })
    )
  }
  // The step's span is the parent of its attempts' spans and of its journal write.
  return Effect.useSpan("plait.step", spanOptions(state, path, false), (span) =>
    Effect.provideService(execute(node, path, state, codec, ctx, span), Tracer.ParentSpan, span))
}

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
const encodeFailure = (node: StepNode, error: unknown): { readonly failure: unknown; readonly typed: boolean } => {
  const codec = errorCodecOf(node)
  if (codec !== undefined) {
    const encoded = codec.encode(error)
    if (Exit.isSuccess(encoded)) return { failure: JSON.parse(encoded.value), typed: true }
  }
  return { failure: plainFields(error), typed: false }
}

const plainFields = (error: unknown): unknown => {
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
    return { message: describe(error) }
  }
}

const decodeFailure = (node: StepNode, path: string, state: RunState, exhausted: ExhaustedFailure) => {
  const codec = errorCodecOf(node)
  return exhausted.typed && codec !== undefined
    ? decodeStored(state, path, codec, exhausted.failure)
    : Exit.succeed(JSON.parse(exhausted.failure) as unknown)
}

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
  value: JSON.stringify(
    exhausted
      ? { attempt, exhausted, error: describe(error), ...encodeFailure(node, error) }
      : { attempt, exhausted, error: describe(error) }
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
 * Attempts the step until it succeeds or its retry budget (counted across runs, from the
 * journal) is spent. Written as a chain rather than a generator: a step with no observer and
 * no failure is its attempt's span, the work, the encode and the write, and nothing else.
 */
const execute = (
  node: StepNode,
  path: string,
  state: RunState,
  codec: JsonCodec,
  ctx: Ctx,
  stepSpan: Tracer.Span
): Effect.Effect<unknown, unknown, unknown> => {
  const history = state.attempts(path)
  if (Exit.isFailure(history)) return history
  return attempt(node, path, state, codec, ctx, stepSpan, history.value.failures, history.value.nextSeq)
}

/** One attempt, after `failures` failed ones; `seq` numbers its journaled failure, if it fails. */
const attempt = (
  node: StepNode,
  path: string,
  state: RunState,
  codec: JsonCodec,
  ctx: Ctx,
  stepSpan: Tracer.Span,
  failures: number,
  seq: number
): Effect.Effect<unknown, unknown, unknown> => {
  const number = failures + 1
  // The step's span carries the attempt it is at; each attempt also has a span of its own.
  stepSpan.attribute("plait.attempt", number)
  // One clock read starts the attempt; the one that ends it is made in place when it ends.
  const ran = Clock.clockWith((clock) => {
    const startedAt = clock.currentTimeMillisUnsafe()
    return Effect.matchCauseEffect(inAttemptSpan(node, ctx, state, path, number), {
      onSuccess: (value) =>
        complete(node, path, state, codec, number, seq, value, { startedAt, finishedAt: clock.currentTimeMillisUnsafe() }),
      onFailure: (cause) =>
        recordFailure(
          node,
          path,
          state,
          cause,
          number,
          seq,
          { startedAt, finishedAt: clock.currentTimeMillisUnsafe() },
          () => attempt(node, path, state, codec, ctx, stepSpan, number, seq + 1)
        )
    })
  })
  return state.observer === undefined
    ? ran
    : Effect.andThen(notify(state, { _tag: "Started", runId: state.runId, path, attempt: number }), ran)
}

/**
 * Runs the step's function in its attempt's span, as the parent of whatever the work traces.
 * The function is called when the attempt starts, inside the span (a throw there is a defect of
 * that attempt). `useSpan` with the parent set directly, rather than `withSpan`, which also
 * pushes a stack frame: a second context switch per span, for a frame that would name this
 * file, not the user's step.
 */
const inAttemptSpan = (node: StepNode, ctx: Ctx, state: RunState, path: string, attempt: number) =>
  Effect.useSpan("plait.attempt", attemptSpanOptions(state, path, attempt), (span) => {
    const timeout = node.timeout
    const work = timeout === undefined
      ? node.run(ctx)
      : withTimeout(Effect.suspend(() => node.run(ctx)), timeout, state, path)
    return Effect.provideService(work, Tracer.ParentSpan, span)
  })

interface AttemptTimes {
  readonly startedAt: number
  readonly finishedAt: number
}

/** Writes a successful attempt's output; only then is the step complete. */
const complete = (
  node: StepNode,
  path: string,
  state: RunState,
  codec: JsonCodec,
  attempt: number,
  seq: number,
  value: unknown,
  times: AttemptTimes
): Effect.Effect<unknown, unknown> => {
  const encoded = codec.encode(value)
  if (Exit.isFailure(encoded)) {
    const invalid = new InvalidOutput({ runId: state.runId, path, issue: Cause.squash(encoded.cause) as string })
    // Journaled as the attempt that exhausts the budget: a settled block that recorded this
    // branch as failed then replays the failure instead of running the step again.
    return Effect.andThen(state.writer.write(failedAttempt(node, path, seq, attempt, true, invalid, times)), Effect.fail(invalid))
  }
  const written = Effect.as(
    state.writer.write({ path, kind: "step", seq: 0, value: encoded.value, startedAt: times.startedAt, finishedAt: times.finishedAt }),
    value
  )
  return state.observer === undefined
    ? written
    : Effect.tap(written, () => notify(state, { _tag: "Completed", runId: state.runId, path, attempt }))
}

/**
 * Journals a failed attempt, then retries after the policy's delay, or fails with the attempt's
 * own cause once the budget is spent.
 */
const recordFailure = Effect.fnUntraced(function*(
  node: StepNode,
  path: string,
  state: RunState,
  cause: Cause.Cause<unknown>,
  attempt: number,
  seq: number,
  times: AttemptTimes,
  retry: () => Effect.Effect<unknown, unknown, unknown>
) {
  // Interruptions and defects are not attempts the step can retry; they end the step as they are.
  const failure = Cause.findErrorOption(cause)
  if (failure._tag === "None") return yield* Effect.failCause(cause)
  // `attempt` is one more than the failures before it: it is also the failures now.
  const exhausted = attempt > (node.retry?.times ?? 0)
  yield* state.writer.write(failedAttempt(node, path, seq, attempt, exhausted, failure.value, times))
  yield* notify(state, { _tag: "Failed", runId: state.runId, path, attempt, willRetry: !exhausted })
  if (exhausted) return yield* Effect.failCause(cause)
  yield* Effect.sleep(retryDelay(node.retry!, attempt))
  return yield* retry()
})

const withTimeout = (
  work: Effect.Effect<unknown, unknown, unknown>,
  timeout: Duration.Input,
  state: RunState,
  path: string
) =>
  Effect.timeoutOrElse(work, {
    duration: timeout,
    orElse: () => Effect.fail(new StepTimeout({ runId: state.runId, path, timeout: Duration.format(Duration.fromInputUnsafe(timeout)) }))
  })

const retryDelay = (policy: RetryPolicy, failures: number): Duration.Duration => {
  const base = Duration.fromInputUnsafe(policy.delay ?? 0)
  return policy.backoff === "exponential" ? Duration.times(base, 2 ** (failures - 1)) : base
}

const describe = (error: unknown): string => {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
