/**
 * Typed, durable workflows. A workflow is a value built with `pipe`: named steps, parallel
 * blocks, races, chords, per-item fan-out and branches. Each step's output is added to a typed
 * context, so reading an output that does not exist yet is a compile error. Running it against a
 * `Journal` memoizes every completed step, so a crashed run resumes without redoing work.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as DateTime from "effect/DateTime"
import type { Pipeable } from "effect/Pipeable"
import type * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import { Definition, nodesOf, TypeId as DefinitionTypeId } from "./internal/definition.ts"
import { runDefinition } from "./internal/executor.ts"
import { graphOfNodes } from "./internal/graph.ts"
import { renderMermaid } from "./internal/mermaid.ts"
import { deliverSignal } from "./internal/signal.ts"
import { StepInfo } from "./internal/stepInfo.ts"
import { validate as validRunId } from "./RunId.ts"
import type { DeepMerge, DeepMergeable, LastWins } from "./internal/DeepMerge.ts"
import type {
  ConcurrencyLimit,
  ErrorStrategy,
  MergeStrategy,
  Node,
  RetryPolicy,
  StepNode,
  Tolerance,
  WaitEnd
} from "./internal/node.ts"
import type { StepEvent as InternalStepEvent } from "./internal/runState.ts"
import type {
  AnySignals,
  ChildWaits,
  NestedSignals,
  ReservedNames,
  SignalPaths,
  SignalValueAt,
  WaitPaths
} from "./internal/SignalPaths.ts"
import type { Added, FreshName, Simplify } from "./internal/types.ts"
import type { Unrepeated } from "./internal/Unrepeated.ts"
import type { Journal } from "./Journal.ts"
import type { RunStore } from "./RunStore.ts"
import type {
  CompensationFailedOf,
  DuplicateEffect,
  InvalidRunId,
  InvalidSignal,
  JournalError,
  ParallelFailureOf,
  RaceFailureOf,
  RunError,
  RunNotFound,
  SignalAlreadyDelivered,
  SignalTimeout,
  UnknownSignal
} from "./WorkflowError.ts"

/**
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const isWorkflow = (u: unknown): u is Workflow.Workflow<unknown, unknown, unknown, unknown> =>
 *   typeof u === "object" && u !== null && Workflow.TypeId in u
 *
 * isWorkflow(Workflow.make("noop", { input: Schema.Void })) // true
 * isWorkflow({ name: "noop" }) // false
 * ```
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof DefinitionTypeId = DefinitionTypeId

/**
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type IsWorkflow<T> = T extends { readonly [Workflow.TypeId]: Workflow.TypeId } ? true : false
 *
 * const Noop = Workflow.make("noop", { input: Schema.Void })
 * const yes: IsWorkflow<typeof Noop> = true
 * const no: IsWorkflow<{ readonly name: string }> = false
 * ```
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof DefinitionTypeId

// -------------------------------------------------------------------------------------------
// models
// -------------------------------------------------------------------------------------------

/**
 * The error, journal and merge types plait's signatures name, re-exported so that a user module
 * importing only `Workflow` can still have its workflows and run results written out by
 * declaration emit (`declaration: true`): TypeScript names them `Workflow.RunError`, and so on.
 * The same types are at home in `WorkflowError` and `Journal`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Hello = Workflow.make("hello", { input: Schema.String }).pipe(
 *   Workflow.step("greeting", { success: Schema.String }, (ctx) => Effect.succeed(`hello ${ctx.input}`))
 * )
 *
 * // An exported run result, written out in this module's declarations with these names.
 * export const helloRun: Effect.Effect<
 *   Workflow.Outcome<{ readonly input: string; readonly greeting: string }, never>,
 *   Workflow.RunError,
 *   Workflow.Journal
 * > = Workflow.run(Hello, { input: "ada" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type {
  CompensationFailed,
  CompensationFailedOf,
  DuplicateEffect,
  InvalidOutput,
  InvalidRunId,
  InvalidSignal,
  ParallelFailure,
  ParallelFailureOf,
  RaceFailure,
  RaceFailureOf,
  RunError,
  RunNotFound,
  SignalAlreadyDelivered,
  SignalTimeout,
  StepDefect,
  StepTimeout,
  UnknownSignal,
  WorkflowError
} from "./WorkflowError.ts"

/**
 * Re-exported for declaration emit, as the error types above: the services `run` and
 * `sendSignal` need, and the journal's error.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean })
 * )
 *
 * export const approve: Effect.Effect<
 *   void,
 *   | Workflow.InvalidSignal
 *   | Workflow.UnknownSignal
 *   | Workflow.DuplicateEffect
 *   | Workflow.SignalAlreadyDelivered
 *   | Workflow.RunNotFound
 *   | Workflow.InvalidRunId
 *   | Workflow.JournalError,
 *   Workflow.RunStore | Workflow.Journal
 * > = Workflow.sendSignal(Expense, { runId: "expense-7", path: "approval", value: true })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type { Journal, JournalError } from "./Journal.ts"

/**
 * Re-exported for declaration emit, as the types above.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, RunStore, Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean })
 * )
 *
 * // `Workflow.RunStore` is the service `RunStore.RunStore`.
 * const needs = (store: Workflow.RunStore): RunStore.RunStore => store
 * const program = Workflow.sendSignal(Expense, { runId: "expense-7", path: "approval", value: true }).pipe(
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type { RunStore } from "./RunStore.ts"

/**
 * The type-level merges of a parallel block's branch deltas: `"deep"` (records merge key by
 * key; conflicting types do not compile) and `"lastWins"` (conflicting keys get the union).
 * Results are written out as plain object types; the names are exported for the cases a
 * declaration still needs them (a merge over a type parameter).
 *
 * @example
 * ```ts
 * import { Workflow } from "plait"
 *
 * type Settings = Workflow.DeepMerge<
 *   { readonly settings: { readonly theme: string } } | { readonly settings: { readonly language: string } }
 * >
 * const settings: Settings = { settings: { theme: "dark", language: "en" } }
 *
 * type Answer = Workflow.LastWins<{ readonly answer: number } | { readonly answer: string }>
 * const answer: Answer = { answer: "one" }
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type { DeepMerge, LastWins } from "./internal/DeepMerge.ts"

/**
 * A workflow: run with input `I` (the encoded form its input schema decodes), it produces the
 * context `Ctx`, may fail with `E` and needs the services `R`. `S` lists the signals it waits on
 * (`SignalAt`, by journal path; see `SignalPath`), the children that may wait (`ChildAt`) and
 * the names its top-level sequence holds outside the context (`Reserved`); it defaults to "any signal", so `Workflow<I, Ctx, E, R>`
 * stands for a workflow whatever it waits on.
 *
 * `Ctx` is carried as an intersection, one member per node (`{ input } & { user } & ...`), so
 * that a long workflow never nests one type inside the next; the callbacks' `ctx` and
 * `Completed.context` show it as one object type.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Workflow } from "plait"
 *
 * // A helper for any workflow: runs it and logs where the run stands.
 * const runAndLog = <I, Ctx, E, R>(workflow: Workflow.Workflow<I, Ctx, E, R>, input: I) =>
 *   Workflow.run(workflow, { input }).pipe(
 *     Effect.tap((outcome) => Effect.log(`${workflow.name} ${outcome.runId}: ${outcome._tag}`))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Workflow<out I, out Ctx, out E, out R, out S = AnySignals> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly "~plait/Variance": {
    readonly _I: (_: never) => I
    readonly _Ctx: (_: never) => Ctx
    readonly _E: (_: never) => E
    readonly _R: (_: never) => R
    readonly _S: (_: never) => S
  }
  /** The workflow's name; runs record it. */
  readonly name: string
  /** The structure, known without running anything. */
  readonly nodes: ReadonlyArray<Node>
}

