/**
 * The `plait` CLI against SQLite and Postgres journals seeded by a real worker: in process through
 * `run(argv)` with the console captured, and as a real process for exit codes and what a failing
 * connection prints.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema, Scope } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Engine, Workflow, WorkflowError } from "plait"
import { Testing } from "plait/testing"
import * as Fixtures from "../support/fixtures/workflows.ts"
import { pgUrl } from "../support/postgres.ts"
import { type Backend, backends, cli, request, seed, sqliteBackend, waitFor } from "../support/tools.ts"

const root = path.resolve(import.meta.dirname, "..", "..")

/** The fixture onboarding with its last step renamed: a definition its runs do not replay. */
const Renamed = Workflow.make("onboard", { input: Schema.Struct({ email: Schema.String }) }).pipe(
  Workflow.step("user", { success: Schema.String }, (ctx) => Effect.succeed(`user-${ctx.input.email}`)),
  Workflow.parallel("setup", {
    welcome: Workflow.step("welcome", { success: Schema.Boolean }, () => Effect.succeed(true)),
    workspace: Workflow.step("workspace", { success: Schema.String }, (ctx) => Effect.succeed(`ws-${ctx.user}`)),
    billing: Workflow.step("billing", { success: Schema.Boolean }, () => Effect.succeed(true))
  }),
  Workflow.step("finished", { success: Schema.String }, (ctx) => Effect.succeed(`${ctx.workspace} ready`))
)
const fixtures = path.join(root, "test", "support", "fixtures", "workflows.ts")

/** The real executable, as a user runs it. */
/** Node's arguments to run the `plait` executable from the sources with `argv`. */
const binArguments = (argv: ReadonlyArray<string>) => [
  "--conditions=plait-source",
  "--disable-warning=ExperimentalWarning",
  path.join(root, "src", "cli", "bin.ts"),
  ...argv
]

