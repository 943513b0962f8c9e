/**
 * How the SQL journal sends a statement: SQL text with named parameters (`:runId`), compiled
 * once, when a dialect binds its statements to a set of tables, into the numbered placeholders
 * of the dialect (`$1`, `?1`); rows come back as objects keyed by column name, never by
 * position, and every statement counts as a round trip of the operation that sent it.
 *
 * Compiling once, rather than building an `effect/sql` template per call, keeps the text of a
 * statement identical from call to call (the driver reuses its prepared statement) and costs
 * nothing per call: on SQLite a statement takes a few microseconds, so per-call compilation
 * would show in `npm run bench -- --only journal`.
 */
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { Journal } from "../../Journal.ts"
import type { RunStore } from "../../RunStore.ts"

/** Every journal and run store operation a statement can belong to (and be counted under). */
export type Operation = Exclude<keyof Journal["Service"] | keyof RunStore["Service"], "maxPayloadBytes" | "subscribe">

/** A row as the driver returns it, read by column name. */
export type Row = Readonly<Record<string, unknown>>

/** A compiled statement: its text in the dialect's placeholders, and which named parameter each one is. */
export interface Statement {
  readonly text: string
  readonly names: ReadonlyArray<string>
}

/** The values of a statement's named parameters, by name; an absent one is bound as SQL `NULL`. */
export type Params = object

// `:name`, but not the `::type` of a Postgres cast, nor a `:` inside a word.
const namedParameter = /(?<![:\w]):([A-Za-z_]\w*)/g

/**
 * Compiles SQL with `:name` parameters into a dialect's numbered placeholders; a name used twice
 * is one parameter.
 */
export const compiler = (placeholder: (position: number) => string) => (text: string): Statement => {
  const names: Array<string> = []
  const compiled = text.replace(namedParameter, (_, name: string) => {
    let index = names.indexOf(name)
    if (index === -1) index = names.push(name) - 1
    return placeholder(index + 1)
  })
  return { text: compiled, names }
}

/** Runs statements for a dialect, counting round trips. */
export interface Exec {
  /** Runs a compiled statement with its named parameters. */
  readonly rows: (
    operation: Operation,
    statement: Statement,
    params: Params
  ) => Effect.Effect<ReadonlyArray<Row>, SqlError>
  /** Runs SQL text with positional parameters, for the statements whose text depends on the call. */
  readonly rowsOf: (
    operation: Operation,
    text: string,
    params: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<Row>, SqlError>
  /** Runs `effect` in one transaction; `BEGIN` and `COMMIT` count as round trips of `operation`. */
  readonly transaction: <A, E>(operation: Operation, effect: Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError>
}

/** Counts round trips by operation (`SqlJournal.RoundTrips`). */
export interface Counter {
  readonly record: (operation: Operation, count: number) => void
}

export const makeExec = (sql: SqlClient.SqlClient, begin: string, counter: Counter | undefined): Exec => {
  // Rows keyed by the columns as the statement names them, whatever the app's client transforms.
  const client = sql.withoutTransforms()
  const rowsOf = (operation: Operation, text: string, params: ReadonlyArray<unknown>) =>
    counter === undefined
      ? client.unsafe<Row>(text, params)
      : Effect.suspend(() => {
        counter.record(operation, 1)
        return client.unsafe<Row>(text, params)
      })
  return {
    rowsOf,
    rows: (operation, statement, params) => {
      const values = new Array<unknown>(statement.names.length)
      for (let i = 0; i < values.length; i++) values[i] = (params as Row)[statement.names[i]!] ?? null
      return rowsOf(operation, statement.text, values)
    },
    transaction: (operation, effect) => {
      const transaction = client.withTransaction(effect).pipe(Effect.provideService(SqlClient.BeginTransaction, begin))
      return counter === undefined
        ? transaction
        : Effect.andThen(Effect.sync(() => counter.record(operation, 2)), transaction)
    }
  }
}
