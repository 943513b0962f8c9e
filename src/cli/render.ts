/**
 * The CLI's text output: tables of runs, a run's details, its timeline with one lane per branch,
 * and the live view of `runs watch`. Pure functions of what the engine returned.
 */
import type { Engine, Journal, RunStore } from "../index.ts"
import { WorkflowGraph } from "../index.ts"
import type { NodeProgress } from "../view/nodeStatus.ts"
import { nameIn, type Timeline } from "../view/timeline.ts"

export const formatTime = (ms: number | undefined): string =>
  ms === undefined ? "-" : new Date(ms).toISOString().replace("T", " ").replace("Z", "")

export const formatDuration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`
  return `${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`
}

/** Columns padded to their widest cell. */
export const table = (cells: ReadonlyArray<ReadonlyArray<string>>): string => {
  const rows = cells.map((row) => row.map(printable))
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? []
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
      run.waitingFor ?? ""
    ])
  ]
  const lines = [page.runs.length === 0 ? "no runs match" : table(rows), "", `all runs: ${countsLine(counts)}`]
  if (page.next !== undefined) lines.push(`more: --cursor ${page.next}`)
  return lines.join("\n")
}

const waitText = (run: Journal.RunInfo): string | undefined => {
  if (run.status === "sleeping") return `sleeping at ${run.waitingFor ?? "?"} until ${formatTime(run.wakeAt)}`
  if (run.status === "waiting") {
    const deadline = run.wakeAt === undefined ? "" : ` (deadline ${formatTime(run.wakeAt)})`
    return `waiting for signal ${run.waitingFor ?? "?"}${deadline}`
  }
  return undefined
}

export const runText = (
  detail: Engine.RunDetail,
  progress: ReadonlyMap<string, NodeProgress> | undefined,
  graph: WorkflowGraph.Graph | undefined
): string => {
  const { entries, run } = detail
  const lines = [
    `run       ${run.runId}`,
    `workflow  ${run.workflow}`,
    `status    ${run.status}${run.cancelRequested && run.status !== "cancelled" ? " (cancel requested)" : ""}`,
    `created   ${formatTime(run.createdAt)}`,
    `updated   ${formatTime(run.updatedAt)}`,
    `executed  ${run.executions} time(s)${run.owner === undefined ? "" : `, now by ${run.owner}`}`,
    `input     ${run.input}`
  ]
  const waiting = waitText(run)
  if (waiting !== undefined) lines.push(`waits     ${waiting}`)
  if (run.error !== undefined) lines.push(`error     ${run.error}`)
  const steps = entries.filter((entry) => entry.kind === "step" || entry.kind === "attempt")
  if (steps.length > 0) {
    const attempts = new Map<string, number>()
    for (const entry of entries) {
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
          entry.startedAt === undefined || entry.finishedAt === undefined
            ? "-"
            : formatDuration(entry.finishedAt - entry.startedAt),
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

/**
 * A forEach's progress. The journal records finished items, not how many there are, so while the
 * block runs the bar shows the finished items against those finished plus one still to come; once
 * the block is over it is full.
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
    over ? "" : ", running"
  }`
}

/**
 * A text timeline: one row per lane on a shared time axis. `=` a completed attempt, `x` a failed
 * one, `.` a sleep, `~` a wait for a signal, `!` a signal's arrival.
 */
export const timelineText = (timeline: Timeline, width: number): string => {
  const span = timeline.end - timeline.start
  const column = (at: number) => Math.min(width - 1, Math.max(0, Math.floor(((at - timeline.start) / span) * width)))
  const labels = timeline.lanes.map((lane) => printable(lane.lane === "" ? "(run)" : lane.lane))
  const labelWidth = Math.max(5, ...labels.map((label) => label.length))
  const rows = timeline.lanes.map((lane, i) => {
    const cells = new Array<string>(width).fill(" ")
    const paint = (from: number, to: number, c: string) => {
      for (let x = column(from); x <= column(to); x++) cells[x] = c
    }
    for (const wait of lane.waits) paint(wait.from, wait.until ?? timeline.end, wait.kind === "sleep" ? "." : "~")
    for (const bar of lane.bars) paint(bar.startedAt, bar.finishedAt, bar.outcome === "completed" ? "=" : "x")
    for (const mark of lane.marks) cells[column(mark.at)] = "!"
    return `${labels[i]!.padEnd(labelWidth)} |${cells.join("")}|`
  })
  const axis = `${"".padEnd(labelWidth)} ${formatTime(timeline.start)} ... +${formatDuration(span)}`
  const steps = timeline.lanes.flatMap((lane) =>
    lane.bars.map((bar) => [
      printable(lane.lane === "" ? "(run)" : lane.lane),
      printable(nameIn(lane.lane, bar.path)),
      `+${formatDuration(bar.startedAt - timeline.start)}`,
      formatDuration(bar.finishedAt - bar.startedAt),
      `attempt ${bar.attempt}${bar.outcome === "failed" ? " failed" : ""}`
    ])
  )
  const legend = "= completed attempt   x failed attempt   . sleep   ~ waiting for a signal   ! signal arrived"
  return [
    axis,
    ...rows,
    "",
    legend,
    ...(steps.length > 0 ? ["", table([["LANE", "STEP", "AT", "TOOK", ""], ...steps])] : [])
  ].join("\n")
}
