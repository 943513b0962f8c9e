/**
 * A worker process of the engine benchmarks, driven by the bench over stdin and stdout:
 *
 *   node --conditions=plait-source bench/engine/worker.ts '<WorkerArgs as JSON>'
 *
 * It builds its Postgres journal (counting its statements with `SqlJournal.makeRoundTrips()`),
 * subscribes to the journal's notifications (so `LISTEN` is up, when it listens) and prints
 * `ready`. Then, line by line on stdin:
 *
 * - `go`: starts `Worker.make` over the bench workflows and restarts the statement count;
 * - `counts`: prints `counts <Counts as JSON>`: the statements and CPU time since `go` or the
 *   last `reset`;
 * - `reset`: restarts the count, prints `reset`;
 * - `stop` (or the end of stdin): closes the worker, which releases its runs, and exits.
 *
 * While it runs, it prints `woke <runId> <ns>` when the step after the wake workflow's signal
 * starts, `<ns>` being `process.hrtime.bigint()`: the monotonic clock, which on Linux is one
 * clock for every process of the machine, so the bench compares it with its own readings.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Queue, Redacted } from "effect"
import * as Readline from "node:readline"
import { RunStore, SqlJournal, Worker } from "plait"
import * as PgJournal from "plait/PgJournal"
import { type Counts, operations, type WorkerArgs } from "./protocol.ts"
import { benchWorkflows, WAKE_STEP } from "./workflows.ts"

const args = JSON.parse(process.argv[2] ?? "") as WorkerArgs
const say = (line: string) => void process.stdout.write(`${line}\n`)

const roundTrips = SqlJournal.makeRoundTrips()
let countedSince = performance.now()
let cpuSince = process.cpuUsage()
const restartCount = () => {
  roundTrips.reset()
  countedSince = performance.now()
  cpuSince = process.cpuUsage()
}
const counts = (): Counts => {
  const cpu = process.cpuUsage(cpuSince)
  return {
    total: roundTrips.total,
    byOperation: Object.fromEntries(operations.map((operation) => [operation, roundTrips.of(operation)])),
    elapsedMs: performance.now() - countedSince,
    cpuMs: (cpu.user + cpu.system) / 1000
  }
}

const worker = Worker.make({
  workflows: benchWorkflows,
  concurrency: args.concurrency,
  pollInterval: args.pollInterval,
  maxPollInterval: args.maxPollInterval,
  observe: (event) =>
    event._tag === "Started" && event.path === WAKE_STEP
      ? Effect.sync(() => say(`woke ${event.runId} ${process.hrtime.bigint()}`))
      : Effect.void
})

const main = Effect.gen(function*() {
  const lines = yield* Queue.unbounded<string>()
  Readline.createInterface({ input: process.stdin })
    .on("line", (line) => void Queue.offerUnsafe(lines, line.trim()))
    .on("close", () => void Queue.offerUnsafe(lines, "stop"))
  const store = yield* RunStore.RunStore
  yield* store.subscribe
  say("ready")
  while (true) {
    const command = yield* Queue.take(lines)
    switch (command) {
      case "go":
        restartCount()
        yield* worker
        break
      case "counts":
        say(`counts ${JSON.stringify(counts())}`)
        break
      case "reset":
        restartCount()
        say("reset")
        break
      case "stop":
        return
    }
  }
})

const JournalLive = PgJournal.layer({
  url: Redacted.make(args.url),
  tablePrefix: args.tablePrefix,
  listen: args.listen,
  migrate: false,
  roundTrips,
  // DBOS's default pool, which the throughput rows compare with; the recorded figures used it.
  maxConnections: 10
})

Effect.scoped(main).pipe(Effect.provide(Layer.orDie(JournalLive)), NodeRuntime.runMain)
