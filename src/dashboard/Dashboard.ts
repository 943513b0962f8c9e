/**
 * A web dashboard for plait runs, served by your own Effect HTTP server: mount `Dashboard.layer`
 * into an `HttpRouter` next to your routes, with the `Engine` of your journal. Pages: the runs
 * (filters, status counts) and a run (timeline, graph coloured by status, input, outputs, errors,
 * raw journal), with signal, cancel and resume. Everything it shows is escaped; it loads nothing
 * from other hosts and needs no build step. It imports only plait's public API.
 *
 * `plait dashboard --pg URL` (or `--sqlite FILE`) serves it on its own.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Layer from "effect/Layer"
import { Engine, RunStatus, type Workflow, WorkflowGraph } from "../index.ts"
import type { Html } from "./html.ts"
import { errorPage, graphOfRun, layout, runPage, runsPage } from "./pages.ts"

/**
 * How the dashboard is mounted.
 *
 * @example
 * ```ts
 * import { Dashboard } from "plait/dashboard"
 *
 * const options: Dashboard.Options = { prefix: "/admin/plait", refreshInterval: 2000 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Where the pages live. Default `/plait`. */
  readonly prefix?: `/${string}` | undefined
  /**
   * The workflows the dashboard knows: their definitions draw the richest graphs, and signals to
   * their runs are validated with the signal's schema. Runs of other workflows are drawn from
   * their stored outline, and cannot be sent signals from the page.
   */
  readonly workflows?: ReadonlyArray<Workflow.Workflow<any, any, any, any>> | undefined
  /** How often a page of a live run refreshes, in milliseconds. Default 1000. */
  readonly refreshInterval?: number | undefined
}

