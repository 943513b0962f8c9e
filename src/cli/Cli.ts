/**
 * The `plait` command: see and steer runs from a terminal. It uses the public API only
 * (`Engine`, `RunStore`, `WorkflowGraph`), as any application could.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Argument from "effect/cli/Argument"
import * as CliError from "effect/cli/CliError"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import { createServer } from "node:http"
import { Dashboard } from "../dashboard/index.ts"
import { Engine, RunId, RunStore, WorkflowGraph } from "../index.ts"
import { Testing } from "../testing/index.ts"
import { childrenOf } from "../view/children.ts"
import { nodeStatuses } from "../view/nodeStatus.ts"
import { timelineOf } from "../view/timeline.ts"
import { backendOf, describeTarget, scrub, type Target, targetOf, userError } from "./connection.ts"
import { type AnyWorkflow, loadWorkflow } from "./loadWorkflow.ts"
import { runsTable, runText, timelineText } from "./render.ts"

export const version = "0.1.0"

const statuses = ["queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled"] as const

const connection = {
  sqlite: Flag.String("sqlite").pipe(
    Flag.withDescription("the SQLite journal file (or set PLAIT_SQLITE)"),
    Flag.optional
  ),
  pg: Flag.Redacted("pg").pipe(
    Flag.withDescription("the Postgres URL (or set PLAIT_PG_URL); its password is never printed"),
    Flag.optional
  ),
  tablePrefix: Flag.String("table-prefix").pipe(
    Flag.withDescription("the journal's table prefix, if it was given one (or set PLAIT_TABLE_PREFIX)"),
    Flag.optional
  )
}

export const plait = Command.make("plait").pipe(
  Command.withSharedFlags(connection),
  Command.withDescription("See and steer plait workflow runs")
)

/** Runs `f` with the engine over the database the flags name; failures become clear messages. */
const withEngine = <A, E, R>(
  f: (engine: Engine.Engine["Service"], target: Target) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const flags = yield* plait
    const target = yield* targetOf(flags)
    return yield* Engine.Engine.use((engine) => f(engine, target)).pipe(
      Effect.catch((error): Effect.Effect<never, CliError.CliError> =>
        CliError.isCliError(error) ? Effect.fail(error) : userError(scrub(target, messageOf(error)))
      ),
      Effect.provide(backendOf(target)),
      Effect.scoped
    )
  })

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error)

/** Refused before any database is opened, with the rule it breaks. */
const runId = Argument.String("run-id").pipe(
  Argument.withDescription("the run's id"),
  Argument.mapEffect((id) => Effect.catch(RunId.validate(id), (error) => userError(error.message)))
)
const json = Flag.Boolean("json").pipe(Flag.withDescription("print JSON instead of text"), Flag.withDefault(false))

const list = Command.make(
  "list",
  {
    workflow: Flag.String("workflow").pipe(Flag.withDescription("only runs of this workflow"), Flag.optional),
    status: Flag.Literals("status", statuses).pipe(
      Flag.withDescription("only runs with this status (repeatable)"),
      Flag.atLeast(0)
    ),
    limit: Flag.Int("limit").pipe(Flag.withDescription("at most this many runs"), Flag.withDefault(50)),
    cursor: Flag.String("cursor").pipe(
      Flag.withDescription("the page after this cursor (printed as `more:`)"),
      Flag.optional
    ),
    json
  },
  (options) =>
    withEngine((engine) =>
      Effect.gen(function*() {
        const workflow = Option.getOrUndefined(options.workflow)
        const page = yield* engine.list({
          workflow,
          status: options.status.length === 0 ? undefined : options.status,
          limit: options.limit,
          cursor: Option.getOrUndefined(options.cursor)
        })
        const counts = yield* engine.counts({ workflow })
        yield* Console.log(options.json ? JSON.stringify({ ...page, counts }, null, 2) : runsTable(page, counts))
      })
    )
).pipe(Command.withDescription("List runs, newest first"))

