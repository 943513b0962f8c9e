/**
 * The README's onboarding workflow, runnable:
 *
 *   npm run example -- examples/onboarding.ts
 *
 * The services are small in-memory stand-ins. Billing fails on its first attempt, so the step's
 * retry policy shows; then the same run id is run again, and every step is replayed from the
 * journal instead of running a second time.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Schema } from "effect"
import { Journal, Workflow } from "plait"

// --- the services the workflow needs ------------------------------------------------------------

const User = Schema.Struct({ id: Schema.String, email: Schema.String })
type User = typeof User.Type

const Workspace = Schema.Struct({ id: Schema.String, owner: Schema.String })
type Workspace = typeof Workspace.Type

class CardDeclined extends Schema.TaggedError<CardDeclined>()("CardDeclined", { userId: Schema.String }) {}

class Users extends Context.Service<Users, {
  readonly create: (email: string) => Effect.Effect<User>
}>()("onboarding/Users") {}

class Mailer extends Context.Service<Mailer, {
  readonly welcome: (userId: string) => Effect.Effect<boolean>
}>()("onboarding/Mailer") {}

class Workspaces extends Context.Service<Workspaces, {
  readonly create: (owner: string) => Effect.Effect<Workspace>
}>()("onboarding/Workspaces") {}

class Billing extends Context.Service<Billing, {
  readonly setup: (userId: string) => Effect.Effect<boolean, CardDeclined>
}>()("onboarding/Billing") {}

// --- the workflow, as in the README ---------------------------------------------------------------

const Onboard = Workflow.make("onboard_user", { input: Schema.Struct({ email: Schema.String }) }).pipe(
  Workflow.step("user", { success: User }, (ctx) => Users.use((users) => users.create(ctx.input.email))),
  Workflow.parallel("setup", {
    welcome: Workflow.step(
      "welcome",
      { success: Schema.Boolean },
      (ctx) => Mailer.use((mailer) => mailer.welcome(ctx.user.id))
    ),
    workspace: Workflow.step(
      "workspace",
      { success: Workspace },
      (ctx) => Workspaces.use((workspaces) => workspaces.create(ctx.user.id))
    ),
    billing: Workflow.step(
      "billing",
      { success: Schema.Boolean, error: CardDeclined, retry: { times: 3 } },
      (ctx) => Billing.use((billing) => billing.setup(ctx.user.id))
    )
  }),
  Workflow.step(
    "complete",
    { success: Schema.Void },
    (ctx) => Effect.log(`onboarded ${ctx.user.id} into ${ctx.workspace.id}`)
  )
)

// --- small implementations -------------------------------------------------------------------------

const Services = Layer.mergeAll(
  Layer.succeed(
    Users,
    Users.of({
      create: (email) => Effect.succeed({ id: `user-${email.split("@")[0]}`, email })
    })
  ),
  Layer.succeed(
    Mailer,
    Mailer.of({
      welcome: (userId) => Effect.as(Console.log(`    (mail) welcome, ${userId}`), true)
    })
  ),
  Layer.succeed(
    Workspaces,
    Workspaces.of({
      create: (owner) => Effect.succeed({ id: `ws-${owner}`, owner })
    })
  ),
  Layer.effect(
    Billing,
    Effect.sync(() => {
      let calls = 0
      return Billing.of({
        // The card is declined once; the step's retry policy takes care of it.
        setup: (userId) => ++calls === 1 ? Effect.fail(new CardDeclined({ userId })) : Effect.succeed(true)
      })
    })
  )
)

// --- running it twice under one run id ---------------------------------------------------------------

const describe = (event: Workflow.StepEvent): string => {
  switch (event._tag) {
    case "Started":
      return `  > ${event.path} (attempt ${event.attempt})`
    case "Completed":
      return `  ok ${event.path}`
    case "Failed":
      return `  x ${event.path} attempt ${event.attempt} failed${event.willRetry ? ", retrying" : ""}`
    case "Replayed":
      return `  = ${event.path} (replayed from the journal)`
    default:
      return `  ${event._tag} ${event.path}`
  }
}

const onboardAda = Workflow.run(Onboard, {
  input: { email: "ada@example.com" },
  runId: "onboard-ada",
  observe: (event) => Console.log(describe(event))
})

const program = Effect.gen(function*() {
  yield* Console.log("first run:")
  const first = yield* onboardAda
  if (first._tag === "Completed") yield* Console.log(`completed: workspace ${first.context.workspace.id}`)

  // The same run id again is a resume: nothing runs twice, the context is rebuilt from the journal.
  yield* Console.log("\nsame run id again:")
  const second = yield* onboardAda
  if (second._tag === "Completed") yield* Console.log(`completed: billing ${second.context.billing}`)
}).pipe(
  // One journal for both runs: `layerMemory` builds a fresh one each time it is provided.
  Effect.provide(Layer.merge(Services, Journal.layerMemory))
)

NodeRuntime.runMain(program)
