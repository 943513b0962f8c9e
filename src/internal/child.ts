/**
 * Child workflows. A `child` node starts a run of another workflow, with an id derived from the
 * parent's id and the node's path, so the parent creates it exactly once however often the
 * parent itself runs (the store's create is idempotent and fenced by the parent's lease). Its
 * output is the child's final context, rebuilt from the child's journal.
 *
 * Under a worker the parent does not wait in process: it suspends (a `child` wait), freeing its
 * worker slot, and the child's release as finished wakes it in the same statement. Under
 * `Workflow.run` the parent executes the child in its own fiber, as a run of its own.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RunStatus from "../RunStatus.ts"
import { InvalidInput, RunCancelled, RunConflict } from "../WorkflowError.ts"
import * as Formats from "./formats.ts"
import { fingerprintOf, prepareInput } from "./identity.ts"
import { childRunId } from "./path.ts"
import { suspendOn } from "./suspend.ts"
import type { JournalEntry, LoadedRun } from "../Journal.ts"
import type { ChildNode, Ctx } from "./node.ts"
import type { RunState } from "./runState.ts"

/** Runs the child node: its delta is `{ [name]: child's final context }`. */
export const runChild = (node: ChildNode, ctx: Ctx, path: string, state: RunState) =>
  Effect.gen(function*() {
    const runId = childRunId(state.runId, path)
    const children = state.children
    const delta = (context: Ctx): Ctx => ({ [node.name]: context })
    const mode = state.mode
    // A replay starts nothing: the child ended, or the journal ends here.
    if (mode._tag !== "Executing") {
      const loaded = yield* children.load(runId)
      if (Option.isSome(loaded) && RunStatus.isDone(loaded.value.run.status)) {
        return delta(yield* ended(node, loaded.value, state))
      }
      if (mode._tag === "Rebuilding") return yield* Effect.fail(suspendOn({ path, kind: "replay", until: undefined }))
      return yield* Formats.corrupt(state.runId, path, `the run is finished but its child ${runId} is not`)
    }
    const definition = node.workflow
    const input = node.input(ctx)
    const encoded = yield* prepareInput(definition, runId, input)
    const { run } = yield* mode.journal.startChild(mode.lease, {
      runId,
      workflow: definition.name,
      fingerprint: fingerprintOf(definition),
      input: encoded.encoded
    })
    if (run.workflow !== definition.name) {
      return yield* new RunConflict({ runId, stored: run.workflow, requested: definition.name })
    }
    // The input is derived from the parent's context, which replays identically: another one
    // means the parent's definition changed under it.
    if (run.input !== encoded.encoded) {
      return yield* new InvalidInput({
        runId,
        workflow: definition.name,
        issue: `the child was started with a different input (${run.input}) than the parent gives it now`
      })
    }
    const execute = mode.driver._tag === "Caller" ? mode.driver.executeChild : undefined
    // A failed child is driven again by a parent that runs it in process, as `Workflow.run`
    // drives a failed run again; under a worker, resuming the parent re-queues it.
    if (
      run.status === "completed" || run.status === "cancelled" || (run.status === "failed" && execute === undefined)
    ) {
      const loaded = yield* children.load(runId)
      if (Option.isSome(loaded)) return delta(yield* ended(node, loaded.value, state))
    }
    if (execute === undefined) return yield* Effect.fail(suspendOn({ path, kind: "child", until: undefined }))
    const outcome = yield* execute(definition, runId, input)
    return outcome._tag === "Completed"
      ? delta(outcome.context)
      : yield* Effect.fail(suspendOn({ path, kind: "child", until: undefined }))
  })

/** What a finished child gives its parent: its final context, or its failure. */
const ended = (node: ChildNode, loaded: LoadedRun, state: RunState) => {
  const run = loaded.run
  switch (run.status) {
    case "completed":
      return state.children.replay(node.workflow, loaded)
    case "cancelled":
      return Effect.fail(new RunCancelled({ runId: run.runId, reason: run.error ?? "cancelled" }))
    default: {
      const failure = lastFailure(loaded.entries)
      if (failure === undefined) {
        return Effect.die(new Error(`plait: child run ${run.runId} failed: ${run.error ?? "unknown error"}`))
      }
      return Effect.flatMap(
        Formats.runFailure.decode(run.runId, failure.path, failure.value),
        (ending) => Effect.fail(ending.failure)
      )
    }
  }
}

/**
 * The `failed` entry of the child's latest execution, as its executor journaled it: the error's
 * JSON (through the failing step's error schema when it had one), so the parent can match on its
 * `_tag` and fields.
 */
const lastFailure = (entries: ReadonlyArray<JournalEntry>): JournalEntry | undefined => {
  let latest: JournalEntry | undefined
  for (const entry of entries) {
    if (entry.kind === "failed" && (latest === undefined || entry.seq > latest.seq)) latest = entry
  }
  return latest
}
