/**
 * What a run knows while it executes: its journal as loaded once at the start, indexed for
 * O(1) lookups by the interpreter, and the batching writer for new entries.
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import { entryKey, type Journal, type JournalEntry, type JournalError, type Lease, type LoadedRun } from "../Journal.ts"
import type { Definition } from "./definition.ts"
import type { Ctx, StepNode } from "./node.ts"
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

/** A compensable step a rebuild reached: what its compensation is given. */
export interface Reached {
  readonly node: StepNode
  readonly output: unknown
  readonly ctx: Ctx
}

/** How a child run finished when its parent executed it in process. */
export type ChildOutcome =
  | { readonly _tag: "Completed"; readonly context: Ctx }
  | { readonly _tag: "Suspended"; readonly waitingFor: string }

/** What a run needs to start, await and replay its children. */
export interface ChildRuns {
  readonly load: (runId: string) => Effect.Effect<Option.Option<LoadedRun>, JournalError>
  /** The final context of a completed child, rebuilt from its journal. */
  readonly replay: (definition: Definition, loaded: LoadedRun) => Effect.Effect<Ctx, unknown, unknown>
  /** Executes a child in this fiber (`Workflow.run`); absent under a worker, where the parent waits instead. */
  readonly execute:
    | ((definition: Definition, runId: string, input: unknown) => Effect.Effect<ChildOutcome, unknown, unknown>)
    | undefined
}

export interface RunState {
  readonly runId: string
  readonly writer: Writer
  /** The executor's journal and lease, for what a run does beyond writing entries (children, slots). */
  readonly journal: Journal["Service"] | undefined
  readonly lease: Lease | undefined
  readonly children: ChildRuns | undefined
  /** The place the next compensable completion takes in the run's completion order. */
  readonly compensation: { next: number }
  /**
   * Set in a rebuild: the journal is replayed to learn what each completed compensable step saw,
   * recorded here by path. Nothing runs, nothing is written, and a step with no output stops its
   * branch (a `replay` suspension) unless it failed for good, which it replays.
   */
  readonly reached: Map<string, Reached> | undefined
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
  readonly journal?: Journal["Service"] | undefined
  readonly lease?: Lease | undefined
  readonly children?: ChildRuns | undefined
  readonly reached?: Map<string, Reached> | undefined
}): RunState => {
  const byKey = new Map<string, JournalEntry>()
  const attemptsByPath = new Map<string, Array<JournalEntry>>()
  let nextCompensable = 0
  for (const entry of options.entries) {
    byKey.set(entryKey(entry), entry)
    if (entry.kind === "compensable") nextCompensable = Math.max(nextCompensable, entry.seq + 1)
    if (entry.kind === "attempt") {
      const list = attemptsByPath.get(entry.path)
      if (list === undefined) attemptsByPath.set(entry.path, [entry])
      else list.push(entry)
    }
  }
  return {
    runId: options.runId,
    writer: options.writer,
    journal: options.journal,
    lease: options.lease,
    children: options.children,
    compensation: { next: nextCompensable },
    reached: options.reached,
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
