/**
 * The lane model the CLI's text timeline and the dashboard's SVG both draw, from what
 * `Engine.inspect` returns. One lane per branch or item the journal's paths name (the entries'
 * `lane`, `Engine.laneOf`), so work that ran at once is never drawn in one lane; a bar per
 * attempt of each step; waits for sleeps and signals, ended where they really ended (a signal's
 * arrival, a race decided by another branch, the run's end); marks where signals arrived and
 * compensations ran. The items of a large `forEach` are folded into as many rows as ran at once.
 * Long idle stretches are compressed on the axis (`axisOf`). It reads the public API only.
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
  /**
   * `signal`: a signal arrived. `compensated`: the compensation of the step at `path` finished
   * (it took `took`). `compensationFailed`: an attempt of that compensation failed (`error`).
   */
  readonly kind: "signal" | "compensated" | "compensationFailed"
  readonly took?: number | undefined
  readonly error?: string | undefined
}

export interface Lane {
  /** The lane's path (`""` the top level), or for a row of folded items `packed[…] #2`. */
  readonly lane: string
  /** What to call it: `(run)`, the lane's path, or the folded row's name. */
  readonly label: string
  /** For a row of a folded `forEach`: how many of its items the row shows. */
  readonly items?: number | undefined
  readonly bars: ReadonlyArray<Bar>
  readonly waits: ReadonlyArray<Wait>
  readonly marks: ReadonlyArray<Mark>
}

export interface Timeline {
  readonly start: number
  readonly end: number
  readonly lanes: ReadonlyArray<Lane>
}

/** A forEach with more item lanes than this is drawn as rows of items that ran one after another. */
export const foldItemsOver = 12

/** The part of a path after its lane: the step's name (or a block's). */
export const nameIn = (lane: string, path: string): string =>
  lane === "" || !path.startsWith(lane) ? path : path.length === lane.length ? path : path.slice(lane.length + 1)

