/**
 * Crash at every step: the run is driven once without a crash, to learn how many completions
 * (step outputs and finished compensations) it journals; then once per completion, on a fresh
 * memory journal that goes down right after that completion commits, as a process dies. The
 * run is resumed on the same journal, brought back up, and must neither run a journaled step
 * again nor end otherwise than the run that never crashed.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { isDeepStrictEqual } from "node:util"
import { Journal, type JournalEntry, makeMemory } from "../Journal.ts"
import { RunStore } from "../RunStore.ts"
import { run as runWorkflow } from "../Workflow.ts"
import { JournalError } from "../WorkflowError.ts"
import type { Driver } from "./drive.ts"
import { ResumeDiverged } from "./errors.ts"
import {
  type Backend,
  driveRun,
  makeScript,
  pathIn,
  type Recording,
  type RunSettings,
  type ScriptedSignal
} from "./runner.ts"

/** The entries a crash point follows: what a step's or a compensation's completion writes. */
const isCompletion = (entry: JournalEntry): boolean => entry.kind === "step" || entry.kind === "compensated"

export interface CrashPoint {
  readonly completions: number
  readonly path: string
  readonly crashed: Recording
  readonly resumed: Recording
}

export interface CrashSettings extends Omit<RunSettings, "crashed" | "batching" | "until"> {
  readonly signals: ReadonlyArray<ScriptedSignal>
  readonly timeLimit: number
  readonly equivalent: ((reference: unknown, resumed: unknown) => boolean) | undefined
}

export const crashAtEveryStep = (driver: Driver, settings: CrashSettings) =>
  Effect.gen(function*() {
    const start = driver.now()
    const drive = (backend: Backend, crashed: () => boolean, script = makeScript(settings.signals, start)) =>
      driveRun(
        driver,
        backend,
        { ...settings, batching: false, crashed, until: driver.now() + settings.timeLimit },
        script
      )

    const referenceBackend = makeMemory()
    const reference = yield* drive(referenceBackend, () => false)
    const completions = (reference.journal?.entries ?? []).filter(isCompletion).length
    const referenceContext = yield* finalContext(settings, referenceBackend, reference)

    const points: Array<CrashPoint> = []
    for (let k = 1; k <= completions; k++) {
      const backend = crashingBackend(makeMemory(), settings.runId, k)
      const script = makeScript(settings.signals, driver.now())
      const crashed = yield* drive(backend, () => backend.down, script)
      const diverged = (crashedAfter: string, detail: string) =>
        new ResumeDiverged({ runId: settings.runId, crashedAfter, completions: k, detail })
      if (!crashed.crashed || backend.crashedAfter === undefined) {
        return yield* diverged(
          "(no crash)",
          `the run journaled fewer than ${k} completions, where the run that never crashed journaled ${completions}: it does not run the same way twice`
        )
      }
      const after = backend.crashedAfter
      const journaled = new Set(backend.journaledAtCrash)
      backend.restart()
      const resumed = yield* drive(backend, () => false, script)
      const reran = Object.keys(resumed.executions).filter((path) => journaled.has(path))
      if (reran.length > 0) {
        return yield* diverged(after, `it ran ${reran.join(", ")} again, though the journal held its completion`)
      }
      const difference = yield* differenceOf(settings, reference, referenceContext, backend, resumed)
      if (difference !== undefined) return yield* diverged(after, difference)
      points.push({ completions: k, path: after, crashed, resumed })
    }
    return { reference, points }
  })

/**
 * A memory journal that goes down right after the write that journals completion number
 * `crashAt` commits: that write and every later operation fail as an unreachable store would,
 * until `restart`. What was journaled at the crash is kept for the checks.
 */
