/**
 * What each engine benchmark stands on: fresh Postgres tables with the engine over them, and
 * worker processes on the same tables.
 */
import { Effect, Layer, ManagedRuntime } from "effect"
import { Engine } from "plait"
import { postgresTables } from "../workloads/journal.ts"
import { spawnWorker, type WorkerProcess } from "./processes.ts"
import type { WorkerArgs } from "./protocol.ts"

let tables = 0

/** The engine over fresh tables (created on first use, dropped on `dispose`). */
export const engineRuntime = (url: string, label: string) => {
  const tablePrefix = `plait_bench${process.pid}_${label}${tables++}_`
  return {
    tablePrefix,
    runtime: ManagedRuntime.make(Layer.provideMerge(Engine.layer, postgresTables(url, { tablePrefix })))
  }
}

export type EngineRuntime = ReturnType<typeof engineRuntime>["runtime"]

/**
 * Fresh tables, the engine over them and one worker process on them, already told `go`; `body`
 * runs with both, then the worker stops and the tables are dropped.
 */
export const withWorkerProcess = async <A>(
  url: string,
  label: string,
  settings: Omit<WorkerArgs, "url" | "tablePrefix">,
  body: (runtime: EngineRuntime, worker: WorkerProcess) => Promise<A>
): Promise<A> => {
  const { runtime, tablePrefix } = engineRuntime(url, label)
  await runtime.runPromise(Effect.void) // the tables exist before the worker starts
  const worker = spawnWorker({ url, tablePrefix, ...settings })
  try {
    await worker.ready
    worker.send("go")
    return await body(runtime, worker)
  } finally {
    await worker.stop()
    await runtime.dispose()
  }
}