/**
 * A piece of workflow that reads the context `Ctx` and adds `Delta` to it: a step, a combinator,
 * or several of them composed, written on its own (outside a `pipe` or a block) so it can be
 * applied to any workflow whose context has `Ctx`. `S` is what it adds to the workflow's `S`:
 * the signals it waits on and the names it reserves.
 *
 * Applied to a workflow whose context has more than `Ctx`, the segment keeps the whole context,
 * and a name it adds must still be new to that whole context and to the workflow's reserved
 * names. (Written inside a `pipe` or a block, a combinator is a `BoundSegment` instead.)
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type SignupCtx = { readonly input: { readonly email: string } }
 *
 * // A reusable piece: reads `input.email`, adds `{ welcomed: boolean }`.
 * const welcome: Workflow.Segment<SignupCtx, { readonly welcomed: boolean }, never, never> =
 *   Workflow.step("welcomed", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.input.email.includes("@")))
 *
 * const Signup = Workflow.make("signup", { input: Schema.Struct({ email: Schema.String }) }).pipe(welcome)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Segment<Ctx, Delta, E, R, S = never> {
  readonly "~plait/Segment": { readonly _Delta: Delta; readonly _E: E; readonly _R: R; readonly _S: S }
  <I, C, E0, R0, S0>(
    self:
      & Workflow<I, C, E0, R0, S0>
      & Workflow<I, Ctx, E0, R0, S0>
      & Unrepeated<keyof Delta | ReservedNames<S>, Ctx, C, S0>
  ): Workflow<I, C & Delta, E0 | E, R0 | R, S0 | S>
}

/**
 * A combinator written where the workflow it extends is known (in a `pipe`, a block's branches,
 * a `sequence` or a `forEach` body): a function from that very workflow, `Workflow<I, C, E0,
 * R0, S0>`, to the workflow with `Delta` added to its context. Its callbacks read `C` (a
 * narrower `ctx` annotation is checked against it where it is written).
 *
 * Being bound to its workflow, it is applied without inferring anything again, so each node of
 * a long workflow costs the compiler the same, however many nodes came before.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type Ctx = { readonly input: string }
 *
 * // Branches declared apart but typed against the block's context: each is bound to it.
 * const lookups = {
 *   dns: Workflow.step("dns", { success: Schema.String }, (ctx) => Effect.succeed(`A ${ctx.input}`))
 * } satisfies Workflow.Branches<Ctx>
 *
 * const dns: Workflow.BoundSegment<any, Ctx, never, never, never, { readonly dns: string }, never, never, never> =
 *   lookups.dns
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BoundSegment<I, C, E0, R0, S0, Delta, E, R, S> {
  readonly "~plait/Segment": { readonly _Delta: Delta; readonly _E: E; readonly _R: R; readonly _S: S }
  (self: Workflow<I, C, E0, R0, S0>): Workflow<I, C & Delta, E0 | E, R0 | R, S0 | S>
}

/**
 * What a combinator infers for the workflow it extends when nothing tells it: written on its
 * own, outside a `pipe` or a block. The combinator is then a reusable `Segment`, and its `ctx`
 * is whatever its annotation says.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * // On its own, a step knows its context only from its annotation.
 * const user = Workflow.step("user", { success: Schema.String }, (ctx: { readonly input: string }) =>
 *   Effect.succeed(ctx.input.toUpperCase()))
 *
 * const typed: Workflow.Segment<{ readonly input: string }, { readonly user: string }, never, never> = user
 * const unbound: Workflow.Unbound extends string ? false : true = true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Unbound {
  readonly "plait: written outside a pipe or a block, this combinator does not know its workflow": never
}

/**
 * A combinator's result: bound to the workflow inferred from where it is written, or a
 * reusable `Segment` needing `Ctx` when it is written on its own (`I0` is then `Unbound`).
 */
type SegmentFor<I0, C0, E0, R0, S0, Ctx, Delta, E, R, S> = IsUnbound<I0> extends true ? Segment<Ctx, Delta, E, R, S>
  : BoundSegment<I0, C0, E0, R0, S0, Delta, E, R, S>

/**
 * What a combinator's callbacks see: the context of the workflow it is bound to (an annotation
 * on `ctx` must accept it, which is where a too-narrow one is reported), or, written on its
 * own, what its annotation says. `NoInfer` keeps an annotation from being inferred as `C0`;
 * inside `Simplify` it does not show in hovers, and the flattening reads each property through
 * it rather than through the context's intersection, which would first walk the whole
 * intersection once per step.
 */
type CallbackContext<I0, C0, Ctx> = IsUnbound<I0> extends true ? Simplify<Ctx> : Simplify<NoInfer<C0>>

/** The context a combinator's names must be new to. */
type ContextFor<I0, C0, Ctx> = IsUnbound<I0> extends true ? Ctx : C0

/**
 * Only the input type is checked: a context may be long, and a conditional type walks it. `any`
 * is a block's branch (bound); `unknown` is what a `Segment` annotation gives (unbound).
 */
type IsUnbound<I> = 0 extends 1 & I ? false : unknown extends I ? true : [I] extends [Unbound] ? true : false

/**
 * Anything that can stand as a branch over the context `Ctx`: a segment, or a function composed
 * from segments with `flow`.
 *
 * @example
 * ```ts
 * import { Effect, flow, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type Ctx = { readonly input: string }
 *
 * // Two steps composed with `flow` stand as one branch.
 * const billing: Workflow.Branch<Ctx> = flow(
 *   Workflow.step("invoice", { success: Schema.String }, (ctx: Ctx) => Effect.succeed(`INV-${ctx.input}`)),
 *   Workflow.step("sent", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Branch<Ctx> = (self: Workflow<any, Ctx, never, never, never>) => Workflow<any, any, any, any, any>

/**
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type Ctx = { readonly input: string }
 *
 * // Branches declared apart from the block that runs them.
 * const lookups = {
 *   dns: Workflow.step("dns", { success: Schema.String }, (ctx: Ctx) => Effect.succeed(`A ${ctx.input}`)),
 *   whois: Workflow.step("whois", { success: Schema.String }, (ctx: Ctx) => Effect.succeed(`owner of ${ctx.input}`))
 * } satisfies Workflow.Branches<Ctx>
 *
 * const Domain = Workflow.make("domain", { input: Schema.String }).pipe(Workflow.parallel("lookups", lookups))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Branches<Ctx> = { readonly [key: string]: Branch<Ctx> }

/**
 * What a branch adds to the context it starts from.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type Ctx = { readonly input: string }
 * const user = Workflow.step("user", { success: Schema.Struct({ id: Schema.Number }) }, (_: Ctx) =>
 *   Effect.succeed({ id: 1 }))
 *
 * type UserDelta = Workflow.DeltaOf<typeof user, Ctx> // { readonly user: { readonly id: number } }
 * const delta: UserDelta = { user: { id: 1 } }
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type DeltaOf<B, Ctx> = "~plait/Segment" extends keyof B ? PartsOf<B>["_Delta"]
  : B extends (self: Workflow<any, Ctx, never, never, never>) => Workflow<any, infer Out, any, any, any>
    ? Added<Out, Ctx>
  : never

/**
 * A segment's record of what it adds, fails with, needs and waits on. The `*Of` types test
 * `keyof B` for it rather than `B` itself: a conditional type over a segment would walk the
 * whole context the segment is bound to, once per block.
 */
type PartsOf<B> = Extract<B["~plait/Segment" & keyof B], SegmentParts>

interface SegmentParts {
  readonly _Delta: unknown
  readonly _E: unknown
  readonly _R: unknown
  readonly _S: unknown
}