const crashingBackend = (memory: Backend, root: string, crashAt: number) => {
  let completions = 0
  // The run and its children: whatever wrote to this journal.
  const runs = new Set<string>()
  const state = {
    down: false,
    crashedAfter: undefined as string | undefined,
    /** The completions journaled when it went down, by the path the kit names them with. */
    journaledAtCrash: [] as ReadonlyArray<string>
  }
  const inner = memory.journal
  const unavailable = (runId: string) =>
    Effect.fail(new JournalError({ reason: "Unavailable", runId, detail: "the process crashed (simulated)" }))
  const guarded = <A, E>(runId: string, effect: () => Effect.Effect<A, E>): Effect.Effect<A, E | JournalError> =>
    Effect.suspend((): Effect.Effect<A, E | JournalError> => (state.down ? unavailable(runId) : effect()))
  const journal: Journal["Service"] = {
    ...inner,
    acquire: (run, options) => guarded(run.runId, () => inner.acquire(run, options)),
    load: (runId) => guarded(runId, () => inner.load(runId)),
    heartbeat: (owner, leases, leaseMs) => guarded(owner, () => inner.heartbeat(owner, leases, leaseMs)),
    release: (lease, release) => guarded(lease.runId, () => inner.release(lease, release)),
    startChild: (lease, child) => guarded(lease.runId, () => inner.startChild(lease, child)),
    acquireSlot: (lease, request) => guarded(lease.runId, () => inner.acquireSlot(lease, request)),
    releaseSlot: (lease, request) => guarded(lease.runId, () => inner.releaseSlot(lease, request)),
    append: (lease, entries) =>
      guarded(lease.runId, () =>
        Effect.flatMap(inner.append(lease, entries), () => {
          runs.add(lease.runId)
          const before = completions
          const completed = entries.filter(isCompletion)
          completions += completed.length
          if (before >= crashAt || completions < crashAt) return Effect.void
          state.down = true
          state.crashedAfter = pathIn(root, lease.runId, completed[crashAt - before - 1]!.path)
          return Effect.flatMap(
            Effect.forEach([...runs], (runId) =>
              Effect.map(inner.load(runId), (loaded) =>
                loaded._tag === "Some"
                  ? loaded.value.entries.filter(isCompletion).map((entry) => pathIn(root, runId, entry.path))
                  : [])),
            (paths) => {
              state.journaledAtCrash = paths.flat()
              return unavailable(lease.runId)
            }
          )
        }))
  }
  return {
    journal,
    store: memory.store,
    get down() {
      return state.down
    },
    get crashedAfter() {
      return state.crashedAfter
    },
    get journaledAtCrash() {
      return state.journaledAtCrash
    },
    /** The process comes back: the journal answers again. */
    restart: () => {
      state.down = false
    }
  }
}

/**
 * The context a completed run ends with, as its journal replays it: decoded through the step
 * schemas on both sides, so a value a step returned and one replayed compare alike.
 */
const finalContext = (settings: CrashSettings, backend: Backend, record: Recording) =>
  Exit.isSuccess(record.exit) && (record.exit.value as { readonly _tag: string })._tag === "Completed"
    ? Effect.map(
      runWorkflow(settings.workflow, { input: settings.input, runId: settings.runId }).pipe(
        Effect.provideService(Journal, backend.journal),
        Effect.provideService(RunStore, backend.store)
      ),
      (outcome) => (outcome as { readonly context?: unknown }).context
    )
    : Effect.void

/** How the resumed run ended otherwise than the reference, or `undefined` when it did not. */
const differenceOf = (
  settings: CrashSettings,
  reference: Recording,
  referenceContext: unknown,
  backend: Backend,
  resumed: Recording
) =>
  Effect.gen(function*() {
    const expected = describeEnd(reference.exit)
    const actual = describeEnd(resumed.exit)
    if (
      expected.kind !== actual.kind
    ) return `it ended ${actual.kind}, where the run that never crashed ended ${expected.kind}`
    if (expected.kind === "completed") {
      const context = yield* finalContext(settings, backend, resumed)
      const same = settings.equivalent === undefined
        ? isDeepStrictEqual(context, referenceContext)
        : settings.equivalent(referenceContext, context)
      return same
        ? undefined
        : `its final context ${show(context)} differs from the final context of the run that never crashed, ${
          show(referenceContext)
        }`
    }
    return isDeepStrictEqual(actual.detail, expected.detail)
      ? undefined
      : `it ended ${actual.kind} with ${
        show(actual.detail)
      }, where the run that never crashed ended ${expected.kind} with ${show(expected.detail)}`
  })

const describeEnd = (exit: Exit.Exit<unknown, unknown>): { readonly kind: string; readonly detail: unknown } => {
  if (Exit.isSuccess(exit)) {
    const outcome = exit.value as { readonly _tag: string; readonly waitingFor?: string }
    return outcome._tag === "Completed"
      ? { kind: "completed", detail: undefined }
      : { kind: "suspended", detail: outcome.waitingFor }
  }
  const error = Cause.squash(exit.cause)
  return { kind: "failed", detail: fieldsOf(error) }
}

/** An error's own fields with its tag and message: what two runs' failures are compared by. */
const fieldsOf = (error: unknown): unknown =>
  error instanceof Error
    ? { ...error, name: error.name, message: error.message }
    : error

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
