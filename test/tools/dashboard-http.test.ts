/**
 * The dashboard over HTTP, as an attacker and as a user meet it: the DNS-rebinding request, a
 * foreign Origin, the Content-Security-Policy, the authentication hook and the access-token
 * scheme, the refusal to serve without authentication beyond loopback; bad parameters (400), an
 * unknown run (404), a database outage (503); paged tables; and a live refresh that sends only
 * the sections that changed. On a SQLite journal a real worker fills (Postgres, through a proxy
 * the test cuts, for the outage).
 */
import { NodeHttpServer } from "@effect/platform-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import { Headers, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { createServer } from "node:http"
import { Engine } from "plait"
import { Dashboard } from "plait/dashboard"
import * as Pictures from "../support/fixtures/pictures.ts"
import * as Fixtures from "../support/fixtures/workflows.ts"
import { pgUrl, uniquePrefix } from "../support/postgres.ts"
import { makeProxy, pgJournalThrough } from "../support/proxy.ts"
import { request, seed, serveDashboard, sqliteBackend, waitFor } from "../support/tools.ts"

/** The text of HTML the dashboard escaped (`&#34;` is `"`). */
const unescaped = (html: string) => html.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))

class Staff extends Context.Service<Staff, { readonly isStaff: (session: string) => boolean }>()("test/Staff") {}

/** Staff through, a stranger refused, and `session=expired` sent to sign in again. */
const staffOnly: Dashboard.Authenticate<Staff> = (incoming) =>
  Staff.use((staff): Effect.Effect<Dashboard.Authentication> => {
    const session = incoming.cookies["session"]
    if (session === "expired") return Effect.succeed(HttpServerResponse.redirect("/sign-in", { status: 302 }))
    return Effect.succeed(session !== undefined && staff.isStaff(session))
  })

const token = "s3cret-dashboard-token"

