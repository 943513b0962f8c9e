/**
 * DBOS Transact on the same Postgres as plait's journal: the durable-journal workloads written
 * with DBOS's own workflow and step API (`DBOS.registerWorkflow`, `DBOS.runStep`), each step a
 * no-op returning its index, so the numbers are DBOS's machinery, as plait's are plait's.
 *
 * DBOS is a process-wide singleton. Each trial launches it (untimed) and shuts it down after,
 * so nothing of DBOS runs while another system's trial is timed; the workflows each trial ran
 * are deleted before shutdown, so the tables stay as small as plait's fresh ones. Its system
 * database is a schema of its own in the bench's database, created by the first launch and
 * dropped by `dispose`.
 */
import { DBOS } from "@dbos-inc/dbos-sdk"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import type { Case, Trial } from "../harness.ts"
import { noop, sequential } from "./dbosWorkflows.ts"
import { journalWorkloads, pgClient } from "./journal.ts"
import { FOR_EACH_CONCURRENCY, sum } from "./shared.ts"

/**
 * `n` steps, `concurrency` at a time: a sliding window, as `Workflow.forEach` runs. DBOS numbers
 * a step when `runStep` is called, before any await, and each worker calls it right after
 * taking the next index, so step `i` is always the workflow's step `i`: a replay meets the
 * same steps in the same order, whatever order they completed in.
 */
const fanOutSteps = async (n: number, concurrency: number): Promise<number> => {
  const outputs = new Array<number>(n)
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      outputs[i] = await DBOS.runStep(() => noop(i), { name: `item${i}` })
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return sum(outputs)
}

const fanOut = DBOS.registerWorkflow(fanOutSteps, { name: "plait_bench_fan_out" })

/**
 * The same fan-out, then a stop that only the first execution of a workflow id makes: it parks
 * (as a process would that died after the steps) with every step checkpointed and the workflow
 * still pending. `DBOS.resumeWorkflow` then runs it again, every step answered from the
 * system database: DBOS's replay.
 */
const reachedPark = new Map<string, () => void>()
const parked = new Map<string, () => void>()
const replayable = DBOS.registerWorkflow(async (n: number, concurrency: number): Promise<number> => {
  const total = await fanOutSteps(n, concurrency)
  const workflowID = DBOS.workflowID!
  const reached = reachedPark.get(workflowID)
  if (reached !== undefined) {
    reachedPark.delete(workflowID)
    await new Promise<void>((release) => {
      parked.set(workflowID, release)
      reached()
    })
  }
  return total
}, { name: "plait_bench_replayable" })

/** A resumed workflow is dispatched through a queue; polled every 10 ms, not DBOS's default 1 s. */
const RESUME_QUEUE = "plait_bench_resume"
const POLL_MS = { queue: 10, result: 5 }

let ids = 0

/**
 * DBOS's cases of the durable-journal workloads, on the Postgres at `url`. Launches DBOS once to
 * create its schema and the resume queue; `dispose` drops the schema.
 */
export const dbosCases = async (
  system: string,
  url: string
): Promise<{ readonly cases: ReadonlyArray<Case>; readonly dispose: () => Promise<void> }> => {
  const workloads = journalWorkloads
  const schema = `plait_bench_dbos_${process.pid}`
  DBOS.setConfig({ name: "plait-bench", systemDatabaseUrl: url, systemDatabaseSchemaName: schema, logLevel: "error" })
  await DBOS.launch()
  await DBOS.registerQueue(RESUME_QUEUE, { minPollingIntervalMs: POLL_MS.queue })
  await DBOS.shutdown()

  /** Launches DBOS, runs `setup`, then times `timed`; deletes the workflow and shuts down after. */
  const trial = async <S>(
    setup: (workflowID: string) => Promise<S>,
    timed: (workflowID: string, state: S) => Promise<number>
  ): Promise<Trial> => {
    await DBOS.launch()
    const workflowID = `plait-bench-${process.pid}-${ids++}`
    const state = await setup(workflowID)
    return {
      run: () => timed(workflowID, state),
      dispose: async () => {
        // The parked first execution ends; the workflow's outcome is the resume's already.
        parked.get(workflowID)?.()
        parked.delete(workflowID)
        await DBOS.deleteWorkflow(workflowID)
        await DBOS.shutdown({ workflowCompletionTimeoutMS: 10_000 })
      }
    }
  }

  const started = (workflow: (...args: Array<number>) => Promise<number>, ...args: Array<number>) =>
    trial(async () => undefined, async (workflowID) => {
      const handle = await DBOS.startWorkflow(workflow, { workflowID })(...args)
      return handle.getResult()
    })

  const cases: ReadonlyArray<Case> = [
    {
      system,
      workload: workloads.sequential.name,
      prepare: () => started(sequential, workloads.sequential.steps),
      checksum: (result) => result as number
    },
    {
      system,
      workload: workloads.forEach.name,
      prepare: () => started(fanOut, workloads.forEach.steps, FOR_EACH_CONCURRENCY),
      checksum: (result) => result as number
    },
    {
      system,
      workload: workloads.resume.name,
      // Untimed: the first execution checkpoints every step and parks. Timed: the resume, from
      // the call to the result: dispatch, then every step read back from the system database.
      // The first execution takes 7–40 s here (three statements per step), so fewer trials.
      maxTrials: { warmup: 0, iterations: 3 },
      prepare: () =>
        trial(
          async (workflowID) => {
            const reached = new Promise<void>((resolve) => reachedPark.set(workflowID, resolve))
            await DBOS.startWorkflow(replayable, { workflowID })(workloads.resume.steps, FOR_EACH_CONCURRENCY)
            await reached
          },
          async (workflowID) => {
            const handle = await DBOS.resumeWorkflow<number>(workflowID, { queueName: RESUME_QUEUE })
            return (await handle.getResult({ pollingIntervalMs: POLL_MS.result }))!
          }
        ),
      checksum: (result) => result as number
    }
  ]
  return {
    cases,
    dispose: () =>
      Effect.runPromise(
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`DROP SCHEMA IF EXISTS ${sql(schema)} CASCADE`
        }).pipe(Effect.provide(pgClient(url)))
      )
  }
}
