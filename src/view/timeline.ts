/**
 * A run's timeline from what `Engine.inspect` returns: one lane per branch path (a parallel or
 * race branch, a forEach item, the top level), a bar per attempt of each step, waits for sleeps
 * and signals, and a mark where each signal arrived. Shared by the CLI's text timeline and the
 * dashboard's; it reads the public API only.
 */
import { Engine, RunStatus, WorkflowGraph } from "../index.ts"

export interface Bar {
  readonly path: string
  readonly startedAt: number
  readonly finishedAt: number
  readonly attempt: number
  /** `failed` for an attempt that failed (and was retried, unless it was the last). */
  readonly outcome: "completed" | "failed"
  readonly error: string | undefined
}

export interface Wait {
  readonly path: string
  readonly kind: "sleep" | "signal"
  readonly from: number
  /** When the wait ended or will end; `undefined` while it waits for a signal with no deadline. */
  readonly until: number | undefined
  /** The wait is still going on. */
  readonly open: boolean
}

export interface Mark {
  readonly path: string
  readonly at: number
}

export interface Lane {
  /** The branch path; `""` for the top level. */
  readonly lane: string
  readonly bars: ReadonlyArray<Bar>
  readonly waits: ReadonlyArray<Wait>
  readonly marks: ReadonlyArray<Mark>
}

export interface Timeline {
  readonly start: number
  readonly end: number
  readonly lanes: ReadonlyArray<Lane>
}

/** The part of a path after its lane: the step's name (or a block's). */
export const nameIn = (lane: string, path: string): string => (lane === "" ? path : path.slice(lane.length + 1))

export const timelineOf = (detail: Engine.RunDetail, now: number, graph?: WorkflowGraph.Graph): Timeline => {
  const { entries, run } = detail
  const lanes = new Map<string, { bars: Array<Bar>; waits: Array<Wait>; marks: Array<Mark> }>()
  const laneOf = (lane: string) => {
    let found = lanes.get(lane)
    if (found === undefined) lanes.set(lane, found = { bars: [], waits: [], marks: [] })
    return found
  }
  const kinds = new Map(graph === undefined ? [] : WorkflowGraph.flatten(graph).map((node) => [node.path, node.kind]))
  const failedAttempts = new Map<string, number>()
  for (const entry of entries) {
    if (entry.kind === "attempt") failedAttempts.set(entry.path, (failedAttempts.get(entry.path) ?? 0) + 1)
  }
  const signals = new Map(entries.filter((entry) => entry.kind === "signal").map((entry) => [entry.path, entry]))
  const waitingFor = new Set(
    RunStatus.isLive(run.status) ? (run.waitingFor ?? "").split(", ").filter((path) => path !== "") : []
  )

  for (const entry of entries) {
    const lane = laneOf(entry.lane)
    if (entry.kind === "step" && entry.startedAt !== undefined && entry.finishedAt !== undefined) {
      lane.bars.push({
        path: entry.path,
        startedAt: entry.startedAt,
        finishedAt: entry.finishedAt,
        attempt: (failedAttempts.get(entry.path) ?? 0) + 1,
        outcome: "completed",
        error: undefined
      })
    } else if (entry.kind === "attempt" && entry.startedAt !== undefined && entry.finishedAt !== undefined) {
      lane.bars.push({
        path: entry.path,
        startedAt: entry.startedAt,
        finishedAt: entry.finishedAt,
        attempt: entry.attempt ?? entry.seq + 1,
        outcome: "failed",
        error: entry.error
      })
    } else if (entry.kind === "signal" && entry.finishedAt !== undefined) {
      lane.marks.push({ path: entry.path, at: entry.finishedAt })
    } else if (entry.kind === "wake" && entry.startedAt !== undefined) {
      const deadline = Number(entry.value)
      const signal = signals.get(entry.path)
      const isSignal = signal !== undefined || kinds.get(WorkflowGraph.nodePath(entry.path)) === "signal"
      const until = signal?.finishedAt !== undefined ? Math.min(signal.finishedAt, deadline) : deadline
      lane.waits.push({
        path: entry.path,
        kind: isSignal ? "signal" : "sleep",
        from: entry.startedAt,
        until,
        open: RunStatus.isLive(run.status) && until > now
      })
    }
  }

  // A signal with no deadline journals nothing while it is awaited: its wait runs from the end of
  // the last work in its lane to its arrival, or to now while the run still waits for it.
  const timedWaits = new Set(entries.filter((entry) => entry.kind === "wake").map((entry) => entry.path))
  const untimed = [
    ...[...signals.values()].filter((entry) => !timedWaits.has(entry.path)).map((entry) =>
      [entry.path, entry.lane, entry.finishedAt] as const
    ),
    ...[...waitingFor].filter((path) => !signals.has(path) && !timedWaits.has(path)).map((path) =>
      [path, Engine.laneOf(path), undefined] as const
    )
  ]
  for (const [path, laneKey, arrived] of untimed) {
    const lane = laneOf(laneKey)
    const before = lane.bars.map((bar) => bar.finishedAt).filter((at) => arrived === undefined || at <= arrived)
    const from = before.length > 0 ? Math.max(...before) : run.createdAt
    lane.waits.push({ path, kind: "signal", from, until: arrived, open: arrived === undefined })
  }

  const times = [
    run.createdAt,
    ...entries.flatMap((entry) => [entry.startedAt, entry.finishedAt]).filter((at) => at !== undefined)
  ]
  const end = RunStatus.isLive(run.status) ? Math.max(now, ...times) : Math.max(run.updatedAt, ...times)
  const sorted = [...lanes.entries()]
    .map(([lane, content]) => ({ lane, ...content, first: Math.min(...firstTimes(content)) }))
    .sort((a, b) => (a.lane === "" ? -1 : b.lane === "" ? 1 : a.first - b.first || a.lane.localeCompare(b.lane)))
  for (const lane of sorted) lane.bars.sort((a, b) => a.startedAt - b.startedAt)
  return {
    start: run.createdAt,
    end: Math.max(end, run.createdAt + 1),
    lanes: sorted.map(({ bars, lane, marks, waits }) => ({ lane, bars, marks, waits }))
  }
}

const firstTimes = (lane: { bars: ReadonlyArray<Bar>; waits: ReadonlyArray<Wait>; marks: ReadonlyArray<Mark> }) => [
  Infinity,
  ...lane.bars.map((bar) => bar.startedAt),
  ...lane.waits.map((wait) => wait.from),
  ...lane.marks.map((mark) => mark.at)
]
