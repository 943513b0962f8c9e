/**
 * The journal's value formats: one schema per entry kind, and the one place a stored value is
 * written from and read back into. A writer stores what a format encodes; a reader (the run
 * replaying its journal, a parent reading its child's failure, `Engine.inspect`) gets back what
 * the same format decodes, or a `JournalError` `Corrupt` naming the run and the entry's path.
 *
 * Most formats are fixed (an attempt, a wake time); a step's output, a signal's value and a
 * choice's key are typed by the definition, so their formats are made from its schemas, once
 * per node.
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { JournalError } from "../WorkflowError.ts"
import { jsonCodec } from "./codec.ts"
import { memoizeByIdentity } from "./memo.ts"
import type { AnyCodec, SignalNode, StepNode } from "./node.ts"

/** How the values of one entry kind are stored as JSON text, and read back. */
export interface Format<A> {
  /** The text stored for `value`, or why the schema cannot encode it. */
  readonly encode: (value: A) => Exit.Exit<string, string>
  /** A stored text, decoded; one that does not decode means the journal of `runId` is corrupt at `path`. */
  readonly decode: (runId: string, path: string, text: string) => Exit.Exit<A, JournalError>
}

/** A format whose values always encode: plait writes them, from values it made itself. */
export interface FixedFormat<A> extends Format<A> {
  /** The text stored for `value`. */
  readonly text: (value: A) => string
}

/** The format of values of `schema`. */
export const formatOf = <S extends AnyCodec>(schema: S): Format<S["Type"]> => {
  const codec = jsonCodec(schema)
  return {
    encode: codec.encode,
    decode: (runId, path, text) => {
      const decoded = codec.decode(text)
      // A success is passed on as it is: a replay decodes every step, one Exit each is enough.
      return Exit.isSuccess(decoded)
        ? decoded as Exit.Exit<S["Type"], never>
        : Exit.fail(corrupt(runId, path, Cause.squash(decoded.cause) as string))
    }
  }
}

const fixed = <S extends AnyCodec>(name: string, schema: S): FixedFormat<S["Type"]> => {
  const format = formatOf(schema)
  return {
    ...format,
    text: (value) => {
      const encoded = format.encode(value)
      if (Exit.isSuccess(encoded)) return encoded.value
      // plait made the value: one its own format refuses is a bug here, not a user's mistake.
      throw new Error(`plait: a ${name} that its journal format refuses: ${Cause.squash(encoded.cause) as string}`)
    }
  }
}

/** A `JournalError` `Corrupt` for the entry at `path` of `runId`. */
export const corrupt = (runId: string, path: string, detail: string): JournalError =>
  new JournalError({ reason: "Corrupt", runId, path, detail })

// --- steps ----------------------------------------------------------------------------------

/** A `step` entry: the step's output, through its `success` schema. */
export const stepOutput: (node: StepNode) => Format<unknown> = memoizeByIdentity((node: StepNode) =>
  formatOf(node.success)
)

/** A typed failure in an attempt record: the error through the step's `error` schema. */
export const stepError: (node: StepNode) => Format<unknown> | undefined = memoizeByIdentity((node: StepNode) =>
  node.error === undefined ? undefined : formatOf(node.error)
)

/**
 * An `attempt` entry: a failed attempt. `attempt` counts from 1 after each exhaustion, so the
 * records of a step must number themselves consistently; the last of a budget carries the
 * failure (`typed`: through the step's `error` schema, else the error's plain fields), replayed
 * when a settled block recorded the step's branch as failed.
 */
export const AttemptRecord = Schema.Union([
  Schema.Struct({ attempt: Schema.Int, exhausted: Schema.Literal(false), error: Schema.String }),
  Schema.Struct({
    attempt: Schema.Int,
    exhausted: Schema.Literal(true),
    error: Schema.String,
    failure: Schema.Unknown,
    typed: Schema.Boolean
  })
])

export type AttemptRecord = typeof AttemptRecord.Type

