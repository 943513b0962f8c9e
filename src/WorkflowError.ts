/**
 * The errors plait itself raises. Each names the run and, where there is one, the step path,
 * so a failure in a large workflow can be found without a debugger. A step's own errors are
 * not wrapped: they reach the caller with the type the step declared.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The run's input did not decode with the workflow's input schema. Nothing was written.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Invite = Workflow.make("invite", { input: Schema.Struct({ email: Schema.NonEmptyString }) }).pipe(
 *   Workflow.step("sent", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * const program = Workflow.run(Invite, { input: { email: "" } }).pipe(
 *   Effect.catchTag("InvalidInput", (error) => Effect.succeed(`rejected: ${error.issue}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  runId: Schema.String,
  workflow: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `invalid input for run ${this.runId} of workflow ${this.workflow}: ${this.issue}`
  }
}

/**
 * A run id breaks the rule every backend holds run ids to (`RunId.RunId`): it is empty, longer
 * than 512 UTF-8 bytes, holds a NUL character, or is not well-formed Unicode (a lone
 * surrogate). Refused before anything is read or written. `runId` shows the id's start, escaped
 * so that a NUL or a lone surrogate can be seen; `rule` names what it broke.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * const program = Workflow.run(Ping, { input: "hi", runId: "" }).pipe(
 *   Effect.catchTag("InvalidRunId", (error) => Effect.succeed(`refused (${error.rule}): ${error.message}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRunId extends Schema.TaggedError<InvalidRunId>()("InvalidRunId", {
  /** The id's start (at most 64 characters), JSON-escaped. */
  runId: Schema.String,
  rule: Schema.Literals(["Empty", "TooLong", "Nul", "MalformedUnicode"]),
  /** The id's length in UTF-8 bytes (a lone surrogate counted as the 3 bytes of its replacement). */
  bytes: Schema.Number
}) {
  override get message(): string {
    return `invalid run id ${this.runId} (${this.bytes} bytes): ${runIdRules[this.rule]}`
  }
}

const runIdRules = {
  Empty: "a run id must not be empty",
  TooLong: "a run id must be at most 512 UTF-8 bytes",
  Nul: "a run id must not contain a NUL character",
  MalformedUnicode: "a run id must be well-formed Unicode (it holds a lone surrogate)"
} as const