describe("dashboard over HTTP", () => {
  const backend = sqliteBackend()
  const scope = Effect.runSync(Scope.make())
  let context: Context.Context<Engine.Engine>
  const origins = { open: "", guarded: "", token: "" }

  beforeAll(async () => {
    context = await Effect.runPromise(Layer.buildWithScope(backend.layer, scope)) as Context.Context<Engine.Engine>
    await Effect.runPromise(
      Effect.gen(function*() {
        yield* seed(scope)
        yield* Pictures.seedPictures(scope)
        const engine = yield* Engine.Engine
        yield* engine.start(Pictures.Bulk, { input: 250, runId: "bulk-250" })
        yield* waitFor("bulk-250", (status) => status === "completed")
      }).pipe(Effect.provideContext(context)) as Effect.Effect<unknown>
    )
    origins.open = await Effect.runPromise(
      serveDashboard({ workflows: Fixtures.all, authenticate: "none", redirectRoot: true }, context, scope)
    )
    origins.guarded = await Effect.runPromise(
      serveDashboard(
        { authenticate: staffOnly },
        Context.add(context, Staff, { isStaff: (session) => session === "ada" }),
        scope
      )
    )
    origins.token = await Effect.runPromise(
      serveDashboard({ authenticate: Dashboard.tokenAuthentication(Redacted.make(token)) }, context, scope)
    )
  }, 90_000)

  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await backend.cleanup()
  })

  const statusOf = (runId: string) =>
    Effect.runPromise(Engine.Engine.use((engine) => engine.inspect(runId)).pipe(Effect.provideContext(context)))
      .then((detail) => detail.run.status)

  it("refuses the DNS-rebinding request with 403 and changes nothing; the same request from the dashboard's own page works", async () => {
    const port = new URL(origins.open).port
    const evil = `evil.example:${port}`
    const rebinding = await request(`${origins.open}/plait/runs/forever-1/cancel`, {
      method: "POST",
      headers: { host: evil, origin: `http://${evil}`, "x-plait-action": "1", "content-type": "application/json" },
      body: "{}"
    })
    assert.strictEqual(rebinding.status, 403)
    assert.include(rebinding.body, "does not serve the host")
    const read = await request(`${origins.open}/plait/runs/forever-1`, { headers: { host: evil } })
    assert.strictEqual(read.status, 403)
    assert.notInclude(read.body, "waits", "nothing of the run is shown")
    const foreignPage = await request(`${origins.open}/plait/runs/forever-1/cancel`, {
      method: "POST",
      headers: { origin: "http://evil.example", "x-plait-action": "1" },
      body: "{}"
    })
    assert.strictEqual(foreignPage.status, 403)
    assert.include(foreignPage.body, "only this dashboard")
    const formPost = await request(`${origins.open}/plait/runs/forever-1/cancel`, { method: "POST", body: "{}" })
    assert.strictEqual(formPost.status, 403, "a cross-site form cannot send x-plait-action")
    assert.strictEqual(await statusOf("forever-1"), "running")

    const own = await request(`${origins.open}/plait/runs/forever-1/cancel`, {
      method: "POST",
      headers: { origin: origins.open, "x-plait-action": "1", "content-type": "application/json" },
      body: "{}"
    })
    assert.strictEqual(own.status, 200, own.body)
    assert.include(own.body, "cancel")
  })

  it("sends a Content-Security-Policy without unsafe-inline; the page's script and style are files of its own", async () => {
    const page = await request(`${origins.open}/plait/runs/onboard-ada`)
    assert.strictEqual(page.status, 200)
    const csp = String(page.headers["content-security-policy"])
    assert.notInclude(csp, "unsafe-inline")
    assert.include(csp, "script-src 'self'")
    assert.include(csp, "style-src 'self'")
    assert.notMatch(page.body, /<script>|<script [^>]*>[^<]|<style|\sstyle="|\son[a-z]+="/, "nothing inline")
    const script = /<script src="([^"]+)"><\/script>/.exec(page.body)![1]!
    const style = /<link rel="stylesheet" href="([^"]+)">/.exec(page.body)![1]!
    const js = await request(`${origins.open}${script}`)
    assert.strictEqual(js.status, 200)
    assert.match(String(js.headers["content-type"]), /^text\/javascript/)
    assert.include(String(js.headers["cache-control"]), "immutable")
    assert.match(String((await request(`${origins.open}${style}`)).headers["content-type"]), /^text\/css/)
  })

  it("runs the authentication hook on every request, after the Host check: true, false (401) or its own response", async () => {
    const runs = `${origins.guarded}/plait/`
    assert.strictEqual((await request(runs)).status, 401)
    assert.strictEqual((await request(runs, { headers: { cookie: "session=mallory" } })).status, 401)
    const expired = await request(runs, { headers: { cookie: "session=expired" } })
    assert.strictEqual(expired.status, 302)
    assert.strictEqual(expired.headers.location, "/sign-in")
    const staff = await request(runs, { headers: { cookie: "session=ada" } })
    assert.strictEqual(staff.status, 200)
    assert.include(staff.body, "onboard-ada")
    const action = await request(`${origins.guarded}/plait/runs/expense-7/resume`, {
      method: "POST",
      headers: { "x-plait-action": "1" }
    })
    assert.strictEqual(action.status, 401, "actions too")
    const port = new URL(origins.guarded).port
    const rebound = await request(runs, { headers: { cookie: "session=ada", host: `evil.example:${port}` } })
    assert.strictEqual(rebound.status, 403, "a signed-in user's browser on a rebinding page is refused too")
    const script = /<script src="([^"]+)">/.exec(staff.body)![1]!
    assert.strictEqual((await request(`${origins.guarded}${script}`)).status, 200, "assets hold no data")
  })

  it("tokenAuthentication: the token in the URL becomes an HttpOnly SameSite=Strict cookie; a bearer token works; nothing else does", async () => {
    const runs = `${origins.token}/plait/`
    const none = await request(runs)
    assert.strictEqual(none.status, 401)
    assert.include(none.body, "?token=")
    assert.strictEqual((await request(`${runs}?token=wrong`)).status, 401)
    const exchange = await request(`${runs}?status=completed&token=${token}`)
    assert.strictEqual(exchange.status, 303)
    assert.strictEqual(exchange.headers.location, "/plait/?status=completed", "the token leaves the address")
    const cookie = String(exchange.headers["set-cookie"])
    assert.include(cookie, "HttpOnly")
    assert.include(cookie, "SameSite=Strict")
    assert.notInclude(cookie, token, "the cookie does not carry the token itself")
    const session = cookie.split(";")[0]!
    assert.strictEqual((await request(runs, { headers: { cookie: session } })).status, 200)
    assert.strictEqual((await request(runs, { headers: { cookie: `${session}x` } })).status, 401)
    assert.strictEqual((await request(runs, { headers: { authorization: `Bearer ${token}` } })).status, 200)
    assert.strictEqual((await request(runs, { headers: { authorization: "Bearer nope" } })).status, 401)
  })

  it.effect("serves without authentication only on loopback: beyond it the layer fails; a remote client is refused", () =>
    Effect.gen(function*() {
      const unprotected = yield* Effect.exit(
        Layer.build(
          HttpRouter.serve(Dashboard.layer({ authenticate: "none" }), { disableLogger: true, disableListenLog: true })
            .pipe(
              Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "0.0.0.0" })),
              Layer.provide(Layer.succeedContext(context))
            )
        ).pipe(Effect.scoped)
      )
      assert.isTrue(Exit.isFailure(unprotected))
      const error = Option.getOrThrow(Exit.findErrorOption(unprotected)) as Dashboard.Unprotected
      assert.strictEqual(error._tag, "Unprotected")
      assert.include(error.message, "0.0.0.0")
      const protectedOne = yield* Effect.exit(
        Layer.build(
          HttpRouter.serve(Dashboard.layer({ authenticate: () => Effect.succeed(true) }), {
            disableLogger: true,
            disableListenLog: true
          }).pipe(
            Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "0.0.0.0" })),
            Layer.provide(Layer.succeedContext(context))
          )
        ).pipe(Effect.scoped)
      )
      assert.isTrue(Exit.isSuccess(protectedOne), "with authentication it serves beyond loopback")

      // Without a server address (a web handler), the client's address decides.
      const routes = yield* Layer.build(
        Layer.provideMerge(Dashboard.layer({ authenticate: "none" }), HttpRouter.layer).pipe(
          Layer.provide(Layer.succeedContext(context))
        )
      )
      const router = Context.get(routes, HttpRouter.HttpRouter)
      const from = (remote: string) =>
        router.asHttpEffect().pipe(
          Effect.provideService(
            HttpServerRequest.HttpServerRequest,
            HttpServerRequest.fromWeb(new Request("http://127.0.0.1/plait/")).modify({
              headers: Headers.fromInput({ host: "127.0.0.1" }),
              remoteAddress: Option.some(remote)
            })
          ),
          Effect.map((response) => response.status)
        )
      assert.strictEqual(yield* from("10.1.2.3"), 403)
      assert.strictEqual(yield* from("127.0.0.1"), 200)
      assert.strictEqual(yield* from("::ffff:127.0.0.1"), 200)
    }).pipe(Effect.scoped))

  it("bad parameters are 400s, an unknown run a 404, every path under the prefix is checked; / and the prefix lead to the runs", async () => {
    const base = `${origins.open}/plait`
    for (
      const [path, says] of [
        ["/?status=sleepy", "there is no status \"sleepy\""],
        ["/?cursor=not-a-cursor", "is not one a page of runs returned"],
        ["/runs/bulk-250?outputs=0", "a page is a whole number"],
        ["/runs/bulk-250?journal=two", "a page is a whole number"],
        ["/runs/bulk-250?outputs=9", "there is no page 9 of outputs: it has 3 pages"]
      ] as const
    ) {
      const answer = await request(`${base}${path}`)
      assert.strictEqual(answer.status, 400, path)
      assert.include(unescaped(answer.body), says)
    }
    const missing = await request(`${base}/runs/nobody`)
    assert.strictEqual(missing.status, 404)
    assert.include(missing.body, "no run has the id nobody")
    const elsewhere = await request(`${base}/nothing/here`, { method: "PUT" })
    assert.strictEqual(elsewhere.status, 404)
    const port = new URL(origins.open).port
    assert.strictEqual((await request(`${base}/nothing/here`, { headers: { host: `evil:${port}` } })).status, 403)
    const root = await request(`${origins.open}/`)
    assert.strictEqual(root.status, 302)
    assert.strictEqual(root.headers.location, "/plait/")
    assert.strictEqual((await request(base)).status, 200)
  })

  it("pages the long tables of a run and filters them by path", async () => {
    const outputsOn = async (page: number) => {
      const answer = await request(`${origins.open}/plait/runs/bulk-250?outputs=${page}`)
      assert.include(answer.body, `page ${page} of 3 (250 rows)`)
      const outputs = answer.body.slice(answer.body.indexOf("class=\"outputs\""), answer.body.indexOf("</table>"))
      return [...outputs.matchAll(/<th>(bulk\[\d+\])<\/th>/g)].map((m) => m[1]!)
    }
    const pages = [await outputsOn(1), await outputsOn(2), await outputsOn(3)]
    assert.deepStrictEqual(pages.map((rows) => rows.length), [100, 100, 50])
    assert.strictEqual(new Set(pages.flat()).size, 250, "each output on one page only")
    const found = await request(`${origins.open}/plait/runs/bulk-250?path=${encodeURIComponent("bulk[217]")}`)
    assert.include(found.body, "<th>bulk[217]</th>")
    assert.notInclude(found.body, "<th>bulk[0]</th>")
  })

  it("a live refresh sends only the sections that changed", async () => {
    const page = await request(`${origins.open}/plait/runs/expense-7`)
    const hashes = [...page.body.matchAll(/data-section="([a-z]+)" data-hash="([^"]*)"/g)].map((m) => [m[1]!, m[2]!])
    assert.includeMembers(hashes.map(([name]) => name), ["summary", "timeline", "graph", "io", "journal"])
    const have = hashes.map(([name, hash]) => `${name}=${hash}`).join(",")
    const refresh = await request(`${origins.open}/plait/runs/expense-7`, { headers: { "x-plait-have": have } })
    assert.strictEqual(refresh.status, 200)
    const update = JSON.parse(refresh.body) as { live: boolean; sections: Record<string, unknown> }
    assert.isTrue(update.live)
    for (const unchanged of ["graph", "io", "journal", "actions"]) {
      assert.notProperty(update.sections, unchanged, "nothing changed there")
    }
    const stale = hashes.map(([name, hash]) => `${name}=${name === "journal" ? "old" : hash}`).join(",")
    const again = JSON.parse(
      (await request(`${origins.open}/plait/runs/expense-7`, { headers: { "x-plait-have": stale } })).body
    ) as { sections: Record<string, { html: string; hash: string }> }
    assert.property(again.sections, "journal")
    assert.include(again.sections.journal!.html, "submitted")

    const done = await request(`${origins.open}/plait/runs/onboard-ada`)
    const doneHave = [...done.body.matchAll(/data-section="([a-z]+)" data-hash="([^"]*)"/g)].map((m) =>
      `${m[1]}=${m[2]}`
    )
    const nothing = JSON.parse(
      (await request(`${origins.open}/plait/runs/onboard-ada`, { headers: { "x-plait-have": doneHave.join(",") } }))
        .body
    )
    assert.deepStrictEqual(nothing, { live: false, sections: {} })
  })
})

