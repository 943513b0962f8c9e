/**
 * What a run is stored with besides its id: its workflow's structural fingerprint and its input,
 * encoded through the input schema. Shared by every path that creates runs (`Workflow.run`, the
 * engine, schedules, parents starting children).
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { InvalidInput, JournalError } from "../WorkflowError.ts"
import { jsonCodec } from "./codec.ts"
import { duplicateEffectIn } from "./effectCopy.ts"
import { memoizeByIdentity } from "./memo.ts"
import { outline } from "./outline.ts"
import type { RunInfo } from "../Journal.ts"
import type { Definition } from "./definition.ts"

export const fingerprintOf = memoizeByIdentity((definition: Definition) => JSON.stringify(outline(definition.nodes)))

export const inputCodecOf = memoizeByIdentity((definition: Definition) => {
  const decode = Schema.decodeUnknownExit(definition.input)
  return {
    json: jsonCodec(definition.input),
    // Every issue, not only the first: the caller fixes the input in one go.
    decode: (input: unknown) => decode(input, { errors: "all" })
  }
})

/**
 * Decodes a caller's input and encodes it for the journal, or says why it is invalid. First
 * makes sure the workflow's schemas come from plait's copy of `effect`: from another copy they
 * would reject valid input.
 */
export const prepareInput = (definition: Definition, runId: string, input: unknown) => {
  const duplicate = duplicateEffectIn(definition, runId)
  if (duplicate !== undefined) return Exit.fail(duplicate)
  const codecs = inputCodecOf(definition)
  const decoded = codecs.decode(input)
  if (Exit.isFailure(decoded)) {
    return Exit.fail(new InvalidInput({ runId, workflow: definition.name, issue: issueText(decoded.cause) }))
  }
  const encoded = codecs.json.encode(decoded.value)
  return Exit.isFailure(encoded)
    ? Exit.fail(new InvalidInput({ runId, workflow: definition.name, issue: issueText(encoded.cause) }))
    : Exit.succeed({ decoded: decoded.value, encoded: encoded.value })
}

/** Decodes the input a run was stored with. */
export const storedInput = (definition: Definition, run: RunInfo) =>
  Exit.mapError(
    inputCodecOf(definition).json.decode(run.input),
    (issue) =>
      new JournalError({ reason: "Corrupt", runId: run.runId, detail: `the stored input does not decode: ${issue}` })
  )

const issueText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return typeof error === "string" ? error : error instanceof Error ? error.message : String(error)
}
