/**
 * The type of a `"deep"` parallel merge, following the runtime: branch deltas merge key by key
 * in declaration order; two plain objects at the same key merge recursively, anything else is
 * replaced by the value of the branch declared later.
 *
 * The type cannot see declaration order, so at a key held by several branches:
 * - one type everywhere: that type (merging equal shapes, or replacing a value by one of its
 *   own type, gives that type back);
 * - each branch a single object type that is not an array, function, date, map or set: they
 *   merge recursively;
 * - otherwise (a scalar against another type, an array, a union such as `Option`): a conflict.
 *   At run time the branch declared later always wins, which the type cannot tell, so the block
 *   does not compile: `MergeConflicts` names the keys. (The merged type there is the union of
 *   the branch types, so nothing else fails because of it.)
 *
 * A key held by one branch keeps that branch's type untouched, so an `Option`, a class instance
 * or the tagged union a `race` or `branch` adds passes through as it is.
 *
 * The results are `Simplify`d so editors show them as plain object types, not as `DeepMerge<...>`.
 */
import type { KeysOfUnion, Simplify, ValuesAt } from "./types.ts"

type Opaque =
  | ReadonlyArray<unknown>
  | ((...args: Array<any>) => unknown)
  | Date
  | ReadonlyMap<unknown, unknown>
  | ReadonlySet<unknown>
  | Uint8Array

type IsUnion<A, All = A> = A extends unknown ? [All] extends [A] ? false : true : never

type Same<A, B> = [A] extends [B] ? [B] extends [A] ? true : false : false

/** `true` when every member of `U` that holds `K` holds exactly `V` there. */
type SameEverywhere<U, K extends PropertyKey, V> = false extends
  (U extends unknown ? K extends keyof U ? Same<U[K], V> : true : never) ? false
  : true

/** `true` unless `V` is one object type the runtime would merge. */
type Unmergeable<V> = [V] extends [object] ? [V] extends [Opaque] ? true : IsUnion<V> : true

/** `true` when some member of `U` holds at `K` a value that cannot merge. */
type AnyUnmergeable<U, K extends PropertyKey> = U extends unknown
  ? K extends keyof U ? Unmergeable<U[K]> extends false ? never : true : never
  : never

type MergeAt<U, K extends PropertyKey, V = ValuesAt<U, K>> = SameEverywhere<U, K, V> extends true ? V
  : [AnyUnmergeable<U, K>] extends [never] ? DeepMerge<V>
  : V

/** Deep merge of the members of the union `U`. */
export type DeepMerge<U> = Simplify<{ readonly [K in KeysOfUnion<U>]: MergeAt<U, K> }>

/** Shallow merge of the members of `U` where conflicting keys get the union of their types. */
export type LastWins<U> = Simplify<{ readonly [K in KeysOfUnion<U>]: ValuesAt<U, K> }>

/**
 * The keys (dotted paths into merged records) at which members of `U` hold types that neither
 * agree nor merge; `never` when the deep merge of `U` is exact.
 */
export type MergeConflicts<U, Path extends string = ""> = {
  [K in KeysOfUnion<U>]: SameEverywhere<U, K, ValuesAt<U, K>> extends true ? never
    : [AnyUnmergeable<U, K>] extends [never] ? MergeConflicts<ValuesAt<U, K>, `${Path}${K & string}.`>
    : `${Path}${K & string}`
}[KeysOfUnion<U>]

/**
 * `unknown` when the members of `U` deep-merge exactly; otherwise an object type no block name
 * is assignable to, naming the conflicting keys, so the block does not compile.
 */
export type DeepMergeable<U> = MergeConflicts<U> extends infer Keys ? [Keys] extends [never] ? unknown
  : { readonly "plait: deep-merged branches add these keys with types that do not merge": Keys }
  : never
