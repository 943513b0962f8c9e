/**
 * A web dashboard for plait runs, served by your own Effect HTTP server: mount `Dashboard.layer`
 * into an `HttpRouter` next to your routes, with the `Engine` of your journal. Pages: the runs
 * (filters, status counts) and a run (timeline, graph coloured by status, children, input,
 * outputs, errors, raw journal, the long tables paged), with signal, cancel and resume. A live
 * page refreshes only the sections that changed. It imports only plait's public API.
 *
 * Safe by default: every request's `Host` and `Origin` must name an address the dashboard serves
 * (a DNS-rebinding page is refused), every request passes your `authenticate` hook (or, by your
 * explicit choice, none, and then the dashboard refuses to serve beyond loopback), the
 * Content-Security-Policy allows no inline script or style, and everything a run holds is
 * escaped. `plait dashboard --pg URL` (or `--sqlite FILE`) serves it on its own behind a random
 * access token.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { createHash, timingSafeEqual } from "node:crypto"
import { Engine, RunStatus, type Workflow, WorkflowGraph } from "../index.ts"
import { childrenOf } from "../view/children.ts"
import { nodeStatuses } from "../view/nodeStatus.ts"
import { timelineOf } from "../view/timeline.ts"
import { assets } from "./assets.ts"
import { isLoopbackAddress, makeGuard } from "./guard.ts"
import {
  graphOfRun,
  layout,
  messagePage,
  pageProblem,
  type RunQuery,
  runSections,
  runsSections,
  type Section
} from "./pages.ts"
import type { Html } from "./html.ts"

/**
 * What an `authenticate` hook decides for a request: `true` lets it through, `false` refuses it
 * (401, "not signed in"), and a response is sent instead (a redirect to your sign-in page, or a
 * refusal of your own).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpServerRequest, HttpServerResponse } from "effect/http"
 * import type { Dashboard } from "plait/dashboard"
 *
 * const toSignIn = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<Dashboard.Authentication> =>
 *   Effect.succeed(
 *     request.cookies["session"] === undefined
 *       ? HttpServerResponse.redirect(`/sign-in?next=${encodeURIComponent(request.url)}`)
 *       : true
 *   )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Authentication = boolean | HttpServerResponse.HttpServerResponse

/**
 * An authentication hook: decides, for each request, whether it may use the dashboard. It runs
 * after the `Host` and `Origin` checks and before anything is read; it may use your services
 * (`R`), which `Dashboard.layer` then needs.
 *
 * @example
 * ```ts
 * import { Context, Effect } from "effect"
 * import type { Dashboard } from "plait/dashboard"
 *
 * class Sessions extends Context.Service<Sessions, {
 *   readonly isStaff: (sessionId: string) => Effect.Effect<boolean>
 * }>()("app/Sessions") {}
 *
 * // Your own session: staff only.
 * const staffOnly: Dashboard.Authenticate<Sessions> = (request) => {
 *   const session = request.cookies["session"]
 *   return session === undefined ? Effect.succeed(false) : Sessions.use((sessions) => sessions.isStaff(session))
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Authenticate<R = never> = (
  request: HttpServerRequest.HttpServerRequest
) => Effect.Effect<Authentication, never, R>

/**
 * How the dashboard is mounted.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Dashboard } from "plait/dashboard"
 *
 * const options: Dashboard.Options = {
 *   prefix: "/admin/plait",
 *   refreshInterval: 2000,
 *   // Your app authenticates every request before the router (a middleware): say so.
 *   authenticate: () => Effect.succeed(true),
 *   hosts: ["ops.example.com"]
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R = never> {
  /** Where the pages live. Default `/plait`. */
  readonly prefix?: `/${string}` | undefined
  /**
   * Who may use the dashboard: your `Authenticate` hook (your session check; when a middleware
   * in front already authenticates every request, `() => Effect.succeed(true)` says so), or
   * `"none"`: no authentication, by explicit choice, which the dashboard accepts only on a
   * server listening on loopback (it fails to start otherwise, and answers only clients on this
   * machine). `Dashboard.tokenAuthentication` is the access-token scheme of `plait dashboard`.
   */
  readonly authenticate: Authenticate<R> | "none"
  /**
   * More names the dashboard is reached by, as browsers send them in `Host` (a proxy's or DNS
   * name: `ops.example.com`, `ops.example.com:8443` for that port only). The server's own address
   * is always served: its loopback names (`localhost`, `127.0.0.1`, `[::1]`) when it listens on
   * loopback; those, the machine's name and its interfaces' IPs when it listens on every
   * interface; its IP otherwise. A request for any other host is refused (403).
   */
  readonly hosts?: ReadonlyArray<string> | undefined
  /**
   * The workflows the dashboard knows: their definitions draw the richest graphs, and signals to
   * their runs are validated with the signal's schema. Runs of other workflows are drawn from
   * their stored outline, and cannot be sent signals from the page.
   */
  readonly workflows?: ReadonlyArray<Workflow.Workflow<any, any, any, any>> | undefined
  /** How often a page of a live run refreshes, in milliseconds. Default 1000. */
  readonly refreshInterval?: number | undefined
  /** Also answer `/` with a redirect to the dashboard: for a server that serves nothing else. */
  readonly redirectRoot?: boolean | undefined
}

