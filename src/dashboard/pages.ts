/**
 * The dashboard's pages: the runs list with filters and status counts, and a run with its
 * timeline, its graph coloured by status, its input, outputs and errors, and its raw journal.
 */
import type { Engine, Journal, RunStore } from "../index.ts"
import { RunStatus, WorkflowGraph } from "../index.ts"
import { type NodeProgress, nodeStatuses } from "../view/nodeStatus.ts"
import { nameIn, type Timeline, timelineOf } from "../view/timeline.ts"
import { pageScript, styles } from "./assets.ts"
import { constant, type Html, html } from "./html.ts"

const time = (
  ms: number | undefined
) => (ms === undefined ? "" : new Date(ms).toISOString().replace("T", " ").replace("Z", ""))

const duration = (ms: number): string =>
  ms < 1000
    ? `${Math.round(ms)}ms`
    : ms < 60_000
    ? `${(ms / 1000).toFixed(1)}s`
    : ms < 3_600_000
    ? `${(ms / 60_000).toFixed(1)}m`
    : `${(ms / 3_600_000).toFixed(1)}h`

export const layout = (base: string, title: string, body: Html, live: boolean): Html =>
  html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · plait</title><style>${constant(styles)}</style></head>
<body data-live="${live ? "1" : "0"}" data-base="${base}">
<header><a class="brand" href="${base}/">plait</a><span>${title}</span></header>
<main id="main">${body}</main>
<script>${constant(pageScript)}</script>
</body></html>`

export interface RunsQuery {
  readonly workflow: string | undefined
  readonly status: RunStatus.RunStatus | undefined
  readonly cursor: string | undefined
}

const runLink = (base: string, runId: string) => `${base}/runs/${encodeURIComponent(runId)}`

export const runsPage = (
  base: string,
  query: RunsQuery,
  page: RunStore.RunPage,
  counts: RunStore.StatusCounts
): Html => {
  const filterLink = (status: RunStatus.RunStatus | undefined) => {
    const params = new URLSearchParams()
    if (query.workflow !== undefined) params.set("workflow", query.workflow)
    if (status !== undefined) params.set("status", status)
    const search = params.toString()
    return `${base}/${search === "" ? "" : `?${search}`}`
  }
  const nextParams = new URLSearchParams()
  if (query.workflow !== undefined) nextParams.set("workflow", query.workflow)
  if (query.status !== undefined) nextParams.set("status", query.status)
  if (page.next !== undefined) nextParams.set("cursor", page.next)
  return html`
<section class="counts">
  <a class="count ${query.status === undefined ? "active" : ""}" href="${filterLink(undefined)}">all <b>${
    Object.values(counts).reduce((a, b) => a + b, 0)
  }</b></a>
  ${
    RunStatus.all.map((status) =>
      html`<a class="count status-${status} ${query.status === status ? "active" : ""}" data-status="${status}" href="${
        filterLink(status)
      }">${status} <b>${counts[status]}</b></a>`
    )
  }
</section>
<form class="filters" method="get" action="${base}/">
  <label>workflow <input name="workflow" value="${query.workflow ?? ""}" placeholder="any"></label>
  <label>status <select name="status"><option value="">any</option>${
    RunStatus.all.map((status) =>
      html`<option ${query.status === status ? constant("selected") : ""}>${status}</option>`
    )
  }</select></label>
  <button type="submit">filter</button>
</form>
<table class="runs">
  <thead><tr><th>run</th><th>workflow</th><th>status</th><th>created</th><th>updated</th><th>waiting for</th></tr></thead>
  <tbody>${
    page.runs.length === 0
      ? html`<tr><td colspan="6" class="empty">no runs match</td></tr>`
      : page.runs.map((run) =>
        html`<tr data-run-id="${run.runId}"><td><a href="${
          runLink(base, run.runId)
        }">${run.runId}</a></td><td>${run.workflow}</td><td><span class="badge status-${run.status}">${run.status}</span></td><td>${
          time(run.createdAt)
        }</td><td>${time(run.updatedAt)}</td><td>${run.waitingFor ?? ""}</td></tr>`
      )
  }</tbody>
</table>
${page.next === undefined ? "" : html`<p><a class="next" href="${base}/?${nextParams.toString()}">next page</a></p>`}`
}

export interface RunPageOptions {
  /** Signals can be validated (the workflow definition is known to the dashboard). */
  readonly canSignal: boolean
  readonly notice: string | undefined
}

export const runPage = (
  detail: Engine.RunDetail,
  graph: WorkflowGraph.Graph | undefined,
  now: number,
  options: RunPageOptions
): Html => {
  const { entries, run } = detail
  const statuses = graph === undefined ? new Map<string, NodeProgress>() : nodeStatuses(graph, detail, now)
  const timeline = timelineOf(detail, now, graph)
  const outputs = entries.filter((entry) => entry.kind === "step")
  const failures = entries.filter((entry) => entry.kind === "attempt")
  const live = RunStatus.isLive(run.status)
  return html`
