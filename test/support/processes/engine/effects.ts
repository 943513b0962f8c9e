/**
 * `SideEffects` as the test's child processes implement it, and how a test reads back what they
 * did.
 *
 * Each process appends one JSON line per step execution to its own log file, synced before the
 * step goes on, so what a process did before it was killed stays recorded. It also announces the
 * execution on stdout (`SideEffect <runId> <path>`), which tests use to act at the right moment.
 *
 * `hold` lets a test stop a step where it wants: the process announces `Holding <runId> <path>`
 * and goes on only once its release file exists, the process's (`release-<label>`) or the
 * run's (`release-<runId>`). `freeze` holds the process's only thread (no timer, no heartbeat
 * runs), so a SIGSTOP sent on the announcement lands exactly there; `wait` holds only the step,
 * the rest of the process carries on.
 */
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { SideEffects } from "./flows.ts"

export interface SideEffectsOptions {
  /** Names the process in its log lines and step values. */
  readonly label: string
  /** Its log file. */
  readonly log: string
  /** Where the test creates release files. */
  readonly holdDir: string
  readonly hold: "freeze" | "wait"
}

/** One step execution, as logged. */
export interface Execution {
  readonly by: string
  readonly runId: string
  readonly path: string
  /** When the step started (epoch milliseconds, before the log write). */
  readonly at: number
}

/** Prints a line on stdout, for the test to read. Synchronous on a pipe. */
export const say = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))

/** The file whose existence lets the process labelled `label`, or the run `runId`, go on from a `hold`. */
export const releaseFile = (holdDir: string, labelOrRunId: string) => Path.join(holdDir, `release-${labelOrRunId}`)

export const sideEffectsLayer = (options: SideEffectsOptions) =>
  Layer.sync(SideEffects, () => {
    const log = Fs.openSync(options.log, "a")
    const released = (runId: string) =>
      Fs.existsSync(releaseFile(options.holdDir, options.label)) || Fs.existsSync(releaseFile(options.holdDir, runId))
    return {
      record: (runId, path) =>
        Effect.andThen(
          Effect.sync(() => {
            const execution: Execution = { by: options.label, runId, path, at: Date.now() }
            Fs.writeSync(log, `${JSON.stringify(execution)}\n`)
            Fs.fsyncSync(log)
          }),
          Effect.as(say(`SideEffect ${runId} ${path}`), options.label)
        ),
      hold: (runId, path) =>
        Effect.andThen(
          say(`Holding ${runId} ${path}`),
          options.hold === "freeze"
            ? Effect.sync(() => {
              const pause = new Int32Array(new SharedArrayBuffer(4))
              while (!released(runId)) Atomics.wait(pause, 0, 0, 5)
            })
            : Effect.gen(function*() {
              while (!released(runId)) yield* Effect.sleep(2)
            })
        )
    }
  })

/** Every execution logged in `dir` (every `*.log` file), in the order each process logged them. */
export const readExecutions = (dir: string): ReadonlyArray<Execution> =>
  Fs.readdirSync(dir)
    .filter((name) => name.endsWith(".log"))
    .flatMap((name) =>
      Fs.readFileSync(Path.join(dir, name), "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Execution)
    )
