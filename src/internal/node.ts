/**
 * The structure of a workflow: a tree of nodes, known without running anything. The
 * interpreter walks it; the outline (fingerprint) is derived from it.
 */
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type { Definition } from "./definition.ts"
import { bodyPath, childPath } from "./path.ts"

/** A plain context object; the public types describe its shape. */
export type Ctx = Record<string, unknown>

export type AnyCodec = Schema.Codec<any, any, never, never>

export type MergeStrategy = "deep" | "lastWins" | "collect"
export type ErrorStrategy = "failFast" | "completeAll" | "settle"

export interface RetryPolicy {
  readonly times: number
  readonly delay?: Duration.Input | undefined
  readonly backoff?: "fixed" | "exponential" | undefined
  /**
   * Defects count as failed attempts too: a throw in the step's code, a rejected
   * `Effect.promise`, an `Effect.die`. Off by default: a defect then ends the run at once.
   */
  readonly defects?: boolean | undefined
}

/** At most `max` executions of steps with this key at once, across every executor of the database. */
export interface ConcurrencyLimit {
  readonly key: string
  readonly max: number
}

export interface StepNode {
  readonly _tag: "Step"
  readonly name: string
  readonly success: AnyCodec
  readonly error: AnyCodec | undefined
  readonly retry: RetryPolicy | undefined
  readonly timeout: Duration.Input | undefined
  readonly limit: ConcurrencyLimit | undefined
  /** Undoes the step once the run fails for good or is cancelled: given its output and the context it saw. */
  readonly compensate: ((output: unknown, ctx: Ctx) => Effect.Effect<unknown, unknown, unknown>) | undefined
  /** The compensation's own retry policy; the step's when absent. */
  readonly compensateRetry: RetryPolicy | undefined
  readonly run: (ctx: Ctx) => Effect.Effect<unknown, unknown, unknown>
}

export interface ParallelNode {
  readonly _tag: "Parallel"
  readonly name: string
  readonly branches: ReadonlyArray<readonly [key: string, nodes: ReadonlyArray<Node>]>
  readonly merge: MergeStrategy
  readonly onError: ErrorStrategy
  readonly concurrency: number | undefined
}

export interface ChordNode {
  readonly _tag: "Chord"
  readonly name: string
  readonly parallel: ParallelNode
  readonly callback: StepNode
}

export interface RaceNode {
  readonly _tag: "Race"
  readonly name: string
  readonly branches: ReadonlyArray<readonly [key: string, nodes: ReadonlyArray<Node>]>
}

export type Tolerance = { readonly count: number } | { readonly fraction: number }

export interface ForEachNode {
  readonly _tag: "ForEach"
  readonly name: string
  readonly items: (ctx: Ctx) => Iterable<unknown>
  /** Either one step run per item, or a segment run per item. */
  readonly body:
    | { readonly _tag: "Effect"; readonly step: StepNode }
    | { readonly _tag: "Segment"; readonly nodes: ReadonlyArray<Node> }
  readonly concurrency: number | undefined
  readonly onError: ErrorStrategy
  readonly tolerate: Tolerance | undefined
  readonly key: ((item: unknown, index: number) => string | number) | undefined
}

export interface BranchNode {
  readonly _tag: "Branch"
  readonly name: string
  readonly select: (ctx: Ctx) => string
  readonly cases: ReadonlyArray<readonly [key: string, nodes: ReadonlyArray<Node>]>
}

/**
 * When a wait (a sleep, a signal's timeout) ends: a length the definition fixes, a length or an
 * instant computed from the context when the run first reaches the wait. Either way the wake
 * time is journaled then, and read back on every later run, never computed again.
 */
export type WaitEnd =
  | { readonly _tag: "Fixed"; readonly duration: Duration.Input }
  | { readonly _tag: "Computed"; readonly duration: (ctx: Ctx) => Duration.Duration }
  | { readonly _tag: "Until"; readonly at: (ctx: Ctx) => DateTime.Utc }

export interface SleepNode {
  readonly _tag: "Sleep"
  readonly name: string
  readonly wake: WaitEnd
}

export interface SignalNode {
  readonly _tag: "Signal"
  readonly name: string
  readonly schema: AnyCodec
  readonly timeout: WaitEnd | undefined
}

/** A run of another workflow, started by this one; its final context is this node's output. */
export interface ChildNode {
  readonly _tag: "Child"
  readonly name: string
  readonly workflow: Definition
  readonly input: (ctx: Ctx) => unknown
}

export type Node =
  | StepNode
  | ParallelNode
  | ChordNode
  | RaceNode
  | ForEachNode
  | BranchNode
  | SleepNode
  | SignalNode
  | ChildNode

/** The keyed child segments a node holds (a parallel's, chord's or race's branches, a branch's cases). */
export const keyedChildren = (node: Node): ReadonlyArray<readonly [key: string, nodes: ReadonlyArray<Node>]> => {
  switch (node._tag) {
    case "Parallel":
    case "Race":
      return node.branches
    case "Chord":
      return node.parallel.branches
    case "Branch":
      return node.cases
    default:
      return []
  }
}

/**
 * Every node under `nodes` with its path, depth first in declaration order. A `forEach` body's
 * nodes are under `name[]`: item keys are data, not structure.
 */
export function* nodesWithPaths(nodes: ReadonlyArray<Node>, prefix = ""): Generator<readonly [Node, string]> {
  for (const node of nodes) {
    const path = childPath(prefix, node.name)
    yield [node, path]
    for (const [key, branch] of keyedChildren(node)) yield* nodesWithPaths(branch, childPath(path, key))
    if (node._tag === "ForEach" && node.body._tag === "Segment") yield* nodesWithPaths(node.body.nodes, bodyPath(path))
  }
}
