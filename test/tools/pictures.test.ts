/**
 * The pictures are true to the journal, in the CLI and the dashboard alike (one lane model):
 * items of a function-body forEach in lanes of their own, a large forEach folded into as many
 * rows as ran at once, a race's losing sleep ended where the race was decided, compensations
 * drawn and listed, a failed run's forEach stopped rather than running, an eight-minute wait
 * compressed, child runs linked both ways, a dead worker's expired lease said, and every valid run
 * id opened. On a SQLite journal a real worker fills; the dashboard over HTTP.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { Journal } from "plait"
import * as Pictures from "../support/fixtures/pictures.ts"
import { cli, serveDashboard, sqliteBackend } from "../support/tools.ts"

const backend = sqliteBackend()
const scope = Effect.runSync(Scope.make())
let origin = ""

const page = async (path: string) => {
  const response = await fetch(`${origin}${path}`)
  return { status: response.status, html: await response.text() }
}

/** The rows of a text timeline: `lane |cells|`. */
const rowsOf = (output: string) =>
  new Map(
    output.split("\n").filter((line) => /^\S.* \|.*\|$/.test(line)).map((line) => {
      const bar = line.indexOf("|")
      return [line.slice(0, bar).trim(), line.slice(bar + 1, line.lastIndexOf("|"))] as const
    })
  )

/** A number attribute of the first tag matching `selector` (a regular expression source). */
const attribute = (html: string, tag: string, name: string): number => {
  const found = new RegExp(`<${tag}[^>]*>`).exec(html)
  if (found === null) return assert.fail(`no ${tag} in the page`)
  const value = new RegExp(`\\s${name}="([^"]*)"`).exec(found[0])
  if (value === null) return assert.fail(`${found[0]} has no ${name}`)
  return Number(value[1])
}

