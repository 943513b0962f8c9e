/**
 * The demo workflow: an order goes through validation, three checks in parallel, per-item
 * packing, a durable cool-off and shipping. Each step takes a moment so the run can be
 * interrupted (Ctrl-C) part-way and resumed.
 */
import { Context, Effect, Schema } from "effect"
import { Workflow } from "plait"

export const Order = Schema.Struct({
  id: Schema.String,
  customer: Schema.String,
  items: Schema.Array(Schema.Struct({ sku: Schema.String, quantity: Schema.Number }))
})

export class CarrierUnavailable extends Schema.TaggedError<CarrierUnavailable>()("CarrierUnavailable", {
  carrier: Schema.String
}) {}

/** Whether the shipping carrier's API is up: the demo takes it down for its first attempt. */
export class Carrier extends Context.Service<Carrier, {
  readonly book: (orderId: string) => Effect.Effect<string, CarrierUnavailable>
}>()("demo/Carrier") {}

const work = <A>(value: A) => Effect.as(Effect.sleep("400 millis"), value)

export const OrderFulfillment = Workflow.make("order_fulfillment", { input: Order }).pipe(
  Workflow.step(
    "validated",
    { success: Schema.Number },
    (ctx) => work(ctx.input.items.reduce((total, item) => total + item.quantity, 0))
  ),
  Workflow.parallel("checks", {
    inventory: Workflow.step("reserved", { success: Schema.Boolean }, () => work(true)),
    payment: Workflow.step(
      "charged",
      { success: Schema.String, retry: { times: 2, delay: "200 millis" } },
      (ctx) => work(`ch_${ctx.input.id}`)
    ),
    fraud: Workflow.step("riskScore", { success: Schema.Number }, (ctx) => work(ctx.validated > 10 ? 0.4 : 0.1))
  }),
  Workflow.forEach("packed", (ctx) => ctx.input.items, (item) => work(`${item.quantity} x ${item.sku}`), {
    success: Schema.String,
    concurrency: 2,
    key: (item) => item.sku
  }),
  Workflow.sleep("coolOff", "1 second"),
  Workflow.step(
    "shipment",
    { success: Schema.String, retry: { times: 1, delay: "300 millis" } },
    (ctx) =>
      Effect.gen(function*() {
        const carrier = yield* Carrier
        return yield* carrier.book(ctx.input.id)
      })
  ),
  Workflow.step(
    "receipt",
    { success: Schema.String },
    (ctx) =>
      work(`order ${ctx.input.id}: ${ctx.packed.length} lines packed, charge ${ctx.charged}, tracking ${ctx.shipment}`)
  )
)
