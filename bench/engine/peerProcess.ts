/**
 * What a peer's worker process (`dbosWorker.ts`, `peerWorker.ts`) shares: the window its counts
 * cover (the statements its `pg` sends, its CPU time), and the commands the bench sends it on
 * stdin (`processes.ts` is the other side).
 */
import * as Readline from "node:readline"
import { countStatements, type Pg } from "./pgDriver.ts"
import type { Counts } from "./protocol.ts"

/** Prints one line for the bench. */
export const say = (line: string): void => void process.stdout.write(`${line}\n`)

/**
 * Counts from `restart` on: every statement sent through `driver` in this process, and the
 * process's CPU time; `more` adds counts of the peer's own (jobs executed), restarted with them.
 */
export const countingWindow = (
  driver: Pg,
  more: { readonly restart: () => void; readonly counts: () => Pick<Counts, "jobs" | "checksum"> } = {
    restart: () => {},
    counts: () => ({})
  }
) => {
  const statements = countStatements(driver)
  let countedSince = performance.now()
  let cpuSince = process.cpuUsage()
  return {
    restart: () => {
      statements.reset()
      more.restart()
      countedSince = performance.now()
      cpuSince = process.cpuUsage()
    },
    counts: (): Counts => {
      const cpu = process.cpuUsage(cpuSince)
      return {
        total: statements.total(),
        byOperation: {},
        elapsedMs: performance.now() - countedSince,
        cpuMs: (cpu.user + cpu.system) / 1000,
        ...more.counts()
      }
    }
  }
}

/**
 * Answers the bench's commands, line by line on stdin, until `stop` or the end of stdin: `go`
 * restarts the counts (the bench's gate is its own commit, not this); `counts` prints
 * `counts <Counts as JSON>`; `reset` restarts the counts and prints `reset`.
 */
export const serveCommands = async (window: ReturnType<typeof countingWindow>): Promise<void> => {
  for await (const line of Readline.createInterface({ input: process.stdin })) {
    const command = line.trim()
    if (command === "go") window.restart()
    else if (command === "counts") say(`counts ${JSON.stringify(window.counts())}`)
    else if (command === "reset") {
      window.restart()
      say("reset")
    } else if (command === "stop") return
  }
}

/** Runs a peer process's `main`; any failure is printed and exits the process with 1. */
export const runPeerProcess = (main: () => Promise<void>): void => {
  main().then(() => process.exit(0), (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  })
}
