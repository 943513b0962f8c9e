/**
 * Corrupt rows, one kind of stored row at a time, on every backend. Each test runs a workflow
 * to build a real journal, copies that run under new ids with one row altered (through the
 * journal's own API, so every backend gets the same bytes), and resumes each copy: the run must
 * fail with `JournalError` reason `Corrupt` naming the copy and the path, run no step again,
 * and leave the copy's rows as they were. An unaltered copy resumes without a journal error,
 * so the failures are the alterations', not the copying's.
 */
import { assert, layer } from "@effect/vitest"
import { Cause, Effect, Exit, type Layer, Option, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { Journal, type RunStore, Workflow, WorkflowError } from "plait"
import { makeCounts, plant } from "../runs.ts"

class Boom extends Schema.TaggedError<Boom>()("Boom", { at: Schema.String }) {}

type Counts = ReturnType<typeof makeCounts>
type AnyWorkflow = Workflow.Workflow<any, any, any, never>
type Entries = ReadonlyArray<Journal.JournalEntry>

/** One way to corrupt a run: the copy's run record and entries, from the original's. */
interface Alteration {
  readonly label: string
  readonly run?: Partial<Pick<Journal.RunRecord, "fingerprint" | "input">>
  readonly status?: string
  readonly entries?: (entries: Entries) => Entries
  /** Where the error must point, when not at the scenario's path. */
  readonly path?: string
}

interface Scenario {
  readonly kind: string
  /** The path the error must name; `undefined` for the run row's own columns. */
  readonly path: string | undefined
  /** The run's input; 1 when absent. */
  readonly input?: unknown
  readonly workflow: (counts: Counts, phase: { seeding: boolean }) => AnyWorkflow
  /** Builds the original run (runs, signals) from nothing; one run when absent. */
  readonly seed?: (
    workflow: AnyWorkflow,
    runId: string
  ) => Effect.Effect<void, unknown, Journal.Journal | RunStore.RunStore>
  readonly alterations: ReadonlyArray<Alteration>
}

/** Replaces the value of the entry of `kind` at `path` (and `seq`, when given). */
const setValue =
  (kind: Journal.EntryKind, path: string, value: string, seq = kind === "attempt" ? undefined : 0) =>
  (entries: Entries): Entries => {
    assert.isTrue(
      entries.some((entry) => entry.kind === kind && entry.path === path),
      `no ${kind} entry at ${path} to alter`
    )
    return entries.map((entry) =>
      entry.kind === kind && entry.path === path && (seq === undefined || entry.seq === seq)
        ? { ...entry, value }
        : entry
    )
  }

/** One alteration per `[label, value]`: the value of the entry of `kind` at `path` replaced. */
const values = (
  kind: Journal.EntryKind,
  path: string,
  replacements: ReadonlyArray<readonly [label: string, value: string]>,
  seq?: number
): ReadonlyArray<Alteration> =>
  replacements.map(([label, value]) => ({ label, entries: setValue(kind, path, value, seq) }))

const withEntry = (extra: Journal.JournalEntry) => (entries: Entries): Entries => [...entries, extra]

const runOnce = (workflow: AnyWorkflow, runId: string, input: unknown) =>
  Effect.exit(Workflow.run(workflow, { input, runId }))

const scenarios: ReadonlyArray<Scenario> = [
  {
    kind: "step",
    path: "b",
    workflow: (counts) =>
      Workflow.make("corrupt_step", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, (ctx) => counts.run("a", Effect.succeed(ctx.input + 1))),
        Workflow.step("b", { success: Schema.Number }, (ctx) => counts.run("b", Effect.succeed(ctx.a * 2)))
      ),
    alterations: values("step", "b", [
      ["a value its schema rejects", "\"four\""],
      ["text that is not JSON", "{oops"],
      ["empty text", ""]
    ])
  },
  {
    kind: "attempt",
    path: "charge",
    // Fails while the original is built (two attempts, the second exhausting the budget), then
    // succeeds: a resume that misread the attempts would run it.
    workflow: (counts, phase) =>
      Workflow.make("corrupt_attempt", { input: Schema.Number }).pipe(
        Workflow.step("charge", { success: Schema.Number, error: Boom, retry: { times: 1 } }, () =>
          counts.run(
            "charge",
            Effect.suspend(() => phase.seeding ? Effect.fail(new Boom({ at: "charge" })) : Effect.succeed(1))
          ))
      ),
    alterations: [
      ...values("attempt", "charge", [
        ["text that is not JSON", "{oops"],
        ["an object with no fields", "{}"]
      ], 1),
      {
        label: "an attempt number that is not a number",
        entries: setValue("attempt", "charge", JSON.stringify({ attempt: "one", exhausted: false, error: "x" }), 1)
      },
      {
        label: "an attempt number out of sequence",
        entries: setValue("attempt", "charge", JSON.stringify({ attempt: 1, exhausted: false, error: "x" }), 2)
      },
      {
        label: "an exhausted attempt without its failure",
        entries: setValue(
          "attempt",
          "charge",
          JSON.stringify({ attempt: 2, exhausted: true, error: "x", typed: false }),
          2
        )
      },
      {
        label: "a missing attempt (a gap in the numbering)",
        entries: (entries) =>
          entries.map((entry) => entry.kind === "attempt" && entry.seq === 2 ? { ...entry, seq: 3 } : entry)
      },
      {
        label: "an attempt numbered 0",
        entries: withEntry({
          path: "charge",
          kind: "attempt",
          seq: 0,
          value: JSON.stringify({ attempt: 1, exhausted: false, error: "x" })
        })
      }
    ]
  },
  {
    kind: "choice (race winner)",
    path: "answer",
    workflow: (counts) =>
      Workflow.make("corrupt_race", { input: Schema.Number }).pipe(
        Workflow.race("answer", {
          a: Workflow.step("a", { success: Schema.String }, () => counts.run("a", Effect.succeed("A"))),
          b: Workflow.step("b", { success: Schema.String }, () =>
            counts.run("b", Effect.as(Effect.sleep("20 millis"), "B")))
        })
      ),
    alterations: values("choice", "answer", [
      ["a branch the race does not have", "\"c\""],
      ["text that is not JSON", "{oops"],
      ["a number", "7"]
    ])
  },
  {
    kind: "choice (branch case)",
    path: "route",
    workflow: (counts) =>
      Workflow.make("corrupt_branch", { input: Schema.Number }).pipe(
        Workflow.branch("route", (ctx) => ctx.input > 0 ? "up" : "down", {
          up: Workflow.step("up", { success: Schema.Number }, () => counts.run("up", Effect.succeed(1))),
          down: Workflow.step("down", { success: Schema.Number }, () => counts.run("down", Effect.succeed(-1)))
        })
      ),
    alterations: values("choice", "route", [
      ["a case the branch does not have", "\"sideways\""],
      ["text that is not JSON", "{oops"],
      ["null", "null"]
    ])
  },
  {
    kind: "order (lastWins completion order)",
    path: "p",
    workflow: (counts) =>
      Workflow.make("corrupt_order", { input: Schema.Number }).pipe(
        Workflow.parallel("p", {
          x: Workflow.step("x", { success: Schema.Number }, () => counts.run("x", Effect.succeed(1))),
          y: Workflow.step("y", { success: Schema.Number }, () => counts.run("y", Effect.succeed(2)))
        }, { merge: "lastWins" })
      ),
    alterations: values("order", "p", [
      ["a branch left out", "[\"x\"]"],
      ["a branch twice", "[\"x\",\"x\"]"],
      ["a branch the block does not have", "[\"x\",\"y\",\"z\"]"],
      ["not a list", "\"x\""],
      ["text that is not JSON", "{oops"]
    ])
  },
  {
    kind: "wake (durable sleep deadline)",
    path: "nap",
    workflow: (counts) =>
      Workflow.make("corrupt_wake", { input: Schema.Number }).pipe(
        Workflow.sleep("nap", "1 millis"),
        Workflow.step("after", { success: Schema.Number }, () => counts.run("after", Effect.succeed(1)))
      ),
    alterations: values("wake", "nap", [
      ["a word", "\"soon\""],
      ["a fraction of a millisecond", "1.5"],
      ["before 1970", "-1"],
      ["a number JSON reads as Infinity", "1e999"],
      ["null", "null"]
    ])
  },
  {
    kind: "signal",
    path: "approval",
    workflow: (counts) =>
      Workflow.make("corrupt_signal", { input: Schema.Number }).pipe(
        Workflow.signal("approval", { schema: Schema.Struct({ approved: Schema.Boolean }) }),
        Workflow.step("book", { success: Schema.Boolean }, (ctx) =>
          counts.run("book", Effect.succeed(ctx.approval.approved)))
      ),
    seed: (workflow, runId) =>
      Effect.gen(function*() {
        yield* runOnce(workflow, runId, 1)
        yield* Workflow.sendSignal(workflow, { runId, path: "approval", value: { approved: true } })
        yield* runOnce(workflow, runId, 1)
      }),
    alterations: values("signal", "approval", [
      ["a value its schema rejects", "{\"approved\":\"yes\"}"],
      ["text that is not JSON", "{oops"]
    ])
  },
  {
    kind: "settle record",
    path: "p",
    // `x` fails for good while the original is built, then would succeed: a resume that
    // misread the record would run it again and change the context.
    workflow: (counts, phase) =>
      Workflow.make("corrupt_settle", { input: Schema.Number }).pipe(
        Workflow.parallel("p", {
          x: Workflow.step("x", { success: Schema.Number, error: Boom }, () =>
            counts.run(
              "x",
              Effect.suspend(() => phase.seeding ? Effect.fail(new Boom({ at: "x" })) : Effect.succeed(1))
            )),
          y: Workflow.step("y", { success: Schema.Number }, () => counts.run("y", Effect.succeed(2)))
        }, { onError: "settle" }),
        Workflow.step("after", { success: Schema.Number }, () => counts.run("after", Effect.succeed(3)))
      ),
    alterations: [
      ...values("choice", "p", [
        ["text that is not JSON", "{oops"],
        ["the wrong shape", "{\"failed\":\"x\",\"succeeded\":[]}"],
        ["a branch the block does not have", "{\"failed\":[\"z\"],\"succeeded\":[\"y\"]}"],
        ["a branch twice", "{\"failed\":[\"x\"],\"succeeded\":[\"y\",\"x\"]}"],
        ["no failed branch", "{\"failed\":[],\"succeeded\":[\"x\",\"y\"]}"]
      ]),
      {
        label: "a succeeded branch recorded as failed",
        entries: setValue("choice", "p", "{\"failed\":[\"x\",\"y\"],\"succeeded\":[]}")
      },
      {
        // `x` (failed, no output) must replay as a success: refused at its step, before it runs.
        label: "the outcomes swapped",
        entries: setValue("choice", "p", "{\"failed\":[\"y\"],\"succeeded\":[\"x\"]}"),
        path: "p/x/x"
      }
    ]
  },
  {
    kind: "items (a forEach's item list)",
    path: "reviews",
    input: ["ada", "bob"],
    workflow: (counts) =>
      Workflow.make("corrupt_items", { input: Schema.Array(Schema.String) }).pipe(
        Workflow.forEach(
          "reviews",
          (ctx) => ctx.input,
          Workflow.sequence(
            Workflow.signal("verdict", { schema: Schema.Boolean }),
            Workflow.step(
              "noted",
              { success: Schema.Boolean },
              (ctx) => counts.run("noted", Effect.succeed(ctx.verdict))
            )
          ),
          { key: (name) => name }
        )
      ),
    seed: (workflow, runId) =>
      Effect.gen(function*() {
        yield* runOnce(workflow, runId, ["ada", "bob"])
        for (const name of ["ada", "bob"]) {
          yield* Workflow.sendSignal(workflow, { runId, path: `reviews[${name}]/verdict`, value: true })
        }
        yield* runOnce(workflow, runId, ["ada", "bob"])
      }),
    alterations: values("items", "reviews", [
      ["text that is not JSON", "{oops"],
      ["not a list", "\"reviews[ada]\""],
      ["an item twice", "[\"reviews[ada]\",\"reviews[ada]\"]"],
      ["another forEach's items", "[\"other[ada]\",\"other[bob]\"]"],
      ["items the forEach does not have", "[\"reviews[ada]\",\"reviews[zed]\"]"]
    ])
  },
  {
    kind: "entry kind and number",
    path: "a",
    workflow: (counts) =>
      Workflow.make("corrupt_entry", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1)))
      ),
    alterations: [
      {
        label: "a kind this version does not know",
        entries: withEntry({ path: "a", kind: "teleport" as Journal.EntryKind, seq: 0, value: "1" })
      },
      { label: "a step numbered 1", entries: withEntry({ path: "a", kind: "step", seq: 1, value: "1" }) },
      { label: "a choice numbered 2", entries: withEntry({ path: "a", kind: "choice", seq: 2, value: "\"x\"" }) }
    ]
  },
  {
    kind: "fingerprint",
    path: undefined,
    workflow: (counts) =>
      Workflow.make("corrupt_fingerprint", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1)))
      ),
    alterations: [
      { label: "text that is not JSON", run: { fingerprint: "[\"a step\"" } },
      { label: "a number", run: { fingerprint: "42" } },
      { label: "a line that is not text", run: { fingerprint: "[\"a step\", 7]" } },
      { label: "a line without a kind", run: { fingerprint: "[\"a\"]" } },
      { label: "a kind no node has", run: { fingerprint: "[\"a stepp\"]" } }
    ]
  },
  {
    kind: "input",
    path: undefined,
    workflow: (counts) =>
      Workflow.make("corrupt_input", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, (ctx) => counts.run("a", Effect.succeed(ctx.input)))
      ),
    alterations: [
      { label: "a value the input schema rejects", run: { input: "\"one\"" } },
      { label: "text that is not JSON", run: { input: "{oops" } }
    ]
  },
  {
    kind: "status",
    path: undefined,
    workflow: (counts) =>
      Workflow.make("corrupt_status", { input: Schema.Number }).pipe(
        Workflow.step("a", { success: Schema.Number }, () => counts.run("a", Effect.succeed(1)))
      ),
    alterations: [
      { label: "a status this version does not know", status: "paused" },
      { label: "an empty status", status: "" }
    ]
  }
]

