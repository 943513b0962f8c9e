/**
 * The workflows the engine's process tests run, shared by the processes that execute them and
 * the tests that check them.
 *
 * Steps start by recording their execution through `SideEffects` (all but the ones that never
 * finish or only read the context): a process appends it to a log file it cannot roll back
 * (fsync'd before the step goes on), which is how a test sees which steps really ran, where and
 * when. Each run's input carries its run id, so a step knows which run it belongs to.
 */
import { Context, Effect, Schema } from "effect"
import { Workflow } from "plait"

/** What a step does outside its run, as the process executing it implements it. */
export class SideEffects extends Context.Service<SideEffects, {
  /** Records that this process starts executing `path` of `runId`; returns the process's label. */
  readonly record: (runId: string, path: string) => Effect.Effect<string>
  /** Holds the step until the test lets this process or this run go on (see `effects.ts`). */
  readonly hold: (runId: string, path: string) => Effect.Effect<void>
}>()("plait-test/SideEffects") {}

const record = (runId: string, path: string) => SideEffects.use((effects) => effects.record(runId, path))

/** Records the execution, then holds the step; returns the process's label. */
const recordThenHold = (runId: string, path: string) =>
  Effect.flatMap(record(runId, path), (by) => Effect.as(SideEffects.use((effects) => effects.hold(runId, path)), by))

/** A small stable hash, to spread step durations without randomness. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** A step's work: the recorded execution, a few milliseconds, then the value. */
const work = <A>(runId: string, path: string, value: A): Effect.Effect<A, never, SideEffects> =>
  Effect.andThen(record(runId, path), Effect.as(Effect.sleep(5 + (hash(`${runId}/${path}`) % 15)), value))

/** The signal every signalled workflow here waits for; its value is a function of the run id. */
export const Approval = Schema.Struct({ approved: Schema.Boolean, by: Schema.String })

export const approvalFor = (runId: string): typeof Approval.Type => ({ approved: true, by: `ops:${runId}` })

const ById = Schema.Struct({ id: Schema.String })

// -------------------------------------------------------------------------------------------
// (a), (b): every combinator, a durable sleep and a signal
// -------------------------------------------------------------------------------------------

export const ChaosInput = Schema.Struct({ id: Schema.String, n: Schema.Number, items: Schema.Array(Schema.Number) })

export const chaosInput = (runId: string, n: number): typeof ChaosInput.Type => ({
  id: runId,
  n,
  items: Array.from({ length: 3 + (n % 4) }, (_, i) => (n * 7 + i * 3) % 10 + 1)
})

/**
 * Every output is a deterministic function of the input, earlier outputs and the signal, so a
 * run killed and resumed any number of times must end with an uncrashed run's context. The race
 * has a branch that never finishes, so its winner does not depend on timing.
 */
export const ChaosFlow = Workflow.make("engine_chaos", { input: ChaosInput }).pipe(
  Workflow.step(
    "validated",
    { success: Schema.String },
    (ctx) => work(ctx.input.id, "validated", `${ctx.input.id}:ok`)
  ),
  Workflow.parallel("prepare", {
    price: Workflow.step(
      "priced",
      { success: Schema.Number },
      (ctx) => work(ctx.input.id, "prepare/price/priced", ctx.input.items.reduce((sum, item) => sum + item * 3, 0))
    ),
    stock: Workflow.sequence(
      Workflow.step(
        "reserved",
        { success: Schema.String },
        (ctx) => work(ctx.input.id, "prepare/stock/reserved", `res:${ctx.validated}`)
      ),
      Workflow.step(
        "counted",
        { success: Schema.Number },
        (ctx) => work(ctx.input.id, "prepare/stock/counted", ctx.input.items.length)
      )
    ),
    audit: Workflow.step(
      "audited",
      { success: Schema.Array(Schema.String) },
      (ctx) => work(ctx.input.id, "prepare/audit/audited", [ctx.input.id, String(ctx.input.n)])
    )
  }),
  Workflow.forEach(
    "packed",
    (ctx) => ctx.input.items,
    (item, ctx, index) => work(ctx.input.id, `packed[${index}]`, `${ctx.reserved}#${index}:${item * 2}`),
    { success: Schema.String, concurrency: 3 }
  ),
  Workflow.race("carrier", {
    quick: Workflow.step(
      "quoted",
      { success: Schema.String },
      (ctx) => work(ctx.input.id, "carrier/quick/quoted", `quote:${ctx.priced}`)
    ),
    stalled: Workflow.step("stalled", { success: Schema.String }, () => Effect.never)
  }),
  Workflow.branch("route", (ctx) => (ctx.input.n % 2 === 0 ? "ground" : "express"), {
    express: Workflow.step(
      "flown",
      { success: Schema.String },
      (ctx) => work(ctx.input.id, "route/express/flown", `air:${ctx.counted}`)
    ),
    ground: Workflow.sequence(
      Workflow.step(
        "loaded",
        { success: Schema.Number },
        (ctx) => work(ctx.input.id, "route/ground/loaded", ctx.counted * 2)
      ),
      Workflow.step(
        "driven",
        { success: Schema.String },
        (ctx) => work(ctx.input.id, "route/ground/driven", `road:${ctx.loaded}`)
      )
    )
  }),
  Workflow.sleep("cooldown", "300 millis"),
  Workflow.signal("approval", { schema: Approval }),
  // Work after the signal: runs woken by a wave of signals are in flight when the next kill lands.
  Workflow.forEach(
    "shipped",
    (ctx) => ctx.input.items,
    (item, ctx, index) => work(ctx.input.id, `shipped[${index}]`, `${ctx.approval.by}:${item}`),
    { success: Schema.String, concurrency: 2 }
  ),
  Workflow.step("receipt", { success: Schema.String }, (ctx) =>
    work(
      ctx.input.id,
      "receipt",
      `${ctx.validated} ${ctx.priced} ${ctx.audited.join("/")} ${ctx.packed.join(",")} ${ctx.carrier._tag} ` +
        `${ctx.route._tag} ${ctx.shipped.join(",")}`
    ))
)

