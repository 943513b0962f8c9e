/**
 * The dashboard's style sheet and its one script, served as files of the dashboard itself (its
 * Content-Security-Policy allows scripts and styles from the dashboard's own origin only, never
 * inline): no build step, nothing loaded from anywhere else. Their URLs carry a hash of their
 * text, so a browser may keep them until the dashboard changes.
 */
import { createHash } from "node:crypto"

export const styles = `
:root { --fg:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff;
  --completed:#16a34a; --running:#2563eb; --waiting:#d97706; --sleeping:#ca8a04; --failed:#dc2626;
  --cancelled:#6b7280; --queued:#7c3aed; --retried:#ea580c; --stopped:#9f1239; --undo:#0e7490; }
* { box-sizing: border-box; } [hidden] { display:none !important; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:16px; align-items:center; padding:10px 20px; background:#0f172a; color:#e2e8f0; }
header .brand { color:#fff; font-weight:700; text-decoration:none; letter-spacing:.5px; }
main { padding:16px 20px; max-width:1200px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; margin-bottom:14px; overflow-x:auto; }
section:empty { display:none; }
h1 { font-size:18px; margin:0 0 8px; } h2 { font-size:14px; margin:4px 0 8px; color:var(--muted); text-transform:uppercase; letter-spacing:.6px; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; margin:0; } dt { color:var(--muted); } dd { margin:0; }
table { border-collapse:collapse; width:100%; } th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; } td.empty { color:var(--muted); text-align:center; }
pre, code { font:12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; white-space:pre-wrap; word-break:break-all; margin:0; }
a { color:#1d4ed8; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; color:#fff; background:var(--muted); }
.status-completed { background:var(--completed); } .status-running { background:var(--running); } .status-waiting { background:var(--waiting); }
.status-sleeping { background:var(--sleeping); } .status-failed { background:var(--failed); } .status-cancelled { background:var(--cancelled); }
.status-queued { background:var(--queued); }
.counts { display:flex; flex-wrap:wrap; gap:8px; }
.count { padding:4px 10px; border-radius:6px; text-decoration:none; color:var(--fg); border:1px solid var(--line); background:#fff; }
.count.status-completed, .count.status-running, .count.status-waiting, .count.status-sleeping, .count.status-failed, .count.status-cancelled, .count.status-queued { background:#fff; border-left:4px solid; }
.count.status-completed { border-left-color:var(--completed); } .count.status-running { border-left-color:var(--running); }
.count.status-waiting { border-left-color:var(--waiting); } .count.status-sleeping { border-left-color:var(--sleeping); }
.count.status-failed { border-left-color:var(--failed); } .count.status-cancelled { border-left-color:var(--cancelled); } .count.status-queued { border-left-color:var(--queued); }
.count.active { outline:2px solid #1d4ed8; }
.filters { display:flex; gap:12px; align-items:end; margin:0 0 14px; }
input, select, button { font:inherit; padding:4px 8px; border:1px solid #cbd5e1; border-radius:6px; background:#fff; }
button { cursor:pointer; background:#1d4ed8; color:#fff; border-color:#1d4ed8; } button.danger { background:var(--failed); border-color:var(--failed); }
.actions { display:flex; flex-wrap:wrap; gap:10px; align-items:center; } .actions form { display:flex; gap:6px; }
.actions input[name=value] { width:260px; } .hint { color:var(--muted); margin:0; }
.flash { display:flex; gap:12px; align-items:start; justify-content:space-between; border-left:4px solid var(--running); }
.flash.failed { border-left-color:var(--failed); } .flash.failed .message { color:var(--failed); }
.flash .message { margin:0; white-space:pre-wrap; } .flash button.dismiss { background:#fff; color:var(--fg); border-color:#cbd5e1; }
.stale { border-left:4px solid var(--waiting); color:#92400e; }
.error { color:var(--failed); white-space:pre-wrap; } .expired { color:var(--stopped); }
.pager { display:flex; gap:10px; align-items:center; margin:6px 0; color:var(--muted); }
.pager form { display:flex; gap:6px; }
svg.timeline { font:11px system-ui, sans-serif; min-width:700px; }
svg.timeline .tick line { stroke:var(--line); } svg.timeline .tick text { fill:var(--muted); }
svg.timeline .lane-label { fill:var(--fg); } svg.timeline .lane.folded .lane-label { fill:var(--muted); }
svg.timeline .bar.completed { fill:var(--completed); } svg.timeline .bar.failed { fill:var(--failed); opacity:.85; }
svg.timeline .wait { stroke-width:3; stroke-dasharray:4 3; } svg.timeline .wait-sleep { stroke:var(--sleeping); } svg.timeline .wait-signal { stroke:var(--waiting); }
svg.timeline .signal-mark { fill:#7c3aed; }
svg.timeline .compensation-mark { fill:var(--undo); } svg.timeline .compensation-mark.failed { fill:var(--failed); }
svg.timeline .gap rect { fill:#f1f5f9; } svg.timeline .gap path { stroke:#94a3b8; fill:none; } svg.timeline .gap text { fill:var(--muted); }
.graph { padding:6px 0; }
.seq { display:flex; flex-direction:column; align-items:center; gap:14px; position:relative; }
.seq > * + *::before { content:""; position:absolute; margin-top:-14px; height:14px; border-left:2px solid #94a3b8; left:50%; }
.seq > * { position:relative; }
.gnode { padding:5px 12px; border-radius:6px; border:2px solid #cbd5e1; background:#fff; white-space:nowrap; }
.gnode.sleep, .gnode.signal { border-radius:999px; border-style:dashed; } .gnode.child { border-style:double; border-width:4px; }
.gnode .undo { color:var(--undo); font-weight:700; margin-left:6px; } .gnode .undo.done { color:#fff; background:var(--undo); border-radius:4px; padding:0 4px; }
.gnode .undo.failed { color:#fff; background:var(--failed); border-radius:4px; padding:0 4px; }
.gblock { border:2px solid #a5b4fc; border-radius:10px; padding:6px; background:#eef2ff; display:flex; flex-direction:column; align-items:center; gap:8px; }
.gblock.race { border-style:dotted; } .gblock.branch { border-color:#f0abfc; background:#fdf4ff; } .gblock.forEach { border-color:#67e8f9; background:#ecfeff; }
.ghead { font-weight:600; font-size:12px; }
.branches { display:flex; gap:10px; align-items:flex-start; }
.branch { display:flex; flex-direction:column; align-items:center; gap:6px; padding:6px; border:1px dashed #cbd5e1; border-radius:8px; background:#fff; }
.branch > .key { font-size:11px; color:var(--muted); }
.completed.gnode, .gblock.completed { border-color:var(--completed); } .gnode.completed { background:#dcfce7; }
.running.gnode, .gblock.running { border-color:var(--running); } .gnode.running { background:#dbeafe; }
.waiting.gnode, .gblock.waiting { border-color:var(--waiting); } .gnode.waiting { background:#fef3c7; }
.failed.gnode, .gblock.failed { border-color:var(--failed); } .gnode.failed { background:#fee2e2; }
.stopped.gnode, .gblock.stopped { border-color:var(--stopped); border-style:dashed; } .gnode.stopped { background:#ffe4e6; }
.retried.gnode { border-color:var(--retried); background:#ffedd5; }
.skipped.gnode { color:#94a3b8; border-color:#e2e8f0; background:#f8fafc; }
`

