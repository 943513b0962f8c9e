/**
 * Pipelined fan-out: a block's `concurrency` bounds the items that are running, not the items
 * waiting for their steps' completions to commit.
 *
 * An item of a block with `concurrency: n` holds one of the block's `n` slots from when it
 * starts until it ends, except while its own fiber waits in the run's batching writer for the
 * commit of a step's completion (the step's output): it gives its slot back once that is queued,
 * so the next item starts while the batch is written, and takes a slot again after the commit,
 * before it goes on (ahead of the items not started yet). An item that is one step ends with that
 * commit and takes no slot again. Every other write (a failed attempt, a choice, a wake time) is
 * waited for holding the slot, as is a block nested in the item (a `parallel` in a `forEach`
 * body), whose branches run in fibers of their own under that block's own slots.
 *
 * So at most `n` items run at once whatever the journal's latency, and a batch holds what
 * completed while the one before it was written: batches grow with the write latency instead of
 * stopping at `n`. Nothing is reported sooner: an item's completion, the block's result, an
 * observer's `Completed` event and whatever depends on them still wait for the commit. A second
 * bound ({@link inFlightFor}) caps the items started and not ended (running, waiting for a slot
 * or waiting for a commit), so a stalled journal holds a bounded number of pending completions,
 * and a crash loses the completions of at most that many items.
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/**
 * How many items may be in flight at once under `concurrency`: at most this many completions
 * wait for their commits, which is what a batch can hold. On Postgres here (docs/benchmarks.md)
 * a 1,000-item forEach at 16 wrote batches of exactly this size whenever it was 32–512: 64 made
 * 0.018 round trips per item, 128 made 0.010 with no slower a run than 256 or 512.
 */
export const inFlightFor = (concurrency: number): number => Math.max(128, 8 * concurrency)

/**
 * One item of a pipelined fan-out: whether it holds a slot, and whether it is one step. The
 * item's task is handed it, and passes it down to the steps it runs in its own fiber.
 */
export interface PipelineItem {
  readonly slots: Slots
  held: boolean
  /** The item is one step, so the commit of its completion is the last thing it waits for. */
  readonly oneStep: boolean
}

type Item = PipelineItem

/** An item waiting for a slot: it holds one as soon as it is handed one, before `resume` runs. */
interface Waiter {
  readonly item: Item
  readonly resume: () => void
}

/** The `n` slots of one fan-out, handed out to the items going on after a commit first. */
export class Slots {
  private free: number
  private readonly goingOn: Array<Waiter> = []
  private readonly starting: Array<Waiter> = []

  constructor(n: number) {
    this.free = n
  }

  /**
   * Takes a slot for `item`, waiting for one if none is free. The slot is the item's (`held`) as
   * soon as it is handed over, so an item interrupted while its resumption is on its way still
   * gives it back when it ends.
   */
  take(item: Item, queue: "goingOn" | "starting"): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.free > 0) {
        this.free--
        item.held = true
        return resume(Effect.void)
      }
      const waiter: Waiter = { item, resume: () => resume(Effect.void) }
      this[queue].push(waiter)
      // Interrupted while waiting: out of the queue, unless it was handed a slot already.
      return Effect.sync(() => {
        const queued = this[queue]
        const at = queued.indexOf(waiter)
        if (at >= 0) queued.splice(at, 1)
      })
    })
  }

  /**
   * Gives `item`'s slot to the next waiter, or frees it. The waiter's fiber is resumed by the
   * scheduler, not inline: an inline resumption would run that item up to its own write, which
   * gives its slot on, and so on, one stack frame deeper per item.
   */
  give(item: Item, fiber: Fiber.Fiber<unknown, unknown>): void {
    item.held = false
    const next = this.goingOn.shift() ?? this.starting.shift()
    if (next === undefined) {
      this.free++
      return
    }
    next.item.held = true
    fiber.currentDispatcher.scheduleTask(next.resume, 0)
  }
}

/**
 * Runs each item of a fan-out under `concurrency` slots, pipelined. `run(index, item)` is the
 * item's task, which hands `item` to the steps it runs; `oneStep(index)` says whether it is one
 * step. Call it inside an `Effect.forEach` bounded by {@link inFlightFor}, one fiber per item.
 */
export const pipelined = (
  concurrency: number,
  run: (index: number, item: PipelineItem) => Effect.Effect<unknown, unknown, unknown>,
  oneStep: (index: number) => boolean
) => {
  const slots = new Slots(concurrency)
  return (index: number): Effect.Effect<unknown, unknown, unknown> =>
    Effect.suspend(() => {
      const item: Item = { slots, held: false, oneStep: oneStep(index) }
      return Effect.onExit(
        Effect.andThen(slots.take(item, "starting"), () => run(index, item)),
        () => item.held ? Effect.withFiber((fiber) => Effect.sync(() => slots.give(item, fiber))) : Effect.void
      )
    })
}

/**
 * Waits for `commit`, the commit of a step's completion just queued by `item`, if it runs as a
 * pipelined item: its slot goes to the next item meanwhile, and is taken back after the commit
 * (interruptibly: `restore`) unless the item is that one step. A failed commit ends the item: it
 * takes no slot back for that.
 */
export const awaitCommit = <E>(
  item: PipelineItem | undefined,
  commit: Effect.Effect<void, E>,
  restore: (effect: Effect.Effect<void>) => Effect.Effect<void>
): Effect.Effect<void, E> => {
  if (item === undefined || !item.held) return commit
  return Effect.withFiber((fiber) => {
    item.slots.give(item, fiber)
    return item.oneStep ? commit : Effect.andThen(commit, restore(item.slots.take(item, "goingOn")))
  })
}
