/**
 * A DBOS worker process of the engine benchmarks, beside `worker.ts` and driven the same way:
 *
 *   node --conditions=plait-source bench/engine/dbosWorker.ts '<DbosWorkerArgs as JSON>'
 *
 * It launches DBOS Transact on the system database schema `schema` (application `DBOS_APP`, version
 * `DBOS_APP_VERSION`, executor `executorID`), which starts DBOS's queue dispatch loop: every
 * `pollMs` it claims up to `concurrency` workflows of the queue, less the ones it runs, and runs
 * them. Then it prints `ready`. Then, line by line on stdin:
 *
 * - `go`: restarts the counts (the bench's gate is the commit of the enqueues, not this);
 * - `counts`: prints `counts <Counts as JSON>`: the statements and CPU time since `go` or the
 *   last `reset`;
 * - `reset`: restarts the counts, prints `reset`;
 * - `stop` (or the end of stdin): shuts DBOS down and exits.
 *
 * With `setup` (the first process of a trial), it first launches DBOS once (which creates the
 * schema), registers the queue (its row in the schema) and shuts down: then its own launch, and
 * the other processes' after it, dispatch the queue from their start, not from their next
 * reconcile of the queues (every second).
 *
 * Statements are counted by wrapping `query` of `pg`'s `Client`, the driver DBOS runs on (its
 * own dependency, the copy it loads): every statement of every connection of the process,
 * `BEGIN` and `COMMIT` included.
 */
import { DBOS } from "@dbos-inc/dbos-sdk"
import * as Readline from "node:readline"
import "../workloads/dbosWorkflows.ts" // registers the workflow the queue runs
import { countStatements, pg } from "./pgDriver.ts"
import { type Counts, DBOS_APP, DBOS_APP_VERSION, type DbosWorkerArgs } from "./protocol.ts"

const args = JSON.parse(process.argv[2] ?? "") as DbosWorkerArgs
const say = (line: string) => void process.stdout.write(`${line}\n`)

const statements = countStatements(pg)

let countedSince = performance.now()
let cpuSince = process.cpuUsage()
const restartCount = () => {
  statements.reset()
  countedSince = performance.now()
  cpuSince = process.cpuUsage()
}
const counts = (): Counts => {
  const cpu = process.cpuUsage(cpuSince)
  return {
    total: statements.total(),
    byOperation: {},
    elapsedMs: performance.now() - countedSince,
    cpuMs: (cpu.user + cpu.system) / 1000
  }
}

const main = async () => {
  DBOS.setConfig({
    name: DBOS_APP,
    systemDatabaseUrl: args.url,
    systemDatabaseSchemaName: args.schema,
    executorID: args.executorID,
    applicationVersion: DBOS_APP_VERSION,
    logLevel: "error"
  })
  await DBOS.launch()
  if (args.setup) {
    // Registered, the queue is found by the next launch's dispatch loop from its start.
    await DBOS.registerQueue(args.queue, { workerConcurrency: args.concurrency, minPollingIntervalMs: args.pollMs })
    await DBOS.shutdown()
    await DBOS.launch()
  }
  say("ready")
  for await (const line of Readline.createInterface({ input: process.stdin })) {
    const command = line.trim()
    if (command === "go") restartCount()
    else if (command === "counts") say(`counts ${JSON.stringify(counts())}`)
    else if (command === "reset") {
      restartCount()
      say("reset")
    } else if (command === "stop") break
  }
  await DBOS.shutdown({ workflowCompletionTimeoutMS: 10_000 })
  process.exit(0)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
