import { Effect, Schema } from "effect"
import { Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"
import {
  type Billing,
  CardDeclined,
  createUser,
  Input,
  type MailBounced,
  type Mailer,
  sendWelcome,
  setupBilling,
  User,
  type UserExists,
  type Users,
  withUser
} from "./fixtures.ts"

const start = Workflow.make("onboard", { input: Input })

class RefundRefused extends Schema.TaggedError<RefundRefused>()("RefundRefused", { charge: Schema.String }) {}

const refund = (charge: string) => Effect.fail(new RefundRefused({ charge }))

describe("step: compensate", () => {
  test("compensate is given the decoded output and the context the step saw", () => {
    withUser.pipe(
      Workflow.step("charge", {
        success: Schema.NumberFromString,
        compensate: (output, ctx) => {
          expect(output).type.toBe<number>()
          expect(ctx).type.toBe<{ readonly input: Input; readonly user: User }>()
          return Effect.void
        }
      }, () => Effect.succeed(12))
    )
  })

  test("a compensable step adds CompensationFailed with its compensation's errors, and its services", () => {
    const Charged = start.pipe(
      Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email)),
      Workflow.step("charge", {
        success: Schema.String,
        compensate: (charge) => Effect.andThen(setupBilling(charge), refund(charge))
      }, (ctx) => Effect.as(sendWelcome(ctx.user.id), "ch_1"))
    )
    expect(Charged).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly charge: string },
        UserExists | MailBounced | WorkflowError.CompensationFailedOf<RefundRefused | CardDeclined>,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("a compensation that cannot fail still adds CompensationFailed (it may die); a step without one adds nothing", () => {
    const Safe = start.pipe(
      Workflow.step("n", { success: Schema.Number, compensate: () => Effect.void }, () => Effect.succeed(1))
    )
    expect(Safe).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly n: number },
        WorkflowError.CompensationFailedOf<never>,
        never,
        never
      >
    >()
    const Plain = start.pipe(Workflow.step("n", { success: Schema.Number }, () => Effect.succeed(1)))
    expect(Plain).type.toBe<
      Workflow.Workflow<Input, { readonly input: Input; readonly n: number }, never, never, never>
    >()
  })

  test("compensateRetry and limit are step options", () => {
    const Limited = start.pipe(
      Workflow.step("n", {
        success: Schema.Number,
        limit: { key: "api", max: 3 },
        compensate: () => Effect.void,
        compensateRetry: { times: 5, delay: "1 second" }
      }, () => Effect.succeed(1))
    )
    expect(Limited).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly n: number },
        WorkflowError.CompensationFailedOf<never>,
        never,
        never
      >
    >()
  })
})

describe("step: compensate, what must not compile", () => {
  test("treating the output as another type", () => {
    start.pipe(
      Workflow.step("charge", {
        success: Schema.String,
        // @ts-expect-error Property 'toFixed' does not exist on type 'string' -- the output is the success schema's type
        compensate: (output) => Effect.log(output.toFixed(2))
      }, () => Effect.succeed("ch_1"))
    )
  })

  test("reading a context key the step did not see", () => {
    start.pipe(
      Workflow.step("charge", {
        success: Schema.String,
        // @ts-expect-error Property 'user' does not exist -- the compensation sees the context of its step, not later ones
        compensate: (_, ctx) => Effect.log(ctx.user.id)
      }, () => Effect.succeed("ch_1")),
      Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email))
    )
  })

  test("a limit without a numeric max", () => {
    start.pipe(
      // @ts-expect-error Type 'string' is not assignable to type 'number' -- max is a number of slots
      Workflow.step("n", { success: Schema.Number, limit: { key: "api", max: "3" } }, () => Effect.succeed(1))
    )
  })
})