export const timelineOf = (detail: Engine.RunDetail, now: number, graph?: WorkflowGraph.Graph): Timeline => {
  const { entries, run } = detail
  const live = RunStatus.isLive(run.status)
  const lanes = new Map<string, { bars: Array<Bar>; waits: Array<Wait>; marks: Array<Mark> }>()
  const laneAt = (lane: string) => {
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
  const waitingFor = new Set(live ? run.waitingFor : [])
  const decided = raceDecisions(entries, kinds)
  // The run's times, from its record and its entries (their clocks may differ from the store's).
  let start = run.createdAt
  let end = live ? now : run.updatedAt
  for (const entry of entries) {
    if (entry.startedAt !== undefined && entry.startedAt < start) start = entry.startedAt
    if (entry.finishedAt !== undefined && entry.finishedAt > end) end = entry.finishedAt
  }
  // A finished run waits for nothing: whatever it still waited on ended with it.
  const endOf = (until: number | undefined): number | undefined =>
    live ? until : until === undefined ? end : Math.min(until, end)

  for (const entry of entries) {
    // A lane is made by what is drawn in it: a choice or an outcome alone draws nothing.
    const timed = entry.startedAt !== undefined && entry.finishedAt !== undefined
    if (entry.compensates !== undefined && entry.finishedAt !== undefined) {
      laneAt(entry.lane).marks.push(
        entry.kind === "attempt"
          ? { path: entry.compensates, at: entry.finishedAt, kind: "compensationFailed", error: entry.error }
          : {
            path: entry.compensates,
            at: entry.finishedAt,
            kind: "compensated",
            took: entry.startedAt === undefined ? undefined : entry.finishedAt - entry.startedAt
          }
      )
    } else if (entry.kind === "step" && timed) {
      laneAt(entry.lane).bars.push({
        path: entry.path,
        startedAt: entry.startedAt!,
        finishedAt: entry.finishedAt!,
        attempt: (failedAttempts.get(entry.path) ?? 0) + 1,
        outcome: "completed",
        error: undefined
      })
    } else if (entry.kind === "attempt" && timed) {
      laneAt(entry.lane).bars.push({
        path: entry.path,
        startedAt: entry.startedAt!,
        finishedAt: entry.finishedAt!,
        attempt: entry.attempt ?? entry.seq + 1,
        outcome: "failed",
        error: entry.error
      })
    } else if (entry.kind === "signal" && entry.finishedAt !== undefined) {
      laneAt(entry.lane).marks.push({ path: entry.path, at: entry.finishedAt, kind: "signal" })
    } else if (entry.kind === "wake" && entry.startedAt !== undefined) {
      const deadline = Number(entry.value)
      const signal = signals.get(entry.path)
      const isSignal = signal !== undefined || kinds.get(WorkflowGraph.nodePath(entry.path)) === "signal"
      let until = signal?.finishedAt !== undefined ? Math.min(signal.finishedAt, deadline) : deadline
      // A wait in a branch that lost a race ended when the race was decided.
      for (const [race, at] of decided) {
        if (WorkflowGraph.isWithin(entry.path, race)) until = Math.min(until, at)
      }
      const ended = endOf(until)!
      laneAt(entry.lane).waits.push({
        path: entry.path,
        kind: isSignal ? "signal" : "sleep",
        from: entry.startedAt,
        until: ended,
        open: live && ended > now
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
    const lane = laneAt(laneKey)
    const before = lane.bars.map((bar) => bar.finishedAt).filter((at) => arrived === undefined || at <= arrived)
    const from = before.length > 0 ? Math.max(...before) : start
    lane.waits.push({ path, kind: "signal", from, until: endOf(arrived), open: live && arrived === undefined })
  }

  const drawn = [...lanes].map(([lane, content]): Lane => ({
    lane,
    label: lane === "" ? "(run)" : lane,
    ...content
  }))
  return { start, end: Math.max(end, start + 1), lanes: ordered(fold(drawn)) }
}

/**
 * When each race of the run was decided: the last work its winning branch journaled. The losers
 * were interrupted then, so their waits end there, however far their deadlines were.
 */
const raceDecisions = (
  entries: ReadonlyArray<Engine.EntryDetail>,
  kinds: ReadonlyMap<string, WorkflowGraph.Kind>
): ReadonlyMap<string, number> => {
  const races = entries.filter((entry) =>
    entry.kind === "choice" && kinds.get(WorkflowGraph.nodePath(entry.path)) === "race"
  )
  const decided = new Map<string, number>()
  for (const race of races) {
    let at: number | undefined
    for (const entry of entries) {
      if (entry.kind === "wake" || entry.finishedAt === undefined || entry.path === race.path) continue
      if (WorkflowGraph.isWithin(entry.path, race.path) && (at === undefined || entry.finishedAt > at)) {
        at = entry.finishedAt
      }
    }
    if (at !== undefined) decided.set(race.path, at)
  }
  return decided
}

/** The top level first, then lanes by when their work began. */
const ordered = (lanes: ReadonlyArray<Lane>): ReadonlyArray<Lane> => {
  const withFirst = lanes.map((lane) => ({ lane, first: firstTime(lane) }))
  withFirst.sort((a, b) =>
    a.lane.lane === "" ? -1 : b.lane.lane === "" ? 1 : a.first - b.first || a.lane.lane.localeCompare(b.lane.lane)
  )
  for (const { lane } of withFirst) (lane.bars as Array<Bar>).sort((a, b) => a.startedAt - b.startedAt)
  return withFirst.map(({ lane }) => lane)
}

const firstTime = (lane: Lane): number => {
  let first = Infinity
  for (const bar of lane.bars) first = Math.min(first, bar.startedAt)
  for (const wait of lane.waits) first = Math.min(first, wait.from)
  for (const mark of lane.marks) first = Math.min(first, mark.at)
  return first
}

const lastTime = (lane: Lane): number => {
  let last = -Infinity
  for (const bar of lane.bars) last = Math.max(last, bar.finishedAt)
  for (const wait of lane.waits) last = Math.max(last, wait.until ?? Infinity)
  for (const mark of lane.marks) last = Math.max(last, mark.at)
  return last
}

/**
 * The lanes of a forEach's items, when there are more than `foldItemsOver`, become rows: each
 * item goes into the first row free when it started, so there are as many rows as items ran at
 * once, and no row has two items at the same time. Lanes inside items (a parallel in the body)
 * fold the same way, one group per place in the body.
 */
const fold = (lanes: ReadonlyArray<Lane>): ReadonlyArray<Lane> => {
  const groups = new Map<string, Array<Lane>>()
  for (const lane of lanes) {
    const item = lane.lane.includes("[") ? WorkflowGraph.itemOf(lane.lane) : undefined
    if (item === undefined) continue
    const group = `${item.forEach}[…]${lane.lane.slice(item.path.length)}`
    const members = groups.get(group)
    if (members === undefined) groups.set(group, [lane])
    else members.push(lane)
  }
  const folded = new Set<Lane>()
  const rows: Array<Lane> = []
  for (const [group, members] of groups) {
    if (members.length <= foldItemsOver) continue
    const timed = members.map((lane) => ({ lane, first: firstTime(lane), last: lastTime(lane) }))
    timed.sort((a, b) => a.first - b.first)
    const slots: Array<{ end: number; items: number; bars: Array<Bar>; waits: Array<Wait>; marks: Array<Mark> }> = []
    for (const { first, lane, last } of timed) {
      folded.add(lane)
      let slot = slots.find((candidate) => candidate.end <= first)
      if (slot === undefined) slots.push(slot = { end: last, items: 0, bars: [], waits: [], marks: [] })
      slot.end = last
      slot.items++
      for (const bar of lane.bars) slot.bars.push(bar)
      for (const wait of lane.waits) slot.waits.push(wait)
      for (const mark of lane.marks) slot.marks.push(mark)
    }
    slots.forEach(({ bars, items, marks, waits }, i) => {
      const name = `${group} #${i + 1}`
      rows.push({ lane: name, label: name, items, bars, waits, marks })
    })
  }
  return [...lanes.filter((lane) => !folded.has(lane)), ...rows]
}

// --- the time axis ---------------------------------------------------------------------------

/** An idle stretch drawn compressed, with where it sits on the drawn axis (0 to 1). */
export interface Gap {
  readonly from: number
  readonly to: number
  readonly start: number
  readonly end: number
}

export interface Axis {
  /** Where the time `at` is drawn, from 0 (the run's start) to 1 (its end). */
  readonly position: (at: number) => number
  /** The time drawn at a position: the inverse of `position`, outside gaps. */
  readonly timeAt: (position: number) => number
  readonly gaps: ReadonlyArray<Gap>
}

/** An idle stretch is compressed when it is longer than a second and than this share of the run. */
export const gapShareOfRun = 0.05
/** All compressed gaps together take at most this much of the axis. */
const gapsAtMost = 0.4

/**
 * The timeline's axis: linear, except that each stretch where nothing ran (no attempt, signal or
 * compensation) longer than a second and than 5% of the run is drawn `gapWidth` wide (a share of
 * the axis), so the work around an eight-minute approval is as readable as the work of a run
 * that never waited. Waits are drawn across the gaps, with their length written there.
 */
export const axisOf = (timeline: Timeline, gapWidth: number): Axis => {
  const span = timeline.end - timeline.start
  const busy: Array<readonly [number, number]> = []
  for (const lane of timeline.lanes) {
    for (const bar of lane.bars) busy.push([bar.startedAt, bar.finishedAt])
    for (const mark of lane.marks) busy.push([mark.at, mark.at])
  }
  busy.sort((a, b) => a[0] - b[0])
  const idle: Array<readonly [number, number]> = []
  let cursor = timeline.start
  for (const [from, to] of busy) {
    if (from > cursor) idle.push([cursor, from])
    cursor = Math.max(cursor, to)
  }
  if (timeline.end > cursor) idle.push([cursor, timeline.end])
  const threshold = Math.max(1000, span * gapShareOfRun)
  const compressed = idle.filter(([from, to]) => to - from > threshold)
  if (compressed.length === 0) {
    return {
      position: (at) => clamp((at - timeline.start) / span),
      timeAt: (position) => timeline.start + position * span,
      gaps: []
    }
  }
  const width = Math.min(gapWidth, gapsAtMost / compressed.length)
  // The stretches between gaps, in order; the axis is gap, stretch, gap, ... as time goes.
  const stretches: Array<readonly [number, number]> = []
  let at = timeline.start
  for (const [from, to] of compressed) {
    stretches.push([at, from])
    at = to
  }
  stretches.push([at, timeline.end])
  const linearTime = stretches.reduce((sum, [from, to]) => sum + (to - from), 0)
  const linearWidth = 1 - width * compressed.length
  // Each stretch is as wide as its share of the time that is not idle, and at least as wide as
  // a gap: work that took next to no time (instant steps around a long wait) stays visible.
  const share = (from: number, to: number) =>
    Math.max(width, linearTime <= 0 ? 0 : ((to - from) / linearTime) * linearWidth)
  const placed: Array<{ from: number; to: number; start: number; width: number; gap: boolean }> = []
  let position = 0
  stretches.forEach(([from, to], i) => {
    const drawn = share(from, to)
    placed.push({ from, to, start: position, width: drawn, gap: false })
    position += drawn
    const gap = compressed[i]
    if (gap !== undefined) {
      placed.push({ from: gap[0], to: gap[1], start: position, width, gap: true })
      position += width
    }
  })
  for (const piece of placed) {
    piece.start /= position
    piece.width /= position
  }
  const pieceAt = (time: number) => placed.find((piece) => time <= piece.to) ?? placed[placed.length - 1]!
  return {
    position: (time) => {
      const piece = pieceAt(time)
      const length = piece.to - piece.from
      // An instant stretch draws what happened in it in its middle.
      return clamp(piece.start + (length <= 0 ? piece.width / 2 : ((time - piece.from) / length) * piece.width))
    },
    timeAt: (drawn) => {
      const piece = placed.find((candidate) => drawn <= candidate.start + candidate.width) ?? placed[placed.length - 1]!
      return piece.width <= 0
        ? piece.from
        : piece.from + ((drawn - piece.start) / piece.width) * (piece.to - piece.from)
    },
    gaps: placed.filter((piece) => piece.gap).map((piece) => ({
      from: piece.from,
      to: piece.to,
      start: piece.start,
      end: piece.start + piece.width
    }))
  }
}

const clamp = (value: number) => (value < 0 ? 0 : value > 1 ? 1 : value)
