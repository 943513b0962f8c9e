/**
 * Which database the CLI and the standalone dashboard talk to: `--sqlite FILE` or `--pg URL`, or
 * the environment (`PLAIT_SQLITE`, `PLAIT_PG_URL`), with `--table-prefix` (`PLAIT_TABLE_PREFIX`).
 * A Postgres URL is held as `Redacted` from the moment it is read, and every message that could
 * quote it is scrubbed of its password, so no output of the CLI ever shows one.
 */
import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import { Engine, type Journal, type RunStore, SqliteJournal } from "../index.ts"

export type Target =
  | { readonly _tag: "Sqlite"; readonly filename: string; readonly tablePrefix: string | undefined }
  | { readonly _tag: "Pg"; readonly url: Redacted.Redacted<string>; readonly tablePrefix: string | undefined }

export interface ConnectionFlags {
  readonly sqlite: Option.Option<string>
  readonly pg: Option.Option<Redacted.Redacted<string>>
  readonly tablePrefix: Option.Option<string>
}

const fromEnv = (name: string): string | undefined => {
  const value = process.env[name]
  return value === undefined || value === "" ? undefined : value
}

/** Flags win over the environment; naming both databases is refused rather than guessed. */
export const targetOf = (flags: ConnectionFlags): Effect.Effect<Target, CliError.UserError> => {
  const tablePrefix = Option.getOrUndefined(flags.tablePrefix) ?? fromEnv("PLAIT_TABLE_PREFIX")
  const sqlite = Option.getOrUndefined(flags.sqlite)
  const pg = Option.getOrUndefined(flags.pg)
  if (sqlite !== undefined && pg !== undefined) return userError("give either --sqlite or --pg, not both")
  if (sqlite !== undefined) return Effect.succeed({ _tag: "Sqlite", filename: sqlite, tablePrefix })
  if (pg !== undefined) return Effect.succeed({ _tag: "Pg", url: pg, tablePrefix })
  const envSqlite = fromEnv("PLAIT_SQLITE")
  const envPg = fromEnv("PLAIT_PG_URL")
  if (envPg !== undefined) return Effect.succeed({ _tag: "Pg", url: Redacted.make(envPg), tablePrefix })
  if (envSqlite !== undefined) return Effect.succeed({ _tag: "Sqlite", filename: envSqlite, tablePrefix })
  return userError("no database: pass --sqlite FILE or --pg URL (or set PLAIT_SQLITE or PLAIT_PG_URL)")
}

/** The URL with its password replaced by `***`: what the CLI may print. */
export const safeUrl = (url: Redacted.Redacted<string>): string => {
  const raw = Redacted.value(url)
  try {
    const parsed = new URL(raw)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(a Postgres URL that does not parse)"
  }
}

/** `text` with the target's password (raw and URL-encoded) replaced by `***`. */
export const scrub = (target: Target, text: string): string => {
  if (target._tag !== "Pg") return text
  const raw = Redacted.value(target.url)
  let password = ""
  try {
    password = new URL(raw).password
  } catch {
    return text.split(raw).join("(the Postgres URL)")
  }
  if (password === "") return text
  const forms = new Set([password, decodeURIComponent(password)])
  let out = text.split(raw).join(safeUrl(target.url))
  for (const form of forms) out = out.split(form).join("***")
  return out
}

export const describeTarget = (target: Target): string =>
  target._tag === "Sqlite" ? `SQLite file ${target.filename}` : `Postgres at ${safeUrl(target.url)}`

/**
 * The journal, run store and engine over the target. An SQLite file must exist (the CLI inspects
 * a journal, it does not create one); a database that cannot be reached is a clear error, with
 * the password scrubbed from whatever the driver said.
 */
export const backendOf = (
  target: Target
): Layer.Layer<Engine.Engine | Journal.Journal | RunStore.RunStore, CliError.UserError> => {
  const journal: Layer.Layer<Journal.Journal | RunStore.RunStore, unknown> = target._tag === "Sqlite"
    ? Layer.unwrap(Effect.suspend(() =>
      fs.existsSync(target.filename)
        ? Effect.succeed(SqliteJournal.layer({ filename: target.filename, tablePrefix: target.tablePrefix }))
        : userError(`no such SQLite file: ${target.filename}`)
    ))
    // Loaded only for Postgres: `@effect/sql-pg` is an optional peer a SQLite user may not have.
    : Layer.unwrap(Effect.map(
      Effect.promise(() => import("../PgJournal.ts")),
      (PgJournal) => PgJournal.layer({ url: target.url, tablePrefix: target.tablePrefix })
    ))
  return Layer.provideMerge(Engine.layer, journal).pipe(
    Layer.catchCause((cause) => {
      const error = Cause.squash(cause)
      return Layer.effectContext(
        error instanceof CliError.UserError
          ? Effect.fail(error)
          : userError(scrub(target, `cannot open the ${describeTarget(target)}: ${causeText(error)}`))
      )
    })
  )
}

const causeText = (error: unknown): string => {
  if (error instanceof Error) {
    const inner = (error as { cause?: unknown }).cause
    return inner instanceof Error && inner.message !== error.message
      ? `${error.message} (${inner.message})`
      : error.message
  }
  return String(error)
}

export const userError = (message: string): Effect.Effect<never, CliError.UserError> =>
  Effect.fail(new CliError.UserError({ cause: message, userMessage: message }))