/**
 * `Dashboard.layer` was given `authenticate: "none"` on a server listening beyond loopback:
 * anyone who can reach the port could read every run and steer it. Give it an `authenticate`
 * hook, or listen on a loopback address.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Dashboard } from "plait/dashboard"
 *
 * const explain = (error: Dashboard.Unprotected) => Effect.logError(error.message)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Unprotected extends Schema.TaggedError<Unprotected>()("Unprotected", {
  address: Schema.String
}) {
  override get message(): string {
    return `the dashboard has no authentication (authenticate: "none") but its server listens on ${this.address}, beyond loopback: give Dashboard.layer an authenticate hook, or listen on 127.0.0.1`
  }
}

/**
 * The dashboard's routes, added to the `HttpRouter` they are provided to. Needs the `Engine`, and
 * what your `authenticate` hook needs. Fails with `Unprotected` when it would serve beyond
 * loopback without authentication.
 *
 * @example
 * ```ts
 * import { NodeHttpServer } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { HttpRouter } from "effect/http"
 * import { Engine, SqliteJournal } from "plait"
 * import { Dashboard } from "plait/dashboard"
 * import { createServer } from "node:http"
 *
 * const App = Dashboard.layer({
 *   prefix: "/plait",
 *   // Replace with your own session check; the dashboard runs it on every request.
 *   authenticate: (request) => Effect.succeed(request.cookies["staff"] === "yes")
 * }).pipe(
 *   Layer.provide(Engine.layer),
 *   Layer.provide(SqliteJournal.layer({ filename: "app.sqlite" }))
 * )
 *
 * const Server = HttpRouter.serve(App).pipe(
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 3000, host: "127.0.0.1" }))
 * )
 * // Layer.launch(Server) serves http://localhost:3000/plait/
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R = never>(
  options: Options<R>
): Layer.Layer<never, Unprotected, HttpRouter.HttpRouter | Engine.Engine | R> =>
  HttpRouter.use((router) =>
    Effect.gen(function*() {
      const engine = yield* Engine.Engine
      const context = yield* Effect.context<R>()
      const server = yield* Effect.serviceOption(HttpServer.HttpServer)
      const address = Option.getOrUndefined(Option.map(server, (server) => server.address))
      const open = options.authenticate === "none"
      if (open && address !== undefined && !isLoopbackAddress(address)) {
        return yield* new Unprotected({ address: HttpServer.formatAddress(address) })
      }
      const guard = makeGuard({ address, hosts: options.hosts ?? [], loopbackClientsOnly: open })
      const base = options.prefix ?? "/plait"
      const known = new Map((options.workflows ?? []).map((workflow) => [workflow.name, workflow]))
      const graphs = new Map([...known].map(([name, workflow]) => [name, WorkflowGraph.fromWorkflow(workflow)]))
      const refresh = options.refreshInterval ?? 1000
      const authenticate = options.authenticate === "none"
        ? undefined
        : (request: HttpServerRequest.HttpServerRequest) =>
          Effect.provideContext((options.authenticate as Authenticate<R>)(request), context)

      const page = (status: number, title: string, message: string) =>
        htmlResponse(messagePage(base, title, message), status)

      /**
       * A page, or, for a refresh (`x-plait-have`: the hash of each section it shows), only the
       * sections whose hash changed, as JSON.
       */
      const respond = (
        request: HttpServerRequest.HttpServerRequest,
        title: string,
        sections: ReadonlyArray<Section>,
        live: boolean
      ) => {
        const hashed = sections.map((section) => ({ ...section, hash: hashOf(section.body) }))
        const have = request.headers["x-plait-have"]
        if (have === undefined) return htmlResponse(layout(base, title, hashed, { live, refresh }), 200, live)
        const shown = new Map(have.split(",").map((pair) => pair.split("=") as [string, string | undefined]))
        const changed = Object.fromEntries(
          hashed.filter((section) => shown.get(section.name) !== section.hash).map((
            section
          ) => [section.name, { html: section.body.text, hash: section.hash }])
        )
        return HttpServerResponse.text(JSON.stringify({ live, sections: changed }), {
          contentType: "application/json",
          headers: { "x-plait-live": live ? "1" : "0", "cache-control": "no-store", ...securityHeaders }
        })
      }

      const runsRoute = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.gen(function*() {
          const url = new URL(request.url, "http://dashboard")
          const workflow = nonEmpty(url.searchParams.get("workflow"))
          const statusParam = nonEmpty(url.searchParams.get("status"))
          if (statusParam !== undefined && !RunStatus.is(statusParam)) {
            return yield* new BadRequest({
              message: `there is no status ${JSON.stringify(statusParam)}: it is one of ${RunStatus.all.join(", ")}`
            })
          }
          const status = statusParam as RunStatus.RunStatus | undefined
          const cursor = nonEmpty(url.searchParams.get("cursor"))
          const list = yield* engine.list({ workflow, status, cursor, limit: 50 })
          const counts = yield* engine.counts({ workflow })
          const live = list.runs.some((run) => RunStatus.isLive(run.status))
          return respond(request, "runs", runsSections(base, { workflow, status, cursor }, list, counts), live)
        })

      const runRoute = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.gen(function*() {
          if (!pathOf(request.url).startsWith(`${base}/runs/`)) return yield* toRuns
          const runId = yield* runIdOf(request.url, `${base}/runs/`)
          const query = yield* runQueryOf(request.url)
          const detail = yield* engine.inspect(runId)
          const problem = pageProblem(detail, query)
          if (problem !== undefined) return yield* new BadRequest({ message: problem })
          const now = yield* Clock.currentTimeMillis
          const run = detail.run
          const graph = graphOfRun(run, graphs)
          const children = yield* childrenOf(engine, run)
          const sections = runSections({
            base,
            detail,
            graph,
            statuses: graph === undefined ? new Map() : nodeStatuses(graph, detail, now, children.runs),
            timeline: timelineOf(detail, now, graph),
            children,
            now,
            query,
            canSignal: known.has(run.workflow)
          })
          return respond(request, `run ${runId}`, sections, RunStatus.isLive(run.status))
        })

      const actionRoute = (request: HttpServerRequest.HttpServerRequest) =>
        Effect.gen(function*() {
          // A form or link of another site cannot send this header: cross-site posts are refused.
          if (request.headers["x-plait-action"] !== "1") {
            return HttpServerResponse.text("missing x-plait-action header", { status: 403, headers: securityHeaders })
          }
          const target = pathOf(request.url).slice(`${base}/runs/`.length)
          const slash = target.lastIndexOf("/")
          const name = target.slice(slash + 1)
          if (slash < 0 || (name !== "signal" && name !== "cancel" && name !== "resume")) {
            return yield* new NotFound({ message: `there is no action ${JSON.stringify(name)}` })
          }
          const runId = yield* decodeRunId(target.slice(0, slash))
          const body = yield* Effect.orElseSucceed(request.json, () => ({}))
          const message = yield* perform(name, runId, body)
          return HttpServerResponse.text(message, { headers: securityHeaders })
        })

      const perform = (name: "signal" | "cancel" | "resume", runId: string, body: unknown) =>
        Effect.gen(function*() {
          if (name === "cancel") {
            const run = yield* engine.cancel(runId, { reason: "cancelled from the dashboard" })
            return run.status === "cancelled"
              ? "cancelled"
              : run.cancelRequested
              ? "cancel requested: its worker stops it at its next heartbeat"
              : `already ${run.status}`
          }
          if (name === "resume") return `now ${(yield* engine.resume(runId)).status}`
          const { name: path, value } = (body ?? {}) as { name?: unknown; value?: unknown }
          if (typeof path !== "string" || path === "") return yield* new BadRequest({ message: "name the signal" })
          const parsed = yield* Effect.try({
            try: () => JSON.parse(String(value)) as unknown,
            catch: () => new BadRequest({ message: `the value is not JSON: ${String(value)}` })
          })
          const run = (yield* engine.inspect(runId)).run
          const workflow = known.get(run.workflow)
          if (workflow === undefined) {
            return yield* new BadRequest({ message: `this dashboard does not know workflow ${run.workflow}` })
          }
          yield* engine.signal(workflow, runId, path as never, parsed as never)
          return `signal ${path} delivered`
        })

      const assetRoute = (request: HttpServerRequest.HttpServerRequest) => {
        const name = pathOf(request.url).slice(`${base}/assets/`.length)
        const asset = Object.hasOwn(assets, name) ? assets[name] : undefined
        if (asset === undefined) return Effect.fail(new NotFound({ message: `there is no asset ${name}` }))
        const versioned = new URL(request.url, "http://dashboard").searchParams.get("v") === asset.v
        return Effect.succeed(HttpServerResponse.text(asset.text, {
          contentType: asset.type,
          headers: {
            ...securityHeaders,
            // Its URL names its version: a browser may keep it until the dashboard changes.
            "cache-control": versioned ? "public, max-age=31536000, immutable" : "no-cache"
          }
        }))
      }

      /**
       * Every request: the Host and Origin checks, then the authentication (assets, which hold
       * no data, skip it), then the handler, whose failures become pages with the status that
       * says what went wrong; an answer to a refresh is plain text.
       */
      const guarded = (
        handler: (
          request: HttpServerRequest.HttpServerRequest
        ) => Effect.Effect<HttpServerResponse.HttpServerResponse, unknown>,
        { authenticated = true }: { readonly authenticated?: boolean } = {}
      ) =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const refusal = guard.refusal(request)
          if (refusal !== undefined) return page(403, "refused", refusal)
          if (authenticated && authenticate !== undefined) {
            const decision = yield* authenticate(request)
            if (decision === false) return page(401, "not signed in", "This dashboard needs you to sign in.")
            if (decision !== true) return HttpServerResponse.setHeaders(decision, securityHeaders)
          }
          return yield* handler(request).pipe(
            Effect.catch((error) => {
              const status = statusOf(error)
              const message = messageOf(error, status)
              return Effect.succeed(
                request.headers["x-plait-have"] !== undefined || request.method === "POST"
                  ? HttpServerResponse.text(message, { status, headers: securityHeaders })
                  : page(status, String(status), message)
              )
            })
          )
        })

      const toRuns = Effect.succeed(HttpServerResponse.redirect(`${base}/`))
      // A route ending in `/*` also takes the path without it: `/plait/runs` leads to the runs. The
      // last route takes every other path under the prefix, so even a 404 passes the checks.
      const routes = [
        HttpRouter.route("GET", `${base}/`, guarded(runsRoute)),
        HttpRouter.route("GET", `${base}/runs/*`, guarded(runRoute)),
        HttpRouter.route("POST", `${base}/runs/*`, guarded(actionRoute)),
        HttpRouter.route("GET", `${base}/assets/*`, guarded(assetRoute, { authenticated: false })),
        HttpRouter.route(
          "*",
          `${base}/:anything/*`,
          guarded((request) => Effect.fail(new NotFound({ message: `nothing here: ${pathOf(request.url)}` })))
        )
      ]
      if (options.redirectRoot === true) routes.push(HttpRouter.route("GET", "/", guarded(() => toRuns)))
      yield* router.addAll(routes)
    })
  )

