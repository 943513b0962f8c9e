/**
 * What a run knows while its definition is walked: how it is walked (its `Mode`: executing under
 * a lease, replaying a finished run, or rebuilding what compensations need), its journal as
 * loaded once at the start, indexed for O(1) lookups by the interpreter, and the writer for new
 * entries.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as DateTime from "effect/DateTime"
import type * as Option from "effect/Option"
import { isEntryKind } from "./entry.ts"
import * as Formats from "./formats.ts"
import type { Journal, JournalEntry, Lease, LoadedRun } from "../Journal.ts"
import type { JournalError } from "../WorkflowError.ts"
import type { Definition } from "./definition.ts"
import type { LeaseDeadline } from "./leaseDeadline.ts"
import type { Ctx, StepNode } from "./node.ts"
import type { PipelineItem } from "./pipeline.ts"
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
  /** The failure that exhausted the budget, when that is the step's latest attempt. */
  readonly exhaustedWith: ExhaustedFailure | undefined
}

export interface ExhaustedFailure {
  /** As the attempt record holds it: through the step's `error` schema when `typed`, else the error's plain fields. */
  readonly failure: unknown
  readonly typed: boolean
}

/** A compensable step a rebuild reached: what its compensation is given. */
export interface Reached {
  readonly node: StepNode
  readonly compensate: NonNullable<StepNode["compensate"]>
  readonly output: unknown
  readonly ctx: Ctx
}

/** How a child run finished when its parent executed it in process. */
export type ChildOutcome =
  | { readonly _tag: "Completed"; readonly context: Ctx }
  | { readonly _tag: "Suspended"; readonly waitingFor: string }

/** What a run needs to read its children back: load them, and replay a completed one. */
export interface ChildRuns {
  readonly load: (runId: string) => Effect.Effect<Option.Option<LoadedRun>, JournalError>
  /** The final context of a completed child, rebuilt from its journal. */
  readonly replay: (definition: Definition, loaded: LoadedRun) => Effect.Effect<Ctx, unknown, unknown>
}

/**
 * Who drives an executing run. A worker releases the run for a durable wait (a sleep, a full
 * limit, a child) and is woken by the store; a caller (`Workflow.run`) has nobody to wake it, so
 * it sleeps and polls in process and executes a child in its own fiber.
 */
export type Driver =
  | { readonly _tag: "Worker" }
  | {
    readonly _tag: "Caller"
    readonly executeChild: (
      definition: Definition,
      runId: string,
      input: unknown
    ) => Effect.Effect<ChildOutcome, unknown, unknown>
  }

/** How a run's journal is being walked. */
export type Mode =
  /** Steps run, and what they do is journaled under the run's lease. */
  | {
    readonly _tag: "Executing"
    /** The executor's journal (fenced by the lease), for what a run does beyond writing entries (children, slots). */
    readonly journal: Journal["Service"]
    readonly lease: Lease
    /** The lease's local deadline: no step or attempt starts past it. */
    readonly deadline: LeaseDeadline
    readonly driver: Driver
  }
  /** A finished run: nothing runs and nothing is written; a step the journal lacks is a corrupt journal. */
  | { readonly _tag: "Replaying" }
  /**
   * The journal is replayed to learn what each completed compensable step saw, recorded in
   * `reached` by path. Nothing runs, nothing is written, and a step with no output stops its
   * branch (a `replay` suspension) unless it failed for good, which it replays.
   */
  | { readonly _tag: "Rebuilding"; readonly reached: Map<string, Reached> }

export interface RunState {
  readonly runId: string
  readonly mode: Mode
  readonly writer: Writer
  readonly children: ChildRuns
  /** When `Engine.resume` cut the run's sleeps short (its `resumed` entries), earliest first. */
  readonly resumedAt: ReadonlyArray<number>
  /** The place the next compensable completion takes in the run's completion order. */
  readonly compensation: { next: number }
  readonly observer: Observer | undefined
  readonly stored: (kind: JournalEntry["kind"], path: string) => JournalEntry | undefined
  readonly attempts: (path: string) => Exit.Exit<AttemptHistory, JournalError>
  /**
   * Inside a branch of a settled block, the outcome the block recorded for it. In a branch
   * recorded as failed, steps replay the failure that exhausted them instead of running again;
   * in one recorded as succeeded, every step must replay its journaled output. Either way the
   * block settles as it did before. `open` everywhere else.
   */
  readonly recorded: "open" | "failed" | "succeeded"
  /**
   * The item of a pipelined fan-out these steps run as, holding one of its block's slots:
   * passed down to the item's own steps, never to the fibers of a block nested in it.
   */
  readonly item: PipelineItem | undefined
}

/** The run state of the task a fan-out or a race runs in a fiber of its own: in no pipelined item. */
export const inOwnFiber = (state: RunState): RunState =>
  state.item === undefined ? state : { ...state, item: undefined }

/**
 * Indexes a run's entries. Each must have a kind this version knows and the number its kind
 * allows (attempts count from 1, failures by the execution that ended, every other kind has one
 * entry per path, at 0): an entry that does not is corrupt, and so is the run. A compensable
 * step's place in the completion order (its entry's value) must be a whole number.
 */
