/**
 * Replaying a run's journal with a definition while running nothing and writing nothing: every
 * step with a journaled output replays it, a step that failed for good replays its failure, and
 * each branch stops (a `replay` wait) where the journal ends. What the run reached is what it
 * reports: compensation learns from it what each completed step saw, and the testing kit's
 * replay check which journaled steps a changed definition still reaches.
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type { JournalEntry } from "../Journal.ts"
import type { JournalError } from "../WorkflowError.ts"
import type { Definition } from "./definition.ts"
import { runWorkflow } from "./interpreter.ts"
import type { Ctx } from "./node.ts"
import { type ChildRuns, makeRunState, type Observer, type Reached } from "./runState.ts"
import { suspendOn } from "./suspend.ts"
import { refusingWriter } from "./writer.ts"

export const replayJournal = (
  definition: Definition,
  run: { readonly runId: string; readonly input: unknown; readonly entries: ReadonlyArray<JournalEntry> },
  options: {
    /** Where compensable steps are recorded with their output and the context they saw. */
    readonly reached: Map<string, Reached>
    readonly observer: Observer | undefined
    /** Finished children are replayed from their journals; none is started. */
    readonly children: ChildRuns
  }
): Effect.Effect<Exit.Exit<Ctx, unknown>, JournalError, unknown> =>
  Effect.flatMap(
    makeRunState({
      runId: run.runId,
      entries: run.entries,
      writer: refusingWriter((entry) => suspendOn({ path: entry.path, kind: "replay", until: undefined })),
      observer: options.observer,
      children: options.children,
      mode: { _tag: "Rebuilding", reached: options.reached }
    }),
    (state) => Effect.exit(runWorkflow(definition.nodes, run.input, state))
  )