const binIn = (
  options: { readonly cwd?: string; readonly env?: Record<string, string> },
  ...argv: ReadonlyArray<string>
) => {
  const result = spawnSync(
    process.execPath,
    binArguments(argv),
    {
      cwd: options.cwd,
      encoding: "utf8",
      env: { ...process.env, PLAIT_PG_URL: "", PLAIT_SQLITE: "", ...options.env },
      timeout: 30_000
    }
  )
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

const bin = (...argv: ReadonlyArray<string>) => binIn({}, ...argv)

for (const backend of backends()) {
  describe(`plait CLI on ${backend.name}`, () => {
    const scope = Effect.runSync(Scope.make())
    const context = Layer.buildWithScope(backend.layer, scope)
    const inEngine = <A, E>(effect: Effect.Effect<A, E, Engine.Engine>) =>
      Effect.flatMap(context, (ctx) => Effect.provideContext(effect, ctx))
    const flags = backend.flags
    beforeAll(
      () => Effect.runPromise(Effect.flatMap(context, (ctx) => Effect.provideContext(seed(scope), ctx))),
      60_000
    )
    afterAll(async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await backend.cleanup()
    })

    it.live("runs list: every run with its status and the counts; filters and --json", () =>
      Effect.gen(function*() {
        const all = yield* cli(...flags, "runs", "list")
        assert.isTrue(all.ok, all.output)
        for (const id of ["onboard-ada", "expense-7", "batch-1", "forever-1"]) assert.include(all.output, id)
        assert.match(all.output, /expense-7\s+expense\s+waiting/)
        assert.include(all.output, "waiting 1")
        const waiting = yield* cli(...flags, "runs", "list", "--status", "waiting")
        assert.include(waiting.output, "expense-7")
        assert.notInclude(waiting.output, "onboard-ada")
        const json = JSON.parse((yield* cli(...flags, "runs", "list", "--workflow", "onboard", "--json")).output)
        assert.deepStrictEqual(json.runs.map((r: { runId: string }) => r.runId), ["onboard-ada"])
        assert.strictEqual(json.counts.completed, 1)
        const badCursor = yield* cli(...flags, "runs", "list", "--cursor", "not-a-cursor")
        assert.isFalse(badCursor.ok)
        assert.include(badCursor.output, "the cursor \"not-a-cursor\" is not one a page of runs returned")
      }))

    it.live("a run id no backend may hold, or a limit out of range, is refused with the rule it breaks", () =>
      Effect.gen(function*() {
        for (const command of ["show", "timeline", "cancel", "resume", "export"]) {
          const empty = yield* cli(...flags, "runs", command, "")
          assert.isFalse(empty.ok, `${command} ""`)
          assert.include(empty.output, "a run id must not be empty")
        }
        const long = yield* cli(...flags, "runs", "show", "x".repeat(513))
        assert.isFalse(long.ok)
        assert.include(long.output, "a run id must be at most 512 UTF-8 bytes")
        const surrogate = yield* cli(...flags, "runs", "signal", "order-\ud800", "approval", "true")
        assert.isFalse(surrogate.ok)
        assert.include(surrogate.output, "well-formed Unicode")
        const limit = yield* cli(...flags, "runs", "list", "--limit", "0")
        assert.isFalse(limit.ok)
        assert.include(limit.output, "invalid option limit: 0 is not a whole number from 1 to 1000")
        const real = bin(...flags, "runs", "show", "")
        assert.notStrictEqual(real.status, 0, real.output)
        assert.include(real.output, "a run id must not be empty")
      }))

    it.live("runs show: status, steps with times and attempts, what it waits for", () =>
      Effect.gen(function*() {
        const onboard = yield* cli(...flags, "runs", "show", "onboard-ada")
        assert.include(onboard.output, "status    completed")
        assert.match(onboard.output, /setup\/billing\/billing\s+failed .* 1\s+Flaky/)
        assert.match(onboard.output, /setup\/billing\/billing\s+completed .* 2/)
        const expense = yield* cli(...flags, "runs", "show", "expense-7")
        assert.include(expense.output, "waits     waiting for signal approval")
        const batch = yield* cli(...flags, "runs", "show", "batch-1")
        assert.match(batch.output, /forEach square\s+\[#+\]\s+5 done/)
      }))

    it.live("runs timeline: one lane per parallel branch, failed attempts marked", () =>
      Effect.gen(function*() {
        const { output } = yield* cli(...flags, "runs", "timeline", "onboard-ada", "--width", "40")
        const lanes = output.split("\n").filter((line) => line.includes("|")).map((line) => line.split("|")[0]!.trim())
        assert.deepStrictEqual(lanes.sort(), ["(run)", "setup/billing", "setup/welcome", "setup/workspace"])
        assert.match(output, /setup\/billing\s+\|[^|]*x[^|]*=[^|]*\|/)
        const batch = yield* cli(...flags, "runs", "timeline", "batch-1")
        assert.include(batch.output, "square[4]")
        assert.match(batch.output, /\(run\)\s+\|[^|]*\.[^|]*\|/, "the sleep shows as a gap in the top lane")
      }))

    it.live("runs export writes a run's journal as JSON that Testing.replay replays, or refuses at the first change", () =>
      Effect.gen(function*() {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "plait-export-"))
        const file = path.join(dir, "onboard-ada.json")
        const written = yield* cli(...flags, "runs", "export", "onboard-ada", "--output", file)
        assert.isTrue(written.ok, written.output)
        assert.match(written.output, /exported onboard-ada \(completed, \d+ entries, 0 child runs\) to /)
        const exported = JSON.parse(fs.readFileSync(file, "utf8"))
        fs.rmSync(dir, { recursive: true, force: true })
        assert.strictEqual(exported.format, "plait/run")
        assert.strictEqual(exported.run.runId, "onboard-ada")
        assert.isTrue(exported.entries.some((entry: { kind: string }) => entry.kind === "attempt"))

        const report = yield* Testing.replay(Fixtures.Onboard, exported)
        assert.strictEqual(report.reached._tag, "Completed")
        assert.sameMembers([...report.replayed], [
          "user",
          "setup/welcome/welcome",
          "setup/workspace/workspace",
          "setup/billing/billing",
          "done"
        ])
        const changed = yield* Effect.flip(Testing.replay(Renamed, exported))
        assert.instanceOf(changed, WorkflowError.DefinitionChanged)
        assert.strictEqual((changed as WorkflowError.DefinitionChanged).path, "finished")

        // Printed when no file is named; a waiting run replays to the signal it waits for.
        const printed = yield* cli(...flags, "runs", "export", "expense-7")
        assert.isTrue(printed.ok, printed.output)
        const waiting = yield* Testing.replay(Fixtures.Expense, JSON.parse(printed.output))
        assert.deepStrictEqual(waiting.reached, { _tag: "Waiting", paths: ["approval"] })
        assert.deepStrictEqual(waiting.replayed, ["submitted"])

        const missing = yield* cli(...flags, "runs", "export", "no-such-run")
        assert.isFalse(missing.ok)
        assert.include(missing.output, "no-such-run")
      }))

    it.live("runs signal validates with --workflow and completes the run; refuses unvalidated and bad values", () =>
      Effect.gen(function*() {
        const unchecked = yield* cli(...flags, "runs", "signal", "expense-7", "approval", "{\"approved\":true}")
        assert.isFalse(unchecked.ok)
        assert.include(unchecked.output, "--workflow")
        const bad = yield* cli(
          ...flags,
          "runs",
          "signal",
          "expense-7",
          "approval",
          "{\"approved\":\"yes\"}",
          "--workflow",
          `${fixtures}#Expense`
        )
        assert.isFalse(bad.ok)
        assert.include(bad.output, "approval")
        const wrongExport = yield* cli(
          ...flags,
          "runs",
          "signal",
          "expense-7",
          "approval",
          "{}",
          "--workflow",
          `${fixtures}#notAWorkflow`
        )
        assert.include(wrongExport.output, "is not a plait workflow")
        const good = yield* cli(
          ...flags,
          "runs",
          "signal",
          "expense-7",
          "approval",
          "{\"approved\":true}",
          "--workflow",
          `${fixtures}#Expense`
        )
        assert.isTrue(good.ok, good.output)
        assert.include(good.output, "delivered approval to expense-7")
        yield* inEngine(waitFor("expense-7", (status) => status === "completed"))
        const again = yield* cli(
          ...flags,
          "runs",
          "signal",
          "expense-7",
          "approval",
          "{\"approved\":false}",
          "--workflow",
          `${fixtures}#Expense`
        )
        assert.isFalse(again.ok)
        assert.include(again.output, "already")
      }))

    it.live("runs cancel stops a running run; resume refuses a cancelled one; watch ends on a finished run", () =>
      Effect.gen(function*() {
        const cancelled = yield* cli(...flags, "runs", "cancel", "forever-1", "--reason", "test over")
        assert.isTrue(cancelled.ok, cancelled.output)
        yield* inEngine(waitFor("forever-1", (status) => status === "cancelled"))
        const resumed = yield* cli(...flags, "runs", "resume", "forever-1")
        assert.isFalse(resumed.ok)
        assert.include(resumed.output, "cancel")
        const watched = yield* cli(...flags, "runs", "watch", "forever-1", "--interval", "50")
        assert.isTrue(watched.ok)
        assert.include(watched.output, "status    cancelled")
        assert.include(watched.output, "test over")
      }))

    it.live("a missing run is a clear error", () =>
      Effect.gen(function*() {
        for (const command of ["show", "timeline", "cancel", "resume"]) {
          const result = yield* cli(...flags, "runs", command, "nobody")
          assert.isFalse(result.ok)
          assert.include(result.output, "no run has the id nobody")
        }
      }))
  })
}

