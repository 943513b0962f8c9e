/**
 * The dashboard's pages, each a list of named sections: the runs (status counts, filters, the
 * table) and a run (summary, actions, timeline, graph, children, input, outputs, errors and the
 * raw journal, the long tables paged). A live page refreshes section by section, so every
 * section is rendered on its own and the layout only places them.
 */
import type { Engine, Journal, RunStore } from "../index.ts"
import { RunStatus, WorkflowGraph } from "../index.ts"
import type { Children } from "../view/children.ts"
import { executorText, leaseExpired } from "../view/execution.ts"
import { endingText, formatTime } from "../view/format.ts"
import type { NodeProgress } from "../view/nodeStatus.ts"
import type { Timeline } from "../view/timeline.ts"
import { assets } from "./assets.ts"
import { type Html, html } from "./html.ts"
import { timelineSvg } from "./timelineSvg.ts"

/** A part of a page the live refresh replaces on its own. */
export interface Section {
  readonly name: string
  readonly body: Html
}

export const layout = (
  base: string,
  title: string,
  sections: ReadonlyArray<Section & { readonly hash: string }>,
  options: { readonly live: boolean; readonly refresh: number }
): Html =>
  html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · plait</title><link rel="stylesheet" href="${base}/assets/dashboard.css?v=${
    assets["dashboard.css"]!.v
  }"></head>
<body data-live="${options.live ? "1" : "0"}" data-base="${base}" data-refresh="${options.refresh}">
<header><a class="brand" href="${base}/">plait</a><span>${title}</span></header>
<main id="main">
<section id="flash" class="flash" role="status" hidden><p class="message"></p><button type="button" class="dismiss" aria-label="dismiss">dismiss</button></section>
<section id="stale" class="stale" role="alert" hidden></section>
${
    sections.map((section) =>
      html`<section data-section="${section.name}" data-hash="${section.hash}" class="${section.name}">${section.body}</section>`
    )
  }
</main>
<script src="${base}/assets/dashboard.js?v=${assets["dashboard.js"]!.v}"></script>
</body></html>`

/** A page with one message: an error, a refusal, a login hint. */
export const messagePage = (base: string, title: string, message: string, link = true): Html =>
  layout(base, title, [{
    name: "summary",
    hash: "",
    body: html`<h1>${title}</h1><p class="error">${message}</p>${
      link ? html`<p><a href="${base}/">all runs</a></p>` : ""
    }`
  }], { live: false, refresh: 0 })

// --- the runs -------------------------------------------------------------------------------

export interface RunsQuery {
  readonly workflow: string | undefined
  readonly status: RunStatus.RunStatus | undefined
  readonly cursor: string | undefined
}

export const runLink = (base: string, runId: string): string => `${base}/runs/${encodeURIComponent(runId)}`

export const runsSections = (
  base: string,
  query: RunsQuery,
  page: RunStore.RunPage,
  counts: RunStore.StatusCounts
): ReadonlyArray<Section> => {
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
  return [
    {
      name: "counts",
      body: html`<a class="count ${query.status === undefined ? "active" : ""}" href="${
        filterLink(undefined)
      }">all <b>${Object.values(counts).reduce((a, b) => a + b, 0)}</b></a>${
        RunStatus.all.map((status) =>
          html`<a class="count status-${status} ${
            query.status === status ? "active" : ""
          }" data-status="${status}" href="${filterLink(status)}">${status} <b>${counts[status]}</b></a>`
        )
      }`
    },
    {
      name: "runs",
      body: html`<form class="filters" method="get" action="${base}/">
  <label>workflow <input name="workflow" value="${query.workflow ?? ""}" placeholder="any"></label>
  <label>status <select name="status"><option value="">any</option>${
        RunStatus.all.map((status) => html`<option ${query.status === status ? html`selected` : ""}>${status}</option>`)
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
              formatTime(run.createdAt)
            }</td><td>${formatTime(run.updatedAt)}</td><td>${run.waitingFor.join(", ")}</td></tr>`
          )
      }</tbody>
</table>
${page.next === undefined ? "" : html`<p><a class="next" href="${base}/?${nextParams.toString()}">next page</a></p>`}`
    }
  ]
}

// --- a run ----------------------------------------------------------------------------------

