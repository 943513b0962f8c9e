/**
 * Long-running child processes for the process tests (workers): started in a scope, ready once
 * they print `Ready`, watched line by line, killed with SIGKILL when the test says so (and when
 * the scope closes), and the side-effect log they share read back.
 */
import { Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Readline from "node:readline"
import { repoRoot } from "../crash/harness.ts"
import type { SideEffect } from "./workflows.ts"

export interface Running {
  readonly label: string
  readonly pid: number
  readonly lines: ReadonlyArray<string>
  /** Sends SIGKILL and waits until the process is gone. */
  readonly kill: Effect.Effect<void>
}

/** Starts `script` with `args` as JSON; succeeds once it printed `Ready`. */
export const startProcess = (
  script: string,
  args: unknown,
  label: string,
  readyWithin = 60_000
): Effect.Effect<Running, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Running, Error>((resume) => {
      const child = ChildProcess.spawn(
        process.execPath,
        ["--conditions=plait-source", "--disable-warning=ExperimentalWarning", script, JSON.stringify(args)],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
      )
      const lines: Array<string> = []
      let stderr = ""
      let ready = false
      const gone = new Promise<void>((resolve) => child.on("close", () => resolve()))
      const running: Running = {
        label,
        pid: child.pid!,
        lines,
        kill: Effect.promise(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
          return gone
        })
      }
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        resume(Effect.fail(new Error(`${label} was not ready within ${readyWithin} ms\n${stderr}`)))
      }, readyWithin)
      Readline.createInterface({ input: child.stdout }).on("line", (line) => {
        lines.push(line)
        if (!ready && line === "Ready") {
          ready = true
          clearTimeout(timer)
          resume(Effect.succeed(running))
        }
      })
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
      child.on("close", (code, signal) => {
        if (ready) return
        clearTimeout(timer)
        resume(Effect.fail(new Error(`${label} exited (${code ?? signal}) before it was ready\n${stderr}`)))
      })
    }),
    (running) => running.kill
  )

/** Waits, polling every 50 ms, until `done` holds; fails after `within` ms. */
export const eventually = <E, R>(what: string, done: Effect.Effect<boolean, E, R>, within = 60_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + within
    while (!(yield* done)) {
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`not reached within ${within} ms: ${what}`))
      yield* Effect.sleep("50 millis")
    }
  })

/** The side-effect log: each line is `<who> <SideEffect as JSON>`, `who` the process that did it. */
export const readEffects = (file: string): Array<{ readonly who: string; readonly effect: SideEffect }> =>
  (Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : "").split("\n").filter((line) => line !== "").map((line) => {
    const space = line.indexOf(" ")
    return { who: line.slice(0, space), effect: JSON.parse(line.slice(space + 1)) as SideEffect }
  })
