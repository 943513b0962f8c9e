/**
 * The worker process of the engine example: executes `expense` runs, whoever started them.
 *
 *   node --conditions=plait-source examples/engine/worker.ts
 *
 * It prints each step as it starts, and runs until SIGTERM (or Ctrl-C): then it stops its runs
 * and releases them, so another worker can take them at once.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { Worker } from "plait"
import { description, isPostgres, JournalLive } from "./database.ts"
import { Expense, Payments } from "./expense.ts"

// A stand-in for a payment provider that deduplicates by key, as real ones do.
const paid = new Map<string, string>()
const PaymentsLive = Layer.succeed(Payments, {
  pay: (key, employee, amount) =>
    Effect.sync(() => {
      const existing = paid.get(key)
      if (existing !== undefined) return existing
      const payment = `pay_${employee}_${amount}`
      paid.set(key, payment)
      return payment
    })
})

const WorkerLive = Worker.layer({
  workflows: [Expense],
  concurrency: 8,
  // Another process's start or signal reaches a SQLite worker only when it polls: poll at least
  // every half second. On Postgres, NOTIFY wakes it at once and polling is only the backstop.
  maxPollInterval: isPostgres ? "5 seconds" : "500 millis",
  observe: (event) => (event._tag === "Started" ? Console.log(`${event.runId}: ${event.path}`) : Effect.void)
}).pipe(Layer.provide([PaymentsLive, JournalLive]))

const main = Effect.gen(function*() {
  yield* Effect.addFinalizer(() => Console.log("worker stopped; its runs were released"))
  yield* Layer.build(WorkerLive)
  yield* Console.log(`worker ready on ${description}`)
  return yield* Effect.never
})

NodeRuntime.runMain(Effect.scoped(main))
