/**
 * Checking a journal's options when it is built, so a bad one fails there with a typed
 * `InvalidOption` instead of surfacing later as a defect, a SQL error or a silent misbehaviour.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidOption } from "../WorkflowError.ts"
import { defaultMaxPayloadBytes } from "./entry.ts"

/** Both stores refuse a text value past about 1 GB (Postgres `text`, SQLite's `SQLITE_MAX_LENGTH`). */
const storeMaxValueBytes = 1_000_000_000

export const defaultTablePrefix = "plait_"

/** A table prefix is spliced into SQL as part of an identifier: only a plain one is safe. */
export const tablePrefix = (prefix: string | undefined): Effect.Effect<string, InvalidOption> => {
  const value = prefix ?? defaultTablePrefix
  return /^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(value)
    ? Effect.succeed(value)
    : Effect.fail(
      new InvalidOption({
        option: "tablePrefix",
        issue: `must be letters, digits and _, not starting with a digit, at most 40 characters; got ${
          JSON.stringify(value)
        }`
      })
    )
}

/** A whole number in `[min, max]`, or the default when absent. */
export const wholeNumber = (
  option: string,
  value: number | undefined,
  bounds: { readonly min: number; readonly max: number; readonly default: number }
): Effect.Effect<number, InvalidOption> => {
  if (value === undefined) return Effect.succeed(bounds.default)
  return Number.isSafeInteger(value) && value >= bounds.min && value <= bounds.max
    ? Effect.succeed(value)
    : Effect.fail(
      new InvalidOption({ option, issue: `must be a whole number from ${bounds.min} to ${bounds.max}; got ${value}` })
    )
}

export const maxPayloadBytes = (value: number | undefined): Effect.Effect<number, InvalidOption> =>
  wholeNumber("maxPayloadBytes", value, { min: 1, max: storeMaxValueBytes, default: defaultMaxPayloadBytes })

/** A finite duration, at least zero (or above zero when `positive`), or `undefined` when absent. */
export const duration = (
  option: string,
  value: Duration.Input | undefined,
  bounds: { readonly positive: boolean }
): Effect.Effect<Duration.Duration | undefined, InvalidOption> => {
  if (value === undefined) return Effect.succeed(undefined)
  const parsed = Duration.fromInput(value)
  const valid = Option.isSome(parsed) && Duration.isFinite(parsed.value) && !Duration.isNegative(parsed.value) &&
    !(bounds.positive && Duration.isZero(parsed.value))
  return valid
    ? Effect.succeed(parsed.value)
    : Effect.fail(
      new InvalidOption({
        option,
        issue: `must be a finite duration ${bounds.positive ? "above" : "of at least"} zero; got ${
          JSON.stringify(String(value))
        }`
      })
    )
}

/** A SQL journal's operation timeout unless configured. */
const defaultOperationTimeout = Duration.seconds(30)

/** A SQL journal's own options, checked, with their defaults. */
export const sqlOptions = (
  options: {
    readonly tablePrefix?: string | undefined
    readonly maxPayloadBytes?: number | undefined
    readonly operationTimeout?: Duration.Input | undefined
  } | undefined
) =>
  Effect.all({
    tablePrefix: tablePrefix(options?.tablePrefix),
    maxPayloadBytes: maxPayloadBytes(options?.maxPayloadBytes),
    operationTimeout: Effect.map(
      duration("operationTimeout", options?.operationTimeout, { positive: true }),
      (timeout) => timeout ?? defaultOperationTimeout
    )
  })
