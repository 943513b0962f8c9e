/**
 * plait on durable journals: SQLite (a real file) and Postgres, with batching on and off.
 *
 * Every trial gets an empty journal of its own (a new SQLite file, or new Postgres tables under
 * a fresh `tablePrefix`, dropped when the trial is disposed) and counts the journal's round
 * trips with `SqlJournal.makeRoundTrips()`; the harness reports them (`append RT`, `RT`) next
 * to the times.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type Journal, type RunStore, SqliteJournal, SqlJournal, Workflow } from "plait"
import type { Case, Trial, Workload } from "../harness.ts"
import {
  type AnyWorkflow,
  contextOf,
  forEachWorkflow,
  itemsSum,
  sequentialWorkflow,
  stepNames,
  sumOf
} from "./plait.ts"
import { effectTrial, FOR_EACH_CONCURRENCY } from "./shared.ts"

const range = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => i)
const triangle = (n: number) => (n * (n - 1)) / 2

// A commit that waits for the disk takes 0.3–5 ms (with the machine's load): a few trials each
// keep the bench short. Batching changes nothing in a sequential run, so more trials there make
// the on/off ratio show it rather than noise.
const trials = { full: { warmup: 1, iterations: 7 }, quick: { warmup: 0, iterations: 2 } }
const sequentialTrials = { full: { warmup: 2, iterations: 15 }, quick: { warmup: 0, iterations: 2 } }

export const journalWorkloads = {
  sequential: {
    name: "journal-sequential-200",
    steps: 200,
    expected: triangle(200),
    description: "200 steps one after another, on a durable journal",
    trials: sequentialTrials
  },
  forEach: {
    name: "journal-forEach-1k",
    steps: 1_000,
    expected: triangle(1_000),
    description: `a forEach of 1,000 items, ${FOR_EACH_CONCURRENCY} at a time, on a durable journal`,
    trials
  },
  resume: {
    name: "journal-resume-10k",
    steps: 10_000,
    expected: triangle(10_000),
    description:
      `a second run of a completed forEach of 10,000 items (${FOR_EACH_CONCURRENCY} at a time), on a durable journal`,
    trials
  }
} as const satisfies Record<string, Workload>

/** Where one trial's journal lives. */
export interface Store {
  readonly layer: Layer.Layer<Journal.Journal | RunStore.RunStore, unknown>
  /** Removes what the layer left behind once its runtime is disposed. */
  readonly remove: () => void
}

/** A durable journal: a fresh, empty one per trial. */
export interface Backend {
  /** `SQLite NORMAL`, `SQLite FULL`, `Postgres`. */
  readonly name: string
  readonly fresh: (id: number, roundTrips: SqlJournal.RoundTrips) => Store
}

/** A SQLite file per trial in `directory`, deleted (with its WAL) after the trial. */
export const sqliteBackend = (directory: string, synchronous: "NORMAL" | "FULL"): Backend => ({
  name: `SQLite ${synchronous}`,
  fresh: (id, roundTrips) => {
    const filename = Path.join(directory, `${synchronous.toLowerCase()}-${id}.sqlite`)
    return {
      layer: SqliteJournal.layer({ filename, synchronous, roundTrips }),
      remove: () => {
        for (const suffix of ["", "-wal", "-shm"]) Fs.rmSync(`${filename}${suffix}`, { force: true })
      }
    }
  }
})

export const pgClient = (url: string) => PgClient.layer({ url: Redacted.make(url) })

/**
 * A journal and run store on Postgres tables under `tablePrefix`, created (migrated) when the
 * layer is built and dropped when it is released. The journal is `PgJournal.layer`'s own
 * composition (`SqlJournal.layer` over a `PgClient` pool), so the drop can share the pool.
 */
export const postgresTables = (
  url: string,
  options: { readonly tablePrefix: string; readonly roundTrips?: SqlJournal.RoundTrips | undefined }
): Layer.Layer<Journal.Journal | RunStore.RunStore, unknown> => {
  const dropTables = Layer.effectDiscard(Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      // Every table the migrations made under the prefix, however many they make by now (a
      // fixed list of three left `schedules`, `slots` and `slot_waiters` behind each trial).
      const tables = yield* sql<{ readonly tablename: string }>`SELECT tablename FROM pg_tables
WHERE schemaname = current_schema() AND starts_with(tablename, ${options.tablePrefix})`
      for (const { tablename } of tables) yield* sql`DROP TABLE IF EXISTS ${sql(tablename)} CASCADE`
    }).pipe(Effect.orDie)
  ))
  return Layer.merge(SqlJournal.layer(options), dropTables).pipe(Layer.provide(pgClient(url)))
}

