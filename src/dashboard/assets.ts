/**
 * The dashboard's style sheet and its one script, inlined into every page: the dashboard needs
 * no build step and loads nothing from anywhere else.
 */

export const styles = `
:root { --fg:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff;
  --completed:#16a34a; --running:#2563eb; --waiting:#d97706; --sleeping:#ca8a04; --failed:#dc2626;
  --cancelled:#6b7280; --queued:#7c3aed; --retried:#ea580c; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:16px; align-items:center; padding:10px 20px; background:#0f172a; color:#e2e8f0; }
header .brand { color:#fff; font-weight:700; text-decoration:none; letter-spacing:.5px; }
main { padding:16px 20px; max-width:1200px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; margin-bottom:14px; overflow-x:auto; }
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
.actions.empty { display:none; }
.actions { display:flex; flex-wrap:wrap; gap:10px; align-items:center; } .actions form { display:flex; gap:6px; }
.actions input[name=value] { width:260px; } .hint { color:var(--muted); margin:0; } .notice, .action-result { margin:0; color:#1d4ed8; }
.error { color:var(--failed); }
svg.timeline { font:11px system-ui, sans-serif; min-width:700px; }
svg.timeline .tick line { stroke:var(--line); } svg.timeline .tick text { fill:var(--muted); }
svg.timeline .lane-label { fill:var(--fg); }
svg.timeline .bar.completed { fill:var(--completed); } svg.timeline .bar.failed { fill:var(--failed); opacity:.85; }
svg.timeline .wait { stroke-width:3; stroke-dasharray:4 3; } svg.timeline .wait-sleep { stroke:var(--sleeping); } svg.timeline .wait-signal { stroke:var(--waiting); }
svg.timeline .signal-mark { fill:#7c3aed; }
.graph { padding:6px 0; }
.seq { display:flex; flex-direction:column; align-items:center; gap:14px; position:relative; }
.seq > * + *::before { content:""; position:absolute; margin-top:-14px; height:14px; border-left:2px solid #94a3b8; left:50%; }
.seq > * { position:relative; }
.gnode { padding:5px 12px; border-radius:6px; border:2px solid #cbd5e1; background:#fff; white-space:nowrap; }
.gnode.sleep, .gnode.signal { border-radius:999px; border-style:dashed; }
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
.retried.gnode { border-color:var(--retried); background:#ffedd5; }
.skipped.gnode { color:#94a3b8; border-color:#e2e8f0; background:#f8fafc; }
`

/**
 * Refreshes the page's main part while the run is live (unless someone is typing into it), and
 * sends the actions. Actions are POSTs with a custom header, which a cross-site form or link
 * cannot send: the server refuses a POST without it.
 */
export const pageScript = `
(() => {
  const body = document.body
  const base = body.dataset.base
  const main = document.getElementById("main")
  let refreshing = false
  const refresh = async () => {
    if (refreshing) return
    const active = document.activeElement
    if (active && main.contains(active) && (active.tagName === "INPUT" || active.tagName === "SELECT")) return
    refreshing = true
    try {
      const response = await fetch(location.href, { headers: { "x-plait-partial": "1" }, cache: "no-store" })
      if (response.ok) {
        const text = await response.text()
        if (text !== main.innerHTML) main.innerHTML = text
        body.dataset.live = response.headers.get("x-plait-live") === "1" ? "1" : "0"
      }
    } finally { refreshing = false }
  }
  setInterval(() => { if (body.dataset.live === "1") refresh() }, Number(body.dataset.refresh || 1000))
  const act = async (section, action, payload) => {
    const result = section.querySelector(".action-result")
    const runId = section.dataset.runId
    const response = await fetch(base + "/runs/" + encodeURIComponent(runId) + "/" + action, {
      method: "POST",
      headers: { "content-type": "application/json", "x-plait-action": "1" },
      body: JSON.stringify(payload)
    })
    const message = await response.text()
    if (result) result.textContent = message
    body.dataset.live = "1"
    await refresh()
    const again = document.querySelector(".action-result")
    if (again) again.textContent = message
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
