import { Effect, flow, Option, Result, Schema } from "effect"
import { Workflow, type WorkflowError } from "plait"
import { describe, expect, test } from "tstyche"
import {
  type Base,
  type Billing,
  type CardDeclined,
  createUser,
  type Input,
  type MailBounced,
  type Mailer,
  sendWelcome,
  setupBilling,
  User,
  type UserExists,
  type Users,
  withUser,
  Workspace
} from "./fixtures.ts"

class Account extends Schema.Class<Account>("Account")({ id: Schema.String }) {
  get label(): string {
    return `account ${this.id}`
  }
}

describe("parallel: branches", () => {
  test("each branch sees the context from before the block, inferred with no annotation", () => {
    withUser.pipe(
      Workflow.parallel("setup", {
        welcome: Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => {
          expect(ctx).type.toBe<Base>()
          return sendWelcome(ctx.user.id)
        }),
        billing: Workflow.step("billing", { success: Schema.Boolean }, (ctx) => {
          expect(ctx).type.toBe<Base>()
          return setupBilling(ctx.user.id)
        })
      })
    )
  })

  test("the block's output is visible to the next step", () => {
    const Onboard = withUser.pipe(
      Workflow.parallel("setup", {
        welcome: Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id)),
        workspace: Workflow.step(
          "workspace",
          { success: Workspace },
          (ctx) => Effect.succeed({ id: "w1", owner: ctx.user.id })
        )
      }),
      Workflow.step("complete", { success: Schema.String }, (ctx) => {
        expect(ctx).type.toBe<Base & { readonly welcome: boolean; readonly workspace: Workspace }>()
        return Effect.succeed(`${ctx.user.id} in ${ctx.workspace.id}`)
      })
    )
    expect(Onboard).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly welcome: boolean
          readonly workspace: Workspace
          readonly complete: string
        },
        UserExists | MailBounced,
        Users | Mailer,
        Workflow.Reserved<"setup">
      >
    >()
  })

  test("a branch of several steps with Workflow.sequence sees its own earlier steps", () => {
    const Flow = withUser.pipe(
      Workflow.parallel("setup", {
        mail: Workflow.sequence(
          Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id)),
          Workflow.step("mailed", { success: Schema.String }, (ctx) => {
            expect(ctx).type.toBe<Base & { readonly welcome: boolean }>()
            return Effect.succeed(ctx.welcome ? "sent" : "skipped")
          })
        ),
        billing: Workflow.step("billing", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.user.id))
      })
    )
    expect(Flow).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly welcome: boolean
          readonly mailed: string
          readonly billing: boolean
        },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        Workflow.Reserved<"setup">
      >
    >()
  })

  test("a branch composed with effect's flow", () => {
    const Flow = withUser.pipe(
      Workflow.parallel("setup", {
        mail: flow(
          Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id)),
          Workflow.step("mailed", { success: Schema.String }, (ctx) => {
            expect(ctx).type.toBe<Base & { readonly welcome: boolean }>()
            return Effect.succeed(ctx.welcome ? "sent" : "skipped")
          })
        ),
        billing: Workflow.step("billing", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.user.id))
      })
    )
    expect(Flow).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly welcome: boolean
          readonly mailed: string
          readonly billing: boolean
        },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        Workflow.Reserved<"setup">
      >
    >()
  })
})

