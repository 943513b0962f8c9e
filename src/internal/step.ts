/**
 * One journaled unit of work: replay it from the journal, or run it with its retry budget,
 * timeout and concurrency limit, then write its encoded output before anyone can depend on it.
 * A step's compensation is a unit of work of its own, run the same way.
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
import type { Ctx, RetryPolicy, StepNode } from "./node.ts"
import { childPath } from "./path.ts"
import { type ExhaustedFailure, notify, type Reached, type RunState } from "./runState.ts"
import { withSlot } from "./slot.ts"
import { idempotencyKeyOf, StepInfo } from "./stepInfo.ts"
import { suspendOn } from "./suspend.ts"

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
 * Runs the step `node` at `path` on the context `ctx`, or returns its journaled output.
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
    const output = decodeStored(state, path, codec, stored.value)
    if (state.reached !== undefined && node.compensate !== undefined && Exit.isSuccess(output)) {
      // A segment adds outputs to its context object as it goes: keep what the step saw.
      state.reached.set(path, { node, output: output.value, ctx: { ...ctx } })
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
  if (state.recorded === "failed" || state.reached !== undefined) {
    const history = state.attempts(path)
    if (Exit.isFailure(history)) return history
    const exhausted = history.value.exhaustedWith
    if (exhausted !== undefined) {
      return replayed(state, path, Effect.flatMap(decodeFailure(node, path, state, exhausted), Effect.fail))
    }
  }
  if (state.reached !== undefined) return Effect.fail(suspendOn({ path, kind: "replay", until: undefined }))
  if (state.readOnly) {
    return Effect.fail(
      new JournalError({ reason: "Corrupt", runId: state.runId, path, detail: "the run is finished but this step has no journaled output" })
    )
  }
  const encode = codec.encode
  return execute(node, path, state, (value, startedAt, finishedAt) => {
    const encoded = encode(value)
    if (Exit.isFailure(encoded)) return encoded as Exit.Exit<never, string>
    const output: JournalEntry = { path, kind: "step", seq: 0, value: encoded.value, startedAt, finishedAt }
    // The step's place in the completion order commits with its output, so the order the
    // compensations run in is exactly the order the steps' completions became durable.
    return Exit.succeed(
      node.compensate === undefined
        ? [output]
        : [output, { path, kind: "compensable", seq: 0, value: String(state.compensation.next++), finishedAt }]
    )
  }, Effect.suspend(() => node.run(ctx))).pipe(Effect.withSpan("plait.step", spanOptions(state, path, false), noStackTrace))
}

/** Where a step's compensation is journaled: below the step, where no other node can be. */
export const compensationPath = (stepPath: string): string => childPath(stepPath, "compensate")

/**
 * Undoes the completed step at `path` with its compensation, retried by its own policy (the
 * step's when it has none) and journaled as done, unless the journal says it is done already.
 */
export const runCompensation = (path: string, reached: Reached, state: RunState) => {
  const at = compensationPath(path)
  if (state.stored("compensated", at) !== undefined) return replayed(state, at, Effect.void)
  return execute(
    compensationNodeOf(reached.node),
    at,
    state,
    (_, startedAt, finishedAt) => Exit.succeed([{ path: at, kind: "compensated", seq: 0, value: "null", startedAt, finishedAt }]),
    Effect.suspend(() => reached.node.compensate!(reached.output, reached.ctx))
  ).pipe(Effect.withSpan("plait.step", spanOptions(state, at, false), noStackTrace))
}

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

// A captured stack would always point here, not at the user's step, and capturing it (an `Error`
// per span) was the largest single cost of a replayed step.
const noStackTrace = { captureStackTrace: false } as const

/**
 * What a unit of work journals once it succeeded, or why its output cannot be journaled. Called
 * right before the write, so what it allocates (a place in the completion order) is in write order.
 */
type Completion = (
  value: unknown,
  startedAt: number,
  finishedAt: number
) => Exit.Exit<ReadonlyArray<JournalEntry>, string>

const execute = Effect.fnUntraced(function*(
  node: StepNode,
  path: string,
  state: RunState,
  complete: Completion,
  work: Effect.Effect<unknown, unknown, unknown>
) {
  const history = yield* state.attempts(path)
  const budget = node.retry?.times ?? 0
  let failures = history.failures
  let seq = history.nextSeq
  const bounded = node.timeout === undefined ? work : withTimeout(work, node.timeout, state, path)
  const key = lazyKey(state.runId, path)
  while (true) {
    const attempt = failures + 1
    const once = () => attemptOnce(state, path, attempt, bounded, key)
    // A limited step holds its slot for one attempt: waiting for a slot is not an attempt. An
    // unlimited one runs its attempt inline: this is every step's hot path.
    const [exit, startedAt] = node.limit === undefined
      ? yield* once()
      : yield* withSlot(node.limit, path, state, Effect.gen(once))
    if (Exit.isSuccess(exit)) {
      const finishedAt = yield* Clock.currentTimeMillis
      const entries = complete(exit.value, startedAt, finishedAt)
      if (Exit.isFailure(entries)) {
        const invalid = new InvalidOutput({ runId: state.runId, path, issue: Cause.squash(entries.cause) as string })
        // Journaled as the attempt that exhausts the budget: a settled block that recorded this
        // branch as failed then replays the failure instead of running the step again.
        yield* state.writer.write(failedAttempt(node, path, seq, attempt, true, invalid, { startedAt, finishedAt }))
        return yield* invalid
      }
      yield* state.writer.writeAll(entries.value)
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

/** One attempt of a unit of work: its exit, and when it started. */
function* attemptOnce(
  state: RunState,
  path: string,
  attempt: number,
  work: Effect.Effect<unknown, unknown, unknown>,
  key: () => string
) {
  // The step's span carries the attempt it is at; each attempt also has a span of its own.
  yield* Effect.annotateCurrentSpan("plait.attempt", attempt)
  yield* notify(state, { _tag: "Started", runId: state.runId, path, attempt })
  const startedAt = yield* Clock.currentTimeMillis
  const exit = yield* Effect.exit(
    work.pipe(
      Effect.provideService(StepInfo, stepInfo(state.runId, path, attempt, key)),
      Effect.withSpan("plait.attempt", attemptSpanOptions(state, path, attempt), noStackTrace)
    )
  )
  return [exit, startedAt] as const
}

/**
 * The key is hashed on first use only: most steps never read it, and a hash per step would cost
 * more than the rest of its bookkeeping.
 */
const lazyKey = (runId: string, path: string) => {
  let key: string | undefined
  return () => (key ??= idempotencyKeyOf(runId, path))
}

const stepInfo = (runId: string, path: string, attempt: number, key: () => string): StepInfo["Service"] => ({
  runId,
  path,
  attempt,
  get idempotencyKey() {
    return key()
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
