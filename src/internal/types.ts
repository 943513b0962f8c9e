/** Small type-level utilities shared by the public signatures. */
import type { ReservedNames } from "./SignalPaths.ts"

/** Flattens an intersection into one object type, so editors show `{ a: A; b: B }`. */
export type Simplify<A> = { [K in keyof A]: A[K] } & {}

/** What `Out` has beyond `Ctx`: the part of a context a segment added. */
export type Added<Out, Ctx> = Simplify<{ readonly [K in Exclude<keyof Out, keyof Ctx>]: Out[K] }>

/** Every key of every member of a union. */
export type KeysOfUnion<U> = U extends unknown ? keyof U : never

/** The types found at key `K` across the members of union `U` that have it. */
export type ValuesAt<U, K extends PropertyKey> = U extends unknown ? K extends keyof U ? U[K] : never : never

/**
 * `unknown` when `Name` is neither in the context nor reserved by a node of the workflow's
 * sequence (`S`); otherwise an object type that no string is assignable to, so passing the name
 * is a compile error that says why.
 */
export type FreshName<Name extends string, Ctx, S = never> = NameCheck<Name, keyof Ctx, ReservedNames<S>>

/**
 * Apart from `FreshName` so that its conditional types see only names: a conditional type with
 * a long context among its type parameters makes the compiler walk that context again.
 */
type NameCheck<Name, Keys, Reserved> = string extends Keys ? unknown // no context known yet (or a record of any key)
  : Name extends Keys ? { readonly "plait: this name is already in the context": Name }
  : Name extends Reserved ? { readonly "plait: this name is already used in this sequence": Name }
  : unknown
