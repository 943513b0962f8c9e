/**
 * The type of a `"deep"` parallel merge. Branch deltas are merged key by key; where every
 * branch that has a key holds a plain object there, those objects merge recursively, otherwise
 * the key's type is the union of what the branches put there (the runtime keeps the value of
 * the branch declared last, which the type cannot know).
 */
import type { KeysOfUnion, ValuesAt } from "./types.ts"

type Opaque = ReadonlyArray<unknown> | ((...args: Array<any>) => unknown) | Date | Map<unknown, unknown> | Set<unknown>

type MergeValues<V> = [V] extends [object] ? [V] extends [Opaque] ? V : DeepMerge<V> : V

/** Deep merge of the members of the union `U`. */
export type DeepMerge<U> = { readonly [K in KeysOfUnion<U>]: MergeValues<ValuesAt<U, K>> }

/** Shallow merge of the members of `U` where conflicting keys get the union of their types. */
export type LastWins<U> = { readonly [K in KeysOfUnion<U>]: ValuesAt<U, K> }
