/**
 * A run's journal as a file: its record, its entries and those of its child runs, as
 * `plait runs export` writes it. Read back into any journal (a memory journal in a test) it is
 * the same run, ready to be replayed or resumed.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { Journal, type JournalEntry, type LoadedRun, type RunInfo } from "../Journal.ts"
import * as RunStatus from "../RunStatus.ts"
import { JournalError, RunNotFound } from "../WorkflowError.ts"
import { isEntryKind } from "../internal/entry.ts"
import * as Formats from "../internal/formats.ts"
import { childRunId, itemOf, itemsKey, templatePath } from "../internal/path.ts"

const Entry = Schema.Struct({
  path: Schema.String,
  kind: Schema.String.check(Schema.makeFilter(isEntryKind, { expected: "a journal entry kind" })),
  seq: Schema.Int,
  value: Schema.String,
  startedAt: Schema.optional(Schema.Number),
  finishedAt: Schema.optional(Schema.Number)
})

/**
 * The paths a run waits on: a list, or (in exports written when the store joined them) the paths
 * joined with ", "; none when absent. Written as a list.
 */
const WaitingFor = Schema.Union([
  Schema.Array(Schema.String),
  Schema.String.pipe(
    Schema.decodeTo(
      Schema.Array(Schema.String),
      SchemaTransformation.transform<ReadonlyArray<string>, string>({
        decode: (joined) => (joined === "" ? [] : joined.split(", ")),
        encode: (paths) => paths.join(", ")
      })
    )
  )
]).pipe(Schema.optionalKey, Schema.withDecodingDefaultTypeKey(Effect.succeed([])))

const Run = Schema.Struct({
  runId: Schema.String,
  workflow: Schema.String,
  fingerprint: Schema.String,
  input: Schema.String,
  priority: Schema.Number,
  parentRunId: Schema.optional(Schema.String),
  status: RunStatus.RunStatus,
  owner: Schema.optional(Schema.String),
  leaseToken: Schema.Number,
  leaseExpiresAt: Schema.optional(Schema.Number),
  wakeAt: Schema.optional(Schema.Number),
  dueAt: Schema.optional(Schema.Number),
  waitingFor: WaitingFor,
  executions: Schema.Number,
  wakeups: Schema.Number,
  cancelRequested: Schema.Boolean,
  error: Schema.optional(Schema.String),
  createdAt: Schema.Number,
  updatedAt: Schema.Number
})

export interface ExportedRun {
  readonly format: "plait/run"
  readonly version: 1
  readonly run: RunInfo
  readonly entries: ReadonlyArray<JournalEntry>
  readonly children: ReadonlyArray<ExportedRun>
}

interface ExportedRunEncoded {
  readonly format: "plait/run"
  readonly version: 1
  readonly run: typeof Run.Encoded
  readonly entries: ReadonlyArray<typeof Entry.Encoded>
  readonly children: ReadonlyArray<ExportedRunEncoded>
}

export const ExportedRun: Schema.Codec<ExportedRun, ExportedRunEncoded> = Schema.Struct({
  format: Schema.Literal("plait/run"),
  version: Schema.Literal(1),
  run: Run,
  entries: Schema.Array(Entry),
  children: Schema.Array(Schema.suspend((): Schema.Codec<ExportedRun, ExportedRunEncoded> => ExportedRun))
}) as any

const decodeExport = Schema.decodeUnknownExit(ExportedRun)
const encodeExport = Schema.encodeUnknownExit(ExportedRun)

/** A run and its children as stored, in the export format. */
export const exportRun = (runId: string): Effect.Effect<ExportedRun, RunNotFound | JournalError, Journal> =>
  Effect.gen(function*() {
    const journal = yield* Journal
    const load = (id: string): Effect.Effect<Option.Option<ExportedRun>, JournalError> =>
      Effect.flatMap(journal.load(id), (loaded) =>
        Option.isNone(loaded)
          ? Effect.succeed(Option.none())
          : Effect.map(
            Effect.forEach(childRunIds(loaded.value), load),
            (children): Option.Option<ExportedRun> =>
              Option.some({
                format: "plait/run",
                version: 1,
                run: withoutUndefined(loaded.value.run),
                entries: loaded.value.entries.map(withoutUndefined),
                children: children.flatMap((child) => Option.isSome(child) ? [child.value] : [])
              })
          ))
    const exported = yield* load(runId)
    if (Option.isNone(exported)) return yield* new RunNotFound({ runId })
    return exported.value
  })