/**
 * The access-token scheme `plait dashboard` uses, for any dashboard: the token is printed as part
 * of the dashboard's URL (`…/plait/?token=…`), as notebook servers do. Opening that URL exchanges
 * it for an `HttpOnly`, `SameSite=Strict` cookie and redirects to the same page without it, so the
 * token leaves the address bar and browser history; scripts send `Authorization: Bearer <token>`.
 * Anything else is refused with 401 and a hint. Tokens are compared in constant time.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Dashboard } from "plait/dashboard"
 * import { randomBytes } from "node:crypto"
 *
 * const token = Redacted.make(randomBytes(32).toString("base64url"))
 * const options: Dashboard.Options = { authenticate: Dashboard.tokenAuthentication(token) }
 * ```
 *
 * @since 0.1.0
 * @category authentication
 */
export const tokenAuthentication = (token: Redacted.Redacted<string>): Authenticate => {
  const expected = digest(Redacted.value(token))
  // The cookie holds a value derived from the token, not the token, under a name of its own per
  // token, so dashboards on other ports of the same host do not overwrite each other's.
  const session = createHash("sha256").update(`plait-dashboard-session\u0000${Redacted.value(token)}`).digest(
    "base64url"
  )
  const cookie = `plait-${expected.toString("hex").slice(0, 12)}`
  const matches = (candidate: string | undefined, against: Buffer) =>
    candidate !== undefined && timingSafeEqual(digest(candidate), against)
  const sessionDigest = digest(session)
  return (request) =>
    Effect.sync((): Authentication => {
      if (matches(request.cookies[cookie], sessionDigest)) return true
      const authorization = request.headers["authorization"]
      if (authorization?.startsWith("Bearer ") === true && matches(authorization.slice(7).trim(), expected)) return true
      const url = new URL(request.url, "http://dashboard")
      if (matches(url.searchParams.get("token") ?? undefined, expected)) {
        url.searchParams.delete("token")
        return HttpServerResponse.redirect(`${url.pathname}${url.search}`, { status: 303 }).pipe(
          HttpServerResponse.setCookieUnsafe(cookie, session, { httpOnly: true, sameSite: "strict", path: "/" })
        )
      }
      return HttpServerResponse.text(
        "This dashboard needs its access token: open the address `plait dashboard` printed (it ends in ?token=...), or send Authorization: Bearer <token>.",
        { status: 401, headers: { "cache-control": "no-store" } }
      )
    })
}

