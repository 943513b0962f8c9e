/**
 * Two copies of `effect` in one app (a linked install of plait, or an app whose `effect` is
 * outside plait's peer range, for which npm nests a second copy under plait) break schemas
 * quietly: a schema built by the app's copy, decoded by plait's, rejects valid input with a
 * misleading issue. Every schema node is an instance of the copy that built it, so the mismatch
 * is found before a run decodes or writes anything, and reported as what it is.
 */
import * as Exit from "effect/Exit"
import * as SchemaAST from "effect/SchemaAST"
import * as Version from "effect/Version"
import { DuplicateEffect } from "../WorkflowError.ts"
import type { Definition } from "./definition.ts"
import { memoizeByIdentity } from "./memo.ts"
import { type AnyCodec, type Node, nodesWithPaths } from "./node.ts"

/** The schema node classes of plait's copy, by tag (each is exported under its tag's name). */
const astClasses = SchemaAST as unknown as Record<string, unknown>

const isFromAnotherCopy = (schema: AnyCodec): boolean => {
  const ast = schema.ast
  const ownClass = astClasses[ast._tag]
  // A tag this copy has no class for cannot be judged; it is not reported.
  return typeof ownClass === "function" && !(ast instanceof ownClass)
}

const schemasOf = (node: Node): ReadonlyArray<AnyCodec> => {
  switch (node._tag) {
    case "Step":
      return node.error === undefined ? [node.success] : [node.success, node.error]
    case "Chord":
      return schemasOf(node.callback)
    case "ForEach":
      return node.body._tag === "Effect" ? schemasOf(node.body.step) : []
    case "Signal":
      return [node.schema]
    default:
      return []
  }
}

const firstForeign = (nodes: ReadonlyArray<Node>): string | undefined => {
  for (const [node, path] of nodesWithPaths(nodes)) {
    if (schemasOf(node).some(isFromAnotherCopy)) return path
  }
  return undefined
}

/** The path of the first schema in `definition` another copy built (`input` for the input schema). */
const schemaFromAnotherCopy = memoizeByIdentity((definition: Definition): { readonly path: string | undefined } => ({
  path: isFromAnotherCopy(definition.input) ? "input" : firstForeign(definition.nodes)
}))

/** The `DuplicateEffect` error for `definition` when a schema comes from another copy of `effect`. */
export const duplicateEffectIn = (definition: Definition, runId: string): DuplicateEffect | undefined => {
  const path = schemaFromAnotherCopy(definition).path
  return path === undefined
    ? undefined
    : new DuplicateEffect({ runId, workflow: definition.name, path, plaitEffect: ownEffect() })
}

/** Fails with `DuplicateEffect` when a schema of `definition` comes from another copy of `effect`. */
export const checkOneEffectCopy = (definition: Definition, runId: string): Exit.Exit<void, DuplicateEffect> => {
  const duplicate = duplicateEffectIn(definition, runId)
  return duplicate === undefined ? Exit.void : Exit.fail(duplicate)
}

/** The copy of `effect` plait runs on: its version and, where the runtime can tell, its location. */
const ownEffect = (): string => {
  let location = ""
  try {
    location = ` at ${import.meta.resolve("effect")}`
  } catch {
    // A bundle or a test transform may not resolve bare specifiers at run time.
  }
  return `effect ${Version.getCurrentVersion()}${location}`
}
