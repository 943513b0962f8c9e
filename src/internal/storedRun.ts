/**
 * What `start` returned for a run, checked before anything runs: it belongs to this workflow,
 * its status, input and fingerprint read back strictly, and every entry has a kind this version
 * knows and the sequence number its kind allows. A row that cannot be read is `Corrupt`, never
 * taken for something else (a corrupt input is not "a different input", a corrupt fingerprint
 * is not a defect). Entry values are decoded where they are used, each through its own schema.
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { JournalError, type LoadedRun } from "../Journal.ts"
import { DefinitionChanged, InvalidInput, RunConflict } from "../WorkflowError.ts"
import { type JsonCodec, jsonCodec } from "./codec.ts"
import { firstDifference, isOutlineLine } from "./outline.ts"
import { isEntryKind, isRunStatus } from "./rows.ts"

export interface Expected {
  readonly runId: string
  readonly workflow: string
  /** The input as this call encoded it. */
  readonly input: string
  readonly inputCodec: JsonCodec
  readonly fingerprint: string
  readonly allowDefinitionChange: boolean
}

type Refusal = JournalError | RunConflict | InvalidInput | DefinitionChanged

export const checkStoredRun = (loaded: LoadedRun, expected: Expected): Exit.Exit<void, Refusal> => {
  const { runId } = expected
  const stored = loaded.run
  if (stored.workflow !== expected.workflow) {
    return Exit.fail(new RunConflict({ runId, stored: stored.workflow, requested: expected.workflow }))
  }
  if (!isRunStatus(stored.status)) return corrupt(runId, undefined, `unknown run status ${JSON.stringify(stored.status)}`)
  for (const entry of loaded.entries) {
    const issue = entryIssue(entry.kind, entry.seq)
    if (issue !== undefined) return corrupt(runId, entry.path, issue)
  }
  // Equal text is valid text: only a stored value that differs is decoded.
  if (stored.input !== expected.input) {
    const decoded = expected.inputCodec.decode(stored.input)
    if (Exit.isFailure(decoded)) {
      const issue = Cause.squash(decoded.cause) as string
      return corrupt(runId, undefined, `the stored input does not decode with the workflow's input schema: ${issue}`)
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
      return corrupt(runId, undefined, "the stored fingerprint is not a workflow outline")
    }
    if (!expected.allowDefinitionChange) {
      const difference = firstDifference(outline.value as ReadonlyArray<string>, JSON.parse(expected.fingerprint))
      if (difference !== undefined) return Exit.fail(new DefinitionChanged({ runId, ...difference }))
    }
  }
  return Exit.void
}

const outlineCodec = jsonCodec(Schema.Array(Schema.String))

/** Attempts count from 1; every other kind has one entry per path, at 0. */
const entryIssue = (kind: unknown, seq: number): string | undefined => {
  if (!isEntryKind(kind)) return `unknown entry kind ${JSON.stringify(kind)}`
  if (kind === "attempt") return Number.isSafeInteger(seq) && seq >= 1 ? undefined : `an attempt numbered ${seq}`
  return seq === 0 ? undefined : `a ${kind} entry numbered ${seq}, not 0`
}

const corrupt = (runId: string, path: string | undefined, detail: string) =>
  Exit.fail(new JournalError({ reason: "Corrupt", runId, path, detail }))
