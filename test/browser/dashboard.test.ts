/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core, against
 * a dashboard served over a SQLite journal that a real worker fills. The page runs under its
 * Content-Security-Policy (no inline script), an action's error stays until dismissed, the
 * pictures (compensations, a long wait drawn short, a 20,000-item forEach) render, and a
 * 20,000-item run's page stays small and answers at once. Also checks, with Mermaid's own parser
 * in the same browser, that `Workflow.toMermaid` writes valid Mermaid, and renders the pictures
 * the docs show (`docs/images/`).
 */
import { NodeHttpServer } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schema, Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { Engine, Workflow } from "plait"
import { Dashboard } from "plait/dashboard"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import * as Pictures from "../support/fixtures/pictures.ts"
import * as Fixtures from "../support/fixtures/workflows.ts"
import { seed, serveDashboard, sqliteBackend, waitFor } from "../support/tools.ts"

/** A forEach of as many items as the run page must stay fast for. */
const Huge = Workflow.make("huge", { input: Schema.Number }).pipe(
  Workflow.forEach(
    "packed",
    (ctx) => Array.from({ length: ctx.input }, (_, i) => i),
    (n) => Effect.succeed(n),
    { success: Schema.Number, concurrency: 4 }
  )
)

const chromiumPath = "/usr/bin/chromium"
const root = path.resolve(import.meta.dirname, "..", "..")
// The docs' pictures are refreshed only when asked (PLAIT_DOC_IMAGES=1), so a test run leaves the
// committed ones alone.
const images = process.env.PLAIT_DOC_IMAGES === "1"
  ? path.join(root, "docs", "images")
  : fs.mkdtempSync(path.join(os.tmpdir(), "plait-images-"))
const available = fs.existsSync(chromiumPath)
if (!available && process.env.CI === "true") {
  throw new Error(`${chromiumPath} is missing: .ci/run installs Debian's chromium`)
}

const hostileId = "<img src=x onerror=\"window.__pwned=1\">&amp;"
const hostileInput = "</pre><script>window.__pwned=2</script>"

