/**
 * The CLI's text output: tables of runs, a run's details, its timeline with one lane per branch,
 * and the live view of `runs watch`. Pure functions of what the engine returned.
 */
import type { Engine, RunStore } from "../index.ts"
import { WorkflowGraph } from "../index.ts"
import type { Children } from "../view/children.ts"
import { executorText } from "../view/execution.ts"
import { endingText, formatDuration, formatTime } from "../view/format.ts"
import type { NodeProgress } from "../view/nodeStatus.ts"
import { axisOf, nameIn, type Timeline } from "../view/timeline.ts"

export { formatDuration, formatTime }

/** Columns padded to their widest cell. */
export const table = (cells: ReadonlyArray<ReadonlyArray<string>>): string => {
  const rows = cells.map((row) => row.map(printable))
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((line) => (line[i] ?? "").length))) ?? []
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()
  ).join("\n")
}

/** Control characters of stored text would steer the terminal; they are shown escaped instead. */
export const printable = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

export const countsLine = (counts: RunStore.StatusCounts): string =>
  Object.entries(counts).map(([status, n]) => `${status} ${n}`).join(", ")

export const runsTable = (page: RunStore.RunPage, counts: RunStore.StatusCounts): string => {
  const rows = [
    ["RUN", "WORKFLOW", "STATUS", "CREATED", "UPDATED", "WAITING FOR"],
    ...page.runs.map((run) => [
      run.runId,
      run.workflow,
      run.status,
      formatTime(run.createdAt),
      formatTime(run.updatedAt),
      run.waitingFor.join(", ")
    ])
  ]
  const lines = [page.runs.length === 0 ? "no runs match" : table(rows), "", `all runs: ${countsLine(counts)}`]
  if (page.next !== undefined) lines.push(`more: --cursor ${page.next}`)
  return lines.join("\n")
}

const waitText = (run: Engine.RunDetail["run"], graph: WorkflowGraph.Graph | undefined): string | undefined => {
  if (run.status === "sleeping") {
    return `sleeping at ${run.waitingFor.length === 0 ? "?" : run.waitingFor.join(", ")} until ${
      formatTime(run.wakeAt)
    }`
  }
  if (run.status !== "waiting") return undefined
  const kinds = new Map(graph === undefined ? [] : WorkflowGraph.flatten(graph).map((node) => [node.path, node.kind]))
  const awaited = (run.waitingFor.length === 0 ? ["?"] : run.waitingFor).map((path) => {
    const kind = kinds.get(WorkflowGraph.nodePath(path))
    return kind === "signal" ? `signal ${path}` : kind === "child" ? `child run at ${path}` : path
  })
  const deadline = run.wakeAt === undefined ? "" : ` (deadline ${formatTime(run.wakeAt)})`
  return `waiting for ${awaited.join(", ")}${deadline}`
}

/** What `runs show` and `runs watch` print about a run. */
export interface RunView {
  readonly detail: Engine.RunDetail
  readonly graph: WorkflowGraph.Graph | undefined
  readonly progress: ReadonlyMap<string, NodeProgress> | undefined
  readonly children: Children
  readonly now: number
}

