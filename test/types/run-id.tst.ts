import { Effect, Schema } from "effect"
import { type Engine, RunId, Workflow, WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"

const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
  Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
)
const engine = {} as Engine.Engine["Service"]

describe("RunId", () => {
  test("the schema decodes and encodes a plain string; validate fails with InvalidRunId only", () => {
    expect<typeof RunId.RunId.Type>().type.toBe<string>()
    expect<typeof RunId.RunId.Encoded>().type.toBe<string>()
    expect(RunId.validate("order-7")).type.toBe<Effect.Effect<string, WorkflowError.InvalidRunId>>()
    expect(RunId.brokenRule("")).type.toBe<"Empty" | "TooLong" | "Nul" | "MalformedUnicode" | undefined>()
    expect(RunId.maxBytes).type.toBe<512>()
  })

  test("InvalidRunId names the rule, and is one of RunError", () => {
    expect<WorkflowError.InvalidRunId["rule"]>().type.toBe<"Empty" | "TooLong" | "Nul" | "MalformedUnicode">()
    expect<WorkflowError.InvalidRunId>().type.toBeAssignableTo<WorkflowError.RunError>()
    // @ts-expect-error Type '"Spaces"' is not assignable
    new WorkflowError.InvalidRunId({ runId: "x", rule: "Spaces", bytes: 1 })
  })

  test("every call that takes a run id can fail with InvalidRunId", () => {
    type ErrorOf<T> = T extends Effect.Effect<any, infer E, any> ? E : never
    expect<WorkflowError.InvalidRunId>().type.toBeAssignableTo<ErrorOf<ReturnType<typeof engine.start>>>()
    expect<WorkflowError.InvalidRunId>().type.toBeAssignableTo<ErrorOf<ReturnType<typeof engine.cancel>>>()
    expect<WorkflowError.InvalidRunId>().type.toBeAssignableTo<ErrorOf<ReturnType<typeof engine.resume>>>()
    expect<WorkflowError.InvalidRunId>().type.toBeAssignableTo<ErrorOf<ReturnType<typeof engine.inspect>>>()
    expect<WorkflowError.InvalidRunId>().type.toBeAssignableTo<ErrorOf<ReturnType<typeof engine.signal>>>()
    expect<WorkflowError.InvalidRunId>().type.toBeAssignableTo<
      ErrorOf<ReturnType<typeof Workflow.run<string, { readonly input: string }, never, never, never>>>
    >()
  })

  test("start's priority and list's limit can fail with InvalidOption", () => {
    expect(engine.start(Ping, { input: "x", priority: 3 })).type.toBe<
      Effect.Effect<
        Engine.StartedRun,
        | WorkflowError.InvalidInput
        | WorkflowError.InvalidRunId
        | WorkflowError.InvalidOption
        | WorkflowError.DuplicateEffect
        | WorkflowError.RunConflict
        | WorkflowError.JournalError
      >
    >()
    expect<WorkflowError.InvalidOption>().type.toBeAssignableTo<ErrorOf<ReturnType<typeof engine.list>>>()
    type ErrorOf<T> = T extends Effect.Effect<any, infer E, any> ? E : never
  })

  test("a run id that is not a string, or a priority that is not a number, does not compile", () => {
    // @ts-expect-error Type 'number' is not assignable to type 'string'
    engine.start(Ping, { input: "x", runId: 7 })
    // @ts-expect-error Type 'string' is not assignable to type 'number'
    engine.start(Ping, { input: "x", priority: "high" })
    // @ts-expect-error Argument of type 'number' is not assignable to parameter of type 'string'
    engine.inspect(7)
  })
})