describe("parallel: merge strategies", () => {
  const Profile = Schema.Struct({ name: Schema.String })
  const Theme = Schema.Struct({ dark: Schema.Boolean })
  const Locale = Schema.Struct({ language: Schema.String })

  test("deep (default): overlapping records merge into one record with every field", () => {
    const Deep = withUser.pipe(
      Workflow.parallel("prefs", {
        look: Workflow.step(
          "settings",
          { success: Schema.Struct({ theme: Theme, fontSize: Schema.Number }) },
          () => Effect.succeed({ theme: { dark: true }, fontSize: 12 })
        ),
        speech: Workflow.step("settings", {
          success: Schema.Struct({ theme: Schema.Struct({ contrast: Schema.Number }), locale: Locale })
        }, () => Effect.succeed({ theme: { contrast: 2 }, locale: { language: "en" } })),
        profile: Workflow.step("profile", { success: Profile }, () => Effect.succeed({ name: "Ada" }))
      }),
      Workflow.step("summary", { success: Schema.String }, (ctx) => {
        expect(ctx.settings).type.toBe<{
          readonly theme: { readonly dark: boolean; readonly contrast: number }
          readonly fontSize: number
          readonly locale: { readonly language: string }
        }>()
        return Effect.succeed(`${ctx.profile.name}: ${ctx.settings.locale.language}, ${ctx.settings.theme.dark}`)
      })
    )
    expect(Deep).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly settings: {
            readonly theme: { readonly dark: boolean; readonly contrast: number }
            readonly fontSize: number
            readonly locale: { readonly language: string }
          }
          readonly profile: { readonly name: string }
          readonly summary: string
        },
        UserExists,
        Users,
        Workflow.Reserved<"prefs">
      >
    >()
  })

  test("deep, spelled out, is the same as the default", () => {
    const branches = {
      a: Workflow.step("a", { success: Schema.Number }, () => Effect.succeed(1)),
      b: Workflow.step("b", { success: Schema.String }, () => Effect.succeed("b"))
    }
    const byDefault = withUser.pipe(Workflow.parallel("both", branches))
    const spelled = withUser.pipe(Workflow.parallel("both", branches, { merge: "deep" }))
    expect(spelled).type.toBe<typeof byDefault>()
  })

  test("deep: arrays are values, not records to merge", () => {
    const Arrays = withUser.pipe(
      Workflow.parallel("tags", {
        a: Workflow.step("tags", { success: Schema.Array(Schema.String) }, () => Effect.succeed(["a"])),
        b: Workflow.step("tags", { success: Schema.Array(Schema.String) }, () => Effect.succeed(["b"]))
      })
    )
    expect(Arrays).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly tags: ReadonlyArray<string> },
        UserExists,
        Users,
        Workflow.Reserved<"tags">
      >
    >()
  })

  test("deep: an Option, a class instance or a tagged union passes through untouched", () => {
    withUser.pipe(
      Workflow.parallel("lookups", {
        nickname: Workflow.step(
          "nickname",
          { success: Schema.Option(Schema.String) },
          () => Effect.succeed(Option.none())
        ),
        account: Workflow.step("account", { success: Account }, () => Effect.succeed(new Account({ id: "a1" }))),
        fastest: Workflow.race("winner", {
          cache: Workflow.step("cached", { success: Schema.Number }, () => Effect.succeed(1)),
          origin: Workflow.step("fetched", { success: Schema.String }, () => Effect.succeed("one"))
        }),
        routed: Workflow.branch("route", (ctx) => (ctx.user.id === "" ? "guest" : "member"), {
          guest: Workflow.step("ticket", { success: Schema.Number }, () => Effect.succeed(1)),
          member: Workflow.step("badge", { success: Schema.String }, () => Effect.succeed("gold"))
        }),
        optionsToo: Workflow.step(
          "settings",
          { success: Schema.Struct({ nickname: Schema.Option(Schema.String) }) },
          () => Effect.succeed({ nickname: Option.some("ada") })
        )
      }),
      Workflow.step("after", { success: Schema.String }, (ctx) => {
        expect(ctx.nickname).type.toBe<Option.Option<string>>()
        expect(ctx.account).type.toBe<Account>()
        expect(ctx.winner).type.toBe<
          | { readonly _tag: "cache"; readonly value: { readonly cached: number } }
          | { readonly _tag: "origin"; readonly value: { readonly fetched: string } }
        >()
        expect(ctx.route).type.toBe<
          { readonly _tag: "guest"; readonly ticket: number } | { readonly _tag: "member"; readonly badge: string }
        >()
        expect(ctx.settings).type.toBe<{ readonly nickname: Option.Option<string> }>()
        return Effect.succeed(Option.getOrElse(ctx.nickname, () => ctx.account.label))
      })
    )
  })

  test("deep: the same non-record type in two branches stays that type", () => {
    withUser.pipe(
      Workflow.parallel("twice", {
        a: Workflow.sequence(
          Workflow.step("nickname", { success: Schema.Option(Schema.String) }, () => Effect.succeed(Option.none())),
          Workflow.step("a", { success: Schema.Number }, () => Effect.succeed(1))
        ),
        b: Workflow.sequence(
          Workflow.step("nickname", { success: Schema.Option(Schema.String) }, () => Effect.succeed(Option.some("x"))),
          Workflow.step("b", { success: Schema.Number }, () => Effect.succeed(2))
        )
      }),
      Workflow.step("after", { success: Schema.String }, (ctx) => {
        expect(ctx.nickname).type.toBe<Option.Option<string>>()
        return Effect.succeed("")
      })
    )
  })

  test("lastWins: conflicting keys are the union of the branch types", () => {
    const Last = withUser.pipe(
      Workflow.parallel("fastest", {
        cache: Workflow.step("answer", { success: Schema.Number }, () => Effect.succeed(1)),
        origin: Workflow.step("answer", { success: Schema.String }, () => Effect.succeed("one")),
        extra: Workflow.step("extra", { success: Schema.Boolean }, () => Effect.succeed(true))
      }, { merge: "lastWins" })
    )
    expect(Last).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly answer: number | string; readonly extra: boolean },
        UserExists,
        Users,
        Workflow.Reserved<"fastest">
      >
    >()
  })

  test("lastWins does not merge records: the union of the whole records", () => {
    const Last = withUser.pipe(
      Workflow.parallel("prefs", {
        a: Workflow.step("settings", { success: Theme }, () => Effect.succeed({ dark: true })),
        b: Workflow.step("settings", { success: Locale }, () => Effect.succeed({ language: "en" }))
      }, { merge: "lastWins" })
    )
    expect(Last).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly settings: { readonly dark: boolean } | { readonly language: string }
        },
        UserExists,
        Users,
        Workflow.Reserved<"prefs">
      >
    >()
  })

  test("collect: { [name]: { [branchKey]: delta } }", () => {
    const Collected = withUser.pipe(
      Workflow.parallel("setup", {
        mail: Workflow.sequence(
          Workflow.step("welcome", { success: Schema.Boolean }, (ctx) => sendWelcome(ctx.user.id)),
          Workflow.step("mailed", { success: Schema.String }, () => Effect.succeed("sent"))
        ),
        billing: Workflow.step("billing", { success: Schema.Boolean }, (ctx) => setupBilling(ctx.user.id))
      }, { merge: "collect" }),
      Workflow.step("done", { success: Schema.Boolean }, (ctx) => {
        // @ts-expect-error Property 'billing' does not exist -- collected outputs live under the block's name
        ctx.billing
        return Effect.succeed(ctx.setup.billing.billing && ctx.setup.mail.welcome)
      })
    )
    expect(Collected).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly setup: {
            readonly mail: { readonly welcome: boolean; readonly mailed: string }
            readonly billing: { readonly billing: boolean }
          }
          readonly done: boolean
        },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        never
      >
    >()
  })
})