/** The run's graph, from its stored outline: the CLI needs no workflow module to draw it. */
const graphOf = (detail: Engine.RunDetail) =>
  Option.getOrUndefined(WorkflowGraph.fromFingerprint(detail.run.workflow, detail.run.fingerprint))

/** The run as `runs show` prints it: its details, steps, signals, compensations and children. */
const showText = (engine: Engine.Engine["Service"], detail: Engine.RunDetail) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const graph = graphOf(detail)
    const children = yield* childrenOf(engine, detail.run)
    const progress = graph === undefined ? undefined : nodeStatuses(graph, detail, now, children.runs)
    return runText({ detail, graph, progress, children, now })
  })

const show = Command.make("show", { runId, json }, (options) =>
  withEngine((engine) =>
    Effect.gen(function*() {
      const detail = yield* engine.inspect(options.runId)
      yield* Console.log(options.json ? JSON.stringify(detail, null, 2) : yield* showText(engine, detail))
    })
  )).pipe(
    Command.withDescription(
      "A run: status, what it waits for, its steps with times and attempts, compensations, parent and children"
    )
  )

const timeline = Command.make(
  "timeline",
  { runId, width: Flag.Int("width").pipe(Flag.withDescription("columns of the time axis"), Flag.withDefault(60)) },
  (options) =>
    withEngine((engine) =>
      Effect.gen(function*() {
        const detail = yield* engine.inspect(options.runId)
        const now = yield* Clock.currentTimeMillis
        yield* Console.log(timelineText(timelineOf(detail, now, graphOf(detail)), Math.max(10, options.width)))
      })
    )
).pipe(Command.withDescription("A run's timeline, one lane per parallel branch, race branch or forEach item"))

const signal = Command.make(
  "signal",
  {
    runId,
    name: Argument.String("name").pipe(
      Argument.withDescription("the signal's path (`approval`, `review/manager/decision`)")
    ),
    value: Argument.String("json").pipe(Argument.withDescription("the value, as JSON")),
    workflow: Flag.String("workflow").pipe(
      Flag.withDescription("<module>#<export> of the run's workflow, to validate the value with the signal's schema"),
      Flag.optional
    ),
    raw: Flag.Boolean("raw").pipe(
      Flag.withDescription(
        "store the JSON as the signal's encoded value without validation (a value the schema rejects fails the run when it resumes)"
      ),
      Flag.withDefault(false)
    )
  },
  (options) =>
    Effect.gen(function*() {
      const value = yield* Effect.try({ try: () => JSON.parse(options.value) as unknown, catch: () => "bad json" })
        .pipe(
          Effect.catch(() => userError(`the value is not JSON: ${options.value}`))
        )
      if (Option.isSome(options.workflow)) {
        const workflow = yield* loadWorkflow(options.workflow.value)
        return yield* withEngine((engine) =>
          Effect.andThen(
            engine.signal(workflow as AnyWorkflow, options.runId, options.name as never, value as never),
            Console.log(`delivered ${options.name} to ${options.runId}`)
          )
        )
      }
      if (!options.raw) {
        return yield* userError(
          "runs signal validates the value with the signal's schema: pass --workflow <module>#<export>, or --raw to store the JSON unchecked"
        )
      }
      return yield* withEngine(() => deliverRaw(options.runId, options.name, JSON.stringify(value)))
    })
).pipe(Command.withDescription("Send a signal to a run"))

/** The unchecked path: the store keeps the first value per path and wakes the run if it waits. */
const deliverRaw = (runId: string, path: string, value: string) =>
  Effect.gen(function*() {
    const store = yield* RunStore.RunStore
    const now = yield* Clock.currentTimeMillis
    const delivery = yield* store.deliver(runId, { path, kind: "signal", seq: 0, value, finishedAt: now })
    if (delivery === "missing") return yield* userError(`run ${runId} not found`)
    if (delivery === "duplicate") {
      return yield* userError(`run ${runId} already has a value for signal ${path}; the first one is kept`)
    }
    yield* Console.log(`delivered ${path} to ${runId} (unchecked)`)
  })

