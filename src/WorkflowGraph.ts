/**
 * A workflow's structure as data, for pictures: which steps run in sequence, which branches fork
 * and join, where a run loops over items or waits. Built from the definition alone (nothing
 * runs), or from the structural outline every run stores, so a tool that only has the database
 * can still draw a run's workflow.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import { type GraphKind, graphOfNodes, graphOfOutline } from "./internal/graph.ts"
import { renderMermaid } from "./internal/mermaid.ts"
import { isWithin as pathIsWithin, itemOf as pathItemOf, templatePath } from "./internal/path.ts"
import type { Workflow } from "./Workflow.ts"

/**
 * What a graph node is.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * const isWait = (kind: WorkflowGraph.Kind) => kind === "sleep" || kind === "signal"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = GraphKind

/**
 * One node: a step, a block with its branches, or a wait.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * const stepCount = (node: WorkflowGraph.Node): number =>
 *   (node.kind === "step" ? 1 : 0) +
 *   node.branches.reduce((sum, branch) => sum + branch.nodes.reduce((n, child) => n + stepCount(child), 0), 0)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Node {
  readonly kind: Kind
  readonly name: string
  /** The journal path; `[]` stands for any item key inside a `forEach` (`charge[]/charge`). */
  readonly path: string
  /** Parallel, chord and race branches, a branch's cases, or a forEach's body (one branch keyed `[]`). */
  readonly branches: ReadonlyArray<Branch>
  /** What the definition says beyond the shape: a sleep's length, a retry budget, a merge strategy. */
  readonly detail: string | undefined
  /**
   * A step with a compensation (`compensate`), undone if the run fails for good or is cancelled.
   * Known from a definition; a stored outline does not say.
   */
  readonly compensable?: boolean | undefined
}

/**
 * One branch of a block: its key and the nodes it runs in sequence.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * const keys = (node: WorkflowGraph.Node) => node.branches.map((branch: WorkflowGraph.Branch) => branch.key)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Branch {
  readonly key: string
  readonly path: string
  readonly nodes: ReadonlyArray<Node>
}

/**
 * A workflow's graph: its name and its top-level nodes in order.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * const title = (graph: WorkflowGraph.Graph) => `${graph.workflow}: ${graph.nodes.length} top-level nodes`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Graph {
  readonly workflow: string
  readonly nodes: ReadonlyArray<Node>
}

/**
 * The graph of a workflow definition. Nothing runs: the structure is known from the value.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow, WorkflowGraph } from "plait"
 *
 * const Signup = Workflow.make("signup", { input: Schema.String }).pipe(
 *   Workflow.step("user", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input)),
 *   Workflow.sleep("cooldown", "1 hour")
 * )
 *
 * const graph = WorkflowGraph.fromWorkflow(Signup)
 * // graph.nodes.map((node) => node.kind): ["step", "sleep"]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromWorkflow = <I, Ctx, E, R>(workflow: Workflow<I, Ctx, E, R>): Graph => ({
  workflow: workflow.name,
  nodes: graphOfNodes(workflow.nodes) as ReadonlyArray<Node>
})

/**
 * The graph of a stored run's workflow, from the structural outline the run was stored with
 * (`RunInfo.fingerprint`), for tools that have the database but not the definition. The outline
 * keeps every node with a journal path; it does not keep details (durations, retries), branches
 * with no nodes, or the step a `forEach` runs per item when its body is a function. `None` when
 * the text is not an outline.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Engine, WorkflowGraph } from "plait"
 *
 * const graphOfRun = (runId: string) =>
 *   Effect.map(Engine.Engine.use((engine) => engine.inspect(runId)), ({ run }) =>
 *     WorkflowGraph.fromFingerprint(run.workflow, run.fingerprint).pipe(Option.map(WorkflowGraph.toMermaid)))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFingerprint = (workflow: string, fingerprint: string): Option.Option<Graph> => {
  let lines: unknown
  try {
    lines = JSON.parse(fingerprint)
  } catch {
    return Option.none()
  }
  if (!Array.isArray(lines) || !lines.every((line) => typeof line === "string")) return Option.none()
  const nodes = graphOfOutline(lines)
  return nodes === undefined ? Option.none() : Option.some({ workflow, nodes: nodes as ReadonlyArray<Node> })
}

/**
 * The graph path a journal entry belongs to: each forEach item key becomes `[]`
 * (`charge[17]/charge` is `charge[]/charge`), so entries of every item meet their one node.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * WorkflowGraph.nodePath("ship[order/7]/label") // "ship[]/label"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const nodePath = (entryPath: string): string => templatePath(entryPath)

/**
 * An item of a `forEach`, as a journal path names it: the item's path, the forEach's path and the
 * item's key.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * const label = (item: WorkflowGraph.Item) => `item ${item.key} of ${item.forEach}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Item {
  /** `ship[order/7]` */
  readonly path: string
  /** `ship` */
  readonly forEach: string
  /** `order/7` */
  readonly key: string
}

