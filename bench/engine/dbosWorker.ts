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
import "../workloads/dbosWorkflows.ts" // registers the workflow the queue runs
import { countingWindow, runPeerProcess, say, serveCommands } from "./peerProcess.ts"
import { pg } from "./pgDriver.ts"
import { DBOS_APP, DBOS_APP_VERSION, type DbosWorkerArgs } from "./protocol.ts"

const args = JSON.parse(process.argv[2] ?? "") as DbosWorkerArgs
const window = countingWindow(pg)

runPeerProcess(async () => {
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
  await serveCommands(window)
  await DBOS.shutdown({ workflowCompletionTimeoutMS: 10_000 })
})
