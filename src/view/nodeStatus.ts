/**
 * What a run did at each node of its workflow's graph, from its journal: completed, failed,
 * retried, waiting, skipped (a branch case or race branch that was not chosen), running (a block
 * with some of its work done), or stopped (the run ended while the node was under way). A node
 * with no status has not been reached, or its work is in flight: the journal records work when it
 * finishes. A child node takes its status from its child runs; a compensable step says whether
 * its compensation ran.
 */
import type { Engine, Journal } from "../index.ts"
import { RunStatus, WorkflowGraph } from "../index.ts"
import type { ChildRun } from "./children.ts"

export type NodeStatus = "completed" | "failed" | "retried" | "waiting" | "running" | "skipped" | "stopped"

export interface NodeProgress {
  readonly status: NodeStatus | undefined
  /** For a forEach: how many items completed and failed. */
  readonly items?: { readonly completed: number; readonly failed: number } | undefined
  /** For a step: it has a compensation (the definition says so, or the journal shows it). */
  readonly compensable?: boolean | undefined
  /** For a compensable step: its compensation ran (`compensated`), or an attempt of it failed. */
  readonly compensation?: "compensated" | "failed" | undefined
}

export const nodeStatuses = (
  graph: WorkflowGraph.Graph,
  detail: Engine.RunDetail,
  now: number,
  children: ReadonlyArray<ChildRun> = []
): ReadonlyMap<string, NodeProgress> => {
  const byNode = new Map<string, Array<Engine.EntryDetail>>()
  const compensations = new Map<string, Array<Engine.EntryDetail>>()
  for (const entry of detail.entries) {
    const key = WorkflowGraph.nodePath(entry.compensates ?? entry.path)
    const into = entry.compensates === undefined ? byNode : compensations
    const list = into.get(key)
    if (list === undefined) into.set(key, [entry])
    else list.push(entry)
  }
  const finished = RunStatus.isDone(detail.run.status)
  const waiting = new Set(finished ? [] : detail.run.waitingFor.map(WorkflowGraph.nodePath))
  const out = new Map<string, NodeProgress>()

  const leaf = (node: WorkflowGraph.Node): NodeStatus | undefined => {
    const entries = byNode.get(node.path) ?? []
    const has = (kind: Journal.EntryKind) => entries.some((entry) => entry.kind === kind)
    if (node.kind === "step") {
      if (has("step")) return "completed"
      const attempts = entries.filter((entry) => entry.kind === "attempt")
      if (attempts.length === 0) return undefined
      return attempts.some((entry) => entry.exhausted === true) ? "failed" : "retried"
    }
    if (node.kind === "child") return childStatus(children.filter((child) => child.node === node.path), waiting, node)
    if (node.kind === "signal" && has("signal")) return "completed"
    if (waiting.has(node.path)) return "waiting"
    const wake = entries.find((entry) => entry.kind === "wake")
    if (wake === undefined) return undefined
    if (Number(wake.value) <= now || detail.run.status === "completed") {
      return node.kind === "signal" ? "failed" : "completed"
    }
    return finished ? undefined : "waiting"
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

  // A run that ended runs nothing: what was under way when it ended stopped there.
  const settled = (status: NodeStatus | undefined): NodeStatus | undefined =>
    finished && (status === "running" || status === "waiting") ? "stopped" : status

  const visit = (node: WorkflowGraph.Node): NodeStatus | undefined => {
    let status: NodeStatus | undefined
    if (node.kind === "forEach") {
      for (const branch of node.branches) branch.nodes.forEach(visit)
      const items = itemCounts(node, node.branches[0], detail.entries)
      status = items.failed > 0 ? "failed" : items.completed > 0 ? "running" : undefined
      if (status === "running" && blockDone(node, detail)) status = "completed"
      status = settled(status)
      out.set(node.path, { status, items })
      return status
    } else if (node.branches.length === 0 && node.kind !== "chord") {
      status = settled(leaf(node))
      if (node.kind === "step") {
        out.set(node.path, { status, ...compensationOf(node, byNode.get(node.path), compensations.get(node.path)) })
        return status
      }
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
      status = settled(status)
    }
    out.set(node.path, { status })
    return status
  }
  graph.nodes.forEach(visit)
  return out
}

const compensationOf = (
  node: WorkflowGraph.Node,
  own: ReadonlyArray<Journal.JournalEntry> | undefined,
  compensation: ReadonlyArray<Journal.JournalEntry> | undefined
): Pick<NodeProgress, "compensable" | "compensation"> => {
  const compensable = node.compensable === true || (own ?? []).some((entry) => entry.kind === "compensable")
  if (!compensable) return {}
  const ran = compensation ?? []
  return {
    compensable,
    compensation: ran.some((entry) => entry.kind === "compensated")
      ? "compensated"
      : ran.some((entry) => entry.kind === "attempt")
      ? "failed"
      : undefined
  }
}

/** A child node is its child runs: failed if one failed, done once all completed. */
const childStatus = (
  runs: ReadonlyArray<ChildRun>,
  waiting: ReadonlySet<string>,
  node: WorkflowGraph.Node
): NodeStatus | undefined => {
  if (runs.length === 0) return waiting.has(node.path) ? "waiting" : undefined
  if (runs.some((run) => run.status === "failed")) return "failed"
  if (runs.some((run) => run.status === "cancelled")) return "stopped"
  if (runs.every((run) => run.status === "completed")) return "completed"
  return waiting.has(node.path) ? "waiting" : "running"
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

/**
 * The item of the forEach whose graph path is `forEach` that an entry path lies in: the
 * innermost item whose forEach is that node (an entry may lie in items of nested forEach blocks).
 * A forEach's path repeats across its items' entries, so its graph path is worked out once.
 */
const itemIn = (path: string, forEach: string, nodePaths: Map<string, string>): string | undefined => {
  for (let item = WorkflowGraph.itemOf(path); item !== undefined; item = WorkflowGraph.itemOf(item.forEach)) {
    let node = nodePaths.get(item.forEach)
    if (node === undefined) nodePaths.set(item.forEach, node = WorkflowGraph.nodePath(item.forEach))
    if (node === forEach) return item.path
  }
  return undefined
}

/** Items whose entries include a failed exhausted attempt, or all the steps of the body. */
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
  const nodePaths = new Map<string, string>()
  for (const entry of entries) {
    if (entry.compensates !== undefined || (entry.kind !== "step" && entry.kind !== "attempt")) continue
    const item = itemIn(entry.path, node.path, nodePaths)
    if (item === undefined) continue
    if (entry.kind === "step") done.set(item, (done.get(item) ?? 0) + 1)
    if (entry.kind === "attempt" && entry.exhausted === true) failed.add(item)
  }
  let completed = 0
  for (const [item, steps] of done) if (!failed.has(item) && steps >= Math.max(1, stepsPerItem)) completed++
  return { completed, failed: failed.size }
}

/** A forEach is over once the run went past it: the run completed, or anything after it ran. */
const blockDone = (node: WorkflowGraph.Node, detail: Engine.RunDetail): boolean => {
  if (detail.run.status === "completed") return true
  const inside = (entry: Engine.EntryDetail) => WorkflowGraph.isWithin(WorkflowGraph.nodePath(entry.path), node.path)
  let lastItem = 0
  for (const entry of detail.entries) if (inside(entry)) lastItem = Math.max(lastItem, entry.finishedAt ?? 0)
  return detail.entries.some((entry) => entry.kind === "step" && !inside(entry) && (entry.startedAt ?? 0) > lastItem)
}
