/**
 * The run's timeline as SVG: the shared lane model (`view/timeline.ts`) on its axis, idle
 * stretches drawn as narrow breaks labelled with their length. A lane with more bars than the
 * chart has room for draws bars closer than a pixel as one, so a 20,000-item forEach costs as
 * many shapes as the chart has pixels, not as many as it has items.
 */
import { formatDuration, formatTime } from "../view/format.ts"
import { axisOf, type Bar, type Lane, type Mark, nameIn, type Timeline, type Wait } from "../view/timeline.ts"
import { type Html, html } from "./html.ts"

const laneHeight = 30
const labelWidth = 180
const chartWidth = 820
/** A compressed gap is drawn this wide. */
const gapWidth = 36
/** Past this many shapes of one kind in a lane, shapes closer than a pixel are drawn as one. */
const coalesceOver = chartWidth / 4

export const timelineSvg = (timeline: Timeline): Html => {
  const axis = axisOf(timeline, gapWidth / chartWidth)
  const x = (at: number) => labelWidth + axis.position(at) * chartWidth
  const width = labelWidth + chartWidth + 10
  const height = 30 + timeline.lanes.length * laneHeight
  const inGap = (at: number) => axis.gaps.some((gap) => at > gap.from && at < gap.to)
  const label = (at: number, i: number) => (i === 0 ? formatTime(at) : `+${formatDuration(at - timeline.start)}`)
  // Ticks at even places on the drawn axis: none inside a gap (its own label says its length),
  // and none repeating the label before it (a short stretch after a long gap); the end is kept.
  const ticks: Array<number> = []
  for (const position of [0, 0.25, 0.5, 0.75, 1]) {
    const at = axis.timeAt(position)
    const end = position === 1
    if (position !== 0 && !end && inGap(at)) continue
    const previous = ticks.length
    if (previous > 1 && label(ticks[previous - 1]!, previous - 1) === label(at, previous)) {
      if (!end) continue
      ticks.pop()
    }
    ticks.push(at)
  }
  return html`<svg class="timeline" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="run timeline">
${
    axis.gaps.map((gap) => {
      const x0 = labelWidth + gap.start * chartWidth
      const x1 = labelWidth + gap.end * chartWidth
      const middle = (x0 + x1) / 2
      return html`<g class="gap" data-from="${gap.from}" data-to="${gap.to}"><rect x="${x0}" y="14" width="${
        x1 - x0
      }" height="${height - 14}"/><path d="M ${middle - 3} 14 L ${middle + 3} 20 L ${middle - 3} 26 L ${
        middle + 3
      } 32"/><text x="${middle}" y="10" text-anchor="middle">≈${formatDuration(gap.to - gap.from)}</text><title>${
        formatDuration(gap.to - gap.from)
      } with no work, drawn short (${formatTime(gap.from)} to ${formatTime(gap.to)})</title></g>`
    })
  }
${
    ticks.map((at, i) =>
      html`<g class="tick"><line x1="${x(at)}" x2="${x(at)}" y1="14" y2="${height}"/><text x="${x(at)}" y="${
        // With gaps, their lengths take the top line and the ticks the one below.
        axis.gaps.length > 0 && i !== 0 ? 24 : 10}" text-anchor="${
        i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle"
      }">${label(at, i)}</text></g>`
    )
  }
${timeline.lanes.map((lane, i) => laneSvg(lane, 26 + i * laneHeight, x, timeline.end))}
</svg>`
}

const laneSvg = (lane: Lane, y: number, x: (at: number) => number, end: number): Html =>
  html`<g class="lane${lane.items === undefined ? "" : " folded"}" data-lane="${lane.label}">
<text class="lane-label" x="4" y="${y + 18}">${truncate(lane.label, 26)}<title>${lane.label}${
    lane.items === undefined ? "" : `: ${lane.items} items that ran one after another`
  }</title></text>
${
    coalesce(lane.waits, (wait) => [x(wait.from), x(wait.until ?? end)], sameWait).map(([wait, x0, x1, count]) =>
      waitSvg(wait, x0, x1, count, y)
    )
  }
${
    coalesce(lane.bars, (bar) => [x(bar.startedAt), x(bar.finishedAt)], sameOutcome).map(([bar, x0, x1, count]) =>
      barSvg(lane, bar, x0, x1, count, y)
    )
  }
