/**
 * Driving `child.ts` from a test: start it, read its progress line by line, SIGKILL it at a
 * chosen point of that progress (never on a timer), and read back its side-effect log.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import type { ChildArgs } from "./child.ts"
import { describeKillPoint, type KillPoint, matcher } from "./kill-point.ts"

const childScript = fileURLToPath(new URL("./child.ts", import.meta.url))
export const repoRoot = Path.resolve(Path.dirname(childScript), "..", "..", "..", "..")

/** What one start of the child did. */
export interface ChildRun {
  readonly lines: ReadonlyArray<string>
  /** The line after which the test sent SIGKILL, if it did. */
  readonly killedAfter: string | undefined
  /** The final context, when the run completed. */
  readonly context: unknown
}

/** The paths of the lines `<event> <path>` a child printed. */
export const pathsOf = (run: ChildRun, event: string): Array<string> =>
  run.lines.filter((line) => line.startsWith(`${event} `)).map((line) => line.slice(event.length + 1))

/** What a child script is told: which run, which start of it, and where to hold still. */
export interface ScriptArgs {
  readonly runId: string
  readonly incarnation: number
}

/**
 * Starts the child and waits for it to end: killed at `killPoint`, or completed. Fails when a
 * required kill point is never reached, when the child fails, or when it runs for more than
 * `timeout` (it is killed then too).
 */
export const runChild = (args: ChildArgs, killPoint: KillPoint | undefined, timeout = 60_000) =>
  runScript(childScript, args, killPoint, timeout)

/**
 * Runs `script` (a child that ends with a `Done <json>` line) as `runChild` runs `child.ts`: its
 * arguments are `args` as JSON, with `freezeAt` when the kill point is frozen.
 */
export const runScript = <A extends ScriptArgs>(
  script: string,
  args: A,
  killPoint: KillPoint | undefined,
  timeout = 60_000
) =>
  Effect.callback<ChildRun, Error>((resume) => {
    const child = ChildProcess.spawn(
      process.execPath,
      [
        "--conditions=plait-source",
        script,
        JSON.stringify(
          killPoint?.freeze === true || killPoint?.untilJournaled === true ? { ...args, freezeAt: killPoint } : args
        )
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
    )
    const lines: Array<string> = []
    let stderr = ""
    let killedAfter: string | undefined
    let pending = 2 // the process's `close` and the last stdout line
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
    const isKillPoint = killPoint === undefined ? () => false : matcher(killPoint)
    const label = `child ${args.incarnation} of ${args.runId}`

    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      resume(Effect.fail(new Error(`${label} ran for more than ${timeout} ms\n${tail(lines)}\n${stderr}`)))
    }, timeout)

    const finish = () => {
      if (--pending > 0) return
      clearTimeout(timer)
      const last = lines.at(-1) ?? ""
      if (killedAfter !== undefined) {
        return resume(
          exit?.signal === "SIGKILL"
            ? Effect.succeed({ lines, killedAfter, context: undefined })
            : Effect.fail(new Error(`${label} ended (${JSON.stringify(exit)}) before SIGKILL took effect\n${stderr}`))
        )
      }
      if (exit?.code !== 0 || !last.startsWith("Done ")) {
        return resume(Effect.fail(new Error(`${label} failed (${JSON.stringify(exit)})\n${tail(lines)}\n${stderr}`)))
      }
      if (killPoint !== undefined && killPoint.optional !== true) {
        return resume(
          Effect.fail(new Error(`${label} completed before its kill point (${describeKillPoint(killPoint)})`))
        )
      }
      resume(Effect.succeed({ lines, killedAfter, context: JSON.parse(last.slice("Done ".length)) }))
    }

    Readline.createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line)
      if (killedAfter === undefined && isKillPoint(line)) {
        killedAfter = line
        child.kill("SIGKILL")
      }
    }).on("close", finish)
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", (error) => {
      clearTimeout(timer)
      resume(Effect.fail(error))
    })
    child.on("close", (code, signal) => {
      exit = { code, signal }
      finish()
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

const tail = (lines: ReadonlyArray<string>) => lines.slice(-10).join("\n")

/** The side-effect log: for each start of the child (1, 2, ...), the step paths it executed, in order. */
export const readLog = (file: string): Map<number, Array<string>> => {
  const byIncarnation = new Map<number, Array<string>>()
  const text = Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : ""
  for (const line of text.split("\n")) {
    if (line === "") continue
    const space = line.indexOf(" ")
    const incarnation = Number(line.slice(0, space))
    const path = line.slice(space + 1)
    const list = byIncarnation.get(incarnation)
    if (list === undefined) byIncarnation.set(incarnation, [path])
    else list.push(path)
  }
  return byIncarnation
}
