/**
 * The client of the engine example: starts expense runs, signals, cancels, awaits, inspects and
 * lists them, without executing anything: a worker process (`worker.ts`) does that.
 *
 *   node --conditions=plait-source examples/engine/client.ts [batch]
 *
 * Run ids carry the batch (default: the time), so the example can run again on the same database.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { Engine } from "plait"
import { description, JournalLive } from "./database.ts"
import { Expense, type ExpenseClaim } from "./expense.ts"

const batch = process.argv[2] ?? Date.now().toString(36)
const claims: ReadonlyArray<ExpenseClaim> = [
  { id: `train-${batch}`, employee: "ada", amount: 120 },
  { id: `laptop-${batch}`, employee: "alan", amount: 2400 },
  { id: `yacht-${batch}`, employee: "grace", amount: 900000 }
]
const [train, laptop, yacht] = claims.map((claim) => claim.id) as [string, string, string]

const program = Effect.gen(function*() {
  const engine = yield* Engine.Engine
  yield* Console.log(`client on ${description}`)

  // Starting stores a queued run; a worker claims it. Starting the same id again returns that run.
  for (const claim of claims) {
    const run = yield* engine.start(Expense, { input: claim, runId: claim.id })
    yield* Console.log(`started ${run.runId} (${run.status})`)
  }
  const again = yield* engine.start(Expense, { input: claims[0]!, runId: train })
  yield* Console.log(`started ${train} again: ${again.created ? "created" : "the existing run"}`)

  // A decision may arrive before the run waits for it: it is kept until the run gets there.
  yield* engine.signal(Expense, train, "decision", { approved: true, by: "grace" })
  yield* engine.signal(Expense, laptop, "decision", { approved: false, by: "grace" })
  const second = yield* Effect.flip(engine.signal(Expense, train, "decision", { approved: false, by: "mallory" }))
  yield* Console.log(`a second decision for ${train} is refused: ${second._tag}`)

  // Nobody decides on the yacht: once it waits for its decision, cancel it.
  const waiting = yield* engine.await(Expense, yacht)
  if (waiting._tag === "Suspended") yield* Console.log(`${yacht} is waiting for ${waiting.waitingFor}`)
  yield* engine.cancel(yacht, { reason: "not a business expense" })

  for (const runId of [train, laptop]) {
    const outcome = yield* engine.await(Expense, runId)
    if (outcome._tag === "Completed") {
      const { decision, payment } = outcome.context
      yield* Console.log(`${runId} completed: ${decision.approved ? `paid ${payment}` : `rejected by ${decision.by}`}`)
    }
  }
  const cancelled = yield* Effect.flip(engine.await(Expense, yacht))
  yield* Console.log(
    `${yacht} ended ${cancelled._tag}${cancelled._tag === "RunCancelled" ? `: ${cancelled.reason}` : ""}`
  )

  // The run and its journal in the order things happened, timed from the run's creation: when a
  // step started and how long it took, when a signal was delivered, when a sleep began and until when.
  const detail = yield* engine.inspect(train)
  yield* Console.log(
    `inspect ${train}: ${detail.run.status}, claimed ${detail.run.executions} times (released while it waited and slept)`
  )
  const since = (time: number) => `+${time - detail.run.createdAt} ms`
  const timeOf = (entry: Engine.EntryDetail) => entry.startedAt ?? entry.finishedAt ?? detail.run.createdAt
  for (const entry of [...detail.entries].sort((a, b) => timeOf(a) - timeOf(b))) {
    const what = entry.kind === "wake"
      ? `sleeps until ${since(Number(entry.value))}`
      : entry.kind === "signal"
      ? "delivered"
      : `took ${(entry.finishedAt ?? 0) - (entry.startedAt ?? 0)} ms`
    yield* Console.log(`  ${since(timeOf(entry)).padStart(9)}  ${entry.kind} ${entry.path}: ${what}`)
  }

  const page = yield* engine.list({ workflow: Expense.name, limit: 10 })
  const mine = page.runs.filter((run) => run.runId.endsWith(`-${batch}`))
  yield* Console.log(`listed: ${mine.map((run) => `${run.runId} ${run.status}`).sort().join(", ")}`)
})

NodeRuntime.runMain(program.pipe(Effect.provide(Engine.layer.pipe(Layer.provide(JournalLive)))))