export const runText = ({ children, detail, graph, now, progress }: RunView): string => {
  const { entries, run } = detail
  const executor = executorText(run, now)
  const lines = [
    `run       ${run.runId}`,
    `workflow  ${run.workflow}`,
    `status    ${run.status}${run.cancelRequested && run.status !== "cancelled" ? " (cancel requested)" : ""}`,
    ...(run.parentRunId === undefined ? [] : [`parent    ${run.parentRunId}`]),
    `created   ${formatTime(run.createdAt)}`,
    `updated   ${formatTime(run.updatedAt)}`,
    `executed  ${run.executions} time(s)${executor === undefined ? "" : `, ${executor}`}`,
    `input     ${run.input}`
  ]
  const waiting = waitText(run, graph)
  if (waiting !== undefined) lines.push(`waits     ${waiting}`)
  if (run.error !== undefined) lines.push(`error     ${run.error}`)
  const steps = entries.filter((entry) =>
    (entry.kind === "step" || entry.kind === "attempt") && entry.compensates === undefined
  )
  if (steps.length > 0) {
    const attempts = new Map<string, number>()
    for (const entry of steps) {
      if (entry.kind === "attempt") attempts.set(entry.path, (attempts.get(entry.path) ?? 0) + 1)
    }
    lines.push(
      "",
      table([
        ["STEP", "RESULT", "STARTED", "DURATION", "ATTEMPT", "ERROR"],
        ...[...steps].sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0)).map((entry) => [
          entry.path,
          entry.kind === "step" ? "completed" : "failed",
          formatTime(entry.startedAt),
          tookText(entry),
          String(entry.kind === "step" ? (attempts.get(entry.path) ?? 0) + 1 : entry.attempt ?? entry.seq + 1),
          entry.error ?? ""
        ])
      ])
    )
  }
  const signals = entries.filter((entry) => entry.kind === "signal")
  if (signals.length > 0) {
    lines.push(
      "",
      table([
        ["SIGNAL", "ARRIVED", "VALUE"],
        ...signals.map((entry) => [entry.path, formatTime(entry.finishedAt), entry.value])
      ])
    )
  }
  lines.push(...compensationLines(detail))
  if (children.runs.length > 0) {
    lines.push(
      "",
      table([
        ["CHILD RUN", "AT", "WORKFLOW", "STATUS"],
        ...children.runs.map((child) => [child.runId, child.path, child.workflow, child.status])
      ])
    )
    if (children.more) lines.push(`(the first ${children.runs.length} children)`)
  }
  if (graph !== undefined && progress !== undefined) {
    for (const node of WorkflowGraph.flatten(graph).filter((node) => node.kind === "forEach")) {
      const items = progress.get(node.path)?.items
      if (items !== undefined && (items.completed > 0 || items.failed > 0)) {
        lines.push("", forEachLine(node.path, items, progress.get(node.path)?.status))
      }
    }
  }
  return lines.map((line) => line.split("\n").map(printable).join("\n")).join("\n")
}

const tookText = (entry: Engine.EntryDetail): string =>
  entry.startedAt === undefined || entry.finishedAt === undefined
    ? "-"
    : formatDuration(entry.finishedAt - entry.startedAt)

/**
 * Why the run compensates (its `compensating` entry), and each compensation: done, or an attempt
 * that failed. A compensable step with no line has not been undone (yet).
 */
const compensationLines = (detail: Engine.RunDetail): ReadonlyArray<string> => {
  const ending = detail.entries.find((entry) => entry.kind === "compensating")
  const ran = detail.entries.filter((entry) => entry.compensates !== undefined)
  const pending = detail.entries.filter((entry) =>
    entry.kind === "compensable" &&
    !ran.some((compensation) => compensation.compensates === entry.path && compensation.kind === "compensated")
  )
  if (ending === undefined && ran.length === 0) return []
  const lines = ["", `compensating because ${endingText(ending)}`]
  const rows = [...ran].sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0)).map((entry) => [
    entry.compensates!,
    entry.kind === "compensated" ? "compensated" : `failed (attempt ${entry.attempt ?? entry.seq + 1})`,
    formatTime(entry.finishedAt),
    tookText(entry),
    entry.error ?? ""
  ])
  for (const entry of pending) rows.push([entry.path, "not compensated", "-", "-", ""])
  if (rows.length > 0) lines.push(table([["COMPENSATION OF", "RESULT", "FINISHED", "TOOK", "ERROR"], ...rows]))
  return lines
}

/**
 * A forEach's progress. The journal records finished items, not how many there are, so while the
 * block runs the bar shows the finished items against those finished plus one still to come; once
 * the block is over it is full. A block the run left unfinished (it failed or was cancelled
 * elsewhere) is `stopped`.
 */
