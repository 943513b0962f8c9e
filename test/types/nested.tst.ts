import { Effect, type Result, Schema } from "effect"
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

const Customer = Schema.Struct({ id: Schema.String, vip: Schema.Boolean })
type Customer = typeof Customer.Type
const Input = Schema.Struct({ batch: Schema.String, customers: Schema.Array(Customer) })
type Input = typeof Input.Type

const start = Workflow.make("campaign", { input: Input })

type ItemCtx = { readonly input: Input; readonly region: string; readonly item: Customer; readonly index: number }

describe("a parallel inside a branch inside a forEach segment body", () => {
  test("every level infers its context and the result type nests", () => {
    const Campaign = start.pipe(
      Workflow.step("region", { success: Schema.String }, () => Effect.succeed("eu")),
      Workflow.forEach(
        "perCustomer",
        (ctx) => ctx.input.customers,
        Workflow.branch("tier", (ctx) => {
          expect(ctx).type.toBe<ItemCtx>()
          return ctx.item.vip ? "vip" : "regular"
        }, {
          vip: Workflow.parallel("perks", {
            mail: Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => {
              expect(ctx).type.toBe<ItemCtx>()
              return sendWelcome(ctx.item.id)
            }),
            card: Workflow.sequence(
              Workflow.step("charged", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.item.id)),
              Workflow.step("receipt", { success: Schema.String }, (ctx) => {
                expect(ctx).type.toBe<ItemCtx & { readonly charged: boolean }>()
                return Effect.succeed(`${ctx.region}/${ctx.index}`)
              })
            )
          }),
          regular: Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.item.id))
        }),
        { concurrency: 4, key: (customer) => customer.id }
      ),
      Workflow.step("report", { success: Schema.Number }, (ctx) => {
        const first = ctx.perCustomer[0]
        if (first !== undefined && first.tier._tag === "vip") {
          expect(first.tier).type.toBe<
            { readonly _tag: "vip"; readonly mailed: boolean; readonly charged: boolean; readonly receipt: string }
          >()
        }
        return Effect.succeed(ctx.perCustomer.length)
      })
    )
    expect(Campaign).type.toBe<
      Workflow.Workflow<
        { readonly batch: string; readonly customers: ReadonlyArray<{ readonly id: string; readonly vip: boolean }> },
        {
          readonly input: Input
          readonly region: string
          readonly perCustomer: ReadonlyArray<{
            readonly tier:
              | { readonly _tag: "vip"; readonly mailed: boolean; readonly charged: boolean; readonly receipt: string }
              | { readonly _tag: "regular"; readonly mailed: boolean }
          }>
          readonly report: number
        },
        MailBounced | CardDeclined,
        Mailer | Billing,
        never
      >
    >()
  })

  test("strategies compose across levels: settle items, collect inside the vip case", () => {
    const Campaign = start.pipe(
      Workflow.forEach(
        "perCustomer",
        (ctx) => ctx.input.customers,
        Workflow.branch("tier", (ctx) => (ctx.item.vip ? "vip" : "regular"), {
          vip: Workflow.parallel("perks", {
            mail: Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.item.id)),
            card: Workflow.step("charged", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.item.id))
          }, { merge: "collect" }),
          regular: Workflow.sleep("later", "1 day")
        }),
        { onError: "settle" }
      )
    )
    type Tier =
      | {
        readonly _tag: "vip"
        readonly perks: { readonly mail: { readonly mailed: boolean }; readonly card: { readonly charged: boolean } }
      }
      | { readonly _tag: "regular" }
    expect(Campaign).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly perCustomer: ReadonlyArray<Result.Result<{ readonly tier: Tier }, MailBounced | CardDeclined>>
        },
        never,
        Mailer | Billing,
        never
      >
    >()
  })

  test("what must not compile, deep inside", () => {
    start.pipe(
      Workflow.forEach(
        "perCustomer",
        (ctx) => ctx.input.customers,
        Workflow.branch("tier", (ctx) => (ctx.item.vip ? "vip" : "regular"), {
          vip: Workflow.parallel("perks", {
            mail: Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.item.id)),
            // @ts-expect-error Property 'mailed' does not exist -- a sibling branch's output
            card: Workflow.step("charged", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.mailed))
          }),
          regular: Workflow.step(
            // @ts-expect-error plait: this name is already in the context -- `item` is the forEach's item
            "item",
            { success: Schema.Boolean },
            () => Effect.succeed(true)
          )
        })
      )
    )
  })
})
