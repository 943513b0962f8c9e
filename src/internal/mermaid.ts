/**
 * A workflow graph as a Mermaid flowchart: steps as boxes, forks and joins around parallel,
 * chord and race branches, a decision for a branch, a loop node for forEach, and waits for
 * sleeps and signals. Node ids are generated (`n1`, `n2`, ...), so no name can collide with a
 * Mermaid keyword; every label is quoted and escaped.
 */
import { itemsKey } from "./path.ts"
import type { GraphBranch, GraphNode } from "./graph.ts"

export interface MermaidOptions {
  /** A class per node path (a run's status of that node, say), drawn with the styles below. */
  readonly classOf?: ((path: string) => string | undefined) | undefined
  readonly direction?: "TD" | "LR" | undefined
}

/** An open end of what was drawn so far: the next node connects from it, with an edge label. */
interface Exit {
  readonly id: string
  readonly label?: string | undefined
  readonly dotted?: boolean | undefined
}

interface Drawn {
  readonly entry: string
  readonly exits: ReadonlyArray<Exit>
}

const classDefs = [
  "classDef block fill:#eef2ff,stroke:#6366f1",
  "classDef wait fill:#fef9c3,stroke:#ca8a04",
  "classDef terminal fill:#f1f5f9,stroke:#64748b",
  "classDef completed fill:#dcfce7,stroke:#16a34a",
  "classDef running fill:#dbeafe,stroke:#2563eb",
  "classDef waiting fill:#fef3c7,stroke:#d97706",
  "classDef failed fill:#fee2e2,stroke:#dc2626",
  "classDef retried fill:#ffedd5,stroke:#ea580c",
  "classDef skipped fill:#f8fafc,stroke:#cbd5e1,color:#94a3b8"
]

export const renderMermaid = (title: string, nodes: ReadonlyArray<GraphNode>, options: MermaidOptions = {}): string => {
  const lines: Array<string> = [`flowchart ${options.direction ?? "TD"}`]
  let counter = 0
  const fresh = () => `n${++counter}`

  const shape = (id: string, open: string, text: string, close: string, className?: string, path?: string) => {
    lines.push(`  ${id}${open}${quote(text)}${close}`)
    const status = path === undefined ? undefined : options.classOf?.(path)
    if (status !== undefined) lines.push(`  class ${id} ${status}`)
    else if (className !== undefined) lines.push(`  class ${id} ${className}`)
  }

  const connect = (exits: ReadonlyArray<Exit>, to: string) => {
    for (const exit of exits) {
      const arrow = exit.dotted === true ? "-.->" : "-->"
      lines.push(
        exit.label === undefined ? `  ${exit.id} ${arrow} ${to}` : `  ${exit.id} ${arrow}|${quote(exit.label)}| ${to}`
      )
    }
  }

  /** Draws a sequence; an empty one draws nothing and leaves `from` open. */
  const sequence = (nodes: ReadonlyArray<GraphNode>, from: ReadonlyArray<Exit>): ReadonlyArray<Exit> => {
    let exits = from
    for (const node of nodes) {
      const drawn = draw(node)
      connect(exits, drawn.entry)
      exits = drawn.exits
    }
    return exits
  }

  /** Draws each branch from `fork`, labelled with its key; returns every branch's open ends. */
  const fanOut = (fork: string, branches: ReadonlyArray<GraphBranch>): ReadonlyArray<Exit> =>
    branches.flatMap((branch) => sequence(branch.nodes, [{ id: fork, label: branch.key }]))

  const draw = (node: GraphNode): Drawn => {
    const id = fresh()
    const named = (kind: string) =>
      node.detail === undefined ? `${node.name} (${kind})` : `${node.name} (${kind}, ${node.detail})`
    switch (node.kind) {
      case "step": {
        const notes = [node.detail, node.compensable === true ? "compensable" : undefined].filter((note) =>
          note !== undefined
        )
        shape(id, "[", notes.length === 0 ? node.name : `${node.name} (${notes.join(", ")})`, "]", undefined, node.path)
        return { entry: id, exits: [{ id }] }
      }
      case "sleep":
        shape(
          id,
          "([",
          `sleep ${node.name}${node.detail === undefined ? "" : ` ${node.detail}`}`,
          "])",
          "wait",
          node.path
        )
        return { entry: id, exits: [{ id }] }
      case "signal":
        shape(
          id,
          "([",
          `wait for signal ${node.name}${node.detail === undefined ? "" : ` (${node.detail})`}`,
          "])",
          "wait",
          node.path
        )
        return { entry: id, exits: [{ id }] }
      case "child":
        // A run of another workflow, drawn on its own: a shape no other node has.
        shape(
          id,
          "[/",
          node.detail === undefined ? `${node.name} (child)` : `${node.name} (child ${node.detail})`,
          "/]",
          undefined,
          node.path
        )
        return { entry: id, exits: [{ id }] }
      case "parallel":
      case "race": {
        shape(id, "{{", named(node.kind), "}}", "block", node.path)
        const join = fresh()
        const ends = fanOut(id, node.branches)
        shape(join, "((", node.kind === "race" ? "first wins" : "join", "))", "block")
        connect(ends, join)
        return { entry: id, exits: [{ id: join }] }
      }
      case "chord": {
        shape(id, "{{", `${node.name} (chord)`, "}}", "block")
        const callback = fresh()
        const ends = fanOut(id, node.branches)
        // The callback is the chord's join: it runs once every branch is done, at the chord's path.
        shape(
          callback,
          "[",
          node.detail === undefined ? `${node.name} callback` : `${node.name} callback (${node.detail})`,
          "]",
          undefined,
          node.path
        )
        connect(ends, callback)
        return { entry: id, exits: [{ id: callback }] }
      }
      case "branch": {
        shape(id, "{", `${node.name} (branch)`, "}", "block", node.path)
        const join = fresh()
        const ends = fanOut(id, node.branches)
        shape(join, "((", "merge", "))", "block")
        connect(ends, join)
        return { entry: id, exits: [{ id: join }] }
      }
      case "forEach": {
        shape(id, "[[", named("for each item"), "]]", "block", node.path)
        const body = node.branches.find((branch) => branch.key === itemsKey)
        const ends = sequence(body?.nodes ?? [], [{ id, label: "each item" }])
        connect(ends.map((end) => ({ ...end, label: "next item", dotted: true })), id)
        return { entry: id, exits: [{ id, label: "all done" }] }
      }
    }
  }

  const start = fresh()
  shape(start, "([", title, "])", "terminal")
  const ends = sequence(nodes, [{ id: start }])
  const end = fresh()
  shape(end, "([", "done", "])", "terminal")
  connect(ends, end)
  return [...lines, ...classDefs.map((def) => `  ${def}`)].join("\n") + "\n"
}

/**
 * A quoted Mermaid string. Quotes cannot be escaped with a backslash in Mermaid; anything outside
 * a small safe set is written as a numeric entity (`#35;`), which Mermaid decodes in labels.
 */
const quote = (text: string): string => {
  let out = "\""
  for (const c of text) out += /[\w .,:()/+=*'!?@$%^~\-[\]{}]/.test(c) ? c : `#${c.codePointAt(0)};`
  return `${out}"`
}
