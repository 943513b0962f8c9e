/**
 * What a process stopped inside a write transaction does to the other users of an SQLite
 * journal, for `docs/operations.md`: a child process takes the file's write lock
 * (`BEGIN IMMEDIATE` and an update) and is stopped with `SIGSTOP`; this process, whose journal
 * was built before, then times a read, `engine.start`, `Workflow.run` and a worker completing a
 * queued run (10 s at most); then the stopped process is killed and the same are timed again.
 *
 *   node --conditions=plait-source bench/sqlite-stop.ts
 */
import { Cause, Effect, Exit, Layer, ManagedRuntime, Option, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Engine, SqliteJournal, Worker, Workflow } from "plait"
import { OneStep } from "./engine/workflows.ts"

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-stop-"))
const filename = Path.join(dir, "journal.sqlite")
const runtime = ManagedRuntime.make(Layer.provideMerge(Engine.layer, SqliteJournal.layer({ filename })))
type Services = ManagedRuntime.ManagedRuntime.Services<typeof runtime>

const timed = async (what: string, effect: Effect.Effect<unknown, unknown, Services | Scope.Scope>) => {
  const start = performance.now()
  const exit = await runtime.runPromiseExit(Effect.scoped(effect))
  const ms = (performance.now() - start).toFixed(0)
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
  const outcome = Exit.isSuccess(exit) ? "ok" : Option.isSome(error) ? String(error.value) : Cause.pretty(exit.cause)
  console.log(`${what}: ${outcome} after ${ms} ms`)
}

const start = (runId: string) => Effect.flatMap(Engine.Engine, (engine) => engine.start(OneStep, { input: 0, runId }))

/** Starts a worker and waits (at most `seconds`) for it to complete the run `queued`. */
const workerCompletes = (seconds: number) =>
  Effect.gen(function*() {
    const engine = yield* Engine.Engine
    yield* Worker.make({ workflows: [OneStep], pollInterval: 50 })
    return yield* engine.await(OneStep, "queued").pipe(Effect.timeout(`${seconds} seconds`))
  })

await runtime.runPromise(start("queued"))

const holder = ChildProcess.spawn(process.execPath, [
  "--disable-warning=ExperimentalWarning",
  "-e",
  `const { DatabaseSync } = require("node:sqlite")
const db = new DatabaseSync(${JSON.stringify(filename)})
db.exec("BEGIN IMMEDIATE")
db.exec("UPDATE plait_runs SET updated_ms = updated_ms WHERE run_id = 'queued'")
console.log("locked")
setInterval(() => {}, 1000)`
], { stdio: ["ignore", "pipe", "inherit"] })
await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()))
process.kill(holder.pid!, "SIGSTOP")
console.log(`process ${holder.pid} stopped inside a write transaction`)

await timed("read (engine.inspect)", Effect.flatMap(Engine.Engine, (engine) => engine.inspect("queued")))
await timed("engine.start", start("during"))
await timed("Workflow.run", Workflow.run(OneStep, { input: 0, runId: "direct" }))
await timed("a worker completes the queued run", workerCompletes(10))

process.kill(holder.pid!, "SIGKILL")
await new Promise((resolve) => holder.on("close", resolve))
console.log("stopped process killed")
await timed("engine.start", start("after"))
await timed("a worker completes the queued run", workerCompletes(30))

await runtime.dispose()
Fs.rmSync(dir, { recursive: true, force: true })
