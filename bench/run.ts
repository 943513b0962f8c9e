/**
 * `npm run bench`: plait on its memory journal, effect/workflow on its memory engine and plain
 * Effect, on the same workloads in one process; then plait on durable journals (a SQLite file,
 * Postgres at `PLAIT_PG_URL`, default postgres://postgres@127.0.0.1:5432/test), batching on
 * and off, with the journal's round trips counted, interleaved with DBOS Transact and the raw
 * driver (the ceiling) on the same Postgres; then the engine on Postgres: a run under a
 * worker against `Workflow.run`, runs per second through worker processes, wake latency, and
 * what an idle worker costs, and the Postgres job queues beside the workers (`bench/engine/`);
 * then plait on SQLite and Postgres beside Restate, whose server the bench starts on loopback
 * (`bench/workloads/restate.ts`).
 *
 *   --quick              fewer trials (a smoke run; numbers are noisier)
 *   --only=a,b           only these sections (memory, journal, engine, restate) or workloads and
 *                        measurements (names as printed, e.g. sequential-1k, engine-wake);
 *                        `--only engine` works too
 *   --systems=a,b        only systems whose name contains one of these (e.g. --systems=plait,
 *                        for profiling with node --cpu-prof)
 *   --iterations=N       timed trials per case (default 41, quick 5; journal workloads 7 or 15, quick 2)
 *   --warmup=N           untimed trials per case first (default 8, quick 2; journal workloads 1 or 2, quick 0)
 *
 * Prints a table per section and writes bench/results/latest.json. When Postgres is
 * unreachable its rows are skipped, with a note.
 */
import { execSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Journal } from "plait"
import { overheadCases, overheadWorkloads, RUN, summarizeOverhead } from "./engine/overhead.ts"
import { engineMeasurements } from "./engine/section.ts"
import {
  type Case,
  formatTable,
  type Measurement,
  measureWorkload,
  type Sample,
  type TableOptions,
  type Workload
} from "./harness.ts"
import { effectWorkflowCases } from "./workloads/effectWorkflow.ts"
import {
  batchingOffOf,
  journalCases,
  journalWorkloads,
  postgresBackend,
  postgresUnreachable,
  sqliteBackend
} from "./workloads/journal.ts"
import { plainCases } from "./workloads/plain.ts"
import { plaitCases } from "./workloads/plait.ts"
import { rawCases } from "./workloads/raw.ts"
import {
  plaitRestateCases,
  RESTATE,
  restateCases,
  restateMissing,
  restateWorkloads,
  summarizeRestate
} from "./workloads/restate.ts"
import { workloads } from "./workloads/shared.ts"

export const PLAIT = "plait (memory journal)"
export const EFFECT_WORKFLOW = "effect/workflow"
export const EFFECT_WORKFLOW_CACHED = "effect/workflow, re-execute"
export const PLAIN = "plain Effect"
export const DBOS = "DBOS Transact"
export const RAW = "Postgres, raw PgConnection"

const pgUrl = process.env.PLAIT_PG_URL || "postgres://postgres@127.0.0.1:5432/test"
const redacted = (url: string) => url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@")
const sqliteDirectory = mkdtempSync(path.join(os.tmpdir(), "plait-bench-"))
process.on("exit", () => rmSync(sqliteDirectory, { recursive: true, force: true }))
/** What a registry set up outside any trial (DBOS's schema, Restate's server), removed once every section ran. */
const disposers: Array<() => Promise<void>> = []
/** The Restate server's version, once the `restate` section started one. */
let restateVersion: string | undefined

interface Section {
  /** What `--only` selects the whole section by. */
  readonly id: string
  readonly title: string
  readonly workloads: ReadonlyArray<Workload>
  /**
   * Every case of the section. A new system is one more spread here; another journal backend,
   * for instance, is one more `Backend` for `journalCases`.
   *
   * Each trial builds its layer afresh (untimed) and uses run ids of its own; run ids repeat
   * from one `npm run bench` to the next, so a durable journal must start empty (a fresh file,
   * fresh tables).
   */
  readonly registry: (wanted: (system: string) => boolean) => Promise<ReadonlyArray<Case>>
  readonly table: TableOptions
  /** A line under the section's table, from its samples (a ratio derived from several rows). */
  readonly summarize?: ((samples: ReadonlyArray<Sample>) => string | undefined) | undefined
  /** Measurements that are not one timed trial per case; run after the section's workloads. */
  readonly measurements?: ReadonlyArray<Measurement> | undefined
  /** Why the section cannot run here (Postgres unreachable), checked once it is selected. */
  readonly unavailable?: (() => Promise<string | undefined>) | undefined
}