describe.skipIf(pgUrl === undefined)("dashboard while Postgres is down", () => {
  it.live(
    "a run page is a 503 saying the database cannot be reached, not \"run not found\"; it works again after",
    () =>
      Effect.gen(function*() {
        const url = new URL(pgUrl!)
        const proxy = yield* makeProxy({ host: url.hostname, port: Number(url.port || 5432) })
        const { context: journal } = yield* pgJournalThrough(pgUrl!, proxy, uniquePrefix())
        const context = yield* Layer.build(Layer.provide(Engine.layer, Layer.succeedContext(journal)))
        const engine = Context.get(context, Engine.Engine)
        yield* engine.start(Fixtures.Forever, { input: "x", runId: "pg-down-1" })
        const scope = yield* Effect.scope
        const origin = yield* serveDashboard({ authenticate: "none" }, Context.merge(journal, context), scope)
        const fine = yield* Effect.promise(() => request(`${origin}/plait/runs/pg-down-1`))
        assert.strictEqual(fine.status, 200)

        proxy.cut()
        const down = yield* Effect.promise(() => request(`${origin}/plait/runs/pg-down-1`))
        assert.strictEqual(down.status, 503, down.body)
        assert.include(down.body, "the database cannot be reached")
        assert.notInclude(down.body, "no run has the id")
        const refresh = yield* Effect.promise(() =>
          request(`${origin}/plait/runs/pg-down-1`, { headers: { "x-plait-have": "summary=x" } })
        )
        assert.strictEqual(refresh.status, 503)
        assert.match(String(refresh.headers["content-type"]), /^text\/plain/)

        proxy.restore()
        const back = yield* Effect.promise(() => request(`${origin}/plait/runs/pg-down-1`))
        assert.strictEqual(back.status, 200)
      }).pipe(Effect.scoped),
    60_000
  )
})
