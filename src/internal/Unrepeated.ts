/**
 * A segment applied to a workflow must not repeat a name of the workflow's sequence: two nodes
 * with one name would share a journal path. The segment's own `name` argument is already checked
 * against the context it was inferred for (`FreshName`); this check, made when the segment is
 * applied, catches what that cannot see: names that never enter the context (reserved by a
 * `sleep` or a `"deep"`/`"lastWins"` block), and the keys a `ctx` annotation narrower than the
 * real context leaves out.
 */
import type { ReservedNames } from "./SignalPaths.ts"

/**
 * `unknown` when the names a segment adds (`Names`), less those its own `Ctx` already rejects,
 * are free in the context `Actual` and the reserved names of `S`; otherwise an object type that
 * no workflow is assignable to, naming the repeated names.
 */
export type Unrepeated<Names, Ctx, Actual, S> = Repeated<Exclude<Names, keyof Ctx>, Actual, S> extends infer Taken
  ? [Taken] extends [never] ? unknown : { readonly "plait: this name is already used in this sequence": Taken }
  : never

/** Names that are not literals come from a segment that failed to compile already: no second error. */
type Repeated<Names, Actual, S> = string extends Names ? never : Names & (keyof Actual | ReservedNames<S>)