/**
 * The errors a branch can fail with.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * class Declined extends Schema.TaggedError<Declined>()("Declined", { code: Schema.String }) {}
 *
 * const charge = Workflow.step("charge", { success: Schema.String, error: Declined }, (_: { readonly input: number }) =>
 *   Effect.fail(new Declined({ code: "expired_card" })))
 *
 * type ChargeError = Workflow.ErrorOf<typeof charge> // Declined
 * const error: ChargeError = new Declined({ code: "expired_card" })
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ErrorOf<B> = "~plait/Segment" extends keyof B ? PartsOf<B>["_E"]
  : B extends (self: Workflow<any, any, never, never, never>) => Workflow<any, any, infer E, any, any> ? E
  : never

/**
 * The services a branch needs.
 *
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * class Mailer extends Context.Service<Mailer, { readonly send: (to: string) => Effect.Effect<void> }>()("app/Mailer") {}
 *
 * const notify = Workflow.step("notified", { success: Schema.Boolean }, (ctx: { readonly input: string }) =>
 *   Effect.gen(function*() {
 *     const mailer = yield* Mailer
 *     yield* mailer.send(ctx.input)
 *     return true
 *   }))
 *
 * type Needs = Workflow.ServicesOf<typeof notify> // Mailer
 * const needsMailer: [Needs] extends [Mailer] ? true : false = true
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ServicesOf<B> = "~plait/Segment" extends keyof B ? PartsOf<B>["_R"]
  : B extends (self: Workflow<any, any, never, never, never>) => Workflow<any, any, any, infer R, any> ? R
  : never

/**
 * The signals a branch waits on and the names it reserves, as a segment's `S`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const review = Workflow.sequence(
 *   Workflow.signal("decision", { schema: Schema.Boolean }),
 *   Workflow.step("noted", { success: Schema.Boolean }, (ctx: { readonly decision: boolean }) => Effect.succeed(ctx.decision))
 * )
 *
 * type Waits = Workflow.SignalsOf<typeof review> // SignalAt<"decision", boolean>
 * const waits: Waits = { path: "decision", value: true }
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type SignalsOf<B> = "~plait/Segment" extends keyof B ? PartsOf<B>["_S"]
  : B extends (self: Workflow<any, any, never, never, never>) => Workflow<any, any, any, any, infer S> ? S
  : never

/**
 * The result of a run: the final context, or the reason the run is waiting. `Path` is the type
 * of the signal paths it can wait on (`Workflow.run` gives `SignalPath` of the workflow).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean })
 * )
 *
 * const describe = <Ctx>(outcome: Workflow.Outcome<Ctx>): string =>
 *   outcome._tag === "Completed" ? `${outcome.runId} done` : `${outcome.runId} waits for ${outcome.waitingFor}`
 *
 * const program = Workflow.run(Expense, { input: 120, runId: "expense-7" }).pipe(
 *   Effect.map(describe),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome<Ctx, Path extends string = string> = Completed<Ctx> | Suspended<Path>

/**
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Hello = Workflow.make("hello", { input: Schema.String }).pipe(
 *   Workflow.step("greeting", { success: Schema.String }, (ctx) => Effect.succeed(`hello ${ctx.input}`))
 * )
 *
 * const report = (done: Workflow.Completed<{ readonly greeting: string }>) => Effect.log(done.context.greeting)
 *
 * const program = Effect.gen(function*() {
 *   const outcome = yield* Workflow.run(Hello, { input: "ada" })
 *   if (outcome._tag === "Completed") yield* report(outcome)
 * }).pipe(Effect.provide(Journal.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Completed<Ctx> {
  readonly _tag: "Completed"
  readonly runId: string
  readonly context: Ctx
}

/**
 * The run is waiting at `waitingFor`: for a signal at one of the workflow's `SignalPath`s
 * (deliver it with `sendSignal`), or for a child run there that waits itself (`ChildAt`); then
 * run the same run id again.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean })
 * )
 *
 * const askApprover = (waiting: Workflow.Suspended) => Effect.log(`${waiting.runId} needs ${waiting.waitingFor}`)
 *
 * const program = Workflow.run(Expense, { input: 120, runId: "expense-7" }).pipe(
 *   Effect.flatMap((outcome) => outcome._tag === "Suspended" ? askApprover(outcome) : Effect.void),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Suspended<out Path extends string = string> {
  readonly _tag: "Suspended"
  readonly runId: string
  readonly waitingFor: Path
}

/**
 * A signal a workflow waits on: its journal path and the decoded value its schema accepts. A
 * workflow's `S` is a union of these (and of `Reserved` names).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean })
 * )
 *
 * // Workflow<number, { readonly input: number } & { readonly approval: boolean }, never, never, SignalAt<"approval", boolean>>
 * const typed: Workflow.Workflow<number, { readonly input: number; readonly approval: boolean }, never, never, Workflow.SignalAt<"approval", boolean>> = Expense
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SignalAt<out Path extends string, out Value> {
  readonly path: Path
  readonly value: Value
}

/**
 * A child run a workflow starts at `Path` whose own workflow waits (on a signal, or on a child of
 * its own): while the child waits, the parent's run is `Suspended` at `Path`. The child's signals
 * are sent to the child's run (`<parent run id>/<path>`) with the child's workflow. Type-level
 * bookkeeping, in a workflow's `S`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Approval = Workflow.make("approval", { input: Schema.String }).pipe(
 *   Workflow.signal("decision", { schema: Schema.Boolean })
 * )
 * const Request = Workflow.make("request", { input: Schema.String }).pipe(
 *   Workflow.child("approved", Approval, (ctx) => ctx.input)
 * )
 *
 * const typed: Workflow.Workflow<
 *   string,
 *   { readonly input: string; readonly approved: { readonly input: string; readonly decision: boolean } },
 *   never,
 *   never,
 *   Workflow.ChildAt<"approved">
 * > = Request
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildAt<out Path extends string> {
  readonly child: Path
}

/**
 * A name a workflow's top-level sequence holds without a context key (a `sleep`, a `"deep"` or
 * `"lastWins"` block): a later node cannot take it. Type-level bookkeeping, in a workflow's `S`.
 * Contravariant, so a workflow that reserves names still passes where none are known
 * (`Workflow<I, Ctx, E, R>`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Reminder = Workflow.make("reminder", { input: Schema.String }).pipe(Workflow.sleep("wait", "1 day"))
 *
 * const typed: Workflow.Workflow<string, { readonly input: string }, never, never, Workflow.Reserved<"wait">> = Reminder
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Reserved<in Name extends string> {
  readonly reserved: (name: Name) => void
}

/**
 * The journal paths of the signals a workflow `W` can wait on, inside blocks and `forEach`
 * items too: `"approval"`, `"review/manager/decision"` (signal `decision` in branch `manager`
 * of the block `review`), `` `items[${string}]/approval` `` (in every item of a `forEach`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Review = Workflow.make("review", { input: Schema.Array(Schema.String) }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean }),
 *   Workflow.forEach("lines", (ctx) => ctx.input, Workflow.signal("ok", { schema: Schema.Boolean }))
 * )
 *
 * type Paths = Workflow.SignalPath<typeof Review> // "approval" | `lines[${string}]/ok`
 * const top: Paths = "approval"
 * const perLine: Paths = "lines[3]/ok"
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type SignalPath<W> = W extends Workflow<any, any, any, any, infer S> ? SignalPaths<S> : never

/**
 * The decoded value the signal at path `P` of workflow `W` accepts.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean }) })
 * )
 *
 * type Approval = Workflow.SignalValue<typeof Expense, "approval"> // { readonly approved: boolean }
 * const approval: Approval = { approved: true }
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type SignalValue<W, P extends SignalPath<W>> = W extends Workflow<any, any, any, any, infer S>
  ? SignalValueAt<S, P>
  : never

/**
 * What a run reports to `observe`. Every event names the run and the journal path it is about.
 *
 * - A step's lifecycle: `Started` and `Completed` (with the attempt), `Failed` (with the
 *   attempt and whether it will be retried), `Replayed` (its output came from the journal).
 * - Waits: `Sleeping` when a durable `sleep` starts waiting, with `wakeAt`, the journaled wake
 *   time (a resumed run reports the same time and sleeps only the rest); `Woke` when it is over.
 *   `AwaitingSignal` when the run suspends at a `signal` not delivered yet (with its `deadline`
 *   when the signal has a timeout); `SignalReceived` when the run takes a delivered value.
 * - Decisions the journal keeps so a resumed run repeats them: `RaceWon` (the `winner`'s branch
 *   key), `BranchChosen` (the case key, as `choice`) and `LastWinsOrder` (the completion order a
 *   `lastWins` block merges in). `replayed` is `true` when the decision was read back from the
 *   journal rather than made by this run.
 *
 * Events read back from the journal (`Replayed`, `SignalReceived`, a decision with `replayed`)
 * are reported again each time an unfinished run resumes. Running a completed run again only
 * reads its result from the journal and reports nothing.
 *
 * @example
 * ```ts
 * import { DateTime, Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Reminder = Workflow.make("reminder", { input: Schema.String }).pipe(
 *   Workflow.sleep("wait", "1 day"),
 *   Workflow.step("sent", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * const observe = (event: Workflow.StepEvent) => {
 *   switch (event._tag) {
 *     case "Sleeping":
 *       return Effect.log(`${event.runId} sleeps at ${event.path} until ${DateTime.formatIso(event.wakeAt)}`)
 *     case "Failed":
 *       return Effect.logWarning(`${event.path} failed on attempt ${event.attempt}${event.willRetry ? ", retrying" : ""}`)
 *     default:
 *       return Effect.logDebug(`${event._tag} ${event.path}`)
 *   }
 * }
 *
 * const program = Workflow.run(Reminder, { input: "ada", observe }).pipe(Effect.provide(Journal.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type StepEvent = InternalStepEvent

/**
 * Retry policy of a step. `times` is the number of retries after the first attempt. Failed
 * attempts are journaled, so a budget survives a crash; a run re-driven after its budget ran out
 * gets a fresh budget for the failed step.
 *
 * Only typed failures (the step's `E`, `StepTimeout`) are retried by default: a defect (the
 * step's code threw, an `Effect.promise` rejected) ends the run at once, untyped. With
 * `defects: true` a defect is a failed attempt too, journaled and retried like a typed failure,
 * and a step that dies on its last attempt fails with a typed `StepDefect` naming the run, the
 * path and the defect. Better still, turn the rejection into a typed failure where it happens
 * (`Effect.tryPromise` with a tagged error and the step's `error` schema).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const patient: Workflow.Retry = { times: 5, delay: "200 millis", backoff: "exponential" }
 * // A client library that throws: its throws are retried too.
 * const throwing: Workflow.Retry = { ...patient, defects: true }
 *
 * const Sync = Workflow.make("sync", { input: Schema.String }).pipe(
 *   Workflow.step("pushed", { success: Schema.Boolean, retry: patient }, () => Effect.succeed(true)),
 *   Workflow.step("pulled", { success: Schema.Boolean, retry: throwing }, () =>
 *     Effect.sync(() => JSON.parse("true") as boolean))
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Retry = RetryPolicy

/**
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * class Declined extends Schema.TaggedError<Declined>()("Declined", { code: Schema.String }) {}
 *
 * const charging: Workflow.StepOptions<string, Declined> = {
 *   success: Schema.String,
 *   error: Declined, // journaled, so a replayed failure keeps its type
 *   retry: { times: 2 },
 *   timeout: "10 seconds"
 * }
 *
 * const Checkout = Workflow.make("checkout", { input: Schema.Number }).pipe(
 *   Workflow.step("charge", charging, (ctx) =>
 *     ctx.input > 0 ? Effect.succeed("ch_1") : Effect.fail(new Declined({ code: "amount" })))
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StepOptions<A, E> extends StepSettings<E> {
  /** The schema of the step's output; the journal stores its JSON encoding. */
  readonly success: Schema.Codec<A, any, never, never>
}

/**
 * A step's options besides its `success` schema.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * // Shared by every call to the flaky service; each step brings its own `success`.
 * const flaky: Workflow.StepSettings<never> = { retry: { times: 3, delay: "1 second" }, timeout: "5 seconds" }
 *
 * const Sync = Workflow.make("sync", { input: Schema.String }).pipe(
 *   Workflow.step("pulled", { ...flaky, success: Schema.Number }, () => Effect.succeed(3)),
 *   Workflow.step("pushed", { ...flaky, success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StepSettings<E> {
  /** The schema of the step's typed failure, when it has one. */
  readonly error?: Schema.Codec<E, any, never, never> | undefined
  readonly retry?: Retry | undefined
  /** Interrupts an attempt that runs longer; it fails with `StepTimeout` and may be retried. */
  readonly timeout?: Duration.Input | undefined
  /**
   * At most `max` attempts of steps with this `key` run at once, across every process sharing
   * the journal's database. A run waiting for a slot does not hold a worker's slot.
   */
  readonly limit?: Limit | undefined
}