describe("parallel: error strategies", () => {
  const branches = {
    welcome: Workflow.step("welcome", { success: Schema.Boolean }, (ctx: Base) => sendWelcome(ctx.user.id)),
    billing: Workflow.step("billing", { success: Schema.Boolean }, (ctx: Base) => setupBilling(ctx.user.id))
  }

  test("failFast (default): E is the union of the branch errors", () => {
    const FailFast = withUser.pipe(Workflow.parallel("setup", branches))
    expect(FailFast).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly welcome: boolean; readonly billing: boolean },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        Workflow.Reserved<"setup">
      >
    >()
    expect(withUser.pipe(Workflow.parallel("setup", branches, { onError: "failFast" }))).type.toBe<typeof FailFast>()
  })

  test("completeAll: the block fails with ParallelFailure instead of the branch errors", () => {
    const All = withUser.pipe(Workflow.parallel("setup", branches, { onError: "completeAll" }))
    expect(All).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly welcome: boolean; readonly billing: boolean },
        UserExists | WorkflowError.ParallelFailureOf<{ readonly welcome: MailBounced; readonly billing: CardDeclined }>,
        Users | Mailer | Billing,
        Workflow.Reserved<"setup">
      >
    >()
  })

  test("completeAll: ParallelFailure.failures is typed by branch key", () => {
    const All = withUser.pipe(Workflow.parallel("setup", branches, { onError: "completeAll" }))
    Workflow.run(All, { input: { email: "a@b.c" } }).pipe(
      Effect.catchTag("ParallelFailure", (failure) => {
        expect(failure.failures.welcome).type.toBe<MailBounced | undefined>()
        expect(failure.failures.billing).type.toBe<CardDeclined | undefined>()
        return Effect.void
      })
    )
  })

  test("settle: each branch is a Result under the block's name and the block adds no error", () => {
    const Settled = withUser.pipe(
      Workflow.parallel("setup", branches, { onError: "settle" }),
      Workflow.step("report", { success: Schema.String }, (ctx) => {
        expect(ctx.setup.welcome).type.toBe<Result.Result<{ readonly welcome: boolean }, MailBounced>>()
        return Effect.succeed(Result.isSuccess(ctx.setup.billing) ? "billed" : ctx.setup.billing.failure.reason)
      })
    )
    expect(Settled).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly setup: {
            readonly welcome: Result.Result<{ readonly welcome: boolean }, MailBounced>
            readonly billing: Result.Result<{ readonly billing: boolean }, CardDeclined>
          }
          readonly report: string
        },
        UserExists,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("settle with collect keeps the same shape", () => {
    const Settled = withUser.pipe(Workflow.parallel("setup", branches, { onError: "settle", merge: "collect" }))
    expect(Settled).type.toBe<
      Workflow.Workflow<
        Input,
        {
          readonly input: Input
          readonly user: User
          readonly setup: {
            readonly welcome: Result.Result<{ readonly welcome: boolean }, MailBounced>
            readonly billing: Result.Result<{ readonly billing: boolean }, CardDeclined>
          }
        },
        UserExists,
        Users | Mailer | Billing,
        never
      >
    >()
  })

  test("concurrency does not change the types", () => {
    const Bounded = withUser.pipe(Workflow.parallel("setup", branches, { concurrency: 1 }))
    expect(Bounded).type.toBe<
      Workflow.Workflow<
        Input,
        { readonly input: Input; readonly user: User; readonly welcome: boolean; readonly billing: boolean },
        UserExists | MailBounced | CardDeclined,
        Users | Mailer | Billing,
        Workflow.Reserved<"setup">
      >
    >()
  })
})

