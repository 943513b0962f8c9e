/**
 * DBOS workflows shared by the journal bench (`dbos.ts`) and the engine bench's DBOS worker
 * processes (`bench/engine/dbosWorker.ts`), in a module of their own so a worker process loads
 * DBOS and nothing else. Registered on import, under the names the queue enqueues by.
 */
import { DBOS } from "@dbos-inc/dbos-sdk"

/** The step every workflow runs: nothing but a checkpoint. */
export const noop = (i: number) => Promise.resolve(i)

/** The name `sequential` is registered under. */
export const SEQUENTIAL = "plait_bench_sequential"

/** `n` steps one after another. */
export const sequential = DBOS.registerWorkflow(async (n: number): Promise<number> => {
  let total = 0
  for (let i = 0; i < n; i++) total += await DBOS.runStep(() => noop(i), { name: `s${i}` })
  return total
}, { name: SEQUENTIAL })
