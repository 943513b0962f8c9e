/**
 * `npm run bench`: plait on its memory journal, effect/workflow on its memory engine and plain
 * Effect, on the same workloads in one process.
 *
 *   --quick              fewer trials (a smoke run; numbers are noisier)
 *   --only=a,b           only these workloads (names as printed, e.g. sequential-1k)
 *   --systems=a,b        only systems whose name contains one of these (e.g. --systems=plait,
 *                        for profiling with node --cpu-prof)
 *   --iterations=N       timed trials per case (default 41, quick 5)
 *   --warmup=N           untimed trials per case first (default 8, quick 2)
 *
 * Prints a table and writes bench/results/latest.json.
 */
import { execSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { Journal } from "plait"
import { type Case, formatTable, measureWorkload, type Sample } from "./harness.ts"
import { effectWorkflowCases } from "./workloads/effectWorkflow.ts"
import { plainCases } from "./workloads/plain.ts"
import { plaitCases } from "./workloads/plait.ts"
import { workloads } from "./workloads/shared.ts"

export const PLAIT = "plait (memory journal)"
export const EFFECT_WORKFLOW = "effect/workflow"
export const EFFECT_WORKFLOW_CACHED = "effect/workflow, re-execute"
export const PLAIN = "plain Effect"

/**
 * Every case. A new system is one more spread here; a journal backend, for instance:
 *
 *   ...plaitCases("plait (SQLite journal)", SqliteJournal.layer({ filename: ":memory:" })),
 *
 * Each trial builds its layer afresh (untimed) and uses run ids of its own; run ids repeat from
 * one `npm run bench` to the next, so a file-backed journal must start empty (a fresh file).
 */
const registry: ReadonlyArray<Case> = [
  ...plaitCases(PLAIT, Journal.layerMemory),
  ...effectWorkflowCases(EFFECT_WORKFLOW, EFFECT_WORKFLOW_CACHED),
  ...plainCases(PLAIN)
]

/** Ratio columns: every system's median divided by these systems' medians. */
const baselines = [EFFECT_WORKFLOW, PLAIN]

const flag = (name: string): string | undefined => {
  const arg = process.argv.slice(2).find((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  return arg === undefined ? undefined : (arg.split("=")[1] ?? "")
}

const quick = flag("quick") !== undefined
const only = flag("only")?.split(",").filter((name) => name !== "")
const systems = flag("systems")?.split(",").filter((name) => name !== "")
const iterations = Number(flag("iterations") ?? (quick ? 5 : 41))
const warmup = Number(flag("warmup") ?? (quick ? 2 : 8))

const selected = Object.values(workloads).filter((w) => only === undefined || only.includes(w.name))
if (selected.length === 0) {
  console.error(`no workload matches --only; choose from: ${Object.values(workloads).map((w) => w.name).join(", ")}`)
  process.exit(1)
}

const effectVersion = (JSON.parse(readFileSync(new URL("../node_modules/effect/package.json", import.meta.url), "utf8")) as {
  version: string
}).version
const commit = (() => {
  try {
    return execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] }).toString().trim()
  } catch {
    return "unknown"
  }
})()

const loadAverage = () => os.loadavg().map((load) => load.toFixed(2)).join(" ")
const loadBefore = loadAverage()
console.log(
  `node ${process.version} · effect ${effectVersion} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"} · ` +
    `plait ${commit} · ${warmup} warm-up + ${iterations} timed trials per case · load ${loadBefore}`
)

const samples: Array<Sample> = []
for (const workload of selected) {
  console.log(`${workload.name}: ${workload.description}`)
  const cases = registry.filter((c) =>
    c.workload === workload.name && (systems === undefined || systems.some((name) => c.system.includes(name)))
  )
  samples.push(...await measureWorkload(workload, cases, { warmup, iterations, log: console.log }))
}

console.log(`\n${formatTable(samples, baselines)}`)

const results = {
  date: new Date().toISOString(),
  node: process.version,
  effect: effectVersion,
  plaitCommit: commit,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, platform: `${os.platform()} ${os.arch()}` },
  // Other processes on the machine skew medians; the load average says how busy it was.
  loadAverage: { before: loadBefore, after: loadAverage() },
  options: { warmup, iterations, quick },
  workloads: selected,
  baselines,
  results: samples
}
const out = new URL("./results/latest.json", import.meta.url)
mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
console.log(`\nwrote ${out.pathname}`)