describe.skipIf(!available)("dashboard in Chromium", () => {
  const backend = sqliteBackend()
  const scope = Effect.runSync(Scope.make())
  let context: any
  let base = ""
  /** A second dashboard, behind an access token. */
  let tokenOrigin = ""
  const token = "browser-access-token"
  let browser: BrowserContext
  let page: Page
  const requests: Array<string> = []
  const violations: Array<string> = []
  /** Live refreshes the page sent: requests that say which sections they show. */
  let refreshes = 0
  const inEngine = <A, E>(effect: Effect.Effect<A, E, Engine.Engine>) =>
    Effect.runPromise(Effect.provideContext(effect, context))

  beforeAll(async () => {
    context = await Effect.runPromise(Layer.buildWithScope(backend.layer, scope))
    await inEngine(Effect.gen(function*() {
      yield* seed(scope)
      const engine = yield* Engine.Engine
      yield* engine.start(Fixtures.Hostile, { input: hostileInput, runId: hostileId })
      yield* engine.start(Fixtures.Expense, { input: { amount: 5 }, runId: "expense-9" })
      yield* waitFor(hostileId, (status) => status === "completed")
      yield* waitFor("expense-9", (status) => status === "waiting")
      yield* Pictures.seedPictures(scope)
      yield* Workflow.run(Huge, { input: 20_000, runId: "huge-1" })
    }) as Effect.Effect<unknown, unknown, Engine.Engine>)
    const server = HttpRouter.serve(
      Dashboard.layer({
        workflows: [...Fixtures.all, ...Pictures.executed, Huge],
        refreshInterval: 200,
        authenticate: "none"
      }),
      {
        disableLogger: true,
        disableListenLog: true
      }
    ).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provide(Layer.succeedContext(context))
    )
    const built = await Effect.runPromise(Layer.buildWithScope(server, scope))
    base = `${await Effect.runPromise(
      HttpServer.addressFormattedWith((address) => Effect.succeed(address)).pipe(Effect.provideContext(built))
    )}/plait`
    tokenOrigin = await Effect.runPromise(
      serveDashboard({ authenticate: Dashboard.tokenAuthentication(Redacted.make(token)) }, context, scope)
    )
    // A fresh profile directory per run; playwright passes it to Chromium as --user-data-dir.
    browser = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), "plait-chromium-")), {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
    page = await browser.newPage()
    page.on("request", (request) => {
      requests.push(request.url())
      if (request.headers()["x-plait-have"] !== undefined) refreshes++
    })
    page.on("dialog", (dialog) => void dialog.accept())
    page.on("console", (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text())
    })
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await backend.cleanup()
  })

  it("lists runs with their statuses and counts, and filters by status", async () => {
    await page.goto(`${base}/`)
    for (const id of ["onboard-ada", "expense-7", "batch-1", "forever-1"]) {
      await page.locator(`tr[data-run-id="${id}"]`).waitFor()
    }
    assert.strictEqual(await page.locator(`tr[data-run-id="expense-7"] .badge`).textContent(), "waiting")
    await page.locator(`a.count[data-status="completed"]`).click()
    await page.waitForURL(/status=completed/)
    assert.strictEqual(await page.locator(`tr[data-run-id="expense-7"]`).count(), 0)
    assert.isAbove(await page.locator(`tr[data-run-id="onboard-ada"]`).count(), 0)
  })

  it("a run with a parallel block shows one lane per branch, its retried attempt, and the graph by status", async () => {
    await page.goto(`${base}/runs/onboard-ada`)
    const lanes = await page.locator("svg.timeline g.lane").evaluateAll((nodes) =>
      nodes.map((node) => node.getAttribute("data-lane"))
    )
    assert.deepStrictEqual([...lanes].sort(), ["(run)", "setup/billing", "setup/welcome", "setup/workspace"])
    assert.strictEqual(await page.locator(`g.lane[data-lane="setup/billing"] rect.bar.failed`).count(), 1)
    assert.strictEqual(
      await page.locator(`g.lane[data-lane="setup/billing"] rect.bar.completed[data-attempt="2"]`).count(),
      1
    )
    assert.strictEqual(
      await page.locator(`.graph [data-path="setup/billing/billing"]`).getAttribute("data-status"),
      "completed"
    )
    assert.strictEqual(await page.locator(`.graph [data-path="setup"]`).getAttribute("data-status"), "completed")
    fs.mkdirSync(images, { recursive: true })
    await page.screenshot({ path: path.join(images, "dashboard-run.png"), fullPage: true })
  })

  it("sends a signal from the page and the page follows the run until it completes", async () => {
    await page.goto(`${base}/runs/expense-9`)
    assert.strictEqual(await page.locator("#run-status").textContent(), "waiting")
    assert.strictEqual(await page.locator(`.graph [data-path="approval"]`).getAttribute("data-status"), "waiting")
    await page.locator("form[data-action=signal] input[name=value]").fill("{\"approved\":true}")
    await page.locator("form[data-action=signal] button").click()
    await page.locator("#run-status", { hasText: "completed" }).waitFor({ timeout: 20_000 })
    assert.strictEqual(await page.locator(`g.lane[data-lane="(run)"] path.signal-mark`).count(), 1)
    await page.screenshot({ path: path.join(images, "dashboard-signal.png"), fullPage: true })
  })

  it("cancels a running run", async () => {
    await page.goto(`${base}/runs/forever-1`)
    assert.strictEqual(await page.locator("#run-status").textContent(), "running")
    await page.locator("button[data-action=cancel]").click()
    await page.locator("#run-status", { hasText: "cancelled" }).waitFor({ timeout: 20_000 })
  })

  it("escapes a hostile run id, input and output, and requests nothing from other hosts", async () => {
    await page.goto(`${base}/`)
    await page.locator(`tr[data-run-id="${hostileId.replace(/"/g, "\\\"")}"] a`).click()
    await page.locator(".run-id").waitFor()
    assert.strictEqual(await page.locator(".run-id").textContent(), hostileId)
    assert.include(await page.locator("pre.input").textContent() ?? "", hostileInput)
    assert.strictEqual(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined)
    assert.strictEqual(await page.locator("img").count(), 0)
    const origin = new URL(base).origin
    assert.deepStrictEqual(requests.filter((url) => !url.startsWith(origin)), [])
  })

  it("an action's error stays on the page through the live refreshes, until dismissed", async () => {
    await page.goto(`${base}/runs/expense-7`)
    assert.strictEqual(await page.locator("#run-status").textContent(), "waiting")
    await page.locator("form[data-action=signal] input[name=value]").fill("{\"approved\":\"yes\"}")
    await page.locator("form[data-action=signal] button").click()
    const flash = page.locator("#flash")
    await flash.locator(".message", { hasText: "signal approval of run expense-7" }).waitFor()
    assert.include(await flash.locator(".message").textContent(), "at approved: Expected boolean")
    assert.include(await flash.getAttribute("class"), "failed")
    // The page keeps refreshing (the run is live); the message stays through several refreshes.
    const before = refreshes
    for (let i = 0; i < 200 && refreshes < before + 3; i++) await page.waitForTimeout(100)
    assert.isAtLeast(refreshes, before + 3, "the page refreshed")
    assert.isTrue(await flash.isVisible(), "the error is still shown")
    await page.screenshot({ path: path.join(images, "dashboard-error.png") })
    await flash.locator("button.dismiss").click()
    assert.isFalse(await flash.isVisible())
    assert.strictEqual(await page.locator("#run-status").textContent(), "waiting", "nothing was delivered")
  })

  it("draws compensations in their step's lane and marks undone steps on the graph", async () => {
    await page.goto(`${base}/runs/refund-1`)
    assert.strictEqual(await page.locator("#run-status").textContent(), "failed")
    assert.strictEqual(await page.locator(`g.lane[data-lane="(run)"] path.compensation-mark`).count(), 2)
    assert.strictEqual(await page.locator(`.graph [data-path="charged"] .undo.done`).count(), 1)
    assert.strictEqual(await page.locator(`.graph [data-path="reserved"] .undo.done`).count(), 1)
    assert.strictEqual(await page.locator(`.graph [data-path="shipped"] .undo`).count(), 0)
    await page.screenshot({ path: path.join(images, "dashboard-saga.png"), fullPage: true })
  })

  it("draws an eight-minute wait short, so the work around it is readable", async () => {
    await page.goto(`${base}/runs/approval-1`)
    assert.include(await page.locator("svg.timeline g.gap text").textContent(), "8m0s")
    const widths = await page.locator(`g.lane[data-lane="(run)"] rect.bar`).evaluateAll((bars) =>
      bars.map((bar) => bar.getBoundingClientRect().width)
    )
    assert.strictEqual(widths.length, 2)
    for (const width of widths) assert.isAbove(width, 50, "each step is drawn wide enough to read")
    await page.screenshot({ path: path.join(images, "dashboard-wait.png"), fullPage: true })
  })

  it("links a child run from its parent's graph, and back", async () => {
    await page.goto(`${base}/runs/order-1`)
    assert.strictEqual(await page.locator(`.graph [data-path="invoiced"]`).getAttribute("data-status"), "completed")
    await page.locator(`.graph [data-path="invoiced"] a.child-run`).click()
    await page.locator(".run-id", { hasText: "order-1/invoiced" }).waitFor()
    await page.locator("a.parent").click()
    await page.locator(".run-id", { hasText: /^order-1$/ }).waitFor()
  })

  it("keeps a 20,000-item run's page under 1 MB and small enough to answer at once", async () => {
    const response = await page.goto(`${base}/runs/huge-1`)
    const bytes = (await response!.body()).length
    assert.isBelow(bytes, 1_000_000)
    const elements = await page.evaluate(() => (globalThis as any).document.getElementsByTagName("*").length as number)
    assert.isBelow(elements, 5_000)
    const rows = await page.locator("svg.timeline g.lane.folded").evaluateAll((lanes) =>
      lanes.map((lane) => lane.getAttribute("data-lane"))
    )
    assert.isAtLeast(rows.length, 1)
    assert.isAtMost(rows.length, 4, "rows as many as ran at once")
    assert.include(await page.locator(".pager[data-pager=outputs]").first().textContent(), "page 1 of 200")
    await page.screenshot({ path: path.join(images, "dashboard-forEach.png") })
    await page.locator(".pager[data-pager=outputs] a.next").first().click()
    await page.waitForURL(/outputs=2/)
    assert.include(await page.locator(".pager[data-pager=outputs]").first().textContent(), "page 2 of 200")
  })

  it("behind an access token: refused without it; its address signs the browser in with a cookie scripts cannot read, and leaves the address bar", async () => {
    const refused = await page.goto(`${tokenOrigin}/plait/`)
    assert.strictEqual(refused!.status(), 401)
    assert.include(await page.textContent("body"), "?token=")
    await page.goto(`${tokenOrigin}/plait/runs/onboard-ada?token=${token}`)
    assert.strictEqual(page.url(), `${tokenOrigin}/plait/runs/onboard-ada`, "the token left the address")
    await page.locator(".run-id", { hasText: "onboard-ada" }).waitFor()
    assert.strictEqual(await page.evaluate(() => (globalThis as any).document.cookie), "", "HttpOnly")
    const cookies = await browser.cookies(tokenOrigin)
    assert.strictEqual(cookies.length, 1)
    assert.isTrue(cookies[0]!.httpOnly)
    assert.strictEqual(cookies[0]!.sameSite, "Strict")
    const again = await page.goto(`${tokenOrigin}/plait/`)
    assert.strictEqual(again!.status(), 200, "signed in")
  })

  it("no page broke its Content-Security-Policy", () => {
    assert.deepStrictEqual(violations, [])
  })

  it(
    "Workflow.toMermaid writes flowcharts Mermaid's parser accepts; the docs' pictures are rendered from them",
    async () => {
      const Tricky = Workflow.make("quotes \"and\" <tags> #1; end", { input: Schema.String }).pipe(
        Workflow.step("end", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input)),
        Workflow.parallel("graph|subgraph", {
          "a\"b": Workflow.step("x[1]{2}(3)", { success: Schema.String }, () => Effect.succeed("")),
          "é ✓": Workflow.sleep("zz", "1 day")
        })
      )
      const graphs: Record<string, Workflow.Workflow<any, any, any, any>> = {
        onboard: Fixtures.Onboard,
        expense: Fixtures.Expense,
        batch: Fixtures.Batch,
        tricky: Tricky
      }
      const mermaidPage = await browser.newPage()
      await mermaidPage.setContent("<!doctype html><html><body></body></html>")
      await mermaidPage.addScriptTag({ path: path.join(root, "node_modules", "mermaid", "dist", "mermaid.min.js") })
      await mermaidPage.evaluate(() =>
        (globalThis as any).mermaid.initialize({ startOnLoad: false, securityLevel: "strict" })
      )
      for (const [name, workflow] of Object.entries(graphs)) {
        const text = Workflow.toMermaid(workflow)
        const parsed = await mermaidPage.evaluate(async (source) => {
          try {
            return await (globalThis as any).mermaid.parse(source)
          } catch (error) {
            return { error: String(error) }
          }
        }, text)
        assert.strictEqual(
          (parsed as { diagramType?: string }).diagramType,
          "flowchart-v2",
          `${name}: ${JSON.stringify(parsed)}\n${text}`
        )
        if (name !== "tricky") {
          const svg: string = await mermaidPage.evaluate(
            async ([id, source]) => (await (globalThis as any).mermaid.render(id, source)).svg,
            [`g-${name}`, text]
          )
          fs.writeFileSync(path.join(images, `graph-${name}.svg`), svg)
        }
      }
      // A broken text is refused: the check above can fail.
      const broken = await mermaidPage.evaluate(async () => {
        try {
          await (globalThis as any).mermaid.parse("flowchart TD\n  a[\"x\" --> b")
          return "accepted"
        } catch {
          return "refused"
        }
      })
      assert.strictEqual(broken, "refused")
      await mermaidPage.close()
    },
    60_000
  )
})
