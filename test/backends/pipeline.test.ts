/**
 * Pipelined fan-out (issue 10 part 3), on SQLite and Postgres through the public API, and on a
 * memory journal whose appends wait: a bounded `forEach` or `parallel` counts only the items
 * that are running against its `concurrency`, not those waiting for their completions to commit.
 *
 * - batches grow past the concurrency when writes take time, while at most `concurrency` item
 *   bodies ever run at once;
 * - nothing is reported complete before its write has committed (an observer's `Completed`, the
 *   block's result, the step after it);
 * - at most max(128, 8 × concurrency) items are started and not yet ended, however long the
 *   journal stalls;
 * - a failure under `failFast` while completions are still being written resumes exactly;
 * - a lost lease still ends the run at once;
 * - `lastWins` journals the branches in the order their batches committed.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Data, Duration, Effect, Fiber, Latch, Layer, Redacted, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Journal, RunStore, SqliteJournal, SqlJournal, Workflow } from "plait"
import { afterAll } from "vitest"
import { InstantAppends } from "../../src/internal/instantAppends.ts"
import { pgUrl, uniquePrefix, withDroppedTables } from "../support/postgres.ts"
import { completed, failure, makeGauge, memoryLayer } from "../support/runs.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-pipeline-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

class Boom extends Data.TaggedError("Boom")<{ readonly at: number }> {}

type Backend = Layer.Layer<Journal.Journal | RunStore.RunStore, unknown>

interface Store {
  readonly name: string
  readonly layer: (roundTrips: SqlJournal.RoundTrips) => Backend
}

let files = 0
const url = pgUrl
const stores: ReadonlyArray<Store> = [
  {
    name: "SQLite",
    layer: (roundTrips) => SqliteJournal.layer({ filename: Path.join(root, `${files++}.sqlite`), roundTrips })
  },
  ...(url === undefined ? [] : [{
    name: "Postgres",
    layer: (roundTrips: SqlJournal.RoundTrips): Backend => {
      const tablePrefix = uniquePrefix()
      return Layer.merge(SqlJournal.layer({ tablePrefix, roundTrips }), withDroppedTables([tablePrefix])).pipe(
        Layer.provide(PgClient.layer({ url: Redacted.make(url) }))
      )
    }
  }]),
  // The memory journal does not pipeline (its appends are instant); one whose appends are not
  // known to be instant pipelines like any other journal.
  {
    name: "memory, appends that wait",
    layer: () => memoryLayer((journal) => ({ ...journal, [InstantAppends]: false }))
  }
]

/**
 * `store`'s journal with its appends slowed by `latency` and, while `gate` is closed, held; every
 * append's number of step outputs is recorded in `batches`.
 */
const slowJournal = (
  store: Store,
  options: {
    readonly latency?: Duration.Input
    readonly gate?: Latch.Latch
    /** From this append on (counting from 1), every append is refused: the lease is lost. */
    readonly leaseLostAt?: number
  }
) => {
  const roundTrips = SqlJournal.makeRoundTrips()
  const batches: Array<number> = []
  /** The step outputs of each append, by path. */
  const batchPaths: Array<ReadonlyArray<string>> = []
  let appends = 0
  let built: Journal.Journal["Service"] | undefined
  const layer = Layer.effectContext(Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const runStore = yield* RunStore.RunStore
    built = journal
    const append: Journal.Journal["Service"]["append"] = (lease, entries) =>
      Effect.gen(function*() {
        if (options.gate !== undefined) yield* options.gate.await
        if (options.latency !== undefined) yield* Effect.sleep(options.latency)
        if (options.leaseLostAt !== undefined && ++appends >= options.leaseLostAt) {
          return yield* new Journal.LeaseLost({ runId: lease.runId, owner: lease.owner, token: lease.token })
        }
        yield* journal.append(lease, entries)
        const outputs = entries.filter((entry) => entry.kind === "step").map((entry) => entry.path)
        batches.push(outputs.length)
        batchPaths.push(outputs)
      })
    return Context.make(Journal.Journal, { ...journal, append }).pipe(Context.add(RunStore.RunStore, runStore))
  })).pipe(Layer.provide(store.layer(roundTrips)))
  /** The step outputs journaled for `runId`, read from the journal the layer built last. */
  const outputs = (runId: string) =>
    Effect.map(Effect.orDie(built!.load(runId)), (loaded) =>
      new Set(
        loaded._tag === "Some"
          ? loaded.value.entries.filter((entry) => entry.kind === "step").map((entry) => entry.path)
          : []
      ))
  return { layer, batches, batchPaths, roundTrips, outputs }
}

const Numbers = Schema.Array(Schema.Number)
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/**
 * Checks, as each `Completed` event is reported, that the step's output is already in the
 * journal: a completion reported before its commit is recorded in `early`.
 */
