import { Effect, Schema } from "effect"
import { Workflow } from "plait"
import { describe, expect, test } from "tstyche"
import {
  type Billing,
  type CardDeclined,
  type MailBounced,
  type Mailer,
  sendWelcome,
  setupBilling
} from "./fixtures.ts"

const Input = Schema.Struct({ id: Schema.String, digital: Schema.Boolean })
type Input = typeof Input.Type

const start = Workflow.make("ship", { input: Input })

// A segment defined outside `pipe` names its context once, on `select`; the cases infer from it.
const route = Workflow.branch(
  "route",
  (ctx: { readonly input: Input }) => (ctx.input.digital ? "digital" : "physical"),
  {
    digital: Workflow.step(
      "link",
      { success: Schema.String },
      (ctx) => Effect.succeed(`https://example.com/${ctx.input.id}`)
    ),
    physical: Workflow.sequence(
      Workflow.step("label", { success: Schema.String }, () => Effect.succeed("LBL-1")),
      Workflow.step("weight", { success: Schema.Number }, () => Effect.succeed(2))
    )
  }
)

type Route =
  | { readonly _tag: "digital"; readonly link: string }
  | { readonly _tag: "physical"; readonly label: string; readonly weight: number }

describe("branch", () => {
  test("adds { [name]: { _tag: caseKey, ...caseDelta } }, a tagged union", () => {
    const Shipped = start.pipe(route)
    expect(Shipped).type.toBe<
      Workflow.Workflow<Input, { readonly input: Input; readonly route: Route }, never, never, never>
    >()
  })

  test("select and every case see the context before the block, inferred in pipe", () => {
    start.pipe(
      Workflow.step("weight", { success: Schema.Number }, () => Effect.succeed(3)),
      Workflow.branch(
        "route",
        (ctx) => {
          expect(ctx).type.toBe<{ readonly input: Input; readonly weight: number }>()
          return ctx.weight > 2 ? "heavy" : "light"
        },
        {
          heavy: Workflow.step("carrier", { success: Schema.String }, (ctx) => {
            expect(ctx).type.toBe<{ readonly input: Input; readonly weight: number }>()
            return Effect.succeed("freight")
          }),
          light: Workflow.step("stamp", { success: Schema.Boolean }, () => Effect.succeed(true))
        }
      )
    )
  })

  test("narrowing on _tag reaches the case's outputs", () => {
    start.pipe(
      route,
      Workflow.step("summary", { success: Schema.String }, (ctx) => {
        if (ctx.route._tag === "digital") {
          expect(ctx.route).type.toBe<{ readonly _tag: "digital"; readonly link: string }>()
          return Effect.succeed(ctx.route.link)
        }
        expect(ctx.route).type.toBe<{ readonly _tag: "physical"; readonly label: string; readonly weight: number }>()
        return Effect.succeed(`${ctx.route.label} ${ctx.route.weight}kg`)
      })
    )
  })

  test("E and R are the union over the cases", () => {
    const Notified = start.pipe(
      Workflow.branch("notify", (ctx) => (ctx.input.digital ? "mail" : "card"), {
        mail: Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.input.id)),
        card: Workflow.step("charged", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.input.id))
      })
    )
    expect(Notified).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly notify:
            | { readonly _tag: "mail"; readonly mailed: boolean }
            | { readonly _tag: "card"; readonly charged: boolean }
        },
        MailBounced | CardDeclined,
        Mailer | Billing,
        never
      >
    >()
  })

  test("a case that adds nothing (a sleep) is just its tag", () => {
    const Waited = start.pipe(
      Workflow.branch("pace", (ctx) => (ctx.input.digital ? "now" : "later"), {
        now: Workflow.step("sent", { success: Schema.Boolean }, () => Effect.succeed(true)),
        later: Workflow.sleep("wait", "1 hour")
      })
    )
    expect(Waited).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly pace: { readonly _tag: "now"; readonly sent: boolean } | { readonly _tag: "later" }
        },
        never,
        never,
        never
      >
    >()
  })
})

describe("branch: what must not compile", () => {
  test("reading a key only one case adds, without narrowing on _tag", () => {
    start.pipe(
      route,
      // @ts-expect-error Property 'link' does not exist -- the physical case has no link
      Workflow.step("summary", { success: Schema.String }, (ctx) => Effect.succeed(ctx.route.link))
    )
  })

  test("a case's outputs are not at the top of the context", () => {
    start.pipe(
      route,
      // @ts-expect-error Property 'link' does not exist -- case outputs live under `route`
      Workflow.step("summary", { success: Schema.String }, (ctx) => Effect.succeed(ctx.link))
    )
  })

  test("select returning a key that is not a case", () => {
    start.pipe(
      Workflow.branch(
        "route",
        // @ts-expect-error Type '"express"' is not assignable to type '"digital" | "physical"' -- no such case
        (ctx) => (ctx.input.digital ? "digital" : "express"),
        {
          digital: Workflow.step("link", { success: Schema.String }, () => Effect.succeed("url")),
          physical: Workflow.step("label", { success: Schema.String }, () => Effect.succeed("LBL"))
        }
      )
    )
  })

  test("select returning any string", () => {
    start.pipe(
      Workflow.branch(
        "route",
        // @ts-expect-error Type 'string' is not assignable to type '"digital" | "physical"' -- must be a case key
        (ctx) => ctx.input.id,
        {
          digital: Workflow.step("link", { success: Schema.String }, () => Effect.succeed("url")),
          physical: Workflow.step("label", { success: Schema.String }, () => Effect.succeed("LBL"))
        }
      )
    )
  })

  test("a case reading another case's output", () => {
    start.pipe(
      Workflow.branch("route", () => "digital", {
        digital: Workflow.step("link", { success: Schema.String }, () => Effect.succeed("url")),
        // @ts-expect-error Property 'link' does not exist -- only one case runs
        physical: Workflow.step("label", { success: Schema.String }, (ctx) => Effect.succeed(ctx.link))
      })
    )
  })

  test("a branch name already in the context", () => {
    start.pipe(
      Workflow.branch(
        // @ts-expect-error plait: this name is already in the context -- `input` is always there
        "input",
        () => "a",
        { a: Workflow.step("a", { success: Schema.Number }, () => Effect.succeed(1)) }
      )
    )
  })
})
