/**
 * One journaled unit of work: replay it from the journal, or run it with its retry budget and
 * timeout, then write its encoded output before anyone can depend on it.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { type JournalEntry, JournalError } from "../Journal.ts"
import { InvalidOutput, StepTimeout } from "../WorkflowError.ts"
import { type JsonCodec, jsonCodec } from "./codec.ts"
import { memoizeByIdentity } from "./memo.ts"
import type { RetryPolicy, StepNode } from "./node.ts"
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
    ? Exit.succeed(decoded.value)
    : Exit.fail(
      new JournalError({ reason: "Corrupt", runId: state.runId, path, detail: Cause.squash(decoded.cause) as string })
    )
}

/**
 * Runs `work` as the step `node` at `path`, or returns its journaled output.
 */
export const runStep = (
  node: StepNode,
  path: string,
  state: RunState,
  work: Effect.Effect<unknown, unknown, unknown>
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
  return execute(node, path, state, codec, work).pipe(
    Effect.withSpan("plait.step", spanOptions(state, path, false), noStackTrace)
  )
}

const replayed = <A, E>(state: RunState, path: string, outcome: Effect.Effect<A, E>) =>
  Effect.flatMap(notify(state, { _tag: "Replayed", runId: state.runId, path }), () => outcome).pipe(
    Effect.withSpan("plait.step", spanOptions(state, path, true), noStackTrace)
  )

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

// A captured stack would always point here, not at the user's step, and capturing it (an `Error`
// per span) was the largest single cost of a replayed step.
const noStackTrace = { captureStackTrace: false } as const

const execute = Effect.fnUntraced(function*(
  node: StepNode,
  path: string,
  state: RunState,
  codec: JsonCodec,
  work: Effect.Effect<unknown, unknown, unknown>
) {
  const history = yield* state.attempts(path)
  const budget = node.retry?.times ?? 0
  let failures = history.failures
  let seq = history.nextSeq
  const bounded = node.timeout === undefined ? work : withTimeout(work, node.timeout, state, path)
  while (true) {
    const attempt = failures + 1
    // The step's span carries the attempt it is at; each attempt also has a span of its own.
    yield* Effect.annotateCurrentSpan("plait.attempt", attempt)
    yield* notify(state, { _tag: "Started", runId: state.runId, path, attempt })
    const startedAt = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(
      bounded.pipe(Effect.withSpan("plait.attempt", attemptSpanOptions(state, path, attempt), noStackTrace))
    )
    if (Exit.isSuccess(exit)) {
      const encoded = codec.encode(exit.value)
      if (Exit.isFailure(encoded)) {
        const invalid = new InvalidOutput({ runId: state.runId, path, issue: Cause.squash(encoded.cause) as string })
        // Journaled as the attempt that exhausts the budget: a settled block that recorded this
        // branch as failed then replays the failure instead of running the step again.
        const finishedAt = yield* Clock.currentTimeMillis
        yield* state.writer.write(failedAttempt(node, path, seq, attempt, true, invalid, { startedAt, finishedAt }))
        return yield* invalid
      }
      const finishedAt = yield* Clock.currentTimeMillis
      yield* state.writer.write({ path, kind: "step", seq: 0, value: encoded.value, startedAt, finishedAt })
      yield* notify(state, { _tag: "Completed", runId: state.runId, path, attempt })
      return exit.value
    }
    // Interruptions and defects are not attempts the step can retry; they end the step as they are.
    const failure = Cause.findErrorOption(exit.cause)
    if (failure._tag === "None") return yield* exit
    failures += 1
    const exhausted = failures > budget
    const finishedAt = yield* Clock.currentTimeMillis
    yield* state.writer.write(failedAttempt(node, path, seq++, attempt, exhausted, failure.value, { startedAt, finishedAt }))
    yield* notify(state, { _tag: "Failed", runId: state.runId, path, attempt, willRetry: !exhausted })
    if (exhausted) return yield* exit
    yield* Effect.sleep(retryDelay(node.retry!, failures))
  }
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