/** The export as JSON text, two spaces deep: meant to be read and committed beside a test. */
export const exportText = (exported: ExportedRun): string => {
  const encoded = encodeExport(exported)
  if (Exit.isFailure(encoded)) throw Cause.squash(encoded.cause)
  return `${JSON.stringify(encoded.value, null, 2)}\n`
}

/**
 * Writes an export into the journal of the context: each run created with its record, its
 * entries appended, and its status set as it was (a `running` run comes back `queued`, since
 * nothing executes it any more). Children first, so a parent never wakes for a child it lacks.
 * A run of that id already in the journal is refused as a conflict.
 */
export const importRun = (exported: unknown): Effect.Effect<ExportedRun, JournalError, Journal> =>
  Effect.gen(function*() {
    const decoded = decodeExport(exported)
    if (Exit.isFailure(decoded)) {
      return yield* new JournalError({
        reason: "Corrupt",
        runId: runIdOf(exported),
        detail: `not a plait run export: ${String(Cause.squash(decoded.cause))}`
      })
    }
    yield* writeRun(decoded.value)
    return decoded.value
  })

const writeRun = (exported: ExportedRun): Effect.Effect<void, JournalError, Journal> =>
  Effect.gen(function*() {
    for (const child of exported.children) yield* writeRun(child)
    const journal = yield* Journal
    const { run } = exported
    const acquired = yield* journal.acquire(
      {
        runId: run.runId,
        workflow: run.workflow,
        fingerprint: run.fingerprint,
        input: run.input,
        priority: run.priority,
        parentRunId: run.parentRunId
      },
      { owner: "plait/testing import", leaseMs: 60_000, anyFingerprint: true }
    )
    if (!acquired.created || acquired.lease === undefined) {
      return yield* new JournalError({
        reason: "Conflict",
        runId: run.runId,
        detail: "the journal already has a run of this id; import into a journal without it"
      })
    }
    yield* Effect.mapError(journal.append(acquired.lease, exported.entries), (error) =>
      error instanceof JournalError
        ? error
        : new JournalError({ reason: "Conflict", runId: run.runId, detail: error.message }))
    yield* Effect.mapError(
      journal.release(acquired.lease, {
        status: run.status === "running" ? "queued" : run.status,
        error: run.error,
        wakeAt: run.wakeAt,
        waitingFor: run.waitingFor
      }),
      (error) =>
        error instanceof JournalError
          ? error
          : new JournalError({ reason: "Conflict", runId: run.runId, detail: error.message })
    )
  })

/**
 * The ids of the child runs a run may have started: `<run id>/<path>` for each `child` node of
 * its outline, a `forEach` item's under each item key the run's journal names.
 */
const childRunIds = ({ entries, run }: LoadedRun): ReadonlyArray<string> => {
  let outline: ReadonlyArray<string>
  try {
    outline = JSON.parse(run.fingerprint) as ReadonlyArray<string>
  } catch {
    return []
  }
  const itemPrefixes = new Set<string>()
  const addPrefixes = (path: string) => {
    for (let item = itemOf(path); item !== undefined; item = itemOf(item.forEach)) itemPrefixes.add(item.path)
  }
  for (const entry of entries) {
    addPrefixes(entry.path)
    if (entry.kind === "items") {
      // A corrupt items entry names no item; the run's own replay reports it.
      const items = Formats.items.decode(run.runId, entry.path, entry.value)
      if (Exit.isSuccess(items)) { for (const item of items.value) addPrefixes(item) }
    }
  }
  const ids: Array<string> = []
  for (const line of outline) {
    if (typeof line !== "string" || !line.endsWith(" child")) continue
    const pattern = line.slice(0, line.length - " child".length)
    const lastItem = pattern.lastIndexOf(itemsKey)
    if (lastItem < 0) {
      ids.push(childRunId(run.runId, pattern))
      continue
    }
    const itemPattern = pattern.slice(0, lastItem + itemsKey.length)
    const rest = pattern.slice(lastItem + itemsKey.length)
    for (const prefix of itemPrefixes) {
      // The outline writes an item's key as `[]`: `lines[3]` is `lines[]` there.
      if (templatePath(prefix) === itemPattern) ids.push(childRunId(run.runId, `${prefix}${rest}`))
    }
  }
  return ids
}

const runIdOf = (exported: unknown): string => {
  const run = typeof exported === "object" && exported !== null && "run" in exported ? exported.run : undefined
  const runId = typeof run === "object" && run !== null && "runId" in run ? run.runId : undefined
  return typeof runId === "string" ? runId : "(unknown)"
}

/** A record without its `undefined` fields: the export's optional fields are absent, not undefined. */
const withoutUndefined = <A extends object>(value: A): A =>
  Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as A
