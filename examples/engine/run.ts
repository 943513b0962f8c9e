/**
 * `npm run example:engine`: the engine example in one command. Starts the worker process, waits
 * until it is ready, runs the client process against the same database, then stops the worker
 * with SIGTERM. Each line is prefixed with the process that printed it.
 *
 * The database is `PLAIT_DATABASE` (a Postgres URL or a SQLite file; default
 * `.plait/engine-example.sqlite`), passed on to both processes.
 */
import * as ChildProcess from "node:child_process"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"

const start = (script: string, label: string, args: ReadonlyArray<string> = []) => {
  const child = ChildProcess.spawn(
    process.execPath,
    ["--conditions=plait-source", fileURLToPath(new URL(script, import.meta.url)), ...args],
    { stdio: ["ignore", "pipe", "inherit"] }
  )
  const lines = Readline.createInterface({ input: child.stdout })
  lines.on("line", (line) => console.log(`[${label}] ${line}`))
  const exited = new Promise<number>((resolve) =>
    child.on("close", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
  )
  return { child, lines, exited }
}

const worker = start("./worker.ts", "worker")
const ready = await Promise.race([
  new Promise<boolean>((resolve) =>
    worker.lines.on("line", (line) => line.startsWith("worker ready") && resolve(true))
  ),
  worker.exited.then(() => false)
])
if (!ready) {
  console.error("the worker did not start")
  process.exit(1)
}

const client = start("./client.ts", "client", process.argv.slice(2))
const clientCode = await client.exited
worker.child.kill("SIGTERM")
// SIGTERM interrupts the worker: 130 is its exit code after a clean shutdown.
const workerCode = await worker.exited
process.exit(clientCode !== 0 ? clientCode : workerCode === 130 || workerCode === 0 ? 0 : workerCode)
