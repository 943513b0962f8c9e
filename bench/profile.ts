/**
 * `npm run bench:profile`: where one bench case spends its CPU, per step. Runs the case's
 * trials like `npm run bench` (fresh state each, set-up untimed) with V8's sampling profiler on
 * during the timed runs only, then sums the samples' self time by what they ran: plait, the
 * Effect runtime, Effect's SQL client, the Postgres driver's protocol and connection code, the
 * socket write, Node's streams and timers, GC.
 *
 *   --system="Postgres"               a system of the bench, exactly as its table names it
 *   --workload=journal-sequential-200  a workload of the bench
 *   --trials=60                       timed trials (after 5 untimed ones)
 *   --top=20                          also list the heaviest functions
 *   --out=DIR                         keep the profiles (.cpuprofile, one per trial) in DIR
 *
 * The samples are wall-clock: time the main thread spends in a synchronous call (the socket
 * write) counts even while the kernel runs the database's side of it. Idle time is left out.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { Journal } from "plait"
import type { Case } from "./harness.ts"
import { journalCases, journalWorkloads, postgresBackend } from "./workloads/journal.ts"
import { plaitCases } from "./workloads/plait.ts"
import { rawCases } from "./workloads/raw.ts"
import { workloads } from "./workloads/shared.ts"

const flag = (name: string): string | undefined =>
  process.argv.slice(2).find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)

const pgUrl = process.env.PLAIT_PG_URL || "postgres://postgres@127.0.0.1:5432/test"
const system = flag("system") ?? "Postgres"
const workloadName = flag("workload") ?? "journal-sequential-200"
const trials = Number(flag("trials") ?? 60)
const top = Number(flag("top") ?? 0)
const out = flag("out")

const cases: ReadonlyArray<Case> = [
  ...plaitCases("plait (memory journal)", Journal.layerMemory),
  ...journalCases(postgresBackend(pgUrl), { resume: true }),
  ...rawCases(pgUrl)
]
const chosen = cases.find((c) => c.system === system && c.workload === workloadName)
const workload = [...Object.values(workloads), ...Object.values(journalWorkloads)].find((w) => w.name === workloadName)
if (chosen === undefined || workload === undefined) {
  console.error(`no case ${system} / ${workloadName}; systems: ${[...new Set(cases.map((c) => c.system))].join(", ")}`)
  process.exit(1)
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** What a sample ran, by its frame; the first match wins. */
const categories: ReadonlyArray<readonly [string, (url: string, name: string) => boolean]> = [
  ["idle", (url, name) => name === "(idle)" || url === "node:inspector"],
  ["GC", (_, name) => name === "(garbage collector)"],
  ["socket write (writeBuffer)", (_, name) => name === "writeBuffer"],
  ["VM, native code", (_, name) => name === "(program)"],
  ["plait", (url) => url.includes("/src/")],
  ["bench harness", (url) => url.includes("/bench/")],
  ["effect/sql: statements, spans, pool glue", (url) => url.includes("effect/dist/sql/")],
  ["@effect/sql-pg: protocol encode/decode", (url) => url.includes("sql-pg/dist/PgProtocol")],
  ["@effect/sql-pg: connection, pool, client", (url) => url.includes("sql-pg/dist/")],
  [
    "effect: Schema (JSON codecs)",
    (url) => url.includes("effect/dist/Schema") || url.includes("effect/dist/internal/schema")
  ],
  ["effect: tracer", (url) => url.includes("effect/dist/Tracer")],
  ["effect: runtime (fibers, primitives, context)", (url) => url.includes("effect/dist/")],
  ["Node: streams, timers, async hooks", (url) => url.startsWith("node:")],
  ["other built-ins (JSON, strings, ...)", () => true]
]

await (async () => {
  for (let i = 0; i < 5; i++) {
    const trial = await chosen.prepare(i)
    await trial.run()
    await trial.dispose()
  }
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 50 })
  if (out !== undefined) mkdirSync(out, { recursive: true })
  const byCategory = new Map<string, number>()
  const byFunction = new Map<string, number>()
  for (let i = 0; i < trials; i++) {
    const trial = await chosen.prepare(5 + i)
    await session.post("Profiler.start")
    const result = await trial.run()
    const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: Profile }
    await trial.dispose()
    if (chosen.checksum(result) !== workload.expected) throw new Error("wrong checksum: the run proves nothing")
    if (out !== undefined) writeFileSync(`${out}/${i}.cpuprofile`, JSON.stringify(profile))
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
    profile.samples.forEach((id, s) => {
      const frame = nodes.get(id)!.callFrame
      const category = categories.find(([, matches]) => matches(frame.url, frame.functionName))![0]
      const micros = profile.timeDeltas[s] ?? 0
      byCategory.set(category, (byCategory.get(category) ?? 0) + micros)
      const where = `${frame.functionName || "(anonymous)"} ${
        frame.url.replace(/.*node_modules\//, "").replace(/.*\/(src|bench)\//, "$1/")
      }:${frame.lineNumber + 1}`
      if (category !== "idle") byFunction.set(where, (byFunction.get(where) ?? 0) + micros)
    })
  }
  const steps = workload.steps * trials
  const busy = [...byCategory].filter(([name]) => name !== "idle").reduce((sum, [, micros]) => sum + micros, 0)
  console.log(
    `${system} / ${workloadName}, ${trials} trials: ${
      (busy / steps).toFixed(1)
    } µs busy per step (sampled, main thread)`
  )
  for (const [name, micros] of [...byCategory].filter(([name]) => name !== "idle").sort((a, b) => b[1] - a[1])) {
    console.log(
      `${(micros / steps).toFixed(2).padStart(8)} µs  ${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${name}`
    )
  }
  if (top > 0) {
    console.log("\nheaviest functions (self time per step)")
    for (const [where, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${(micros / steps).toFixed(2).padStart(8)} µs  ${where}`)
    }
  }
})()
