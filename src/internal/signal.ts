/**
 * Delivering a signal: find the signal node a journal path names (item keys in a path are data,
 * so `forEach` bodies are matched by prefix), check that each `forEach` the path passes through
 * has the item it names, and journal the value encoded through the signal's schema.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { Journal, type LoadedRun } from "../Journal.ts"
import { RunStore } from "../RunStore.ts"
import {
  InvalidSignal,
  type JournalError,
  type LeaseLost,
  RunNotFound,
  SignalAlreadyDelivered,
  UnknownSignal
} from "../WorkflowError.ts"
import type { Definition } from "./definition.ts"
import { checkOneEffectCopy } from "./effectCopy.ts"
import * as Formats from "./formats.ts"
import { memoizeByIdentity } from "./memo.ts"
import { keyedChildren, type Node, type SignalNode } from "./node.ts"
import { childPath, isItemPathOf, itemPrefixes } from "./path.ts"
import type { RunState } from "./runState.ts"

const issueFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Each problem a schema found, with where in the value it is: `at approved: Expected boolean, got "yes"`. */
const issuesOf = (error: unknown): ReadonlyArray<string> => {
  if (!Schema.isSchemaError(error)) return [String(error)]
  return issueFormatter(error.issue).issues.map(({ message, path }) =>
    path === undefined || path.length === 0 ? message : `at ${pathText(path)}: ${message}`
  )
}

const pathText = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): string =>
  path.map((segment, i) => {
    const key = typeof segment === "object" ? segment.key : segment
    return typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`
  }).join("")

/** Whether a signal waits anywhere in `nodes`, at any depth. */
export const awaitsSignal: (nodes: ReadonlyArray<Node>) => boolean = memoizeByIdentity((nodes: ReadonlyArray<Node>) =>
  nodes.some((node) =>
    node._tag === "Signal" ||
    keyedChildren(node).some(([, branch]) => awaitsSignal(branch)) ||
    (node._tag === "ForEach" && node.body._tag === "Segment" && awaitsSignal(node.body.nodes))
  )
)

/**
 * A `forEach` whose body may wait on a signal journals its item paths when it first starts, so
 * that `sendSignal` can refuse a signal for an item it does not have. On every later run the
 * items must be the journaled ones: different items would replay outputs into the wrong items.
 */
export const journalItems = (
  path: string,
  state: RunState,
  itemPaths: ReadonlyArray<string>
): Effect.Effect<void, JournalError | LeaseLost> => {
  const stored = state.stored("items", path)
  if (stored === undefined) {
    return state.writer.write({ path, kind: "items", seq: 0, value: Formats.items.text(itemPaths) })
  }
  const journaled = storedItems(state.runId, path, stored.value)
  if (Exit.isFailure(journaled)) return journaled
  const same = journaled.value.size === itemPaths.length && itemPaths.every((item) => journaled.value.has(item))
  return same ? Exit.void : Exit.fail(
    Formats.corrupt(
      state.runId,
      path,
      `the items journaled when the forEach started (${stored.value}) are not the items it has now`
    )
  )
}

/** A journaled item list, checked: item paths, each once. */
const storedItems = (runId: string, path: string, text: string): Exit.Exit<ReadonlySet<string>, JournalError> => {
  const decoded = Formats.items.decode(runId, path, text)
  if (Exit.isFailure(decoded)) return Exit.failCause(decoded.cause)
  const items = decoded.value
  const set = new Set(items)
  return set.size === items.length && items.every((item) => isItemPathOf(item, path))
    ? Exit.succeed(set)
    : Exit.fail(Formats.corrupt(runId, path, "the journaled items are not distinct item paths"))
}

/**
 * Validates a signal against the workflow and hands it to the store, which keeps the first value
 * per path and wakes the run if it waits. Refused, with nothing written, when the workflow has no
 * signal at `path`, when a `forEach` on the way has started without the item the path names, or
 * when the value does not encode with the signal's schema. A signal for an item of a `forEach`
 * the run has not reached yet is kept, like any signal sent early.
 */
export const deliverSignal = (
  definition: Definition,
  runId: string,
  path: string,
  value: unknown
) =>
  Effect.gen(function*() {
    yield* checkOneEffectCopy(definition, runId)
    const target = findSignal(definition.nodes, "", path, [])
    if (target === undefined) {
      return yield* new UnknownSignal({ runId, path, issue: "the workflow has no signal at this path" })
    }
    const encoded = Formats.signal(target.node).encodeSent(value)
    if (Exit.isFailure(encoded)) {
      return yield* new InvalidSignal({ runId, path, issues: issuesOf(Cause.squash(encoded.cause)) })
    }
    if (target.items.length > 0) {
      const loaded = yield* Effect.flatMap(Effect.service(Journal), (journal) => journal.load(runId))
      if (Option.isNone(loaded)) return yield* new RunNotFound({ runId })
      yield* missingItem(runId, path, loaded.value, target.items)
    }
    const store = yield* RunStore
    const now = yield* Clock.currentTimeMillis
    const delivery = yield* store.deliver(runId, {
      path,
      kind: "signal",
      seq: 0,
      value: encoded.value,
      finishedAt: now
    })
    if (delivery === "missing") return yield* new RunNotFound({ runId })
    if (delivery === "duplicate") return yield* new SignalAlreadyDelivered({ runId, path })
  })

/** Fails when a `forEach` on the way has journaled its items and the path's item is not one. */
const missingItem = (
  runId: string,
  path: string,
  loaded: LoadedRun,
  crossings: ReadonlyArray<Crossing>
): Effect.Effect<void, UnknownSignal | JournalError> => {
  for (const crossing of crossings) {
    const stored = loaded.entries.find((entry) => entry.kind === "items" && entry.path === crossing.forEach)
    if (stored === undefined) continue
    const items = storedItems(runId, crossing.forEach, stored.value)
    if (Exit.isFailure(items)) return items
    if (!items.value.has(crossing.item)) {
      return Effect.fail(
        new UnknownSignal({ runId, path, issue: `the forEach ${crossing.forEach} has no item ${crossing.item}` })
      )
    }
  }
  return Effect.void
}

/** Whether `path` names a signal of the workflow (rather than a child, a step, a sleep). */
export const isSignalPath = (nodes: ReadonlyArray<Node>, path: string): boolean =>
  findSignal(nodes, "", path, []) !== undefined

/** A `forEach` a signal path passes through, and the item path it names there. */
interface Crossing {
  readonly forEach: string
  readonly item: string
}

const findSignal = (
  nodes: ReadonlyArray<Node>,
  prefix: string,
  path: string,
  crossed: ReadonlyArray<Crossing>
): { readonly node: SignalNode; readonly items: ReadonlyArray<Crossing> } | undefined => {
  for (const node of nodes) {
    const at = childPath(prefix, node.name)
    if (node._tag === "Signal" && at === path) return { node, items: crossed }
    for (const [key, branchNodes] of keyedChildren(node)) {
      const found = findSignal(branchNodes, childPath(at, key), path, crossed)
      if (found !== undefined) return found
    }
    // Item keys are data, not structure: try each `name[key]` prefix the path can start with.
    if (node._tag === "ForEach" && node.body._tag === "Segment") {
      for (const item of itemPrefixes(path, at)) {
        const found = findSignal(node.body.nodes, item, path, [...crossed, { forEach: at, item }])
        if (found !== undefined) return found
      }
    }
  }
  return undefined
}