/**
 * A global concurrency limit: at most `max` executions of steps with this `key` at once, across
 * every worker and `Workflow.run` sharing the journal's database. Exact: requests for a key are
 * serialized by the store. A slot is held for one attempt and given back when it ends, however
 * it ends; a process that dies holds its slots until its lease runs out.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * // The geocoding API allows 5 calls in flight per account, whatever the number of workers.
 * const geocoding: Workflow.Limit = { key: "geocoding-api", max: 5 }
 *
 * const Locate = Workflow.make("locate", { input: Schema.Array(Schema.String) }).pipe(
 *   Workflow.forEach("points", (ctx) => ctx.input, (address) => Effect.succeed(`${address}: 48.85,2.35`), {
 *     success: Schema.String,
 *     concurrency: 20,
 *     limit: geocoding
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Limit = ConcurrencyLimit

/**
 * How a step is undone when its run fails for good or is cancelled: `compensate` is given the
 * step's output (decoded, as later steps see it) and the context the step saw. Compensations
 * run in reverse completion order, each once (journaled), retried by `compensateRetry` (the
 * step's `retry` when absent).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type Ctx = { readonly input: { readonly amount: number } }
 *
 * const refund: Workflow.Compensation<string, Ctx, never, never> = {
 *   compensate: (chargeId, ctx) => Effect.log(`refunding ${ctx.input.amount} on ${chargeId}`),
 *   compensateRetry: { times: 5, delay: "1 second", backoff: "exponential" }
 * }
 *
 * const Checkout = Workflow.make("checkout", { input: Schema.Struct({ amount: Schema.Number }) }).pipe(
 *   Workflow.step("charge", { success: Schema.String, ...refund }, () => Effect.succeed("ch_1"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Compensation<A, Ctx, E, R> {
  readonly compensate: (output: A, ctx: Ctx) => Effect.Effect<unknown, E, R>
  readonly compensateRetry?: Retry | undefined
}

/** The item, once it is known (before, `I` may be `never`, which would erase the workflow). */
type ItemFields<I> = [I] extends [never] ? unknown : I

/** A `forEach` whose options have no `success`: its body is a segment. */
interface NoSuccess {
  readonly "~plait/NoSuccess": true
}

/**
 * `unknown` unless a `forEach` body returned an Effect (`Misfit`) while its options have no
 * `success`: without one the body must be a segment.
 */
type EffectBodyCheck<Success, Misfit> = Success extends OutputSchema ? unknown
  : [Misfit] extends [never] ? unknown
  : { readonly "plait: an Effect body needs a `success` schema in the options of forEach": Misfit }

/**
 * What a `success` schema must be: one that decodes and encodes without services. Only these
 * members are checked, not the whole `Schema.Codec` interface: comparing every step's schema
 * with it would cost a long workflow several times its compile time.
 */
type OutputSchema = {
  readonly Type: unknown
  readonly DecodingServices: never
  readonly EncodingServices: never
}

/**
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * // `as const satisfies` keeps the literals the block's result and error types depend on.
 * const everyRegion = { concurrency: 4, onError: "completeAll" } as const satisfies Workflow.ParallelOptions
 *
 * const Warmup = Workflow.make("warmup", { input: Schema.String }).pipe(
 *   Workflow.parallel("caches", {
 *     eu: Workflow.step("eu", { success: Schema.Boolean }, () => Effect.succeed(true)),
 *     us: Workflow.step("us", { success: Schema.Boolean }, () => Effect.succeed(true))
 *   }, everyRegion)
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ParallelOptions {
  /** How branch outputs enter the context. Default `"deep"`. */
  readonly merge?: MergeStrategy | undefined
  /** What a failing branch does to the block. Default `"failFast"`. */
  readonly onError?: ErrorStrategy | undefined
  /** Branches in flight at once. Default: all. */
  readonly concurrency?: number | undefined
}

/**
 * The context a parallel block adds, by merge and error strategy.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type Ctx = { readonly input: string }
 * const left = Workflow.step("a", { success: Schema.Number }, (_: Ctx) => Effect.succeed(1))
 * const right = Workflow.step("b", { success: Schema.String }, (_: Ctx) => Effect.succeed("x"))
 * type Branches = { readonly left: typeof left; readonly right: typeof right }
 *
 * type Merged = Workflow.ParallelDelta<"both", Ctx, Branches, {}>
 * type Collected = Workflow.ParallelDelta<"both", Ctx, Branches, { readonly merge: "collect" }>
 * const merged: Merged = { a: 1, b: "x" }
 * const collected: Collected = { both: { left: { a: 1 }, right: { b: "x" } } }
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ParallelDelta<Name extends string, Ctx, B, O> = O extends { readonly onError: "settle" } ? {
    readonly [N in Name]: { readonly [K in keyof B]: Result.Result<DeltaOf<B[K], Ctx>, ErrorOf<B[K]>> }
  }
  : O extends { readonly merge: "collect" } ? { readonly [N in Name]: { readonly [K in keyof B]: DeltaOf<B[K], Ctx> } }
  : O extends { readonly merge: "lastWins" } ? LastWins<BranchDeltas<Ctx, B>>
  : DeepMerge<BranchDeltas<Ctx, B>>

/** The union of the branches' deltas. */
type BranchDeltas<Ctx, B> = { [K in keyof B]: DeltaOf<B[K], Ctx> }[keyof B]

/**
 * `unknown` unless a `"deep"` block's branches add one key with types that do not merge. Only
 * segment branches are checked (a `flow` function's delta needs the context, and a type over
 * the context here would be worked out once more for every block).
 */
type MergeCheck<B, O> = O extends
  { readonly onError: "settle" } | { readonly merge: "collect" } | { readonly merge: "lastWins" } ? unknown
  : DeepMergeable<{ [K in keyof B]: "~plait/Segment" extends keyof B[K] ? PartsOf<B[K]>["_Delta"] : never }[keyof B]>

/**
 * The signals of keyed branches (of a `parallel`, `chord`, `race` or `branch` named `Name`), each
 * under `Name/branchKey/`, as the journal paths are built.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * type Ctx = { readonly input: number }
 * const branches = {
 *   manager: Workflow.signal("decision", { schema: Schema.Boolean }),
 *   finance: Workflow.step("budget", { success: Schema.Number }, (ctx: Ctx) => Effect.succeed(ctx.input))
 * }
 *
 * type Waits = Workflow.BranchSignals<"review", typeof branches> // SignalAt<"review/manager/decision", boolean>
 * const waits: Waits = { path: "review/manager/decision", value: true }
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type BranchSignals<Name extends string, B> = {
  [K in keyof B]: NestedSignals<SignalsOf<B[K]>, `${Name}/${K & string}/`>
}[keyof B]

/**
 * What a parallel block adds to a workflow's `S`: its branches' signals and, when its name
 * does not enter the context (`"deep"` and `"lastWins"` merges), the name itself.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const branches = {
 *   a: Workflow.step("a", { success: Schema.Number }, (_: { readonly input: number }) => Effect.succeed(1))
 * }
 *
 * type Deep = Workflow.ParallelSignals<"both", typeof branches, {}> // Reserved<"both">
 * type Collected = Workflow.ParallelSignals<"both", typeof branches, { readonly merge: "collect" }> // never
 * const collected: [Collected] extends [never] ? true : false = true
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ParallelSignals<Name extends string, B, O> =
  | BranchSignals<Name, B>
  | (O extends { readonly onError: "settle" } | { readonly merge: "collect" } ? never : Reserved<Name>)

/**
 * The errors a parallel block can fail with, by error strategy.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * class Declined extends Schema.TaggedError<Declined>()("Declined", { code: Schema.String }) {}
 * const charge = Workflow.step("charge", { success: Schema.String, error: Declined }, (_: { readonly input: number }) =>
 *   Effect.fail(new Declined({ code: "expired_card" })))
 * type Branches = { readonly card: typeof charge }
 *
 * type FailFast = Workflow.ParallelError<Branches, {}> // Declined
 * // ParallelFailure, with failures typed by branch key: { card?: Declined }
 * type CompleteAll = Workflow.ParallelError<Branches, { readonly onError: "completeAll" }>
 * type Settled = Workflow.ParallelError<Branches, { readonly onError: "settle" }> // never
 * const first: FailFast = new Declined({ code: "expired_card" })
 * const declinedCode = (failure: CompleteAll) => failure.failures.card?.code
 * const settled: [Settled] extends [never] ? true : false = true
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ParallelError<B, O> = O extends { readonly onError: "settle" } ? never
  : O extends { readonly onError: "completeAll" } ? ParallelFailureOf<{ [K in keyof B]: ErrorOf<B[K]> }>
  : ErrorOf<B[keyof B]>

/**
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * interface Recipient { readonly email: string }
 *
 * // Up to 10 sends at once, journaled by address; the block fails only past 10% bounces.
 * const delivery = {
 *   concurrency: 10,
 *   onError: "settle",
 *   tolerate: { fraction: 0.1 },
 *   key: (recipient: Recipient) => recipient.email
 * } as const satisfies Workflow.ForEachOptions<Recipient>
 *
 * const Newsletter = Workflow.make("newsletter", { input: Schema.Array(Schema.Struct({ email: Schema.String })) }).pipe(
 *   Workflow.forEach("sent", (ctx) => ctx.input, (r) => Effect.succeed(r.email), { ...delivery, success: Schema.String })
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ForEachOptions<I> {
  /** Items in flight at once. Default 1 (sequential). */
  readonly concurrency?: number | undefined
  readonly onError?: ErrorStrategy | undefined
  /** In `"settle"` mode: how many failed items the block tolerates before it fails. */
  readonly tolerate?: Tolerance | undefined
  /** Journal items by a stable key instead of their index: `name[key]`. Keys must be unique. */
  readonly key?: ((item: I, index: number) => string | number) | undefined
}

