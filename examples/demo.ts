/**
 * `npm run demo`: a durable order workflow on the embedded SQLite journal.
 *
 * The first attempt finds the shipping carrier down: the run fails part-way. The second attempt,
 * with the same run id, replays every finished step from the journal (none runs again) and
 * completes. Press Ctrl-C at any point and run `npm run demo` again: it resumes where it stopped.
 * `npm run demo -- --fresh` starts a new order.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, DateTime, Effect, Layer } from "effect"
import { Journal, SqliteJournal, Workflow } from "plait"
import { Carrier, CarrierUnavailable, OrderFulfillment } from "./orderFulfillment.ts"

const journalFile = process.env.PLAIT_DEMO_JOURNAL ?? ".plait/demo.sqlite"
const fresh = process.argv.includes("--fresh")
const runId = fresh ? `order-${Date.now()}` : "order-1001"

const order = {
  id: runId,
  customer: "ada@example.com",
  items: [
    { sku: "kettle", quantity: 1 },
    { sku: "mug", quantity: 4 },
    { sku: "tea", quantity: 12 }
  ]
}

const describe = (event: Workflow.StepEvent): string => {
  switch (event._tag) {
    case "Started":
      return `  ▶ ${event.path}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""}`
    case "Completed":
      return `  ✓ ${event.path}`
    case "Replayed":
      return `  ↺ ${event.path} (skipped: journaled)`
    case "Failed":
      return `  ✗ ${event.path} attempt ${event.attempt} failed${event.willRetry ? ", retrying" : ""}`
    case "Sleeping":
      return `  ☾ ${event.path} sleeping until ${
        DateTime.formatIso(event.wakeAt)
      } (the wake time is journaled: a restart sleeps only the rest)`
    case "Woke":
      return `  ☀ ${event.path} woke`
    case "AwaitingSignal":
      return `  … ${event.path} waiting for a signal`
    case "SignalReceived":
      return `  ✉ ${event.path} signal received`
    case "RaceWon":
      return `  ⚑ ${event.path}: ${event.winner} won${event.replayed ? " (journaled)" : ""}`
    case "BranchChosen":
      return `  ⑂ ${event.path}: ${event.choice}${event.replayed ? " (journaled)" : ""}`
    case "LastWinsOrder":
      return `  ⇉ ${event.path}: ${event.order.join(", ")}${event.replayed ? " (journaled)" : ""}`
  }
}

const carrier = (up: boolean) =>
  Layer.succeed(Carrier, {
    book: (orderId) =>
      up ? Effect.succeed(`TRK-${orderId.toUpperCase()}`) : Effect.fail(new CarrierUnavailable({ carrier: "acme" }))
  })

const attempt = (label: string, carrierUp: boolean) =>
  Effect.gen(function*() {
    yield* Console.log(`\n${label}`)
    let replayed = 0
    const outcome = yield* Workflow.run(OrderFulfillment, {
      input: order,
      runId,
      observe: (event) => {
        if (event._tag === "Replayed") replayed++
        return Console.log(describe(event))
      }
    }).pipe(Effect.provide(carrier(carrierUp)))
    if (outcome._tag === "Completed") {
      yield* Console.log(
        `run ${runId} completed (${replayed} steps skipped as already done): ${outcome.context.receipt}`
      )
    }
  })

const program = Effect.gen(function*() {
  yield* Console.log(`plait demo: run ${runId}, journal ${journalFile}`)
  const journal = yield* Journal.Journal
  const existing = yield* journal.load(runId)
  if (existing._tag === "Some") {
    const status = existing.value.run.status
    yield* Console.log(
      status === "completed"
        ? `run ${runId} already completed; replaying it from the journal (npm run demo -- --fresh starts a new order)`
        : `run ${runId} was stopped part-way (${status}); resuming it`
    )
    return yield* attempt("resumed run", true)
  }
  const firstTry = yield* Effect.result(attempt("attempt 1 (the carrier is down)", false))
  if (firstTry._tag === "Failure") {
    const error = firstTry.failure
    yield* Console.log(`run ${runId} failed part-way: ${error._tag}${"carrier" in error ? ` (${error.carrier})` : ""}`)
    yield* attempt("attempt 2 (the carrier is back; finished steps are replayed, not re-run)", true)
  }
}).pipe(Effect.provide(SqliteJournal.layer({ filename: journalFile })))

NodeRuntime.runMain(program)
