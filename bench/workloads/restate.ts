/**
 * The `restate` section: plait's durable journals (SQLite and Postgres) beside Restate on the
 * same shapes, one process each side of a loopback: 200 sequential steps, 1,000 steps 16 at a
 * time and all at once, and a replay of 10,000 completed steps.
 *
 * plait's cases are the durable-journal workloads' own (`journalCases`, batching on), under
 * this section's names, plus a 1,000-branch `parallel` block. Restate's are handlers of one
 * service (`bench/restate/service.ts`) served by an endpoint in the bench process and called
 * through the ingress of a Restate server the section starts (`bench/restate/server.ts`; its
 * log fsync'd), which it stops once every section ran.
 */
import { Effect } from "effect"
import { Workflow } from "plait"
import type { Case, Sample, Trial, Workload } from "../harness.ts"
import { restateBinary, type RestateServer, startRestateServer } from "../restate/server.ts"
import { type Backend, journalCases, journalTrial, journalWorkloads } from "./journal.ts"
import { parallelWorkflow, stepNames, sumOf } from "./plait.ts"
import { FOR_EACH_CONCURRENCY } from "./shared.ts"

const triangle = (n: number) => (n * (n - 1)) / 2
const trials = { full: { warmup: 1, iterations: 7 }, quick: { warmup: 0, iterations: 2 } }

export const restateWorkloads = {
  sequential: { ...journalWorkloads.sequential, name: "restate-sequential-200" },
  forEach: { ...journalWorkloads.forEach, name: "restate-forEach-1k" },
  parallel: {
    name: "restate-parallel-1k",
    steps: 1_000,
    expected: triangle(1_000),
    description: "1,000 steps all at once (one parallel block), durable",
    trials
  },
  replay: {
    ...journalWorkloads.resume,
    name: "restate-replay-10k",
    description: `a replay of 10,000 completed steps (a fan-out ${FOR_EACH_CONCURRENCY} at a time): plait runs the ` +
      `completed run again, Restate resumes the invocation paused after its steps`
  }
} as const satisfies Record<string, Workload>

/** The section's name for each durable-journal workload it reuses. */
const renamed: Readonly<Record<string, string>> = {
  [journalWorkloads.sequential.name]: restateWorkloads.sequential.name,
  [journalWorkloads.forEach.name]: restateWorkloads.forEach.name,
  [journalWorkloads.resume.name]: restateWorkloads.replay.name
}

export const RESTATE = "Restate"

/** plait's cases on one backend: the journal workloads (batching on) under this section's names, and `parallel`. */
export const plaitRestateCases = (backend: Backend, options: { readonly resume: boolean }): ReadonlyArray<Case> => {
  const parallel = parallelWorkflow("restate-parallel", restateWorkloads.parallel.steps)
  return [
    ...journalCases(backend, options)
      .filter((c) => c.system === backend.name && renamed[c.workload] !== undefined)
      .map((c) => ({ ...c, workload: renamed[c.workload]! })),
    {
      system: backend.name,
      workload: restateWorkloads.parallel.name,
      prepare: () =>
        journalTrial(
          backend,
          () => Effect.void,
          (runId) => Workflow.run(parallel, { input: 0, runId, batching: true })
        ),
      checksum: sumOf(stepNames("p", restateWorkloads.parallel.steps))
    }
  ]
}

