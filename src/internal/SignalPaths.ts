/**
 * Signals at the type level. A workflow's fifth type parameter is a union of `SignalAt` (a
 * signal it waits on, by journal path) and `Reserved` (a name its top-level sequence holds that
 * never enters the context). Blocks nest their branches' signals under `block/branchKey/` and a
 * `forEach` under `name[key]/`, exactly as the journal paths are built at run time.
 */
import type { Reserved, SignalAt } from "../Workflow.ts"

/** What a workflow whose signals are not known (written `Workflow<I, Ctx, E, R>`) may hold. */
export type AnySignals = SignalAt<string, unknown> | Reserved<never>

/** The signals of `S` moved under `Prefix`; reserved names stay with their own sequence. */
export type NestedSignals<S, Prefix extends string> = S extends SignalAt<infer Path, infer Value>
  ? SignalAt<`${Prefix}${Path}`, Value>
  : never

/** The names `S` reserves. */
export type ReservedNames<S> = S extends Reserved<infer Name> ? Name : never

/** The journal paths of the signals in `S`. */
export type SignalPaths<S> = S extends SignalAt<infer Path, any> ? Path : never

/** The value a signal at `Path` accepts: the value of every signal of `S` whose path matches. */
export type SignalValueAt<S, Path> = S extends SignalAt<infer At, infer Value> ? Path extends At ? Value : never
  : never