let postgresChecked: Promise<string | undefined> | undefined
const postgresMissing = () => {
  postgresChecked ??= postgresUnreachable(pgUrl).then((unreachable) =>
    unreachable === undefined ? undefined : `Postgres at ${redacted(pgUrl)} is unreachable (${unreachable})`
  )
  return postgresChecked
}

const sections: ReadonlyArray<Section> = [
  {
    id: "memory",
    title: "In memory",
    workloads: Object.values(workloads),
    registry: async () => [
      ...plaitCases(PLAIT, Journal.layerMemory),
      ...effectWorkflowCases(EFFECT_WORKFLOW, EFFECT_WORKFLOW_CACHED),
      ...plainCases(PLAIN)
    ],
    table: { baselines: [EFFECT_WORKFLOW, PLAIN] }
  },
  {
    id: "journal",
    title: "Durable journals (plait)",
    workloads: Object.values(journalWorkloads),
    registry: async (wanted) => {
      const missing = await postgresMissing()
      if (missing !== undefined) console.log(`note: ${missing}; skipping the Postgres rows`)
      const sqlite = [
        ...journalCases(sqliteBackend(sqliteDirectory, "NORMAL"), { resume: true }),
        ...journalCases(sqliteBackend(sqliteDirectory, "FULL"), { resume: false })
      ]
      if (missing !== undefined) return sqlite
      const postgres = [...sqlite, ...journalCases(postgresBackend(pgUrl), { resume: true }), ...rawCases(pgUrl)]
      if (!wanted(DBOS)) return postgres
      // Loaded and launched only here: nothing of DBOS is in the process unless its rows run.
      const { dbosCases } = await import("./workloads/dbos.ts")
      const dbos = await dbosCases(DBOS, pgUrl)
      disposers.push(dbos.dispose)
      return [...postgres, ...dbos.cases]
    },
    table: {
      pair: { label: "batching off", of: batchingOffOf },
      // DBOS and the raw driver run on Postgres: the SQLite rows have nothing to compare with.
      baselines: [DBOS, RAW],
      compares: (system) => system.startsWith("Postgres")
    }
  },
  {
    id: "engine",
    title: "Engine and workers (Postgres)",
    workloads: Object.values(overheadWorkloads),
    registry: async () => overheadCases(pgUrl),
    table: { baselines: [RUN] },
    summarize: summarizeOverhead,
    measurements: engineMeasurements(pgUrl),
    unavailable: postgresMissing
  },
  {
    id: "restate",
    title: "Beside Restate (durable steps)",
    workloads: Object.values(restateWorkloads),
    registry: async (wanted) => {
      const missing = await postgresMissing()
      if (missing !== undefined) console.log(`note: ${missing}; skipping the Postgres rows`)
      const plait = [
        ...plaitRestateCases(sqliteBackend(sqliteDirectory, "NORMAL"), { resume: true }),
        ...plaitRestateCases(sqliteBackend(sqliteDirectory, "FULL"), { resume: false }),
        ...(missing === undefined ? plaitRestateCases(postgresBackend(pgUrl), { resume: true }) : [])
      ]
      const noRestate = restateMissing()
      if (noRestate !== undefined) console.log(`note: ${noRestate}; skipping the Restate rows`)
      if (noRestate !== undefined || !wanted(RESTATE)) return plait
      const restate = await restateCases()
      restateVersion = restate.server.version
      disposers.push(restate.dispose)
      return [...plait, ...restate.cases]
    },
    table: { baselines: [RESTATE] },
    summarize: summarizeRestate(() => restateVersion)
  }
]

/** `--name=value`, `--name value` or `--name` (value `""`). */
const flag = (name: string): string | undefined => {
  const args = process.argv.slice(2)
  const at = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  if (at < 0) return undefined
  const arg = args[at]!
  if (arg.includes("=")) return arg.slice(arg.indexOf("=") + 1)
  const next = args[at + 1]
  return next === undefined || next.startsWith("--") ? "" : next
}