const load = (runId: string) =>
  Effect.flatMap(Journal.Journal, (journal) => journal.load(runId)).pipe(
    Effect.map((loaded) => Option.getOrThrowWith(loaded, () => new Error(`run ${runId} not found`)))
  )

/** The copy's rows, read around the journal's checks: they must not change. */
const rowsOf = (entries: Entries) => entries.map((entry) => `${Journal.entryKey(entry)}=${entry.value}`).sort()

/**
 * Copies `original` under `runId`, with one alteration, and with the status it had or `queued`:
 * a completed run is replayed without a lease, a queued one executed under its lease, and both
 * must find the corrupt row.
 */
const forge = (original: Journal.LoadedRun, runId: string, queued: boolean, alteration?: Alteration) =>
  Effect.gen(function*() {
    const entries = alteration?.entries?.(original.entries) ?? original.entries
    const kept = original.run.status === "running" ? "queued" : original.run.status
    const status = (alteration?.status ?? (queued ? "queued" : kept)) as Journal.Release["status"]
    yield* plant(runId, entries, { ...original.run, ...alteration?.run, runId }, status)
    return rowsOf(entries)
  })

/** Registers one test per kind of stored row for a journal backend. */
export const corruptRowConformance = <E>(
  name: string,
  journalLayer: Layer.Layer<Journal.Journal | RunStore.RunStore, E>
): void =>
  layer(journalLayer, { excludeTestServices: true, timeout: "60 seconds" })(`${name}: corrupt rows`, (it) => {
    for (const scenario of scenarios) {
      it.effect(`a corrupt ${scenario.kind} fails the run with Corrupt naming run and path; nothing re-runs`, () =>
        Effect.gen(function*() {
          const counts = makeCounts()
          const phase = { seeding: true }
          const workflow = scenario.workflow(counts, phase)
          const seedId = `seed-${randomUUID()}`
          const input = scenario.input ?? 1
          yield* (scenario.seed ?? ((workflow, runId) => runOnce(workflow, runId, input)))(workflow, seedId)
          phase.seeding = false
          const original = yield* load(seedId)

          // The copy itself is sound: resumed unaltered, it meets no journal error.
          for (const queued of [false, true]) {
            const control = `${seedId}-control-${queued}`
            yield* forge(original, control, queued)
            const controlExit = yield* runOnce(workflow, control, input)
            if (Exit.isFailure(controlExit)) {
              assert.notInstanceOf(Cause.squash(controlExit.cause), Journal.JournalError, "the unaltered copy failed")
            }
          }

          const copies = scenario.alterations.flatMap((alteration, i) =>
            (alteration.status === undefined ? [false, true] : [false]).map((queued) => ({ alteration, i, queued }))
          )
          for (const { alteration, i, queued } of copies) {
            const runId = `${seedId}-${i}-${queued ? "queued" : "as-stored"}`
            const rows = yield* forge(original, runId, queued, alteration)
            const before = counts.snapshot()
            const exit = yield* runOnce(workflow, runId, input)
            const context = `${scenario.kind}, ${alteration.label}${queued ? ", queued" : ""}`
            assert.isTrue(Exit.isFailure(exit), `${context}: the run was accepted`)
            const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
            assert.instanceOf(error, WorkflowError.JournalError, `${context}: ${String(error)}`)
            const journalError = error as Journal.JournalError
            assert.strictEqual(journalError.reason, "Corrupt", context)
            assert.strictEqual(journalError.runId, runId, context)
            const path = alteration.path ?? scenario.path
            assert.strictEqual(journalError.path, path, context)
            assert.include(journalError.message, runId, context)
            if (path !== undefined) assert.include(journalError.message, path, context)
            assert.deepStrictEqual(counts.snapshot(), before, `${context}: a step ran again`)
            // Nothing stored changed. (A SQL journal refuses to load a status or a kind it does
            // not know at all: that refusal is the check.)
            const reread = yield* Effect.exit(load(runId))
            if (Exit.isSuccess(reread)) assert.deepStrictEqual(rowsOf(reread.value.entries), rows, context)
            else assert.strictEqual((Cause.squash(reread.cause) as Journal.JournalError).reason, "Corrupt", context)
          }
        }))
    }
  })