// -------------------------------------------------------------------------------------------
// (c): a step held while its executor is stopped; every value names the executor
// -------------------------------------------------------------------------------------------

export const HoldFlow = Workflow.make("engine_hold", { input: ById }).pipe(
  Workflow.step("first", { success: Schema.String }, (ctx) => record(ctx.input.id, "first")),
  Workflow.step("second", { success: Schema.String }, (ctx) => record(ctx.input.id, "second")),
  Workflow.step("held", { success: Schema.String }, (ctx) => recordThenHold(ctx.input.id, "held")),
  Workflow.step("third", { success: Schema.String }, (ctx) => record(ctx.input.id, "third")),
  Workflow.step("fourth", { success: Schema.String }, (ctx) => record(ctx.input.id, "fourth"))
)

/** The steps of `HoldFlow`, in order. */
export const holdSteps = ["first", "second", "held", "third", "fourth"] as const

// -------------------------------------------------------------------------------------------
// (d): a signal raced against the suspension it wakes
// -------------------------------------------------------------------------------------------

/**
 * `armed` holds until the signal sender is about to send this run its signal (it creates the
 * run's release file first, then waits a random moment), so the signal arrives around the moment
 * the run suspends, however far behind the sender is: before the run is released as waiting, or
 * after.
 */
export const SignalRaceFlow = Workflow.make("engine_signal_race", { input: ById }).pipe(
  Workflow.step("armed", { success: Schema.Boolean }, (ctx) => Effect.as(recordThenHold(ctx.input.id, "armed"), true)),
  Workflow.signal("approval", { schema: Approval }),
  Workflow.step("done", { success: Schema.String }, (ctx) => Effect.succeed(ctx.approval.by))
)

// -------------------------------------------------------------------------------------------
// (e): one step that holds, so two executions of the run would overlap
// -------------------------------------------------------------------------------------------

export const GateFlow = Workflow.make("engine_gate", { input: ById }).pipe(
  Workflow.step("only", { success: Schema.String }, (ctx) => recordThenHold(ctx.input.id, "only"))
)

// -------------------------------------------------------------------------------------------
// (f): a run that blocks, sleeps or waits, to be cancelled there
// -------------------------------------------------------------------------------------------

export const CancelInput = Schema.Struct({ id: Schema.String, mode: Schema.Literals(["block", "sleep", "wait"]) })

/** The `blocked` step never ends by itself; its finalizer records `blocked:finalizer` when it is interrupted. */
export const CancelFlow = Workflow.make("engine_cancel", { input: CancelInput }).pipe(
  Workflow.branch("mode", (ctx) => ctx.input.mode, {
    block: Workflow.step(
      "blocked",
      { success: Schema.String },
      (ctx) =>
        Effect.andThen(record(ctx.input.id, "mode/block/blocked"), Effect.never).pipe(
          Effect.ensuring(record(ctx.input.id, "mode/block/blocked:finalizer"))
        )
    ),
    sleep: Workflow.sequence(
      Workflow.step("dozing", { success: Schema.String }, (ctx) => record(ctx.input.id, "mode/sleep/dozing")),
      Workflow.sleep("nap", "1 hour"),
      Workflow.step("woke", { success: Schema.String }, (ctx) => record(ctx.input.id, "mode/sleep/woke"))
    ),
    wait: Workflow.sequence(
      Workflow.step("asking", { success: Schema.String }, (ctx) => record(ctx.input.id, "mode/wait/asking")),
      Workflow.signal("approval", { schema: Approval }),
      Workflow.step("answered", { success: Schema.String }, (ctx) => record(ctx.input.id, "mode/wait/answered"))
    )
  })
)

