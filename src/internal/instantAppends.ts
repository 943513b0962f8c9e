/**
 * Journals whose `append` finishes in process without waiting for any I/O (the memory journal).
 * A bounded `parallel` or `forEach` over one keeps each branch's slot until its step's completion
 * has committed, instead of starting the next branch meanwhile (pipelining): with no write
 * latency to hide, pipelining would only cost CPU (`npm run bench -- --only memory`).
 *
 * A trait of an implementation, not of the journal contract, so it is not part of the public
 * service: an own property under a symbol, which a wrapper made by spreading a journal
 * (`{ ...journal, append }`) keeps, and which one that sets it to `false` gives up.
 */
export const InstantAppends: unique symbol = Symbol.for("plait/InstantAppends")

/** Marks `journal` as one whose appends finish without I/O; returns it. */
export const markInstantAppends = <J extends object>(journal: J): J =>
  Object.defineProperty(journal, InstantAppends, { value: true, enumerable: true })

/** Whether `journal` was marked by {@link markInstantAppends} (and the mark was kept). */
export const hasInstantAppends = (journal: object): boolean =>
  (journal as { readonly [InstantAppends]?: boolean })[InstantAppends] === true
