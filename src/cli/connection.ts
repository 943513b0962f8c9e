/**
 * Which database the CLI and the standalone dashboard talk to: `--sqlite FILE` or `--pg URL`, or
 * the environment (`PLAIT_SQLITE`, `PLAIT_PG_URL`), with `--table-prefix` (`PLAIT_TABLE_PREFIX`).
 * A Postgres URL is held as `Redacted` from the moment it is read, and every message that could
 * quote it is scrubbed of its password, so no output of the CLI ever shows one. A password given
 * on the command line is still seen by other users of the machine (`ps`) and kept in the shell's
 * history, so the CLI says so and points to `PLAIT_PG_URL`.
 *
 * A connection that fails says why, in words: the password or role was refused, nothing listens
 * at the address, the host name does not resolve, the server did not answer in time. An optional
 * peer dependency that is not installed says what to install.
 */
import * as Cause from "effect/Cause"
import * as CliError from "effect/cli/CliError"
import * as Console from "effect/Console"
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
  if (pg !== undefined) {
    const target: Target = { _tag: "Pg", url: pg, tablePrefix }
    return hasPassword(pg)
      ? Effect.as(
        Console.error(
          "warning: a password in --pg is seen by other users of this machine (ps) and kept in your shell's history; set PLAIT_PG_URL instead"
        ),
        target
      )
      : Effect.succeed(target)
  }
  const envSqlite = fromEnv("PLAIT_SQLITE")
  const envPg = fromEnv("PLAIT_PG_URL")
  if (envPg !== undefined) return Effect.succeed({ _tag: "Pg", url: Redacted.make(envPg), tablePrefix })
  if (envSqlite !== undefined) return Effect.succeed({ _tag: "Sqlite", filename: envSqlite, tablePrefix })
  return userError("no database: pass --sqlite FILE or --pg URL (or set PLAIT_SQLITE or PLAIT_PG_URL)")
}

const hasPassword = (url: Redacted.Redacted<string>): boolean => {
  try {
    return new URL(Redacted.value(url)).password !== ""
  } catch {
    return false
  }
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
      Effect.tryPromise({
        try: () => import("../PgJournal.ts"),
        catch: (error) =>
          isMissingPackage(error, "@effect/sql-pg")
            ? missingPeer("@effect/sql-pg", "Postgres journals")
            : new CliError.UserError({
              cause: error,
              userMessage: `cannot load the Postgres journal: ${String(error)}`
            })
      }),
      (PgJournal) =>
        PgJournal.layer({ url: target.url, tablePrefix: target.tablePrefix, connectTimeout: connectTimeoutMs })
    ))
  return Layer.provideMerge(Engine.layer, journal).pipe(
    Layer.catchCause((cause) => {
      const error = Cause.squash(cause)
      return Layer.effectContext(
        error instanceof CliError.UserError
          ? Effect.fail(error)
          : userError(scrub(target, `cannot open the ${describeTarget(target)}: ${whyItFailed(target, error)}`))
      )
    })
  )
}

/** How long the CLI waits for Postgres to answer before it says so. */
const connectTimeoutMs = 10_000

/** The errors a failure carries, outermost first: the driver's own error is at the bottom. */
const causes = (error: unknown): ReadonlyArray<{ readonly code?: unknown; readonly message?: unknown }> => {
  const out: Array<{ readonly code?: unknown; readonly message?: unknown }> = []
  for (let at: unknown = error; typeof at === "object" && at !== null && out.length < 8;) {
    out.push(at as { code?: unknown; message?: unknown })
    const next = (at as { cause?: unknown; reason?: unknown }).cause ?? (at as { reason?: unknown }).reason
    at = next === at ? undefined : next
  }
  return out
}

/**
 * The cause of a failed connection in words: what Postgres refused (with its own message), or
 * what the network said, by the driver's error codes; anything else as the driver put it.
 */
export const whyItFailed = (target: Target, error: unknown): string => {
  const chain = causes(error)
  const code = (wanted: ReadonlyArray<string>) => chain.find((link) => wanted.includes(String(link.code)))
  const where = target._tag === "Pg" ? addressOf(target.url) : ""
  const said = (link: { readonly message?: unknown }) => String(link.message)
  const auth = code(["28P01", "28000"])
  if (auth !== undefined) return `authentication failed: ${said(auth)}`
  const database = code(["3D000"])
  if (database !== undefined) return `no such database: ${said(database)}`
  if (code(["ECONNREFUSED"]) !== undefined) {
    return `connection refused: nothing listens at ${where} (is Postgres running, and on this port?)`
  }
  const unknown = code(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME"])
  if (unknown !== undefined) return `unknown host: ${where.replace(/:\d+$/, "")} does not resolve (${said(unknown)})`
  if (
    code(["ETIMEDOUT"]) !== undefined ||
    chain.some((link) => /timed out|timeout/i.test(String(link.message)))
  ) {
    return `timeout: ${where} did not answer within ${connectTimeoutMs / 1000} seconds`
  }
  const unreachable = code(["EHOSTUNREACH", "ENETUNREACH"])
  if (unreachable !== undefined) return `host unreachable: ${said(unreachable)}`
  const messages = [...new Set(chain.map((link) => link.message).filter((m): m is string => typeof m === "string"))]
  return messages.length === 0 ? String(error) : messages.join(": ")
}

const addressOf = (url: Redacted.Redacted<string>): string => {
  try {
    const parsed = new URL(Redacted.value(url))
    return `${parsed.hostname === "" ? "localhost" : parsed.hostname}:${parsed.port === "" ? "5432" : parsed.port}`
  } catch {
    return "(its address)"
  }
}

/** Node could not find `name` (a package a module imports), as opposed to failing inside it. */
export const isMissingPackage = (error: unknown, name: string): boolean =>
  (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes(name)

/** An optional peer dependency is not installed: what it is for, and what to run. */
export const missingPeer = (name: string, purpose: string): CliError.UserError => {
  const message =
    `${purpose} need ${name}, an optional peer dependency of plait that is not installed: npm install ${name}`
  return new CliError.UserError({ cause: message, userMessage: message })
}

export const userError = (message: string): Effect.Effect<never, CliError.UserError> =>
  Effect.fail(new CliError.UserError({ cause: message, userMessage: message }))