// -------------------------------------------------------------------------------------------
// (g): two definitions of one workflow, as before and after a deploy
// -------------------------------------------------------------------------------------------

export const VersionedV1 = Workflow.make("engine_versioned", { input: ById }).pipe(
  Workflow.step("a", { success: Schema.String }, (ctx) => record(ctx.input.id, "a")),
  Workflow.step("b", { success: Schema.String }, (ctx) => record(ctx.input.id, "b"))
)

/** The changed definition: one step more, so its fingerprint differs from `VersionedV1`'s. */
export const VersionedV2 = VersionedV1.pipe(
  Workflow.step("c", { success: Schema.String }, (ctx) => record(ctx.input.id, "c"))
)

// -------------------------------------------------------------------------------------------
// (h): a limited step long enough for a holder to be stopped in it
// -------------------------------------------------------------------------------------------

/** The limit of `LimitedFlow`'s step. */
export const limitMax = 3

/** How long `LimitedFlow`'s step holds its slot when nothing stops it. */
export const limitedHoldMs = 12_000

/**
 * One limited step: it records `call` when it starts, then, after holding its slot, `call:end`;
 * interrupted instead (its lease lost), it records `call:stopped`. The records' times say when
 * each execution ran. Two workflows share the limit's key, so a test can give one of them to a
 * worker of its own: nobody else can take that worker's runs over.
 */
const limitedFlow = (name: string) =>
  Workflow.make(name, { input: ById }).pipe(
    Workflow.step(
      "call",
      { success: Schema.String, limit: { key: "partner", max: limitMax } },
      (ctx) =>
        Effect.andThen(record(ctx.input.id, "call"), Effect.sleep(limitedHoldMs)).pipe(
          Effect.onInterrupt(() => record(ctx.input.id, "call:stopped")),
          Effect.andThen(record(ctx.input.id, "call:end"))
        )
    )
  )

export const LimitedFlow = limitedFlow("engine_limited")
export const LimitedAloneFlow = limitedFlow("engine_limited_alone")

// -------------------------------------------------------------------------------------------
// (i): steps slow enough that runs are in flight when the database goes away
// -------------------------------------------------------------------------------------------

/** The steps of `OutageFlow`, in order. */
export const outageSteps = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"] as const

/** A step's work here: the recorded execution, then 200 to 600 ms, then the value. */
const slowWork = (runId: string, path: string) =>
  Effect.andThen(
    record(runId, path),
    Effect.as(Effect.sleep(200 + (hash(`${runId}/${path}`) % 400)), `${runId}/${path}`)
  )

/** Eight sequential steps, each waiting for its predecessor's write to commit. */
export const OutageFlow = Workflow.make("engine_outage", { input: ById }).pipe(
  Workflow.step("s1", { success: Schema.String }, (ctx) => slowWork(ctx.input.id, "s1")),
  Workflow.step("s2", { success: Schema.String }, (ctx) => slowWork(ctx.input.id, "s2")),
  Workflow.step("s3", { success: Schema.String }, (ctx) => slowWork(ctx.input.id, "s3")),
  Workflow.step("s4", { success: Schema.String }, (ctx) => slowWork(ctx.input.id, "s4")),
  Workflow.step("s5", { success: Schema.String }, (ctx) => slowWork(ctx.input.id, "s5")),
  Workflow.step("s6", { success: Schema.String }, (ctx) => slowWork(ctx.input.id, "s6")),
  Workflow.step("s7", { success: Schema.String }, (ctx) => slowWork(ctx.input.id, "s7")),
  Workflow.step("s8", { success: Schema.String }, (ctx) => slowWork(ctx.input.id, "s8"))
)

/**
 * What a worker process executes: every workflow above, one version of `engine_versioned`, the
 * limited ones, or the outage test's workflow.
 */
export const workflowSets = {
  current: [ChaosFlow, HoldFlow, SignalRaceFlow, GateFlow, CancelFlow],
  v1: [VersionedV1],
  v2: [VersionedV2],
  limited: [LimitedFlow],
  limitedAlone: [LimitedAloneFlow],
  outage: [OutageFlow]
} as const

export type WorkflowSet = keyof typeof workflowSets
