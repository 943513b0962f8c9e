import { Effect, Schema } from "effect"
import { type Engine, Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"

const Approval = Schema.Struct({ approved: Schema.Boolean, by: Schema.String })
type Approval = typeof Approval.Type

const start = Workflow.make("review", { input: Schema.Array(Schema.String) })

// A signal at the top level and one inside every kind of block, at the journal paths the run uses.
const Review = start.pipe(
  Workflow.signal("approval", { schema: Approval }),
  Workflow.parallel("review", {
    manager: Workflow.signal("decision", { schema: Schema.Boolean }),
    finance: Workflow.sequence(
      Workflow.signal("budget", { schema: Schema.Number }),
      Workflow.step("within", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.budget < 1000))
    )
  }, { merge: "collect" }),
  Workflow.race("escalation", {
    wait: Workflow.sleep("grace", "1 day"),
    override: Workflow.signal("override", { schema: Schema.String })
  }),
  Workflow.branch("route", (ctx) => (ctx.approval.approved ? "normal" : "urgent"), {
    urgent: Workflow.signal("page", { schema: Schema.Boolean }),
    normal: Workflow.step("filed", { success: Schema.Boolean }, () => Effect.succeed(true))
  }),
  Workflow.chord(
    "sign",
    {
      first: Workflow.signal("signature", { schema: Schema.String }),
      second: Workflow.signal("countersignature", { schema: Schema.String })
    },
    (ctx) => Effect.succeed(`${ctx.signature}/${ctx.countersignature}`),
    { success: Schema.String }
  ),
  Workflow.forEach("lines", (ctx) => ctx.input, Workflow.signal("ok", { schema: Schema.Boolean }))
)

type Paths =
  | "approval"
  | "review/manager/decision"
  | "review/finance/budget"
  | "escalation/override/override"
  | "route/urgent/page"
  | "sign/first/signature"
  | "sign/second/countersignature"
  | `lines[${string}]/ok`

describe("signal paths", () => {
  test("SignalPath lists every signal, nested under block/branchKey/ and name[key]/", () => {
    expect<Workflow.SignalPath<typeof Review>>().type.toBe<Paths>()
  })

  test("SignalValue is the decoded type the signal's schema accepts at that path", () => {
    expect<Workflow.SignalValue<typeof Review, "approval">>().type.toBe<Approval>()
    expect<Workflow.SignalValue<typeof Review, "review/finance/budget">>().type.toBe<number>()
    expect<Workflow.SignalValue<typeof Review, "lines[7]/ok">>().type.toBe<boolean>()
    expect<Workflow.SignalValue<typeof Review, "lines[sku-1]/ok">>().type.toBe<boolean>()
  })

  test("a workflow without signals has no signal paths", () => {
    const Plain = start.pipe(Workflow.step("n", { success: Schema.Number }, () => Effect.succeed(1)))
    expect<Workflow.SignalPath<typeof Plain>>().type.toBe<never>()
  })

  test("Workflow<I, Ctx, E, R> written with four parameters stands for any signals", () => {
    expect<Workflow.SignalPath<Workflow.Workflow<number, { readonly input: number }, never, never>>>().type.toBe<
      string
    >()
    // A helper written against four parameters still takes a workflow that waits on signals.
    const describe = <I, Ctx, E, R>(workflow: Workflow.Workflow<I, Ctx, E, R>) => workflow.name
    expect(describe).type.toBeCallableWith(Review)
  })
})

describe("sendSignal", () => {
  test("takes a path of the workflow and the value its schema accepts there", () => {
    expect(Workflow.sendSignal).type.toBeCallableWith(Review, {
      runId: "r",
      path: "approval",
      value: { approved: true, by: "ada" }
    })
    expect(Workflow.sendSignal).type.toBeCallableWith(Review, {
      runId: "r",
      path: "review/manager/decision",
      value: false
    })
    expect(Workflow.sendSignal).type.toBeCallableWith(Review, { runId: "r", path: "lines[3]/ok", value: true })
  })

  test("a wrong path does not compile", () => {
    // @ts-expect-error Type '"aproval"' is not assignable to type...Did you mean '"approval"'? -- a typo in the path
    Workflow.sendSignal(Review, { runId: "r", path: "aproval", value: { approved: true, by: "ada" } })
    // @ts-expect-error Type '"decision"' is not assignable -- a signal in a block is addressed by its whole path
    Workflow.sendSignal(Review, { runId: "r", path: "decision", value: true })
  })

  test("a wrong value does not compile", () => {
    // @ts-expect-error Type 'string' is not assignable to type 'boolean' -- the schema decides the payload
    Workflow.sendSignal(Review, { runId: "r", path: "approval", value: { approved: "yes", by: "ada" } })
    // @ts-expect-error Type 'number' is not assignable to type 'boolean' -- each path has its own schema
    Workflow.sendSignal(Review, { runId: "r", path: "lines[3]/ok", value: 1 })
  })

  test("a workflow that waits on nothing takes no signal", () => {
    const Plain = start.pipe(Workflow.step("n", { success: Schema.Number }, () => Effect.succeed(1)))
    // @ts-expect-error Type 'string' is not assignable to type 'never' -- nothing to deliver
    Workflow.sendSignal(Plain, { runId: "r", path: "n", value: 1 as never })
  })
})

