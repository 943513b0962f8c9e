/**
 * The engine example (`npm run example:engine`) end to end, so it cannot rot: a worker process
 * and a client process on a fresh SQLite file. The client starts, signals, cancels, awaits,
 * inspects and lists runs that only the worker executes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const root = Path.resolve(import.meta.dirname, "..", "..")

const runExample = (database: string, batch: string) =>
  Effect.callback<{ readonly code: number | null; readonly output: string }>((resume) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["--conditions=plait-source", "examples/engine/run.ts", batch],
      { cwd: root, env: { ...process.env, PLAIT_DATABASE: database }, stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.on("close", (code) => resume(Effect.succeed({ code, output })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("examples/engine", () => {
  it.live("the client's runs are executed by the worker process, signalled, cancelled, inspected and listed", () =>
    Effect.gen(function*() {
      const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "plait-example-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true })))
      const { code, output } = yield* runExample(Path.join(directory, "example.sqlite"), "t1")
      const lines = output.split("\n")
      const has = (line: string) => assert.include(lines, line, output)
      assert.strictEqual(code, 0, output)
      has("[client] started train-t1 (queued)")
      has("[client] started train-t1 again: the existing run")
      has("[client] a second decision for train-t1 is refused: SignalAlreadyDelivered")
      has("[client] yacht-t1 is waiting for decision")
      has("[client] train-t1 completed: paid pay_ada_120")
      has("[client] laptop-t1 completed: rejected by grace")
      has("[client] yacht-t1 ended RunCancelled: not a business expense")
      has("[client] listed: laptop-t1 completed, train-t1 completed, yacht-t1 cancelled")
      has("[worker] worker stopped; its runs were released")
      // Each step ran once, in the worker; the cancelled run never got to its payment.
      for (const step of ["train-t1: recorded", "train-t1: payment", "laptop-t1: payment", "yacht-t1: recorded"]) {
        assert.strictEqual(lines.filter((line) => line === `[worker] ${step}`).length, 1, output)
      }
      assert.notInclude(lines, "[worker] yacht-t1: payment")
      assert.isTrue(
        lines.some((line) => /^\[client\] +\+\d+ ms {2}wake payoutWindow: sleeps until \+\d+ ms$/.test(line)),
        output
      )
    }).pipe(Effect.scoped))
})