// internal

const digest = (text: string): Buffer => createHash("sha256").update(text).digest()

/**
 * The page loads nothing from other origins, runs no inline script or style (the dashboard's own
 * script and style sheet are files of its own), and cannot be framed by another site.
 */
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

const htmlResponse = (body: Html, status: number, live = false) =>
  HttpServerResponse.text(body.text, {
    status,
    contentType: "text/html; charset=utf-8",
    headers: { "x-plait-live": live ? "1" : "0", "cache-control": "no-store", ...securityHeaders }
  })

/** A short hash of a section's HTML: what a refreshing page says it shows. */
const hashOf = (body: Html): string => createHash("sha1").update(body.text).digest("base64url").slice(0, 16)

class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }) {}
class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }) {}

/** A request's path, as sent (not decoded): run ids are percent-encoded in it. */
const pathOf = (url: string): string => url.split("?")[0]!.split("#")[0]!

/** The run id a page's address names: everything after `prefix`, percent-decoded. */
const runIdOf = (url: string, prefix: string) => decodeRunId(pathOf(url).slice(prefix.length))

const decodeRunId = (encoded: string) =>
  Effect.try({
    try: () => decodeURIComponent(encoded),
    catch: () => new BadRequest({ message: `the run id in the address is not percent-encoded: ${encoded}` })
  })

