import { Effect, Result, Schema } from "effect"
import { Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"
import {
  type Base,
  type Billing,
  type CardDeclined,
  type Input,
  MailBounced,
  type Mailer,
  sendWelcome,
  setupBilling,
  type User,
  UserExists,
  type Users,
  withUser
} from "./fixtures.ts"

const branches = {
  mail: Workflow.step("mailed", { success: Schema.Boolean }, (ctx: Base) => sendWelcome(ctx.user.id)),
  card: Workflow.step("charged", { success: Schema.Boolean }, (ctx: Base) => setupBilling(ctx.user.id))
}

describe("chord", () => {
  test("the callback sees the merged branch outputs; its output is added under the chord's name", () => {
    const Chord = withUser.pipe(
      Workflow.chord(
        "ready",
        {
          mail: Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => {
            expect(ctx).type.toBe<Base>()
            return sendWelcome(ctx.user.id)
          }),
          card: Workflow.step("charged", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.user.id))
        },
        (ctx) => {
          expect(ctx).type.toBe<Base & { readonly mailed: boolean; readonly charged: boolean }>()
          return Effect.succeed(ctx.mailed && ctx.charged ? "ready" : "pending")
        },
        { success: Schema.String }
      )
    )
    expect(Chord).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly mailed: boolean
          readonly charged: boolean
          readonly ready: string
        },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("the callback's errors, requirements and error schema join the block's", () => {
    const Chord = withUser.pipe(
      Workflow.chord("ready", branches, (ctx) => sendWelcome(ctx.user.id), {
        success: Schema.Boolean,
        error: MailBounced,
        retry: { times: 2 }
      })
    )
    expect(Chord).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly mailed: boolean
          readonly charged: boolean
          readonly ready: boolean
        },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("completeAll: the block fails with ParallelFailure, the callback with its own errors", () => {
    const Chord = withUser.pipe(
      Workflow.chord("ready", branches, () => Effect.fail(new UserExists({ email: "x" })), {
        success: Schema.Boolean,
        onError: "completeAll"
      })
    )
    expect(Chord).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly mailed: boolean
          readonly charged: boolean
          readonly ready: boolean
        },
        UserExists | WorkflowError.ParallelFailureOf<{ readonly mail: MailBounced; readonly card: CardDeclined }>,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("collect: the callback reads the branches at ctx[name]; its output then takes the name", () => {
    const Chord = withUser.pipe(
      Workflow.chord(
        "ready",
        branches,
        (ctx) => {
          expect(ctx.ready).type.toBe<{
            readonly mail: { readonly mailed: boolean }
            readonly card: { readonly charged: boolean }
          }>()
          return Effect.succeed(ctx.ready.mail.mailed && ctx.ready.card.charged)
        },
        { success: Schema.Boolean, merge: "collect" }
      )
    )
    expect(Chord).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly ready: boolean },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("settle: the callback sees a Result per branch and the block adds no branch error", () => {
    const Chord = withUser.pipe(
      Workflow.chord(
        "ready",
        branches,
        (ctx) => {
          expect(ctx.ready.mail).type.toBe<Result.Result<{ readonly mailed: boolean }, MailBounced>>()
          return Effect.succeed(Result.isSuccess(ctx.ready.mail) && Result.isSuccess(ctx.ready.card))
        },
        { success: Schema.Boolean, onError: "settle" }
      )
    )
    expect(Chord).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly ready: boolean },
        UserExists,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("lastWins: conflicting branch keys are a union in the callback", () => {
    withUser.pipe(
      Workflow.chord(
        "best",
        {
          cheap: Workflow.step("price", { success: Schema.Number }, () => Effect.succeed(1)),
          named: Workflow.step("price", { success: Schema.String }, () => Effect.succeed("one"))
        },
        (ctx) => {
          expect(ctx.price).type.toBe<number | string>()
          return Effect.succeed(String(ctx.price))
        },
        { success: Schema.String, merge: "lastWins" }
      )
    )
  })
})

describe("chord: what must not compile", () => {
  test("a callback value that does not match its success schema", () => {
    withUser.pipe(
      Workflow.chord(
        "ready",
        branches,
        // @ts-expect-error Type 'string | number' is not assignable to type 'number' -- the schema decides the type
        (ctx) => Effect.succeed(ctx.mailed ? 1 : "none"),
        { success: Schema.Number }
      )
    )
  })

  test("the success schema is required", () => {
    withUser.pipe(
      // @ts-expect-error Expected at least 4 arguments, but got 3 -- the callback is a journaled step
      Workflow.chord("ready", branches, () => Effect.succeed(1))
    )
  })

  test("a branch reading a sibling's output", () => {
    withUser.pipe(
      Workflow.chord(
        "ready",
        {
          mail: Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id)),
          // @ts-expect-error Property 'mailed' does not exist -- only the callback sees every branch
          card: Workflow.step("charged", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.mailed))
        },
        () => Effect.succeed(true),
        { success: Schema.Boolean }
      )
    )
  })

  test("under collect, branch outputs are not at the top of the callback's context", () => {
    withUser.pipe(
      Workflow.chord(
        "ready",
        branches,
        // @ts-expect-error Property 'mailed' does not exist -- collected under `ready`
        (ctx) => Effect.succeed(ctx.mailed),
        { success: Schema.Boolean, merge: "collect" }
      )
    )
  })

  test("a chord name already in the context", () => {
    withUser.pipe(
      Workflow.chord(
        // @ts-expect-error plait: this name is already in the context -- `user` names the first step
        "user",
        branches,
        () => Effect.succeed(true),
        { success: Schema.Boolean }
      )
    )
  })
})
