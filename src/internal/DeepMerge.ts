/**
 * The type of a `"deep"` parallel merge, following the runtime: branch deltas merge key by key
 * in declaration order; two plain objects at the same key merge recursively, anything else is
 * replaced by the value of the branch declared later.
 *
 * The type cannot see prototypes or declaration order, so at a key held by several branches:
 * - one type everywhere: that type (merging equal shapes, or replacing a value by one of its
 *   own type, gives that type back);
 * - each branch a single object type that is not an array, function, date, map or set: they
 *   merge recursively;
 * - otherwise (a scalar, an array, a union such as `Option` or a tagged result): the union of
 *   the branch types.
 *
 * A key held by one branch keeps that branch's type untouched, so an `Option`, a class instance
 * or the tagged union a `race` or `branch` adds passes through as it is.
 */
import type { KeysOfUnion, ValuesAt } from "./types.ts"

type Opaque =
  | ReadonlyArray<unknown>
  | ((...args: Array<any>) => unknown)
  | Date
  | ReadonlyMap<unknown, unknown>
  | ReadonlySet<unknown>
  | Uint8Array

type IsUnion<A, All = A> = A extends unknown ? [All] extends [A] ? false : true : never

/** `true` unless `V` is one object type the runtime would merge. */
type Unmergeable<V> = [V] extends [object] ? [V] extends [Opaque] ? true : IsUnion<V> : true

/** `true` when some member of `U` holds at `K` a value that cannot merge. */
type AnyUnmergeable<U, K extends PropertyKey> = U extends unknown
  ? K extends keyof U ? Unmergeable<U[K]> extends false ? never : true : never
  : never

type MergeAt<U, K extends PropertyKey, V = ValuesAt<U, K>> = IsUnion<V> extends false ? V
  : [AnyUnmergeable<U, K>] extends [never] ? DeepMerge<V>
  : V

/** Deep merge of the members of the union `U`. */
export type DeepMerge<U> = { readonly [K in KeysOfUnion<U>]: MergeAt<U, K> }

/** Shallow merge of the members of `U` where conflicting keys get the union of their types. */
export type LastWins<U> = { readonly [K in KeysOfUnion<U>]: ValuesAt<U, K> }
