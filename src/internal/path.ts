/**
 * The grammar of journal paths, in one place: every path is built and read here, and the public
 * functions that read paths (`Engine.laneOf`, `Engine.childRunId`, `WorkflowGraph.nodePath`,
 * `WorkflowGraph.itemOf`, `WorkflowGraph.isWithin`) delegate to it.
 *
 * - `a/b/c`: the node `c` in branch (or case) `b` of the block `a`: names joined by `/`.
 * - `name[key]`: the item `key` of the forEach `name`. A function body's step is journaled at the
 *   item path itself; a segment body's nodes below it (`name[key]/step`).
 * - `step/compensate`: the compensation of the step at `step`.
 * - `name[]`: in a graph, any item of the forEach `name` (a template path).
 * - `<parent run id>/<path>`: the run id of the child started at `path` (a bounded form when
 *   that would not be a valid run id, see `childRunId`).
 *
 * Item keys are data: they may hold `/` and brackets, so a path is split on `/` and `[` only
 * outside brackets, matching them. A key with unbalanced brackets, or a node name holding `[` or
 * `/`, reads ambiguously; names are the definition's, keys come from `key` functions.
 */
import { createHash } from "node:crypto"
import { brokenRule, maxBytes } from "../RunId.ts"

/** `prefix/name`: a node inside a block's branch, or at the top level when `prefix` is `""`. */
export const childPath = (prefix: string, name: string): string => (prefix === "" ? name : `${prefix}/${name}`)

/** `path[key]`: an item of the forEach at `path`. */
export const itemPath = (path: string, key: string | number): string => `${path}[${key}]`

/** The key a graph gives a forEach body: its items' keys are data, not structure. */
export const itemsKey = "[]"

/** `path[]`: where the body of the forEach at `path` sits in a graph. */
export const bodyPath = (path: string): string => `${path}${itemsKey}`

const compensateName = "compensate"

/** Where the compensation of the step at `stepPath` is journaled. */
export const compensationPath = (stepPath: string): string => childPath(stepPath, compensateName)

/**
 * The step a compensation path undoes (`charge` for `charge/compensate`), if `path` can be one.
 * A step named `compensate` in a branch has a path of the same shape: callers check the journal
 * holds a `compensable` entry for the step.
 */
export const compensatedStepOf = (path: string): string | undefined => {
  if (!path.endsWith(`/${compensateName}`)) return undefined
  const parent = parentOf(path)
  return parent !== "" && path === compensationPath(parent) ? parent : undefined
}

/**
 * The run id of the child started at `path` of the run `parentRunId`: `<parent>/<path>` when that
 * is a valid run id, else (a parent id near the bound, a long path, an item key holding a NUL or
 * a lone surrogate) a valid id that is still the same on every replay: as much of it as fits, the
 * characters no id may hold replaced, then `#` and a digest of the whole.
 */
export const childRunId = (parentRunId: string, path: string): string => {
  const id = `${parentRunId}/${path}`
  return brokenRule(id) === undefined ? id : boundedRunId(id)
}

/** Hex digits of the digest a bounded child id ends with (128 bits). */
const digestLength = 32

const boundedRunId = (id: string): string => {
  // The UTF-16 code units themselves, so ids differing only in a lone surrogate differ here.
  const digest = createHash("sha256").update(Buffer.from(id, "utf16le")).digest("hex").slice(0, digestLength)
  const budget = maxBytes - 1 - digestLength
  let head = ""
  let bytes = 0
  for (const character of id) {
    const code = character.codePointAt(0)!
    const valid = code !== 0 && !(code >= 0xd800 && code <= 0xdfff) ? character : "\uFFFD"
    const size = Buffer.byteLength(valid, "utf8")
    if (bytes + size > budget) break
    head += valid
    bytes += size
  }
  return `${head}#${digest}`
}

/**
 * Where the last `/` outside brackets is, or -1. Read from the start, since a key's brackets are
 * matched left to right; inspecting a run reads every entry's path, so nothing is allocated.
 */