describe("run", () => {
  test("a suspended run waits for one of the workflow's signal paths", () => {
    const run = Workflow.run(Review, { input: ["a"] })
    type Outcome = Effect.Success<typeof run>
    expect<Extract<Outcome, { readonly _tag: "Suspended" }>["waitingFor"]>().type.toBe<Paths>()
  })

  test("Outcome<Ctx> and Suspended written without a path type take any path", () => {
    const run = Workflow.run(Review, { input: ["a"] })
    expect(run).type.toBeAssignableTo<Effect.Effect<Workflow.Outcome<unknown>, unknown, unknown>>()
    expect<Workflow.Suspended["waitingFor"]>().type.toBe<string>()
  })
})

describe("children that wait", () => {
  const Approver = Workflow.make("approver", { input: Schema.String }).pipe(
    Workflow.signal("decision", { schema: Schema.Boolean })
  )
  const Quiet = Workflow.make("quiet", { input: Schema.String }).pipe(
    Workflow.step("n", { success: Schema.Number }, () => Effect.succeed(1))
  )
  const Request = Workflow.make("request", { input: Schema.Array(Schema.String) }).pipe(
    Workflow.child("approved", Approver, (ctx) => ctx.input.join()),
    Workflow.child("counted", Quiet, () => "q"),
    Workflow.forEach("each", (ctx) => ctx.input, Workflow.child("per", Approver, (ctx) => ctx.item)),
    Workflow.parallel("pair", { left: Workflow.child("left", Approver, () => "l") }, { merge: "collect" })
  )

  test("the parent waits at a child's path while the child waits; a child that cannot wait adds nothing", () => {
    const run = Workflow.run(Request, { input: ["a"] })
    type Outcome = Effect.Success<typeof run>
    expect<Extract<Outcome, { readonly _tag: "Suspended" }>["waitingFor"]>().type.toBe<
      "approved" | `each[${string}]/per` | "pair/left/left"
    >()
  })

  test("the child's signals are its own run's: the parent takes none of them", () => {
    expect<Workflow.SignalPath<typeof Request>>().type.toBe<never>()
    // @ts-expect-error Type 'string' is not assignable to type 'never' -- send `decision` to the child run, with Approver
    Workflow.sendSignal(Request, { runId: "r", path: "approved", value: true as never })
    expect(Workflow.sendSignal).type.toBeCallableWith(Approver, { runId: "r/approved", path: "decision", value: true })
  })

  test("a child given as Workflow<I, Ctx, E, R> may wait at its path", () => {
    const anyChild = Approver as Workflow.Workflow<
      string,
      { readonly input: string; readonly decision: boolean },
      never,
      never
    >
    const Parent = Workflow.make("parent", { input: Schema.String }).pipe(
      Workflow.child("c", anyChild, (ctx) => ctx.input)
    )
    const run = Workflow.run(Parent, { input: "a" })
    type Outcome = Effect.Success<typeof run>
    expect<Extract<Outcome, { readonly _tag: "Suspended" }>["waitingFor"]>().type.toBe<"c">()
  })
})

describe("Engine.signal", () => {
  const engine = {} as Engine.Engine["Service"]

  test("takes the paths and values sendSignal takes", () => {
    expect(engine.signal).type.toBeCallableWith(Review, "r", "review/finance/budget", 900)
    expect(engine.signal).type.toBeCallableWith(Review, "r", "lines[sku-1]/ok", true)
  })

  test("a wrong path or value does not compile", () => {
    // @ts-expect-error Argument of type '"budget"' is not assignable -- a signal in a block is addressed by its whole path
    engine.signal(Review, "r", "budget", 900)
    // @ts-expect-error Argument of type 'string' is not assignable to parameter of type 'number' -- the schema decides the payload
    engine.signal(Review, "r", "review/finance/budget", "900")
  })
})

describe("Engine calls", () => {
  const engine = {} as Engine.Engine["Service"]
  const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
    Workflow.signal("approval", { schema: Schema.Boolean }),
    Workflow.step("booked", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval))
  )

  test("await gives the flat final context and the paths the run can wait on", () => {
    expect(engine.await(Expense, "r")).type.toBe<
      Effect.Effect<
        Workflow.Outcome<{ readonly input: number; readonly approval: boolean; readonly booked: boolean }, "approval">,
        | WorkflowError.RunFailed
        | WorkflowError.RunCancelled
        | WorkflowError.RunNotFound
        | WorkflowError.RunConflict
        | WorkflowError.InvalidRunId
        | WorkflowError.JournalError
      >
    >()
  })

  test("start takes the encoded input; a wrong one does not compile", () => {
    expect(engine.start).type.toBeCallableWith(Expense, { input: 120, runId: "expense-7" })
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    engine.start(Expense, { input: "120" })
  })
})
