/**
 * What a run id may be, the same on every backend: not empty, at most {@link maxBytes} (512)
 * UTF-8 bytes, no NUL character, and well-formed Unicode (no lone surrogate). Every call that
 * takes a run id (`Workflow.run`, `Workflow.sendSignal`, the engine's `start`, `signal`,
 * `await`, `cancel`, `resume`, `inspect`, and the CLI) refuses any other id with a typed
 * `InvalidRunId` before it reads or writes anything, so an id the memory journal would take is
 * never one Postgres refuses, or one whose notification overflows.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { InvalidRunId } from "./WorkflowError.ts"

/**
 * The longest run id, in UTF-8 bytes. A child run's id is derived from its parent's and stays
 * within it too (see `Engine.childRunId`).
 *
 * @example
 * ```ts
 * import { RunId } from "plait"
 *
 * const fits = (id: string) => new TextEncoder().encode(id).length <= RunId.maxBytes
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBytes = 512

/**
 * The rule a run id breaks, if any: `Empty`, `TooLong` (over {@link maxBytes} UTF-8 bytes),
 * `Nul`, `MalformedUnicode` (a lone surrogate); `undefined` for a valid id.
 *
 * @example
 * ```ts
 * import { RunId } from "plait"
 *
 * RunId.brokenRule("order-7") // undefined
 * RunId.brokenRule("") // "Empty"
 * RunId.brokenRule("a\u0000b") // "Nul"
 * RunId.brokenRule("x".repeat(513)) // "TooLong"
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const brokenRule = (runId: string): InvalidRunId["rule"] | undefined => {
  if (runId.length === 0) return "Empty"
  // Every UTF-16 code unit is at least one UTF-8 byte: a longer string is refused unscanned.
  return runId.length > maxBytes ? "TooLong" : scan(runId)
}

/**
 * The schema of a run id: a string that breaks no rule of {@link brokenRule}. Use it where run
 * ids come in (a request body, a queue message) to refuse a bad one where it arrives.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { RunId } from "plait"
 *
 * const Request = Schema.Struct({ runId: RunId.RunId, approved: Schema.Boolean })
 * const parsed = Schema.decodeUnknownOption(Request)({ runId: "expense-7", approved: true }) // Option.some(...)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const RunId: Schema.String = Schema.String.check(
  Schema.makeFilter((runId: string) => {
    const rule = brokenRule(runId)
    return rule === undefined ? undefined : new InvalidRunId(details(runId, rule)).message
  }, { identifier: "RunId", description: "a run id: 1 to 512 UTF-8 bytes of well-formed Unicode, no NUL" })
)

/**
 * Succeeds with the id when it is valid, else fails with `InvalidRunId` naming the rule.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunId } from "plait"
 *
 * const program = RunId.validate("").pipe(
 *   Effect.catchTag("InvalidRunId", (error) => Effect.succeed(error.rule)) // "Empty"
 * )
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (runId: string): Effect.Effect<string, InvalidRunId> => {
  const rule = brokenRule(runId)
  return rule === undefined ? Effect.succeed(runId) : Effect.fail(new InvalidRunId(details(runId, rule)))
}

// internal

/** How much of a refused id its error shows. */
const shownCharacters = 64

const details = (runId: string, rule: InvalidRunId["rule"]) => ({
  // JSON escapes a NUL and a lone surrogate, so the error shows them.
  runId: JSON.stringify(runId.length > shownCharacters ? runId.slice(0, shownCharacters) : runId) +
    (runId.length > shownCharacters ? "…" : ""),
  rule,
  bytes: utf8Bytes(runId)
})

/** NUL or a lone surrogate, else the length in bytes. One pass over the code units. */
const scan = (runId: string): InvalidRunId["rule"] | undefined => {
  let bytes = 0
  for (let i = 0; i < runId.length; i++) {
    const unit = runId.charCodeAt(i)
    if (unit === 0) return "Nul"
    if (unit < 0x80) bytes += 1
    else if (unit < 0x800) bytes += 2
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = runId.charCodeAt(i + 1)
      if (!(next >= 0xdc00 && next <= 0xdfff)) return "MalformedUnicode"
      bytes += 4
      i++
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return "MalformedUnicode"
    else bytes += 3
  }
  return bytes > maxBytes ? "TooLong" : undefined
}

/** UTF-8 bytes, a lone surrogate counted as its replacement character's 3. */
const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8")