/**
 * The innermost `forEach` item a journal path lies in (or is), or `undefined` outside every
 * forEach. Item keys are data and may hold `/`: brackets are matched.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * WorkflowGraph.itemOf("ship[order/7]/label") // { path: "ship[order/7]", forEach: "ship", key: "order/7" }
 * WorkflowGraph.itemOf("packed[s0]") // { path: "packed[s0]", forEach: "packed", key: "s0" }
 * WorkflowGraph.itemOf("setup/welcome") // undefined
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const itemOf = (path: string): Item | undefined => pathItemOf(path)

/**
 * Whether a journal path is `ancestor` or lies inside it (in one of its branches or items).
 * `""` contains every path.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * WorkflowGraph.isWithin("fastest/origin/fetched", "fastest") // true
 * WorkflowGraph.isWithin("packed[3]", "packed") // true
 * WorkflowGraph.isWithin("packedAgain", "packed") // false
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const isWithin = (path: string, ancestor: string): boolean => pathIsWithin(path, ancestor)

/**
 * Every node of a graph, blocks before what they contain, in declaration order.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * const steps = (graph: WorkflowGraph.Graph) => WorkflowGraph.flatten(graph).filter((node) => node.kind === "step")
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const flatten = (graph: Graph): ReadonlyArray<Node> => {
  const out: Array<Node> = []
  const walk = (nodes: ReadonlyArray<Node>) => {
    for (const node of nodes) {
      out.push(node)
      for (const branch of node.branches) walk(branch.nodes)
    }
  }
  walk(graph.nodes)
  return out
}

/**
 * How to draw a graph with Mermaid.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * // Colour each node by what a run did there.
 * const options = (statuses: ReadonlyMap<string, string>): WorkflowGraph.MermaidOptions => ({
 *   classOf: (path) => statuses.get(path),
 *   direction: "LR"
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MermaidOptions {
  /**
   * A class for the node at each path. Classes with styles: `completed`, `running`, `waiting`,
   * `failed`, `retried`, `skipped`.
   */
  readonly classOf?: ((path: string) => string | undefined) | undefined
  /** Top-down (the default) or left-to-right. */
  readonly direction?: "TD" | "LR" | undefined
}

/**
 * The graph as a Mermaid flowchart: steps as boxes; parallel and race blocks as a fork with one
 * labelled edge per branch and a join ("join", "first wins"); a chord's join is its callback; a
 * branch as a decision with an edge per case; a forEach as a loop node its body returns to; sleeps
 * and signals as waits. Paste it into a Markdown ```` ```mermaid ```` block to see it rendered.
 *
 * @example
 * ```ts
 * import { WorkflowGraph } from "plait"
 *
 * const markdown = (graph: WorkflowGraph.Graph) => ["```mermaid", WorkflowGraph.toMermaid(graph), "```"].join("\n")
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toMermaid = (graph: Graph, options?: MermaidOptions): string =>
  renderMermaid(graph.workflow, graph.nodes, options)
