/**
 * The guarantees of sagas, child workflows, global limits, idempotency keys and schedules that
 * span processes, tested with real processes killed for real (SIGKILL), as `crash.test.ts` does:
 *
 * - a run killed while it compensates resumes its compensations: each is journaled once, none is
 *   skipped, they run in reverse completion order, and the failed step is never driven again;
 * - a parent killed while its children run (in its own process under `Workflow.run`, or with
 *   every worker under workers) resumes them: each child is one run, no step a child journaled
 *   runs again, and the parent completes with their contexts;
 * - four worker processes on Postgres, some killed and replaced, never run more than `max`
 *   limited steps at once, as the steps themselves recorded it in the database, and all runs finish;
 * - a step's idempotency key is the same across a retry and across a crash;
 * - a schedule served by three workers, one of them killed, starts exactly one run per tick.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { randomBytes } from "node:crypto"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Engine, type Journal } from "plait"
import { type ChildRun, runScript } from "../support/processes/crash/harness.ts"
import type { KillPoint } from "../support/processes/crash/kill-point.ts"
import { pgStore, sqliteStore, type Store, tempDir } from "../support/processes/crash/stores.ts"
import { pgUrl } from "../support/postgres.ts"
import { eventually, readEffects, startProcess } from "../support/processes/sagas/processes.ts"
import type { RunArgs } from "../support/processes/sagas/run.ts"
import type { WorkerArgs } from "../support/processes/sagas/worker.ts"
import { Limited, regions, Rollout, rolloutContext, Ticker, tripSteps } from "../support/processes/sagas/workflows.ts"

const script = (name: string) => fileURLToPath(new URL(`../support/processes/sagas/${name}.ts`, import.meta.url))
const runTs = script("run")
const workerTs = script("worker")

const tag = () => randomBytes(4).toString("hex")

/** Runs `workflow` under `runId`, killed at each point of `plan` in turn, until a start of it ends. */
const killAndRestart = (
  store: Store,
  args: Omit<RunArgs, "journal" | "incarnation">,
  plan: ReadonlyArray<KillPoint>
) =>
  Effect.gen(function*() {
    const kills: Array<ChildRun> = []
    for (let incarnation = 1;; incarnation++) {
      const journal = store.journalFor(`${args.runId}-${incarnation}`)
      const run = yield* runScript(runTs, { ...args, journal, incarnation }, plan[incarnation - 1])
      if (run.killedAfter === undefined) return { final: run, kills }
      assert.isAtMost(incarnation, plan.length, "a start without a kill point ends")
      yield* store.settle(journal)
      kills.push(run)
    }
  })

const journaledKinds = (loaded: Journal.LoadedRun, kind: Journal.EntryKind) =>
  loaded.entries.filter((entry) => entry.kind === kind)