/**
 * Refreshes a live page section by section: it tells the server the hash of each section it
 * shows, and the server answers with only the sections that changed (a section someone is typing
 * into is left alone). Sends the actions as POSTs with a custom header, which a cross-site form
 * or link cannot send; their outcome stays on the page until dismissed.
 */
export const pageScript = `
(() => {
  const body = document.body
  const base = body.dataset.base
  const flash = document.getElementById("flash")
  const stale = document.getElementById("stale")
  const show = (message, failed) => {
    flash.hidden = false
    flash.classList.toggle("failed", failed)
    flash.querySelector(".message").textContent = message
  }
  flash.querySelector("button.dismiss").addEventListener("click", () => { flash.hidden = true })
  const typingIn = (section) => {
    const active = document.activeElement
    return active && section.contains(active) && ["INPUT", "SELECT", "TEXTAREA"].includes(active.tagName)
  }
  let refreshing = false
  const refresh = async () => {
    if (refreshing) return
    refreshing = true
    try {
      const have = [...document.querySelectorAll("[data-section]")]
        .map((section) => section.dataset.section + "=" + section.dataset.hash).join(",")
      const response = await fetch(location.href, { headers: { "x-plait-have": have }, cache: "no-store" })
      if (!response.ok) {
        stale.hidden = false
        stale.textContent = "Not refreshed: " + (await response.text())
        return
      }
      stale.hidden = true
      const update = await response.json()
      for (const [name, part] of Object.entries(update.sections)) {
        const section = [...document.querySelectorAll("[data-section]")].find((s) => s.dataset.section === name)
        if (!section || typingIn(section)) continue
        section.innerHTML = part.html
        section.dataset.hash = part.hash
      }
      body.dataset.live = update.live ? "1" : "0"
    } catch (error) {
      stale.hidden = false
      stale.textContent = "Not refreshed: the dashboard cannot be reached (" + error + ")"
    } finally {
      refreshing = false
    }
  }
  setInterval(() => { if (body.dataset.live === "1") refresh() }, Number(body.dataset.refresh || 1000))
  const act = async (section, action, payload) => {
    const runId = section.dataset.runId
    try {
      const response = await fetch(base + "/runs/" + encodeURIComponent(runId) + "/" + action, {
        method: "POST",
        headers: { "content-type": "application/json", "x-plait-action": "1" },
        body: JSON.stringify(payload)
      })
      show(await response.text(), !response.ok)
    } catch (error) {
      show("The dashboard cannot be reached: " + error, true)
    }
    body.dataset.live = "1"
    await refresh()
  }
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-action]")
    if (!form) return
    event.preventDefault()
    const data = new FormData(form)
    act(form.closest(".actions"), form.dataset.action, { name: data.get("name"), value: data.get("value") })
  })
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]")
    if (!button) return
    if (button.dataset.action === "cancel" && !confirm("Cancel this run?")) return
    act(button.closest(".actions"), button.dataset.action, {})
  })
})()
`

const version = (text: string) => createHash("sha256").update(text).digest("base64url").slice(0, 12)

/** The assets by file name, each with its content type and the version its URL carries. */
export const assets: Readonly<Record<string, { readonly text: string; readonly type: string; readonly v: string }>> = {
  "dashboard.css": { text: styles, type: "text/css; charset=utf-8", v: version(styles) },
  "dashboard.js": { text: pageScript, type: "text/javascript; charset=utf-8", v: version(pageScript) }
}
