import { Effect, type Result, Schema } from "effect"
import { Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"
import { type Billing, type CardDeclined, MailBounced, type Mailer, sendWelcome, setupBilling } from "./fixtures.ts"

const Order = Schema.Struct({
  id: Schema.String,
  lines: Schema.Array(Schema.Struct({ sku: Schema.String, qty: Schema.Number }))
})
type Order = typeof Order.Type
type Line = Order["lines"][number]

const start = Workflow.make("fulfil", { input: Order })

describe("forEach with an Effect-function body", () => {
  test("items, item, ctx and index are inferred; adds { [name]: ReadonlyArray<A> }", () => {
    const Priced = start.pipe(
      Workflow.forEach(
        "prices",
        (ctx) => {
          expect(ctx).type.toBe<{ readonly input: Order }>()
          return ctx.input.lines
        },
        (line, ctx, index) => {
          expect(line).type.toBe<Line>()
          expect(ctx).type.toBe<{ readonly input: Order }>()
          expect(index).type.toBe<number>()
          return Effect.succeed(line.qty * 10)
        },
        { success: Schema.Number, concurrency: 4 }
      ),
      Workflow.step("total", { success: Schema.Number }, (ctx) => {
        expect(ctx.prices).type.toBe<ReadonlyArray<number>>()
        return Effect.succeed(ctx.prices.reduce((a, b) => a + b, 0))
      })
    )
    expect(Priced).type.toBe<
      Workflow.Workflow<
        { readonly id: string; readonly lines: ReadonlyArray<{ readonly sku: string; readonly qty: number }> },
        { readonly input: Order; readonly prices: ReadonlyArray<number>; readonly total: number },
        never,
        never,
        never
      >
    >()
  })

  test("any Iterable of items", () => {
    const Counted = start.pipe(
      Workflow.forEach("skus", (ctx) => new Set(ctx.input.lines.map((line) => line.sku)), (sku) => {
        expect(sku).type.toBe<string>()
        return Effect.succeed(sku.length)
      }, { success: Schema.Number })
    )
    expect(Counted).type.toBe<
      Workflow.Workflow<Order, { readonly input: Order; readonly skus: ReadonlyArray<number> }, never, never, never>
    >()
  })

  test("the body's errors and requirements join the workflow's; an error schema is accepted", () => {
    const Mailed = start.pipe(
      Workflow.forEach("mails", (ctx) => ctx.input.lines, (line) => sendWelcome(line.sku), {
        success: Schema.Boolean,
        error: MailBounced,
        retry: { times: 2 }
      })
    )
    expect(Mailed).type.toBe<
      Workflow.Workflow<
        Order,
        { readonly input: Order; readonly mails: ReadonlyArray<boolean> },
        MailBounced,
        Mailer,
        never
      >
    >()
  })

  test("completeAll fails with one ParallelFailure", () => {
    const Mailed = start.pipe(
      Workflow.forEach("mails", (ctx) => ctx.input.lines, (line) => sendWelcome(line.sku), {
        success: Schema.Boolean,
        onError: "completeAll"
      })
    )
    expect(Mailed).type.toBe<
      Workflow.Workflow<
        Order,
        { readonly input: Order; readonly mails: ReadonlyArray<boolean> },
        WorkflowError.ParallelFailureOf<Record<string, MailBounced>>,
        Mailer,
        never
      >
    >()
  })

  test("settle: each item is a Result<A, E>; without a tolerance the block never fails", () => {
    const Settled = start.pipe(
      Workflow.forEach("mails", (ctx) => ctx.input.lines, (line) => sendWelcome(line.sku), {
        success: Schema.Boolean,
        onError: "settle"
      })
    )
    expect(Settled).type.toBe<
      Workflow.Workflow<
        Order,
        { readonly input: Order; readonly mails: ReadonlyArray<Result.Result<boolean, MailBounced>> },
        never,
        Mailer,
        never
      >
    >()
  })

  test("settle with a tolerance fails with ParallelFailure past it", () => {
    const byCount = start.pipe(
      Workflow.forEach("mails", (ctx) => ctx.input.lines, (line) => sendWelcome(line.sku), {
        success: Schema.Boolean,
        onError: "settle",
        tolerate: { count: 2 }
      })
    )
    const byFraction = start.pipe(
      Workflow.forEach("mails", (ctx) => ctx.input.lines, (line) => sendWelcome(line.sku), {
        success: Schema.Boolean,
        onError: "settle",
        tolerate: { fraction: 0.1 }
      })
    )
    type Expected = Workflow.Workflow<
      Order,
      { readonly input: Order; readonly mails: ReadonlyArray<Result.Result<boolean, MailBounced>> },
      WorkflowError.ParallelFailureOf<Record<string, MailBounced>>,
      Mailer,
      never
    >
    expect(byCount).type.toBe<Expected>()
    expect(byFraction).type.toBe<Expected>()
  })

  test("key receives the item and its index", () => {
    start.pipe(
      Workflow.forEach("prices", (ctx) => ctx.input.lines, (line) => Effect.succeed(line.qty), {
        success: Schema.Number,
        key: (line, index) => {
          expect(line).type.toBe<Line>()
          expect(index).type.toBe<number>()
          return line.sku
        }
      })
    )
  })
})

describe("forEach with a segment body", () => {
  test("ctx.item and ctx.index are in the body's context; adds the body's delta per item", () => {
    const Shipped = start.pipe(
      Workflow.forEach(
        "shipments",
        (ctx) => ctx.input.lines,
        Workflow.sequence(
          Workflow.step("reserved", { success: Schema.Boolean }, (ctx) => {
            expect(ctx).type.toBe<{ readonly input: Order; readonly item: Line; readonly index: number }>()
            return Effect.succeed(ctx.item.qty > 0)
          }),
          Workflow.step("label", { success: Schema.String }, (ctx) => {
            expect(ctx).type.toBe<
              { readonly input: Order; readonly item: Line; readonly index: number; readonly reserved: boolean }
            >()
            return Effect.succeed(`${ctx.input.id}/${ctx.index}/${ctx.item.sku}`)
          })
        ),
        { concurrency: 8, key: (line) => line.sku }
      )
    )
    expect(Shipped).type.toBe<
      Workflow.Workflow<
        Order,
        {
          readonly input: Order
          readonly shipments: ReadonlyArray<{ readonly reserved: boolean; readonly label: string }>
        },
        never,
        never,
        never
      >
    >()
  })

  test("a single step as the body", () => {
    const Mailed = start.pipe(
      Workflow.forEach(
        "mails",
        (ctx) => ctx.input.lines,
        Workflow.step("sent", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.item.sku))
      )
    )
    expect(Mailed).type.toBe<
      Workflow.Workflow<
        Order,
        { readonly input: Order; readonly mails: ReadonlyArray<{ readonly sent: boolean }> },
        MailBounced,
        Mailer,
        never
      >
    >()
  })

  test("settle: each item is a Result of the body's delta and error", () => {
    const Settled = start.pipe(
      Workflow.forEach(
        "setup",
        (ctx) => ctx.input.lines,
        Workflow.sequence(
          Workflow.step("mailed", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.item.sku)),
          Workflow.step("billed", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.item.sku))
        ),
        { onError: "settle" }
      )
    )
    expect(Settled).type.toBe<
      Workflow.Workflow<
        Order,
        {
          readonly input: Order
          readonly setup: ReadonlyArray<
            Result.Result<{ readonly mailed: boolean; readonly billed: boolean }, MailBounced | CardDeclined>
          >
        },
        never,
        Mailer | Billing,
        never
      >
    >()
  })

  test("a nested forEach sees its own item, shadowing the outer one", () => {
    const Grid = Workflow.make("grid", { input: Schema.Array(Schema.Array(Schema.Number)) }).pipe(
      Workflow.forEach(
        "rows",
        (ctx) => ctx.input,
        Workflow.forEach(
          "cells",
          (ctx) => {
            expect(ctx.item).type.toBe<ReadonlyArray<number>>()
            return ctx.item
          },
          Workflow.step("doubled", { success: Schema.Number }, (ctx) => {
            expect(ctx.item).type.toBe<number>()
            return Effect.succeed(ctx.item * 2)
          })
        )
      )
    )
    expect(Grid).type.toBe<
      Workflow.Workflow<
        ReadonlyArray<ReadonlyArray<number>>,
        {
          readonly input: ReadonlyArray<ReadonlyArray<number>>
          readonly rows: ReadonlyArray<{ readonly cells: ReadonlyArray<{ readonly doubled: number }> }>
        },
        never,
        never,
        never
      >
    >()
  })
})

