/**
 * Group commit for one run: step completions that arrive while a write is being prepared or
 * is in flight are written together, in one `Journal.append` (one transaction, one round
 * trip). Every caller waits until the batch holding its entry has committed, so a step is
 * never reported complete before its write is durable. An item of a pipelined fan-out gives its
 * slot to the next item while it waits (see `pipeline.ts`), so batches can outgrow the block's
 * concurrency.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import { JournalError, type LeaseLost } from "../WorkflowError.ts"
import { defaultMaxPayloadBytes, payloadIssue } from "./entry.ts"
import { hasInstantAppends } from "./instantAppends.ts"
import { awaitCommit } from "./pipeline.ts"
import type { Journal, JournalEntry, Lease } from "../Journal.ts"
import type { PipelineItem } from "./pipeline.ts"

interface Batch {
  readonly entries: Array<JournalEntry>
  readonly committed: Deferred.Deferred<void, WriteError>
}

type WriteError = JournalError | LeaseLost

export interface Writer {
  readonly write: (entry: JournalEntry) => Effect.Effect<void, WriteError>
  /**
   * Writes entries that must commit together (a step's output and its place in the completion
   * order), for a step that runs as `item` of a pipelined fan-out when it does (see `pipeline.ts`).
   */
  readonly writeAll: (
    entries: ReadonlyArray<JournalEntry>,
    item?: PipelineItem | undefined
  ) => Effect.Effect<void, WriteError>
  /**
   * Runs `effect`, which runs several fibers of this run at once (a parallel block, a race, a
   * concurrent forEach). Only while one is running can completions arrive together.
   */
  readonly concurrently: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Whether a bounded fan-out pipelines its items (see `pipeline.ts`): only a batching writer
   * does, and only on a journal whose appends wait for I/O.
   */
  readonly pipelines: boolean
}

/**
 * Writes under `lease`: every append is fenced by its token, so an executor that lost the run
 * writes nothing more for it. A value over the journal's bound is refused before it joins a
 * batch: only its own step fails, and the completions batched beside it are still written.
 */
export const makeWriter = (journal: Journal["Service"], lease: Lease, batching: boolean): Writer => {
  const append = (entries: ReadonlyArray<JournalEntry>) => journal.append(lease, entries)
  const writer: Writer = batching
    ? batchingWriter(append, !hasInstantAppends(journal))
    : { write: (entry) => append([entry]), writeAll: append, concurrently: (effect) => effect, pipelines: false }
  const limit = journal.maxPayloadBytes ?? defaultMaxPayloadBytes
  const writeAll = (entries: ReadonlyArray<JournalEntry>, item?: PipelineItem | undefined) => {
    for (const entry of entries) {
      const issue = payloadIssue(entry.value, limit)
      if (issue !== undefined) {
        return Effect.fail(
          new JournalError({ reason: "TooLarge", runId: lease.runId, path: entry.path, detail: issue })
        )
      }
    }
    return writer.writeAll(entries, item)
  }
  return {
    concurrently: writer.concurrently,
    write: (entry) => writeAll([entry]),
    writeAll,
    pipelines: writer.pipelines
  }
}

const batchingWriter = (
  append: (entries: ReadonlyArray<JournalEntry>) => Effect.Effect<void, WriteError>,
  pipelines: boolean
): Writer => {
  let open: Batch | undefined
  let inFlight: Deferred.Deferred<void, WriteError> | undefined
  let concurrent = 0

  // The leader of a batch waits for the previous batch (writes stay ordered and one at a time),
  // lets concurrently finishing fibers join, then writes. Uninterruptible: followers depend on it.
  // With one fiber running nobody can join, and the yield (a trip through the event loop) would
  // only delay every step of a sequential run.
  const lead = (batch: Batch) =>
    Effect.uninterruptible(Effect.gen(function*() {
      const previous = inFlight
      if (previous !== undefined) yield* Effect.exit(Deferred.await(previous))
      if (concurrent > 0) yield* Effect.yieldNow
      if (open === batch) open = undefined
      inFlight = batch.committed
      const exit = yield* Effect.exit(append(batch.entries))
      if (inFlight === batch.committed) inFlight = undefined
      Deferred.doneUnsafe(batch.committed, exit)
      return yield* exit
    }))

  // Opening a batch and starting to lead it is one uninterruptible move: a fiber interrupted in
  // between (a race loser, a failFast sibling) would leave `open` pointing at a batch nobody
  // writes, and every later write of the run would join it and wait forever. Followers stay
  // interruptible; their entry is written with the batch either way.
  // Entries pushed together land in one batch, in order: they commit together or not at all.
  // An item of a pipelined fan-out lets the next item start once its step's completion (an
  // output, written first) is queued; it still goes on only once the batch has committed.
  const writeAll = (entries: ReadonlyArray<JournalEntry>, item?: PipelineItem | undefined) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        // One fiber and no write in flight: nobody can join, and there is nothing to wait for.
        if (concurrent === 0 && open === undefined && inFlight === undefined) {
          return append(entries)
        }
        const committed = queue(entries, restore)
        return pipelines && entries[0]!.kind === "step" ? awaitCommit(item, committed, restore) : committed
      })
    )

  /** Puts `entries` in the open batch, or opens one: the wait for its commit. */
  const queue = (
    entries: ReadonlyArray<JournalEntry>,
    restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  ) => {
    if (open !== undefined) {
      open.entries.push(...entries)
      return restore(Deferred.await(open.committed))
    }
    const batch: Batch = { entries: [...entries], committed: Deferred.makeUnsafe<void, WriteError>() }
    open = batch
    return lead(batch)
  }

  return {
    concurrently: (effect) =>
      Effect.acquireUseRelease(
        Effect.sync(() => concurrent++),
        () => effect,
        () => Effect.sync(() => concurrent--)
      ),
    write: (entry) => writeAll([entry]),
    writeAll,
    pipelines
  }
}

/** The writer of a replay: a finished run has every entry it needs, so any write means its journal is incomplete. */
export const readOnlyWriter = (runId: string): Writer =>
  refusingWriter((entry) =>
    new JournalError({
      reason: "Corrupt",
      runId,
      path: entry.path,
      detail: `the run is finished but its journal has no ${entry.kind} entry here`
    })
  )

/** A writer that writes nothing: every write fails with what `refuse` makes of its first entry. */
export const refusingWriter = <E>(refuse: (entry: JournalEntry) => E): Writer => ({
  write: (entry) => Effect.fail(refuse(entry) as never),
  writeAll: (entries) => Effect.fail(refuse(entries[0]!) as never),
  concurrently: (effect) => effect,
  pipelines: false
})