describe("plait CLI without a database", () => {
  it.live("graph prints a workflow's Mermaid flowchart", () =>
    Effect.gen(function*() {
      const { ok, output } = yield* cli("graph", `${fixtures}#Onboard`)
      assert.isTrue(ok, output)
      assert.match(output, /^flowchart TD/)
      assert.include(output, "setup (parallel)")
      const missing = yield* cli("graph", `${fixtures}#Nope`)
      assert.include(missing.output, "has no export \"Nope\"; its workflows: Onboard, Expense, Batch, Forever, Hostile")
    }))

  it.live("no database named: says how to name one", () =>
    Effect.gen(function*() {
      const previous = [process.env.PLAIT_PG_URL, process.env.PLAIT_SQLITE]
      process.env.PLAIT_PG_URL = ""
      process.env.PLAIT_SQLITE = ""
      const result = yield* Effect.ensuring(
        cli("runs", "list"),
        Effect.sync(() => {
          process.env.PLAIT_PG_URL = previous[0]
          process.env.PLAIT_SQLITE = previous[1]
        })
      )
      assert.isFalse(result.ok)
      assert.include(result.output, "pass --sqlite FILE or --pg URL")
      const noFile = yield* cli("--sqlite", "/nonexistent/plait.sqlite", "runs", "list")
      assert.include(noFile.output, "no such SQLite file: /nonexistent/plait.sqlite")
    }))

  it("an unreachable Postgres is a clear error that never shows the password, from the real executable", () => {
    const password = "s3cr3t-Pw%21"
    for (const argv of [["--pg", `postgres://alice:${password}@127.0.0.1:1/plait`, "runs", "list"]]) {
      const result = bin(...argv)
      assert.notStrictEqual(result.status, 0)
      assert.include(result.output, "cannot open the Postgres at postgres://alice:***@127.0.0.1:1/plait")
      assert.include(result.output, "connection refused: nothing listens at 127.0.0.1:1")
      assert.include(result.output, "warning: a password in --pg is seen by other users")
      assert.include(result.output, "set PLAIT_PG_URL instead")
      assert.notInclude(result.output, "s3cr3t")
    }
    const viaEnv = binIn({ env: { PLAIT_PG_URL: `postgres://bob:${password}@127.0.0.1:1/x` } }, "runs", "list")
    assert.notStrictEqual(viaEnv.status, 0)
    assert.include(viaEnv.output, "postgres://bob:***@127.0.0.1:1/x")
    assert.notInclude(viaEnv.output, "s3cr3t")
    assert.notInclude(viaEnv.output, "warning", "PLAIT_PG_URL is the place for a password")
  }, 60_000)

  it.live(
    "a failed connection names its cause: refused, unknown host, timeout; the password scrubbed",
    () =>
      Effect.gen(function*() {
        const refused = yield* cli("--pg", "postgres://alice:hunter2@127.0.0.1:1/plait", "runs", "list")
        assert.include(refused.output, "connection refused: nothing listens at 127.0.0.1:1")
        const unknown = yield* cli("--pg", "postgres://alice:hunter2@no-such-host.invalid/plait", "runs", "list")
        assert.include(unknown.output, "unknown host: no-such-host.invalid does not resolve")
        // A server that takes the connection and never answers.
        const silent = yield* Effect.acquireRelease(
          Effect.callback<net.Server>((resume) => {
            const server = net.createServer(() => {}).listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
          }),
          (server) => Effect.sync(() => server.close())
        )
        const port = (silent.address() as net.AddressInfo).port
        const timedOut = yield* cli("--pg", `postgres://alice:hunter2@127.0.0.1:${port}/plait`, "runs", "list")
        assert.include(timedOut.output, `timeout: 127.0.0.1:${port} did not answer within 10 seconds`)
        for (const { output } of [refused, unknown, timedOut]) {
          assert.include(output, "postgres://alice:***@")
          assert.notInclude(output, "hunter2")
          assert.notInclude(output, "PgConnection: Failed to connect")
        }
      }).pipe(Effect.scoped),
    60_000
  )

  it.live.skipIf(pgUrl === undefined)(
    "a refused role or password, and a missing database, say so",
    () =>
      Effect.gen(function*() {
        const server = new URL(pgUrl!)
        const role = new URL(pgUrl!)
        role.username = `nobody_${Date.now().toString(36)}`
        role.password = "hunter2"
        const refused = yield* cli("--pg", role.toString(), "runs", "list")
        assert.include(refused.output, `authentication failed: role "${role.username}" does not exist`)
        assert.notInclude(refused.output, "hunter2")
        server.pathname = "/no_such_database_here"
        const noDatabase = yield* cli("--pg", server.toString(), "runs", "list")
        assert.include(noDatabase.output, "no such database: database \"no_such_database_here\" does not exist")
      })
  )

  it("without an optional peer, says what to install instead of a module-not-found stack", () => {
    // plait's sources in a directory whose node_modules holds only what is linked here.
    const app = fs.mkdtempSync(path.join(os.tmpdir(), "plait-peers-"))
    try {
      fs.cpSync(path.join(root, "src"), path.join(app, "src"), { recursive: true })
      fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "plait", type: "module" }))
      fs.mkdirSync(path.join(app, "node_modules", "@effect"), { recursive: true })
      fs.symlinkSync(path.join(root, "node_modules", "effect"), path.join(app, "node_modules", "effect"), "dir")
      const run = (...argv: ReadonlyArray<string>) => {
        const result = spawnSync(
          process.execPath,
          ["--disable-warning=ExperimentalWarning", path.join(app, "src", "cli", "bin.ts"), ...argv],
          { encoding: "utf8", env: { ...process.env, PLAIT_PG_URL: "", PLAIT_SQLITE: "" }, timeout: 30_000 }
        )
        return { status: result.status, output: `${result.stdout}${result.stderr}` }
      }
      const noPlatform = run("runs", "list")
      assert.strictEqual(noPlatform.status, 1, noPlatform.output)
      assert.include(noPlatform.output, "npm install @effect/platform-node")
      assert.notInclude(noPlatform.output, "ERR_MODULE_NOT_FOUND")
      assert.notMatch(noPlatform.output, /^\s+at /m, "no stack")

      fs.symlinkSync(
        path.join(root, "node_modules", "@effect", "platform-node"),
        path.join(app, "node_modules", "@effect", "platform-node"),
        "dir"
      )
      const noDriver = run("--pg", "postgres://alice@127.0.0.1:1/plait", "runs", "list")
      assert.notStrictEqual(noDriver.status, 0)
      assert.include(noDriver.output, "Postgres journals need @effect/sql-pg")
      assert.include(noDriver.output, "npm install @effect/sql-pg")
      assert.notMatch(noDriver.output, /^\s+at /m, "no stack")
    } finally {
      fs.rmSync(app, { recursive: true, force: true })
    }
  }, 60_000)

  it("graph loads a NodeNext app's TypeScript (imports ending in .js) and its compiled output alike", () => {
    const app = fs.mkdtempSync(path.join(os.tmpdir(), "plait-nodenext-"))
    try {
      fs.cpSync(path.join(root, "test", "support", "fixtures", "nodenext-app"), app, { recursive: true })
      fs.mkdirSync(path.join(app, "node_modules"))
      fs.symlinkSync(root, path.join(app, "node_modules", "plait"), "dir")
      fs.symlinkSync(path.join(root, "node_modules", "effect"), path.join(app, "node_modules", "effect"), "dir")
      const compiled = spawnSync(
        process.execPath,
        [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", app, "--noCheck"],
        { encoding: "utf8", timeout: 60_000 }
      )
      assert.strictEqual(compiled.status, 0, `${compiled.stdout}${compiled.stderr}`)
      assert.include(fs.readFileSync(path.join(app, "dist", "flow.js"), "utf8"), "\"./steps.js\"")
      for (const module of ["src/flow.ts#Flow", "dist/flow.js#Flow"]) {
        const { output, status } = binIn({ cwd: app }, "graph", module)
        assert.strictEqual(status, 0, `${module}: ${output}`)
        assert.match(output, /^flowchart TD/, module)
        assert.include(output, "reserved")
        assert.include(output, "shipped")
      }
    } finally {
      fs.rmSync(app, { recursive: true, force: true })
    }
  }, 90_000)

  it("a missing run exits non-zero from the real executable", () => {
    const result = bin("--sqlite", "/nonexistent.sqlite", "runs", "show", "x")
    assert.notStrictEqual(result.status, 0)
    assert.include(result.output, "no such SQLite file")
  }, 30_000)
})