const completionWatch = (runId: string, journal: ReturnType<typeof slowJournal>) => {
  const completedPaths: Array<string> = []
  const early: Array<string> = []
  const observe = (event: Workflow.StepEvent) =>
    event._tag !== "Completed" ? Effect.void : Effect.gen(function*() {
      completedPaths.push(event.path)
      if (!(yield* journal.outputs(runId)).has(event.path)) early.push(event.path)
    })
  return { completedPaths, early, observe }
}

/** Polls until `done()` holds, failing the test after `timeout`. */
const until = (done: () => boolean, what: string, timeout: Duration.Input = "10 seconds") =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(timeout))
    while (!done()) {
      if (Date.now() > deadline) return assert.fail(`timed out waiting until ${what}`)
      yield* Effect.sleep("5 millis")
    }
  })

for (const store of stores) {
  describe(`pipelined fan-out on ${store.name}`, () => {
    it.live("a forEach's batches outgrow its concurrency under write latency; at most `concurrency` bodies run at once", () =>
      Effect.gen(function*() {
        const gauge = makeGauge()
        const Flow = Workflow.make("pipelined_batches", { input: Numbers }).pipe(
          Workflow.forEach("items", (ctx) => ctx.input, (n) => gauge.hold(Effect.as(Effect.sleep("1 millis"), n * 2)), {
            success: Schema.Number,
            concurrency: 4
          })
        )
        const journal = slowJournal(store, { latency: "50 millis" })
        const ctx = completed(
          yield* Effect.exit(
            Workflow.run(Flow, { input: range(300), runId: "batches" }).pipe(Effect.provide(journal.layer))
          )
        )
        assert.deepStrictEqual(ctx.items, range(300).map((n) => n * 2))
        assert.strictEqual(gauge.max, 4, "the bound is on the bodies running")
        const written = journal.batches.reduce((sum, batch) => sum + batch, 0)
        assert.strictEqual(written, 300)
        // Held to the concurrency, 75 batches of 4. Each batch holds what completed while the
        // one before it was written: 50 ms at 4 bodies of 1 ms (a few under load) at a time.
        assert.isAbove(Math.max(...journal.batches), 16, `batches: ${journal.batches.join(" ")}`)
        assert.isAtMost(journal.batches.length, 30, `batches: ${journal.batches.join(" ")}`)
        if (store.name !== "memory, appends that wait") {
          assert.strictEqual(journal.roundTrips.of("append"), journal.batches.length)
        }
      }))

    it.live("items of several steps and parallel branches pipeline too; each holds a slot only while it runs", () =>
      Effect.gen(function*() {
        const items = makeGauge()
        const branches = makeGauge()
        const work = <A>(gauge: ReturnType<typeof makeGauge>, value: A) =>
          gauge.hold(Effect.as(Effect.sleep("1 millis"), value))
        const branchesOf = Object.fromEntries(
          range(40).map((i) => [`b${i}`, Workflow.step(`s${i}`, { success: Schema.Number }, () => work(branches, i))])
        )
        const Flow = Workflow.make("pipelined_segments", { input: Numbers }).pipe(
          Workflow.forEach(
            "items",
            (ctx) => ctx.input,
            Workflow.sequence(
              Workflow.step("a", { success: Schema.Number }, (ctx) => work(items, ctx.item + 1)),
              Workflow.step("b", { success: Schema.Number }, (ctx) => work(items, ctx.a * 10))
            ),
            { concurrency: 3 }
          ),
          (Workflow.parallel as any)("fan", branchesOf, { concurrency: 3 })
        )
        const journal = slowJournal(store, { latency: "20 millis" })
        const run = Workflow.run(Flow as Workflow.Workflow<any, any, any, any>, {
          input: range(100),
          runId: "segments"
        })
        const ctx: any = completed(yield* Effect.exit(run.pipe(Effect.provide(journal.layer))))
        assert.deepStrictEqual(ctx.items, range(100).map((n) => ({ a: n + 1, b: (n + 1) * 10 })))
        assert.deepStrictEqual(range(40).map((i) => ctx[`s${i}`]), range(40))
        // An item running step b holds its slot again: never more than 3 steps of items at once.
        assert.strictEqual(items.max, 3)
        assert.strictEqual(branches.max, 3)
        assert.strictEqual(journal.batches.reduce((sum, batch) => sum + batch, 0), 240)
        assert.isAbove(Math.max(...journal.batches), 12, `batches: ${journal.batches.join(" ")}`)
      }))

    it.live("nothing is reported complete before its write commits: not an item, the block, nor the step after it", () =>
      Effect.gen(function*() {
        const gate = yield* Latch.make(false)
        const gauge = makeGauge()
        let bodies = 0
        let after = 0
        const Flow = Workflow.make("pipelined_commit", { input: Numbers }).pipe(
          Workflow.forEach("items", (ctx) => ctx.input, (n) =>
            gauge.hold(Effect.as(Effect.sleep("1 millis"), n)).pipe(
              Effect.tap(() => Effect.sync(() => bodies++))
            ), {
            success: Schema.Number,
            concurrency: 2
          }),
          Workflow.step("after", { success: Schema.Number }, (ctx) => Effect.sync(() => (after++, ctx.items.length)))
        )
        const journal = slowJournal(store, { gate })
        const watch = completionWatch("commit", journal)
        const fiber = yield* Effect.forkChild(
          Workflow.run(Flow, { input: range(40), runId: "commit", observe: watch.observe }).pipe(
            Effect.provide(journal.layer)
          )
        )
        yield* Effect.gen(function*() {
          // Every body runs while the first batch is held (40 is within the in-flight cap) ...
          yield* until(() => bodies === 40, "every body has run")
          yield* Effect.sleep("50 millis")
          // ... and none of them is complete.
          assert.deepStrictEqual(watch.completedPaths, [])
          assert.strictEqual(after, 0)
          assert.isUndefined(fiber.pollUnsafe())
          assert.strictEqual(gauge.max, 2)
        }).pipe(Effect.ensuring(gate.open))
        const ctx = completed(yield* Fiber.await(fiber))
        assert.strictEqual(ctx.after, 40)
        assert.strictEqual(after, 1)
        assert.strictEqual(watch.completedPaths.length, 41)
        assert.deepStrictEqual(watch.early, [], "reported complete before the journal held it")
      }))

    it.live("at most max(128, 8 × concurrency) items are started and not ended while the journal stalls", () =>
      Effect.gen(function*() {
        for (const [concurrency, cap] of [[4, 128], [32, 256]] as const) {
          const gate = yield* Latch.make(false)
          let started = 0
          const Flow = Workflow.make("pipelined_cap", { input: Numbers }).pipe(
            Workflow.forEach("items", (ctx) => ctx.input, (n) => Effect.sync(() => (started++, n)), {
              success: Schema.Number,
              concurrency
            })
          )
          const journal = slowJournal(store, { gate })
          let reported = 0
          const observe = (event: Workflow.StepEvent) =>
            Effect.sync(() => void (event._tag === "Completed" && reported++))
          const fiber = yield* Effect.forkChild(
            Workflow.run(Flow, { input: range(1_000), runId: `cap-${concurrency}`, observe }).pipe(
              Effect.provide(journal.layer)
            )
          )
          yield* Effect.gen(function*() {
            yield* until(() => started >= cap, `${cap} items have started`)
            yield* Effect.sleep("100 millis")
            assert.strictEqual(started, cap, `concurrency ${concurrency}`)
            assert.strictEqual(reported, 0)
          }).pipe(Effect.ensuring(gate.open))
          const ctx = completed(yield* Fiber.await(fiber))
          assert.deepStrictEqual(ctx.items, range(1_000))
          assert.strictEqual(started, 1_000)
          assert.strictEqual(reported, 1_000)
          assert.isAtMost(Math.max(...journal.batches), cap)
        }
      }))

    it.live("a failFast failure while completions are being written: none reported before its commit, and the resume is exact", () =>
      Effect.gen(function*() {
        const runs = new Map<number, Array<number>>()
        let incarnation = 1
        let failing = true
        let bodiesDone = 0
        let pendingAtFailure = -1
        const journal = slowJournal(store, { latency: "15 millis" })
        const watch = completionWatch("fail-fast", journal)
        const Flow = Workflow.make("pipelined_fail_fast", { input: Numbers }).pipe(
          Workflow.forEach("items", (ctx) => ctx.input, (n) =>
            Effect.gen(function*() {
              runs.set(n, [...(runs.get(n) ?? []), incarnation])
              yield* Effect.sleep("2 millis")
              if (failing && n === 30) {
                // Bodies that finished, minus the completions reported: the writes in flight.
                pendingAtFailure = bodiesDone - watch.completedPaths.length
                return yield* new Boom({ at: n })
              }
              bodiesDone++
              return n * 3
            }), { success: Schema.Number, concurrency: 4 })
        )
        yield* Effect.gen(function*() {
          const first = yield* Effect.exit(
            Workflow.run(Flow, { input: range(80), runId: "fail-fast", observe: watch.observe })
          )
          assert.strictEqual((failure(first) as Boom).at, 30)
          assert.isAbove(pendingAtFailure, 0, "no completion was being written when the item failed")
          assert.deepStrictEqual(watch.early, [], "reported complete before the journal held it")
          const journaled = yield* journal.outputs("fail-fast")
          // Whatever was reported complete is journaled; items whose writes were pending when the
          // run failed may be journaled too.
          for (const path of watch.completedPaths) assert.isTrue(journaled.has(path), path)

          failing = false
          incarnation = 2
          const replayed: Array<string> = []
          const resumed = completed(
            yield* Effect.exit(Workflow.run(Flow, {
              input: range(80),
              runId: "fail-fast",
              observe: (event) => Effect.sync(() => void (event._tag === "Replayed" && replayed.push(event.path)))
            }))
          )
          assert.deepStrictEqual(resumed.items, range(80).map((n) => n * 3))
          assert.deepStrictEqual(replayed.sort(), [...journaled].sort(), "exactly the journaled items replay")
          for (const n of range(80)) {
            const ran = runs.get(n) ?? []
            if (journaled.has(`items[${n}]`)) {
              assert.deepStrictEqual(ran, [1], `items[${n}] was journaled, yet ran again`)
            } else {assert.strictEqual(
                ran.filter((i) => i === 2).length,
                1,
                `items[${n}] was not journaled: it runs once more`
              )}
          }
        }).pipe(Effect.provide(journal.layer))
      }))

    it.live("a lost lease still ends the run: items waiting for their commits or for a slot stop, none is reported complete", () =>
      Effect.gen(function*() {
        let started = 0
        const Flow = Workflow.make("pipelined_lease", { input: Numbers }).pipe(
          Workflow.forEach("items", (ctx) => ctx.input, (n) =>
            Effect.as(Effect.sleep("1 millis"), n).pipe(
              Effect.tap(() => Effect.sync(() => started++))
            ), { success: Schema.Number, concurrency: 4 })
        )
        const journal = slowJournal(store, { latency: "20 millis", leaseLostAt: 3 })
        const watch = completionWatch("lease", journal)
        yield* Effect.gen(function*() {
          const exit = yield* Effect.exit(
            Effect.timeout(
              Workflow.run(Flow, { input: range(2_000), runId: "lease", observe: watch.observe }),
              "20 seconds"
            )
          )
          assert.instanceOf(failure(exit), Journal.LeaseLost)
          const ended = started
          yield* Effect.sleep("100 millis")
          assert.strictEqual(started, ended, "items went on after the run ended")
          assert.isBelow(ended, 2_000)
          // The two batches written before the lease was lost, and nothing else, are journaled;
          // exactly their items were reported complete.
          const written = journal.batches.reduce((sum, batch) => sum + batch, 0)
          assert.strictEqual(journal.batches.length, 2)
          assert.strictEqual(watch.completedPaths.length, written)
          assert.deepStrictEqual(watch.early, [])
        }).pipe(Effect.provide(journal.layer))
      }))

    it.live("lastWins: branches whose completions commit in an earlier batch come first in the journaled order", () =>
      Effect.gen(function*() {
        const keys = range(12).map((i) => `k${i}`)
        const branches = Object.fromEntries(keys.map((key, i) => [
          key,
          Workflow.step(
            "winner",
            { success: Schema.String },
            () => Effect.as(Effect.sleep(`${(i * 7) % 5} millis`), key)
          )
        ]))
        const Flow = Workflow.make("pipelined_last_wins", { input: Schema.Number }).pipe(
          (Workflow.parallel as any)("p", branches, { merge: "lastWins", concurrency: 2 })
        ) as Workflow.Workflow<any, any, any, any>
        const journal = slowJournal(store, { latency: "20 millis" })
        yield* Effect.gen(function*() {
          const orders: Array<ReadonlyArray<string>> = []
          const observe = (event: Workflow.StepEvent) =>
            Effect.sync(() => void (event._tag === "LastWinsOrder" && orders.push(event.order)))
          const first: any = completed(yield* Effect.exit(Workflow.run(Flow, { input: 0, runId: "lw", observe })))
          const order = orders[0]!
          assert.deepStrictEqual([...order].sort(), [...keys].sort())
          assert.strictEqual(first.winner, order[order.length - 1])
          // Several completions share a batch, and the order follows the batches.
          const batchOf = (key: string) => journal.batchPaths.findIndex((paths) => paths.includes(`p/${key}/winner`))
          assert.isAbove(Math.max(...journal.batches), 2, `batches: ${journal.batches.join(" ")}`)
          for (let i = 1; i < order.length; i++) {
            assert.isAtMost(batchOf(order[i - 1]!), batchOf(order[i]!), `order ${order.join(" ")}`)
          }
          // A second run replays the journaled order, and so the winner.
          const again: any = completed(yield* Effect.exit(Workflow.run(Flow, { input: 0, runId: "lw" })))
          assert.deepStrictEqual(again, first)
        }).pipe(Effect.provide(journal.layer))
      }))
  })
}
