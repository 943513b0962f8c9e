/**
 * The runtime value behind `Workflow`: a name, an input schema and a list of nodes. Appending a
 * node is O(1) (a linked list, materialized once), so defining a workflow of many thousand
 * steps stays linear.
 */
import type { AnyCodec, Node } from "./node.ts"
import { pipeArguments } from "effect/Pipeable"

export const TypeId = "~plait/Workflow" as const

const variance = {
  _I: (_: never) => _,
  _Ctx: (_: never) => _,
  _E: (_: never) => _,
  _R: (_: never) => _
}

export class Definition {
  readonly [TypeId] = TypeId
  /** Type-level only: carries the variance of `Workflow`'s parameters. */
  readonly "~plait/Variance" = variance
  readonly name: string
  readonly input: AnyCodec
  readonly #parent: Definition | undefined
  readonly #node: Node | undefined
  #nodes: ReadonlyArray<Node> | undefined

  constructor(name: string, input: AnyCodec, parent?: Definition, node?: Node) {
    this.name = name
    this.input = input
    this.#parent = parent
    this.#node = node
  }

  append(node: Node): Definition {
    return new Definition(this.name, this.input, this, node)
  }

  /** The nodes in declaration order. Names must be unique within one segment. */
  get nodes(): ReadonlyArray<Node> {
    if (this.#nodes === undefined) {
      const nodes: Array<Node> = []
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- walks the chain from this node back to the root
      for (let at: Definition | undefined = this; at !== undefined && at.#node !== undefined; at = at.#parent) {
        nodes.push(at.#node)
      }
      nodes.reverse()
      assertUniqueNames(nodes)
      this.#nodes = nodes
    }
    return this.#nodes
  }

  pipe() {
    // eslint-disable-next-line prefer-rest-params -- Effect's `Pipeable` idiom
    return pipeArguments(this, arguments)
  }
}

const assertUniqueNames = (nodes: ReadonlyArray<Node>): void => {
  const seen = new Set<string>()
  for (const node of nodes) {
    if (seen.has(node.name)) {
      throw new Error(`plait: the name "${node.name}" is used twice in one sequence; journal paths must be unique`)
    }
    seen.add(node.name)
  }
}

/** A workflow with no nodes, to read the nodes a segment function appends. */
const probe = new Definition("(segment)", undefined as unknown as AnyCodec)

/** The nodes a segment (any function from workflow to workflow) adds. */
export const nodesOf = (segment: (self: any) => unknown): ReadonlyArray<Node> => {
  const result = segment(probe)
  if (!(result instanceof Definition)) {
    throw new Error("plait: a branch must be a segment: a step, a combinator, or several composed with flow/sequence")
  }
  return result.nodes
}

export const isDefinition = (u: unknown): u is Definition => u instanceof Definition