/**
 * The context inside a `forEach` segment body: the block's context plus the current item. An
 * `item` or `index` already in the context (an enclosing `forEach`) is shadowed.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Line = Schema.Struct({ sku: Schema.String, qty: Schema.Number })
 * type OrderCtx = { readonly input: { readonly lines: ReadonlyArray<typeof Line.Type> } }
 * type PerLine = Workflow.ItemContext<OrderCtx, typeof Line.Type> // OrderCtx & { item: line; index: number }
 *
 * // A per-item segment declared on its own: `ctx.item` is the line, `ctx.index` its position.
 * const reserve = Workflow.step("reserved", { success: Schema.Boolean }, (ctx: PerLine) =>
 *   Effect.succeed(ctx.item.qty > 0))
 *
 * const Order = Workflow.make("order", { input: Schema.Struct({ lines: Schema.Array(Line) }) }).pipe(
 *   Workflow.forEach("lines", (ctx) => ctx.input.lines, reserve)
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ItemContext<Ctx, I> = Simplify<Omit<Ctx, "item" | "index"> & { readonly item: I; readonly index: number }>

// -------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------

/**
 * Starts a workflow. The context starts as `{ input }`, the decoded input.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Greet = Workflow.make("greet", { input: Schema.Struct({ name: Schema.String }) }).pipe(
 *   Workflow.step("greeting", { success: Schema.String }, (ctx) => Effect.succeed(`hello ${ctx.input.name}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <S extends Schema.Codec<any, any, never, never>>(
  name: string,
  options: { readonly input: S }
): Workflow<S["Encoded"], { readonly input: S["Type"] }, never, never, never> =>
  new Definition(name, options.input) as unknown as Workflow<
    S["Encoded"],
    { readonly input: S["Type"] },
    never,
    never,
    never
  >

// -------------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------------

const segment = (node: Node) => (self: Workflow<any, any, any, any>) => (self as unknown as Definition).append(node)

/**
 * A signature no call matches, added to every combinator: more arguments than the combinator
 * takes (`Arity`), and a `never` this. A combinator's result is bound to the workflow
 * it is written in, which it learns from where it is written; this signature makes TypeScript
 * treat a combinator call written inside another call (a branch's case, a `forEach` body) like
 * a generic function returning a function, which it resolves only once that call knows its own
 * types (the context, the item type). Its arity keeps it out of error messages, but for
 * "Expected at least 3 arguments" when a call has too few.
 */
type Nestable<Arity extends number> = <T>(
  this: never,
  ...args: [...NeverTuple<Arity>, never, ...Array<never>]
) => () => T

type NeverTuple<N extends number, T extends ReadonlyArray<never> = []> = T["length"] extends N ? T
  : NeverTuple<N, [...T, never]>

const nestable = <const Arity extends number>() => <F>(combinator: F): F & Nestable<Arity> =>
  combinator as F & Nestable<Arity>

const stepNode = (
  name: string,
  options: StepOptions<any, any> & Partial<Compensation<any, any, any, any>>,
  run: StepNode["run"]
): StepNode => ({
  _tag: "Step",
  name,
  success: options.success,
  error: options.error,
  retry: options.retry,
  timeout: options.timeout,
  limit: options.limit,
  compensate: options.compensate,
  compensateRetry: options.compensateRetry,
  run
})

/**
 * One journaled unit of work: runs `f(ctx)` and adds `{ [name]: output }` to the context. On
 * resume a completed step returns its journaled output without running. Inside `f`,
 * `Workflow.StepInfo` gives the run id, the path, the attempt and a stable idempotency key.
 *
 * With `compensate`, the step is undone if the run later fails for good or is cancelled (a saga;
 * the workflow's errors then include `CompensationFailed`). With `limit`, at most `max` attempts
 * of steps with its key run at once across every worker of the database.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Order = Workflow.make("order", { input: Schema.Struct({ id: Schema.String }) }).pipe(
 *   Workflow.step("total", { success: Schema.Number, retry: { times: 3, delay: "1 second" } }, () =>
 *     Effect.succeed(42)),
 *   Workflow.step("charge", {
 *     success: Schema.String,
 *     limit: { key: "payments-api", max: 5 },
 *     compensate: (chargeId) => Effect.log(`refund ${chargeId}`)
 *   }, (ctx) => Workflow.StepInfo.use((info) => Effect.succeed(`ch_${info.idempotencyKey}_${ctx.total}`))),
 *   Workflow.step("receipt", { success: Schema.String }, (ctx) => Effect.succeed(`${ctx.input.id}: ${ctx.charge}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const step = nestable<3>()(<
  const Name extends string,
  Success extends OutputSchema,
  E,
  R,
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never,
  Ctx = C0,
  // The compensation's errors and services; `NoCompensation` when there is none, so that a
  // compensation that cannot fail (`never`) still adds `CompensationFailed`: it may die.
  EC = NoCompensation,
  RC = never
>(
  name: Name & FreshName<Name, ContextFor<I0, C0, Ctx>, S0>,
  options:
    & StepSettings<NoInfer<E>>
    & { readonly success: Success }
    & {
      readonly compensate?: (
        output: NoInfer<Success["Type"]>,
        ctx: CallbackContext<I0, C0, Ctx>
      ) => Effect.Effect<unknown, EC, RC>
      readonly compensateRetry?: Retry | undefined
    },
  f: (ctx: CallbackContext<I0, C0, Ctx>) => Effect.Effect<NoInfer<Success["Type"]>, E, R>
): SegmentFor<
  I0,
  C0,
  E0,
  R0,
  S0,
  Ctx,
  { readonly [K in Name]: Success["Type"] },
  E | IfCompensated<EC, CompensationFailedOf<EC>>,
  Exclude<R | IfCompensated<EC, RC>, StepInfo>,
  never
> => segment(stepNode(name, options as unknown as StepOptions<any, any>, f as StepNode["run"])) as any)

/** A step's compensation type parameters when it has none. */
interface NoCompensation {
  readonly _: unique symbol
}

/**
 * `T` for a step with a compensation. A conditional type also keeps the step's return type from
 * inferring the compensation's services when it is written where a segment type is expected.
 */
type IfCompensated<EC, T> = [EC] extends [never] ? T : [EC] extends [NoCompensation] ? never : T

/**
 * Runs another workflow as a child run and adds `{ [name]: the child's final context }`. The
 * child's errors are the parent's. `input(ctx)` is the child's input (in its encoded form).
 *
 * The child is a run of its own, listed and inspectable, with the id `<parent run id>/<path>`:
 * it is started exactly once however often the parent runs, and a parent that resumes finds it
 * (running, or finished). Under a worker the parent releases its slot while the child runs and
 * is woken, in the same transaction, when the child ends; under `Workflow.run` the child runs in
 * the calling fiber. Cancelling the parent cancels its children; resuming a failed parent
 * re-queues its failed children.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Provision = Workflow.make("provision", { input: Schema.Struct({ region: Schema.String }) }).pipe(
 *   Workflow.step("cluster", { success: Schema.String }, (ctx) => Effect.succeed(`k8s-${ctx.input.region}`))
 * )
 *
 * const Rollout = Workflow.make("rollout", { input: Schema.Array(Schema.String) }).pipe(
 *   Workflow.forEach("regions", (ctx) => ctx.input, Workflow.child("provisioned", Provision, (ctx) => ({ region: ctx.item })), {
 *     concurrency: 3,
 *     key: (region) => region
 *   })
 * )
 * // ctx.regions: ReadonlyArray<{ provisioned: { input: { region: string }; cluster: string } }>
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const child = nestable<3>()(<
  const Name extends string,
  I,
  C,
  E,
  R,
  S,
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never,
  Ctx = C0
>(
  name: Name & FreshName<Name, ContextFor<I0, C0, Ctx>, S0>,
  // The child's signals are its own run's, sent to the child run: the parent only waits at the
  // child's path while the child waits.
  workflow: Workflow<I, C, E, R, S>,
  input: (ctx: CallbackContext<I0, C0, Ctx>) => NoInfer<I>
): SegmentFor<I0, C0, E0, R0, S0, Ctx, { readonly [K in Name]: Simplify<C> }, E, R, ChildWaits<Name, S>> =>
  segment({
    _tag: "Child",
    name,
    workflow: workflow as unknown as Definition,
    input: input as (ctx: unknown) => unknown
  }) as any
)

export {
  /**
   * What a step knows about itself, as a service provided inside its effect (and its
   * compensation's): the run id, its journal path, the attempt, and an `idempotencyKey` that is
   * the same for every attempt of this step in this run, across retries, crashes and resumes.
   * Pass it to services that deduplicate requests, so a retried or resumed step does not charge
   * or mail twice. A step that uses it does not add it to the workflow's requirements.
   *
   * @example
   * ```ts
   * import { Effect, Schema } from "effect"
   * import { Workflow } from "plait"
   *
   * const charge = (amount: number, idempotencyKey: string) =>
   *   Effect.succeed(`ch_${idempotencyKey.slice(-8)}_${amount}`)
   *
   * const Checkout = Workflow.make("checkout", { input: Schema.Number }).pipe(
   *   Workflow.step("charged", { success: Schema.String, retry: { times: 3 } }, (ctx) =>
   *     Effect.gen(function*() {
   *       const info = yield* Workflow.StepInfo
   *       yield* Effect.log(`${info.runId} ${info.path}: attempt ${info.attempt}`)
   *       return yield* charge(ctx.input, info.idempotencyKey)
   *     }))
   * )
   * // Workflow.Workflow<number, { input: number; charged: string }, never, never>: no StepInfo requirement
   * ```
   *
   * @since 0.1.0
   * @category services
   */
  StepInfo
}

