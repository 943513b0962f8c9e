/**
 * The bench's side of `worker.ts`, `dbosWorker.ts` and `peerWorker.ts`: spawn worker processes, send them
 * commands, read their lines.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import type { Counts, DbosWorkerArgs, PeerWorkerArgs, WorkerArgs } from "./protocol.ts"

const workerScript = fileURLToPath(new URL("./worker.ts", import.meta.url))
const dbosWorkerScript = fileURLToPath(new URL("./dbosWorker.ts", import.meta.url))
const peerWorkerScript = fileURLToPath(new URL("./peerWorker.ts", import.meta.url))
const repoRoot = Path.resolve(Path.dirname(workerScript), "..", "..")

export interface WorkerProcess {
  /** Resolves once the worker printed `ready`. */
  readonly ready: Promise<void>
  readonly send: (command: "go" | "counts" | "reset" | "stop") => void
  /** The worker's statement count since `go` or the last `reset`. */
  readonly counts: () => Promise<Counts>
  readonly reset: () => Promise<void>
  /** Called with every `woke <runId> <ns>` line. */
  readonly onWoke: (listener: (runId: string, ns: bigint) => void) => void
  /** Sends `stop` and resolves when the process exited (it is killed if it takes over 10 s). */
  readonly stop: () => Promise<void>
}

/** A plait worker process (`worker.ts`). */
export const spawnWorker = (args: WorkerArgs): WorkerProcess => spawnProcess(workerScript, args)

/** A DBOS worker process (`dbosWorker.ts`): `woke` lines never come, `reset` restarts its counts. */
export const spawnDbosWorker = (args: DbosWorkerArgs): WorkerProcess => spawnProcess(dbosWorkerScript, args)

/** A graphile-worker or pg-boss worker process (`peerWorker.ts`), driven as a DBOS one. */
export const spawnPeerWorker = (args: PeerWorkerArgs): WorkerProcess => spawnProcess(peerWorkerScript, args)

const spawnProcess = (script: string, args: WorkerArgs | DbosWorkerArgs | PeerWorkerArgs): WorkerProcess => {
  const child = ChildProcess.spawn(
    process.execPath,
    ["--conditions=plait-source", script, JSON.stringify(args)],
    { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] }
  )
  let stderr = ""
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()))
  const failure = exited.then(() => {
    throw new Error(`bench worker exited unexpectedly (code ${child.exitCode}, ${child.signalCode})\n${stderr}`)
  })
  failure.catch(() => {})

  const waiting: Array<{ readonly prefix: string; readonly resolve: (rest: string) => void }> = []
  const wokeListeners: Array<(runId: string, ns: bigint) => void> = []
  Readline.createInterface({ input: child.stdout }).on("line", (line) => {
    if (line.startsWith("woke ")) {
      const [, runId, ns] = line.split(" ")
      for (const listener of wokeListeners) listener(runId!, BigInt(ns!))
      return
    }
    const at = waiting.findIndex((w) => line === w.prefix || line.startsWith(`${w.prefix} `))
    if (at < 0) return
    const { prefix, resolve } = waiting.splice(at, 1)[0]!
    resolve(line.slice(prefix.length + 1))
  })
  // The next line starting with `prefix`, or the process's unexpected exit.
  const next = (prefix: string) =>
    Promise.race([new Promise<string>((resolve) => waiting.push({ prefix, resolve })), failure])

  const send = (command: string) => void child.stdin.write(`${command}\n`)
  return {
    ready: next("ready").then(() => {}),
    send,
    counts: () => {
      const reply = next("counts")
      send("counts")
      return reply.then((json) => JSON.parse(json) as Counts)
    },
    reset: () => {
      const reply = next("reset")
      send("reset")
      return reply.then(() => {})
    },
    onWoke: (listener) => void wokeListeners.push(listener),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      send("stop")
      child.stdin.end()
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}
