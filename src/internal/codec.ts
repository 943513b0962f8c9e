/**
 * Values cross into the journal as JSON text produced by the value's schema, and come back
 * through the same schema. A step output that its schema cannot encode is never journaled,
 * and a stored value that no longer decodes is reported, never silently re-run.
 */
import type { AnyCodec } from "./node.ts"
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"

export interface JsonCodec {
  readonly encode: (value: unknown) => Exit.Exit<string, string>
  readonly decode: (text: string) => Exit.Exit<unknown, string>
}

const issueOf = (error: unknown): string => (Schema.isSchemaError(error) ? error.message : String(error))

export const jsonCodec = (schema: AnyCodec): JsonCodec => {
  const json = Schema.toCodecJson(schema)
  const encode = Schema.encodeUnknownExit(json)
  const decode = Schema.decodeUnknownExit(json)
  return {
    encode: (value) => {
      const exit = encode(value)
      if (Exit.isFailure(exit)) return Exit.fail(issueOf(Cause.squash(exit.cause)))
      // `undefined` (a void step) is stored as JSON null and decoded back through the schema.
      return Exit.succeed(JSON.stringify(exit.value) ?? "null")
    },
    decode: (text) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch (error) {
        return Exit.fail(`stored value is not JSON: ${String(error)}`)
      }
      const exit = decode(parsed)
      // A success is passed on as it is: a replay decodes every step, one Exit each is enough.
      return Exit.isFailure(exit) ? Exit.fail(issueOf(Cause.squash(exit.cause))) : exit as Exit.Exit<unknown, never>
    }
  }
}