/**
 * Composes segments in order into one segment, for a parallel branch of several steps. Its
 * nodes share one journal sequence with whatever it is applied to, so their names must be new
 * there too.
 *
 * Written inside a block, a sequence takes its context from the block. Written on its own, it
 * needs the one annotation that says what context it runs in, `satisfies Workflow.Branch<Ctx>`;
 * its steps then infer their `ctx` from it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Flow = Workflow.make("flow", { input: Schema.Number }).pipe(
 *   Workflow.parallel("both", {
 *     left: Workflow.sequence(
 *       Workflow.step("a", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input + 1)),
 *       Workflow.step("b", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.a * 2))
 *     ),
 *     right: Workflow.step("c", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input - 1))
 *   })
 * )
 *
 * // On its own: one annotation names the context; `ctx` is inferred in every step.
 * const billing = Workflow.sequence(
 *   Workflow.step("invoice", { success: Schema.String }, (ctx) => Effect.succeed(`INV-${ctx.input}`)),
 *   Workflow.step("sent", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.invoice.length > 0))
 * ) satisfies Workflow.Branch<{ readonly input: number }>
 *
 * const Order = Workflow.make("order", { input: Schema.Number }).pipe(
 *   Workflow.parallel("after", { billing, audit: Workflow.sleep("settle", "1 minute") })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const sequence: {
  <C1, E1, R1, S1, I0 = Unbound, C0 = unknown, E0 = never, R0 = never, S0 = never>(
    s1: (self: Workflow<NoInfer<I0>, C0, never, never, never>) => Workflow<any, C1, E1, R1, S1>
  ): SegmentFor<I0, C0, E0, R0, S0, C0, Added<C1, C0>, E1, R1, S1>
  <C1, E1, R1, S1, C2, E2, R2, S2, I0 = Unbound, C0 = unknown, E0 = never, R0 = never, S0 = never>(
    s1: (self: Workflow<NoInfer<I0>, C0, never, never, never>) => Workflow<any, C1, E1, R1, S1>,
    s2: (self: Workflow<NoInfer<I0>, C1, never, never, S1>) => Workflow<any, C2, E2, R2, S2>
  ): SegmentFor<I0, C0, E0, R0, S0, C0, Added<C2, C0>, E1 | E2, R1 | R2, S2>
  <C1, E1, R1, S1, C2, E2, R2, S2, C3, E3, R3, S3, I0 = Unbound, C0 = unknown, E0 = never, R0 = never, S0 = never>(
    s1: (self: Workflow<NoInfer<I0>, C0, never, never, never>) => Workflow<any, C1, E1, R1, S1>,
    s2: (self: Workflow<NoInfer<I0>, C1, never, never, S1>) => Workflow<any, C2, E2, R2, S2>,
    s3: (self: Workflow<NoInfer<I0>, C2, never, never, S2>) => Workflow<any, C3, E3, R3, S3>
  ): SegmentFor<I0, C0, E0, R0, S0, C0, Added<C3, C0>, E1 | E2 | E3, R1 | R2 | R3, S3>
  <
    C1,
    E1,
    R1,
    S1,
    C2,
    E2,
    R2,
    S2,
    C3,
    E3,
    R3,
    S3,
    C4,
    E4,
    R4,
    S4,
    I0 = Unbound,
    C0 = unknown,
    E0 = never,
    R0 = never,
    S0 = never
  >(
    s1: (self: Workflow<NoInfer<I0>, C0, never, never, never>) => Workflow<any, C1, E1, R1, S1>,
    s2: (self: Workflow<NoInfer<I0>, C1, never, never, S1>) => Workflow<any, C2, E2, R2, S2>,
    s3: (self: Workflow<NoInfer<I0>, C2, never, never, S2>) => Workflow<any, C3, E3, R3, S3>,
    s4: (self: Workflow<NoInfer<I0>, C3, never, never, S3>) => Workflow<any, C4, E4, R4, S4>
  ): SegmentFor<I0, C0, E0, R0, S0, C0, Added<C4, C0>, E1 | E2 | E3 | E4, R1 | R2 | R3 | R4, S4>
  <
    C1,
    E1,
    R1,
    S1,
    C2,
    E2,
    R2,
    S2,
    C3,
    E3,
    R3,
    S3,
    C4,
    E4,
    R4,
    S4,
    C5,
    E5,
    R5,
    S5,
    I0 = Unbound,
    C0 = unknown,
    E0 = never,
    R0 = never,
    S0 = never
  >(
    s1: (self: Workflow<NoInfer<I0>, C0, never, never, never>) => Workflow<any, C1, E1, R1, S1>,
    s2: (self: Workflow<NoInfer<I0>, C1, never, never, S1>) => Workflow<any, C2, E2, R2, S2>,
    s3: (self: Workflow<NoInfer<I0>, C2, never, never, S2>) => Workflow<any, C3, E3, R3, S3>,
    s4: (self: Workflow<NoInfer<I0>, C3, never, never, S3>) => Workflow<any, C4, E4, R4, S4>,
    s5: (self: Workflow<NoInfer<I0>, C4, never, never, S4>) => Workflow<any, C5, E5, R5, S5>
  ): SegmentFor<I0, C0, E0, R0, S0, C0, Added<C5, C0>, E1 | E2 | E3 | E4 | E5, R1 | R2 | R3 | R4 | R5, S5>
} & Nestable<5> = ((
  ...segments: ReadonlyArray<(self: any) => any>
) =>
(self: any) => segments.reduce((workflow, next) => next(workflow), self)) as any

/**
 * Runs branches concurrently; each sees the context from before the block, never a sibling's
 * output. Completed branches are journaled and not re-run on resume.
 *
 * - `merge`: `"deep"` (default) deep-merges branch outputs in declaration order; `"lastWins"`
 *   merges shallowly in completion order (journaled, so a resume agrees); `"collect"` adds
 *   `{ [name]: { [branchKey]: delta } }`.
 * - `onError`: `"failFast"` (default) interrupts running siblings on the first failure;
 *   `"completeAll"` runs every branch and fails with one `ParallelFailure`; `"settle"` never
 *   fails and adds `{ [name]: { [branchKey]: Result } }`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Dashboard = Workflow.make("dashboard", { input: Schema.String }).pipe(
 *   Workflow.parallel("fetch", {
 *     profile: Workflow.step("profile", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input)),
 *     orders: Workflow.step("orders", { success: Schema.Number }, () => Effect.succeed(3))
 *   }, { concurrency: 2 })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const parallel = nestable<3>()(<
  const Name extends string,
  const B extends Branches<C0>,
  const O extends ParallelOptions = {},
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never
>(
  name: Name & FreshName<Name, C0, S0> & MergeCheck<B, O>,
  branches: B,
  options?: O
): SegmentFor<
  I0,
  C0,
  E0,
  R0,
  S0,
  C0,
  ParallelDelta<Name, C0, B, O>,
  ParallelError<B, O>,
  ServicesOf<B[keyof B]>,
  ParallelSignals<Name, B, O>
> => segment(parallelNode(name, branches, options)) as any)

const keyed = (branches: Branches<any>) =>
  Object.entries(branches).map(([key, branch]) => [key, nodesOf(branch)] as const)

const parallelNode = (name: string, branches: Branches<any>, options: ParallelOptions | undefined) => ({
  _tag: "Parallel" as const,
  name,
  branches: keyed(branches),
  merge: options?.merge ?? "deep",
  onError: options?.onError ?? "failFast",
  concurrency: options?.concurrency
})

/**
 * A parallel block followed by a callback step that sees every branch's output. The callback's
 * output is added as `{ [name]: output }`; with `merge: "collect"` or `onError: "settle"` the
 * callback reads the branch outputs at `ctx[name]`, and its own output then takes that key.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Quote = Workflow.make("quote", { input: Schema.Number }).pipe(
 *   Workflow.chord("price", {
 *     a: Workflow.step("a", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input)),
 *     b: Workflow.step("b", { success: Schema.Number }, (ctx) => Effect.succeed(ctx.input * 2))
 *   }, (ctx) => Effect.succeed(Math.min(ctx.a, ctx.b)), { success: Schema.Number })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const chord = nestable<4>()(<
  const Name extends string,
  const B extends Branches<C0>,
  Success extends OutputSchema,
  E2,
  R2,
  const O extends ParallelOptions = {},
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never
>(
  name: Name & FreshName<Name, C0, S0> & MergeCheck<B, O>,
  branches: B,
  callback: (
    ctx: NoInfer<Simplify<C0 & ParallelDelta<Name, C0, B, O>>>
  ) => Effect.Effect<NoInfer<Success["Type"]>, E2, R2>,
  options: O & StepSettings<NoInfer<E2>> & { readonly success: Success }
): SegmentFor<
  I0,
  C0,
  E0,
  R0,
  S0,
  C0,
  Simplify<Omit<ParallelDelta<Name, C0, B, O>, Name> & { readonly [N in Name]: Success["Type"] }>,
  ParallelError<B, O> | E2,
  ServicesOf<B[keyof B]> | Exclude<R2, StepInfo>,
  BranchSignals<Name, B>
> =>
  segment({
    _tag: "Chord",
    name,
    parallel: parallelNode(name, branches, options),
    callback: stepNode(name, options as unknown as StepOptions<any, any>, callback as StepNode["run"])
  }) as any
)

/**
 * The first branch to succeed wins; the others are interrupted. The winner is journaled, so a
 * resumed run replays the same winner and runs no loser. Adds
 * `{ [name]: { _tag: branchKey, value: delta } }`. Fails with `RaceFailure` when every branch fails.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Lookup = Workflow.make("lookup", { input: Schema.String }).pipe(
 *   Workflow.race("answer", {
 *     cache: Workflow.step("cached", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input)),
 *     origin: Workflow.step("fetched", { success: Schema.String }, (ctx) =>
 *       Effect.as(Effect.sleep("1 second"), ctx.input))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const race = nestable<2>()(<
  const Name extends string,
  const B extends Branches<C0>,
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never
>(
  name: Name & FreshName<Name, C0, S0>,
  branches: B
): SegmentFor<
  I0,
  C0,
  E0,
  R0,
  S0,
  C0,
  { readonly [N in Name]: { [K in keyof B]: { readonly _tag: K; readonly value: DeltaOf<B[K], C0> } }[keyof B] },
  RaceFailureOf<{ [K in keyof B]: ErrorOf<B[K]> }>,
  ServicesOf<B[keyof B]>,
  BranchSignals<Name, B>
> => segment({ _tag: "Race", name, branches: keyed(branches) }) as any)

/**
 * Runs `body` for every item of `items(ctx)`, at most `concurrency` at once, and adds
 * `{ [name]: results }` in input order. Each item is journaled at `name[i]` (or `name[key]`);
 * completed items are skipped on resume and completions that arrive together are written in one
 * journal batch.
 *
 * `body` is either an Effect function, whose output schema is `success`, or a segment run per
 * item with `ctx.item` and `ctx.index` in its context.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Resize = Workflow.make("resize", { input: Schema.Array(Schema.String) }).pipe(
 *   Workflow.forEach("thumbs", (ctx) => ctx.input, (url) => Effect.succeed(`${url}?w=64`), {
 *     success: Schema.String,
 *     concurrency: 8
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const forEach:
  & (<
    const Name extends string,
    E,
    R,
    Out,
    S,
    // `never` until the items say: an annotated Effect body is checked before the items are read.
    I = never,
    const O extends ForEachOptions<I> & StepSettings<NoInfer<E>> = {},
    Success extends OutputSchema | NoSuccess = NoSuccess,
    Misfit = never,
    I0 = Unbound,
    C0 = unknown,
    E0 = never,
    R0 = never,
    S0 = never,
    Ctx = C0
  >(
    name: Name & FreshName<Name, ContextFor<I0, C0, Ctx>, S0> & EffectBodyCheck<Success, Misfit>,
    items: (ctx: CallbackContext<I0, C0, Ctx>) => Iterable<I>,
    // A segment unless `success` is given: tested this way round because, while `success` is not
    // read yet, TypeScript takes it for `never`. One signature either way (a segment ignores the
    // extra parameters), so a reusable segment is instantiated against it.
    body: (
      item: [Success] extends [NoSuccess]
        // `& ItemFields<I>`: an Effect function given without `success` still reads its item, so
        // the one error is the name's, and it says what is missing.
        ? Workflow<any, ItemContext<ContextFor<I0, C0, Ctx>, I>, never, never, never> & ItemFields<NoInfer<I>>
        : NoInfer<I>,
      ctx: CallbackContext<I0, C0, Ctx>,
      index: number
    ) => [Success] extends [NoSuccess] ? Workflow<any, Out, E, R, S> | Effect.Effect<Misfit, any, any>
      : Effect.Effect<NoInfer<Exclude<Success, NoSuccess>["Type"]>, E, R>,
    // `success` is read apart from `O` so that it is known even when the options hold functions
    // (`key`), which TypeScript reads only after the body: it decides what the body is.
    options?: O & ForEachOptions<I> & StepSettings<NoInfer<E>> & { readonly success?: Success }
  ) => SegmentFor<
    I0,
    C0,
    E0,
    R0,
    S0,
    Ctx,
    {
      readonly [N in Name]: ForEachResults<
        Success extends OutputSchema ? Success["Type"] : Added<Out, ItemContext<ContextFor<I0, C0, Ctx>, I>>,
        E,
        O
      >
    },
    ForEachError<E, O>,
    Exclude<R, StepInfo>,
    Success extends OutputSchema ? never : NestedSignals<S, `${Name}[${string}]/`>
  >)
  & Nestable<4> = ((
    name: string,
    items: any,
    body: any,
    options?: any
  ) =>
    segment({
      _tag: "ForEach",
      name,
      items,
      body: options !== undefined && "success" in options
        ? {
          _tag: "Effect",
          step: stepNode(name, options, (ctx) => body(ctx.item, ctx, ctx.index))
        }
        : { _tag: "Segment", nodes: nodesOf(body) },
      concurrency: options?.concurrency ?? 1,
      onError: options?.onError ?? "failFast",
      tolerate: options?.tolerate,
      key: options?.key
    })) as any

/**
 * @example
 * ```ts
 * import { Result, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * class Bounced extends Schema.TaggedError<Bounced>()("Bounced", { address: Schema.String }) {}
 *
 * type Sent = Workflow.ForEachResults<string, Bounced, {}> // ReadonlyArray<string>
 * type Settled = Workflow.ForEachResults<string, Bounced, { readonly onError: "settle" }> // ReadonlyArray<Result<string, Bounced>>
 * const sent: Sent = ["m-1", "m-2"]
 * const settled: Settled = [Result.succeed("m-1"), Result.fail(new Bounced({ address: "x@example.com" }))]
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ForEachResults<A, E, O> = O extends { readonly onError: "settle" } ? ReadonlyArray<Result.Result<A, E>>
  : ReadonlyArray<A>

/**
 * The errors a `forEach` block can fail with. In `"settle"` mode it fails only past its
 * `tolerate` threshold, so without one it adds no error.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * class Bounced extends Schema.TaggedError<Bounced>()("Bounced", { address: Schema.String }) {}
 *
 * type FailFast = Workflow.ForEachError<Bounced, {}> // Bounced
 * type Settled = Workflow.ForEachError<Bounced, { readonly onError: "settle" }> // never
 * type Bounded = Workflow.ForEachError<Bounced, { readonly onError: "settle"; readonly tolerate: { readonly count: 3 } }>
 * const first: FailFast = new Bounced({ address: "x@example.com" })
 * // Past the threshold: a ParallelFailure whose failures are Bounced, by item path.
 * const addressOf = (failure: Bounded, item: string) => failure.failures[item]?.address
 * const never: [Settled] extends [never] ? true : false = true
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ForEachError<E, O> = O extends { readonly onError: "settle" }
  ? O extends { readonly tolerate: Tolerance } ? ParallelFailureOf<Record<string, E>> : never
  : O extends { readonly onError: "completeAll" } ? ParallelFailureOf<Record<string, E>>
  : E

/**
 * Picks one case with `select(ctx)` (the choice is journaled) and runs it. Adds
 * `{ [name]: { _tag: caseKey, ...caseDelta } }`, a union to narrow on `_tag`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Ship = Workflow.make("ship", { input: Schema.Struct({ digital: Schema.Boolean }) }).pipe(
 *   Workflow.branch("route", (ctx) => (ctx.input.digital ? "digital" : "physical"), {
 *     digital: Workflow.step("link", { success: Schema.String }, () => Effect.succeed("https://example.com/dl")),
 *     physical: Workflow.step("label", { success: Schema.String }, () => Effect.succeed("LBL-1"))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const branch = nestable<3>()(<
  const Name extends string,
  const Cases extends Branches<ContextFor<I0, C0, Ctx>>,
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never,
  Ctx = C0
>(
  name: Name & FreshName<Name, ContextFor<I0, C0, Ctx>, S0>,
  select: (ctx: CallbackContext<I0, C0, Ctx>) => NoInfer<keyof Cases & string>,
  cases: Cases
): SegmentFor<
  I0,
  C0,
  E0,
  R0,
  S0,
  Ctx,
  {
    readonly [N in Name]: {
      [K in keyof Cases]: Simplify<{ readonly _tag: K } & DeltaOf<Cases[K], ContextFor<I0, C0, Ctx>>>
    }[keyof Cases]
  },
  ErrorOf<Cases[keyof Cases]>,
  ServicesOf<Cases[keyof Cases]>,
  BranchSignals<Name, Cases>
> => segment({ _tag: "Branch", name, select: select as (ctx: unknown) => string, cases: keyed(cases) }) as any)

/**
 * A durable sleep: the wake-up time is journaled, so a restarted run sleeps only what is left.
 *
 * The length is a fixed `Duration` input, or a function of the context returning a `Duration`
 * (a cool-off read from the input, a backoff grown from a counter). A computed length is worked
 * out once, when the run first reaches the sleep: the wake time is journaled then, and a resumed
 * run wakes at that same instant even if the function would now say otherwise.
 *
 * @example
 * ```ts
 * import { Duration, Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Reminder = Workflow.make("reminder", {
 *   input: Schema.Struct({ email: Schema.String, coolOffMinutes: Schema.Number })
 * }).pipe(
 *   Workflow.sleep("wait", "1 day"),
 *   Workflow.sleep("coolOff", (ctx) => Duration.minutes(ctx.input.coolOffMinutes)),
 *   Workflow.step("remind", { success: Schema.Void }, (ctx) => Effect.log(`reminding ${ctx.input.email}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const sleep = nestable<2>()(<
  const Name extends string,
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never,
  Ctx = C0
>(
  name: Name & FreshName<Name, ContextFor<I0, C0, Ctx>, S0>,
  duration: Duration.Input | ((ctx: CallbackContext<I0, C0, Ctx>) => Duration.Duration)
): SegmentFor<I0, C0, E0, R0, S0, Ctx, {}, never, never, Reserved<Name>> =>
  segment({ _tag: "Sleep", name, wake: waitEndOf(duration) }) as any
)

/**
 * A durable sleep until an instant computed from the context (a trial's end stored in the
 * input, a time an earlier step returned). The instant is worked out once, when the run first
 * reaches the sleep, and journaled: a resumed run wakes at that same instant. An instant already
 * past wakes at once.
 *
 * @example
 * ```ts
 * import { DateTime, Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Trial = Workflow.make("trial", { input: Schema.Struct({ account: Schema.String, endsAt: Schema.Number }) }).pipe(
 *   Workflow.sleepUntil("trialEnds", (ctx) => DateTime.makeUnsafe(ctx.input.endsAt)),
 *   Workflow.step("downgraded", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const sleepUntil = nestable<2>()(<
  const Name extends string,
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never,
  Ctx = C0
>(
  name: Name & FreshName<Name, ContextFor<I0, C0, Ctx>, S0>,
  at: (ctx: CallbackContext<I0, C0, Ctx>) => DateTime.Utc
): SegmentFor<I0, C0, E0, R0, S0, Ctx, {}, never, never, Reserved<Name>> =>
  segment({ _tag: "Sleep", name, wake: { _tag: "Until", at: at as (ctx: unknown) => DateTime.Utc } }) as any
)

/** A fixed length, or one computed from the context. */
const waitEndOf = (duration: Duration.Input | ((ctx: any) => Duration.Duration)): WaitEnd =>
  typeof duration === "function" ? { _tag: "Computed", duration } : { _tag: "Fixed", duration }

