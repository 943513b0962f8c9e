/**
 * The `plait` CLI against SQLite and Postgres journals seeded by a real worker: in process through
 * `run(argv)` with the console captured, and as a real process for exit codes and what a failing
 * connection prints.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import type { Engine } from "plait"
import { type Backend, backends, cli, seed, waitFor } from "./tools-support.ts"

const root = path.resolve(import.meta.dirname, "..")
const fixtures = path.join(root, "test", "fixtures", "workflows.ts")

/** The real executable, as a user runs it. */
const bin = (...argv: ReadonlyArray<string>) => {
  const result = spawnSync(
    process.execPath,
    [
      "--conditions=plait-source",
      "--disable-warning=ExperimentalWarning",
      path.join(root, "src", "cli", "bin.ts"),
      ...argv
    ],
    { encoding: "utf8", env: { ...process.env, PLAIT_PG_URL: "", PLAIT_SQLITE: "" }, timeout: 30_000 }
  )
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

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
      assert.notInclude(result.output, "s3cr3t")
    }
    const viaEnv = spawnSync(
      process.execPath,
      [
        "--conditions=plait-source",
        "--disable-warning=ExperimentalWarning",
        path.join(root, "src", "cli", "bin.ts"),
        "runs",
        "list"
      ],
      {
        encoding: "utf8",
        env: { ...process.env, PLAIT_PG_URL: `postgres://bob:${password}@127.0.0.1:1/x` },
        timeout: 30_000
      }
    )
    assert.notStrictEqual(viaEnv.status, 0)
    assert.include(`${viaEnv.stdout}${viaEnv.stderr}`, "postgres://bob:***@127.0.0.1:1/x")
    assert.notInclude(`${viaEnv.stdout}${viaEnv.stderr}`, "s3cr3t")
  }, 60_000)

  it("a missing run exits non-zero from the real executable", () => {
    const result = bin("--sqlite", "/nonexistent.sqlite", "runs", "show", "x")
    assert.notStrictEqual(result.status, 0)
    assert.include(result.output, "no such SQLite file")
  }, 30_000)
})

export type { Backend }