describe("parallel: what must not compile", () => {
  test("a branch reading a sibling's output", () => {
    withUser.pipe(
      Workflow.parallel("setup", {
        workspace: Workflow.step(
          "workspace",
          { success: Workspace },
          (ctx) => Effect.succeed({ id: "w", owner: ctx.user.id })
        ),
        // @ts-expect-error Property 'workspace' does not exist -- siblings run concurrently; none sees another's output
        invite: Workflow.step("invite", { success: Schema.String }, (ctx) => Effect.succeed(ctx.workspace.id))
      })
    )
  })

  test("a block name already in the context", () => {
    withUser.pipe(
      Workflow.parallel(
        // @ts-expect-error plait: this name is already in the context -- `user` names the first step
        "user",
        { a: Workflow.step("a", { success: Schema.Number }, () => Effect.succeed(1)) }
      )
    )
  })

  test("a branch step named like a key already in the context", () => {
    withUser.pipe(
      Workflow.parallel("setup", {
        // @ts-expect-error plait: this name is already in the context -- branches add to the outer context
        again: Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email))
      })
    )
  })

  test("deep: branches adding one key with types that do not merge", () => {
    withUser.pipe(
      Workflow.parallel(
        // @ts-expect-error plait: deep-merged branches add these keys with types that do not merge -- the branch declared later always wins at run time
        "totals",
        {
          a: Workflow.step("total", { success: Schema.Number }, () => Effect.succeed(1)),
          b: Workflow.step("total", { success: Schema.String }, () => Effect.succeed("one"))
        }
      )
    )
  })

  test("deep: a record in one branch and a scalar or an array in another, at any depth", () => {
    withUser.pipe(
      Workflow.parallel(
        // @ts-expect-error plait: deep-merged branches add these keys with types that do not merge..."value" -- a record is replaced by a scalar, not merged
        "mixed",
        {
          a: Workflow.step("value", { success: Schema.Struct({ n: Schema.Number }) }, () => Effect.succeed({ n: 1 })),
          b: Workflow.step("value", { success: Schema.String }, () => Effect.succeed("one"))
        }
      )
    )
    withUser.pipe(
      Workflow.parallel(
        // @ts-expect-error plait: deep-merged branches add these keys with types that do not merge..."value" -- an array is a value, not a record to merge
        "mixed",
        {
          a: Workflow.step("value", { success: Schema.Struct({ n: Schema.Number }) }, () => Effect.succeed({ n: 1 })),
          b: Workflow.step("value", { success: Schema.Array(Schema.Number) }, () => Effect.succeed([1]))
        }
      )
    )
    withUser.pipe(
      Workflow.parallel(
        // @ts-expect-error plait: deep-merged branches add these keys with types that do not merge..."settings.theme" -- records merge, but their `theme`s do not
        "prefs",
        {
          a: Workflow.step(
            "settings",
            { success: Schema.Struct({ theme: Schema.String }) },
            () => Effect.succeed({ theme: "dark" })
          ),
          b: Workflow.step(
            "settings",
            { success: Schema.Struct({ theme: Schema.Number, size: Schema.Number }) },
            () => Effect.succeed({ theme: 1, size: 2 })
          )
        }
      )
    )
  })

  test("a chord's deep merge is checked the same way", () => {
    withUser.pipe(
      Workflow.chord(
        // @ts-expect-error plait: deep-merged branches add these keys with types that do not merge -- as in parallel
        "quote",
        {
          a: Workflow.step("total", { success: Schema.Number }, () => Effect.succeed(1)),
          b: Workflow.step("total", { success: Schema.String }, () => Effect.succeed("one"))
        },
        () => Effect.succeed(true),
        { success: Schema.Boolean }
      )
    )
  })

  test("an unknown merge or error strategy", () => {
    withUser.pipe(
      Workflow.parallel("setup", { a: Workflow.step("a", { success: Schema.Number }, () => Effect.succeed(1)) }, {
        // @ts-expect-error Type '"shallow"' is not assignable -- deep, lastWins or collect
        merge: "shallow"
      })
    )
  })

  test("a branch that is not a segment", () => {
    withUser.pipe(
      // @ts-expect-error is not assignable to type 'Branch<... -- a branch is a workflow-to-workflow function
      Workflow.parallel("setup", { a: (n: number) => n + 1 })
    )
  })
})