<section class="summary" data-status="${run.status}">
  <h1><span class="run-id">${run.runId}</span> <span class="badge status-${run.status}" id="run-status">${run.status}</span></h1>
  <dl>
    <dt>workflow</dt><dd>${run.workflow}</dd>
    <dt>created</dt><dd>${time(run.createdAt)}</dd>
    <dt>updated</dt><dd>${time(run.updatedAt)}</dd>
    <dt>executions</dt><dd>${run.executions}${run.owner === undefined ? "" : html` (now on ${run.owner})`}</dd>
    ${
    run.waitingFor === undefined || !live ?
      "" :
      html`<dt>waits for</dt><dd class="waiting-for">${run.waitingFor}${
        run.wakeAt === undefined ? "" : html` until ${time(run.wakeAt)}`
      }</dd>`
  }
    ${run.error === undefined ? "" : html`<dt>error</dt><dd class="error">${run.error}</dd>`}
  </dl>
  ${options.notice === undefined ? "" : html`<p class="notice">${options.notice}</p>`}
</section>
<section class="actions${live || run.status === "failed" ? "" : " empty"}" data-run-id="${run.runId}">
  ${
    live && options.canSignal
      ? html`<form class="signal" data-action="signal">
    <input name="name" placeholder="signal path" value="${signalGuess(run)}" aria-label="signal name">
    <input name="value" placeholder='JSON value, e.g. {"approved":true}' aria-label="signal value">
    <button type="submit">send signal</button></form>`
      : live
      ? html`<p class="hint">To send signals, mount the dashboard with this workflow (or start it with --workflow).</p>`
      : ""
  }
  ${live ? html`<button data-action="cancel" class="danger">cancel run</button>` : ""}
  ${
    run.status === "failed" || run.status === "sleeping" || run.status === "waiting"
      ? html`<button data-action="resume">resume now</button>`
      : ""
  }
  <p class="action-result" role="status"></p>
</section>
<section><h2>timeline</h2>${timelineSvg(timeline)}</section>
<section><h2>graph</h2>${
    graph === undefined
      ? html`<p class="hint">The run's stored outline cannot be read.</p>`
      : graphHtml(graph, statuses)
  }</section>
<section class="io"><h2>input</h2><pre class="input">${pretty(run.input)}</pre>
<h2>outputs</h2>${
    outputs.length === 0 ?
      html`<p class="hint">none yet</p>` :
      html`<table class="outputs"><tbody>${
        outputs.map((entry) => html`<tr><th>${entry.path}</th><td><pre>${pretty(entry.value)}</pre></td></tr>`)
      }</tbody></table>`
  }
${
    failures.length === 0 ?
      "" :
      html`<h2>errors</h2><table class="errors"><tbody>${
        failures.map((entry) =>
          html`<tr><th>${entry.path} attempt ${entry.attempt ?? entry.seq + 1}</th><td>${
            entry.error ?? entry.value
          }</td></tr>`
        )
      }</tbody></table>`
  }</section>
<section><h2>journal</h2><table class="journal"><thead><tr><th>path</th><th>kind</th><th>seq</th><th>started</th><th>finished</th><th>value</th></tr></thead><tbody>${
    entries.map((entry) =>
      html`<tr><td>${entry.path}</td><td>${entry.kind}</td><td>${entry.seq}</td><td>${time(entry.startedAt)}</td><td>${
        time(entry.finishedAt)
      }</td><td><code>${entry.value}</code></td></tr>`
    )
  }</tbody></table></section>`
}

const signalGuess = (
  run: Journal.RunInfo
) => (run.status === "waiting" ? (run.waitingFor ?? "").split(", ")[0] ?? "" : "")

const pretty = (json: string): string => {
  try {
    return JSON.stringify(JSON.parse(json), null, 2)
  } catch {
    return json
  }
}

// --- timeline -------------------------------------------------------------------------------

const laneHeight = 30
const labelWidth = 180
const chartWidth = 820

/** An absolute time axis, one row per lane: a bar per attempt, waits as dashed gaps, signal marks. */
export const timelineSvg = (timeline: Timeline): Html => {
  const span = timeline.end - timeline.start
  const x = (at: number) => labelWidth + ((at - timeline.start) / span) * chartWidth
  const width = labelWidth + chartWidth + 10
  const height = 24 + timeline.lanes.length * laneHeight
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => timeline.start + f * span)
  return html`<svg class="timeline" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="run timeline">
