/**
 * A workflow's structural outline: one line per node, `path kind`, in declaration order.
 * Stored with each run and compared on resume, so a changed definition is caught at the
 * first path where it differs instead of replaying outputs into the wrong steps.
 */
import { type Node, nodesWithPaths } from "./node.ts"

const kinds: Record<Lowercase<Node["_tag"]>, true> = {
  step: true,
  parallel: true,
  chord: true,
  race: true,
  foreach: true,
  branch: true,
  sleep: true,
  signal: true,
  child: true
}

/** A line `outline` could have written: a path, a space, a node kind. */
export const isOutlineLine = (line: string): boolean => {
  const space = line.lastIndexOf(" ")
  return space >= 0 && Object.hasOwn(kinds, line.slice(space + 1))
}

export const outline = (nodes: ReadonlyArray<Node>): ReadonlyArray<string> =>
  Array.from(nodesWithPaths(nodes), ([node, path]) => `${path} ${node._tag.toLowerCase()}`)

/** The first line at which two outlines differ, as the path it names; undefined if equal. */
export const firstDifference = (
  stored: ReadonlyArray<string>,
  current: ReadonlyArray<string>
): { readonly path: string; readonly stored: string; readonly current: string } | undefined => {
  const length = Math.max(stored.length, current.length)
  for (let i = 0; i < length; i++) {
    const before = stored[i]
    const now = current[i]
    if (before !== now) {
      const line = now ?? before ?? ""
      return {
        path: line.slice(0, line.lastIndexOf(" ")),
        stored: before ?? "(nothing)",
        current: now ?? "(nothing)"
      }
    }
  }
  return undefined
}
