/**
 * What the app does with a journal: start a booking (it suspends at the check-in signal after a
 * durable sleep), deliver the signal, resume to completion, and show that bad input lists every
 * issue. Shared by the SQLite and the Postgres entry points; each prints what happened and the
 * package test reads it.
 */
import { Effect, Layer } from "effect"
import { type Journal, type RunStore, Workflow } from "plait"
import { BookStay, Hotel } from "./booking.js"

export const hotel = Layer.succeed(Hotel, { reserve: (seats) => Effect.succeed(`R-${seats}`) })

/** Counts what `observe` reported, by event tag. */
export const tally = () => {
  const seen: Record<string, number> = {}
  const observe = (event: Workflow.StepEvent) =>
    Effect.sync(() => void (seen[event._tag] = (seen[event._tag] ?? 0) + 1))
  return { seen, observe }
}

export const scenario = (label: string) =>
  Effect.gen(function*() {
    const runId = `stay-${label}-${Date.now().toString(36)}`
    const input = { guest: "ada", seats: 2, nights: 3 }
    const first = tally()
    const waiting = yield* Workflow.run(BookStay, { input, runId, observe: first.observe })
    yield* Workflow.sendSignal(BookStay, { runId, path: "checkedIn", value: { room: 12 } })
    const second = tally()
    const done = yield* Workflow.run(BookStay, { input, runId, observe: second.observe })
    if (done._tag !== "Completed") return yield* Effect.die(`expected a completed run, got ${done._tag}`)
    const bad = yield* Effect.flip(Workflow.run(BookStay, { input: { guest: 7, seats: "two", nights: 1 } as never }))
    return {
      label,
      firstRun: waiting._tag,
      firstEvents: first.seen,
      receipt: done.context.receipt,
      tier: done.context.tier._tag,
      replayed: second.seen["Replayed"] ?? 0,
      invalidInput: bad._tag === "InvalidInput" ? bad.message : `unexpected ${bad._tag}`
    }
  }).pipe(Effect.provide(hotel))

/** Runs the scenario on `journal`; prints its result as JSON, or the typed failure and exit 1. */
export const main = (label: string, journal: Layer.Layer<Journal.Journal | RunStore.RunStore, unknown>) =>
  Effect.runPromise(
    scenario(label).pipe(
      Effect.provide(journal),
      Effect.match({
        onFailure: (error) => {
          console.log(JSON.stringify({ label, failure: error }))
          process.exitCode = 1
        },
        onSuccess: (result) => console.log(JSON.stringify(result))
      })
    )
  )
