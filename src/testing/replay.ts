/**
 * Replaying an exported run with a (possibly changed) definition, as a deploy would meet it:
 * the stored outline must agree with the definition's (else `DefinitionChanged`, at the first
 * path that differs), every journaled value must decode with the definition's schemas (else
 * `JournalError` `Corrupt`, naming the path), and the definition must reach every step the
 * journal completed, running nothing and writing nothing (else `ReplayDiverged`, at the first
 * journaled step it does not reach). A run that completed must complete again.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { Journal, makeMemory, type RunInfo } from "../Journal.ts"
import { RunStore } from "../RunStore.ts"
import type { StepEvent, Workflow } from "../Workflow.ts"
import type { DefinitionChanged, JournalError, RunConflict } from "../WorkflowError.ts"
import { checkStoredRun } from "../internal/acquireCheck.ts"
import type { Definition } from "../internal/definition.ts"
import { replayFinished } from "../internal/executor.ts"
import { fingerprintOf, inputCodecOf, storedInput } from "../internal/identity.ts"
import { replayJournal } from "../internal/replay.ts"
import { isSuspend } from "../internal/suspend.ts"
import { ReplayDiverged } from "./errors.ts"
import { importRun } from "./exported.ts"

/** Where a replay ended. */
export type Reached =
  | { readonly _tag: "Completed"; readonly context: unknown }
  | { readonly _tag: "Waiting"; readonly paths: ReadonlyArray<string> }
  | { readonly _tag: "Failed"; readonly error: unknown }

export interface Replay {
  readonly runId: string
  readonly status: RunInfo["status"]
  /** The journaled step outputs (and failures) the definition replayed, in replay order. */
  readonly replayed: ReadonlyArray<string>
  readonly reached: Reached
}

export const replay = (
  workflow: Workflow<any, any, any, any, any>,
  exported: unknown
): Effect.Effect<Replay, DefinitionChanged | JournalError | RunConflict | ReplayDiverged> =>
  Effect.gen(function*() {
    const definition = workflow as unknown as Definition
    const memory = makeMemory()
    const services = Context.make(Journal, memory.journal).pipe(Context.add(RunStore, memory.store))
    const { entries, run } = yield* Effect.provideContext(importRun(exported), services)
    // The stored input is the one compared with: never an `InvalidInput`.
    yield* checkStoredRun(run, {
      workflow: definition.name,
      input: run.input,
      inputCodec: inputCodecOf(definition).json,
      fingerprint: fingerprintOf(definition),
      allowDefinitionChange: false
    }) as Exit.Exit<void, DefinitionChanged | RunConflict | JournalError>
    const input = yield* storedInput(definition, run)
    const replayed: Array<string> = []
    const observer = (event: StepEvent) =>
      Effect.sync(() => {
        if (event._tag === "Replayed" && event.runId === run.runId) replayed.push(event.path)
      })
    const exit = yield* replayJournal(definition, { runId: run.runId, input, entries }, {
      reached: new Map(),
      observer,
      children: {
        load: memory.journal.load,
        replay: (child, loaded) =>
          Effect.map(
            replayFinished(child, loaded.run, loaded.entries).pipe(Effect.provideContext(services)),
            (outcome) => (outcome as { readonly context: Record<string, unknown> }).context
          )
      }
    })
    const reached = yield* reachedBy(run.runId, exit)
    // Each journaled step in the order it was written: the first one missed is where the
    // definition parts from the run.
    const done = new Set(replayed)
    const missed = entries.find((entry) => entry.kind === "step" && !done.has(entry.path))
    if (missed !== undefined) {
      return yield* new ReplayDiverged({
        runId: run.runId,
        path: missed.path,
        detail: `the journal holds this step's output, but the definition ${
          reached._tag === "Waiting" ? `stops at ${reached.paths.join(", ")} before reaching it` : "does not reach it"
        } (a forEach's items, a key function, a branch's choice or a child changed?)`
      })
    }
    if (run.status === "completed" && reached._tag !== "Completed") {
      return yield* new ReplayDiverged({
        runId: run.runId,
        path: reached._tag === "Waiting" ? reached.paths[0] ?? "" : "",
        detail: `the run completed, but the definition's replay ${
          reached._tag === "Waiting" ? `stops at ${reached.paths.join(", ")}` : "fails"
        }`
      })
    }
    const result: Replay = { runId: run.runId, status: run.status, replayed, reached }
    return result
    // No step runs in a replay, so none of the workflow's services is needed.
  }).pipe(Effect.withSpan("plait.testing.replay")) as Effect.Effect<
    Replay,
    DefinitionChanged | JournalError | RunConflict | ReplayDiverged
  >

/** Where the replay stopped; a corrupt value or a defect is the replay's failure, not a place. */
const reachedBy = (runId: string, exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) return Effect.succeed<Reached>({ _tag: "Completed", context: exit.value })
  const error = Cause.findErrorOption(exit.cause)
  if (Option.isSome(error)) {
    if (isSuspend(error.value)) {
      return Effect.succeed<Reached>({ _tag: "Waiting", paths: error.value.waits.map((wait) => wait.path) })
    }
    if (isJournalError(error.value)) return Effect.fail(error.value)
    return Effect.succeed<Reached>({ _tag: "Failed", error: error.value })
  }
  return Effect.fail(
    new ReplayDiverged({ runId, path: "", detail: `replaying it died: ${Cause.pretty(exit.cause)}` })
  )
}

const isJournalError = (u: unknown): u is JournalError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "JournalError"
