/**
 * The test side of a process test: a temporary directory for logs and release files, a backend
 * (an SQLite file in it, or Postgres tables of their own, dropped afterwards) with the test's
 * own engine, journal and run store over it, and the worker and signal-sending processes over
 * the same backend.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Engine, Journal, RunStore, SqlJournal } from "plait"
import { pgUrl, uniquePrefix, withDroppedTables } from "../../postgres.ts"
import { type Backend, forProcess, journalLayer } from "./backend.ts"
import { isReady, spawnChild } from "./processes.ts"
import type { SignallerArgs } from "./signaller.ts"
import type { WorkerArgs } from "./worker.ts"

export type BackendKind = "pg" | "sqlite"

/** Postgres when `PLAIT_PG_URL` is set (`support/postgres.ts` skips the tests otherwise). */
export const backendKinds: ReadonlyArray<{ readonly kind: BackendKind; readonly skip: boolean }> = [
  { kind: "pg", skip: pgUrl === undefined },
  { kind: "sqlite", skip: false }
]

export interface Setup {
  readonly dir: string
  readonly backend: Backend
  readonly engine: Engine.Engine["Service"]
  readonly journal: Journal.Journal["Service"]
  readonly store: RunStore.RunStore["Service"]
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-engine-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const testLayer = (backend: Backend) => {
  if (backend._tag === "sqlite") return journalLayer(backend)
  return SqlJournal.layer({ tablePrefix: backend.tablePrefix }).pipe(
    Layer.provideMerge(withDroppedTables([backend.tablePrefix])),
    Layer.provide(PgClient.layer({ url: Redacted.make(backend.url), applicationName: "plait-engine-test" }))
  )
}

export const setup = (kind: BackendKind): Effect.Effect<Setup, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const backend: Backend = kind === "sqlite"
      ? { _tag: "sqlite", filename: Path.join(dir, "journal.sqlite") }
      : { _tag: "pg", url: pgUrl!, tablePrefix: uniquePrefix(), applicationName: "plait-engine-test" }
    const context = yield* Layer.build(Layer.provideMerge(Engine.layer, testLayer(backend)))
    return {
      dir,
      backend,
      engine: Context.get(context, Engine.Engine),
      journal: Context.get(context, Journal.Journal),
      store: Context.get(context, RunStore.RunStore)
    }
  })

/** Where the runs that are not completed stand, for a failure message. */
const unfinished = ({ engine }: Setup) =>
  Effect.gen(function*() {
    const counts = yield* engine.counts()
    const lines = [`runs by status: ${JSON.stringify(counts)}`]
    for (const status of ["failed", "waiting", "sleeping", "queued", "running"] as const) {
      const page = yield* engine.list({ status, limit: 5 })
      for (const run of page.runs) {
        lines.push(
          `${run.runId} ${run.status} owner=${run.owner} due=${run.dueAt} waitingFor=${run.waitingFor} ` +
            `wakeups=${run.wakeups} executions=${run.executions} error=${run.error}`
        )
      }
    }
    return lines.join("\n")
  })

/**
 * Waits until `count` runs are completed. Fails at once, naming them, when a run failed, and
 * after `boundMs` (far beyond what the runs need) with where the others stand: stuck runs.
 */
export const untilAllCompleted = (env: Setup, count: number, boundMs: number): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    const deadline = Date.now() + boundMs
    while (true) {
      const counts = yield* env.engine.counts()
      if (counts.completed === count) return
      if (counts.failed > 0 || Date.now() > deadline) {
        const why = counts.failed > 0 ? "runs failed" : `not every run completed within ${boundMs} ms`
        return yield* Effect.fail(new Error(`${why}\n${yield* unfinished(env)}`))
      }
      yield* Effect.sleep(250)
    }
  })

/** How a test's worker runs, where it differs from the defaults of `spawnWorker`. */
export type WorkerOptions = Partial<Omit<WorkerArgs, "backend" | "label" | "log" | "holdDir">>

/**
 * Starts a worker process over the test's backend, logging to `<dir>/<label>.log`. By default
 * it executes every workflow of `flows.ts` but the versioned ones, 16 runs at once, with 1.5 s
 * leases, and its steps wait (rather than freeze) in a hold.
 */
export const spawnWorker = (env: Setup, label: string, options: WorkerOptions = {}) => {
  const args: WorkerArgs = {
    backend: forProcess(env.backend, label),
    label,
    log: Path.join(env.dir, `${label}.log`),
    holdDir: env.dir,
    hold: "wait",
    workflows: "current",
    leaseMs: 1_500,
    concurrency: 16,
    pollMs: 50,
    maxPollMs: 500,
    ...options
  }
  return spawnChild("worker", label, args)
}

/**
 * Starts the signal-sending process over the test's backend and waits until it takes orders.
 * With `releasing`, it lets each run held in the test's directory go on as it sends its signal.
 */
export const spawnSignaller = (env: Setup, releasing = false) =>
  Effect.gen(function*() {
    const args: SignallerArgs = {
      backend: forProcess(env.backend, "signaller"),
      label: "signaller",
      releaseDir: releasing ? env.dir : undefined
    }
    const signaller = yield* spawnChild("signaller", "signaller", args)
    yield* signaller.waitFor("Ready", isReady)
    return signaller
  })
