import { Effect, Schema } from "effect"
import { Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"
import {
  type Base,
  type Billing,
  type CardDeclined,
  type Input,
  type MailBounced,
  type Mailer,
  sendWelcome,
  setupBilling,
  type User,
  type UserExists,
  type Users,
  withUser
} from "./fixtures.ts"

describe("race", () => {
  test("adds { [name]: { _tag: branchKey, value: delta } }, a union over the branches", () => {
    const Raced = withUser.pipe(
      Workflow.race("answer", {
        cache: Workflow.step("cached", { success: Schema.String }, (ctx) => {
          expect(ctx).type.toBe<Base>()
          return Effect.succeed(ctx.user.id)
        }),
        origin: Workflow.sequence(
          Workflow.step("fetched", { success: Schema.Number }, () => Effect.succeed(1)),
          Workflow.step("parsed", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.fetched > 0))
        )
      })
    )
    expect(Raced).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly answer:
            | { readonly _tag: "cache"; readonly value: { readonly cached: string } }
            | { readonly _tag: "origin"; readonly value: { readonly fetched: number; readonly parsed: boolean } }
        },
        UserExists | WorkflowError.RaceFailureOf<{ readonly cache: never; readonly origin: never }>,
        Users,
        never
      >
    >()
  })

  test("the winner narrows on _tag", () => {
    withUser.pipe(
      Workflow.race("answer", {
        cache: Workflow.step("cached", { success: Schema.String }, () => Effect.succeed("hit")),
        origin: Workflow.step("fetched", { success: Schema.Number }, () => Effect.succeed(1))
      }),
      Workflow.step("report", { success: Schema.String }, (ctx) => {
        if (ctx.answer._tag === "cache") {
          expect(ctx.answer.value).type.toBe<{ readonly cached: string }>()
          return Effect.succeed(ctx.answer.value.cached)
        }
        expect(ctx.answer.value).type.toBe<{ readonly fetched: number }>()
        return Effect.succeed(String(ctx.answer.value.fetched))
      })
    )
  })

  test("the block fails only with RaceFailure (when every branch failed); branch errors do not escape", () => {
    const Raced = withUser.pipe(
      Workflow.race("notify", {
        mail: Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id)),
        card: Workflow.step("charged", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.user.id))
      })
    )
    expect(Raced).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly notify:
            | { readonly _tag: "mail"; readonly value: { readonly mailed: boolean } }
            | { readonly _tag: "card"; readonly value: { readonly charged: boolean } }
        },
        UserExists | WorkflowError.RaceFailureOf<{ readonly mail: MailBounced; readonly card: CardDeclined }>,
        Users | Mailer | Billing,
        never
      >
    >()
  })
})

describe("race: what must not compile", () => {
  test("a branch's delta is not added to the context directly", () => {
    withUser.pipe(
      Workflow.race("answer", {
        cache: Workflow.step("cached", { success: Schema.String }, () => Effect.succeed("hit"))
      }),
      // @ts-expect-error Property 'cached' does not exist -- the winner is under `answer.value`
      Workflow.step("report", { success: Schema.String }, (ctx) => Effect.succeed(ctx.cached))
    )
  })

  test("reading the value without narrowing on _tag", () => {
    withUser.pipe(
      Workflow.race("answer", {
        cache: Workflow.step("cached", { success: Schema.String }, () => Effect.succeed("hit")),
        origin: Workflow.step("fetched", { success: Schema.String }, () => Effect.succeed("fresh"))
      }),
      // @ts-expect-error Property 'cached' does not exist -- `origin` may have won
      Workflow.step("report", { success: Schema.String }, (ctx) => Effect.succeed(ctx.answer.value.cached))
    )
  })

  test("a branch reading a sibling's output", () => {
    withUser.pipe(
      Workflow.race("answer", {
        cache: Workflow.step("cached", { success: Schema.String }, () => Effect.succeed("hit")),
        // @ts-expect-error Property 'cached' does not exist -- racing branches never see each other
        origin: Workflow.step("fetched", { success: Schema.String }, (ctx) => Effect.succeed(ctx.cached))
      })
    )
  })

  test("a race name already in the context", () => {
    withUser.pipe(
      Workflow.race(
        // @ts-expect-error plait: this name is already in the context -- `user` names the first step
        "user",
        { a: Workflow.step("a", { success: Schema.Number }, () => Effect.succeed(1)) }
      )
    )
  })
})
