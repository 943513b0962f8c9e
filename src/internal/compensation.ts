/**
 * Sagas: when a run fails for good or is cancelled, the compensations of its completed steps run
 * in reverse completion order. The order is the journal's: each compensable step's completion
 * took its place (its `compensable` entry's value) in the same batch as its output.
 *
 * Before anything is undone the run journals that it is compensating, and why, so an executor
 * that takes the run over later (after a crash, a shutdown) resumes the compensations instead
 * of driving the failed step again. What each compensation is given (the step's output and the
 * context it saw) is rebuilt by replaying the journal, running nothing new, so a resumed
 * compensation needs nothing the crashed executor held in memory.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { CompensationFailed, JournalError } from "../WorkflowError.ts"
import { isRunFault } from "./faults.ts"
import * as Formats from "./formats.ts"
import { compensationPath } from "./path.ts"
import { replayJournal } from "./replay.ts"
import { completionOrderOf, type Reached, type RunState } from "./runState.ts"
import { describeError, plainFailure, runCompensation } from "./step.ts"
import type { JournalEntry } from "../Journal.ts"
import type { Definition } from "./definition.ts"

/**
 * Why a run compensates, as journaled in its `compensating` entry: the failure or the
 * cancellation reason as text, and for a run that failed the failure as JSON, what a resumed
 * compensation fails with.
 */
export type Ending = Formats.Ending

export const hasCompensable = (entries: ReadonlyArray<JournalEntry>): boolean =>
  entries.some((entry) => entry.kind === "compensable")

/** The `compensating` entry of a run that failed with `error`, or was cancelled. */
export const endingOf = (exitOrReason: { readonly failure: unknown } | { readonly cancelled: string }): Ending =>
  "cancelled" in exitOrReason
    ? { reason: "cancelled", error: exitOrReason.cancelled }
    : { reason: "failed", error: describeError(exitOrReason.failure), failure: plainFailure(exitOrReason.failure) }

export const endingEntry = (ending: Ending): JournalEntry => ({
  path: "",
  kind: "compensating",
  seq: 0,
  value: Formats.ending.text(ending)
})

/** The ending a run journaled when it started compensating, if it did. */
export const storedEnding = (state: RunState): Exit.Exit<Ending | undefined, JournalError> => {
  const stored = state.stored("compensating", "")
  return stored === undefined ? Exit.succeed(undefined) : Formats.ending.decode(state.runId, "", stored.value)
}

/**
 * Runs the compensations of every compensable step the journal (`entries`, loaded after the
 * run stopped) holds, latest completion first, skipping those journaled as done. Stops at the
 * first that still fails after its retries, with `CompensationFailed`. Returns the paths undone.
 */
export const compensate = (
  definition: Definition,
  input: unknown,
  entries: ReadonlyArray<JournalEntry>,
  state: RunState,
  ending: Ending
) =>
  Effect.gen(function*() {
    const runId = state.runId
    const reached = yield* rebuild(definition, input, entries, state)
    const places: Array<{ readonly path: string; readonly place: number }> = []
    for (const entry of entries) {
      if (entry.kind === "compensable") places.push({ path: entry.path, place: yield* completionOrderOf(runId, entry) })
    }
    const order = places.sort((a, b) => b.place - a.place).map(({ path }) => path)
    const compensated: Array<string> = []
    for (let i = 0; i < order.length; i++) {
      const path = order[i]!
      const step = reached.get(path)
      if (step === undefined) {
        return yield* new JournalError({
          reason: "Corrupt",
          runId: state.runId,
          path,
          detail: "the journal records this step as completed, but replaying the run does not reach it"
        })
      }
      const exit = yield* Effect.exit(runCompensation(path, step, state))
      if (Exit.isSuccess(exit)) {
        compensated.push(path)
        continue
      }
      const error = Cause.findErrorOption(exit.cause)
      if (Cause.hasInterruptsOnly(exit.cause) || (error._tag === "Some" && isRunFault(error.value))) return yield* exit
      const failure = error._tag === "Some" ? error.value : Cause.squash(exit.cause)
      return yield* new CompensationFailed({
        runId: state.runId,
        path: compensationPath(path),
        error: describeError(failure),
        failure,
        compensated,
        notCompensated: order.slice(i),
        reason: ending.reason === "cancelled" ? `it was cancelled (${ending.error})` : `it failed (${ending.error})`
      })
    }
    return compensated
  })

/**
 * Replays the run's journal to learn, for every compensable step it completed, its output and
 * the context it saw. Nothing runs and nothing is written; each branch goes as far as the journal
 * takes it. A branch that dies (a defect in `items` or `select`) is only a problem if it hid a
 * step that must be compensated, which `compensate` reports.
 */
const rebuild = (definition: Definition, input: unknown, entries: ReadonlyArray<JournalEntry>, live: RunState) => {
  const reached = new Map<string, Reached>()
  return Effect.as(
    replayJournal(definition, { runId: live.runId, input, entries }, {
      reached,
      observer: undefined,
      children: live.children
    }),
    reached
  )
}
