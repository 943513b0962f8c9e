import { Effect, Schema } from "effect"
import { Workflow } from "plait"
import { describe, expect, test } from "tstyche"
import { createUser, Input, User, type UserExists, type Users } from "./fixtures.ts"

const start = Workflow.make("onboard", { input: Input })

describe("a name is used once in a sequence, whether or not it enters the context", () => {
  test("two sleeps with one name", () => {
    start.pipe(
      Workflow.sleep("wait", "1 hour"),
      // @ts-expect-error plait: this name is already used in this sequence -- both would be journaled at `wait`
      Workflow.sleep("wait", "2 hours")
    )
  })

  test("a step named like an earlier deep or lastWins block", () => {
    start.pipe(
      Workflow.parallel("setup", { a: Workflow.step("a", { success: Schema.Number }, () => Effect.succeed(1)) }),
      // @ts-expect-error plait: this name is already used in this sequence -- the block's name is a journal path
      Workflow.step("setup", { success: Schema.Number }, () => Effect.succeed(2))
    )
    start.pipe(
      Workflow.parallel("fastest", {
        a: Workflow.step("answer", { success: Schema.Number }, () => Effect.succeed(1))
      }, { merge: "lastWins" }),
      // @ts-expect-error plait: this name is already used in this sequence -- lastWins blocks too
      Workflow.sleep("fastest", "1 second")
    )
  })

  test("inside a sequence", () => {
    start.pipe(
      Workflow.sequence(
        Workflow.sleep("wait", "1 hour"),
        // @ts-expect-error plait: this name is already used in this sequence -- a sequence's nodes share its parent's journal
        Workflow.sleep("wait", "2 hours")
      )
    )
  })

  test("inside a branch of a block", () => {
    start.pipe(
      Workflow.parallel("setup", {
        a: Workflow.sequence(
          Workflow.sleep("cool", "1 hour"),
          // @ts-expect-error plait: this name is already used in this sequence -- a branch is a sequence of its own
          Workflow.step("cool", { success: Schema.Number }, () => Effect.succeed(1))
        )
      })
    )
  })

  test("the same name in two branches of a block is fine: each branch is its own sequence", () => {
    const Twice = start.pipe(
      Workflow.parallel("setup", {
        a: Workflow.sleep("wait", "1 hour"),
        b: Workflow.sleep("wait", "2 hours")
      })
    )
    expect(Twice).type.toBe<
      Workflow.Workflow<Input, { readonly input: Input }, never, never, Workflow.Reserved<"setup">>
    >()
  })

  test("a reusable segment applied where its name is taken", () => {
    const user = Workflow.step(
      "user",
      { success: User },
      (ctx: { readonly input: Input }) => createUser(ctx.input.email)
    )
    start.pipe(
      Workflow.sleep("user", "1 second"),
      // @ts-expect-error plait: this name is already used in this sequence -- checked where the segment is applied
      user
    )
    start.pipe(
      Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email)),
      // @ts-expect-error plait: this name is already used in this sequence -- the context already has `user`
      user
    )
  })
})

describe("a ctx annotation narrower than the context", () => {
  test("hides nothing: the context keeps every earlier key", () => {
    const Flow = start.pipe(
      Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email)),
      Workflow.step(
        "greeting",
        { success: Schema.String },
        (ctx: { readonly input: Input }) => Effect.succeed(`hello ${ctx.input.email}`)
      ),
      Workflow.step("done", { success: Schema.String }, (ctx) => {
        expect(ctx).type.toBe<{ readonly input: Input; readonly user: User; readonly greeting: string }>()
        return Effect.succeed(`${ctx.user.id}: ${ctx.greeting}`)
      })
    )
    expect(Flow).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly greeting: string; readonly done: string },
        UserExists,
        Users,
        never
      >
    >()
  })

  test("cannot repeat an earlier name", () => {
    start.pipe(
      Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email)),
      Workflow.step(
        // @ts-expect-error plait: this name is already in the context -- the annotation does not hide `user`
        "user",
        { success: Schema.String },
        (ctx: { readonly input: Input }) => Effect.succeed(ctx.input.email)
      )
    )
  })

  test("must still hold in the context", () => {
    start.pipe(
      Workflow.step(
        "greeting",
        { success: Schema.String },
        // @ts-expect-error Property 'user' is missing -- the step reads a key the workflow does not have yet
        (ctx: { readonly input: Input; readonly user: User }) => Effect.succeed(ctx.user.id)
      )
    )
  })
})

describe("a sequence written on its own", () => {
  type Ctx = { readonly input: Input }

  test("`satisfies Workflow.Branch<Ctx>` gives it its context, and its steps infer from it", () => {
    const mail = Workflow.sequence(
      Workflow.step("draft", { success: Schema.String }, (ctx) => {
        expect(ctx).type.toBe<Ctx>()
        return Effect.succeed(`hello ${ctx.input.email}`)
      }),
      Workflow.step("sent", { success: Schema.Boolean }, (ctx) => {
        expect(ctx).type.toBe<Ctx & { readonly draft: string }>()
        return Effect.succeed(ctx.draft.length > 0)
      })
    ) satisfies Workflow.Branch<Ctx>
    const Mailed = start.pipe(
      Workflow.parallel("notify", {
        mail,
        log: Workflow.step("logged", { success: Schema.Boolean }, () => Effect.succeed(true))
      })
    )
    expect(Mailed).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly draft: string; readonly sent: boolean; readonly logged: boolean },
        never,
        never,
        Workflow.Reserved<"notify">
      >
    >()
  })

  test("without it, ctx is unknown and reading it does not compile", () => {
    Workflow.sequence(
      // @ts-expect-error Property 'input' does not exist on type '{}' -- annotate the sequence (see above)
      Workflow.step("draft", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input.email))
    )
  })
})

describe("a narrower annotation on a block's own callback", () => {
  test("branch cases and forEach bodies still see the whole context", () => {
    const Order = Workflow.make("order", { input: Schema.Array(Schema.String) }).pipe(
      Workflow.step("region", { success: Schema.String }, () => Effect.succeed("eu")),
      Workflow.branch(
        "route",
        (ctx: { readonly input: ReadonlyArray<string> }) => (ctx.input.length > 1 ? "bulk" : "single"),
        {
          bulk: Workflow.step("carrier", { success: Schema.String }, (ctx) => Effect.succeed(`${ctx.region}-freight`)),
          single: Workflow.step("stamp", { success: Schema.String }, (ctx) => Effect.succeed(ctx.region))
        }
      ),
      Workflow.forEach(
        "labels",
        (ctx: { readonly input: ReadonlyArray<string> }) => ctx.input,
        Workflow.step(
          "label",
          { success: Schema.String },
          (ctx) => Effect.succeed(`${ctx.region}/${ctx.item}`)
        )
      )
    )
    expect(Order).type.toBe<
      Workflow.Workflow<
        ReadonlyArray<string>,
        {
          readonly input: ReadonlyArray<string>
          readonly region: string
          readonly route: { readonly _tag: "bulk"; readonly carrier: string } | {
            readonly _tag: "single"
            readonly stamp: string
          }
          readonly labels: ReadonlyArray<{ readonly label: string }>
        },
        never,
        never,
        never
      >
    >()
  })
})
