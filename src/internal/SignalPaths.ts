/**
 * Signals at the type level. A workflow's fifth type parameter is a union of `SignalAt` (a
 * signal it waits on, by journal path), `ChildAt` (a child run that may wait, so the parent
 * waits at the child's path) and `Reserved` (a name its top-level sequence holds that never
 * enters the context). Blocks nest their branches' waits under `block/branchKey/` and a
 * `forEach` under `name[key]/`, exactly as the journal paths are built at run time.
 */
import type { ChildAt, Reserved, SignalAt } from "../Workflow.ts"

/** What a workflow whose signals are not known (written `Workflow<I, Ctx, E, R>`) may hold. */
export type AnySignals = SignalAt<string, unknown> | ChildAt<string> | Reserved<never>

/** The waits of `S` moved under `Prefix`; reserved names stay with their own sequence. */
export type NestedSignals<S, Prefix extends string> = S extends SignalAt<infer Path, infer Value>
  ? SignalAt<`${Prefix}${Path}`, Value>
  : S extends ChildAt<infer Path> ? ChildAt<`${Prefix}${Path}`>
  : never

/** A child run at `Name` that waits when its workflow waits on anything. */
export type ChildWaits<Name extends string, S> = [WaitPaths<S>] extends [never] ? never : ChildAt<Name>

/** The names `S` reserves. */
export type ReservedNames<S> = S extends Reserved<infer Name> ? Name : never

/** The journal paths of the signals in `S`. */
export type SignalPaths<S> = S extends SignalAt<infer Path, any> ? Path : never

/** Where a run of a workflow with waits `S` can be suspended: its signals and its waiting children. */
export type WaitPaths<S> = S extends SignalAt<infer Path, any> ? Path : S extends ChildAt<infer Path> ? Path : never

/** The value a signal at `Path` accepts: the value of every signal of `S` whose path matches. */
export type SignalValueAt<S, Path> = S extends SignalAt<infer At, infer Value> ? Path extends At ? Value : never
  : never
