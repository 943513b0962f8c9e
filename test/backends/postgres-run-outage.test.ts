/**
 * Postgres going away in the middle of a workflow run: the run's journal talks to the server
 * through a local TCP proxy that the test cuts (every connection dropped, new ones refused) at
 * a point chosen from the run's own progress, then restores. The shared server is never stopped.
 *
 * Its writes are retried while its lease surely holds (4 s here), so the run must then fail with
 * a typed `JournalError` (reason `Unavailable`) naming the run, lose nothing it journaled before
 * the cut, and, run again with the same run id once the proxy is
 * back, resume without re-running a journaled step and complete with an uncrashed run's context.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { randomUUID } from "node:crypto"
import { Journal, Workflow } from "plait"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"
import { completed, failure, makeCounts } from "../support/runs.ts"
import { makeProxy, pgJournalThrough } from "../support/proxy.ts"

const items = Array.from({ length: 12 }, (_, i) => i + 1)

/** Each step takes a moment, then counts itself as done under its journal path. */
const makePipeline = (counts: ReturnType<typeof makeCounts>) => {
  const work = <A>(path: string, value: A) =>
    Effect.andThen(Effect.sleep("5 millis"), counts.run(path, Effect.succeed(value)))
  return Workflow.make("outage_pipeline", { input: Schema.Struct({ items: Schema.Array(Schema.Number) }) }).pipe(
    Workflow.step("fetched", { success: Schema.Number }, (ctx) => work("fetched", ctx.input.items.length)),
    Workflow.step("checked", { success: Schema.Boolean }, (ctx) => work("checked", ctx.fetched > 0)),
    Workflow.step(
      "priced",
      { success: Schema.Number },
      (ctx) => work("priced", ctx.input.items.reduce((total, item) => total + item, 0))
    ),
    Workflow.forEach("charged", (ctx) => ctx.input.items, (item, _, index) => work(`charged[${index}]`, item * 100), {
      success: Schema.Number,
      concurrency: 3
    }),
    Workflow.step(
      "receipt",
      { success: Schema.String },
      (ctx) => work("receipt", `${ctx.charged.length} charges, total ${ctx.priced}`)
    )
  )
}

const stepPaths = ["fetched", "checked", "priced", ...items.map((_, i) => `charged[${i}]`), "receipt"]

/** What an uncrashed run ends with. */
const referenceContext = Effect.gen(function*() {
  const outcome = yield* Workflow.run(makePipeline(makeCounts()), { input: { items } })
  return outcome._tag === "Completed" ? outcome.context : assert.fail("the reference run did not complete")
}).pipe(Effect.provide(Journal.layerMemory))

describe.skipIf(pgUrl === undefined)("a workflow run when Postgres becomes unreachable", () => {
  const url = new URL(pgUrl ?? "postgres://localhost")
  const target = { host: url.hostname, port: Number(url.port || 5432) }
  const direct = PgClient.layer({ url: Redacted.make(url.toString()) })

  /** The run's status and completed steps, read over a direct connection. */
  const stored = (tablePrefix: string, runId: string) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const runs = yield* sql<{ status: string }>`SELECT status FROM ${
        sql(`${tablePrefix}runs`)
      } WHERE run_id = ${runId}`
      const steps = yield* sql<{ path: string }>`SELECT path FROM ${sql(`${tablePrefix}entries`)}
        WHERE run_id = ${runId} AND kind = 'step'`
      return { status: runs[0]?.status, steps: new Set(steps.map((row) => row.path)) }
    })

  /**
   * Runs the pipeline through a proxy that is cut right after the step completions `cutWhen`
   * picks (before the run when it picks none), checks the failure and what survived, restores
   * the proxy and resumes.
   */
  const cutAndResume = (cutWhen: ((completed: ReadonlyArray<string>) => boolean) | "beforeStart") => {
    const tablePrefix = uniquePrefix()
    return Effect.gen(function*() {
      const proxy = yield* makeProxy(target)
      const { context } = yield* pgJournalThrough(url.toString(), proxy, tablePrefix)
      const counts = makeCounts()
      const pipeline = makePipeline(counts)
      const runId = `outage-${randomUUID()}`

      // The run that loses Postgres.
      const completedBeforeCut: Array<string> = []
      if (cutWhen === "beforeStart") proxy.cut()
      const observe = (event: Workflow.StepEvent) =>
        Effect.sync(() => {
          if (event._tag !== "Completed" || cutWhen === "beforeStart" || proxy.cuts() > 0) return
          completedBeforeCut.push(event.path)
          if (cutWhen(completedBeforeCut)) proxy.cut()
        })
      const exit = yield* Workflow.run(pipeline, { input: { items }, runId, observe, leaseDuration: "4 seconds" }).pipe(
        Effect.provide(context),
        Effect.timeoutOrElse({
          duration: "30 seconds",
          orElse: () => Effect.die(new Error("the run hung instead of failing"))
        }),
        Effect.exit
      )
      assert.strictEqual(proxy.cuts(), 1, "the proxy should have been cut during the run")
      assert.isTrue(Exit.isFailure(exit), "the run should fail while Postgres is unreachable")
      const error = failure(exit)
      assert.strictEqual(error._tag, "JournalError")
      const journalError = error as Journal.JournalError
      assert.strictEqual(journalError.reason, "Unavailable")
      assert.strictEqual(journalError.runId, runId)
      assert.include(journalError.message, runId)

      // Everything journaled before the cut is still there; nothing else claims to be done.
      const afterCut = yield* stored(tablePrefix, runId)
      if (cutWhen === "beforeStart") {
        assert.isUndefined(afterCut.status, "a run that could not start leaves no row")
      } else {
        assert.strictEqual(afterCut.status, "running")
        assert.isAbove(completedBeforeCut.length, 0)
      }
      for (const path of completedBeforeCut) {
        assert.isTrue(afterCut.steps.has(path), `${path} completed before the cut but is not in the journal`)
      }
      for (const path of afterCut.steps) assert.strictEqual(counts.of(path), 1, `${path} is journaled, so it ran once`)

      // Postgres is back: the same run id resumes and completes without redoing journaled steps.
      proxy.restore()
      const resumed = yield* Effect.exit(
        Workflow.run(pipeline, { input: { items }, runId }).pipe(Effect.provide(context))
      )
      assert.deepStrictEqual(completed(resumed), yield* referenceContext)
      for (const path of stepPaths) {
        if (afterCut.steps.has(path)) {
          assert.strictEqual(counts.of(path), 1, `${path} was journaled before the cut, yet ran again`)
        } else {
          // Not journaled: it runs now, and may have run once before the cut without committing.
          assert.oneOf(counts.of(path), [1, 2], `${path} ran ${counts.of(path)} times`)
        }
      }
      const final = yield* stored(tablePrefix, runId)
      assert.strictEqual(final.status, "completed")
      assert.deepStrictEqual([...final.steps].sort(), [...stepPaths].sort())
    }).pipe(Effect.provide(withDroppedTables([tablePrefix]).pipe(Layer.provideMerge(direct))))
  }

  it.live(
    "cut between two sequential steps: fails with Unavailable, keeps what it journaled, resumes",
    () => cutAndResume((completed) => completed.at(-1) === "checked"),
    60_000
  )

  it.live(
    "cut half-way through a forEach: fails with Unavailable, keeps what it journaled, resumes",
    () => cutAndResume((completed) => completed.filter((path) => path.startsWith("charged[")).length === 5),
    60_000
  )

  it.live(
    "unreachable from the start: fails with Unavailable, writes nothing, runs once Postgres is back",
    () => cutAndResume("beforeStart"),
    60_000
  )
})
