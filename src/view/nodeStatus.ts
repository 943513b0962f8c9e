/**
 * What a run did at each node of its workflow's graph, from its journal: completed, failed,
 * retried, waiting, skipped (a branch case or race branch that was not chosen), or running (a
 * block with some of its work done). A node with no status has not been reached, or its work is
 * in flight: the journal records work when it finishes.
 */
import type { Engine, Journal } from "../index.ts"
import { RunStatus, WorkflowGraph } from "../index.ts"

export type NodeStatus = "completed" | "failed" | "retried" | "waiting" | "running" | "skipped"

export interface NodeProgress {
  readonly status: NodeStatus | undefined
  /** For a forEach: how many items completed and failed. */
  readonly items?: { readonly completed: number; readonly failed: number } | undefined
}

export const nodeStatuses = (
  graph: WorkflowGraph.Graph,
  detail: Engine.RunDetail,
  now: number
): ReadonlyMap<string, NodeProgress> => {
  const byNode = new Map<string, Array<Engine.EntryDetail>>()
  for (const entry of detail.entries) {
    const key = WorkflowGraph.nodePath(entry.path)
    const list = byNode.get(key)
    if (list === undefined) byNode.set(key, [entry])
    else list.push(entry)
  }
  const waiting = new Set(
    RunStatus.isDone(detail.run.status) ? [] : (detail.run.waitingFor ?? "").split(", ").map(WorkflowGraph.nodePath)
  )
  const out = new Map<string, NodeProgress>()

  const leaf = (node: WorkflowGraph.Node): NodeStatus | undefined => {
    const entries = byNode.get(node.path) ?? []
    const has = (kind: Journal.EntryKind) => entries.some((entry) => entry.kind === kind)
    if (node.kind === "step") {
      if (has("step")) return "completed"
      const attempts = entries.filter((entry) => entry.kind === "attempt")
      if (attempts.length === 0) return undefined
      return attempts.some((entry) => /"exhausted":true/.test(entry.value)) ? "failed" : "retried"
    }
    if (node.kind === "signal" && has("signal")) return "completed"
    if (waiting.has(node.path)) return "waiting"
    const wake = entries.find((entry) => entry.kind === "wake")
    if (wake === undefined) return undefined
    if (Number(wake.value) <= now || detail.run.status === "completed") {
      return node.kind === "signal"
        ? "failed"
        : "completed"
    }
    return RunStatus.isDone(detail.run.status) ? undefined : "waiting"
  }

  /** A block's status from its children's: failed wins, then anything live, then all completed. */
  const combine = (children: ReadonlyArray<NodeStatus | undefined>, wantAll: boolean): NodeStatus | undefined => {
    if (children.includes("failed")) return "failed"
    const reached = children.filter((status) => status !== undefined && status !== "skipped")
    if (reached.length === 0) return undefined
    if (children.includes("waiting")) return "waiting"
    const done = reached.every((status) => status === "completed")
    if (done && (!wantAll || reached.length === children.filter((status) => status !== "skipped").length)) {
      return "completed"
    }
    return "running"
  }

  const visit = (node: WorkflowGraph.Node): NodeStatus | undefined => {
    let status: NodeStatus | undefined
    if (node.kind === "forEach") {
      for (const branch of node.branches) branch.nodes.forEach(visit)
      const items = itemCounts(node, node.branches[0], detail.entries)
      status = items.failed > 0 ? "failed" : items.completed > 0 ? "running" : undefined
      if (status === "running" && blockDone(node, detail)) status = "completed"
      out.set(node.path, { status, items })
      return status
    } else if (node.branches.length === 0 && node.kind !== "chord") {
      status = leaf(node)
    } else {
      const chosen = choiceOf(byNode.get(node.path) ?? [])
      const perBranch = node.branches.map((branch) => {
        const statuses = branch.nodes.map(visit)
        if (chosen !== undefined && branch.key !== chosen) {
          for (const child of WorkflowGraph.flatten({ workflow: "", nodes: branch.nodes })) {
            if (out.get(child.path)?.status === undefined) out.set(child.path, { status: "skipped" })
          }
          return "skipped" as const
        }
        return combine(statuses, true)
      })
      status = node.kind === "race" && chosen !== undefined ? "completed" : combine(perBranch, node.kind !== "race")
      if (node.kind === "chord") status = chordStatus(status, byNode.get(node.path) ?? [])
    }
    out.set(node.path, { status })
    return status
  }
  graph.nodes.forEach(visit)
  return out
}

const choiceOf = (entries: ReadonlyArray<Journal.JournalEntry>): string | undefined => {
  const choice = entries.find((entry) => entry.kind === "choice")
  if (choice === undefined) return undefined
  try {
    const key: unknown = JSON.parse(choice.value)
    return typeof key === "string" ? key : undefined
  } catch {
    return undefined
  }
}

/** A chord is done when its callback (journaled at the chord's path) is. */
const chordStatus = (
  branches: NodeStatus | undefined,
  own: ReadonlyArray<Journal.JournalEntry>
): NodeStatus | undefined =>
  own.some((entry) => entry.kind === "step") ? "completed" : branches === "completed" ? "running" : branches

/** Items whose entries under `name[key]` include a failed exhausted attempt, or completed steps. */
const itemCounts = (
  node: WorkflowGraph.Node,
  body: WorkflowGraph.Branch | undefined,
  entries: ReadonlyArray<Engine.EntryDetail>
) => {
  // A body the graph does not know (a stored outline omits a function body) is one step per item.
  const stepsPerItem = body === undefined
    ? 1
    : WorkflowGraph.flatten({ workflow: "", nodes: body.nodes }).filter((child) => child.kind === "step").length
  const done = new Map<string, number>()
  const failed = new Set<string>()
  for (const entry of entries) {
    if (!entry.path.startsWith(`${node.path}[`)) continue
    const item = itemKeyOf(node.path, entry.path)
    if (item === undefined) continue
    if (entry.kind === "step") done.set(item, (done.get(item) ?? 0) + 1)
    if (entry.kind === "attempt" && /"exhausted":true/.test(entry.value)) failed.add(item)
  }
  let completed = 0
  for (const [item, steps] of done) if (!failed.has(item) && steps >= Math.max(1, stepsPerItem)) completed++
  return { completed, failed: failed.size }
}

/** `name[key]` of an entry path under the forEach at `path`, matching brackets (keys are data). */
const itemKeyOf = (path: string, entryPath: string): string | undefined => {
  let depth = 0
  for (let i = path.length; i < entryPath.length; i++) {
    if (entryPath[i] === "[") depth++
    else if (entryPath[i] === "]" && --depth === 0) return entryPath.slice(0, i + 1)
  }
  return undefined
}

/** A forEach is over once the run went past it: the run completed, or anything after it ran. */
const blockDone = (node: WorkflowGraph.Node, detail: Engine.RunDetail): boolean =>
  detail.run.status === "completed" ||
  detail.entries.some((entry) =>
    entry.kind === "step" && !entry.path.startsWith(node.path) && (entry.startedAt ?? 0) > lastItemTime(node, detail)
  )

const lastItemTime = (node: WorkflowGraph.Node, detail: Engine.RunDetail): number =>
  Math.max(
    0,
    ...detail.entries.filter((entry) => entry.path.startsWith(`${node.path}[`)).map((entry) => entry.finishedAt ?? 0)
  )
