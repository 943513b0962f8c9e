/**
 * The benchmark harness: a registry of cases, one per (system, workload), each timed over
 * fresh trials with `performance.now()`, interleaved across systems so drift and GC pressure
 * fall on every system alike.
 *
 * To add a system (a SQLite or Postgres journal, another engine), write a function returning
 * `Case`s and add its result to the registry in `run.ts`; the harness, table and JSON need no
 * change.
 */
/** One timed trial, prepared (untimed) on fresh state. */
export interface Trial {
  /** The timed part. Returns what `Case.checksum` reads. */
  readonly run: () => Promise<unknown>
  /** Untimed clean-up once the trial is measured. */
  readonly dispose: () => Promise<void>
}

export interface Case {
  /** A column of the comparison: `plait (memory journal)`, `effect/workflow`, `plain Effect`. */
  readonly system: string
  /** A row: the name `--only` selects. */
  readonly workload: string
  /** Untimed: builds fresh state for one trial (for resume workloads, the completed run). */
  readonly prepare: (trial: number) => Promise<Trial>
  /** Reads the workload's checksum from what `run` returned; checked after every trial. */
  readonly checksum: (result: unknown) => number
}

export interface Workload {
  readonly name: string
  /** Steps (activities, effects) one run performs; for the per-step column. */
  readonly steps: number
  /** The checksum every system's run must produce. */
  readonly expected: number
  readonly description: string
}

export interface Sample {
  readonly workload: string
  readonly system: string
  readonly samplesMs: ReadonlyArray<number>
  readonly medianMs: number
  readonly minMs: number
  readonly perStepUs: number
  /**
   * Process CPU time (user + system, all threads) of the same trials. On a shared machine wall
   * time includes waiting for a core; CPU time does not, so it is the steadier comparison.
   */
  readonly cpuSamplesMs: ReadonlyArray<number>
  readonly cpuMedianMs: number
}

export interface Options {
  readonly warmup: number
  readonly iterations: number
  readonly log: (line: string) => void
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

interface Timing {
  readonly wallMs: number
  readonly cpuMs: number
}

/** Runs one trial; fails loudly when its checksum is wrong, since a wrong run proves nothing. */
const trial = async (c: Case, workload: Workload, index: number): Promise<Timing> => {
  // No forced GC between trials: a full collection shrinks the young generation, and the next
  // trial then runs several times slower in scavenges. Interleaving spreads GC over systems.
  const prepared = await c.prepare(index)
  const cpuStart = process.cpuUsage()
  const start = performance.now()
  const result = await prepared.run()
  const wallMs = performance.now() - start
  const cpu = process.cpuUsage(cpuStart)
  await prepared.dispose()
  const sum = c.checksum(result)
  if (sum !== workload.expected) {
    throw new Error(`${c.system} / ${c.workload}: checksum ${sum}, expected ${workload.expected}`)
  }
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
}

/**
 * Measures every case of one workload: `warmup` untimed trials per case, then `iterations`
 * rounds in which each case runs once, in an order that rotates every round.
 */
export const measureWorkload = async (
  workload: Workload,
  cases: ReadonlyArray<Case>,
  options: Options
): Promise<ReadonlyArray<Sample>> => {
  let index = 0
  for (const c of cases) {
    for (let i = 0; i < options.warmup; i++) await trial(c, workload, index++)
  }
  const samples = cases.map(() => [] as Array<Timing>)
  for (let round = 0; round < options.iterations; round++) {
    for (let k = 0; k < cases.length; k++) {
      const at = (k + round) % cases.length
      samples[at]!.push(await trial(cases[at]!, workload, index++))
    }
  }
  return cases.map((c, i) => {
    const ms = samples[i]!.map((t) => t.wallMs)
    const cpuMs = samples[i]!.map((t) => t.cpuMs)
    const medianMs = median(ms)
    options.log(`  ${workload.name} · ${c.system}: median ${medianMs.toFixed(2)} ms`)
    return {
      workload: workload.name,
      system: c.system,
      samplesMs: ms,
      medianMs,
      minMs: Math.min(...ms),
      perStepUs: (medianMs * 1000) / workload.steps,
      cpuSamplesMs: cpuMs,
      cpuMedianMs: median(cpuMs)
    }
  })
}

/** `this median / baseline median` within the same workload, when the baseline ran. */
export const ratio = (samples: ReadonlyArray<Sample>, sample: Sample, baseline: string): number | undefined => {
  const base = samples.find((s) => s.workload === sample.workload && s.system === baseline)
  return base === undefined ? undefined : sample.medianMs / base.medianMs
}

export const formatTable = (samples: ReadonlyArray<Sample>, baselines: ReadonlyArray<string>): string => {
  const header = ["workload", "system", "median ms", "min ms", "µs/step", "cpu ms", ...baselines.map((b) => `÷ ${b}`)]
  const rows = samples.map((s, i) => [
    i > 0 && samples[i - 1]!.workload === s.workload ? "" : s.workload,
    s.system,
    s.medianMs.toFixed(2),
    s.minMs.toFixed(2),
    s.perStepUs.toFixed(2),
    s.cpuMedianMs.toFixed(2),
    ...baselines.map((b) => {
      const r = ratio(samples, s, b)
      return r === undefined || s.system === b ? "" : `${r.toPrecision(3)}×`
    })
  ])
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}
