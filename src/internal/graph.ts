/**
 * A workflow's structure as a plain tree for pictures: from the definition itself, or from the
 * structural outline a run stores (when the definition is not at hand, as in a dashboard that
 * only has the database).
 */
import * as Duration from "effect/Duration"
import { keyedChildren, type Node, type WaitEnd } from "./node.ts"
import { bodyPath, childPath, itemsKey } from "./path.ts"

export type GraphKind = "step" | "parallel" | "chord" | "race" | "forEach" | "branch" | "sleep" | "signal" | "child"

export interface GraphNode {
  readonly kind: GraphKind
  readonly name: string
  /** The journal path, with `[]` standing for any item key of a `forEach`. */
  readonly path: string
  /** Parallel, chord and race branches, branch cases, or a forEach's body (one branch keyed `[]`). */
  readonly branches: ReadonlyArray<GraphBranch>
  /** What the definition says beyond the shape: a sleep's length, a retry budget, a merge strategy. */
  readonly detail: string | undefined
  /** A step with a compensation: known from a definition, not from an outline. */
  readonly compensable?: boolean | undefined
}

export interface GraphBranch {
  readonly key: string
  readonly path: string
  readonly nodes: ReadonlyArray<GraphNode>
}

const kindOf: Record<Node["_tag"], GraphKind> = {
  Step: "step",
  Parallel: "parallel",
  Chord: "chord",
  Race: "race",
  ForEach: "forEach",
  Branch: "branch",
  Sleep: "sleep",
  Signal: "signal",
  Child: "child"
}

export const graphOfNodes = (nodes: ReadonlyArray<Node>, prefix: string = ""): ReadonlyArray<GraphNode> =>
  nodes.map((node) => {
    const path = childPath(prefix, node.name)
    const branches: Array<GraphBranch> = keyedChildren(node).map(([key, nodes]) => ({
      key,
      path: childPath(path, key),
      nodes: graphOfNodes(nodes, childPath(path, key))
    }))
    if (node._tag === "ForEach") {
      const body = bodyPath(path)
      branches.push({
        key: itemsKey,
        path: body,
        // A function body is one step journaled at the item's own path.
        nodes: node.body._tag === "Segment"
          ? graphOfNodes(node.body.nodes, body)
          : [{ kind: "step", name: node.name, path: body, branches: [], detail: stepDetail(node.body.step) }]
      })
    }
    const drawn = { kind: kindOf[node._tag], name: node.name, path, branches, detail: detailOf(node) }
    return node._tag === "Step" && node.compensate !== undefined ? { ...drawn, compensable: true } : drawn
  })

const durationText = (input: Duration.Input): string => Duration.format(Duration.fromInputUnsafe(input))

/** A fixed length as such; a computed one says it is read from the context when the run gets there. */
const waitEndText = (end: WaitEnd): string => {
  switch (end._tag) {
    case "Fixed":
      return durationText(end.duration)
    case "Computed":
      return "computed length"
    case "Until":
      return "until a computed time"
  }
}

const stepDetail = (
  node: { readonly retry: { readonly times: number } | undefined; readonly timeout: Duration.Input | undefined }
) => {
  const parts = [
    node.retry === undefined ? undefined : `retry ${node.retry.times}`,
    node.timeout === undefined ? undefined : `timeout ${durationText(node.timeout)}`
  ].filter((part) => part !== undefined)
  return parts.length === 0 ? undefined : parts.join(", ")
}

const detailOf = (node: Node): string | undefined => {
  switch (node._tag) {
    case "Step":
      return stepDetail(node)
    case "Parallel":
      return node.merge === "deep" && node.onError === "failFast" ? undefined : `${node.merge}, ${node.onError}`
    case "Chord":
      return stepDetail(node.callback)
    case "ForEach":
      return node.concurrency === undefined || node.concurrency === 1 ? undefined : `concurrency ${node.concurrency}`
    case "Sleep":
      return waitEndText(node.wake)
    case "Signal":
      return node.timeout === undefined ? undefined : `timeout ${waitEndText(node.timeout)}`
    case "Child":
      return node.workflow.name
    default:
      return undefined
  }
}

const outlineKinds: Record<string, GraphKind> = {
  step: "step",
  parallel: "parallel",
  chord: "chord",
  race: "race",
  foreach: "forEach",
  branch: "branch",
  sleep: "sleep",
  signal: "signal",
  child: "child"
}

interface Building {
  readonly kind: GraphKind
  readonly name: string
  readonly path: string
  readonly branches: Array<{ readonly key: string; readonly path: string; readonly nodes: Array<Building> }>
  readonly detail: undefined
}

/**
 * Rebuilds the tree from outline lines (`path kind`, in declaration order). A line belongs to the
 * innermost block whose path (followed by `/branchKey/` or `[]/`) starts it. The outline does not
 * keep what has no journal path of its own: empty branches, a function body of a forEach, details.
 */
export const graphOfOutline = (lines: ReadonlyArray<string>): ReadonlyArray<GraphNode> | undefined => {
  const top: Array<Building> = []
  const open: Array<Building> = []
  for (const line of lines) {
    const space = line.lastIndexOf(" ")
    const kind = outlineKinds[line.slice(space + 1)]
    if (space <= 0 || kind === undefined) return undefined
    const path = line.slice(0, space)
    while (
      open.length > 0 && !path.startsWith(`${open.at(-1)!.path}/`) &&
      !path.startsWith(`${bodyPath(open.at(-1)!.path)}/`)
    ) {
      open.pop()
    }
    const parent = open.at(-1)
    let name = path
    let siblings = top
    if (parent !== undefined) {
      const rest = path.slice(parent.path.length)
      const inBody = rest.startsWith(`${itemsKey}/`)
      const key = inBody ? itemsKey : rest.slice(1, rest.indexOf("/", 1))
      name = inBody ? rest.slice(itemsKey.length + 1) : rest.slice(key.length + 2)
      if (key === "" || name === "") return undefined
      let branch = parent.branches.find((candidate) => candidate.key === key)
      if (branch === undefined) {
        branch = { key, path: inBody ? bodyPath(parent.path) : childPath(parent.path, key), nodes: [] }
        parent.branches.push(branch)
      }
      siblings = branch.nodes
    }
    const node: Building = { kind, name, path, branches: [], detail: undefined }
    siblings.push(node)
    if (kind !== "step" && kind !== "sleep" && kind !== "signal" && kind !== "child") open.push(node)
  }
  return top
}