/**
 * The dashboard's routes, added to the `HttpRouter` they are provided to. Needs the `Engine`.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { Engine, SqliteJournal } from "plait"
 * import { Dashboard } from "plait/dashboard"
 * import { createServer } from "node:http"
 *
 * const App = Dashboard.layer({ prefix: "/plait" }).pipe(
 *   Layer.provide(Engine.layer),
 *   Layer.provide(SqliteJournal.layer({ filename: "app.sqlite" }))
 * )
 *
 * const Server = HttpRouter.serve(App).pipe(Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 })))
 * // Layer.launch(Server) serves http://localhost:3000/plait/
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<never, never, HttpRouter.HttpRouter | Engine.Engine> =>
  HttpRouter.use((router) =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const base = options.prefix ?? "/plait"
      const known = new Map((options.workflows ?? []).map((workflow) => [workflow.name, workflow]))
      const graphs = new Map([...known].map(([name, workflow]) => [name, WorkflowGraph.fromWorkflow(workflow)]))
      const refresh = String(options.refreshInterval ?? 1000)

      /** A full page, or only its main part when the page's script refreshes itself. */
      const respond = (
        request: HttpServerRequest.HttpServerRequest,
        title: string,
        body: Html,
        live: boolean,
        status = 200
      ) => {
        const partial = request.headers["x-plait-partial"] === "1"
        const text = partial
          ? body.text
          : layout(base, title, body, live).text.replace("<body ", `<body data-refresh="${refresh}" `)
        return HttpServerResponse.text(text, {
          status,
          contentType: "text/html; charset=utf-8",
          headers: { "x-plait-live": live ? "1" : "0", "cache-control": "no-store", ...securityHeaders }
        })
      }

      const failWith = (status: number, message: string) =>
        HttpServerResponse.text(errorPage(base, status, message).text, {
          status,
          contentType: "text/html; charset=utf-8",
          headers: securityHeaders
        })

      const runsRoute = Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const url = new URL(request.url, "http://localhost")
        const workflow = nonEmpty(url.searchParams.get("workflow"))
        const statusParam = nonEmpty(url.searchParams.get("status"))
        const status = RunStatus.is(statusParam) ? statusParam : undefined
        const cursor = nonEmpty(url.searchParams.get("cursor"))
        const page = yield* engine.list({ workflow, status, cursor, limit: 50 })
        const counts = yield* engine.counts({ workflow })
        const live = page.runs.some((run) => RunStatus.isLive(run.status))
        return respond(request, "runs", runsPage(base, { workflow, status, cursor }, page, counts), live)
      })

      const runRoute = Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const runId = (yield* HttpRouter.params).id ?? ""
        const detail = yield* Effect.option(engine.inspect(runId))
        if (detail._tag === "None") return failWith(404, `run ${runId} not found`)
        const now = yield* Clock.currentTimeMillis
        const run = detail.value.run
        const notice = nonEmpty(new URL(request.url, "http://localhost").searchParams.get("notice"))
        const page = runPage(detail.value, graphOfRun(run, graphs), now, { canSignal: known.has(run.workflow), notice })
        return respond(request, `run ${runId}`, page, RunStatus.isLive(run.status))
      })

      const action = (name: "signal" | "cancel" | "resume") =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          // A form or link of another site cannot send this header: cross-site requests are refused.
          if (request.headers["x-plait-action"] !== "1") {
            return HttpServerResponse.text("missing x-plait-action header", { status: 403 })
          }
          const runId = (yield* HttpRouter.params).id ?? ""
          const body = yield* Effect.orElseSucceed(request.json, () => ({}))
          const result = yield* perform(name, runId, body).pipe(
            Effect.map((message) => ({ status: 200, message })),
            Effect.catch((error) => Effect.succeed({ status: statusOf(error), message: messageOf(error) }))
          )
          return HttpServerResponse.text(result.message, { status: result.status, headers: securityHeaders })
        })

      const perform = (name: "signal" | "cancel" | "resume", runId: string, body: unknown) =>
        Effect.gen(function*() {
          if (name === "cancel") {
            const run = yield* engine.cancel(runId, { reason: "cancelled from the dashboard" })
            return run.status === "cancelled"
              ? "cancelled"
              : run.cancelRequested
              ? "cancel requested"
              : `already ${run.status}`
          }
          if (name === "resume") return `now ${(yield* engine.resume(runId)).status}`
          const { name: path, value } = (body ?? {}) as { name?: unknown; value?: unknown }
          if (typeof path !== "string" || path === "") return yield* Effect.fail(new BadRequest("name the signal"))
          const parsed = yield* Effect.try({
            try: () => JSON.parse(String(value)) as unknown,
            catch: () => new BadRequest("the value is not JSON")
          })
          const run = (yield* engine.inspect(runId)).run
          const workflow = known.get(run.workflow)
          if (workflow === undefined) {
            return yield* Effect.fail(new BadRequest(`this dashboard does not know workflow ${run.workflow}`))
          }
          yield* engine.signal(workflow, runId, path as never, parsed as never)
          return `signal ${path} delivered`
        })

      yield* router.addAll([
        HttpRouter.route("GET", `${base}/`, runsRoute),
        HttpRouter.route("GET", `${base}/runs/:id`, runRoute),
        HttpRouter.route("POST", `${base}/runs/:id/signal`, action("signal")),
        HttpRouter.route("POST", `${base}/runs/:id/cancel`, action("cancel")),
        HttpRouter.route("POST", `${base}/runs/:id/resume`, action("resume"))
      ].map((route) => ({
        ...route,
        handler: Effect.catch(route.handler, (error) => Effect.succeed(failWith(500, messageOf(error))))
      })))
    })
  )

// internal

/** The page loads nothing from other origins and cannot be framed by another site. */
const securityHeaders = {
  "content-security-policy":
    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

class BadRequest {
  readonly _tag = "BadRequest"
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

const statusOf = (error: unknown): number => {
  const tag = (error as { _tag?: unknown })._tag
  if (tag === "RunNotFound") return 404
  if (tag === "BadRequest" || tag === "InvalidOutput" || tag === "SignalAlreadyDelivered" || tag === "RunCancelled") {
    return 400
  }
  return 500
}

const messageOf = (error: unknown): string =>
  error instanceof Error || error instanceof BadRequest ? error.message : String(error)

const nonEmpty = (value: string | null): string | undefined => (value === null || value === "" ? undefined : value)
