/**
 * The run row `acquire` returned, checked before anything runs: it belongs to this workflow, and
 * its status, input and fingerprint read back strictly. A row that cannot be read is `Corrupt`,
 * never taken for something else: a corrupt input is not "a different input", a corrupt
 * fingerprint is not a definition change. (Entries are checked as the run state indexes them,
 * and each value where it is decoded, through its own schema.)
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as RunStatus from "../RunStatus.ts"
import { DefinitionChanged, InvalidInput, JournalError, RunConflict } from "../WorkflowError.ts"
import { type JsonCodec, jsonCodec } from "./codec.ts"
import { firstDifference, isOutlineLine } from "./outline.ts"
import type { RunInfo } from "../Journal.ts"

export interface Expected {
  readonly workflow: string
  /** The input as this call encoded it. */
  readonly input: string
  readonly inputCodec: JsonCodec
  readonly fingerprint: string
  readonly allowDefinitionChange: boolean
}

type Refusal = JournalError | RunConflict | InvalidInput | DefinitionChanged

export const checkStoredRun = (stored: RunInfo, expected: Expected): Exit.Exit<void, Refusal> => {
  const runId = stored.runId
  if (stored.workflow !== expected.workflow) {
    return Exit.fail(new RunConflict({ runId, stored: stored.workflow, requested: expected.workflow }))
  }
  if (!RunStatus.is(stored.status)) return corrupt(runId, `unknown run status ${JSON.stringify(stored.status)}`)
  // Equal text is valid text: only a stored value that differs is decoded.
  if (stored.input !== expected.input) {
    const decoded = expected.inputCodec.decode(stored.input)
    if (Exit.isFailure(decoded)) {
      const issue = Cause.squash(decoded.cause) as string
      return corrupt(runId, `the stored input does not decode with the workflow's input schema: ${issue}`)
    }
    return Exit.fail(
      new InvalidInput({
        runId,
        workflow: expected.workflow,
        issue: `the run was started with a different input (${stored.input}); a resume must pass the same input`
      })
    )
  }
  if (stored.fingerprint !== expected.fingerprint) {
    const outline = outlineCodec.decode(stored.fingerprint)
    if (Exit.isFailure(outline) || !(outline.value as ReadonlyArray<string>).every(isOutlineLine)) {
      return corrupt(runId, "the stored fingerprint is not a workflow outline")
    }
    if (!expected.allowDefinitionChange) {
      const difference = firstDifference(outline.value as ReadonlyArray<string>, JSON.parse(expected.fingerprint))
      if (difference !== undefined) return Exit.fail(new DefinitionChanged({ runId, ...difference }))
    }
  }
  return Exit.void
}

const outlineCodec = jsonCodec(Schema.Array(Schema.String))

const corrupt = (runId: string, detail: string) => Exit.fail(new JournalError({ reason: "Corrupt", runId, detail }))