const compensationSuite = (
  name: string,
  makeStore: (dir: string) => Effect.Effect<Store, unknown, any>,
  skip = false
) =>
  describe.skipIf(skip)(`${name}: a run killed while it compensates`, () => {
    it.live(
      "resumes its compensations: each once, none skipped, in reverse completion order; the failed step is not driven again",
      () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const store = yield* makeStore(dir)
          const runId = `trip-${tag()}`
          const log = Path.join(dir, `${runId}.log`)
          // 1: right after the first compensation was journaled; 2: right after the next one's side
          // effect, before its journal write; 3: once that one ran again and one more was journaled.
          const plan: ReadonlyArray<KillPoint> = [
            { event: "Completed", prefix: "", nth: tripSteps.length + 1, freeze: true },
            { event: "SideEffect", prefix: "", nth: 1, freeze: true },
            { event: "Completed", prefix: "", nth: 2, freeze: true }
          ]
          const journaledAtKill: Array<ReadonlySet<string>> = []
          const kills: Array<ChildRun> = []
          let final: ChildRun | undefined
          for (let incarnation = 1; final === undefined; incarnation++) {
            assert.isAtMost(incarnation, plan.length + 1)
            const journal = store.journalFor(`${runId}-${incarnation}`)
            const run = yield* runScript(
              runTs,
              { journal, workflow: "Trip", input: "Lisbon", runId, log, incarnation },
              plan[incarnation - 1]
            )
            if (run.killedAfter === undefined) {
              final = run
              break
            }
            yield* store.settle(journal)
            kills.push(run)
            const loaded = yield* store.load(runId)
            journaledAtKill.push(new Set(journaledKinds(loaded, "compensated").map((entry) => entry.path)))
          }
          assert.lengthOf(kills, plan.length)
          assert.deepStrictEqual(final.context, { failed: "visa refused" }, "the run ends with its own failure")

          const loaded = yield* store.load(runId)
          assert.strictEqual(loaded.run.status, "failed")
          const order = journaledKinds(loaded, "compensable").sort((a, b) => Number(a.value) - Number(b.value)).map((
            entry
          ) => entry.path)
          assert.deepStrictEqual([...order].sort(), [...tripSteps].sort())
          const undoPaths = [...order].reverse().map((path) => `${path}/compensate`)
          assert.deepStrictEqual(
            journaledKinds(loaded, "compensated").map((entry) => entry.path).sort(),
            [...undoPaths].sort()
          )

          const effects = readEffects(log)
          const undone = effects.filter(({ effect }) => effect.path.endsWith("/compensate"))
          // Reverse completion order: the first time each compensation ran.
          assert.deepStrictEqual([...new Set(undone.map(({ effect }) => effect.path))], undoPaths)
          // Nothing journaled before a kill ran again after it; nothing ran twice but the one killed
          // between its side effect and its journal write, which ran again in the next start.
          journaledAtKill.forEach((journaled, i) => {
            for (const { effect, who } of undone) {
              if (Number(who) > i + 1) {
                assert.isFalse(journaled.has(effect.path), `${effect.path} ran again in start ${who}`)
              }
            }
          })
          const interrupted = kills[1]!.killedAfter!.slice("SideEffect ".length)
          for (const path of undoPaths) {
            const runs = undone.filter(({ effect }) => effect.path === path).map(({ who }) => Number(who))
            assert.deepStrictEqual(
              runs,
              path === interrupted ? [2, 3] : [runs[0]!],
              `${path} ran in starts ${runs.join(", ")}`
            )
          }
          // The failed step ran its budget (two attempts) in the first start only: resumed
          // compensations never drove it again with a fresh budget.
          const forward = effects.filter(({ effect }) => !effect.path.endsWith("/compensate"))
          assert.deepStrictEqual(
            forward.filter(({ effect }) => effect.path === "visa").map(({ who, effect }) => [who, effect.attempt]),
            [
              ["1", 1],
              ["1", 2]
            ]
          )
          for (const { who } of forward) assert.strictEqual(who, "1")
        }).pipe(Effect.scoped),
      120_000
    )
  })

compensationSuite("SQLite", (dir) => Effect.succeed(sqliteStore(dir)))
compensationSuite("Postgres", () => pgStore(pgUrl!), pgUrl === undefined)

/** The steps each run had journaled when a process was killed, by run id. */
const journaledSteps = (store: Store, runIds: ReadonlyArray<string>) =>
  Effect.map(
    Effect.forEach(runIds, (runId) => Effect.option(store.load(runId))),
    (loaded) => {
      const steps = new Set<string>()
      for (const run of loaded) {
        if (Option.isNone(run)) continue
        for (const entry of journaledKinds(run.value, "step")) steps.add(`${run.value.run.runId} ${entry.path}`)
      }
      return steps
    }
  )

const childIds = (runId: string) => regions.map((region) => `${runId}/regions[${region}]/provisioned`)

