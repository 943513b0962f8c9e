/**
 * What a run knows while it executes: its journal as loaded once at the start, indexed for
 * O(1) lookups by the interpreter, and the batching writer for new entries.
 */
import type * as Effect from "effect/Effect"
import type { JournalEntry } from "../Journal.ts"
import type { Writer } from "./writer.ts"

/**
 * A step's lifecycle as the interpreter reports it to an observer.
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

export type Observer = (event: StepEvent) => Effect.Effect<void>

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
}): RunState => {
  // Decisions and outputs are the seq-0 entries, looked up by kind then path: no key string is
  // built per lookup, nor per loaded entry (a resume of 10,000 steps did both 10,000 times).
  const byKind = new Map<JournalEntry["kind"], Map<string, JournalEntry>>()
  const attemptsByPath = new Map<string, Array<JournalEntry>>()
  for (const entry of options.entries) {
    if (entry.seq === 0) {
      const paths = byKind.get(entry.kind)
      if (paths === undefined) byKind.set(entry.kind, new Map([[entry.path, entry]]))
      else paths.set(entry.path, entry)
    }
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
    stored: (kind, path) => byKind.get(kind)?.get(path),
    attempts: (path) => historyOf(attemptsByPath.get(path)),
    replayFailures: false
  }
}

const noHistory: AttemptHistory = { failures: 0, nextSeq: 1, exhaustedWith: undefined }

const historyOf = (entries: ReadonlyArray<JournalEntry> | undefined): AttemptHistory => {
  if (entries === undefined) return noHistory
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