export const attempt: FixedFormat<AttemptRecord> = fixed("failed attempt", AttemptRecord)

/**
 * A `failed` entry (at the root, numbered by the execution that ended): the failure a run ended
 * with, as text and as JSON (through the failing step's error schema when it had one), so a
 * parent can match on its `_tag` and fields.
 */
export const RunFailure = Schema.Struct({ error: Schema.String, failure: Schema.Unknown })

export const runFailure: FixedFormat<typeof RunFailure.Type> = fixed("run failure", RunFailure)

// --- decisions --------------------------------------------------------------------------------

/** A `choice` entry of a race or a branch: the key of the winner or the case, one the definition has. */
export const choice: (keyed: ReadonlyArray<readonly [string, unknown]>) => FixedFormat<string> = memoizeByIdentity(
  (keyed: ReadonlyArray<readonly [string, unknown]>) => fixed("choice", Schema.Literals(keyed.map(([key]) => key)))
)

/**
 * A `choice` entry of a block under `settle`: the keys of its branches that failed and of those
 * that succeeded, written when the block settled with failures.
 */
export const SettleRecord = Schema.Struct({
  failed: Schema.Array(Schema.String),
  succeeded: Schema.Array(Schema.String)
})

export const settleRecord: FixedFormat<typeof SettleRecord.Type> = fixed("settle record", SettleRecord)

/** An `order` entry: the keys of a `lastWins` block's branches in the order they completed. */
export const order: FixedFormat<ReadonlyArray<string>> = fixed("completion order", Schema.Array(Schema.String))

/** A `wake` entry: when a sleep ends or a signal times out, in epoch milliseconds. */
export const wake: FixedFormat<number> = fixed("wake time", Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))

/** An `items` entry: the item paths of a `forEach` whose body waits for signals. */
export const items: FixedFormat<ReadonlyArray<string>> = fixed("item list", Schema.Array(Schema.String))

/** A `resumed` entry: when `Engine.resume` cut a sleeping run's sleeps short, in epoch milliseconds. */
export const resumed: FixedFormat<number> = fixed("resume time", Schema.Int)

/** A `signal` entry: the value delivered, through the signal's schema. */
export interface SignalFormat extends Format<unknown> {
  /**
   * The text stored for a value sent to the signal, or the schema's error with every problem it
   * found rather than the first, each with the value it found (the sender's own payload).
   */
  readonly encodeSent: (value: unknown) => Exit.Exit<string, unknown>
}

export const signal: (node: SignalNode) => SignalFormat = memoizeByIdentity((node: SignalNode) => {
  const encode = Schema.encodeUnknownExit(Schema.toCodecJson(node.schema), { errors: "all", reportInput: true })
  return {
    ...formatOf(node.schema),
    encodeSent: (value) => {
      const encoded = encode(value)
      // `undefined` (a void signal) is stored as JSON null, as a step's output is.
      return Exit.isSuccess(encoded)
        ? Exit.succeed(JSON.stringify(encoded.value) ?? "null")
        : Exit.fail(Cause.squash(encoded.cause))
    }
  }
})

// --- compensation ---------------------------------------------------------------------------

/**
 * A `compensable` entry: a compensable step's place in the run's completion order, committed
 * with its output, so compensations run in the order the completions became durable.
 */
export const completionOrder: FixedFormat<number> = fixed(
  "place in the completion order",
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
)

/** A `compensating` entry: why the run compensates (its failure as JSON when it failed). */
export const Ending = Schema.Struct({
  reason: Schema.Literals(["failed", "cancelled"]),
  error: Schema.String,
  failure: Schema.optionalKey(Schema.Unknown)
})

export type Ending = typeof Ending.Type

export const ending: FixedFormat<Ending> = fixed("compensation ending", Ending)

/** A `compensated` entry: a compensation that ran to its end. It carries nothing. */
export const compensated: FixedFormat<null> = fixed("compensation", Schema.Null)
