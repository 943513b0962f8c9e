import { Effect, Schema } from "effect"
import { type Journal, Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"
import {
  type Billing,
  type CardDeclined,
  createUser,
  Input,
  MailBounced,
  type Mailer,
  sendWelcome,
  setupBilling,
  User,
  UserExists,
  type Users
} from "./fixtures.ts"

const start = Workflow.make("onboard", { input: Input })

describe("make", () => {
  test("the context starts as { input } and nothing can fail or is needed", () => {
    expect(start).type.toBe<Workflow.Workflow<Input, { readonly input: Input }, never, never, never>>()
  })

  test("I is the encoded input, the context holds the decoded one", () => {
    const Dated = Workflow.make("dated", { input: Schema.Struct({ at: Schema.NumberFromString }) })
    expect(Dated).type.toBe<
      Workflow.Workflow<{ readonly at: string }, { readonly input: { readonly at: number } }, never, never, never>
    >()
  })
})

describe("step", () => {
  test("ctx is inferred in pipe with no annotation and each step adds { [name]: A }", () => {
    const Onboard = start.pipe(
      Workflow.step("user", { success: User }, (ctx) => {
        expect(ctx).type.toBe<{ readonly input: Input }>()
        return createUser(ctx.input.email)
      }),
      Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => {
        expect(ctx).type.toBe<{ readonly input: Input; readonly user: User }>()
        return sendWelcome(ctx.user.id)
      }),
      Workflow.step("billing", { success: Schema.Boolean }, (ctx) => {
        expect(ctx).type.toBe<{ readonly input: Input; readonly user: User; readonly welcome: boolean }>()
        return setupBilling(ctx.user.id)
      })
    )
    expect(Onboard).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly welcome: boolean; readonly billing: boolean },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("the step's type is the success schema's type, not what f happens to return", () => {
    const Literal = start.pipe(
      Workflow.step("status", { success: Schema.Literals(["ok", "late"]) }, () => Effect.succeed("ok" as const))
    )
    expect(Literal).type.toBe<
      Workflow.Workflow<Input, { readonly input: Input; readonly status: "ok" | "late" }, never, never, never>
    >()
  })

  test("a void step adds void", () => {
    const Logged = start.pipe(
      Workflow.step("log", { success: Schema.Void }, (ctx) => Effect.log(ctx.input.email))
    )
    expect(Logged).type.toBe<
      Workflow.Workflow<Input, { readonly input: Input; readonly log: void }, never, never, never>
    >()
  })

  test("a step is a Segment carrying its delta, error and requirement", () => {
    const user = Workflow.step(
      "user",
      { success: User },
      (ctx: { readonly input: Input }) => createUser(ctx.input.email)
    )
    expect(user).type.toBe<Workflow.Segment<{ readonly input: Input }, { readonly user: User }, UserExists, Users>>()
  })

  test("options: error schema, retry and timeout", () => {
    const Retried = start.pipe(
      Workflow.step(
        "user",
        {
          success: User,
          error: UserExists,
          retry: { times: 3, delay: "1 second", backoff: "exponential" },
          timeout: "5 seconds"
        },
        (ctx) => createUser(ctx.input.email)
      )
    )
    expect(Retried).type.toBe<
      Workflow.Workflow<Input, { readonly input: Input; readonly user: User }, UserExists, Users, never>
    >()
  })
})

describe("step: retrying defects", () => {
  test("retry takes defects: true beside times, delay and backoff, in a step, a forEach and a compensation", () => {
    const policy: Workflow.Retry = { times: 2, delay: "1 second", backoff: "exponential", defects: true }
    const Retried = start.pipe(
      Workflow.step("user", {
        success: User,
        retry: policy,
        compensateRetry: { times: 1, defects: true },
        compensate: () => Effect.void
      }, (ctx) => createUser(ctx.input.email)),
      Workflow.forEach("tags", () => ["a", "b"], (tag) => Effect.succeed(tag.length), {
        success: Schema.Number,
        retry: { times: 1, defects: true }
      })
    )
    // Opting in changes no type: a defect that outlives the budget is a StepDefect, one of RunError.
    expect(Retried).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly tags: ReadonlyArray<number> },
        UserExists | WorkflowError.CompensationFailedOf<never>,
        Users,
        never
      >
    >()
  })

  test("StepDefect is a RunError, caught by its tag with the run, path, attempt and defect typed", () => {
    expect<WorkflowError.StepDefect>().type.toBeAssignableTo<WorkflowError.RunError>()
    expect<Workflow.StepDefect>().type.toBe<WorkflowError.StepDefect>()
    const Flaky = start.pipe(
      Workflow.step("user", { success: User, retry: { times: 2, defects: true } }, (ctx) => createUser(ctx.input.email))
    )
    const caught = Workflow.run(Flaky, { input: { email: "ada@example.com" } }).pipe(
      Effect.catchTag("StepDefect", (error) => {
        expect(error).type.toBe<WorkflowError.StepDefect>()
        expect(error.path).type.toBe<string>()
        expect(error.attempts).type.toBe<number>()
        return Effect.succeed(error.defect)
      })
    )
    expect(caught).type.toBe<
      Effect.Effect<
        Workflow.Outcome<{ readonly input: Input; readonly user: User }, never> | string,
        UserExists | Exclude<WorkflowError.RunError, WorkflowError.StepDefect>,
        Users | Journal.Journal
      >
    >()
  })

  test("defects must be a boolean", () => {
    start.pipe(
      Workflow.step(
        "user",
        // @ts-expect-error Type 'string' is not assignable to type 'boolean | undefined' -- defects is an opt-in flag
        { success: User, retry: { times: 2, defects: "yes" } },
        (ctx) => createUser(ctx.input.email)
      )
    )
  })
})