${
    coalesce(lane.marks, (mark) => [x(mark.at) - 2, x(mark.at) + 2], sameMark).map(([mark, x0, x1, count]) =>
      markSvg(mark, x0, x1, count, y)
    )
  }
</g>`

const waitSvg = (wait: Wait, x0: number, x1: number, count: number, y: number): Html =>
  html`<line class="wait wait-${wait.kind}${wait.open ? " open" : ""}" x1="${x0}" x2="${x1}" y1="${y + 14}" y2="${
    y + 14
  }"><title>${
    count > 1
      ? `${count} ${wait.kind === "sleep" ? "sleeps" : "waits for signals"}`
      : `${wait.kind === "sleep" ? "sleep" : "waiting for signal"} ${wait.path}`
  }</title></line>`

const barSvg = (lane: Lane, bar: Bar, x0: number, x1: number, count: number, y: number): Html =>
  count > 1
    ? html`<rect class="bar ${bar.outcome}" data-count="${count}" x="${x0}" y="${y + 5}" width="${
      Math.max(2, x1 - x0)
    }" height="18" rx="3"><title>${count} ${bar.outcome} attempts, from ${nameIn(lane.lane, bar.path)}</title></rect>`
    : html`<rect class="bar ${bar.outcome}" data-path="${bar.path}" data-attempt="${bar.attempt}" x="${x0}" y="${
      y + 5
    }" width="${Math.max(2, x1 - x0)}" height="18" rx="3"><title>${
      nameIn(lane.lane, bar.path)
    } attempt ${bar.attempt} ${bar.outcome}, ${formatDuration(bar.finishedAt - bar.startedAt)}${
      bar.error === undefined ? "" : `: ${bar.error}`
    }</title></rect>`

const markSvg = (mark: Mark, x0: number, x1: number, count: number, y: number): Html => {
  const at = (x0 + x1) / 2
  const many = count > 1 ? `${count} × ` : ""
  if (mark.kind === "signal") {
    return html`<path class="signal-mark" data-path="${mark.path}" d="M ${at - 5} ${y + 2} L ${at + 5} ${
      y + 2
    } L ${at} ${y + 11} Z"><title>${many}signal ${mark.path} arrived ${formatTime(mark.at)}</title></path>`
  }
  // A compensation: an arrow bent back, under the step it undid.
  return html`<path class="compensation-mark${
    mark.kind === "compensationFailed" ? " failed" : ""
  }" data-path="${mark.path}" d="M ${at + 5} ${y + 19} L ${at - 5} ${y + 24} L ${at + 5} ${y + 29} Z"><title>${many}${
    mark.kind === "compensated"
      ? `compensated ${mark.path} at ${formatTime(mark.at)}${
        mark.took === undefined ? "" : `, took ${formatDuration(mark.took)}`
      }`
      : `compensation of ${mark.path} failed at ${formatTime(mark.at)}: ${mark.error ?? "unknown error"}`
  }</title></path>`
}

const sameOutcome = (a: Bar, b: Bar) => a.outcome === b.outcome
const sameWait = (a: Wait, b: Wait) => a.kind === b.kind && a.open === b.open
const sameMark = (a: Mark, b: Mark) => a.kind === b.kind

/**
 * Shapes in drawing order with their pixel extent; past `coalesceOver`, a shape that starts less
 * than a pixel after the previous one of its kind ends extends it, and counts as one more.
 */
const coalesce = <A>(
  shapes: ReadonlyArray<A>,
  extent: (shape: A) => readonly [number, number],
  same: (a: A, b: A) => boolean
): ReadonlyArray<readonly [A, number, number, number]> => {
  const placed = shapes.map((shape) => [shape, ...extent(shape), 1] as [A, number, number, number])
  if (placed.length <= coalesceOver) return placed
  placed.sort((a, b) => a[1] - b[1])
  const out: Array<[A, number, number, number]> = []
  for (const shape of placed) {
    let last: [A, number, number, number] | undefined
    for (let i = out.length - 1; i >= Math.max(0, out.length - 4) && last === undefined; i--) {
      if (same(out[i]![0], shape[0])) last = out[i]
    }
    if (last !== undefined && shape[1] - last[2] < 1) {
      last[2] = Math.max(last[2], shape[2])
      last[3]++
    } else out.push(shape)
  }
  return out
}

const truncate = (text: string, max: number) => (text.length <= max ? text : `…${text.slice(text.length - max + 1)}`)
