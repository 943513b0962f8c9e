/**
 * Services, errors and schemas shared by the type tests. Only their types matter; nothing here
 * runs.
 */
import { Context, type Effect, Schema } from "effect"
import { Workflow } from "plait"

export const User = Schema.Struct({ id: Schema.String, email: Schema.String })
export type User = typeof User.Type

export const Workspace = Schema.Struct({ id: Schema.String, owner: Schema.String })
export type Workspace = typeof Workspace.Type

export class UserExists extends Schema.TaggedError<UserExists>()("UserExists", { email: Schema.String }) {}
export class MailBounced extends Schema.TaggedError<MailBounced>()("MailBounced", { to: Schema.String }) {}
export class CardDeclined extends Schema.TaggedError<CardDeclined>()("CardDeclined", { reason: Schema.String }) {}

export class Users extends Context.Service<Users, {
  readonly create: (email: string) => Effect.Effect<User, UserExists>
}>()("test/Users") {}

export class Mailer extends Context.Service<Mailer, {
  readonly welcome: (userId: string) => Effect.Effect<boolean, MailBounced>
}>()("test/Mailer") {}

export class Billing extends Context.Service<Billing, {
  readonly setup: (userId: string) => Effect.Effect<boolean, CardDeclined>
}>()("test/Billing") {}

export const createUser = (email: string) => Users.use((users) => users.create(email))
export const sendWelcome = (userId: string) => Mailer.use((mailer) => mailer.welcome(userId))
export const setupBilling = (userId: string) => Billing.use((billing) => billing.setup(userId))

/** The input most type tests start from. */
export const Input = Schema.Struct({ email: Schema.String })
export type Input = typeof Input.Type

/** The context after the `user` step of `withUser`. */
export type Base = { readonly input: Input; readonly user: User }

/** A workflow whose first step creates the user; the blocks under test come after it. */
export const withUser = Workflow.make("onboard", { input: Input }).pipe(
  Workflow.step("user", { success: User }, (ctx) => createUser(ctx.input.email))
)
