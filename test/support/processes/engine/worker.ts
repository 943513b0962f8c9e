/**
 * A worker process: `Worker.make` over the test's backend, executing one set of `flows.ts`, for
 * the engine's process tests to kill, stop and restart.
 *
 * Started as `node --conditions=plait-source test/support/processes/engine/worker.ts '<WorkerArgs as JSON>'`. It
 * prints `Ready <workerId>` once it claims runs, then the `SideEffect` and `Holding` lines of
 * `effects.ts`; with `traceWrites`, `Append <runId> <paths> <outcome>` after every journal
 * append it makes (`ok`, `LeaseLost`, another error's tag, or `interrupted`), and
 * `Release <runId> <status> <startMs> <endMs> <outcome>` after every release.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Context, Effect, Exit, Layer, Option } from "effect"
import { Journal, RunStore, Worker } from "plait"
import { type Backend, forProcess, journalLayer } from "./backend.ts"
import { say, sideEffectsLayer, type SideEffectsOptions } from "./effects.ts"
import { type WorkflowSet, workflowSets } from "./flows.ts"

export interface WorkerArgs extends SideEffectsOptions {
  readonly backend: Backend
  readonly workflows: WorkflowSet
  readonly leaseMs: number
  readonly concurrency: number
  readonly pollMs: number
  readonly maxPollMs: number
  readonly traceWrites?: boolean | undefined
}

const args = JSON.parse(process.argv[2] ?? "") as WorkerArgs

const outcomeOf = (exit: Exit.Exit<void, { readonly _tag: string }>) => {
  if (Exit.isSuccess(exit)) return "ok"
  const error = Cause.findErrorOption(exit.cause)
  return Option.isSome(error) ? error.value._tag : Cause.hasInterrupts(exit.cause) ? "interrupted" : "defect"
}

/** The backend's journal, with every append and release reported on stdout. */
const tracedJournal = (base: Layer.Layer<Journal.Journal | RunStore.RunStore, unknown>) =>
  Layer.effectContext(Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const store = yield* RunStore.RunStore
    const traced: Journal.Journal["Service"] = {
      ...journal,
      append: (lease, entries) =>
        Effect.onExit(
          journal.append(lease, entries),
          (exit) => say(`Append ${lease.runId} ${entries.map((entry) => entry.path).join(",")} ${outcomeOf(exit)}`)
        ),
      release: (lease, release) =>
        Effect.suspend(() => {
          const start = Date.now()
          return Effect.onExit(journal.release(lease, release), (exit) =>
            say(`Release ${lease.runId} ${release.status} ${start} ${Date.now()} ${outcomeOf(exit)}`))
        })
    }
    return Context.make(Journal.Journal, traced).pipe(Context.add(RunStore.RunStore, store))
  })).pipe(Layer.provide(base))

const base = journalLayer(forProcess(args.backend, args.label))

const program = Effect.scoped(Effect.gen(function*() {
  const worker = yield* Worker.make({
    workflows: workflowSets[args.workflows],
    concurrency: args.concurrency,
    leaseDuration: args.leaseMs,
    pollInterval: args.pollMs,
    maxPollInterval: args.maxPollMs,
    workerId: args.label
  })
  yield* say(`Ready ${worker.workerId}`)
  return yield* Effect.never
})).pipe(
  Effect.provide(Layer.merge(args.traceWrites === true ? tracedJournal(base) : base, sideEffectsLayer(args)))
)

NodeRuntime.runMain(program)
