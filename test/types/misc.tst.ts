import { type DateTime, Effect, Schema } from "effect"
import { type Journal, type RunStore, Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"

const start = Workflow.make("expense", { input: Schema.Number })

describe("sleep", () => {
  test("adds nothing to the context, no error and no requirement; its name is reserved", () => {
    const Slept = start.pipe(
      Workflow.sleep("coolOff", "1 day"),
      Workflow.step("after", { success: Schema.Number }, (ctx) => {
        expect(ctx).type.toBe<{ readonly input: number }>()
        return Effect.succeed(ctx.input)
      })
    )
    expect(Slept).type.toBe<
      Workflow.Workflow<
        number,
        { readonly input: number; readonly after: number },
        never,
        never,
        Workflow.Reserved<"coolOff">
      >
    >()
  })

  test("takes any Duration input", () => {
    start.pipe(Workflow.sleep("a", 1000), Workflow.sleep("b", "5 minutes"), Workflow.sleep("c", { hours: 1 }))
  })

  test("a name already in the context does not compile", () => {
    start.pipe(
      // @ts-expect-error plait: this name is already in the context -- a sleep's name is a journal path too
      Workflow.sleep("input", "1 second")
    )
  })

  test("a duration that is not one does not compile", () => {
    start.pipe(
      // @ts-expect-error is not assignable to parameter of type 'Input | ((ctx: { readonly input: number; }) => Duration)' -- not a duration
      Workflow.sleep("wait", "soon")
    )
  })
})

describe("signal", () => {
  const Approval = Schema.Struct({ approved: Schema.Boolean, by: Schema.String })
  type Approval = typeof Approval.Type

  test("adds { [name]: A } with A the schema's type, and the signal to S", () => {
    const Approved = start.pipe(
      Workflow.signal("approval", { schema: Approval }),
      Workflow.step("book", { success: Schema.Boolean }, (ctx) => {
        expect(ctx).type.toBe<{ readonly input: number; readonly approval: Approval }>()
        return Effect.succeed(ctx.approval.approved)
      })
    )
    expect(Approved).type.toBe<
      Workflow.Workflow<
        number,
        { readonly input: number; readonly approval: Approval; readonly book: boolean },
        never,
        never,
        Workflow.SignalAt<"approval", Approval>
      >
    >()
  })

  test("the decoded type, not the encoded one", () => {
    const Dated = start.pipe(Workflow.signal("at", { schema: Schema.NumberFromString }))
    expect(Dated).type.toBe<
      Workflow.Workflow<
        number,
        { readonly input: number; readonly at: number },
        never,
        never,
        Workflow.SignalAt<"at", number>
      >
    >()
  })

  test("a suspended run is an Outcome, not an error; it waits for one of the workflow's signal paths", () => {
    const Approved = start.pipe(Workflow.signal("approval", { schema: Approval }))
    expect(Workflow.run(Approved, { input: 10 })).type.toBe<
      Effect.Effect<
        Workflow.Outcome<{ readonly input: number; readonly approval: Approval }, "approval">,
        WorkflowError.RunError,
        Journal.Journal
      >
    >()
  })

  test("sendSignal needs the RunStore and the Journal; fails with InvalidSignal, UnknownSignal, DuplicateEffect, SignalAlreadyDelivered, RunNotFound, InvalidRunId or JournalError", () => {
    const Approved = start.pipe(Workflow.signal("approval", { schema: Approval }))
    expect(Workflow.sendSignal(Approved, { runId: "r1", path: "approval", value: { approved: true, by: "ada" } }))
      .type.toBe<
      Effect.Effect<
        void,
        | WorkflowError.InvalidSignal
        | WorkflowError.UnknownSignal
        | WorkflowError.DuplicateEffect
        | WorkflowError.SignalAlreadyDelivered
        | WorkflowError.RunNotFound
        | WorkflowError.InvalidRunId
        | WorkflowError.JournalError,
        RunStore.RunStore | Journal.Journal
      >
    >()
  })

  test("an UnknownSignal names the run, the path and why", () => {
    expect<WorkflowError.UnknownSignal>().type.toHaveProperty("runId")
    expect<WorkflowError.UnknownSignal["path"]>().type.toBe<string>()
    expect<WorkflowError.UnknownSignal["issue"]>().type.toBe<string>()
    expect<WorkflowError.UnknownSignal>().type.toBeAssignableTo<WorkflowError.WorkflowError>()
  })

  test("a timeout adds SignalTimeout to the error type; without one there is none", () => {
    const Timed = start.pipe(Workflow.signal("approval", { schema: Approval, timeout: "3 days" }))
    expect(Timed).type.toBe<
      Workflow.Workflow<
        number,
        { readonly input: number; readonly approval: Approval },
        WorkflowError.SignalTimeout,
        never,
        Workflow.SignalAt<"approval", Approval>
      >
    >()
    const Untimed = start.pipe(Workflow.signal("approval", { schema: Approval }))
    expect(Untimed).type.toBe<
      Workflow.Workflow<
        number,
        { readonly input: number; readonly approval: Approval },
        never,
        never,
        Workflow.SignalAt<"approval", Approval>
      >
    >()
  })

  test("a timeout that is not a duration does not compile", () => {
    start.pipe(
      // @ts-expect-error is not assignable -- a timeout is a Duration input
      Workflow.signal("approval", { schema: Approval, timeout: true })
    )
  })

  test("a name already in the context does not compile", () => {
    start.pipe(
      // @ts-expect-error plait: this name is already in the context -- `input` is always there
      Workflow.signal("input", { schema: Approval })
    )
  })

  test("reading the payload before the signal does not compile", () => {
    start.pipe(
      // @ts-expect-error Property 'approval' does not exist -- the signal comes later
      Workflow.step("book", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved)),
      Workflow.signal("approval", { schema: Approval })
    )
  })

  test("a schema that needs services to decode does not compile", () => {
    const NeedsService = Schema.String as unknown as Schema.Codec<string, string, "SomeService", never>
    start.pipe(
      // @ts-expect-error is not assignable to type 'Codec<string, any, never, never>' -- payloads decode without services
      Workflow.signal("note", { schema: NeedsService })
    )
  })
})