export const forEachLine = (
  path: string,
  items: { readonly completed: number; readonly failed: number },
  status: string | undefined
): string => {
  const finished = items.completed + items.failed
  const over = status === "completed" || status === "failed"
  const width = 30
  const filled = over ? width : Math.floor((finished / (finished + 1)) * width)
  const failedCells = finished === 0 ? 0 : Math.round((items.failed / finished) * filled)
  const bar = "#".repeat(filled - failedCells) + "x".repeat(failedCells) + ".".repeat(width - filled)
  return `forEach ${path}  [${bar}]  ${items.completed} done${items.failed > 0 ? `, ${items.failed} failed` : ""}${
    over ? "" : status === "stopped" ? ", stopped (the run ended first)" : ", running"
  }`
}

/**
 * A text timeline: one row per lane on a shared time axis, idle stretches compressed (`≈` on the
 * ruler). `=` a completed attempt, `x` a failed one, `.` a sleep, `~` a wait for a signal, `!` a
 * signal's arrival, `<` a compensation, `X` a compensation attempt that failed.
 */
export const timelineText = (timeline: Timeline, width: number): string => {
  const axis = axisOf(timeline, 3 / width)
  const span = timeline.end - timeline.start
  const column = (at: number) => Math.min(width - 1, Math.max(0, Math.floor(axis.position(at) * width)))
  const labels = timeline.lanes.map((lane) => printable(lane.label))
  const labelWidth = Math.max(5, ...labels.map((label) => label.length))
  const rows = timeline.lanes.map((lane, i) => {
    const cells = new Array<string>(width).fill(" ")
    const paint = (from: number, to: number, c: string) => {
      for (let x = column(from); x <= column(to); x++) cells[x] = c
    }
    for (const wait of lane.waits) paint(wait.from, wait.until ?? timeline.end, wait.kind === "sleep" ? "." : "~")
    for (const bar of lane.bars) paint(bar.startedAt, bar.finishedAt, bar.outcome === "completed" ? "=" : "x")
    for (const mark of lane.marks) {
      cells[column(mark.at)] = mark.kind === "signal" ? "!" : mark.kind === "compensated" ? "<" : "X"
    }
    return `${labels[i]!.padEnd(labelWidth)} |${cells.join("")}|`
  })
  const header = `${"".padEnd(labelWidth)} ${formatTime(timeline.start)} ... +${formatDuration(span)}`
  const ruler = new Array<string>(width).fill(" ")
  for (const gap of axis.gaps) {
    for (let x = column(gap.from); x <= Math.min(width - 1, column(gap.to)); x++) ruler[x] = "≈"
  }
  const gapsLine = axis.gaps.length === 0
    ? []
    : [
      `${"".padEnd(labelWidth)} |${ruler.join("")}|  ≈ idle, drawn short: ${
        axis.gaps.map((gap) => formatDuration(gap.to - gap.from)).join(", ")
      }`
    ]
  const steps = timeline.lanes.flatMap((lane) =>
    lane.items !== undefined
      ? [[printable(lane.label), `${lane.items} items, one after another`, "", "", ""]]
      : lane.bars.map((bar) => [
        printable(lane.label),
        printable(nameIn(lane.lane, bar.path)),
        `+${formatDuration(bar.startedAt - timeline.start)}`,
        formatDuration(bar.finishedAt - bar.startedAt),
        `attempt ${bar.attempt}${bar.outcome === "failed" ? " failed" : ""}`
      ])
  )
  const legend =
    "= completed attempt   x failed attempt   . sleep   ~ waiting for a signal   ! signal arrived   < compensated   X compensation failed"
  return [
    header,
    ...gapsLine,
    ...rows,
    "",
    legend,
    ...(steps.length > 0 ? ["", table([["LANE", "STEP", "AT", "TOOK", ""], ...steps])] : [])
  ].join("\n")
}