describe("StepInfo", () => {
  test("a step reads StepInfo without adding it to the workflow's requirements", () => {
    const Keyed = start.pipe(
      Workflow.step("key", { success: Schema.String }, () =>
        Effect.gen(function*() {
          const info = yield* Workflow.StepInfo
          expect(info).type.toBe<{
            readonly runId: string
            readonly path: string
            readonly attempt: number
            readonly idempotencyKey: string
          }>()
          yield* sendWelcome(info.idempotencyKey)
          return info.idempotencyKey
        }))
    )
    expect(Keyed).type.toBe<
      Workflow.Workflow<Input, { readonly input: Input; readonly key: string }, MailBounced, Mailer, never>
    >()
  })

  test("inside a forEach body, a chord callback and a compensation too", () => {
    const key = Workflow.StepInfo.use((info) => Effect.succeed(info.idempotencyKey))
    const Everywhere = start.pipe(
      Workflow.forEach("keys", () => [1, 2], () => key, { success: Schema.String }),
      Workflow.chord("both", { a: Workflow.step("a", { success: Schema.String }, () => key) }, () => key, {
        success: Schema.String
      }),
      Workflow.step("undone", { success: Schema.String, compensate: () => key }, () => key)
    )
    expect(Everywhere).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly keys: ReadonlyArray<string>
          readonly a: string
          readonly both: string
          readonly undone: string
        },
        WorkflowError.CompensationFailedOf<never>,
        never,
        never
      >
    >()
  })

  test("outside a step, StepInfo is a requirement like any service", () => {
    expect(Workflow.StepInfo.use((info) => Effect.succeed(info.attempt))).type.toBe<
      Effect.Effect<number, never, Workflow.StepInfo>
    >()
  })
})

const Provision = Workflow.make("provision", { input: Schema.Struct({ region: Schema.String }) }).pipe(
  Workflow.step(
    "cluster",
    { success: Schema.String, error: CardDeclined },
    (ctx) => Effect.as(setupBilling(ctx.input.region), `k8s-${ctx.input.region}`)
  )
)

describe("child", () => {
  test("adds { [name]: the child's final context } with the child's errors and services", () => {
    const Parent = withUser.pipe(
      Workflow.child("eu", Provision, (ctx) => {
        expect(ctx).type.toBe<{ readonly input: Input; readonly user: User }>()
        return { region: "eu" }
      }),
      Workflow.step("dns", { success: Schema.String }, (ctx) => Effect.succeed(ctx.eu.cluster))
    )
    expect(Parent).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly eu: { readonly input: { readonly region: string }; readonly cluster: string }
          readonly dns: string
        },
        UserExists | CardDeclined,
        Users | Billing,
        never
      >
    >()
  })

  test("one child per item of a forEach, and per branch of a parallel block", () => {
    const Regions = start.pipe(
      Workflow.forEach(
        "regions",
        () => ["eu", "us"],
        Workflow.child("provisioned", Provision, (ctx) => ({ region: ctx.item }))
      ),
      Workflow.parallel("pair", {
        a: Workflow.child("a", Provision, () => ({ region: "a" })),
        b: Workflow.child("b", Provision, () => ({ region: "b" }))
      })
    )
    type Provisioned = { readonly input: { readonly region: string }; readonly cluster: string }
    expect(Regions).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly regions: ReadonlyArray<{ readonly provisioned: Provisioned }>
          readonly a: Provisioned
          readonly b: Provisioned
        },
        CardDeclined,
        Billing,
        // A default ("shallow") block's name holds no context key: a later node cannot take it.
        Workflow.Reserved<"pair">
      >
    >()
  })
})

describe("child: what must not compile", () => {
  test("an input the child's schema does not accept", () => {
    start.pipe(
      // @ts-expect-error Type 'number' is not assignable to type 'string' -- the child's input is { region: string }
      Workflow.child("eu", Provision, () => ({ region: 1 }))
    )
  })

  test("a name already in the context", () => {
    withUser.pipe(
      // @ts-expect-error plait: this name is already in the context -- `user` was added before
      Workflow.child("user", Provision, () => ({ region: "eu" }))
    )
  })

  test("reading a key the child's context does not have", () => {
    start.pipe(
      Workflow.child("eu", Provision, () => ({ region: "eu" })),
      // @ts-expect-error Property 'dns' does not exist -- the child's context has input and cluster only
      Workflow.step("dns", { success: Schema.String }, (ctx) => Effect.succeed(ctx.eu.dns))
    )
  })
})