/**
 * A step returned a value its `success` schema cannot encode. The value is not journaled.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * // The types check the output's shape; the schema also checks what types cannot say (an
 * // integer here). An output it rejects fails the step, and is not journaled.
 * const Invoice = Workflow.make("invoice", { input: Schema.Number }).pipe(
 *   Workflow.step("cents", { success: Schema.Int }, (ctx) => Effect.succeed(ctx.input * 100))
 * )
 *
 * const program = Workflow.run(Invoice, { input: 0.125 }).pipe(
 *   Effect.catchTag("InvalidOutput", (error) => Effect.logWarning(`bad ${error.path}: ${error.issue}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOutput extends Schema.TaggedError<InvalidOutput>()("InvalidOutput", {
  runId: Schema.String,
  path: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `step ${this.path} of run ${this.runId} returned a value its schema rejects: ${this.issue}`
  }
}

/**
 * `sendSignal` was given a path with no signal to receive it: the workflow has no signal there,
 * or a `forEach` on the way has started without the item the path names. Nothing was written.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Review = Workflow.make("review", { input: Schema.Array(Schema.String) }).pipe(
 *   Workflow.forEach("papers", (ctx) => ctx.input, Workflow.signal("verdict", { schema: Schema.Boolean }), {
 *     key: (title) => title
 *   })
 * )
 *
 * // A reviewer's link names a paper; a paper the run does not have is reported, not kept.
 * const onVerdict = (runId: string, paper: string, verdict: boolean) =>
 *   Workflow.sendSignal(Review, { runId, path: `papers[${paper}]/verdict`, value: verdict }).pipe(
 *     Effect.catchTag("UnknownSignal", (error) => Effect.logWarning(`${error.path}: ${error.issue}`)),
 *     Effect.provide(Journal.layerMemory)
 *   )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownSignal extends Schema.TaggedError<UnknownSignal>()("UnknownSignal", {
  runId: Schema.String,
  path: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} has no signal at ${this.path}: ${this.issue}`
  }
}

/**
 * A signal was given a value its schema rejects. Every problem the schema found is listed, each
 * with where in the value it is. Nothing was written.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean, cents: Schema.Int }) })
 * )
 *
 * // A webhook's payload, checked by the signal's schema: each problem is reported.
 * const onWebhook = (approved: boolean, cents: number) =>
 *   Workflow.sendSignal(Expense, { runId: "expense-7", path: "approval", value: { approved, cents } }).pipe(
 *     Effect.catchTag("InvalidSignal", (error) => Effect.logWarning(error.issues.join("; "))),
 *     Effect.provide(Journal.layerMemory)
 *   )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSignal extends Schema.TaggedError<InvalidSignal>()("InvalidSignal", {
  runId: Schema.String,
  path: Schema.String,
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `signal ${this.path} of run ${this.runId} was sent a value its schema rejects:\n${
      this.issues.map((issue) => `- ${issue}`).join("\n")
    }`
  }
}

/**
 * `list` was given a cursor that no page of runs returned (mistyped, or cut short). Start from
 * the first page instead.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Engine } from "plait"
 *
 * const page = (cursor: string | undefined) =>
 *   Engine.Engine.use((engine) => engine.list({ cursor })).pipe(
 *     Effect.catchTag("InvalidCursor", () => Engine.Engine.use((engine) => engine.list({})))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {
  cursor: Schema.String
}) {
  override get message(): string {
    return `the cursor ${JSON.stringify(this.cursor)} is not one a page of runs returned`
  }
}

/**
 * The workflow's structure differs from the one the run was started with. `path` is the first
 * place they differ. Pass `allowDefinitionChange: true` to `Workflow.run` to resume anyway.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Order = Workflow.make("order", { input: Schema.String }).pipe(
 *   Workflow.step("charged", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * // After a deploy that only added steps, let old runs continue.
 * const program = Workflow.run(Order, { input: "A-1", runId: "order-A-1" }).pipe(
 *   Effect.catchTag("DefinitionChanged", (error) =>
 *     Effect.andThen(
 *       Effect.logWarning(`${error.runId} differs at ${error.path}, resuming anyway`),
 *       Workflow.run(Order, { input: "A-1", runId: error.runId, allowDefinitionChange: true })
 *     )),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class DefinitionChanged extends Schema.TaggedError<DefinitionChanged>()("DefinitionChanged", {
  runId: Schema.String,
  path: Schema.String,
  stored: Schema.String,
  current: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} was started with a different definition: at ${this.path} the journal has "${this.stored}", the workflow has "${this.current}"`
  }
}

/**
 * The run id is already used by a different workflow.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Refund = Workflow.make("refund", { input: Schema.String }).pipe(
 *   Workflow.step("refunded", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * // "A-1" already names an order run: namespace the id by workflow and try again.
 * const program = Workflow.run(Refund, { input: "A-1", runId: "A-1" }).pipe(
 *   Effect.catchTag("RunConflict", (error) =>
 *     Workflow.run(Refund, { input: "A-1", runId: `${error.requested}-${error.runId}` })),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunConflict extends Schema.TaggedError<RunConflict>()("RunConflict", {
  runId: Schema.String,
  stored: Schema.String,
  requested: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} belongs to workflow ${this.stored}, not ${this.requested}`
  }
}

/**
 * Another executor holds a live lease on the run: it is being executed right now (by another
 * call of `Workflow.run`, another process, or a worker). Nothing was run or written. Try again
 * once the holder has released the run, or let the holder finish it.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Order = Workflow.make("order", { input: Schema.String }).pipe(
 *   Workflow.step("charged", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * // A retried request while the first one still runs: answer "in progress" instead of running twice.
 * const program = Workflow.run(Order, { input: "A-1", runId: "order-A-1" }).pipe(
 *   Effect.catchTag("RunBusy", (busy) => Effect.succeed(`in progress on ${busy.owner}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunBusy extends Schema.TaggedError<RunBusy>()("RunBusy", {
  runId: Schema.String,
  owner: Schema.String,
  leaseExpiresAt: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    const until = this.leaseExpiresAt === undefined
      ? ""
      : ` (lease until ${new Date(this.leaseExpiresAt).toISOString()})`
    return `run ${this.runId} is being executed by ${this.owner}${until}`
  }
}

/**
 * The run was cancelled: it will not run again.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Order = Workflow.make("order", { input: Schema.String }).pipe(
 *   Workflow.step("charged", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * const program = Workflow.run(Order, { input: "A-1", runId: "order-A-1" }).pipe(
 *   Effect.catchTag("RunCancelled", (cancelled) => Effect.logInfo(`${cancelled.runId}: ${cancelled.reason}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunCancelled extends Schema.TaggedError<RunCancelled>()("RunCancelled", {
  runId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} was cancelled: ${this.reason}`
  }
}

/**
 * No run has this id.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Engine } from "plait"
 *
 * const statusOf = (runId: string) =>
 *   Effect.flatMap(Engine.Engine, (engine) => engine.inspect(runId)).pipe(
 *     Effect.map((detail) => detail.run.status as string),
 *     Effect.catchTag("RunNotFound", () => Effect.succeed("unknown"))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", {
  runId: Schema.String
}) {
  override get message(): string {
    return `no run has the id ${this.runId}`
  }
}

/**
 * A value for this signal was already delivered to the run; the first value is kept and this
 * one was not stored.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Engine, Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean })
 * )
 *
 * const approve = (runId: string) =>
 *   Effect.flatMap(Engine.Engine, (engine) => engine.signal(Expense, runId, "approval", true)).pipe(
 *     Effect.catchTag("SignalAlreadyDelivered", () => Effect.logInfo("already decided"))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class SignalAlreadyDelivered extends Schema.TaggedError<SignalAlreadyDelivered>()("SignalAlreadyDelivered", {
  runId: Schema.String,
  path: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} already received a value for signal ${this.path}; the first value is kept`
  }
}

/**
 * The run awaited ended `failed`. `error` is what its executor recorded.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Engine, Workflow } from "plait"
 *
 * const Order = Workflow.make("order", { input: Schema.String }).pipe(
 *   Workflow.step("charged", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * const result = (runId: string) =>
 *   Effect.flatMap(Engine.Engine, (engine) => engine.await(Order, runId)).pipe(
 *     Effect.catchTag("RunFailed", (failed) => Effect.succeed(`failed: ${failed.error}`))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunFailed extends Schema.TaggedError<RunFailed>()("RunFailed", {
  runId: Schema.String,
  error: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} failed: ${this.error}`
  }
}

/**
 * The app loads two copies of the `effect` package: a schema of the workflow (at `path`, or
 * `input`) was built by one copy and plait runs on another (`plaitEffect` says which version and
 * where). Schemas do not work across copies, so nothing was decoded or written. It happens with
 * a linked install of plait (the checkout's own `effect` comes along: install the packed tarball
 * instead), or when the app's `effect` is outside plait's peer range and npm nests a second copy
 * under plait (`npm ls effect` lists the copies: install an `effect` in the range, then
 * `npm dedupe`).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Invite = Workflow.make("invite", { input: Schema.String }).pipe(
 *   Workflow.step("sent", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * // A broken install is an operator's problem, not bad input: fail loudly, don't answer 400.
 * const program = Workflow.run(Invite, { input: "ada@example.com" }).pipe(
 *   Effect.catchTag("DuplicateEffect", (error) => Effect.die(error)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class DuplicateEffect extends Schema.TaggedError<DuplicateEffect>()("DuplicateEffect", {
  runId: Schema.String,
  workflow: Schema.String,
  path: Schema.String,
  plaitEffect: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} of workflow ${this.workflow}: the schema at ${this.path} was built by a different copy of ` +
      `the effect package than the one plait runs on (${this.plaitEffect}). The app loads two copies of effect, ` +
      `and schemas do not work across copies. If plait is linked (npm install ../plait), install its packed ` +
      `tarball instead; otherwise install an effect within plait's peer range and run npm dedupe ` +
      `(npm ls effect lists the copies).`
  }
}

/**
 * A step did not finish within its `timeout`; it was interrupted. Counts as a failed attempt.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Crawl = Workflow.make("crawl", { input: Schema.String }).pipe(
 *   Workflow.step("page", { success: Schema.String, timeout: "5 seconds", retry: { times: 2 } }, (ctx) =>
 *     Effect.as(Effect.sleep("1 minute"), ctx.input))
 * )
 *
 * const program = Workflow.run(Crawl, { input: "https://example.com" }).pipe(
 *   Effect.catchTag("StepTimeout", (error) => Effect.succeed(`${error.path} gave up after ${error.timeout}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class StepTimeout extends Schema.TaggedError<StepTimeout>()("StepTimeout", {
  runId: Schema.String,
  path: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `step ${this.path} of run ${this.runId} timed out after ${this.timeout}`
  }
}

/**
 * A step whose retry policy says `defects: true` died on its last attempt: its code threw, an
 * `Effect.promise` rejected, or it called `Effect.die`. `defect` is what it died with, as text
 * (an error's name and message); `attempts` is the attempt it died on, the last of its budget
 * (attempts are counted from the last exhausted budget, as the retry policy counts them).
 * Without `defects: true` a defect is not retried and the run dies with it, untyped.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Fetch = Workflow.make("fetch", { input: Schema.String }).pipe(
 *   Workflow.step("page", { success: Schema.String, retry: { times: 2, defects: true } }, (ctx) =>
 *     Effect.promise(() => fetch(ctx.input).then((response) => response.text())))
 * )
 *
 * const program = Workflow.run(Fetch, { input: "https://example.com" }).pipe(
 *   Effect.catchTag("StepDefect", (error) => Effect.succeed(`${error.path} died ${error.attempts} times: ${error.defect}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class StepDefect extends Schema.TaggedError<StepDefect>()("StepDefect", {
  runId: Schema.String,
  path: Schema.String,
  attempts: Schema.Int,
  defect: Schema.String
}) {
  override get message(): string {
    return `step ${this.path} of run ${this.runId} died on attempt ${this.attempts}: ${this.defect}`
  }
}

/**
 * A `signal` with a `timeout` was not delivered before its deadline. The deadline is journaled
 * when the run first waits, so it holds across restarts; it is checked whenever the run runs.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Expense = Workflow.make("expense", { input: Schema.Number }).pipe(
 *   Workflow.signal("approval", { schema: Schema.Boolean, timeout: "3 days" })
 * )
 *
 * const program = Workflow.run(Expense, { input: 120, runId: "expense-7" }).pipe(
 *   Effect.catchTag("SignalTimeout", (error) => Effect.logWarning(`no answer at ${error.path} within ${error.timeout}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class SignalTimeout extends Schema.TaggedError<SignalTimeout>()("SignalTimeout", {
  runId: Schema.String,
  path: Schema.String,
  timeout: Schema.String
}) {
  override get message(): string {
    return `signal ${this.path} of run ${this.runId} was not delivered within ${this.timeout}`
  }
}

/**
 * A `parallel`, `chord` or `forEach` block in `"completeAll"` mode (or `forEach` in `"settle"`
 * mode past its tolerance) had failing branches. `failures` holds each failed branch's error by
 * branch key (item path for `forEach`); `successes` holds the deltas of the branches that
 * finished.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Notify = Workflow.make("notify", { input: Schema.String }).pipe(
 *   Workflow.parallel("channels", {
 *     email: Workflow.step("email", { success: Schema.Boolean }, () => Effect.succeed(true)),
 *     sms: Workflow.step("sms", { success: Schema.Boolean }, () => Effect.fail("no phone number"))
 *   }, { onError: "completeAll" })
 * )
 *
 * const program = Workflow.run(Notify, { input: "ada" }).pipe(
 *   Effect.catchTag("ParallelFailure", (error) => Effect.succeed({ failed: Object.keys(error.failures) })), // ["sms"]
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ParallelFailure extends Schema.TaggedError<ParallelFailure>()("ParallelFailure", {
  runId: Schema.String,
  path: Schema.String,
  failures: Schema.Record(Schema.String, Schema.Unknown),
  successes: Schema.Record(Schema.String, Schema.Unknown)
}) {
  override get message(): string {
    const keys = Object.keys(this.failures)
    return `${keys.length} branch(es) of ${this.path} failed in run ${this.runId}: ${keys.join(", ")}`
  }
}

/**
 * Every branch of a race failed. `failures` holds each branch's error by key.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Quote = Workflow.make("quote", { input: Schema.String }).pipe(
 *   Workflow.race("price", {
 *     primary: Workflow.step("primary", { success: Schema.Number }, () => Effect.fail("timeout")),
 *     backup: Workflow.step("backup", { success: Schema.Number }, () => Effect.fail("rate limited"))
 *   })
 * )
 *
 * const program = Workflow.run(Quote, { input: "BTC" }).pipe(
 *   Effect.catchTag("RaceFailure", (error) => Effect.logError(`no price: ${JSON.stringify(error.failures)}`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RaceFailure extends Schema.TaggedError<RaceFailure>()("RaceFailure", {
  runId: Schema.String,
  path: Schema.String,
  failures: Schema.Record(Schema.String, Schema.Unknown)
}) {
  override get message(): string {
    return `every branch of race ${this.path} failed in run ${this.runId}`
  }
}

/**
 * A run that failed for good (or was cancelled) undid its completed steps in reverse completion
 * order, and one compensation still failed after its retries. The run ends `failed`. `path` is
 * the compensation that failed (`<step path>/compensate`) and `failure` its error;
 * `compensated` lists the steps already undone, `notCompensated` the failed one and those left
 * (in the order they would have run); `reason` is why the run was compensating. Resuming the
 * run tries the remaining compensations again.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Order = Workflow.make("order", { input: Schema.String }).pipe(
 *   Workflow.step("charge", {
 *     success: Schema.String,
 *     compensate: () => Effect.fail("the payment provider is down")
 *   }, () => Effect.succeed("ch_1")),
 *   Workflow.step("ship", { success: Schema.Boolean }, () => Effect.fail("out of stock"))
 * )
 *
 * const program = Workflow.run(Order, { input: "A-1" }).pipe(
 *   Effect.catchTag("CompensationFailed", (error) =>
 *     Effect.logError(`undo by hand: ${error.notCompensated.join(", ")} (${error.error})`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CompensationFailed extends Schema.TaggedError<CompensationFailed>()("CompensationFailed", {
  runId: Schema.String,
  path: Schema.String,
  error: Schema.String,
  failure: Schema.Unknown,
  compensated: Schema.Array(Schema.String),
  notCompensated: Schema.Array(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `run ${this.runId} could not undo ${this.notCompensated.join(", ")}: ${this.path} failed (${this.error}); ` +
      `it was compensating because ${this.reason}`
  }
}

/**
 * A `CompensationFailed` whose `failure` is typed: the error of the compensation that failed.
 * `step` gives its failure this type for the errors of its `compensate`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { WorkflowError } from "plait"
 *
 * class RefundRefused extends Schema.TaggedError<RefundRefused>()("RefundRefused", { charge: Schema.String }) {}
 *
 * const chargeOf = (failure: WorkflowError.CompensationFailedOf<RefundRefused>) => failure.failure.charge
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type CompensationFailedOf<E> = CompensationFailed & { readonly failure: E }

/**
 * A schedule could not be stored: its cron expression or time zone does not parse.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Engine, Workflow } from "plait"
 *
 * const Report = Workflow.make("report", { input: Schema.String }).pipe(
 *   Workflow.step("sent", { success: Schema.Boolean }, () => Effect.succeed(true))
 * )
 *
 * const program = Effect.flatMap(Engine.Engine, (engine) =>
 *   engine.schedule(Report, { id: "nightly", cron: "0 3 * * *", input: "daily", timezone: "Europe/Paris" })
 * ).pipe(Effect.catchTag("InvalidSchedule", (error) => Effect.logError(`${error.scheduleId}: ${error.issue}`)))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSchedule extends Schema.TaggedError<InvalidSchedule>()("InvalidSchedule", {
  scheduleId: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `schedule ${this.scheduleId} is invalid: ${this.issue}`
  }
}

/**
 * A `ParallelFailure` whose `failures` are typed: each failed branch's error under its key
 * (`Errors` maps branch keys, or item paths, to error types). It is the same runtime value;
 * `parallel`, `chord` and `forEach` give their failure this type.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * class Bounced extends Schema.TaggedError<Bounced>()("Bounced", { address: Schema.String }) {}
 *
 * const Notify = Workflow.make("notify", { input: Schema.String }).pipe(
 *   Workflow.parallel("send", {
 *     email: Workflow.step("email", { success: Schema.Boolean }, (ctx) => Effect.fail(new Bounced({ address: ctx.input }))),
 *     sms: Workflow.step("sms", { success: Schema.Boolean }, () => Effect.succeed(true))
 *   }, { onError: "completeAll" })
 * )
 *
 * const program = Workflow.run(Notify, { input: "ada@example.com" }).pipe(
 *   Effect.catchTag("ParallelFailure", (failure) => Effect.succeed(failure.failures.email?.address)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type ParallelFailureOf<Errors> = ParallelFailure & {
  readonly failures: { readonly [K in keyof Errors]?: Errors[K] }
}

/**
 * A `RaceFailure` whose `failures` are typed by branch key. Every branch failed, so every key is
 * present.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * class Down extends Schema.TaggedError<Down>()("Down", { region: Schema.String }) {}
 *
 * const Lookup = Workflow.make("lookup", { input: Schema.String }).pipe(
 *   Workflow.race("answer", {
 *     eu: Workflow.step("eu", { success: Schema.String }, () => Effect.fail(new Down({ region: "eu" }))),
 *     us: Workflow.step("us", { success: Schema.String }, () => Effect.fail(new Down({ region: "us" })))
 *   })
 * )
 *
 * const program = Workflow.run(Lookup, { input: "k" }).pipe(
 *   Effect.catchTag("RaceFailure", (failure) => Effect.succeed([failure.failures.eu.region, failure.failures.us.region])),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type RaceFailureOf<Errors> = RaceFailure & {
  readonly failures: { readonly [K in keyof Errors]: Errors[K] }
}

/**
 * Any error plait itself can raise while running a workflow.
 *
 * @example
 * ```ts
 * import { WorkflowError } from "plait"
 *
 * // Map every error plait raises to an HTTP status.
 * const httpStatus = (error: WorkflowError.WorkflowError): number => {
 *   switch (error._tag) {
 *     case "InvalidInput":
 *       return 400
 *     case "RunConflict":
 *     case "DefinitionChanged":
 *       return 409
 *     case "JournalError":
 *       return error.reason === "Unavailable" ? 503 : 500
 *     default:
 *       return 500
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkflowError =
  | RunError
  | UnknownSignal
  | InvalidSignal
  | InvalidCursor
  | SignalTimeout
  | ParallelFailure
  | RaceFailure
  | CompensationFailed
  | InvalidSchedule
  | RunNotFound
  | RunFailed
  | SignalAlreadyDelivered

/**
 * The errors any run can fail with, whatever its structure. `Workflow.run` fails with these and
 * with the workflow's own `E`; the block failures (`ParallelFailure`, `RaceFailure`,
 * `SignalTimeout`) reach `E` from the blocks that raise them, typed per block, so they are not
 * repeated here.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow, type WorkflowError } from "plait"
 *
 * const Hello = Workflow.make("hello", { input: Schema.String }).pipe(
 *   Workflow.step("greeting", { success: Schema.String }, (ctx) => Effect.succeed(`hello ${ctx.input}`))
 * )
 *
 * const program: Effect.Effect<unknown, WorkflowError.RunError, Journal.Journal> = Workflow.run(Hello, { input: "ada" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type RunError =
  | InvalidInput
  | InvalidRunId
  | InvalidOutput
  | DuplicateEffect
  | DefinitionChanged
  | RunConflict
  | StepTimeout
  | StepDefect
  | RunBusy
  | RunCancelled
  | LeaseLost
  | JournalError

/**
 * A journal operation failed. `reason` says what a caller can do about it:
 *
 * - `Unavailable`: the store could not be reached or the write did not commit; retry later,
 *   nothing already journaled is lost.
 * - `Corrupt`: a stored row cannot be read back (bad JSON, or it no longer matches its schema),
 *   or contradicts the rest of the run (a recorded order naming a branch the block lacks).
 *   The run stops before anything depends on it; nothing is re-run and nothing stored changes.
 * - `Conflict`: the run exists with different identity (another workflow under the same id), or
 *   does not exist where it must.
 * - `TooLarge`: a value is larger than the journal's `maxPayloadBytes`; it was not stored.
 *
 * @example
 * ```ts
 * import { Effect, Schedule, Schema } from "effect"
 * import { SqliteJournal, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * // A run resumes where it stopped, so retrying it while the store is unreachable is safe.
 * const program = Workflow.run(Ping, { input: "hi", runId: "ping-1" }).pipe(
 *   Effect.retry({
 *     while: (error) => error._tag === "JournalError" && error.reason === "Unavailable",
 *     schedule: Schedule.exponential("100 millis")
 *   }),
 *   Effect.provide(SqliteJournal.layer({ filename: "journal.sqlite" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  reason: Schema.Literals(["Unavailable", "Corrupt", "Conflict", "TooLarge"]),
  runId: Schema.String,
  path: Schema.optional(Schema.String),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    const at = this.path === undefined ? "" : ` at ${this.path}`
    return `journal ${this.reason.toLowerCase()} for run ${this.runId}${at}: ${this.detail}`
  }
}

/**
 * A journal was configured with an option it cannot work with (a table prefix that is not a
 * plain identifier, a size that is not a positive whole number): building the journal fails
 * with this before it touches the store. An engine call given an option out of its range (a
 * `priority` that is not a whole number within ±2,147,483,647, a `list` limit that is not a
 * whole number from 1 to 1,000) fails with it too, before the store sees the call.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Journal, SqliteJournal } from "plait"
 *
 * const program = Journal.Journal.use((journal) => journal.load("run-1")).pipe(
 *   Effect.provide(SqliteJournal.layer({ filename: "journal.sqlite", tablePrefix: "billing-" })),
 *   Effect.catchTag("InvalidOption", (error) => Effect.logError(`${error.option}: ${error.issue}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  option: Schema.String,
  issue: Schema.String
}) {
  override get message(): string {
    return `invalid option ${this.option}: ${this.issue}`
  }
}

/**
 * The executor's lease on the run was taken over by another executor (its own had expired), so
 * its write was refused and nothing more it does for the run is journaled. The run goes on under
 * its new owner.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Journal, Workflow } from "plait"
 *
 * const Ping = Workflow.make("ping", { input: Schema.String }).pipe(
 *   Workflow.step("pong", { success: Schema.String }, (ctx) => Effect.succeed(ctx.input))
 * )
 *
 * const program = Workflow.run(Ping, { input: "hi", runId: "ping-1" }).pipe(
 *   Effect.catchTag("LeaseLost", (lost) => Effect.logWarning(`${lost.runId} continues elsewhere`)),
 *   Effect.provide(Journal.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", {
  runId: Schema.String,
  owner: Schema.String,
  token: Schema.Number,
  path: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const at = this.path === undefined ? "" : ` writing ${this.path}`
    return `run ${this.runId}: ${this.owner} lost its lease (token ${this.token})${at}; another executor took the run over`
  }
}
