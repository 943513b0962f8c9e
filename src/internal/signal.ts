/**
 * Delivering a signal: find the signal node a journal path names (item keys in a path are data,
 * so `forEach` bodies are matched by prefix) and encode the value through its schema.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { JournalEntry } from "../Journal.ts"
import { RunStore } from "../RunStore.ts"
import { InvalidOutput, RunNotFound, SignalAlreadyDelivered } from "../WorkflowError.ts"
import { type JsonCodec, jsonCodec } from "./codec.ts"
import { memoizeByIdentity } from "./memo.ts"
import { keyedChildren, type Node, type SignalNode } from "./node.ts"
import { childPath } from "./path.ts"

export const signalCodecOf = memoizeByIdentity((node: SignalNode): JsonCodec => jsonCodec(node.schema))

/** The journal entry that delivers `value` to the signal at `path`, or why it cannot. */
export const signalEntry = (
  nodes: ReadonlyArray<Node>,
  runId: string,
  path: string,
  value: unknown
): Exit.Exit<JournalEntry, InvalidOutput> => {
  const node = findSignal(nodes, "", path)
  if (node === undefined) {
    return Exit.fail(new InvalidOutput({ runId, path, issue: "the workflow has no signal at this path" }))
  }
  const encoded = signalCodecOf(node).encode(value)
  return Exit.isFailure(encoded)
    ? Exit.fail(new InvalidOutput({ runId, path, issue: String(Cause.squash(encoded.cause)) }))
    : Exit.succeed({ path, kind: "signal", seq: 0, value: encoded.value })
}

/** Whether `path` names a signal of the workflow (rather than a child, a step, a sleep). */
export const isSignalPath = (nodes: ReadonlyArray<Node>, path: string): boolean => findSignal(nodes, "", path) !== undefined

const findSignal = (nodes: ReadonlyArray<Node>, prefix: string, path: string): SignalNode | undefined => {
  for (const node of nodes) {
    const at = childPath(prefix, node.name)
    if (node._tag === "Signal" && at === path) return node
    for (const [key, branchNodes] of keyedChildren(node)) {
      const found = findSignal(branchNodes, childPath(at, key), path)
      if (found !== undefined) return found
    }
    // Item keys are data, not structure: try each `name[key]` prefix the path can start with.
    if (node._tag === "ForEach" && node.body._tag === "Segment" && path.startsWith(`${at}[`)) {
      for (let end = path.indexOf("]/", at.length); end !== -1; end = path.indexOf("]/", end + 1)) {
        const found = findSignal(node.body.nodes, path.slice(0, end + 1), path)
        if (found !== undefined) return found
      }
    }
  }
  return undefined
}

/**
 * Validates a signal against the workflow and hands it to the store, which keeps the first value
 * per path and wakes the run if it waits.
 */
export const deliverSignal = (nodes: ReadonlyArray<Node>, runId: string, path: string, value: unknown) =>
  Effect.gen(function*() {
    const entry = yield* signalEntry(nodes, runId, path, value)
    const store = yield* RunStore
    const now = yield* Clock.currentTimeMillis
    const delivery = yield* store.deliver(runId, { ...entry, finishedAt: now })
    if (delivery === "missing") return yield* new RunNotFound({ runId })
    if (delivery === "duplicate") return yield* new SignalAlreadyDelivered({ runId, path })
  })
