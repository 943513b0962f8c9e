/**
 * Starting or resuming a run: decode the input before writing anything, load the journal in
 * one read, check the definition has not changed, interpret, record the outcome.
 *
 * The run's status is written only when it changes: a resumed run is marked `running` just
 * before its first write, and its outcome is recorded unless the journal already holds it. So
 * replaying a completed run, or finding a suspended one still waiting, is the one read alone.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { Journal, type RunStatus } from "../Journal.ts"
import { InvalidInput } from "../WorkflowError.ts"
import { jsonCodec } from "./codec.ts"
import type { Definition } from "./definition.ts"
import { runWorkflow } from "./interpreter.ts"
import { memoizeByIdentity } from "./memo.ts"
import { outline } from "./outline.ts"
import { makeRunState, type Observer } from "./runState.ts"
import { checkStoredRun } from "./storedRun.ts"
import { isSuspend } from "./suspend.ts"
import { makeWriter } from "./writer.ts"

export interface RunOptions {
  readonly input: unknown
  readonly runId?: string | undefined
  readonly allowDefinitionChange?: boolean | undefined
  readonly observe?: Observer | undefined
  readonly batching?: boolean | undefined
}

export type RawOutcome =
  | { readonly _tag: "Completed"; readonly runId: string; readonly context: Record<string, unknown> }
  | { readonly _tag: "Suspended"; readonly runId: string; readonly waitingFor: string }

const fingerprintOf = memoizeByIdentity((definition: Definition) => JSON.stringify(outline(definition.nodes)))
const inputCodecOf = memoizeByIdentity((definition: Definition) => ({
  json: jsonCodec(definition.input),
  decode: Schema.decodeUnknownExit(definition.input)
}))

export const runDefinition = (definition: Definition, options: RunOptions) =>
  Effect.gen(function*() {
    const runId = options.runId ?? crypto.randomUUID()
    const codecs = inputCodecOf(definition)
    const decoded = codecs.decode(options.input)
    if (Exit.isFailure(decoded)) {
      return yield* new InvalidInput({ runId, workflow: definition.name, issue: issueText(decoded.cause) })
    }
    const encodedInput = codecs.json.encode(decoded.value)
    if (Exit.isFailure(encodedInput)) {
      return yield* new InvalidInput({ runId, workflow: definition.name, issue: issueText(encodedInput.cause) })
    }
    const fingerprint = fingerprintOf(definition)
    const journal = yield* Journal
    const loaded = yield* journal.start({
      runId,
      workflow: definition.name,
      fingerprint,
      input: encodedInput.value,
      status: "running"
    })
    yield* checkStoredRun(loaded, {
      runId,
      workflow: definition.name,
      input: encodedInput.value,
      inputCodec: codecs.json,
      fingerprint,
      allowDefinitionChange: options.allowDefinitionChange === true
    })

    // The status the journal holds. Concurrent first writes (with batching off) may both mark
    // the run running: the same value twice.
    let status = loaded.run.status
    const setStatus = (next: RunStatus) =>
      status === next ? Effect.void : Effect.map(journal.setStatus(runId, next), () => void (status = next))
    const writesAfterRunning: typeof journal = {
      ...journal,
      append: (id, entries) => Effect.andThen(setStatus("running"), journal.append(id, entries))
    }

    const state = makeRunState({
      runId,
      entries: loaded.entries,
      writer: makeWriter(status === "running" ? journal : writesAfterRunning, runId, options.batching ?? true),
      observer: options.observe
    })
    const exit = yield* Effect.exit(runWorkflow(definition.nodes, decoded.value, state))
    if (Exit.isSuccess(exit)) {
      yield* setStatus("completed")
      const outcome: RawOutcome = { _tag: "Completed", runId, context: exit.value }
      return outcome
    }
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "Some" && isSuspend(error.value)) {
      yield* setStatus("suspended")
      const outcome: RawOutcome = { _tag: "Suspended", runId, waitingFor: error.value.path }
      return outcome
    }
    // An interrupted run keeps its status: "running" if it wrote anything (it was stopped, not
    // failed, and resumes as it is), else what it was before this attempt.
    if (!Cause.hasInterruptsOnly(exit.cause)) {
      yield* Effect.ignore(setStatus("failed"))
    }
    return yield* exit
  })

const issueText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return typeof error === "string" ? error : error instanceof Error ? error.message : String(error)
}
