/**
 * What a run knows while it executes: its journal as loaded once at the start, indexed for
 * O(1) lookups by the interpreter, and the batching writer for new entries.
 */
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { entryKey, type JournalEntry } from "../Journal.ts"
import type { Writer } from "./writer.ts"

/**
 * What the interpreter reports to an observer: a step's lifecycle, the waits of sleeps and
 * signals, and the decisions that are journaled so a resumed run repeats them. A decision read
 * back from the journal is reported again, with `replayed: true`.
 */
export type StepEvent =
  | { readonly _tag: "Started"; readonly runId: string; readonly path: string; readonly attempt: number }
  | { readonly _tag: "Completed"; readonly runId: string; readonly path: string; readonly attempt: number }
  | { readonly _tag: "Replayed"; readonly runId: string; readonly path: string }
  | {
    readonly _tag: "Failed"
    readonly runId: string
    readonly path: string
    readonly attempt: number
    readonly willRetry: boolean
  }
  | { readonly _tag: "Sleeping"; readonly runId: string; readonly path: string; readonly wakeAt: DateTime.Utc }
  | { readonly _tag: "Woke"; readonly runId: string; readonly path: string }
  | {
    readonly _tag: "AwaitingSignal"
    readonly runId: string
    readonly path: string
    readonly deadline: DateTime.Utc | undefined
  }
  | { readonly _tag: "SignalReceived"; readonly runId: string; readonly path: string }
  | {
    readonly _tag: "RaceWon"
    readonly runId: string
    readonly path: string
    readonly winner: string
    readonly replayed: boolean
  }
  | {
    readonly _tag: "BranchChosen"
    readonly runId: string
    readonly path: string
    readonly choice: string
    readonly replayed: boolean
  }
  | {
    readonly _tag: "LastWinsOrder"
    readonly runId: string
    readonly path: string
    readonly order: ReadonlyArray<string>
    readonly replayed: boolean
  }

export type Observer = (event: StepEvent) => Effect.Effect<void>

/** Reports `event` to the run's observer, if it has one. */
export const notify = (state: RunState, event: StepEvent): Effect.Effect<void> =>
  state.observer === undefined ? Effect.void : state.observer(event)

interface AttemptHistory {
  /** Failed attempts since the budget was last exhausted: what counts against the budget now. */
  readonly failures: number
  readonly nextSeq: number
  /** The failure that exhausted the budget, when that is the step's latest attempt (JSON text). */
  readonly exhaustedWith: string | undefined
}

interface AttemptRecord {
  readonly exhausted?: boolean
  readonly failure?: unknown
}

export interface RunState {
  readonly runId: string
  readonly writer: Writer
  readonly observer: Observer | undefined
  readonly stored: (kind: JournalEntry["kind"], path: string) => JournalEntry | undefined
  readonly attempts: (path: string) => AttemptHistory
  /** Under a worker: a durable sleep releases the run until its wake time instead of sleeping. */
  readonly suspendSleeps: boolean
  /**
   * Replaying a finished run: nothing runs and nothing is written; a step the journal lacks is a
   * corrupt journal.
   */
  readonly readOnly: boolean
  /**
   * Set inside a branch that a settled block recorded as failed: its steps replay the failure
   * that exhausted them instead of running again, so the block settles as it did before.
   */
  readonly replayFailures: boolean
}

export const makeRunState = (options: {
  readonly runId: string
  readonly entries: ReadonlyArray<JournalEntry>
  readonly writer: Writer
  readonly observer: Observer | undefined
  readonly suspendSleeps?: boolean | undefined
  readonly readOnly?: boolean | undefined
}): RunState => {
  const byKey = new Map<string, JournalEntry>()
  const attemptsByPath = new Map<string, Array<JournalEntry>>()
  for (const entry of options.entries) {
    byKey.set(entryKey(entry), entry)
    if (entry.kind === "attempt") {
      const list = attemptsByPath.get(entry.path)
      if (list === undefined) attemptsByPath.set(entry.path, [entry])
      else list.push(entry)
    }
  }
  return {
    runId: options.runId,
    writer: options.writer,
    observer: options.observer,
    stored: (kind, path) => byKey.get(entryKey({ kind, path, seq: 0 })),
    attempts: (path) => historyOf(attemptsByPath.get(path)),
    suspendSleeps: options.suspendSleeps ?? false,
    readOnly: options.readOnly ?? false,
    replayFailures: false
  }
}

const historyOf = (entries: ReadonlyArray<JournalEntry> | undefined): AttemptHistory => {
  if (entries === undefined) return { failures: 0, nextSeq: 1, exhaustedWith: undefined }
  const sorted = [...entries].sort((a, b) => a.seq - b.seq)
  let failures = 0
  let last: AttemptRecord = {}
  for (const entry of sorted) {
    last = parseAttempt(entry)
    failures = last.exhausted === true ? 0 : failures + 1
  }
  return {
    failures,
    nextSeq: sorted[sorted.length - 1]!.seq + 1,
    exhaustedWith: last.exhausted === true && "failure" in last ? JSON.stringify(last.failure) : undefined
  }
}

const parseAttempt = (entry: JournalEntry): AttemptRecord => {
  try {
    return JSON.parse(entry.value) as AttemptRecord
  } catch {
    return {}
  }
}