/**
 * `plait dashboard` as a user starts it: a real process, stopped by its pid when the test ends.
 * Resolves once it printed its address (or ended), with what it printed.
 */
const startDashboard = (argv: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ readonly url: string | undefined; readonly output: () => string; readonly stop: () => void }>(
    (resolve) => {
      const child = spawn(
        process.execPath,
        binArguments(argv),
        { env: { ...process.env, PLAIT_PG_URL: "", PLAIT_SQLITE: "", PLAIT_DASHBOARD_TOKEN: "", ...env } }
      )
      let output = ""
      const done = (url: string | undefined) =>
        resolve({ url, output: () => output, stop: () => void child.kill("SIGTERM") })
      const read = (chunk: Buffer) => {
        output += chunk.toString()
        const printed = /plait dashboard on (http:\/\/\S+)/.exec(output)
        if (printed !== null) done(printed[1])
      }
      child.stdout.on("data", read)
      child.stderr.on("data", read)
      child.on("exit", () => done(undefined))
    }
  )

describe("plait dashboard, as a process", () => {
  const backend = sqliteBackend()
  const scope = Effect.runSync(Scope.make())
  beforeAll(() =>
    Effect.runPromise(Effect.gen(function*() {
      const context = yield* Layer.buildWithScope(backend.layer, scope)
      yield* Effect.provideContext(
        Effect.flatMap(Engine.Engine, (engine) => engine.start(Fixtures.Forever, { input: "x", runId: "idle-1" })),
        context
      )
    })), 30_000)
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await backend.cleanup()
  })

  it(
    "prints its address with a random access token; the token becomes a cookie; / leads to it; the rebinding request is refused",
    async () => {
      const dashboard = await startDashboard([...backend.flags, "dashboard", "--port", "0"])
      try {
        assert.isDefined(dashboard.url, dashboard.output())
        const url = new URL(dashboard.url!)
        const token = url.searchParams.get("token")!
        assert.isAtLeast(token.length, 40, "32 random bytes")
        const runs = `${url.origin}/plait/`
        assert.strictEqual((await request(runs)).status, 401)
        const exchange = await request(url.toString())
        assert.strictEqual(exchange.status, 303)
        assert.strictEqual(exchange.headers.location, "/plait/")
        const cookie = String(exchange.headers["set-cookie"]).split(";")[0]!
        const page = await request(runs, { headers: { cookie } })
        assert.strictEqual(page.status, 200)
        assert.include(page.body, "idle-1")
        const root = await request(`${url.origin}/`, { headers: { cookie } })
        assert.strictEqual(root.status, 302)
        assert.strictEqual(root.headers.location, "/plait/")
        const evil = `evil.example:${url.port}`
        const rebinding = await request(`${url.origin}/plait/runs/idle-1/cancel`, {
          method: "POST",
          headers: { host: evil, origin: `http://${evil}`, "x-plait-action": "1", cookie },
          body: "{}"
        })
        assert.strictEqual(rebinding.status, 403)
        const another = await startDashboard([...backend.flags, "dashboard", "--port", "0"])
        try {
          assert.notStrictEqual(new URL(another.url!).searchParams.get("token"), token, "a new token each start")
        } finally {
          another.stop()
        }
      } finally {
        dashboard.stop()
      }
    },
    60_000
  )

  it("serves without a token only on loopback, and warns when it listens beyond it", async () => {
    const refused = await startDashboard([
      ...backend.flags,
      "dashboard",
      "--port",
      "0",
      "--host",
      "0.0.0.0",
      "--no-token"
    ])
    assert.isUndefined(refused.url)
    assert.include(
      refused.output(),
      "--no-token serves the dashboard without authentication, which is refused on 0.0.0.0"
    )

    const open = await startDashboard([...backend.flags, "dashboard", "--port", "0", "--no-token"])
    try {
      assert.include(open.url!, "127.0.0.1")
      assert.notInclude(open.url!, "token=")
      assert.strictEqual((await request(`${new URL(open.url!).origin}/plait/`)).status, 200)
    } finally {
      open.stop()
    }

    const wide = await startDashboard([...backend.flags, "dashboard", "--port", "0", "--host", "0.0.0.0"], {
      PLAIT_DASHBOARD_TOKEN: "fixed-token-for-this-test"
    })
    try {
      assert.include(wide.output(), "warning: the dashboard listens on 0.0.0.0, beyond this machine")
      assert.include(wide.url!, "?token=fixed-token-for-this-test")
      const origin = new URL(wide.url!).origin
      assert.strictEqual((await request(`${origin}/plait/`)).status, 401)
      assert.strictEqual(
        (await request(`${origin}/plait/`, { headers: { authorization: "Bearer fixed-token-for-this-test" } })).status,
        200
      )
    } finally {
      wide.stop()
    }
  }, 60_000)
})

export type { Backend }
