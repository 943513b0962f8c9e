/**
 * The child runs a run started with `Workflow.child`, found by their parent (`list` with
 * `parentRunId`), each with the path of its node in the parent: what the CLI and the dashboard
 * show to link a parent to its children (a child links back through its `parentRunId`), and what
 * colours the parent's child nodes.
 */
import * as Effect from "effect/Effect"
import { Engine, WorkflowGraph } from "../index.ts"
import type { Journal, RunStatus, WorkflowError } from "../index.ts"

export interface ChildRun {
  readonly runId: string
  readonly workflow: string
  readonly status: RunStatus.RunStatus
  /** Where the parent started it: `invoice`, `lines[3]/restock`. */
  readonly path: string
  /** The graph path of that node: `lines[]/restock`. */
  readonly node: string
}

export interface Children {
  readonly runs: ReadonlyArray<ChildRun>
  /** More children exist than were read. */
  readonly more: boolean
}

/** At most this many children are read per page shown: enough to colour the graph, bounded. */
export const childrenRead = 500

export const childrenOf = (
  engine: Engine.Engine["Service"],
  parent: Journal.RunInfo
): Effect.Effect<Children, WorkflowError.JournalError> =>
  Effect.map(
    // No cursor is given and the limit is in range, so neither can be refused.
    Effect.catchTags(engine.list({ parentRunId: parent.runId, limit: childrenRead }), {
      InvalidCursor: Effect.die,
      InvalidOption: Effect.die
    }),
    (page) => ({
      more: page.next !== undefined,
      runs: page.runs.map((run) => {
        const path = pathIn(parent.runId, run.runId)
        return {
          runId: run.runId,
          workflow: run.workflow,
          status: run.status,
          path,
          node: WorkflowGraph.nodePath(path)
        }
      })
    })
  )

/** The child's path in its parent: what `Engine.childRunId` appended to the parent's id. */
const pathIn = (parentRunId: string, childRunId: string): string => {
  const path = childRunId.slice(parentRunId.length + 1)
  return Engine.childRunId(parentRunId, path) === childRunId ? path : childRunId
}
