/**
 * A workflow as an app would write it, using every combinator. Its declarations are emitted
 * (`declaration: true`), so each exported value's type must be nameable through plait's public
 * entry points: a type that only an internal module can name fails the compile.
 */
import { Context, Effect, Schema } from "effect"
import { Workflow } from "plait"

export const Booking = Schema.Struct({
  guest: Schema.String,
  seats: Schema.Number,
  nights: Schema.Number
})

export class SoldOut extends Schema.TaggedError<SoldOut>()("SoldOut", { seats: Schema.Number }) {}

export class Hotel extends Context.Service<Hotel, {
  readonly reserve: (seats: number) => Effect.Effect<string, SoldOut>
}>()("app/Hotel") {}

type BookingCtx = { readonly input: typeof Booking.Type }

/** A branch declared on its own, as apps do to share one between workflows. */
export const quote: Workflow.Segment<BookingCtx, { readonly price: number }, never, never> = Workflow.step(
  "price",
  { success: Schema.Number },
  (ctx: BookingCtx) => Effect.succeed(ctx.input.seats * ctx.input.nights * 90)
)

export const BookStay = Workflow.make("book_stay", { input: Booking }).pipe(
  Workflow.step(
    "reservation",
    { success: Schema.String, error: SoldOut, retry: { times: 2 } },
    (ctx) =>
      Effect.gen(function*() {
        const hotel = yield* Hotel
        return yield* hotel.reserve(ctx.input.seats)
      })
  ),
  Workflow.parallel("checks", {
    quote,
    fraud: Workflow.step(
      "fraud",
      { success: Schema.Struct({ score: Schema.Number }) },
      () => Effect.succeed({ score: 3 })
    )
  }),
  Workflow.parallel("extras", {
    breakfast: Workflow.step("perk", { success: Schema.String }, () => Effect.succeed("breakfast")),
    parking: Workflow.step("perk", { success: Schema.String }, () => Effect.succeed("parking"))
  }, { merge: "lastWins" }),
  Workflow.race("confirmation", {
    email: Workflow.step("sent", { success: Schema.String }, (ctx) => Effect.succeed(`mail to ${ctx.input.guest}`)),
    sms: Workflow.step("sent", { success: Schema.String }, () => Effect.never)
  }),
  Workflow.branch("tier", (ctx) => (ctx.price > 500 ? "vip" : "standard"), {
    vip: Workflow.step("upgrade", { success: Schema.Boolean }, () => Effect.succeed(true)),
    standard: Workflow.step("upgrade", { success: Schema.Boolean }, () => Effect.succeed(false))
  }),
  Workflow.forEach(
    "nightly",
    (ctx) => Array.from({ length: ctx.input.nights }, (_, night) => night),
    (night) => Effect.succeed(`night ${night + 1}`),
    { success: Schema.String, concurrency: 2 }
  ),
  Workflow.chord(
    "keys",
    {
      front: Workflow.step("frontKey", { success: Schema.Number }, () => Effect.succeed(1)),
      spare: Workflow.step("spareKey", { success: Schema.Number }, () => Effect.succeed(2))
    },
    (ctx) => Effect.succeed(ctx.frontKey + ctx.spareKey),
    { success: Schema.Number }
  ),
  Workflow.sleep("checkInWindow", "20 millis"),
  Workflow.signal("checkedIn", { schema: Schema.Struct({ room: Schema.Number }) }),
  Workflow.step(
    "receipt",
    { success: Schema.String },
    (ctx) =>
      Effect.succeed(`${ctx.reservation} room ${ctx.checkedIn.room} for ${ctx.price}, ${ctx.nightly.length} nights`)
  )
)
