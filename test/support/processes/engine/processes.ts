/**
 * Driving the engine tests' child processes (`worker.ts`, `signaller.ts`, `runner.ts`): start one
 * in the test's scope (killed when the scope closes), read its stdout line by line, wait for a
 * line with a timeout that fails the test instead of hanging it, and send it signals.
 */
import { Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))
const repoRoot = Path.resolve(here, "..", "..", "..", "..")

export type Script = "worker" | "signaller" | "runner"

export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Child {
  readonly label: string
  readonly pid: number
  /** Every stdout line so far. */
  readonly lines: ReadonlyArray<string>
  /** Calls `listener` on every stdout line from now on. */
  readonly onLine: (listener: (line: string) => void) => void
  /**
   * The first line, already printed or to come, that `matches`. Fails after `timeoutMs`, or
   * when the process exits without printing one.
   */
  readonly waitFor: (
    what: string,
    matches: (line: string) => boolean,
    timeoutMs?: number
  ) => Effect.Effect<string, Error>
  readonly kill: (signal: NodeJS.Signals) => void
  readonly write: (line: string) => void
  readonly endInput: () => void
  /** Waits for the process to end. */
  readonly exit: Effect.Effect<Exit>
  /** How it ended, once it has. */
  readonly ended: () => Exit | undefined
  /** What it printed lately, and its stderr: for failure messages. */
  readonly describe: () => string
}

/**
 * Starts `test/support/processes/engine/<script>.ts` with `args` (as JSON). Closing the scope
 * SIGKILLs it if it is still running and waits for it to end.
 */
export const spawnChild = (script: Script, label: string, args: unknown): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => start(script, label, args)),
    (child) => Effect.andThen(Effect.sync(() => child.kill("SIGKILL")), child.exit)
  )

const start = (script: Script, label: string, args: unknown): Child => {
  const process_ = ChildProcess.spawn(
    process.execPath,
    [
      "--conditions=plait-source",
      "--disable-warning=ExperimentalWarning",
      Path.join(here, `${script}.ts`),
      JSON.stringify(args)
    ],
    { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] }
  )
  const lines: Array<string> = []
  const listeners: Array<(line: string) => void> = []
  let stderr = ""
  let ended: Exit | undefined
  const onEnd: Array<() => void> = []

  Readline.createInterface({ input: process_.stdout }).on("line", (line) => {
    lines.push(line)
    for (const listener of listeners) listener(line)
  })
  process_.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  // A child that dies leaves its stdin closed: writing to it must not crash the test.
  process_.stdin.on("error", () => {})
  process_.on("close", (code, signal) => {
    ended = { code, signal }
    for (const callback of onEnd.splice(0)) callback()
  })

  const describe = () =>
    `${label} (pid ${process_.pid}${ended === undefined ? "" : `, ended ${JSON.stringify(ended)}`}), last lines:\n` +
    `${lines.slice(-15).join("\n")}\nstderr:\n${stderr}`

  const exit = Effect.callback<Exit>((resume) => {
    if (ended !== undefined) return resume(Effect.succeed(ended))
    onEnd.push(() => resume(Effect.succeed(ended!)))
  })

  const waitFor: Child["waitFor"] = (what, matches, timeoutMs = 60_000) =>
    Effect.callback<string, Error>((resume) => {
      const found = lines.find(matches)
      if (found !== undefined) return resume(Effect.succeed(found))
      let done = false
      const finish = (result: Effect.Effect<string, Error>) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(result)
      }
      const timer = setTimeout(
        () => finish(Effect.fail(new Error(`no "${what}" from ${describe()}\nwithin ${timeoutMs} ms`))),
        timeoutMs
      )
      listeners.push((line) => {
        if (matches(line)) finish(Effect.succeed(line))
      })
      const failOnEnd = () => finish(Effect.fail(new Error(`${describe()}\nended before "${what}"`)))
      if (ended !== undefined) failOnEnd()
      else onEnd.push(failOnEnd)
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
      })
    })

  return {
    label,
    pid: process_.pid!,
    lines,
    onLine: (listener) => void listeners.push(listener),
    waitFor,
    kill: (signal) => {
      if (ended === undefined) process_.kill(signal)
    },
    write: (line) => void process_.stdin.write(`${line}\n`),
    endInput: () => void process_.stdin.end(),
    exit,
    ended: () => ended,
    describe
  }
}

/** The line every child prints once it is up (a worker adds its id). */
export const isReady = (line: string) => line.startsWith("Ready")

/** The process's state letter from `/proc` (`T` once a SIGSTOP took effect). Linux only. */
export const processState = (pid: number): string => {
  const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  // The command name, in parentheses, may contain spaces: the state follows its closing one.
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
}

/** Waits until `condition` holds, checking every `intervalMs`; fails with `what` after `timeoutMs`. */
export const eventually = <E, R>(
  what: string,
  condition: Effect.Effect<boolean, E, R>,
  timeoutMs = 60_000,
  intervalMs = 100
): Effect.Effect<void, E | Error, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!(yield* condition)) {
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`${what}: not reached within ${timeoutMs} ms`))
      yield* Effect.sleep(intervalMs)
    }
  })
