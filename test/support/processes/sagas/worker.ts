/**
 * A worker process on Postgres, for the process tests: `node --conditions=plait-source
 * test/support/processes/sagas/worker.ts '<WorkerArgs as JSON>'`. Prints `Ready` once it works, then `SideEffect
 * <runId> <path>` for each side effect, which it appends to the log first as `<label> <JSON>`
 * (synced). It runs until it is killed.
 *
 * Limited steps record in the database when they start and finish running (`Probe`), with this
 * process's pid, so the test can count how many ran at once, from what the steps themselves saw.
 */
import { NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { SqlJournal, Worker } from "plait"
import { syncedLog } from "../crash/child-journal.ts"
import { Effects, Limited, Probe, Rollout, Ticker, Trip } from "./workflows.ts"

const all = { Trip, Rollout, Limited, Ticker } as const

export interface WorkerArgs {
  readonly url: string
  readonly tablePrefix: string
  readonly label: string
  readonly log: string
  readonly workflows: ReadonlyArray<keyof typeof all>
  readonly probeTable?: string | undefined
  readonly leaseMs: number
  readonly concurrency: number
}

const args = JSON.parse(process.argv[2] ?? "") as WorkerArgs
const log = syncedLog(args.log)
const say = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))

const EffectsLive = Layer.succeed(Effects, {
  record: (effect) =>
    Effect.andThen(log(`${args.label} ${JSON.stringify(effect)}`), say(`SideEffect ${effect.runId} ${effect.path}`))
})

const ProbeLive = Layer.effect(
  Probe,
  Effect.map(SqlClient.SqlClient, (sql) =>
    Probe.of({
      hold: (runId, ms) =>
        Effect.gen(function*() {
          const table = sql(args.probeTable ?? "probe")
          const [row] = yield* sql<{ id: number }>`INSERT INTO ${table} (run_id, pid, started_at)
            VALUES (${runId}, ${process.pid}, clock_timestamp()) RETURNING id`
          // Interrupted (its lease lost, say), the step stops running then: recorded too.
          yield* Effect.sleep(ms).pipe(
            Effect.ensuring(
              Effect.ignore(sql`UPDATE ${table} SET finished_at = clock_timestamp() WHERE id = ${row!.id}`)
            )
          )
        }).pipe(Effect.orDie)
    }))
)

const Store = SqlJournal.layer({ tablePrefix: args.tablePrefix }).pipe(
  Layer.provideMerge(PgClient.layer({ url: Redacted.make(args.url), applicationName: `plait-worker-${args.label}` }))
)

const WorkerLive = Worker.layer({
  workflows: args.workflows.map((name) => all[name]),
  concurrency: args.concurrency,
  leaseDuration: args.leaseMs,
  pollInterval: "100 millis",
  maxPollInterval: "1 second",
  workerId: args.label
})

const program = Effect.scoped(Effect.gen(function*() {
  yield* Layer.build(WorkerLive)
  yield* say("Ready")
  return yield* Effect.never
})).pipe(Effect.provide(Layer.mergeAll(EffectsLive, ProbeLive).pipe(Layer.provideMerge(Store))))

NodeRuntime.runMain(program)