const lastSeparator = (path: string): number => {
  let last = -1
  let depth = 0
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i)
    if (c === 91 /* [ */) depth++
    else if (c === 93 /* ] */ && depth > 0) depth--
    else if (c === 47 /* / */ && depth === 0) last = i
  }
  return last
}

/** Everything before the last `/` outside brackets; `""` at the top level. */
export const parentOf = (path: string): string => {
  const end = lastSeparator(path)
  return end < 0 ? "" : path.slice(0, end)
}

/**
 * Where the item key of a segment (`name[key]`) starts: the `[` matching the segment's final `]`,
 * or -1 when the segment is not an item.
 */
const itemKeyStart = (path: string, from: number): number => {
  if (!path.endsWith("]")) return -1
  let depth = 0
  for (let i = path.length - 1; i >= from; i--) {
    const c = path[i]
    if (c === "]") depth++
    else if (c === "[" && --depth === 0) return i > from ? i : -1
  }
  return -1
}

/** An item of a forEach: its path, the forEach's path and the key. */
export interface ItemRef {
  readonly path: string
  readonly forEach: string
  readonly key: string
}

/** Where the key of the item a path is opens (`packed[s0]`: 6), or -1 when it is not an item. */
const itemStart = (path: string): number => path.endsWith("]") ? itemKeyStart(path, lastSeparator(path) + 1) : -1

/** The item a path is (`packed[s0]`), or undefined. */
const asItem = (path: string): ItemRef | undefined => {
  const open = itemStart(path)
  return open < 0 ? undefined : { path, forEach: path.slice(0, open), key: path.slice(open + 1, -1) }
}

/** The innermost forEach item `path` lies in (or is), or undefined outside every forEach. */
export const itemOf = (path: string): ItemRef | undefined => {
  for (let at = path; at !== ""; at = parentOf(at)) {
    const item = asItem(at)
    if (item !== undefined) return item
  }
  return undefined
}

/**
 * The lane of a path: the innermost branch or item it runs in. Work in one lane runs one step
 * after another; different lanes may run at once. An item is a lane of its own, so the step a
 * forEach's function body journals at the item path (`packed[s0]`) is in lane `packed[s0]`;
 * anything else is in its parent's lane (`setup/welcome` for `setup/welcome/welcome`).
 */
export const laneOf = (path: string): string => (itemStart(path) < 0 ? parentOf(path) : path)

/** Whether `path` is `ancestor` or lies inside it: in one of its branches, or one of its items. */
export const isWithin = (path: string, ancestor: string): boolean => {
  if (ancestor === "") return true
  if (!path.startsWith(ancestor)) return false
  const next = path[ancestor.length]
  return next === undefined || next === "/" || (next === "[" && itemOf(path) !== undefined)
}

/**
 * The item paths of the forEach at `forEach` that `path` may run in: each `forEach[key]` prefix
 * followed by `/`. A key may hold `]/`, so every candidate is tried, shortest first.
 */
export const itemPrefixes = function*(path: string, forEach: string): Generator<string> {
  if (!path.startsWith(`${forEach}[`)) return
  for (let end = path.indexOf("]/", forEach.length); end !== -1; end = path.indexOf("]/", end + 1)) {
    yield path.slice(0, end + 1)
  }
}

/** Whether `item` is an item path of the forEach at `forEach`. */
export const isItemPathOf = (item: string, forEach: string): boolean =>
  item.startsWith(`${forEach}[`) && item.endsWith("]")

/**
 * The graph path a journal path belongs to: each `[key]` of a forEach item becomes `[]`
 * (`charge[17]/charge` is `charge[]/charge`), so entries of every item meet their one node.
 */
export const templatePath = (path: string): string => {
  let out = ""
  let depth = 0
  for (const c of path) {
    if (c === "[") {
      if (depth === 0) out += "["
      depth++
    } else if (c === "]" && depth > 0) {
      depth--
      if (depth === 0) out += "]"
    } else if (depth === 0) out += c
  }
  return out
}