/**
 * Waits for a value from outside (a human approval, a webhook). While it has not been
 * delivered, `run` returns `Suspended`; `sendSignal` delivers it (validated by `schema`) and the
 * next `run` of the same run id continues with `{ [name]: value }`.
 *
 * With `timeout` (a fixed `Duration` input, or a function of the context returning a
 * `Duration`), the deadline is worked out and journaled when the run first waits, never computed
 * again; a run of the same id after the deadline, with nothing delivered, fails with
 * `SignalTimeout`. A signal delivered before the run next runs wins, however late that run is.
 *
 * @example
 * ```ts
 * import { Duration, Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Struct({ amount: Schema.Number }) }).pipe(
 *   Workflow.signal("approval", {
 *     schema: Schema.Struct({ approved: Schema.Boolean }),
 *     // Large expenses get longer to be looked at.
 *     timeout: (ctx) => Duration.days(ctx.input.amount > 1000 ? 7 : 2)
 *   }),
 *   Workflow.step("book", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved))
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const signal = nestable<2>()(<
  const Name extends string,
  A,
  const O extends {
    readonly schema: Schema.Codec<A, any, never, never>
    readonly timeout?: Duration.Input | ((ctx: CallbackContext<I0, C0, Ctx>) => Duration.Duration) | undefined
  },
  I0 = Unbound,
  C0 = unknown,
  E0 = never,
  R0 = never,
  S0 = never,
  Ctx = C0
>(
  name: Name & FreshName<Name, C0, S0>,
  options: O & { readonly schema: Schema.Codec<A, any, never, never> }
): SegmentFor<
  I0,
  C0,
  E0,
  R0,
  S0,
  C0,
  { readonly [N in Name]: A },
  O extends { readonly timeout: Duration.Input | ((ctx: never) => Duration.Duration) } ? SignalTimeout : never,
  never,
  SignalAt<Name, A>
> =>
  segment({
    _tag: "Signal",
    name,
    schema: options.schema,
    timeout: options.timeout === undefined ? undefined : waitEndOf(options.timeout)
  }) as any
)

// -------------------------------------------------------------------------------------------
// running
// -------------------------------------------------------------------------------------------

/**
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Order = Workflow.make("order", { input: Schema.String }).pipe(
 *   Workflow.step("charged", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * // The run id comes from the order, so a retried request resumes the run instead of starting another.
 * const optionsFor = (orderId: string): Workflow.RunOptions<string> => ({
 *   input: orderId,
 *   runId: `order-${orderId}`,
 *   observe: (event) => Effect.logDebug(event._tag, event.path)
 * })
 *
 * const program = Workflow.run(Order, optionsFor("A-1")).pipe(Effect.provide(Journal.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions<I> {
  /** The input, in the encoded form the input schema decodes. Decoded before anything is written. */
  readonly input: I
  /**
   * Names the run. The same id again resumes it. Default: a random UUID. At most 512 UTF-8
   * bytes, not empty, no NUL, well-formed Unicode (`RunId.RunId`); any other fails with
   * `InvalidRunId` before anything is written.
   */
  readonly runId?: string | undefined
  /** Resume even though the workflow's structure changed since the run started. */
  readonly allowDefinitionChange?: boolean | undefined
  /**
   * Called as steps start, complete, fail or replay, as sleeps and signal waits begin and end,
   * and as race, branch and `lastWins` decisions are made or replayed (see `StepEvent`).
   */
  readonly observe?: ((event: StepEvent) => Effect.Effect<void>) | undefined
  /** Group step completions that finish together into one journal write. Default `true`. */
  readonly batching?: boolean | undefined
  /**
   * How long the run's lease lasts without a heartbeat (renewed every third of it). Another
   * executor can take the run over once it expires, e.g. after this process crashed. Default 30 seconds.
   */
  readonly leaseDuration?: Duration.Input | undefined
}