${
    ticks.map((at, i) =>
      html`<g class="tick"><line x1="${x(at)}" x2="${x(at)}" y1="14" y2="${height}"/><text x="${
        x(at)
      }" y="10" text-anchor="${i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle"}">${
        i === 0 ? time(at) : `+${duration(at - timeline.start)}`
      }</text></g>`
    )
  }
${
    timeline.lanes.map((lane, i) => {
      const y = 20 + i * laneHeight
      return html`<g class="lane" data-lane="${lane.lane === "" ? "(run)" : lane.lane}">
<text class="lane-label" x="4" y="${y + 18}">${truncate(lane.lane === "" ? "(run)" : lane.lane, 26)}</text>
${
        lane.waits.map((wait) =>
          html`<line class="wait wait-${wait.kind}${wait.open ? " open" : ""}" x1="${x(wait.from)}" x2="${
            x(wait.until ?? timeline.end)
          }" y1="${y + 14}" y2="${y + 14}"><title>${
            wait.kind === "sleep" ? "sleep" : "waiting for signal"
          } ${wait.path}</title></line>`
        )
      }
${
        lane.bars.map((bar) =>
          html`<rect class="bar ${bar.outcome}" data-path="${bar.path}" data-attempt="${bar.attempt}" x="${
            x(bar.startedAt)
          }" y="${y + 5}" width="${Math.max(2, x(bar.finishedAt) - x(bar.startedAt))}" height="18" rx="3"><title>${
            nameIn(lane.lane, bar.path)
          } attempt ${bar.attempt} ${bar.outcome}, ${duration(bar.finishedAt - bar.startedAt)}${
            bar.error === undefined ? "" : `: ${bar.error}`
          }</title></rect>`
        )
      }
${
        lane.marks.map((mark) =>
          html`<path class="signal-mark" data-path="${mark.path}" d="M ${x(mark.at) - 5} ${y + 2} L ${x(mark.at) + 5} ${
            y + 2
          } L ${x(mark.at)} ${y + 11} Z"><title>signal ${mark.path} arrived ${time(mark.at)}</title></path>`
        )
      }
</g>`
    })
  }
</svg>`
}

const truncate = (text: string, max: number) => (text.length <= max ? text : `…${text.slice(text.length - max + 1)}`)

// --- graph ----------------------------------------------------------------------------------

/** The graph as nested boxes: sequences top to bottom, branches side by side, coloured by status. */
export const graphHtml = (graph: WorkflowGraph.Graph, statuses: ReadonlyMap<string, NodeProgress>): Html => {
  const statusClass = (path: string) => {
    const status = statuses.get(path)?.status
    return status === undefined ? "pending" : status
  }
  const sequence = (nodes: ReadonlyArray<WorkflowGraph.Node>): Html => html`<div class="seq">${nodes.map(node)}</div>`
  const node = (n: WorkflowGraph.Node): Html => {
    const status = statusClass(n.path)
    const detail = n.detail === undefined ? "" : html` <small>${n.detail}</small>`
    if (n.branches.length === 0 && n.kind !== "forEach") {
      return html`<div class="gnode ${n.kind} ${status}" data-path="${n.path}" data-status="${status}" title="${n.path}: ${status}">${
        n.kind === "sleep" ? "⏱ " : n.kind === "signal" ? "✉ " : ""
      }${n.name}${detail}</div>`
    }
    const items = statuses.get(n.path)?.items
    const head = n.kind === "forEach" && items !== undefined
      ? html`${n.name} (for each)${detail} <small class="items">${items.completed} done${
        items.failed > 0 ? `, ${items.failed} failed` : ""
      }</small>`
      : html`${n.name} (${n.kind})${detail}`
    return html`<div class="gblock ${n.kind} ${status}" data-path="${n.path}" data-status="${status}"><div class="ghead">${head}</div><div class="branches">${
      n.branches.map((branch) =>
        html`<div class="branch"><div class="key">${branch.key === "[]" ? "each item" : branch.key}</div>${
          sequence(branch.nodes)
        }</div>`
      )
    }</div>${n.kind === "chord" ? html`<div class="gnode step ${status}">${n.name} callback</div>` : ""}</div>`
  }
  return html`<div class="graph">${sequence(graph.nodes)}</div>`
}

export const graphOfRun = (
  run: Journal.RunInfo,
  known: ReadonlyMap<string, WorkflowGraph.Graph>
): WorkflowGraph.Graph | undefined => {
  const definition = known.get(run.workflow)
  if (definition !== undefined) return definition
  const stored = WorkflowGraph.fromFingerprint(run.workflow, run.fingerprint)
  return stored._tag === "Some" ? stored.value : undefined
}

export const errorPage = (base: string, status: number, message: string): Html =>
  layout(
    base,
    `${status}`,
    html`<section class="summary"><h1>${status}</h1><p class="error">${message}</p><p><a href="${base}/">all runs</a></p></section>`,
    false
  )
