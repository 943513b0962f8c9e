/**
 * Seed scenarios: realistic workflows run end to end against the in-memory journal. Each one
 * runs, checks the final context, then runs again under the same run id and checks that the
 * replay produced the same context without running any side effect again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, type Duration, Effect, Schema } from "effect"
import { Journal, Workflow, WorkflowError } from "plait"
import { completed, entriesOf, failure, makeCounts, runFor } from "../support/runs.ts"

class Unavailable extends Data.TaggedError("Unavailable")<{ readonly service: string }> {}

/** Runs `run` again (same run id) and checks it replays `expected` with no side effect. */
const replaysUnchanged = <Ctx, E, R>(
  run: Effect.Effect<Workflow.Outcome<Ctx>, E, R>,
  expected: Ctx,
  counts: ReturnType<typeof makeCounts>,
  time: Duration.Input = 0
) =>
  Effect.gen(function*() {
    const before = counts.snapshot()
    const replayed = completed(yield* runFor(run, time))
    assert.deepStrictEqual(replayed, expected)
    assert.deepStrictEqual(counts.snapshot(), before, "a completed step ran again on resume")
  })

const User = Schema.Struct({ id: Schema.String, email: Schema.String })
const Workspace = Schema.Struct({ id: Schema.String, owner: Schema.String })