describe("pictures true to the journal", () => {
  const flags = backend.flags
  beforeAll(async () => {
    const context = await Effect.runPromise(Layer.buildWithScope(backend.layer, scope))
    await Effect.runPromise(Pictures.seedPictures(scope).pipe(Effect.provideContext(context)))
    origin = await Effect.runPromise(
      serveDashboard({ workflows: [...Pictures.executed, Pictures.Approval], authenticate: "none" }, context, scope)
    )
  }, 60_000)
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await backend.cleanup()
  })

  it.live("each item of a function-body forEach is a lane of its own; none is drawn in the run's lane", () =>
    Effect.gen(function*() {
      const { ok, output } = yield* cli(...flags, "runs", "timeline", "packing-1")
      assert.isTrue(ok, output)
      const rows = rowsOf(output)
      assert.deepStrictEqual(
        [...rows.keys()].sort(),
        ["packed[s0]", "packed[s1]", "packed[s2]", "packed[s3]", "packed[s4]", "packed[s5]"]
      )
      const { html } = yield* Effect.promise(() => page("/plait/runs/packing-1"))
      for (const sku of ["s0", "s5"]) assert.include(html, `data-lane="packed[${sku}]"`)
      assert.notInclude(html, `data-lane="(run)"`)
    }))

  it.live("a large forEach is folded into as many rows as ran at once, each row one item after another", () =>
    Effect.gen(function*() {
      const { output } = yield* cli(...flags, "runs", "timeline", "bulk-1", "--width", "200")
      const rows = [...rowsOf(output).keys()]
      assert.isAtLeast(rows.length, 1)
      assert.isAtMost(rows.length, 3, "the forEach ran 3 items at a time")
      for (const row of rows) assert.match(row, /^bulk\[…\] #\d$/)
      const items = [...output.matchAll(/^bulk\[…\] #\d\s+(\d+) items, one after another$/gm)].map((m) => Number(m[1]))
      assert.strictEqual(items.reduce((a, b) => a + b, 0), 40)
      const { html } = yield* Effect.promise(() => page("/plait/runs/bulk-1"))
      assert.include(html, `data-lane="bulk[…] #1"`)
      assert.notInclude(html, `data-lane="bulk[0]"`)
    }))

  it.live("a race's losing sleep ends when the race was decided, not at its deadline", () =>
    Effect.gen(function*() {
      const { output } = yield* cli(...flags, "runs", "timeline", "fastest-1", "--width", "100")
      const span = /\.\.\. \+(\d+(?:\.\d+)?)(ms|s)/.exec(output)
      assert.isNotNull(span, output)
      assert.isBelow(span![2] === "ms" ? Number(span![1]) : Number(span![1]) * 1000, 10_000, output)
      const rows = rowsOf(output)
      const lastDot = rows.get("fastest/slow")!.lastIndexOf(".")
      const used = rows.get("(run)")!.indexOf("=")
      assert.isAbove(lastDot, -1, output)
      assert.isAtMost(lastDot, used, `the sleep ends where the step after the race starts\n${output}`)
      const { html } = yield* Effect.promise(() => page("/plait/runs/fastest-1"))
      const sleepEnd = attribute(html, "line class=\"wait wait-sleep\"", "x2")
      const usedStart = attribute(html, "rect class=\"bar completed\" data-path=\"used\"", "x")
      assert.isAtMost(sleepEnd, usedStart)
    }))

  it.live("compensations: listed by runs show, marked in their step's lane, and on the graph", () =>
    Effect.gen(function*() {
      const show = yield* cli(...flags, "runs", "show", "refund-1")
      assert.include(show.output, "compensating because the run failed")
      assert.match(show.output, /^charged\s+compensated\s/m)
      assert.match(show.output, /^reserved\s+compensated\s/m)
      const timeline = yield* cli(...flags, "runs", "timeline", "refund-1", "--width", "80")
      assert.strictEqual([...rowsOf(timeline.output).get("(run)")!.matchAll(/</g)].length, 2, timeline.output)
      const { html } = yield* Effect.promise(() => page("/plait/runs/refund-1"))
      assert.include(html, `class="compensation-mark" data-path="charged"`)
      assert.include(html, `class="compensation-mark" data-path="reserved"`)
      assert.match(html, /data-path="charged" data-status="completed"[^>]*>charged[^<]*<span class="undo done"/)
      assert.match(html, /data-path="shipped" data-status="failed"[^>]*>shipped(?!<span class="undo)/)
      assert.include(html, "compensating")
    }))

  it.live("a failed run's unfinished forEach is stopped, not running", () =>
    Effect.gen(function*() {
      const show = yield* cli(...flags, "runs", "show", "stopped-1")
      assert.match(show.output, /forEach work\/items\/lines .* \d+ done, stopped/)
      assert.notInclude(show.output, ", running")
      const { html } = yield* Effect.promise(() => page("/plait/runs/stopped-1"))
      assert.include(html, `data-path="work/items/lines" data-status="stopped"`)
      assert.notInclude(html, `data-status="running"`)
    }))

  it.live("an eight-minute wait is drawn short, so the work around it stays readable", () =>
    Effect.gen(function*() {
      const { output } = yield* cli(...flags, "runs", "timeline", "approval-1", "--width", "60")
      assert.match(output, /≈ idle, drawn short: 8m0s/, output)
      const row = rowsOf(output).get("(run)")!
      // The wait takes a few columns, not all but the first and the last.
      assert.isAtLeast(row.indexOf("~"), 10, output)
      assert.isAtMost(row.lastIndexOf("=") - row.indexOf("="), 59)
      const { html } = yield* Effect.promise(() => page("/plait/runs/approval-1"))
      assert.include(html, "≈8m0s")
      assert.include(html, `<g class="gap"`)
    }))

  it.live("child runs: the parent lists and links them, its child node is coloured, the child links back", () =>
    Effect.gen(function*() {
      const parent = yield* cli(...flags, "runs", "show", "order-1")
      assert.match(parent.output, /^order-1\/invoiced\s+invoiced\s+invoice\s+completed$/m)
      const child = yield* cli(...flags, "runs", "show", "order-1/invoiced")
      assert.include(child.output, "parent    order-1")
      const parentPage = yield* Effect.promise(() => page("/plait/runs/order-1"))
      assert.include(parentPage.html, `href="/plait/runs/order-1%2Finvoiced"`)
      assert.include(parentPage.html, `data-path="invoiced" data-status="completed"`)
      const childPage = yield* Effect.promise(() => page("/plait/runs/order-1%2Finvoiced"))
      assert.strictEqual(childPage.status, 200)
      assert.include(childPage.html, `class="parent" href="/plait/runs/order-1"`)
    }))

  it.live("a run whose worker died says that its lease ran out", () =>
    Effect.gen(function*() {
      const loaded = yield* Journal.Journal.use((journal) => journal.load("dead-1")).pipe(
        Effect.provide(backend.layer)
      )
      assert.strictEqual(loaded._tag === "Some" ? loaded.value.run.status : undefined, "running")
      const { output } = yield* cli(...flags, "runs", "show", "dead-1")
      assert.match(output, /last on worker:gone, whose lease ran out at .* ago\): that worker stopped renewing it/)
      const { html } = yield* Effect.promise(() => page("/plait/runs/dead-1"))
      assert.include(html, "whose lease ran out")
    }))

  it.live("every valid run id opens, longer than 100 characters too; the empty one is refused with its rule", () =>
    Effect.gen(function*() {
      const long = yield* Effect.promise(() => page(`/plait/runs/${encodeURIComponent(Pictures.longId)}`))
      assert.strictEqual(long.status, 200, long.html)
      assert.include(long.html, `<span class="run-id">${Pictures.longId}</span>`)
      const empty = yield* Effect.promise(() => page("/plait/runs/"))
      assert.strictEqual(empty.status, 400, empty.html)
      assert.include(empty.html, "a run id must not be empty")
      const shown = yield* cli(...flags, "runs", "show", Pictures.longId)
      assert.isTrue(shown.ok, shown.output)
    }))
})