/** Postgres tables under a fresh prefix per trial, dropped when the trial's runtime is disposed. */
export const postgresBackend = (url: string): Backend => ({
  name: "Postgres",
  fresh: (id, roundTrips) => ({
    layer: postgresTables(url, { tablePrefix: `plait_bench${process.pid}_${id}_`, roundTrips }),
    remove: () => {}
  })
})

/** `undefined` when `SELECT 1` answers within 5 seconds, else why not. */
export const postgresUnreachable = (url: string): Promise<string | undefined> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`SELECT 1`
    }).pipe(
      Effect.provide(pgClient(url)),
      Effect.timeout("5 seconds"),
      Effect.match({
        onFailure: (error) => String((error as { message?: unknown }).message ?? error),
        onSuccess: () => undefined
      })
    )
  )

export const BATCHING_OFF = ", batching off"

/** The batching-on system of a batching-off one: the pair whose ratio the table shows. */
export const batchingOffOf = (system: string): string | undefined =>
  system.endsWith(BATCHING_OFF) ? undefined : `${system}${BATCHING_OFF}`

let trials_ = 0

/**
 * One trial on a fresh journal: `setup` (untimed; the completed run a resume needs), then the
 * round-trip counter is reset, so `counts` are the timed run's alone. `services` (an engine, a
 * worker) are built over the journal, untimed, and count into the same counter; `outcome`
 * (untimed) reads the result when the timed part does not return it.
 */
export const journalTrial = async <R = never>(
  backend: Backend,
  setup: (runId: string) => Effect.Effect<unknown, unknown, Journal.Journal | RunStore.RunStore | R>,
  timed: (runId: string) => Effect.Effect<unknown, unknown, Journal.Journal | RunStore.RunStore | R>,
  options: {
    readonly services?: Layer.Layer<R, unknown, Journal.Journal | RunStore.RunStore> | undefined
    readonly outcome?:
      | ((runId: string) => Effect.Effect<unknown, unknown, Journal.Journal | RunStore.RunStore | R>)
      | undefined
  } = {}
): Promise<Trial> => {
  const { outcome, services } = options
  const id = trials_++
  const runId = `run-${id}`
  const roundTrips = SqlJournal.makeRoundTrips()
  const store = backend.fresh(id, roundTrips)
  const layer = services === undefined
    ? store.layer as Layer.Layer<Journal.Journal | RunStore.RunStore | R, unknown>
    : Layer.provideMerge(services, store.layer)
  const trial = await effectTrial(
    layer,
    Effect.andThen(setup(runId), Effect.sync(() => roundTrips.reset())),
    () => timed(runId),
    outcome === undefined ? undefined : () => outcome(runId)
  )
  return {
    run: trial.run,
    outcome: trial.outcome,
    counts: () => ({ "append RT": roundTrips.of("append"), RT: roundTrips.total }),
    dispose: async () => {
      await trial.dispose()
      store.remove()
    }
  }
}

export const journalCases = (backend: Backend, options: { readonly resume: boolean }): ReadonlyArray<Case> => {
  const sequential = sequentialWorkflow("journal-sequential", journalWorkloads.sequential.steps)
  const forEach = forEachWorkflow("journal-forEach", range(journalWorkloads.forEach.steps))
  const resumable = forEachWorkflow("journal-resume", range(journalWorkloads.resume.steps))
  const run = (workflow: AnyWorkflow, batching: boolean) => (runId: string) =>
    Workflow.run(workflow, { input: 0, runId, batching })
  const fresh = (workflow: AnyWorkflow, batching: boolean) => () =>
    journalTrial(backend, () => Effect.void, run(workflow, batching))
  const cases = [true, false].flatMap((batching): ReadonlyArray<Case> => {
    const system = batching ? backend.name : `${backend.name}${BATCHING_OFF}`
    return [
      {
        system,
        workload: journalWorkloads.sequential.name,
        prepare: fresh(sequential, batching),
        checksum: sumOf(stepNames("s", journalWorkloads.sequential.steps))
      },
      {
        system,
        workload: journalWorkloads.forEach.name,
        prepare: fresh(forEach, batching),
        checksum: itemsSum
      }
    ]
  })
  if (!options.resume) return cases
  return [
    ...cases,
    {
      system: backend.name,
      workload: journalWorkloads.resume.name,
      // The first run completes all 10,000 items, untimed; the timed run is the same run id again.
      prepare: () =>
        journalTrial(
          backend,
          (runId) => Effect.map(run(resumable, true)(runId), contextOf),
          run(resumable, true)
        ),
      checksum: itemsSum
    }
  ]
}
