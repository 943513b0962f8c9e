/**
 * The testing kit, `plait/testing`, as an app's tests use it, without a test runner: the booking
 * driven through its sleep and its check-in signal on a memory journal, then crashed after every
 * step it completes. Its result is printed as JSON for the package test.
 */
import { Effect } from "effect"
import { Testing } from "plait/testing"
import { BookStay } from "./booking.js"
import { hotel } from "./scenario.js"

const input = { guest: "ada", seats: 2, nights: 3 }
const signals = [{ path: "checkedIn", value: { room: 12 } }] as const

/** Exported, so the app's declarations must name the kit's types through `plait/testing`. */
export const bookingTest = Testing.run(BookStay, { input, signals })

const program = Effect.gen(function*() {
  const report = yield* bookingTest
  const outcome = yield* report.exit
  const crashes = yield* Testing.crashAtEveryStep(BookStay, { input, signals })
  return {
    label: "testing",
    outcome: outcome._tag,
    receipt: outcome._tag === "Completed" ? outcome.context.receipt : undefined,
    reservations: report.executions["reservation"],
    starts: report.starts,
    crashes: crashes.crashes.length,
    completions: report.journal.entries.filter((entry) => entry.kind === "step").length
  }
}).pipe(Effect.provide(hotel))

console.log(JSON.stringify(await Effect.runPromise(program)))