const cancel = Command.make(
  "cancel",
  { runId, reason: Flag.String("reason").pipe(Flag.withDescription("why, kept on the run"), Flag.optional) },
  (options) =>
    withEngine((engine) =>
      Effect.gen(function*() {
        const run = yield* engine.cancel(options.runId, { reason: Option.getOrUndefined(options.reason) })
        yield* Console.log(
          run.status === "cancelled"
            ? `cancelled ${run.runId}`
            : run.cancelRequested
            ? `cancel requested for ${run.runId}: its worker stops it at its next heartbeat`
            : `${run.runId} is already ${run.status}`
        )
      })
    )
).pipe(Command.withDescription("Cancel a run"))

const resume = Command.make("resume", { runId }, (options) =>
  withEngine((engine) =>
    Effect.gen(function*() {
      const run = yield* engine.resume(options.runId)
      yield* Console.log(`${run.runId} is ${run.status}${run.status === "queued" ? ": a worker picks it up" : ""}`)
    })
  )).pipe(Command.withDescription("Make a failed, sleeping or waiting run due now"))

const isFinished = (status: string) => status === "completed" || status === "failed" || status === "cancelled"

const watch = Command.make(
  "watch",
  {
    runId,
    interval: Flag.Int("interval").pipe(Flag.withDescription("milliseconds between refreshes"), Flag.withDefault(1000))
  },
  (options) =>
    withEngine((engine) =>
      Effect.gen(function*() {
        // On a terminal each frame replaces the last; piped, only frames that changed are printed.
        const clear = process.stdout.isTTY ? "\u001b[2J\u001b[H" : ""
        let last = ""
        while (true) {
          const detail = yield* engine.inspect(options.runId)
          const frame = yield* showText(engine, detail)
          if (frame !== last) yield* Console.log(`${clear}${frame}\n`)
          last = frame
          if (isFinished(detail.run.status)) return
          yield* Effect.sleep(Math.max(50, options.interval))
        }
      })
    )
).pipe(Command.withDescription("Follow a run live until it finishes, with progress for forEach blocks"))

const exportRun = Command.make(
  "export",
  {
    runId,
    output: Flag.String("output").pipe(
      Flag.withDescription("write the JSON to this file instead of printing it"),
      Flag.optional
    )
  },
  (options) =>
    withEngine(() =>
      Effect.gen(function*() {
        const exported = yield* Testing.exportRun(options.runId)
        const text = `${JSON.stringify(Schema.encodeSync(Testing.ExportedRun)(exported), null, 2)}\n`
        if (Option.isNone(options.output)) return yield* Console.log(text.trimEnd())
        const file = options.output.value
        yield* Effect.try({
          try: () => fs.writeFileSync(file, text),
          catch: (error) => `cannot write ${file}: ${error instanceof Error ? error.message : String(error)}`
        })
        yield* Console.log(
          `exported ${options.runId} (${exported.run.status}, ${exported.entries.length} entries, ${
            countRuns(exported.children)
          } child runs) to ${file}`
        )
      })
    )
).pipe(
  Command.withDescription("Write a run's journal (its record, entries and child runs) as JSON, for a replay test")
)

const countRuns = (children: ReadonlyArray<Testing.ExportedRun>): number =>
  children.reduce((total, child) => total + 1 + countRuns(child.children), 0)

const runs = Command.make("runs").pipe(
  Command.withDescription("List, inspect and steer runs"),
  Command.withSubcommands([list, show, timeline, signal, cancel, resume, watch, exportRun])
)

const graph = Command.make(
  "graph",
  {
    workflow: Argument.String("workflow").pipe(Argument.withDescription("<module>#<export> of the workflow")),
    direction: Flag.Literals("direction", ["TD", "LR"]).pipe(Flag.withDefault("TD" as const))
  },
  (options) =>
    Effect.gen(function*() {
      const workflow = yield* loadWorkflow(options.workflow)
      yield* Console.log(
        WorkflowGraph.toMermaid(WorkflowGraph.fromWorkflow(workflow), { direction: options.direction })
      )
    })
).pipe(Command.withDescription("Print a workflow's graph as a Mermaid flowchart"))