/** The run page's own parameters: the page of each long table, and a filter on paths. */
export interface RunQuery {
  readonly outputs: number
  readonly errors: number
  readonly journal: number
  /** Only entries whose path contains this. */
  readonly path: string | undefined
}

/** Rows per page of the outputs, errors and journal tables. */
export const rowsPerPage = 100

export interface RunView {
  readonly base: string
  readonly detail: Engine.RunDetail
  readonly graph: WorkflowGraph.Graph | undefined
  readonly statuses: ReadonlyMap<string, NodeProgress>
  readonly timeline: Timeline
  readonly children: Children
  readonly now: number
  readonly query: RunQuery
  /** Signals can be validated (the workflow definition is known to the dashboard). */
  readonly canSignal: boolean
}

/** The table pages a query asks for that do not exist, as a message; undefined when all do. */
export const pageProblem = (detail: Engine.RunDetail, query: RunQuery): string | undefined => {
  const tables = tablesOf(detail, query.path)
  for (const name of ["outputs", "errors", "journal"] as const) {
    const pages = pageCount(tables[name].length)
    if (query[name] > pages) {
      return `there is no page ${query[name]} of ${name}: it has ${pages} page${pages === 1 ? "" : "s"}`
    }
  }
  return undefined
}

interface Tables {
  readonly path: string | undefined
  readonly outputs: ReadonlyArray<Engine.EntryDetail>
  readonly errors: ReadonlyArray<Engine.EntryDetail>
  readonly journal: ReadonlyArray<Engine.EntryDetail>
}

/** Sorted once per request: the page check and the page both read them. */
const sortedTables = new WeakMap<Engine.RunDetail, Tables>()

/** The entries of the tables, in the order they happened (those with no time last), filtered by path. */
const tablesOf = (detail: Engine.RunDetail, path: string | undefined): Tables => {
  const known = sortedTables.get(detail)
  if (known !== undefined && known.path === path) return known
  const matching = path === undefined ? detail.entries : detail.entries.filter((entry) => entry.path.includes(path))
  const entries = [...matching].sort((a, b) => timeOf(a) - timeOf(b))
  const made = {
    path,
    outputs: entries.filter((entry) => entry.kind === "step" && entry.compensates === undefined),
    errors: entries.filter((entry) => entry.kind === "attempt"),
    journal: entries
  }
  sortedTables.set(detail, made)
  return made
}

const timeOf = (entry: Engine.EntryDetail) => entry.startedAt ?? entry.finishedAt ?? Infinity

const pageCount = (rows: number) => Math.max(1, Math.ceil(rows / rowsPerPage))