/** Each child is one run of the parent; the side effects no journaled step repeated after a kill. */
const checkChildren = (
  store: Store,
  runId: string,
  effects: ReadonlyArray<{ readonly who: string; readonly effect: { readonly runId: string; readonly path: string } }>,
  killed: ReadonlyArray<{ readonly after: ReadonlyArray<string>; readonly journaled: ReadonlySet<string> }>
) =>
  Effect.gen(function*() {
    for (const childId of childIds(runId)) {
      const child = yield* store.load(childId)
      assert.strictEqual(child.run.parentRunId, runId)
      assert.strictEqual(child.run.status, "completed")
    }
    for (const { after, journaled } of killed) {
      for (const { effect, who } of effects) {
        if (!after.includes(who)) continue
        assert.isFalse(
          journaled.has(`${effect.runId} ${effect.path}`),
          `${effect.runId} ${effect.path} was journaled, yet ${who} ran it again`
        )
      }
    }
  })

const childrenInlineSuite = (
  name: string,
  makeStore: (dir: string) => Effect.Effect<Store, unknown, any>,
  skip = false
) =>
  describe.skipIf(skip)(`${name}: a parent killed while its children run in its process`, () => {
    it.live(
      "resumes them: each child is one run, nothing journaled runs again, the parent completes with their contexts",
      () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const store = yield* makeStore(dir)
          const runId = `rollout-${tag()}`
          const log = Path.join(dir, `${runId}.log`)
          const plan: ReadonlyArray<KillPoint> = [
            { event: "Completed", prefix: "", nth: 2, freeze: true },
            { event: "SideEffect", prefix: "", nth: 1, freeze: true }
          ]
          const everyRun = [runId, ...childIds(runId)]
          const killed: Array<{ after: Array<string>; journaled: ReadonlySet<string> }> = []
          let final: ChildRun | undefined
          for (let incarnation = 1; final === undefined; incarnation++) {
            assert.isAtMost(incarnation, plan.length + 1)
            const journal = store.journalFor(`${runId}-${incarnation}`)
            const run = yield* runScript(runTs, {
              journal,
              workflow: "Rollout",
              input: regions,
              runId,
              log,
              incarnation
            }, plan[incarnation - 1])
            if (run.killedAfter === undefined) final = run
            else {
              yield* store.settle(journal)
              const journaled = yield* journaledSteps(store, everyRun)
              killed.push({ after: [], journaled })
            }
            for (const [i, kill] of killed.entries()) if (i < incarnation - 1) kill.after.push(String(incarnation))
          }
          assert.deepStrictEqual(final.context, rolloutContext)
          assert.lengthOf(killed, plan.length)
          yield* checkChildren(store, runId, readEffects(log), killed)
        }).pipe(Effect.scoped),
      120_000
    )
  })

childrenInlineSuite("SQLite", (dir) => Effect.succeed(sqliteStore(dir)))

