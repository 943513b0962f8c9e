/**
 * Shared by the CLI, dashboard and browser tests: a journal on SQLite (a temporary file) or
 * Postgres (a table prefix of its own), seeded with runs of the fixture workflows by a real worker.
 */
import { NodeHttpServer, NodeServices } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Console, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { SqlClient } from "effect/sql"
import * as http from "node:http"
import { createServer } from "node:http"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Engine, type Journal, type RunStatus, type RunStore, SqliteJournal, Worker } from "plait"
import * as PgJournal from "plait/PgJournal"
import { Dashboard } from "plait/dashboard"
import { run } from "../../src/cli/Cli.ts"
import * as Fixtures from "./fixtures/workflows.ts"
import { pgUrl, uniquePrefix } from "./postgres.ts"

export interface Backend {
  readonly name: string
  /** The CLI flags that reach this journal. */
  readonly flags: ReadonlyArray<string>
  readonly layer: Layer.Layer<Engine.Engine | Journal.Journal | RunStore.RunStore, unknown>
  readonly cleanup: () => Promise<void>
}

export const sqliteBackend = (): Backend => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plait-tools-"))
  const filename = path.join(dir, "journal.sqlite")
  return {
    name: "SQLite",
    flags: ["--sqlite", filename],
    layer: Layer.provideMerge(Engine.layer, SqliteJournal.layer({ filename })),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true })
  }
}

export const pgBackend = (): Backend | undefined => {
  const url = pgUrl
  if (url === undefined) return undefined
  const tablePrefix = uniquePrefix()
  return {
    name: "Postgres",
    flags: ["--pg", url, "--table-prefix", tablePrefix],
    layer: Layer.provideMerge(Engine.layer, PgJournal.layer({ url: Redacted.make(url), tablePrefix })),
    cleanup: () =>
      Effect.runPromise(
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          for (const table of ["entries", "runs", "migrations"]) {
            yield* sql`DROP TABLE IF EXISTS ${sql(`${tablePrefix}${table}`)}`
          }
        }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })), Effect.orDie)
      )
  }
}

export const backends = (): ReadonlyArray<Backend> => {
  const pg = pgBackend()
  return pg === undefined ? [sqliteBackend()] : [sqliteBackend(), pg]
}

/**
 * Starts a worker for the fixture workflows in `scope`, and the seed runs: a completed onboarding
 * (a parallel block with a retried branch), an expense waiting for its approval, a completed
 * batch (forEach, race, branch, sleep), and a run that never ends by itself.
 */
export const seed = (scope: Scope.Scope) =>
  Effect.gen(function*() {
    const engine = yield* Engine.Engine
    yield* Worker.make({
      workflows: Fixtures.all,
      pollInterval: "10 millis",
      maxPollInterval: "50 millis",
      leaseDuration: "1500 millis"
    }).pipe(Scope.provide(scope))
    yield* engine.start(Fixtures.Onboard, { input: { email: "ada@example.com" }, runId: "onboard-ada" })
    yield* engine.start(Fixtures.Expense, { input: { amount: 120 }, runId: "expense-7" })
    yield* engine.start(Fixtures.Batch, { input: [1, 2, 3, 4, 5], runId: "batch-1" })
    yield* engine.start(Fixtures.Forever, { input: "x", runId: "forever-1" })
    yield* engine.await(Fixtures.Onboard, "onboard-ada")
    yield* engine.await(Fixtures.Expense, "expense-7")
    yield* engine.await(Fixtures.Batch, "batch-1")
    yield* waitFor("forever-1", (status) => status === "running")
  })

/** Polls until the run's status satisfies `done` (a real worker runs it on the real clock). */
export const waitFor = (runId: string, done: (status: RunStatus.RunStatus) => boolean) =>
  Effect.gen(function*() {
    const engine = yield* Engine.Engine
    for (let i = 0; i < 400; i++) {
      const detail = yield* engine.inspect(runId)
      if (done(detail.run.status)) return detail
      yield* Effect.sleep("25 millis")
    }
    return yield* Effect.die(new Error(`run ${runId} never reached the expected status`))
  })

/** Runs the CLI in process; returns everything it printed and whether it failed. */
export const cli = (...argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const printed: Array<string> = []
    const capture = {
      ...globalThis.console,
      log: (...args: Array<unknown>) => printed.push(args.join(" ")),
      error: (...args: Array<unknown>) => printed.push(args.join(" "))
    }
    const exit = yield* Effect.exit(
      run(argv).pipe(Effect.provide(NodeServices.layer), Effect.provideService(Console.Console, capture))
    )
    return { output: printed.join("\n"), ok: Exit.isSuccess(exit) }
  })

/**
 * Serves `Dashboard.layer(options)` on a free loopback port over the engine in `context`, in
 * `scope`; returns the server's origin (`http://127.0.0.1:PORT`).
 */
export const serveDashboard = <R>(
  options: Dashboard.Options<R>,
  context: unknown,
  scope: Scope.Scope
) =>
  Effect.gen(function*() {
    const server = HttpRouter.serve(Dashboard.layer(options), { disableLogger: true, disableListenLog: true }).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
      Layer.provide(Layer.succeedContext(context as never))
    )
    const built = yield* Layer.buildWithScope(server as Layer.Layer<HttpServer.HttpServer>, scope)
    return yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address)).pipe(
      Effect.provideContext(built)
    )
  })

export interface Answer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** A request with any headers, `Host` included (which `fetch` will not set). */
export const request = (
  url: string,
  options: { readonly method?: string; readonly headers?: Record<string, string>; readonly body?: string } = {}
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const sent = http.request(url, { method: options.method ?? "GET", headers: options.headers }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString() }))
    })
    sent.on("error", reject)
    sent.end(options.body)
  })