describe("observe", () => {
  type EventOf<Tag extends Workflow.StepEvent["_tag"]> = Extract<Workflow.StepEvent, { readonly _tag: Tag }>

  test("every event names the run and the path", () => {
    expect<Workflow.StepEvent["runId"]>().type.toBe<string>()
    expect<Workflow.StepEvent["path"]>().type.toBe<string>()
  })

  test("waits carry their times; decisions what was decided and whether it was replayed", () => {
    expect<EventOf<"Sleeping">["wakeAt"]>().type.toBe<DateTime.Utc>()
    expect<EventOf<"AwaitingSignal">["deadline"]>().type.toBe<DateTime.Utc | undefined>()
    expect<EventOf<"RaceWon">["winner"]>().type.toBe<string>()
    expect<EventOf<"BranchChosen">["choice"]>().type.toBe<string>()
    expect<EventOf<"LastWinsOrder">["order"]>().type.toBe<ReadonlyArray<string>>()
    expect<EventOf<"RaceWon" | "BranchChosen" | "LastWinsOrder">["replayed"]>().type.toBe<boolean>()
  })

  test("a tag's fields are read after narrowing on _tag, not before", () => {
    const describe = (event: Workflow.StepEvent): string => {
      if (event._tag === "Sleeping") return event.wakeAt.toString()
      // @ts-expect-error Property 'wakeAt' does not exist -- only a Sleeping event has a wake time
      return event.wakeAt
    }
    expect(describe).type.toBe<(event: Workflow.StepEvent) => string>()
  })

  test("an observer returns an Effect that cannot fail and needs nothing", () => {
    const Hello = start.pipe(Workflow.sleep("nap", "1 second"))
    Workflow.run(Hello, { input: 1, observe: (event) => Effect.log(event._tag) })
    Workflow.run(Hello, {
      input: 1,
      // @ts-expect-error is not assignable -- an observer's failure would have nowhere to go
      observe: (event) => Effect.fail(event._tag)
    })
  })
})

describe("RunError", () => {
  test("includes DuplicateEffect: any run can meet a second copy of effect", () => {
    expect<WorkflowError.DuplicateEffect>().type.toBeAssignableTo<WorkflowError.RunError>()
    expect<WorkflowError.DuplicateEffect>().type.toBeAssignableTo<WorkflowError.WorkflowError>()
  })
})