describe.skipIf(pgUrl === undefined)("Postgres: worker processes", () => {
  /** A store of its own, the engine over it, and worker processes to start. */
  const setup = Effect.gen(function*() {
    const dir = yield* tempDir
    const store = yield* pgStore(pgUrl!)
    const engine = yield* Effect.provide(Engine.make, store.context)
    const log = Path.join(dir, "effects.log")
    const worker = (label: string, workflows: WorkerArgs["workflows"], extra: Partial<WorkerArgs> = {}) =>
      startProcess(
        workerTs,
        {
          url: pgUrl!,
          tablePrefix: store.tablePrefix,
          label,
          log,
          workflows,
          leaseMs: 2_000,
          concurrency: 4,
          ...extra
        } satisfies WorkerArgs,
        label
      )
    const kill = (running: { readonly label: string; readonly kill: Effect.Effect<void> }) =>
      Effect.andThen(running.kill, store.sessionsEnded(`plait-worker-${running.label}`))
    return { dir, engine, kill, log, store, worker }
  })

  it.live(
    "children: every worker killed while children run; new workers finish them and the parent completes with their contexts",
    () =>
      Effect.gen(function*() {
        const { engine, kill, log, store, worker } = yield* setup
        const runId = `rollout-${tag()}`
        const first = yield* Effect.all([worker("a1", ["Rollout"]), worker("a2", ["Rollout"])], {
          concurrency: "unbounded"
        })
        yield* engine.start(Rollout, { input: regions, runId })
        // Killed once every child has done its first step's side effect, while they run.
        yield* eventually(
          "every child ran its first step",
          Effect.sync(() =>
            childIds(runId).every((childId) => readEffects(log).some(({ effect }) => effect.runId === childId))
          ),
          30_000
        )
        yield* Effect.forEach(first, kill)
        const journaled = yield* journaledSteps(store, [runId, ...childIds(runId)])
        assert.isBelow(journaled.size, regions.length * 2 + 1, "the kill came before the rollout finished")
        yield* Effect.all([worker("b1", ["Rollout"]), worker("b2", ["Rollout"])], { concurrency: "unbounded" })
        const outcome = yield* engine.await(Rollout, runId).pipe(Effect.timeout("60 seconds"))
        assert.strictEqual(outcome._tag, "Completed")
        assert.deepStrictEqual((outcome as { readonly context: unknown }).context, rolloutContext)
        const children = (yield* engine.list({ workflow: "provision", limit: 100 })).runs.filter((run) =>
          run.parentRunId === runId
        )
        assert.deepStrictEqual(children.map((run) => run.runId).sort(), childIds(runId).sort(), "one run per child")
        yield* checkChildren(store, runId, readEffects(log), [{ after: ["b1", "b2"], journaled }])
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "limits: four workers, two of them killed and replaced, never run more than max limited steps at once; all runs finish",
    () =>
      Effect.gen(function*() {
        const { engine, kill, store, worker } = yield* setup
        const sql = store.sql
        const probeTable = `${store.tablePrefix}probe`
        yield* sql`CREATE TABLE ${sql(probeTable)} (
        id serial PRIMARY KEY, run_id text NOT NULL, pid integer NOT NULL,
        started_at timestamptz NOT NULL, finished_at timestamptz)`
        yield* Effect.addFinalizer(() => Effect.orDie(sql`DROP TABLE IF EXISTS ${sql(probeTable)}`))
        const started = () =>
          Effect.map(sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(probeTable)}`, (rows) => rows[0]!.n)
        const kills = new Map<number, Date>()
        const killRecorded = (
          running: { readonly label: string; readonly pid: number; readonly kill: Effect.Effect<void> }
        ) =>
          Effect.gen(function*() {
            yield* kill(running)
            kills.set(running.pid, (yield* sql<{ now: Date }>`SELECT clock_timestamp() AS now`)[0]!.now)
          })

        // Leases long enough that a loaded machine does not let a live worker's expire: a holder
        // whose lease expired counts as gone, and its step would overlap its successor's.
        const options = { probeTable, leaseMs: 5_000 }
        const workers = yield* Effect.forEach(
          ["w1", "w2", "w3", "w4"],
          (label) => worker(label, ["Limited"], options),
          {
            concurrency: "unbounded"
          }
        )
        // Kills the worker whose limited step started last, while that step runs.
        const killOneRunning = Effect.gen(function*() {
          const [latest] = yield* sql<{ pid: number }>`SELECT pid FROM ${sql(probeTable)}
          WHERE finished_at IS NULL AND pid <> ALL(${[0, ...kills.keys()]}) ORDER BY started_at DESC LIMIT 1`
          const victim = workers.find((running) => running.pid === latest?.pid)
          if (victim !== undefined) yield* killRecorded(victim)
          return victim !== undefined
        })
        const runs = Array.from({ length: 16 }, (_, i) => `limited-${tag()}-${i}`)
        yield* Effect.forEach(runs, (runId, i) => engine.start(Limited, { input: i, runId }))
        for (const [after, label] of [[3, "w5"], [9, "w6"]] as const) {
          yield* eventually(`${after} limited steps started and one running`, Effect.map(started(), (n) => n >= after))
          yield* eventually("a worker killed while its limited step ran", killOneRunning, 30_000)
          workers.push(yield* worker(label, ["Limited"], options))
        }
        yield* Effect.forEach(runs, (runId) => engine.await(Limited, runId).pipe(Effect.timeout("90 seconds")))

        const rows = yield* sql<{ pid: number; started_at: Date; finished_at: Date | null }>`
        SELECT pid, started_at, finished_at FROM ${sql(probeTable)}`
        const intervals = rows.map((row) => {
          // A step killed mid-way stopped running at the latest when its process was gone.
          const end = row.finished_at ?? kills.get(row.pid)
          assert.isDefined(end, `a step of live process ${row.pid} never finished`)
          return [row.started_at.getTime(), end!.getTime()] as const
        })
        const events = intervals.flatMap(([start, end]) => [[start, 1], [end, -1]] as const)
          .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        let running = 0
        let most = 0
        for (const [, delta] of events) most = Math.max(most, running += delta)
        assert.isAtMost(most, 3, "more limited steps ran at once than the limit allows")
        assert.isAtLeast(most, 2, "the steps did run concurrently")
        assert.isAtLeast(rows.length, 16)
        assert.strictEqual(kills.size, 2)
      }).pipe(Effect.scoped),
    180_000
  )

  it.live("schedules: three workers, one killed, start exactly one run per tick", () =>
    Effect.gen(function*() {
      const { engine, kill, log, worker } = yield* setup
      const id = `ticker-${tag()}`
      yield* engine.schedule(Ticker, { id, cron: "* * * * * *", input: "every second" })
      const workers = yield* Effect.forEach(["s1", "s2", "s3"], (label) => worker(label, ["Ticker"]), {
        concurrency: "unbounded"
      })
      const ticks = Effect.map(engine.list({ workflow: "ticker", limit: 1000 }), (page) =>
        page.runs.filter((run) => run.runId.startsWith(`${id}@`)))
      yield* eventually(
        "three ticks",
        Effect.map(ticks, (runs) =>
          runs.length >= 3),
        30_000
      )
      yield* kill(workers[0]!)
      yield* eventually("four more ticks", Effect.map(ticks, (runs) => runs.length >= 7), 30_000)
      yield* engine.unschedule(id)
      const fired = yield* ticks
      yield* Effect.forEach(fired, (run) => engine.await(Ticker, run.runId).pipe(Effect.timeout("60 seconds")))

      const times = fired.map((run) => Date.parse(run.runId.slice(id.length + 1))).sort((a, b) => a - b)
      for (let i = 1; i < times.length; i++) {
        assert.strictEqual(
          times[i]! - times[i - 1]!,
          1_000,
          `the ticks ${new Date(times[i - 1]!).toISOString()} and ${
            new Date(times[i]!).toISOString()
          } are not consecutive`
        )
      }
      const executed = readEffects(log).filter(({ effect }) => effect.runId.startsWith(`${id}@`))
      assert.deepStrictEqual(
        new Set(executed.map(({ effect }) => effect.runId)).size,
        fired.length,
        "every tick's run ran"
      )
      const [schedule] = (yield* engine.schedules()).filter((s) => s.id === id)
      assert.isUndefined(schedule)
    }).pipe(Effect.scoped), 120_000)
})

describe("SQLite: an idempotency key", () => {
  it.live("is the same across a retry and across a crash", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const store = sqliteStore(dir)
      const runId = `keyed-${tag()}`
      const log = Path.join(dir, `${runId}.log`)
      // Killed right after the second attempt's side effect, before it is journaled.
      const { final } = yield* killAndRestart(store, { workflow: "Keyed", input: 12, runId, log }, [
        { event: "SideEffect", prefix: "charged", nth: 2, freeze: true }
      ])
      const charged = readEffects(log).filter(({ effect }) => effect.path === "charged")
      assert.deepStrictEqual(charged.map(({ effect, who }) => [who, effect.attempt]), [["1", 1], ["1", 2], ["2", 2]])
      const keys = new Set(charged.map(({ effect }) => effect.key))
      assert.strictEqual(keys.size, 1)
      const [key] = keys
      assert.strictEqual((final.context as { readonly charged: string }).charged, `charge for ${key}`)
      const receipt = readEffects(log).find(({ effect }) => effect.path === "receipt")!
      assert.notStrictEqual(receipt.effect.key, key, "another step has another key")
    }).pipe(Effect.scoped), 60_000)
})
