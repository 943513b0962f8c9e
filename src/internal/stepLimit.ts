/**
 * Global concurrency limits: a step with `limit: { key, max }` runs each attempt holding one of
 * the key's `max` slots, taken from the journal's store so the bound holds across every executor
 * sharing it. A slot is given back when the attempt ends, however it ends; a holder that dies
 * holds it only until its lease runs out.
 *
 * Without a free slot, a run under a worker suspends (its worker slot is freed, so a pool whose
 * runs all wait cannot deadlock) and is woken when a slot of the key is given back, or at the
 * latest when the earliest holder's lease would run out. Under `Workflow.run`, which has nobody
 * to wake it, the run polls.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { suspendOn } from "./suspend.ts"
import type { ConcurrencyLimit } from "./node.ts"
import type { RunState } from "./runState.ts"

type Held<A> =
  | { readonly _tag: "Ran"; readonly value: A }
  | { readonly _tag: "Full"; readonly claim: { readonly acquired: false; readonly retryAt: number | undefined } }

const firstPollMs = 50
const maxPollMs = 1_000

/** Runs `effect` holding a slot of `limit` (when there is one) for the step at `path`. */
export const withSlot = <A, E, R>(
  limit: ConcurrencyLimit | undefined,
  path: string,
  state: RunState,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, unknown, R> => {
  const mode = state.mode
  // Only an executing run takes slots: a replay runs no step.
  if (limit === undefined || mode._tag !== "Executing") return effect
  const { driver, journal, lease } = mode
  const request = { key: limit.key, max: limit.max, path }
  // Taking the slot and arranging its return are one uninterruptible move, so an interruption
  // in between cannot leave a slot held by a run that no longer runs the step.
  const holding: Effect.Effect<Held<A>, unknown, R> = Effect.acquireUseRelease(
    journal.acquireSlot(lease, request),
    (claim): Effect.Effect<Held<A>, E, R> =>
      claim.acquired
        ? Effect.map(effect, (value) => ({ _tag: "Ran", value }))
        : Effect.succeed({ _tag: "Full", claim }),
    (claim) => (claim.acquired ? Effect.ignore(journal.releaseSlot(lease, request)) : Effect.void)
  )
  return Effect.gen(function*() {
    let pollMs = firstPollMs
    while (true) {
      const held = yield* holding
      if (held._tag === "Ran") return held.value
      const retryAt = held.claim.retryAt
      if (driver._tag === "Worker") return yield* Effect.fail(suspendOn({ path, kind: "limit", until: retryAt }))
      const now = yield* Clock.currentTimeMillis
      const untilExpiry = retryAt === undefined ? pollMs : Math.max(1, retryAt - now)
      yield* Effect.sleep(Math.min(pollMs, untilExpiry))
      pollMs = Math.min(maxPollMs, pollMs * 2)
    }
  })
}