export const makeRunState = (options: {
  readonly runId: string
  readonly entries: ReadonlyArray<JournalEntry>
  readonly mode: Mode
  readonly writer: Writer
  readonly children: ChildRuns
  readonly observer: Observer | undefined
}): Exit.Exit<RunState, JournalError> => {
  // Decisions and outputs (the entries at seq 0) are looked up by kind then path: no key string
  // is built per lookup, nor per loaded entry (a resume of 10,000 steps did both 10,000 times).
  const byKind = new Map<JournalEntry["kind"], Map<string, JournalEntry>>()
  const attemptsByPath = new Map<string, Array<JournalEntry>>()
  let nextCompensable = 0
  const resumedAt: Array<number> = []
  for (const entry of options.entries) {
    if (entry.kind === "resumed") {
      if (!(Number.isSafeInteger(entry.seq) && entry.seq >= 0)) {
        return corruptEntry(options.runId, entry, `a resume numbered ${entry.seq}`)
      }
      const at = Formats.resumed.decode(options.runId, entry.path, entry.value)
      if (Exit.isFailure(at)) return Exit.failCause(at.cause)
      resumedAt.push(at.value)
      continue
    }
    if (entry.kind === "attempt") {
      if (!(Number.isSafeInteger(entry.seq) && entry.seq >= 1)) {
        return corruptEntry(options.runId, entry, `an attempt numbered ${entry.seq}`)
      }
      const list = attemptsByPath.get(entry.path)
      if (list === undefined) attemptsByPath.set(entry.path, [entry])
      else list.push(entry)
    } else if (entry.kind === "failed") {
      if (!(Number.isSafeInteger(entry.seq) && entry.seq >= 1)) {
        return corruptEntry(options.runId, entry, `a failure numbered ${entry.seq}`)
      }
    } else if (entry.seq !== 0 || !isEntryKind(entry.kind)) {
      return corruptEntry(
        options.runId,
        entry,
        isEntryKind(entry.kind)
          ? `a ${entry.kind} entry numbered ${entry.seq}, not 0`
          : `unknown entry kind ${JSON.stringify(entry.kind)}`
      )
    }
    if (entry.kind === "compensable") {
      const order = completionOrderOf(options.runId, entry)
      if (Exit.isFailure(order)) return Exit.failCause(order.cause)
      nextCompensable = Math.max(nextCompensable, order.value + 1)
    }
    if (entry.seq === 0) {
      const paths = byKind.get(entry.kind)
      if (paths === undefined) byKind.set(entry.kind, new Map([[entry.path, entry]]))
      else paths.set(entry.path, entry)
    }
  }
  return Exit.succeed({
    runId: options.runId,
    mode: options.mode,
    writer: options.writer,
    children: options.children,
    resumedAt: resumedAt.sort((a, b) => a - b),
    compensation: { next: nextCompensable },
    observer: options.observer,
    stored: (kind, path) => byKind.get(kind)?.get(path),
    attempts: (path) => historyOf(options.runId, path, attemptsByPath.get(path)),
    recorded: "open",
    item: undefined
  })
}

/** A compensable step's place in the run's completion order, as its entry holds it. */
export const completionOrderOf = (runId: string, entry: JournalEntry): Exit.Exit<number, JournalError> =>
  Formats.completionOrder.decode(runId, entry.path, entry.value)

const corruptEntry = (runId: string, entry: JournalEntry, detail: string) =>
  Exit.fail(Formats.corrupt(runId, entry.path, detail))

const noHistory: Exit.Exit<AttemptHistory, JournalError> = Exit.succeed({
  failures: 0,
  nextSeq: 1,
  exhaustedWith: undefined
})

const historyOf = (
  runId: string,
  path: string,
  entries: ReadonlyArray<JournalEntry> | undefined
): Exit.Exit<AttemptHistory, JournalError> => {
  if (entries === undefined) return noHistory
  const sorted = [...entries].sort((a, b) => a.seq - b.seq)
  let failures = 0
  let last: Formats.AttemptRecord | undefined
  for (let i = 0; i < sorted.length; i++) {
    const entry = sorted[i]!
    const corrupt = (detail: string) => Exit.fail(Formats.corrupt(runId, path, `attempt ${entry.seq}: ${detail}`))
    // Attempts are written one after another, each numbered after the last: a gap is a lost row.
    if (entry.seq !== i + 1) return corrupt(`expected attempt ${i + 1}; attempts are numbered from 1 without gaps`)
    const decoded = Formats.attempt.decode(runId, path, entry.value)
    if (Exit.isFailure(decoded)) return corrupt((Cause.squash(decoded.cause) as JournalError).detail)
    last = decoded.value
    if (last.attempt !== failures + 1) {
      return corrupt(`it says attempt ${last.attempt} where the records before it make it ${failures + 1}`)
    }
    failures = last.exhausted ? 0 : failures + 1
  }
  return Exit.succeed({
    failures,
    nextSeq: sorted.length + 1,
    exhaustedWith: last?.exhausted === true ? { failure: last.failure, typed: last.typed } : undefined
  })
}