/** Why Restate's rows cannot run here, or `undefined`. */
export const restateMissing = (): string | undefined => {
  const binary = restateBinary()
  return "missing" in binary ? binary.missing : undefined
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const json = async (response: Response, what: string): Promise<unknown> => {
  if (!response.ok) throw new Error(`Restate: ${what}: ${response.status} ${await response.text()}`)
  return response.json()
}

/**
 * Starts a Restate server and the service's endpoint, registers it, and returns Restate's
 * cases; `dispose` stops both.
 */
export const restateCases = async (): Promise<
  { readonly cases: ReadonlyArray<Case>; readonly server: RestateServer; readonly dispose: () => Promise<void> }
> => {
  // Loaded only here: nothing of Restate's SDK is in the process unless its rows run.
  const { SERVICE, serveEndpoint } = await import("../restate/service.ts")
  const server = await startRestateServer()
  const endpoint = await serveEndpoint().catch(async (error: unknown) => {
    await server.stop()
    throw error
  })
  const dispose = async () => {
    await server.stop()
    await endpoint.close()
  }
  const call = (handler: string, input: unknown) =>
    fetch(`${server.ingress}/${SERVICE}/${handler}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(input)
    }).then((response) => json(response, handler))
  const statusOf = async (invocation: string) => {
    const result = await fetch(`${server.admin}/query`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query: `SELECT status FROM sys_invocation WHERE id = '${invocation}'` })
    }).then((response) => json(response, "query")) as { readonly rows: ReadonlyArray<{ readonly status: string }> }
    return result.rows[0]?.status
  }

  try {
    await server.register(endpoint.url)
    // The first invocations after start-up wait for the partitions' leaders: not a trial's cost.
    for (let i = 0; i < 3; i++) await call("sequential", 1)
  } catch (error) {
    await dispose()
    throw error
  }

  /** A trial timing `run`, counting the server's CPU time over it. */
  const trial = (run: () => Promise<unknown>): Trial => {
    let cpuBefore = 0
    let cpuAfter = 0
    return {
      run: async () => {
        cpuBefore = server.cpuMs()
        const result = await run()
        cpuAfter = server.cpuMs()
        return result
      },
      counts: () => ({ "server CPU ms": cpuAfter - cpuBefore }),
      dispose: async () => {}
    }
  }
  const fanOut = { n: 0, concurrency: FOR_EACH_CONCURRENCY }
  /** A case whose trial is one call of `handler` through the ingress. */
  const called = (workload: Workload, handler: string, input: unknown): Case => ({
    system: RESTATE,
    workload: workload.name,
    prepare: async () => trial(() => call(handler, input)),
    checksum: (result) => result as number
  })
  const cases: ReadonlyArray<Case> = [
    called(restateWorkloads.sequential, "sequential", restateWorkloads.sequential.steps),
    called(restateWorkloads.forEach, "forEach", { ...fanOut, n: restateWorkloads.forEach.steps }),
    called(restateWorkloads.parallel, "parallel", restateWorkloads.parallel.steps),
    {
      system: RESTATE,
      workload: restateWorkloads.replay.name,
      // Untimed: the invocation's first attempt journals every step and stops; the server
      // pauses it. Timed: the resume, from the admin API's call to the result: a new attempt,
      // every step answered from the journal. The first attempt takes seconds: fewer trials.
      maxTrials: { warmup: 1, iterations: 5 },
      prepare: async () => {
        const sent = await fetch(`${server.ingress}/${SERVICE}/replayable/send`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...fanOut, n: restateWorkloads.replay.steps })
        }).then((response) => json(response, "replayable/send")) as { readonly invocationId: string }
        const invocation = sent.invocationId
        const deadline = performance.now() + 5 * 60_000
        while (true) {
          const status = await statusOf(invocation)
          if (status === "paused") break
          // Ended without its planned stop: a resume would replay nothing.
          if (status === "completed") throw new Error(`Restate: ${invocation} completed instead of pausing`)
          if (performance.now() > deadline) throw new Error(`Restate: ${invocation} not paused in 5 minutes`)
          await sleep(20)
        }
        return trial(async () => {
          const resumed = await fetch(`${server.admin}/invocations/${invocation}/resume`, { method: "PATCH" })
          if (!resumed.ok) throw new Error(`Restate: resume ${invocation}: ${resumed.status} ${await resumed.text()}`)
          return json(await fetch(`${server.ingress}/restate/invocation/${invocation}/attach`), "attach")
        })
      },
      checksum: (result) => result as number
    }
  ]
  return { cases, server, dispose }
}

/** What a committed step is in each system of the section: the lines under its table. */
export const commitMeaning = (systems: ReadonlyArray<string>, restateVersion: string | undefined): string => {
  const meaning: Record<string, string> = {
    "SQLite NORMAL": "a transaction in SQLite's WAL, synchronous=NORMAL: written to the WAL at commit, " +
      "fsync'd at checkpoints (durable across a process crash, not a power loss)",
    "SQLite FULL": "a transaction in SQLite's WAL, synchronous=FULL: the WAL fsync'd at every commit",
    Postgres: "a Postgres transaction, fsync'd at commit (fsync on, synchronous_commit on); " +
      "concurrent steps' appends share one statement and commit (batching on)",
    [RESTATE]: `Restate ${restateVersion ?? ""}: the ctx.run's result appended to its log (the node's ` +
      "replicated loglet in RocksDB, log-server.rocksdb-disable-wal-fsync = false: the WAL fsync'd per " +
      "write batch) before the handler continues; concurrent steps may share a batch"
  }
  return [
    "what a committed step is:",
    ...systems.filter((system) => meaning[system] !== undefined).map((system) => `  ${system}: ${meaning[system]}`)
  ].join("\n")
}

/** The lines under the section's table: what a commit is, per system present. */
export const summarizeRestate = (restateVersion: () => string | undefined) => (samples: ReadonlyArray<Sample>) =>
  commitMeaning([...new Set(samples.map((s) => s.system))], restateVersion())
