/**
 * The benchmark harness: a registry of cases, one per (system, workload), each timed over
 * fresh trials with `performance.now()`, interleaved across systems so drift and GC pressure
 * fall on every system alike.
 *
 * To add a system (another journal backend, another engine), write a function returning
 * `Case`s and add its result to a registry in `run.ts`; the harness, table and JSON need no
 * change. A trial may also report counts (`Trial.counts`, e.g. a journal's round trips): the
 * table then shows them per run and per step, with steps per second.
 */
/** One timed trial, prepared (untimed) on fresh state. */
export interface Trial {
  /** The timed part. Returns what `Case.checksum` reads. */
  readonly run: () => Promise<unknown>
  /** Untimed clean-up once the trial is measured. */
  readonly dispose: () => Promise<void>
  /**
   * Untimed, right after `run`: what `Case.checksum` reads, when the timed part ends before the
   * result is at hand (a worker released the run; its outcome is read back afterwards). Absent:
   * `run`'s own result.
   */
  readonly outcome?: (() => Promise<unknown>) | undefined
  /**
   * Read right after `run` (before `dispose`): counts the timed run made, e.g. a journal's
   * round trips (`{ append, total }`). Reported as medians over the trials, and per step.
   */
  readonly counts?: (() => Readonly<Record<string, number>>) | undefined
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
  /**
   * At most this many warm-up and timed trials for this case, fewer than the workload's when
   * its set-up is long (a peer that must first run thousands of steps to have something to
   * replay). It then sits out the remaining rounds; the others still rotate around it.
   */
  readonly maxTrials?: { readonly warmup: number; readonly iterations: number } | undefined
}

export interface Workload {
  readonly name: string
  /** Steps (activities, effects) one run performs; for the per-step column. */
  readonly steps: number
  /** The checksum every system's run must produce. */
  readonly expected: number
  readonly description: string
  /**
   * Trials for this workload when `--warmup` / `--iterations` are not given, for workloads too
   * slow for the defaults (a durable journal waits for the disk on every commit).
   */
  readonly trials?: Record<"full" | "quick", { readonly warmup: number; readonly iterations: number }> | undefined
}

/**
 * A measurement that does not fit one timed trial per case (worker processes, a latency
 * distribution, a count over a window): it runs as a whole and reports its own table.
 */
export interface Measurement {
  /** What `--only` selects. */
  readonly name: string
  readonly description: string
  /**
   * Started before the rest of its section and collected after it: for a measurement that
   * counts rather than times (an idle worker's statements), which others running beside it do
   * not disturb.
   */
  readonly background?: boolean | undefined
  readonly run: (
    options: { readonly quick: boolean; readonly log: (line: string) => void }
  ) => Promise<MeasurementResult>
}

export interface MeasurementResult {
  readonly table: string
  /** Every sample, for `bench/results/latest.json`. */
  readonly results: unknown
}

export interface Sample {
  readonly workload: string
  readonly system: string
  readonly samplesMs: ReadonlyArray<number>
  readonly steps: number
  readonly medianMs: number
  readonly minMs: number
  readonly perStepUs: number
  /**
   * Process CPU time (user + system, all threads) of the same trials. On a shared machine wall
   * time includes waiting for a core; CPU time does not, so it is the steadier comparison.
   */
  readonly cpuSamplesMs: ReadonlyArray<number>
  readonly cpuMedianMs: number
  /** Each of `Trial.counts`, per trial and its median over the trials; absent without counts. */
  readonly countSamples?: Readonly<Record<string, ReadonlyArray<number>>> | undefined
  readonly counts?: Readonly<Record<string, number>> | undefined
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
  readonly counts: Readonly<Record<string, number>> | undefined
}

/** Runs one trial; fails loudly when its checksum is wrong, since a wrong run proves nothing. */
const trial = async (c: Case, workload: Workload, index: number): Promise<Timing> => {
  // No forced GC between trials: a full collection shrinks the young generation, and the next
  // trial then runs several times slower in scavenges. Interleaving spreads GC over systems.
  const prepared = await c.prepare(index)
  const cpuStart = process.cpuUsage()
  const start = performance.now()
  const timedResult = await prepared.run()
  const wallMs = performance.now() - start
  const cpu = process.cpuUsage(cpuStart)
  const counts = prepared.counts?.()
  const result = prepared.outcome === undefined ? timedResult : await prepared.outcome()
  await prepared.dispose()
  const sum = c.checksum(result)
  if (sum !== workload.expected) {
    throw new Error(`${c.system} / ${c.workload}: checksum ${sum}, expected ${workload.expected}`)
  }
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, counts }
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
    const warmup = Math.min(options.warmup, c.maxTrials?.warmup ?? Infinity)
    for (let i = 0; i < warmup; i++) await trial(c, workload, index++)
  }
  const samples = cases.map(() => [] as Array<Timing>)
  for (let round = 0; round < options.iterations; round++) {
    for (let k = 0; k < cases.length; k++) {
      const at = (k + round) % cases.length
      if (round >= (cases[at]!.maxTrials?.iterations ?? Infinity)) continue
      samples[at]!.push(await trial(cases[at]!, workload, index++))
    }
  }
  return cases.map((c, i) => {
    const ms = samples[i]!.map((t) => t.wallMs)
    const cpuMs = samples[i]!.map((t) => t.cpuMs)
    const medianMs = median(ms)
    options.log(`  ${workload.name} · ${c.system}: median ${medianMs.toFixed(2)} ms`)
    const countSamples: Record<string, Array<number>> = {}
    for (const t of samples[i]!) {
      for (const [name, value] of Object.entries(t.counts ?? {})) (countSamples[name] ??= []).push(value)
    }
    const counted = Object.keys(countSamples).length > 0
    return {
      workload: workload.name,
      system: c.system,
      steps: workload.steps,
      samplesMs: ms,
      medianMs,
      minMs: Math.min(...ms),
      perStepUs: (medianMs * 1000) / workload.steps,
      cpuSamplesMs: cpuMs,
      cpuMedianMs: median(cpuMs),
      ...(counted
        ? {
          countSamples,
          counts: Object.fromEntries(Object.entries(countSamples).map(([name, values]) => [name, median(values)]))
        }
        : {})
    }
  })
}

