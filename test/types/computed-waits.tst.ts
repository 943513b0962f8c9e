import { DateTime, Duration, Effect, Schema } from "effect"
import { Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"

const start = Workflow.make("expense", { input: Schema.Struct({ amount: Schema.Number, days: Schema.Number }) })
type Input = { readonly amount: number; readonly days: number }

describe("sleep with a computed length", () => {
  test("the callback sees the context so far; the sleep adds nothing and reserves its name", () => {
    const Slept = start.pipe(
      Workflow.step("doubled", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input.amount * 2)),
      Workflow.sleep("coolOff", (ctx) => {
        expect(ctx).type.toBe<{ readonly input: Input; readonly doubled: number }>()
        return Duration.minutes(ctx.doubled)
      })
    )
    expect(Slept).type.toBe<
      Workflow.Workflow<
        { readonly amount: number; readonly days: number },
        { readonly input: Input; readonly doubled: number },
        never,
        never,
        Workflow.Reserved<"coolOff">
      >
    >()
  })

  test("on its own, the callback's annotation is the segment's context", () => {
    const coolOff = Workflow.sleep("coolOff", (ctx: { readonly input: Input }) => Duration.days(ctx.input.days))
    expect(coolOff).type.toBe<
      Workflow.Segment<{ readonly input: Input }, {}, never, never, Workflow.Reserved<"coolOff">>
    >()
    start.pipe(coolOff)
  })

  test("a callback returning a number, a string or an Effect does not compile", () => {
    start.pipe(
      // @ts-expect-error is not assignable to type 'Duration'
      Workflow.sleep("a", (ctx) => ctx.input.days * 1000)
    )
    start.pipe(
      // @ts-expect-error is not assignable to type 'Duration'
      Workflow.sleep("b", () => "1 day")
    )
    start.pipe(
      // @ts-expect-error Argument of type '() => Effect.Effect<Duration.Duration, never, never>' is not assignable
      Workflow.sleep("c", () => Effect.succeed(Duration.days(1)))
    )
  })

  test("a callback reading what the context does not hold does not compile", () => {
    start.pipe(
      // @ts-expect-error Property 'later' does not exist
      Workflow.sleep("d", (ctx) => Duration.minutes(ctx.later)),
      Workflow.step("later", { success: Schema.Number }, () => Effect.succeed(1))
    )
  })
})

describe("sleepUntil", () => {
  test("the callback sees the context and returns a DateTime.Utc; the sleep adds nothing", () => {
    const Slept = start.pipe(
      Workflow.sleepUntil("trialEnds", (ctx) => {
        expect(ctx).type.toBe<{ readonly input: Input }>()
        return DateTime.makeUnsafe(ctx.input.days * 86_400_000)
      })
    )
    expect(Slept).type.toBe<
      Workflow.Workflow<
        { readonly amount: number; readonly days: number },
        { readonly input: Input },
        never,
        never,
        Workflow.Reserved<"trialEnds">
      >
    >()
  })

  test("a number, a string, a Date or a zoned DateTime does not compile", () => {
    // @ts-expect-error is not assignable to type 'Utc'
    start.pipe(Workflow.sleepUntil("a", () => 1_700_000_000_000))
    // @ts-expect-error is not assignable to type 'Utc'
    start.pipe(Workflow.sleepUntil("b", () => "2030-01-01T00:00:00Z"))
    // @ts-expect-error Type 'Date' is missing the following properties from type 'Utc'
    start.pipe(Workflow.sleepUntil("c", () => new Date()))
    // @ts-expect-error is not assignable to type 'Utc'
    start.pipe(Workflow.sleepUntil("d", () => DateTime.makeZonedUnsafe(0, { timeZone: "Europe/Paris" })))
  })

  test("a name already in the context does not compile", () => {
    start.pipe(
      // @ts-expect-error plait: this name is already in the context
      Workflow.sleepUntil("input", () => DateTime.makeUnsafe(0))
    )
  })
})

describe("a signal timeout computed from the context", () => {
  test("the callback sees the context; the signal adds its value and SignalTimeout", () => {
    const Waited = start.pipe(
      Workflow.signal("approval", {
        schema: Schema.Boolean,
        timeout: (ctx) => {
          expect(ctx).type.toBe<{ readonly input: Input }>()
          return Duration.days(ctx.input.days)
        }
      })
    )
    expect(Waited).type.toBe<
      Workflow.Workflow<
        { readonly amount: number; readonly days: number },
        { readonly input: Input; readonly approval: boolean },
        WorkflowError.SignalTimeout,
        never,
        Workflow.SignalAt<"approval", boolean>
      >
    >()
  })

  test("a callback returning a number does not compile", () => {
    start.pipe(
      Workflow.signal("approval", {
        schema: Schema.Boolean,
        // @ts-expect-error is not assignable
        timeout: (ctx) => ctx.input.days
      })
    )
  })
})
