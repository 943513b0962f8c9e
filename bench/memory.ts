/**
 * `npm run bench:memory`: what a long fan-out keeps in memory. A `Workflow.forEach` of N items
 * (16 at a time, each item a step returning its number) on a SQLite file and on Postgres at
 * `PLAIT_PG_URL`, each run in a fresh child process (peak RSS only grows within a process).
 *
 * Per run it reports the peak RSS and the RSS before the run, and the live heap as the run
 * goes: every 100 ms a full GC (`--expose-gc`) and `heapUsed`, against the items completed so
 * far. Its highest point above the heap before the run, per item, is what the run holds for
 * the items (made up front or accumulated); its slope is what it keeps per item processed.
 * The outputs are kept by design (the context holds them: a number each, 8 bytes in an array),
 * so anything above that is something else growing with the count.
 *
 *   --items=10000,100000   item counts (default 10,000 and 100,000)
 *   --journals=sqlite,pg   journals (default both; Postgres skipped when unreachable)
 */
import { Effect, Fiber, type Layer, Schema } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { SqliteJournal, Workflow } from "plait"
import type { Journal, RunStore } from "plait"
import { postgresTables, postgresUnreachable } from "./workloads/journal.ts"
import { FOR_EACH_CONCURRENCY } from "./workloads/shared.ts"

const pgUrl = process.env.PLAIT_PG_URL || "postgres://postgres@127.0.0.1:5432/test"

interface Measurement {
  readonly journal: string
  readonly items: number
  readonly rssBeforeMb: number
  readonly peakRssMb: number
  /** Live heap after a full GC just before the run. */
  readonly heapBefore: number
  /** Live heap after a full GC, against items completed: `[items, bytes]`. */
  readonly liveHeap: ReadonlyArray<readonly [number, number]>
  readonly seconds: number
}

const megabytes = (bytes: number) => bytes / 1024 / 1024

/** Least-squares slope of `y` over `x`. */
const slope = (points: ReadonlyArray<readonly [number, number]>): number => {
  const n = points.length
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0)
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0)
  return sxx === 0 ? 0 : sxy / sxx
}

/** The child: one run of `items` items on `journal`, measured; prints one JSON line. */
const child = async (journal: string, items: number) => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run with --expose-gc")
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-memory-"))
  const layer: Layer.Layer<Journal.Journal | RunStore.RunStore, unknown> = journal === "SQLite"
    ? SqliteJournal.layer({ filename: Path.join(directory, "journal.sqlite") })
    : postgresTables(pgUrl, { tablePrefix: `plait_memory${process.pid}_` })
  let done = 0
  const flowOf = (count: number) => {
    const numbers = Array.from({ length: count }, (_, i) => i)
    return Workflow.make("memory", { input: Schema.Number }).pipe(
      Workflow.forEach("items", () => numbers, (item) => Effect.sync(() => (done++, item)), {
        success: Schema.Number,
        concurrency: FOR_EACH_CONCURRENCY
      })
    )
  }
  const program = Effect.gen(function*() {
    // A short run first, so code, statements and pools are warm before the baseline.
    yield* Workflow.run(flowOf(1_000), { input: 0, runId: "warm-up" })
    const Flow = flowOf(items)
    done = 0
    gc()
    const { heapUsed: heapBefore, rss: rssBefore } = process.memoryUsage()
    const liveHeap: Array<readonly [number, number]> = []
    const start = performance.now()
    const fiber = yield* Effect.forkChild(Workflow.run(Flow, { input: 0, runId: "measured" }))
    while (fiber.pollUnsafe() === undefined) {
      yield* Effect.sleep("100 millis")
      gc()
      liveHeap.push([done, process.memoryUsage().heapUsed])
    }
    const outcome = yield* Fiber.join(fiber)
    const seconds = (performance.now() - start) / 1000
    if (outcome._tag !== "Completed" || (outcome.context.items as ReadonlyArray<number>).length !== items) {
      return yield* Effect.die(new Error(`the run ended ${outcome._tag}`))
    }
    const measurement: Measurement = {
      journal,
      items,
      rssBeforeMb: megabytes(rssBefore),
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      heapBefore,
      liveHeap,
      seconds
    }
    return measurement
  })
  try {
    const measurement = await Effect.runPromise(Effect.provide(program, layer))
    console.log(JSON.stringify(measurement))
  } finally {
    Fs.rmSync(directory, { recursive: true, force: true })
  }
}

const flag = (name: string): string | undefined =>
  process.argv.slice(2).find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1]

const parent = async () => {
  const counts = (flag("items") ?? "10000,100000").split(",").map(Number)
  const wanted = (flag("journals") ?? "sqlite,pg").split(",")
  const journals = ["SQLite", "Postgres"].filter((name) => wanted.includes(name === "SQLite" ? "sqlite" : "pg"))
  const unreachable = journals.includes("Postgres") ? await postgresUnreachable(pgUrl) : undefined
  if (unreachable !== undefined) console.log(`note: Postgres is unreachable (${unreachable}); skipping it`)
  const results: Array<Measurement> = []
  for (const journal of journals) {
    if (journal === "Postgres" && unreachable !== undefined) continue
    for (const items of counts) {
      const output = execFileSync(process.execPath, [
        "--expose-gc",
        "--conditions=plait-source",
        "--disable-warning=ExperimentalWarning",
        new URL(import.meta.url).pathname,
        "--child",
        journal,
        String(items)
      ], { encoding: "utf8", env: process.env })
      const measurement = JSON.parse(output.trim().split("\n").pop()!) as Measurement
      results.push(measurement)
      console.log(`${journal} ${items}: done in ${measurement.seconds.toFixed(1)} s`)
    }
  }
  const header = [
    "journal",
    "items",
    "RSS before MB",
    "peak RSS MB",
    "peak − before B/item",
    "live heap − before B/item",
    "live heap slope B/item"
  ]
  const rows = results.map((m) => {
    const grown = ((m.peakRssMb - m.rssBeforeMb) * 1024 * 1024) / m.items
    const live = (Math.max(...m.liveHeap.map(([, bytes]) => bytes)) - m.heapBefore) / m.items
    return [
      m.journal,
      String(m.items),
      m.rssBeforeMb.toFixed(1),
      m.peakRssMb.toFixed(1),
      grown.toFixed(0),
      live.toFixed(1),
      slope(m.liveHeap).toFixed(1)
    ]
  })
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, c) => (c < 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")
  console.log(["", line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n"))
}

const childAt = process.argv.indexOf("--child")
if (childAt >= 0) await child(process.argv[childAt + 1]!, Number(process.argv[childAt + 2]))
else await parent()