describe("step: what must not compile", () => {
  test("reading a key that is not in the context", () => {
    start.pipe(
      // @ts-expect-error Property 'user' does not exist -- `user` was never added
      Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id))
    )
  })

  test("reading a key that a later step defines", () => {
    start.pipe(
      // @ts-expect-error Property 'user' does not exist -- `user` is added by the next step, not before this one
      Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id)),
      Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email))
    )
  })

  test("a name that is already in the context", () => {
    start.pipe(
      Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email)),
      // @ts-expect-error plait: this name is already in the context -- `user` was added by the step before
      Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email))
    )
    start.pipe(
      // @ts-expect-error plait: this name is already in the context -- `input` is always in the context
      Workflow.step("input", { success: Schema.String }, () => Effect.succeed("x"))
    )
  })

  test("a value that does not match the success schema", () => {
    start.pipe(
      // @ts-expect-error Type 'string' is not assignable to type 'number' -- a string is not a number
      Workflow.step("count", { success: Schema.Number }, () => Effect.succeed("3"))
    )
    start.pipe(
      // @ts-expect-error Type 'string | number' is not assignable to type 'number' -- the schema decides the step's type; a wider value is rejected, not absorbed
      Workflow.step("count", { success: Schema.Number }, () => Effect.succeed<number | string>(3))
    )
    start.pipe(
      // @ts-expect-error missing the following properties -- `{}` lacks the struct's fields
      Workflow.step("user", { success: User }, () => Effect.succeed({}))
    )
  })

  test("an error schema for a different error", () => {
    start.pipe(
      // @ts-expect-error Type 'typeof MailBounced' is not assignable -- the step fails with UserExists, not MailBounced
      Workflow.step("user", { success: User, error: MailBounced }, (ctx) => createUser(ctx.input.email))
    )
  })
})

describe("run", () => {
  const Onboard = start.pipe(
    Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email)),
    Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id))
  )
  type Ctx = { readonly input: Input; readonly user: User; readonly welcome: boolean }

  test("Effect<Outcome<Ctx>, E | WorkflowError, R | Journal>", () => {
    expect(Workflow.run(Onboard, { input: { email: "ada@example.com" } })).type.toBe<
      Effect.Effect<
        Workflow.Outcome<Ctx, never>,
        UserExists | MailBounced | WorkflowError.RunError,
        Users | Mailer | Journal.Journal
      >
    >()
  })

  test("a workflow that cannot fail still has WorkflowError and needs a Journal", () => {
    expect(Workflow.run(start, { input: { email: "ada@example.com" }, runId: "r1" })).type.toBe<
      Effect.Effect<Workflow.Outcome<{ readonly input: Input }, never>, WorkflowError.RunError, Journal.Journal>
    >()
  })

  test("Outcome narrows on _tag", () => {
    const outcome = {} as Workflow.Outcome<Ctx>
    if (outcome._tag === "Completed") {
      expect(outcome.context).type.toBe<Ctx>()
    } else {
      expect(outcome.waitingFor).type.toBe<string>()
    }
  })

  test("the input is the encoded form", () => {
    const Dated = Workflow.make("dated", { input: Schema.Struct({ at: Schema.NumberFromString }) })
    expect(Workflow.run).type.toBeCallableWith(Dated, { input: { at: "12" } })
    expect(Workflow.run).type.not.toBeCallableWith(Dated, { input: { at: 12 } })
  })

  test("bad input does not compile", () => {
    // @ts-expect-error Type 'number' is not assignable to type 'string' -- email is a string
    Workflow.run(Onboard, { input: { email: 1 } })
    // @ts-expect-error Property 'email' is missing -- email is missing
    Workflow.run(Onboard, { input: {} })
    // @ts-expect-error Property 'input' is missing -- the input is required
    Workflow.run(Onboard, {})
    // @ts-expect-error Type 'string' is not assignable to type '{ readonly email: string; }' -- an object, not a string
    Workflow.run(Onboard, { input: "ada@example.com" })
  })
})