describe("scenarios", () => {
  it.effect("user onboarding: a step, three parallel steps, a final step", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let billingFailures = 1
      const Onboard = Workflow.make("onboard_user", { input: Schema.Struct({ email: Schema.String }) }).pipe(
        Workflow.step("user", { success: User }, (ctx) =>
          counts.run("createUser", Effect.succeed({ id: "u-1", email: ctx.input.email }))),
        Workflow.parallel("setup", {
          welcome: Workflow.step("welcome", { success: Schema.Boolean }, (ctx) =>
            counts.run(`welcome ${ctx.user.id}`, Effect.succeed(true))),
          workspace: Workflow.step("workspace", { success: Workspace }, (ctx) =>
            counts.run("createWorkspace", Effect.as(Effect.sleep("2 seconds"), { id: "w-1", owner: ctx.user.id }))),
          billing: Workflow.step("billing", { success: Schema.Boolean, retry: { times: 3, delay: "1 second" } }, () =>
            counts.run(
              "billing",
              Effect.suspend(() =>
                billingFailures-- > 0 ? Effect.fail(new Unavailable({ service: "billing" })) : Effect.succeed(true)
              )
            ))
        }),
        Workflow.step("complete", { success: Schema.String }, (ctx) =>
          counts.run("complete", Effect.succeed(`onboarded ${ctx.user.id} into ${ctx.workspace.id}`)))
      )
      const run = Workflow.run(Onboard, { input: { email: "ada@example.com" }, runId: "onboard-ada" })
      const ctx = completed(yield* runFor(run, "2 seconds"))
      assert.deepStrictEqual(ctx, {
        input: { email: "ada@example.com" },
        user: { id: "u-1", email: "ada@example.com" },
        welcome: true,
        workspace: { id: "w-1", owner: "u-1" },
        billing: true,
        complete: "onboarded u-1 into w-1"
      })
      assert.deepStrictEqual(counts.snapshot(), {
        createUser: 1,
        "welcome u-1": 1,
        createWorkspace: 1,
        billing: 2,
        complete: 1
      })
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("dashboard: fetch three sources at once, then render", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Dashboard = Workflow.make("dashboard", { input: Schema.String }).pipe(
        Workflow.parallel("fetch", {
          profile: Workflow.step("profile", { success: Schema.Struct({ name: Schema.String }) }, (ctx) =>
            counts.run("profile", Effect.as(Effect.sleep("3 seconds"), { name: ctx.input }))),
          orders: Workflow.step("orders", { success: Schema.Array(Schema.Number) }, () =>
            counts.run("orders", Effect.as(Effect.sleep("1 second"), [10, 20]))),
          recommendations: Workflow.step("recommendations", { success: Schema.Array(Schema.String) }, () =>
            counts.run("recommendations", Effect.as(Effect.sleep("2 seconds"), ["socks"])))
        }, { concurrency: 3 }),
        Workflow.step("page", { success: Schema.String }, (ctx) =>
          counts.run(
            "render",
            Effect.succeed(`${ctx.profile.name}: ${ctx.orders.length} orders, try ${ctx.recommendations.join(", ")}`)
          ))
      )
      const run = Workflow.run(Dashboard, { input: "ada", runId: "dash-ada" })
      const ctx = completed(yield* runFor(run, "3 seconds"))
      assert.deepStrictEqual(ctx, {
        input: "ada",
        profile: { name: "ada" },
        orders: [10, 20],
        recommendations: ["socks"],
        page: "ada: 2 orders, try socks"
      })
      assert.deepStrictEqual(counts.snapshot(), { profile: 1, orders: 1, recommendations: 1, render: 1 })
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("notify all: completeAll with per-step retries; a channel that stays down fails the block, the rest stay done", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let emailFailures = 2
      let pushDown = true
      const channel = (name: string, fail: () => boolean) =>
        counts.run(
          name,
          Effect.suspend(() =>
            fail() ? Effect.fail(new Unavailable({ service: name })) : Effect.succeed(`${name} sent`)
          )
        )
      const NotifyAll = Workflow.make("notify_all", { input: Schema.String }).pipe(
        Workflow.parallel("notify", {
          email: Workflow.step(
            "email",
            { success: Schema.String, retry: { times: 3, delay: "1 second" } },
            () => channel("email", () => emailFailures-- > 0)
          ),
          sms: Workflow.step(
            "sms",
            { success: Schema.String, retry: { times: 3, delay: "1 second" } },
            () => channel("sms", () => false)
          ),
          push: Workflow.step(
            "push",
            { success: Schema.String, retry: { times: 1, delay: "5 seconds" } },
            () => channel("push", () => pushDown)
          )
        }, { onError: "completeAll" })
      )
      const run = Workflow.run(NotifyAll, { input: "order shipped", runId: "notify-1" })

      const first = failure(yield* runFor(run, "10 seconds"))
      assert.instanceOf(first, WorkflowError.ParallelFailure)
      const parallelFailure = first as WorkflowError.ParallelFailure
      assert.deepStrictEqual(Object.keys(parallelFailure.failures), ["push"])
      assert.deepStrictEqual(parallelFailure.successes, { email: { email: "email sent" }, sms: { sms: "sms sent" } })
      // email needed three attempts, push used its whole budget of two.
      assert.deepStrictEqual(counts.snapshot(), { email: 3, sms: 1, push: 2 })
      const attempts = (yield* entriesOf("notify-1")).filter((entry) => entry.kind === "attempt")
      assert.deepStrictEqual(attempts.map((entry) => entry.path).sort(), [
        "notify/email/email",
        "notify/email/email",
        "notify/push/push",
        "notify/push/push"
      ])

      pushDown = false
      const ctx = completed(yield* runFor(run, "10 seconds"))
      assert.deepStrictEqual(ctx, { input: "order shipped", email: "email sent", sms: "sms sent", push: "push sent" })
      assert.deepStrictEqual(counts.snapshot(), { email: 3, sms: 1, push: 3 })
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("settings: two branches both add `settings` and the context holds one deep-merged value", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Settings = Workflow.make("settings", { input: Schema.String }).pipe(
        Workflow.parallel("load", {
          display: Workflow.step("settings", {
            success: Schema.Struct({ display: Schema.Struct({ theme: Schema.String }) })
          }, () => counts.run("display", Effect.as(Effect.sleep("1 second"), { display: { theme: "dark" } }))),
          locale: Workflow.step("settings", {
            success: Schema.Struct({ display: Schema.Struct({ density: Schema.Number }), language: Schema.String })
          }, () => counts.run("locale", Effect.succeed({ display: { density: 2 }, language: "fr" })))
        }),
        Workflow.step("summary", { success: Schema.String }, (ctx) =>
          counts.run(
            "summary",
            Effect.succeed(`${ctx.settings.display.theme}/${ctx.settings.display.density}/${ctx.settings.language}`)
          ))
      )
      const run = Workflow.run(Settings, { input: "ada", runId: "settings-ada" })
      const ctx = completed(yield* runFor(run, "1 second"))
      assert.deepStrictEqual(ctx, {
        input: "ada",
        settings: { display: { theme: "dark", density: 2 }, language: "fr" },
        summary: "dark/2/fr"
      })
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("collect: quotes from two carriers kept apart under the block's name", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const Quotes = Workflow.make("quotes", { input: Schema.Number }).pipe(
        Workflow.parallel("quotes", {
          ups: Workflow.step("price", { success: Schema.Number }, (ctx) =>
            counts.run("ups", Effect.succeed(ctx.input * 1.2))),
          dhl: Workflow.step("price", { success: Schema.Number }, (ctx) =>
            counts.run("dhl", Effect.as(Effect.sleep("1 second"), ctx.input * 1.1)))
        }, { merge: "collect" }),
        Workflow.step("cheapest", { success: Schema.String }, (ctx) =>
          counts.run("cheapest", Effect.succeed(ctx.quotes.ups.price < ctx.quotes.dhl.price ? "ups" : "dhl")))
      )
      const run = Workflow.run(Quotes, { input: 10, runId: "quotes-10" })
      const ctx = completed(yield* runFor(run, "1 second"))
      assert.deepStrictEqual(ctx, { input: 10, quotes: { ups: { price: 12 }, dhl: { price: 11 } }, cheapest: "dhl" })
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("fast vs reliable: the fast path fails, the reliable one wins, and a resume keeps that winner", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let cacheUp = false
      const Lookup = Workflow.make("lookup", { input: Schema.String }).pipe(
        Workflow.race("answer", {
          fast: Workflow.step(
            "cached",
            { success: Schema.String },
            (ctx) =>
              counts.run(
                "cache",
                Effect.suspend(() =>
                  cacheUp ? Effect.succeed(`cached ${ctx.input}`) : Effect.fail(new Unavailable({ service: "cache" }))
                )
              )
          ),
          reliable: Workflow.step(
            "fetched",
            { success: Schema.String },
            (ctx) => counts.run("origin", Effect.as(Effect.sleep("2 seconds"), `origin ${ctx.input}`))
          )
        }),
        Workflow.step(
          "served",
          { success: Schema.String },
          (ctx) => counts.run("serve", Effect.succeed(ctx.answer._tag))
        )
      )
      const run = Workflow.run(Lookup, { input: "k", runId: "lookup-k" })
      const ctx = completed(yield* runFor(run, "2 seconds"))
      assert.deepStrictEqual(ctx, {
        input: "k",
        answer: { _tag: "reliable", value: { fetched: "origin k" } },
        served: "reliable"
      })
      // Now the cache would answer at once; the journaled winner still stands.
      cacheUp = true
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("chord: vendor prices gathered in parallel, aggregated by one callback", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      const quote = (vendor: string, price: number, seconds: number) =>
        counts.run(vendor, Effect.as(Effect.sleep(`${seconds} seconds`), price))
      const Pricing = Workflow.make("pricing", { input: Schema.String }).pipe(
        Workflow.chord("best", {
          acme: Workflow.step("acme", { success: Schema.Number }, () =>
            quote("acme", 30, 1)),
          globex: Workflow.step("globex", { success: Schema.Number }, () => quote("globex", 25, 3)),
          initech: Workflow.step("initech", { success: Schema.Number }, () => quote("initech", 40, 2))
        }, (ctx) =>
          counts.run("aggregate", Effect.succeed(Math.min(ctx.acme, ctx.globex, ctx.initech))), {
          success: Schema.Number
        })
      )
      const run = Workflow.run(Pricing, { input: "widget", runId: "pricing-widget" })
      const ctx = completed(yield* runFor(run, "3 seconds"))
      assert.deepStrictEqual(ctx, { input: "widget", acme: 30, globex: 25, initech: 40, best: 25 })
      assert.strictEqual(counts.of("aggregate"), 1)
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("image pipeline: forEach download, forEach process, aggregate; a crash mid-way resumes", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let broken = "c.png"
      const Image = Schema.Struct({ url: Schema.String, bytes: Schema.Number })
      const Pipeline = Workflow.make("images", { input: Schema.Array(Schema.String) }).pipe(
        Workflow.forEach(
          "downloads",
          (ctx) => ctx.input,
          (url) => counts.run(`download ${url}`, Effect.as(Effect.sleep("1 second"), { url, bytes: url.length * 100 })),
          {
            success: Image,
            concurrency: 2,
            key: (url) => url
          }
        ),
        Workflow.forEach("thumbs", (ctx) => ctx.downloads, (image) =>
          counts.run(
            `process ${image.url}`,
            Effect.suspend(() =>
              image.url === broken
                ? Effect.fail(new Unavailable({ service: "resizer" }))
                : Effect.succeed(Math.round(image.bytes / 10))
            )
          ), { success: Schema.Number, concurrency: 2 }),
        Workflow.step(
          "report",
          { success: Schema.String },
          (ctx) =>
            counts.run(
              "report",
              Effect.succeed(`${ctx.thumbs.length} thumbs, ${ctx.thumbs.reduce((a, b) => a + b, 0)} bytes`)
            )
        )
      )
      const input = ["a.png", "bb.png", "c.png", "ddd.png"]
      const run = Workflow.run(Pipeline, { input, runId: "images-1" })
      assert.instanceOf(failure(yield* runFor(run, "2 seconds")), Unavailable)
      for (const url of input) assert.strictEqual(counts.of(`download ${url}`), 1)

      broken = ""
      const ctx = completed(yield* runFor(run, "2 seconds"))
      assert.deepStrictEqual(ctx.downloads, input.map((url) => ({ url, bytes: url.length * 100 })))
      assert.deepStrictEqual(ctx.thumbs, [50, 60, 50, 70])
      assert.strictEqual(ctx.report, "4 thumbs, 230 bytes")
      // No image was downloaded twice, and only the failed one was processed twice.
      for (const url of input) assert.strictEqual(counts.of(`download ${url}`), 1)
      assert.strictEqual(counts.of("process c.png"), 2)
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("multi-region deploy: each region a sequence of steps, run in parallel and collected per region", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let euFlaky = true
      const provision = (region: string, input: string) =>
        counts.run(`provision ${region}`, Effect.succeed(`${region}-${input}`))
      const deploy = (region: string, provisioned: string) =>
        counts.run(
          `deploy ${region}`,
          Effect.suspend(() =>
            region === "eu" && euFlaky
              ? Effect.fail(new Unavailable({ service: "eu" }))
              : Effect.as(Effect.sleep("1 second"), `${provisioned}@v2`)
          )
        )
      const verify = (region: string, deployed: string) =>
        counts.run(`verify ${region}`, Effect.succeed(deployed.endsWith("@v2")))
      const Deploy = Workflow.make("deploy", { input: Schema.String }).pipe(
        Workflow.parallel("regions", {
          us: Workflow.sequence(
            Workflow.step("provision", { success: Schema.String }, (ctx) => provision("us", ctx.input)),
            Workflow.step("deploy", { success: Schema.String }, (ctx) => deploy("us", ctx.provision)),
            Workflow.step("verify", { success: Schema.Boolean }, (ctx) => verify("us", ctx.deploy))
          ),
          eu: Workflow.sequence(
            Workflow.step("provision", { success: Schema.String }, (ctx) => provision("eu", ctx.input)),
            Workflow.step("deploy", { success: Schema.String }, (ctx) => deploy("eu", ctx.provision)),
            Workflow.step("verify", { success: Schema.Boolean }, (ctx) => verify("eu", ctx.deploy))
          ),
          ap: Workflow.sequence(
            Workflow.step("provision", { success: Schema.String }, (ctx) => provision("ap", ctx.input)),
            Workflow.step("deploy", { success: Schema.String }, (ctx) => deploy("ap", ctx.provision)),
            Workflow.step("verify", { success: Schema.Boolean }, (ctx) => verify("ap", ctx.deploy))
          )
        }, { merge: "collect", onError: "completeAll" })
      )
      const run = Workflow.run(Deploy, { input: "cluster", runId: "deploy-1" })
      const first = failure(yield* runFor(run, "2 seconds"))
      assert.instanceOf(first, WorkflowError.ParallelFailure)
      assert.deepStrictEqual(Object.keys((first as WorkflowError.ParallelFailure).failures), ["eu"])

      euFlaky = false
      const ctx = completed(yield* runFor(run, "2 seconds"))
      assert.deepStrictEqual(ctx, {
        input: "cluster",
        regions: {
          us: { provision: "us-cluster", deploy: "us-cluster@v2", verify: true },
          eu: { provision: "eu-cluster", deploy: "eu-cluster@v2", verify: true },
          ap: { provision: "ap-cluster", deploy: "ap-cluster@v2", verify: true }
        }
      })
      assert.deepStrictEqual(counts.snapshot(), {
        "provision us": 1,
        "deploy us": 1,
        "verify us": 1,
        "provision eu": 1,
        "deploy eu": 2,
        "verify eu": 1,
        "provision ap": 1,
        "deploy ap": 1,
        "verify ap": 1
      })
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))

  it.effect("order flow: reserve every line, then branch on shipping; the physical case ships in parallel", () =>
    Effect.gen(function*() {
      const counts = makeCounts()
      let courierDown = true
      const Line = Schema.Struct({ sku: Schema.String, qty: Schema.Number })
      const Order = Schema.Struct({ id: Schema.String, digital: Schema.Boolean, lines: Schema.Array(Line) })
      const Fulfil = Workflow.make("order", { input: Order }).pipe(
        Workflow.step(
          "validated",
          { success: Schema.Number },
          (ctx) => counts.run("validate", Effect.succeed(ctx.input.lines.reduce((sum, line) => sum + line.qty, 0)))
        ),
        Workflow.forEach(
          "reservations",
          (ctx) => ctx.input.lines,
          (line, ctx) => counts.run(`reserve ${line.sku}`, Effect.succeed(`${ctx.input.id}:${line.sku}x${line.qty}`)),
          {
            success: Schema.String,
            concurrency: 2,
            key: (line) => line.sku
          }
        ),
        Workflow.branch("shipping", (ctx) => (ctx.input.digital ? "digital" : "physical"), {
          digital: Workflow.step(
            "link",
            { success: Schema.String },
            (ctx) => counts.run("link", Effect.succeed(`https://dl/${ctx.input.id}`))
          ),
          physical: Workflow.parallel("ship", {
            label: Workflow.step(
              "label",
              { success: Schema.String },
              (ctx) => counts.run("label", Effect.succeed(`LBL-${ctx.input.id}-${ctx.validated}`))
            ),
            pickup: Workflow.step(
              "pickup",
              { success: Schema.String, retry: { times: 1, delay: "1 minute" } },
              () =>
                counts.run(
                  "pickup",
                  Effect.suspend(() =>
                    courierDown ? Effect.fail(new Unavailable({ service: "courier" })) : Effect.succeed("tomorrow")
                  )
                )
            )
          })
        }),
        Workflow.step("confirmed", { success: Schema.String }, (ctx) =>
          counts.run(
            "confirm",
            Effect.succeed(
              ctx.shipping._tag === "physical"
                ? `${ctx.shipping.label}, pickup ${ctx.shipping.pickup}`
                : ctx.shipping.link
            )
          ))
      )
      const input = { id: "o-7", digital: false, lines: [{ sku: "tea", qty: 2 }, { sku: "cup", qty: 1 }] }
      const run = Workflow.run(Fulfil, { input, runId: "order-7" })
      assert.instanceOf(failure(yield* runFor(run, "2 minutes", "10 seconds")), Unavailable)
      assert.deepStrictEqual(counts.snapshot(), {
        validate: 1,
        "reserve tea": 1,
        "reserve cup": 1,
        label: 1,
        pickup: 2
      })

      courierDown = false
      const ctx = completed(yield* runFor(run))
      assert.deepStrictEqual(ctx, {
        input,
        validated: 3,
        reservations: ["o-7:teax2", "o-7:cupx1"],
        shipping: { _tag: "physical", label: "LBL-o-7-3", pickup: "tomorrow" },
        confirmed: "LBL-o-7-3, pickup tomorrow"
      })
      assert.deepStrictEqual(counts.snapshot(), {
        validate: 1,
        "reserve tea": 1,
        "reserve cup": 1,
        label: 1,
        pickup: 3,
        confirm: 1
      })
      yield* replaysUnchanged(run, ctx, counts)
    }).pipe(Effect.provide(Journal.layerMemory)))
})
