/**
 * The workflows the process tests of sagas, children, limits, idempotency keys and schedules run
 * in child processes, shared by the scripts that run them and the tests that check them.
 *
 * Every step performs one side effect through `Effects`, half-way through its work, labelled with
 * what `StepInfo` says about it: the scripts append it to a log file the run cannot roll back
 * (fsync'd), which is how a test sees what really ran, in which process, with which key.
 */
import { Context, Effect, Schema } from "effect"
import { Workflow } from "plait"

/** One side effect, as a step saw itself when it performed it. */
export interface SideEffect {
  readonly runId: string
  readonly path: string
  readonly attempt: number
  readonly key: string
}

export class Effects extends Context.Service<Effects, {
  readonly record: (effect: SideEffect) => Effect.Effect<void>
}>()("plait-test/Effects") {}

/** Where a limited step records, in the database, when it started and finished running. */
export class Probe extends Context.Service<Probe, {
  readonly hold: (runId: string, ms: number) => Effect.Effect<void>
}>()("plait-test/Probe") {}

/** Some time, the side effect, some more time, then the value. */
const work = <A>(value: A, ms = 40) =>
  Effect.gen(function*() {
    const info = yield* Workflow.StepInfo
    yield* Effect.sleep(ms / 2)
    yield* Effects.use((effects) =>
      effects.record({ runId: info.runId, path: info.path, attempt: info.attempt, key: info.idempotencyKey })
    )
    yield* Effect.sleep(ms / 2)
    return value
  })

const undo = () => work(undefined, 60)

/** A trip booked step by step, refused at the visa: everything booked is undone. */
export const Trip = Workflow.make("saga_trip", { input: Schema.String }).pipe(
  Workflow.step("hotel", { success: Schema.String, compensate: undo }, (ctx) => work(`hotel:${ctx.input}`)),
  Workflow.parallel("transport", {
    flight: Workflow.step("flight", { success: Schema.String, compensate: undo }, () => work("flight", 30)),
    train: Workflow.step("train", { success: Schema.String, compensate: undo }, () => work("train", 90))
  }),
  Workflow.step("car", { success: Schema.String, compensate: undo }, () => work("car")),
  Workflow.step(
    "visa",
    { success: Schema.String, retry: { times: 1 } },
    () => Effect.andThen(work(undefined), Effect.fail("visa refused"))
  )
)

/** The paths the trip's forward steps run at, and the failing one. */
export const tripSteps = ["hotel", "transport/flight/flight", "transport/train/train", "car"] as const

export const Provision = Workflow.make("provision", { input: Schema.Struct({ region: Schema.String }) }).pipe(
  Workflow.step("cluster", { success: Schema.String }, (ctx) => work(`k8s-${ctx.input.region}`, 300)),
  Workflow.step("dns", { success: Schema.String }, (ctx) => work(`${ctx.cluster}.example.com`, 300))
)

/** One child run per region, at once, then a summary of their contexts. */
export const Rollout = Workflow.make("rollout", { input: Schema.Array(Schema.String) }).pipe(
  Workflow.forEach(
    "regions",
    (ctx) => ctx.input,
    Workflow.child("provisioned", Provision, (ctx) => ({ region: ctx.item })),
    {
      concurrency: 3,
      key: (region) => region
    }
  ),
  Workflow.step(
    "summary",
    { success: Schema.String },
    (ctx) => work(ctx.regions.map((region) => region.provisioned.dns).join(" "))
  )
)

export const regions = ["eu", "us", "ap"] as const

/** The context an uncrashed rollout of `regions` ends with. */
export const rolloutContext = (() => {
  const provisioned = regions.map((region) => ({
    provisioned: { input: { region }, cluster: `k8s-${region}`, dns: `k8s-${region}.example.com` }
  }))
  return {
    input: [...regions],
    regions: provisioned,
    summary: provisioned.map((region) => region.provisioned.dns).join(" ")
  }
})()

/** A call to a partner that allows three at once, whatever the number of workers. */
export const Limited = Workflow.make("limited_call", { input: Schema.Number }).pipe(
  Workflow.step(
    "call",
    { success: Schema.Number, limit: { key: "partner", max: 3 } },
    (ctx) => Workflow.StepInfo.use((info) => Effect.as(Probe.use((probe) => probe.hold(info.runId, 400)), ctx.input))
  )
)

/** A charge whose first attempt times out: the provider must see one key for every attempt. */
export const Keyed = Workflow.make("keyed_charge", { input: Schema.Number }).pipe(
  Workflow.step("charged", { success: Schema.String, retry: { times: 2 } }, () =>
    Effect.gen(function*() {
      const info = yield* Workflow.StepInfo
      yield* work(undefined)
      if (info.attempt === 1) return yield* Effect.fail("timeout")
      return `charge for ${info.idempotencyKey}`
    })),
  Workflow.step("receipt", { success: Schema.String }, (ctx) => work(`receipt of ${ctx.charged}`))
)

export const Ticker = Workflow.make("ticker", { input: Schema.String }).pipe(
  Workflow.step("ticked", { success: Schema.String }, (ctx) => work(`tick ${ctx.input}`, 20))
)
