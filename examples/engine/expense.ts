/**
 * The workflow of the engine example, shared by the worker (which executes it) and the client
 * (which starts, signals, cancels and awaits its runs): both must hold the same definition.
 *
 * An expense is recorded, waits for a manager's decision (a signal, sent from another process),
 * waits out a payout window (a durable sleep: the worker releases the run while it sleeps), and
 * is paid if it was approved.
 */
import { Context, Effect, Schema } from "effect"
import { Workflow } from "plait"

export const ExpenseClaim = Schema.Struct({ id: Schema.String, employee: Schema.String, amount: Schema.Number })
export type ExpenseClaim = typeof ExpenseClaim.Type

export const Decision = Schema.Struct({ approved: Schema.Boolean, by: Schema.String })

/** The payment provider. Keyed calls are idempotent: a call with a key already paid returns that payment. */
export class Payments extends Context.Service<Payments, {
  readonly pay: (idempotencyKey: string, employee: string, amount: number) => Effect.Effect<string>
}>()("example/Payments") {}

export const Expense = Workflow.make("expense", { input: ExpenseClaim }).pipe(
  Workflow.step("recorded", { success: Schema.String }, (ctx) => Effect.succeed(`ledger/${ctx.input.id}`)),
  Workflow.signal("decision", { schema: Decision }),
  Workflow.sleep("payoutWindow", "1 second"),
  // A worker may crash after paying and before the payment is journaled; the step then runs
  // again on another worker. The key is the same every time, so the provider pays once.
  Workflow.step("payment", { success: Schema.NullOr(Schema.String) }, (ctx) =>
    ctx.decision.approved
      ? Payments.use((payments) => payments.pay(`${ctx.input.id}/payment`, ctx.input.employee, ctx.input.amount))
      : Effect.succeed(null))
)