const pageParams = ["outputs", "errors", "journal"] as const

/** The run page's parameters: a page number per long table (from 1), and a path filter. */
const runQueryOf = (url: string): Effect.Effect<RunQuery, BadRequest> => {
  const params = new URL(url, "http://dashboard").searchParams
  const pages: Record<string, number> = {}
  for (const name of pageParams) {
    const value = params.get(name)
    if (value === null) {
      pages[name] = 1
      continue
    }
    if (!/^[1-9]\d{0,8}$/.test(value)) {
      return Effect.fail(
        new BadRequest({ message: `${name}=${JSON.stringify(value)}: a page is a whole number from 1` })
      )
    }
    pages[name] = Number(value)
  }
  return Effect.succeed({
    outputs: pages.outputs!,
    errors: pages.errors!,
    journal: pages.journal!,
    path: nonEmpty(params.get("path"))
  })
}

const statusOf = (error: unknown): number => {
  const tag = (error as { _tag?: unknown })._tag
  switch (tag) {
    case "RunNotFound":
    case "NotFound":
      return 404
    case "BadRequest":
    case "InvalidCursor":
    case "InvalidRunId":
    case "InvalidOption":
    case "InvalidSignal":
    case "UnknownSignal":
    case "SignalAlreadyDelivered":
    case "RunCancelled":
      return 400
    case "RunConflict":
      return 409
    case "JournalError":
      return (error as { reason?: unknown }).reason === "Unavailable" ? 503 : 500
    default:
      return 500
  }
}

const messageOf = (error: unknown, status: number): string => {
  const message = error instanceof Error ? error.message : String(error)
  if ((error as { _tag?: unknown })._tag === "RunNotFound") return message
  return status === 503 ? `the database cannot be reached, so nothing can be shown: ${message}` : message
}

const nonEmpty = (value: string | null): string | undefined => (value === null || value === "" ? undefined : value)
