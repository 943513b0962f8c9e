/**
 * `npm run bench:types`: how long the compiler takes to check a workflow, by size. The same
 * logic (see `generate.ts`) is written as a plait workflow, as one plain `Effect.gen` and as an
 * effect/workflow workflow of activities, at 40, 100 and 300 nodes, and each is type-checked
 * against plait's published declarations in a fresh process (`check.ts`), several times,
 * interleaved across systems. Reported: the median and minimum check time and CPU time, the
 * compiler's instantiation and type counts, and plait's ratios to the other two.
 *
 *   --quick          2 trials per case instead of 7 (a smoke run; noisier)
 *   --trials=N       trials per case
 *   --sizes=a,b      node counts (default 40,100,300)
 *
 * Prints a table and writes bench/results/types.json.
 */
import { execFileSync, execSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeConsumerPackage } from "../../test/support/consumer-package.ts"
import { effectGenSource, effectWorkflowSource, plaitSource } from "./generate.ts"

const flag = (name: string): string | undefined => {
  const arg = process.argv.slice(2).find((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  return arg === undefined ? undefined : (arg.split("=")[1] ?? "")
}
const quick = flag("quick") !== undefined
const trials = Number(flag("trials") ?? (quick ? 2 : 7))
const sizes = (flag("sizes") ?? "40,100,300").split(",").map(Number)

const PLAIT = "plait"
const GEN = "Effect.gen"
const ACTIVITIES = "effect/workflow"
const systems: ReadonlyArray<{ readonly name: string; readonly source: (nodes: number) => string }> = [
  { name: PLAIT, source: plaitSource },
  { name: GEN, source: effectGenSource },
  { name: ACTIVITIES, source: effectWorkflowSource }
]

interface Measurement {
  readonly checkMs: number
  readonly checkCpuMs: number
  readonly instantiations: number
  readonly types: number
  readonly diagnostics: ReadonlyArray<string>
}

interface Result {
  readonly system: string
  readonly nodes: number
  readonly medianMs: number
  readonly minMs: number
  readonly medianCpuMs: number
  readonly instantiations: number
  readonly types: number
  readonly trialsMs: ReadonlyArray<number>
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const consumer = makeConsumerPackage()
process.on("exit", () => consumer.dispose())
const checkScript = path.join(import.meta.dirname, "check.ts")
const options = JSON.stringify({ ...consumer.options, noEmit: true, declaration: false })

const check = (file: string): Measurement => {
  const output = execFileSync(process.execPath, ["--disable-warning=ExperimentalWarning", checkScript, file, options], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024
  })
  return JSON.parse(output) as Measurement
}

const cases = sizes.flatMap((nodes) =>
  systems.map((system) => {
    const file = path.join(consumer.directory, "src", `${system.name.replace(/\W/g, "_")}_${nodes}.ts`)
    writeFileSync(file, system.source(nodes))
    return { system: system.name, nodes, file, trials: [] as Array<Measurement> }
  })
)

const loadAverage = () => os.loadavg().map((load) => load.toFixed(2)).join(" ")
const loadBefore = loadAverage()
console.log(`type-check benchmark: ${sizes.join(", ")} nodes, ${trials} trials per case, load ${loadBefore}`)
for (let round = 0; round < trials; round++) {
  // Each round checks every case once, in an order that rotates, so load falls on all alike.
  for (let i = 0; i < cases.length; i++) {
    const item = cases[(i + round) % cases.length]!
    const measurement = check(item.file)
    if (measurement.diagnostics.length > 0) {
      throw new Error(`${item.system} at ${item.nodes} nodes does not compile:\n${measurement.diagnostics.join("\n")}`)
    }
    item.trials.push(measurement)
  }
  console.log(`round ${round + 1}/${trials} done`)
}

const results: ReadonlyArray<Result> = cases.map((item) => ({
  system: item.system,
  nodes: item.nodes,
  medianMs: median(item.trials.map((t) => t.checkMs)),
  minMs: Math.min(...item.trials.map((t) => t.checkMs)),
  medianCpuMs: median(item.trials.map((t) => t.checkCpuMs)),
  instantiations: item.trials[0]!.instantiations,
  types: item.trials[0]!.types,
  trialsMs: item.trials.map((t) => Math.round(t.checkMs))
}))

const find = (system: string, nodes: number) => results.find((r) => r.system === system && r.nodes === nodes)!
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`
const header = [
  "nodes",
  "system",
  "median ms",
  "min ms",
  "cpu ms",
  "instantiations",
  "per node",
  "types",
  `÷ ${GEN} (ms)`,
  `÷ ${ACTIVITIES} (ms)`,
  `÷ ${GEN} (inst.)`
]
const rows = results.map((r) => {
  const gen = find(GEN, r.nodes)
  const activities = find(ACTIVITIES, r.nodes)
  return [
    String(r.nodes),
    r.system,
    r.medianMs.toFixed(0),
    r.minMs.toFixed(0),
    r.medianCpuMs.toFixed(0),
    String(r.instantiations),
    (r.instantiations / r.nodes).toFixed(0),
    String(r.types),
    r.system === GEN ? "" : ratio(r.medianMs, gen.medianMs),
    r.system === ACTIVITIES ? "" : ratio(r.medianMs, activities.medianMs),
    r.system === GEN ? "" : ratio(r.instantiations, gen.instantiations)
  ]
})
const table = [header, header.map(() => "---"), ...rows].map((row) => `| ${row.join(" | ")} |`).join("\n")
console.log(`\n${table}`)

const commit = (() => {
  try {
    return execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] }).toString().trim()
  } catch {
    return "unknown"
  }
})()
const version = (module: string) =>
  (JSON.parse(readFileSync(new URL(`../../node_modules/${module}/package.json`, import.meta.url), "utf8")) as {
    version: string
  }).version
const out = new URL("../results/types.json", import.meta.url)
mkdirSync(new URL("../results/", import.meta.url), { recursive: true })
writeFileSync(
  out,
  `${
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        typescript: version("typescript"),
        effect: version("effect"),
        plaitCommit: commit,
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, platform: `${os.platform()} ${os.arch()}` },
        loadAverage: { before: loadBefore, after: loadAverage() },
        trials,
        results
      },
      null,
      2
    )
  }\n`
)
console.log(`\nwrote ${out.pathname}`)
