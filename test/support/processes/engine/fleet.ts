/**
 * A fleet of worker processes and the killer that goes through it: about every second it
 * SIGKILLs a random worker (one that is up and claiming) and starts a fresh one in its place.
 * It never kills the last worker that is up: on a loaded machine a start can take seconds, and
 * killing faster than workers start would leave none running.
 * Each start is an incarnation with its own label (`w2.3`: slot 2, third start), so its
 * side-effect log and its leases tell it apart from the one it replaced.
 */
import { Effect, Random, type Scope } from "effect"
import { type Child, isReady } from "./processes.ts"

export interface Fleet {
  /** The killer: runs until interrupted. */
  readonly killer: Effect.Effect<void, Error, Scope.Scope>
  /** How many workers it killed so far. */
  readonly kills: () => number
  /** Every worker started so far, killed or alive, for failure messages. */
  readonly describe: () => string
}

/** Starts `size` workers and waits until each is ready; `spawn` starts one under a label. */
export const makeFleet = (
  size: number,
  spawn: (label: string) => Effect.Effect<Child, never, Scope.Scope>
): Effect.Effect<Fleet, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const slots: Array<{ child: Child; incarnation: number }> = []
    const started: Array<Child> = []
    const startIn = (slot: number, incarnation: number) =>
      Effect.map(spawn(`w${slot + 1}.${incarnation}`), (child) => {
        started.push(child)
        slots[slot] = { child, incarnation }
        return child
      })

    for (let slot = 0; slot < size; slot++) yield* startIn(slot, 1)
    for (const { child } of slots) yield* child.waitFor("Ready", isReady)

    let kills = 0
    const killer = Effect.forever(Effect.gen(function*() {
      yield* Effect.sleep(yield* Random.nextIntBetween(500, 1500))
      const died = slots.find((entry) => entry.child.ended() !== undefined)
      if (died !== undefined) return yield* Effect.fail(new Error(`a worker died on its own: ${died.child.describe()}`))
      const up = slots.flatMap((entry, slot) => (entry.child.lines.some(isReady) ? [slot] : []))
      if (up.length < 2) return
      const slot = up[yield* Random.nextIntBetween(0, up.length - 1)]!
      const { child, incarnation } = slots[slot]!
      child.kill("SIGKILL")
      yield* child.exit
      kills++
      yield* startIn(slot, incarnation + 1)
    }))

    return {
      killer,
      kills: () => kills,
      describe: () => started.map((child) => child.describe()).join("\n\n")
    }
  })
