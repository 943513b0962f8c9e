/**
 * The workflow the crash tests kill and resume, shared by the child process that runs it and
 * the test that checks it.
 *
 * Every output is a deterministic function of the input and earlier outputs, so a crashed and
 * resumed run must end with exactly the context of an uncrashed one. Every step performs one
 * side effect through `SideEffects` half-way through its work: the child appends it to a log
 * file the run cannot roll back, which is how the test sees which steps really ran.
 */
import { Context, Effect, Schema } from "effect"
import { Workflow } from "plait"

/** Where a step's side effect goes: the child writes it to the log file before the step returns. */
export class SideEffects extends Context.Service<SideEffects, {
  readonly record: (path: string) => Effect.Effect<void>
}>()("plait-test/SideEffects") {}

export const Input = Schema.Struct({
  order: Schema.String,
  items: Schema.Array(Schema.Number)
})

export const input: typeof Input.Encoded = {
  order: "A-17",
  items: Array.from({ length: 30 }, (_, i) => (i * 7) % 11 + 1)
}

/** A small stable hash, to spread step durations without randomness. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/**
 * A step's work: some time, the side effect, some more time, then the value. Kills that land
 * while a step is in flight therefore fall on either side of its side effect.
 */
const work = <A>(path: string, value: A): Effect.Effect<A, never, SideEffects> =>
  Effect.gen(function*() {
    const sideEffects = yield* SideEffects
    const h = hash(path)
    yield* Effect.sleep(10 + (h % 15))
    yield* sideEffects.record(path)
    yield* Effect.sleep(10 + ((h >>> 8) % 25))
    return value
  })

export const CrashWorkflow = Workflow.make("crash_fulfillment", { input: Input }).pipe(
  Workflow.step("validated", { success: Schema.String }, (ctx) => work("validated", `${ctx.input.order}:valid`)),
  Workflow.step(
    "priced",
    { success: Schema.Number },
    (ctx) => work("priced", ctx.input.items.reduce((total, item) => total + item * 3, 0))
  ),
  Workflow.step(
    "reserved",
    { success: Schema.Struct({ order: Schema.String, units: Schema.Number }) },
    (ctx) => work("reserved", { order: ctx.validated, units: ctx.input.items.length })
  ),
  Workflow.parallel("notify", {
    email: Workflow.step(
      "emailed",
      { success: Schema.String },
      (ctx) => work("notify/email/emailed", `mail:${ctx.validated}:${ctx.priced}`)
    ),
    sms: Workflow.step("texted", { success: Schema.Number }, (ctx) => work("notify/sms/texted", ctx.priced + 1)),
    audit: Workflow.step(
      "audited",
      { success: Schema.Array(Schema.String) },
      (ctx) => work("notify/audit/audited", [ctx.reserved.order, String(ctx.reserved.units)])
    ),
    ledger: Workflow.sequence(
      Workflow.step("debited", { success: Schema.Number }, (ctx) => work("notify/ledger/debited", -ctx.priced)),
      Workflow.step(
        "credited",
        { success: Schema.String },
        (ctx) => work("notify/ledger/credited", `credit:${-ctx.debited}`)
      )
    )
  }),
  Workflow.forEach(
    "packed",
    (ctx) => ctx.input.items,
    (item, ctx, index) => work(`packed[${index}]`, `${ctx.input.order}#${index}:${item * 2}`),
    { success: Schema.String, concurrency: 4 }
  ),
  Workflow.step("receipt", { success: Schema.String }, (ctx) =>
    work(
      "receipt",
      `${ctx.reserved.order}: ${ctx.packed.length} lines, total ${ctx.priced}, ${ctx.emailed}, ${ctx.credited}`
    ))
)

/** Every step's journal path, in the order the workflow reaches them. */
export const stepPaths: ReadonlyArray<string> = [
  "validated",
  "priced",
  "reserved",
  "notify/email/emailed",
  "notify/sms/texted",
  "notify/audit/audited",
  "notify/ledger/debited",
  "notify/ledger/credited",
  ...input.items.map((_, i) => `packed[${i}]`),
  "receipt"
]