const dashboard = Command.make(
  "dashboard",
  {
    port: Flag.Int("port").pipe(
      Flag.withDescription("the port to listen on (0: any free port)"),
      Flag.withDefault(4100)
    ),
    host: Flag.String("host").pipe(
      Flag.withDescription(
        "the address to listen on; beyond loopback (0.0.0.0, a public IP) only with the access token, and put TLS in front"
      ),
      Flag.withDefault("127.0.0.1")
    ),
    token: Flag.Boolean("token").pipe(
      Flag.withDescription(
        "require the access token the dashboard's printed address carries (PLAIT_DASHBOARD_TOKEN, or a random one); --no-token serves without one, on a loopback address only"
      ),
      Flag.withDefault(true)
    ),
    allowHost: Flag.String("allow-host").pipe(
      Flag.withDescription(
        "another name the dashboard is reached by, as browsers send it in Host (a proxy's, a DNS name; repeatable)"
      ),
      Flag.atLeast(0)
    ),
    workflow: Flag.String("workflow").pipe(
      Flag.withDescription("<module>#<export> of a workflow whose runs may be sent signals (repeatable)"),
      Flag.atLeast(0)
    )
  },
  (options) =>
    Effect.gen(function*() {
      const loopback = isLoopbackHost(options.host)
      if (!options.token && !loopback) {
        return yield* userError(
          `--no-token serves the dashboard without authentication, which is refused on ${options.host}: only on a loopback address (127.0.0.1, ::1, localhost). Drop --no-token to require the access token.`
        )
      }
      const flags = yield* plait
      const target = yield* targetOf(flags)
      const workflows = yield* Effect.forEach(options.workflow, loadWorkflow)
      const token = Redacted.make(process.env.PLAIT_DASHBOARD_TOKEN || randomBytes(32).toString("base64url"))
      if (!loopback) {
        yield* Console.error(
          `warning: the dashboard listens on ${options.host}, beyond this machine: anyone who reaches the port and has the token can read and steer every run, and its traffic is not encrypted; put it behind TLS (a proxy), and give the names it is reached by with --allow-host`
        )
      }
      const announce = Layer.effectDiscard(HttpServer.addressFormattedWith((address) =>
        Console.log(
          `plait dashboard on ${browsable(address)}/plait/${
            options.token ? `?token=${Redacted.value(token)}` : " (no access token: loopback only)"
          } over the ${describeTarget(target)}`
        )
      ))
      // The address is printed once the dashboard is in place, never for one that refused to start.
      const app = Layer.provideMerge(
        announce,
        Dashboard.layer({
          workflows,
          authenticate: options.token ? Dashboard.tokenAuthentication(token) : "none",
          hosts: options.allowHost,
          redirectRoot: true
        })
      )
      const server = HttpRouter.serve(app, { disableListenLog: true, disableLogger: true })
        .pipe(
          Layer.provide(NodeHttpServer.layer(createServer, { port: options.port, host: options.host })),
          Layer.provide(backendOf(target))
        )
      return yield* Layer.launch(server).pipe(
        Effect.catch((error): Effect.Effect<never, CliError.CliError> =>
          CliError.isCliError(error) ? Effect.fail(error) : userError(scrub(target, messageOf(error)))
        )
      )
    })
).pipe(Command.withDescription("Serve the web dashboard on its own"))

/** A loopback address: only this machine can connect. */
const isLoopbackHost = (host: string): boolean => {
  if (host === "localhost") return true
  const ip = NetAddress.ipFromString(host.replace(/^\[(.*)\]$/, "$1"))
  return ip._tag === "Success" && NetAddress.isLoopback(ip.success)
}

/** The server's address as a browser can open it: a wildcard address is reached at 127.0.0.1. */
const browsable = (address: string): string =>
  address.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")

export const commands = [runs, graph, dashboard] as const

export const cli = plait.pipe(Command.withSubcommands(commands))

/** Parses and runs `argv` (without `node` and the script). */
export const run = Command.runWith(cli, { version })