/**
 * Runs a workflow, or resumes it when `runId` names an existing run: completed steps return
 * their journaled output without running.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Hello = Workflow.make("hello", { input: Schema.String }).pipe(
 *   Workflow.step("greeting", { success: Schema.String }, (ctx) => Effect.succeed(`hello ${ctx.input}`))
 * )
 *
 * const program = Workflow.run(Hello, { input: "ada", runId: "hello-ada" }).pipe(
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <I, Ctx, E, R, S>(
  workflow: Workflow<I, Ctx, E, R, S>,
  options: RunOptions<I>
): Effect.Effect<Outcome<Simplify<Ctx>, WaitPaths<S>>, E | RunError, R | Journal> => {
  const execute = runDefinition(workflow as unknown as Definition, {
    ...options,
    leaseDuration: options.leaseDuration === undefined
      ? undefined
      : Duration.toMillis(Duration.fromInputUnsafe(options.leaseDuration))
  })
  return (options.runId === undefined ? execute : Effect.andThen(validRunId(options.runId), execute)) as any
}

/**
 * Delivers the signal named by `path` (its journal path: `"approval"` at the top level,
 * `"review/manager/decision"` for a signal `decision` in branch `manager` of a `parallel` or
 * `branch` named `review`, `"reviews[ada]/verdict"` for item `ada` of a `forEach`) to a run. The
 * value is validated by the signal's schema and journaled; the first value delivered for a path
 * is kept (a later one fails with `SignalAlreadyDelivered`). Run the workflow again with the same
 * run id to continue.
 *
 * A path with no signal fails with `UnknownSignal`, and so does an item a `forEach` on the way
 * does not have, once that `forEach` has started (before, its items are not known, and the
 * signal is kept like any signal sent early). A value the schema rejects fails with
 * `InvalidSignal`, which lists every problem the schema found. Nothing is written in either case.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean }) }),
 *   Workflow.step("book", { success: Schema.Boolean }, (ctx) => Effect.succeed(ctx.approval.approved))
 * )
 *
 * const program = Effect.gen(function*() {
 *   yield* Workflow.run(Expense, { input: 120, runId: "expense-7" }) // Suspended, waiting for "approval"
 *   yield* Workflow.sendSignal(Expense, { runId: "expense-7", path: "approval", value: { approved: true } })
 *   return yield* Workflow.run(Expense, { input: 120, runId: "expense-7" }) // Completed
 * }).pipe(Effect.provide(Journal.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const sendSignal = <W extends Workflow<any, any, any, any, any>, const P extends SignalPath<W>>(
  workflow: W,
  options: { readonly runId: string; readonly path: P; readonly value: SignalValue<W, P> }
): Effect.Effect<
  void,
  | InvalidSignal
  | UnknownSignal
  | DuplicateEffect
  | SignalAlreadyDelivered
  | RunNotFound
  | InvalidRunId
  | JournalError,
  RunStore | Journal
> =>
  Effect.andThen(
    validRunId(options.runId),
    deliverSignal(workflow as unknown as Definition, options.runId, options.path, options.value)
  )

// -------------------------------------------------------------------------------------------
// pictures
// -------------------------------------------------------------------------------------------

/**
 * The workflow as a Mermaid flowchart, from its definition alone: forks and joins for `parallel`
 * and `chord`, `race` and `branch` drawn as such, `forEach` as a loop node, sleeps and signals as
 * waits. `WorkflowGraph` has the graph as data and more drawing options.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Workflow } from "plait"
 *
 * const Onboard = Workflow.make("onboard", { input: Schema.String }).pipe(
 *   Workflow.step("user", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input)),
 *   Workflow.parallel("setup", {
 *     welcome: Workflow.step("welcome", { success: Schema.Boolean }, () => Effect.succeed(true)),
 *     billing: Workflow.step("billing", { success: Schema.Boolean }, () => Effect.succeed(true))
 *   })
 * )
 *
 * console.log(Workflow.toMermaid(Onboard)) // flowchart TD ...
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toMermaid = <I, Ctx, E, R>(workflow: Workflow<I, Ctx, E, R>): string =>
  renderMermaid(workflow.name, graphOfNodes(workflow.nodes))