export const runSections = (view: RunView): ReadonlyArray<Section> => {
  const { base, children, detail, graph, query, statuses, timeline } = view
  const run = detail.run
  const tables = tablesOf(detail, query.path)
  const pageOf = <A>(rows: ReadonlyArray<A>, page: number) => rows.slice((page - 1) * rowsPerPage, page * rowsPerPage)
  const pager = (name: "outputs" | "errors" | "journal", rows: number) => {
    const pages = pageCount(rows)
    if (pages <= 1) return ""
    const at = query[name]
    const link = (page: number) => {
      const params = new URLSearchParams()
      for (const other of ["outputs", "errors", "journal"] as const) {
        const value = other === name ? page : query[other]
        if (value !== 1) params.set(other, String(value))
      }
      if (query.path !== undefined) params.set("path", query.path)
      const search = params.toString()
      return `${runLink(base, run.runId)}${search === "" ? "" : `?${search}`}#${name}`
    }
    return html`<p class="pager" data-pager="${name}">${
      at > 1 ? html`<a href="${link(1)}">first</a> <a class="previous" href="${link(at - 1)}">previous</a>` : ""
    } page ${at} of ${pages} (${rows} rows) ${
      at < pages ? html`<a class="next" href="${link(at + 1)}">next</a> <a href="${link(pages)}">last</a>` : ""
    }</p>`
  }
  return [
    { name: "summary", body: summary(view) },
    { name: "actions", body: actions(view) },
    { name: "timeline", body: html`<h2>timeline</h2>${timelineSvg(timeline)}` },
    {
      name: "graph",
      body: html`<h2>graph</h2>${
        graph === undefined
          ? html`<p class="hint">The run's stored outline cannot be read.</p>`
          : graphHtml(graph, statuses, base, children)
      }`
    },
    { name: "children", body: childrenTable(base, children) },
    {
      name: "io",
      body: html`<h2>input</h2><pre class="input">${pretty(run.input)}</pre>
<form class="pager" method="get" action="${
        runLink(base, run.runId)
      }"><label>paths containing <input name="path" value="${
        query.path ?? ""
      }" placeholder="e.g. packed[17]"></label><button type="submit">filter</button></form>
<h2 id="outputs">outputs</h2>${
        tables.outputs.length === 0 ?
          html`<p class="hint">none${query.path === undefined ? " yet" : " match"}</p>` :
          html`${pager("outputs", tables.outputs.length)}<table class="outputs"><tbody>${
            pageOf(tables.outputs, query.outputs).map((entry) =>
              html`<tr><th>${entry.path}</th><td><pre>${pretty(entry.value)}</pre></td></tr>`
            )
          }</tbody></table>`
      }
${
        tables.errors.length === 0 ?
          "" :
          html`<h2 id="errors">errors</h2>${pager("errors", tables.errors.length)}<table class="errors"><tbody>${
            pageOf(tables.errors, query.errors).map((entry) =>
              html`<tr><th>${
                entry.compensates === undefined ? entry.path : `compensation of ${entry.compensates}`
              } attempt ${entry.attempt ?? entry.seq + 1}</th><td>${entry.error ?? entry.value}</td></tr>`
            )
          }</tbody></table>`
      }`
    },
    {
      name: "journal",
      body: html`<h2 id="journal">journal</h2>${
        pager("journal", tables.journal.length)
      }<table class="journal"><thead><tr><th>path</th><th>kind</th><th>seq</th><th>started</th><th>finished</th><th>value</th></tr></thead><tbody>${
        pageOf(tables.journal, query.journal).map((entry) =>
          html`<tr><td>${entry.path}</td><td>${entry.kind}</td><td>${entry.seq}</td><td>${
            formatTime(entry.startedAt)
          }</td><td>${formatTime(entry.finishedAt)}</td><td><code>${entry.value}</code></td></tr>`
        )
      }</tbody></table>`
    }
  ]
}

const summary = ({ base, children, detail, now }: RunView): Html => {
  const run = detail.run
  const live = RunStatus.isLive(run.status)
  const executor = executorText(run, now)
  const ending = detail.entries.find((entry) => entry.kind === "compensating")
  return html`<h1><span class="run-id">${run.runId}</span> <span class="badge status-${run.status}" id="run-status">${run.status}</span>${
    run.cancelRequested && run.status !== "cancelled" ? html` <small>cancel requested</small>` : ""
  }</h1>
  <dl>
    <dt>workflow</dt><dd>${run.workflow}</dd>
    ${
    run.parentRunId === undefined
      ? ""
      : html`<dt>parent</dt><dd><a class="parent" href="${runLink(base, run.parentRunId)}">${run.parentRunId}</a></dd>`
  }
    ${
    children.runs.length === 0
      ? ""
      : html`<dt>children</dt><dd><a href="#children">${children.runs.length}${children.more ? "+" : ""} child run${
        children.runs.length === 1 ? "" : "s"
      }</a></dd>`
  }
    <dt>created</dt><dd>${formatTime(run.createdAt)}</dd>
    <dt>updated</dt><dd>${formatTime(run.updatedAt)}</dd>
    <dt>executions</dt><dd class="${leaseExpired(run, now) ? "expired" : ""}">${run.executions}${
    executor === undefined ? "" : ` (${executor})`
  }</dd>
    ${
    run.waitingFor.length === 0 || !live ?
      "" :
      html`<dt>waits for</dt><dd class="waiting-for">${run.waitingFor.join(", ")}${
        run.wakeAt === undefined ? "" : html` until ${formatTime(run.wakeAt)}`
      }</dd>`
  }
    ${run.error === undefined ? "" : html`<dt>error</dt><dd class="error">${run.error}</dd>`}
    ${ending === undefined ? "" : html`<dt>compensating</dt><dd class="compensating">${endingText(ending)}</dd>`}
  </dl>`
}

const actions = ({ canSignal, detail }: RunView): Html => {
  const run = detail.run
  const live = RunStatus.isLive(run.status)
  if (!live && run.status !== "failed") return html``
  return html`<div class="actions" data-run-id="${run.runId}">${
    live && canSignal
      ? html`<form class="signal" data-action="signal">
    <input name="name" placeholder="signal path" value="${signalGuess(run)}" aria-label="signal name">
    <input name="value" placeholder='JSON value, e.g. {"approved":true}' aria-label="signal value">
    <button type="submit">send signal</button></form>`
      : live
      ? html`<p class="hint">To send signals, mount the dashboard with this workflow (or start it with --workflow).</p>`
      : ""
  }
  ${live ? html`<button type="button" data-action="cancel" class="danger">cancel run</button>` : ""}
  ${
    run.status === "failed" || run.status === "sleeping" || run.status === "waiting"
      ? html`<button type="button" data-action="resume">resume now</button>`
      : ""
  }</div>`
}

const childrenTable = (base: string, children: Children): Html =>
  children.runs.length === 0 ?
    html`` :
    html`<h2 id="children">child runs</h2><table class="children"><thead><tr><th>run</th><th>at</th><th>workflow</th><th>status</th></tr></thead><tbody>${
      children.runs.slice(0, rowsPerPage).map((child) =>
        html`<tr data-run-id="${child.runId}"><td><a href="${
          runLink(base, child.runId)
        }">${child.runId}</a></td><td>${child.path}</td><td>${child.workflow}</td><td><span class="badge status-${child.status}">${child.status}</span></td></tr>`
      )
    }</tbody></table>${
      children.runs.length > rowsPerPage || children.more
        ? html`<p class="hint">The first ${
          Math.min(children.runs.length, rowsPerPage)
        } children; <code>plait runs list</code> and the runs page find the others by id.</p>`
        : ""
    }`

const signalGuess = (run: Journal.RunInfo) => run.status === "waiting" ? run.waitingFor[0] ?? "" : ""

const pretty = (json: string): string => {
  try {
    return JSON.stringify(JSON.parse(json), null, 2)
  } catch {
    return json
  }
}

// --- graph ----------------------------------------------------------------------------------

/**
 * The graph as nested boxes: sequences top to bottom, branches side by side, coloured by status;
 * compensable steps marked ↺ (filled once compensated); child nodes link to their runs.
 */
export const graphHtml = (
  graph: WorkflowGraph.Graph,
  statuses: ReadonlyMap<string, NodeProgress>,
  base: string,
  children: Children
): Html => {
  const statusOf = (path: string) => statuses.get(path)?.status ?? "pending"
  const sequence = (nodes: ReadonlyArray<WorkflowGraph.Node>): Html => html`<div class="seq">${nodes.map(node)}</div>`
  const undo = (progress: NodeProgress | undefined) =>
    progress?.compensable !== true
      ? ""
      : progress.compensation === "compensated"
      ? html`<span class="undo done" title="compensated">↺ undone</span>`
      : progress.compensation === "failed"
      ? html`<span class="undo failed" title="its compensation failed">↺ failed</span>`
      : html`<span class="undo" title="compensable: undone if the run fails for good or is cancelled">↺</span>`
  const childLink = (n: WorkflowGraph.Node) => {
    const runs = children.runs.filter((child) => child.node === n.path)
    if (runs.length === 0) return ""
    return runs.length === 1
      ? html` <a class="child-run" href="${runLink(base, runs[0]!.runId)}">${runs[0]!.runId}</a>`
      : html` <a class="child-run" href="#children">${runs.length} runs</a>`
  }
  const node = (n: WorkflowGraph.Node): Html => {
    const status = statusOf(n.path)
    const detail = n.detail === undefined ? "" : html` <small>${n.detail}</small>`
    if (n.branches.length === 0 && n.kind !== "forEach") {
      return html`<div class="gnode ${n.kind} ${status}" data-path="${n.path}" data-status="${status}" title="${n.path}: ${status}">${
        n.kind === "sleep" ? "⏱ " : n.kind === "signal" ? "✉ " : ""
      }${n.name}${detail}${undo(statuses.get(n.path))}${n.kind === "child" ? childLink(n) : ""}</div>`
    }
    const items = statuses.get(n.path)?.items
    const head = n.kind === "forEach" && items !== undefined
      ? html`${n.name} (for each)${detail} <small class="items">${items.completed} done${
        items.failed > 0 ? `, ${items.failed} failed` : ""
      }${status === "stopped" ? ", stopped" : ""}</small>`
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