/**
 * Runs `trial` for every configuration once per round, `rounds` times, in an order that rotates
 * each round, so drift in the machine's load falls on every configuration alike (for
 * measurements that are not harness cases: worker processes, a peer's queue). Resolves to each
 * configuration's trials, in the order of `configs`.
 */
export const rotatingRounds = async <C, T>(
  configs: ReadonlyArray<C>,
  rounds: number,
  trial: (config: C) => Promise<T>
): Promise<ReadonlyArray<ReadonlyArray<T>>> => {
  const trials = configs.map(() => [] as Array<T>)
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < configs.length; k++) {
      const at = (k + round) % configs.length
      trials[at]!.push(await trial(configs[at]!))
    }
  }
  return trials
}

/** `this median / baseline median` within the same workload, when the baseline ran. */
export const ratio = (samples: ReadonlyArray<Sample>, sample: Sample, baseline: string): number | undefined => {
  const base = samples.find((s) => s.workload === sample.workload && s.system === baseline)
  return base === undefined ? undefined : sample.medianMs / base.medianMs
}

export interface TableOptions {
  /** Ratio columns: every system's median divided by each of these systems' medians. */
  readonly baselines?: ReadonlyArray<string> | undefined
  /** Which systems get the baseline ratios (default: all); others leave those cells empty. */
  readonly compares?: ((system: string) => boolean) | undefined
  /**
   * One more ratio column, `÷ label`: a system's median divided by the median of the system
   * `of(system)` names (e.g. the same journal with batching off), where there is one.
   */
  readonly pair?: { readonly label: string; readonly of: (system: string) => string | undefined } | undefined
}

/**
 * The results as a table. Samples with counts (`Trial.counts`) add steps per second and, for
 * each count, its median per run and per step.
 */
export const formatTable = (samples: ReadonlyArray<Sample>, options: TableOptions = {}): string => {
  const baselines = options.baselines ?? []
  const countNames = [...new Set(samples.flatMap((s) => Object.keys(s.counts ?? {})))]
  const counted = countNames.length > 0
  const pair = options.pair
  const header = [
    "workload",
    "system",
    "median ms",
    "min ms",
    "µs/step",
    ...(counted ? ["steps/s"] : []),
    "cpu ms",
    ...countNames.flatMap((name) => [name, `${name}/step`]),
    ...baselines.map((b) => `÷ ${b}`),
    ...(pair === undefined ? [] : [`÷ ${pair.label}`])
  ]
  const ratioCell = (s: Sample, other: string | undefined) => {
    const r = other === undefined || other === s.system ? undefined : ratio(samples, s, other)
    return r === undefined ? "" : `${r.toPrecision(3)}×`
  }
  const rows = samples.map((s, i) => [
    i > 0 && samples[i - 1]!.workload === s.workload ? "" : s.workload,
    s.system,
    s.medianMs.toFixed(2),
    s.minMs.toFixed(2),
    s.perStepUs.toFixed(2),
    ...(counted ? [Math.round((s.steps * 1000) / s.medianMs).toString()] : []),
    s.cpuMedianMs.toFixed(2),
    ...countNames.flatMap((name) => {
      const count = s.counts?.[name]
      return count === undefined ? ["", ""] : [String(count), (count / s.steps).toPrecision(3)]
    }),
    ...baselines.map((b) => (options.compares?.(s.system) ?? true ? ratioCell(s, b) : "")),
    ...(pair === undefined ? [] : [ratioCell(s, pair.of(s.system))])
  ])
  return formatRows(header, rows, 2)
}

/** Rows of cells as aligned text columns: the first `textColumns` to the left, the rest (numbers) to the right. */
export const formatRows = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  textColumns: number
): string => {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, c) => (c < textColumns ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}