const quick = flag("quick") !== undefined
const only = flag("only")?.split(",").filter((name) => name !== "")
const systems = flag("systems")?.split(",").filter((name) => name !== "")
const iterationsFlag = flag("iterations")
const warmupFlag = flag("warmup")
const trialsOf = (workload: Workload) => {
  const defaults = workload.trials?.[quick ? "quick" : "full"] ??
    (quick ? { warmup: 2, iterations: 5 } : { warmup: 8, iterations: 41 })
  return {
    warmup: warmupFlag === undefined ? defaults.warmup : Number(warmupFlag),
    iterations: iterationsFlag === undefined ? defaults.iterations : Number(iterationsFlag)
  }
}

const isSelected = (section: Section, name: string) =>
  only === undefined || only.includes(section.id) || only.includes(name)
const chosenWorkloads = (section: Section) => section.workloads.filter((w) => isSelected(section, w.name))
const chosenMeasurements = (section: Section) => (section.measurements ?? []).filter((m) => isSelected(section, m.name))
const selected = sections.flatMap(chosenWorkloads)
if (selected.length === 0 && sections.every((section) => chosenMeasurements(section).length === 0)) {
  const names = sections.flatMap((section) => [
    section.id,
    ...section.workloads.map((w) => w.name),
    ...(section.measurements ?? []).map((m) => m.name)
  ])
  console.error(`nothing matches --only; choose from: ${names.join(", ")}`)
  process.exit(1)
}

const effectVersion =
  (JSON.parse(readFileSync(new URL("../node_modules/effect/package.json", import.meta.url), "utf8")) as {
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
    `plait ${commit} · load ${loadBefore}`
)

const samples: Array<Sample> = []
const measured: Record<string, unknown> = {}
const tables: Array<string> = []
const runSection = async (section: Section) => {
  const chosen = chosenWorkloads(section)
  const measurements = chosenMeasurements(section)
  if (chosen.length === 0 && measurements.length === 0) return
  console.log(`\n${section.title}`)
  const missing = await section.unavailable?.()
  if (missing !== undefined) {
    console.log(`note: ${missing}; skipping this section`)
    return
  }
  const measure = (measurement: Measurement) => {
    console.log(`${measurement.name}: ${measurement.description}`)
    return measurement.run({ quick, log: console.log }).then((result) => {
      measured[measurement.name] = result.results
      return `${section.title}: ${measurement.name}\n${result.table}`
    })
  }
  const background = measurements.filter((m) => m.background === true).map(measure)
  const wanted = (system: string) => systems === undefined || systems.some((name) => system.includes(name))
  const registry = (await section.registry(wanted)).filter((c) => wanted(c.system))
  const sectionSamples: Array<Sample> = []
  for (const workload of chosen) {
    const cases = registry.filter((c) => c.workload === workload.name)
    if (cases.length === 0) continue
    const { iterations, warmup } = trialsOf(workload)
    console.log(`${workload.name}: ${workload.description} (${warmup} warm-up + ${iterations} timed trials per case)`)
    sectionSamples.push(...await measureWorkload(workload, cases, { warmup, iterations, log: console.log }))
  }
  samples.push(...sectionSamples)
  if (sectionSamples.length > 0) {
    const summary = section.summarize?.(sectionSamples)
    tables.push(
      `${section.title}\n${formatTable(sectionSamples, section.table)}${summary === undefined ? "" : `\n${summary}`}`
    )
  }
  for (const measurement of measurements.filter((m) => m.background !== true)) tables.push(await measure(measurement))
  tables.push(...await Promise.all(background))
}

// The disposers run even when a section fails: a peer's server or schema is not left behind.
try {
  for (const section of sections) await runSection(section)
} finally {
  for (const dispose of disposers) await dispose()
}

console.log(`\n${tables.join("\n\n")}`)

const results = {
  date: new Date().toISOString(),
  node: process.version,
  effect: effectVersion,
  plaitCommit: commit,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, platform: `${os.platform()} ${os.arch()}` },
  // Other processes on the machine skew medians; the load average says how busy it was.
  loadAverage: { before: loadBefore, after: loadAverage() },
  options: {
    quick,
    trials: Object.fromEntries(selected.map((w) => [w.name, trialsOf(w)]))
  },
  workloads: selected,
  baselines: sections.flatMap((section) => section.table.baselines ?? []),
  results: samples,
  measurements: measured
}
const out = new URL("./results/latest.json", import.meta.url)
mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`)
console.log(`\nwrote ${out.pathname}`)
