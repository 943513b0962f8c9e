import { Context, Effect, type Exit, Schema } from "effect"
import { Workflow, type WorkflowError } from "plait"
import { Testing } from "plait/testing"
import { describe, expect, test } from "tstyche"

class Declined extends Schema.TaggedError<Declined>()("Declined", { code: Schema.String }) {}
class Payments extends Context.Service<Payments, { readonly charge: (amount: number) => Effect.Effect<string> }>()(
  "test/Payments"
) {}

const Expense = Workflow.make("expense", { input: Schema.Struct({ amount: Schema.NumberFromString }) }).pipe(
  Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean }), timeout: "2 days" }),
  Workflow.forEach("lines", () => ["a", "b"], Workflow.signal("ok", { schema: Schema.Boolean }), {
    key: (line) => line
  }),
  Workflow.step("charged", { success: Schema.String, error: Declined }, (ctx) =>
    ctx.approval.approved
      ? Payments.use((payments) => payments.charge(ctx.input.amount))
      : Effect.fail(new Declined({ code: "refused" })))
)

type Ctx = {
  readonly input: { readonly amount: number }
  readonly approval: { readonly approved: boolean }
  readonly lines: ReadonlyArray<{ readonly ok: boolean }>
  readonly charged: string
}

describe("Testing.run", () => {
  test("takes the encoded input and typed signals; reports the context, the workflow's errors and needs its services", () => {
    const report = Testing.run(Expense, {
      input: { amount: "120" },
      signals: [
        { path: "approval", value: { approved: true } },
        { path: "lines[a]/ok", value: true, at: "1 hour" }
      ]
    })
    expect(report).type.toBe<
      Effect.Effect<
        Testing.TestRun<Ctx, Declined | WorkflowError.SignalTimeout, "approval" | `lines[${string}]/ok`>,
        Testing.Stuck | Testing.SignalError,
        Payments
      >
    >()
  })

  test("the exit is the run's: its outcome, or the workflow's errors and RunError", () => {
    const report = {} as Testing.TestRun<Ctx, Declined, "approval">
    expect(report.exit).type.toBe<
      Exit.Exit<Workflow.Outcome<Ctx, "approval">, Declined | WorkflowError.RunError>
    >()
    expect(report.executions).type.toBe<{ readonly [path: string]: number }>()
  })

  test("a signal the workflow does not wait on, or a value its schema does not take, does not compile", () => {
    Testing.run(Expense, {
      input: { amount: "120" },
      // @ts-expect-error Type '"approvl"' is not assignable -- no signal at that path
      signals: [{ path: "approvl", value: { approved: true } }]
    })
    Testing.run(Expense, {
      input: { amount: "120" },
      // @ts-expect-error Type 'string' is not assignable to type 'boolean' -- the schema takes a boolean
      signals: [{ path: "approval", value: { approved: "yes" } }]
    })
    Testing.run(Expense, {
      // @ts-expect-error Type 'number' is not assignable to type 'string' -- the input is the encoded form
      input: { amount: 120 }
    })
  })
})

describe("Testing.crashAtEveryStep", () => {
  test("reports a run per crash; equivalent compares two final contexts of the workflow", () => {
    const report = Testing.crashAtEveryStep(Expense, {
      input: { amount: "120" },
      signals: [{ path: "approval", value: { approved: true } }],
      equivalent: (reference, resumed) => {
        expect(reference).type.toBe<Ctx>()
        return reference.charged.length === resumed.charged.length
      }
    })
    expect(report).type.toBe<
      Effect.Effect<
        Testing.CrashReport<Ctx, Declined | WorkflowError.SignalTimeout, "approval" | `lines[${string}]/ok`>,
        Testing.ResumeDiverged | Testing.Stuck | Testing.SignalError,
        Payments
      >
    >()
  })

  test("takes no memory journal: every crash runs on a fresh one", () => {
    Testing.crashAtEveryStep(Expense, {
      input: { amount: "120" },
      // @ts-expect-error Object literal may only specify known properties -- each crash has its own journal
      memory: {} as Testing.Memory
    })
  })
})

describe("Testing.replay", () => {
  test("takes any value (the parsed JSON) and needs no service: nothing runs", () => {
    expect(Testing.replay(Expense, JSON.parse("{}"))).type.toBe<
      Effect.Effect<
        Testing.ReplayReport,
        | WorkflowError.DefinitionChanged
        | WorkflowError.JournalError
        | WorkflowError.RunConflict
        | Testing.ReplayDiverged
      >
    >()
  })
})
