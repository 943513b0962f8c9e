/**
 * `npm run bench:dashboard`: what a long run's page costs. A `Workflow.forEach` of N items (4 at a
 * time, each item a step returning its number) runs to completion on a SQLite file; the dashboard
 * then serves its run page, and the bench reports:
 *
 * - the page's size in bytes and the time to serve it (the median of 5 requests over HTTP);
 * - in Chromium (`/usr/bin/chromium`, headless), the time from navigation to the response's
 *   first byte (the server's share), to `domInteractive` and to the `load` event, and the time
 *   until the page answers a click (the median of 3 loads).
 *
 *   --items=20000   the item count (default 20,000)
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Exit, Layer, Schema, Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import * as Fs from "node:fs"
import { createServer } from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { Engine, SqliteJournal, Workflow } from "plait"
import { Dashboard } from "plait/dashboard"
import { chromium } from "playwright-core"

const items = Number(process.argv.find((arg) => arg.startsWith("--items="))?.slice("--items=".length) ?? 20_000)

const Packing = Workflow.make("packing", { input: Schema.Number }).pipe(
  Workflow.forEach(
    "packed",
    (ctx) => Array.from({ length: ctx.input }, (_, i) => i),
    (n) => Effect.succeed(n),
    { success: Schema.Number, concurrency: 4 }
  )
)

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const main = Effect.gen(function*() {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-bench-dashboard-"))
  const scope = yield* Scope.make()
  const journal = SqliteJournal.layer({ filename: Path.join(dir, "journal.sqlite") })
  const context = yield* Layer.buildWithScope(Layer.provideMerge(Engine.layer, journal), scope)
  yield* Workflow.run(Packing, { input: items, runId: "packing-1" }).pipe(Effect.provideContext(context))

  const server = HttpRouter.serve(Dashboard.layer({ workflows: [Packing], authenticate: "none" }), {
    disableLogger: true,
    disableListenLog: true
  }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Layer.succeedContext(context))
  )
  const built = yield* Layer.buildWithScope(server, scope)
  const origin = yield* HttpServer.addressFormattedWith(Effect.succeed).pipe(Effect.provideContext(built))
  const url = `${origin}/plait/runs/packing-1`

  const served: Array<number> = []
  let bytes = 0
  for (let i = 0; i < 5; i++) {
    const started = performance.now()
    const body = yield* Effect.promise(() => fetch(url).then((response) => response.arrayBuffer()))
    served.push(performance.now() - started)
    bytes = body.byteLength
  }

  const browser = yield* Effect.promise(() =>
    chromium.launch({
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    })
  )
  const firstByte: Array<number> = []
  const interactive: Array<number> = []
  const loaded: Array<number> = []
  const answered: Array<number> = []
  for (let i = 0; i < 3; i++) {
    const page = yield* Effect.promise(() => browser.newPage())
    const started = performance.now()
    yield* Effect.promise(() => page.goto(url, { waitUntil: "load", timeout: 180_000 }))
    // A click is answered once the main thread is free: the time until a handler runs.
    yield* Effect.promise(() =>
      page.evaluate(() =>
        new Promise<void>((resolve) => {
          const document = (globalThis as any).document
          document.addEventListener("click", () => resolve(), { once: true })
          document.body.click()
        })
      )
    )
    answered.push(performance.now() - started)
    const timing = yield* Effect.promise(() =>
      page.evaluate(() => {
        const navigation = (performance as any).getEntriesByType("navigation")[0]
        return {
          firstByte: navigation.responseStart as number,
          interactive: navigation.domInteractive as number,
          load: navigation.loadEventEnd as number
        }
      })
    )
    firstByte.push(timing.firstByte)
    interactive.push(timing.interactive)
    loaded.push(timing.load)
    yield* Effect.promise(() => page.close())
  }
  yield* Effect.promise(() => browser.close())
  yield* Scope.close(scope, Exit.void)
  Fs.rmSync(dir, { recursive: true, force: true })

  const ms = (value: number) => `${Math.round(value)} ms`
  console.log(`run page of a ${items}-item forEach: ${(bytes / 1024 / 1024).toFixed(2)} MB (${bytes} bytes)`)
  console.log(`served in ${ms(median(served))} (median of 5)`)
  console.log(
    `Chromium: first byte ${ms(median(firstByte))}, domInteractive ${ms(median(interactive))}, load ${
      ms(median(loaded))
    }, a click answered after ${ms(median(answered))} (from navigation start; medians of 3)`
  )
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