describe("forEach: what must not compile", () => {
  test("an Effect body without a success schema: one error, on the name, that says what is missing", () => {
    start.pipe(
      Workflow.forEach(
        // @ts-expect-error plait: an Effect body needs a `success` schema in the options of forEach -- without `success` the body must be a segment
        "prices",
        (ctx) => ctx.input.lines,
        (line: Line) => Effect.succeed(line.qty)
      )
    )
    start.pipe(
      Workflow.forEach(
        // @ts-expect-error plait: an Effect body needs a `success` schema in the options of forEach -- options without `success` too
        "prices",
        (ctx) => ctx.input.lines,
        (line) => Effect.succeed(line.qty),
        { concurrency: 4, key: (line) => line.sku }
      )
    )
  })

  test("an Effect body whose value does not match its schema", () => {
    start.pipe(
      Workflow.forEach(
        "prices",
        (ctx) => ctx.input.lines,
        // @ts-expect-error Type 'string' is not assignable to type 'number' -- the schema decides the type
        (line) => Effect.succeed(line.sku),
        { success: Schema.Number }
      )
    )
  })

  test("items that are not iterable", () => {
    start.pipe(
      // @ts-expect-error Type 'number' is not assignable to type 'Iterable< -- items must be an Iterable
      Workflow.forEach("prices", (ctx) => ctx.input.id.length, (n) => Effect.succeed(n), { success: Schema.Number })
    )
  })

  test("a key that is neither a string nor a number", () => {
    start.pipe(
      Workflow.forEach("prices", (ctx) => ctx.input.lines, (line) => Effect.succeed(line.qty), {
        success: Schema.Number,
        // @ts-expect-error is not assignable to type '(item: { readonly sku: string; readonly qty: number; }, index: number) => string | number' -- keys name journal paths
        key: (line) => line
      })
    )
  })

  test("a segment body reading a key that is not there", () => {
    start.pipe(
      Workflow.forEach(
        "labels",
        (ctx) => ctx.input.lines,
        // @ts-expect-error Property 'price' does not exist -- no step added `price`
        Workflow.step("label", { success: Schema.String }, (ctx) => Effect.succeed(ctx.price))
      )
    )
  })

  test("a body step named item or index", () => {
    start.pipe(
      Workflow.forEach(
        "labels",
        (ctx) => ctx.input.lines,
        // @ts-expect-error plait: this name is already in the context -- `item` is the current item
        Workflow.step("item", { success: Schema.String }, () => Effect.succeed("x"))
      )
    )
  })

  test("a name already in the context", () => {
    start.pipe(
      // @ts-expect-error plait: this name is already in the context -- `input` is always there
      Workflow.forEach("input", (ctx) => ctx.input.lines, (line: Line) => Effect.succeed(line.qty), {
        success: Schema.Number
      })
    )
  })
})
