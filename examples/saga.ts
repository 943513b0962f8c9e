/**
 * A saga: an order reserves stock and charges the card, then shipping fails for good. The run
 * undoes what it did, in reverse: the charge is refunded (with the refund's own idempotency key,
 * the same for every retry of it, so a retried refund is not paid twice), then the stock is
 * released. Runnable:
 *
 *   npm run example -- examples/saga.ts
 *
 * The services are small in-memory stand-ins; the carrier refuses every parcel.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Option, Schema } from "effect"
import { Journal, Workflow } from "plait"

class NoCarrier extends Schema.TaggedError<NoCarrier>()("NoCarrier", { country: Schema.String }) {}

class Payments extends Context.Service<Payments, {
  readonly charge: (amount: number, idempotencyKey: string) => Effect.Effect<string>
  readonly refund: (chargeId: string, idempotencyKey: string) => Effect.Effect<void>
}>()("saga/Payments") {}

class Stock extends Context.Service<Stock, {
  readonly reserve: (sku: string, quantity: number) => Effect.Effect<string>
  readonly release: (reservation: string) => Effect.Effect<void>
}>()("saga/Stock") {}

class Carrier extends Context.Service<Carrier, {
  readonly ship: (country: string) => Effect.Effect<string, NoCarrier>
}>()("saga/Carrier") {}

const Order = Schema.Struct({
  id: Schema.String,
  sku: Schema.String,
  quantity: Schema.Number,
  amount: Schema.Number,
  country: Schema.String
})

const Checkout = Workflow.make("checkout", { input: Order }).pipe(
  Workflow.step("reservation", {
    success: Schema.String,
    compensate: (reservation) => Stock.use((stock) => stock.release(reservation))
  }, (ctx) => Stock.use((stock) => stock.reserve(ctx.input.sku, ctx.input.quantity))),
  Workflow.step("charge", {
    success: Schema.String,
    // The refund is a unit of work of its own: journaled once done, retried by this policy.
    compensateRetry: { times: 5, delay: "200 millis", backoff: "exponential" },
    compensate: (chargeId) =>
      Effect.gen(function*() {
        const info = yield* Workflow.StepInfo
        yield* Payments.use((payments) => payments.refund(chargeId, info.idempotencyKey))
      })
  }, (ctx) =>
    Effect.gen(function*() {
      const info = yield* Workflow.StepInfo
      return yield* Payments.use((payments) => payments.charge(ctx.input.amount, info.idempotencyKey))
    })),
  Workflow.step(
    "shipment",
    { success: Schema.String, error: NoCarrier, retry: { times: 2, delay: "100 millis" } },
    (ctx) => Carrier.use((carrier) => carrier.ship(ctx.input.country))
  )
)

const Services = Layer.mergeAll(
  Layer.succeed(
    Payments,
    Payments.of({
      charge: (amount, key) =>
        Effect.as(Console.log(`    (payments) charged ${amount} EUR, key ${key}`), `ch_${key.slice(-6)}`),
      refund: (chargeId, key) => Console.log(`    (payments) refunded ${chargeId}, key ${key}`)
    })
  ),
  Layer.succeed(
    Stock,
    Stock.of({
      reserve: (sku, quantity) => Effect.as(Console.log(`    (stock) reserved ${quantity} x ${sku}`), `res_${sku}`),
      release: (reservation) => Console.log(`    (stock) released ${reservation}`)
    })
  ),
  Layer.succeed(
    Carrier,
    Carrier.of({
      ship: (country) =>
        Effect.andThen(Console.log(`    (carrier) no carrier for ${country}`), Effect.fail(new NoCarrier({ country })))
    })
  )
)

const observe = (event: Workflow.StepEvent) =>
  event._tag === "Completed" || event._tag === "Failed"
    ? Console.log(`  ${event._tag === "Completed" ? "ok" : "x "} ${event.path}`)
    : Effect.void

const program = Effect.gen(function*() {
  const order = { id: "A-17", sku: "lamp", quantity: 2, amount: 120, country: "Atlantis" }
  const result = yield* Effect.exit(Workflow.run(Checkout, { input: order, runId: "checkout-A-17", observe }))
  yield* Console.log(
    `\nthe run ended: ${result._tag === "Failure" ? "failed, with what shipping failed with" : "completed"}`
  )

  // The journal says what completed, in which order, and what was undone.
  const journal = yield* Journal.Journal
  const loaded = Option.getOrThrow(yield* journal.load("checkout-A-17"))
  yield* Console.log(`status: ${loaded.run.status}`)
  for (const entry of loaded.entries) {
    if (entry.kind === "compensable" || entry.kind === "compensated") {
      yield* Console.log(`  ${entry.kind} ${entry.path}`)
    }
  }
}).pipe(Effect.provide(Layer.merge(Services, Journal.layerMemory)))

NodeRuntime.runMain(program)
