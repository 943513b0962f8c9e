/**
 * How parallel branch deltas become one context delta.
 */
const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== "object") return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Deep merge: plain objects merge key by key; anything else is replaced by the later value. */
export const deepMerge = (
  target: Record<string, unknown>,
  source: Record<string, unknown>
): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...target }
  for (const key of Object.keys(source)) {
    const before = out[key]
    const after = source[key]
    out[key] = isPlainObject(before) && isPlainObject(after) ? deepMerge(before, after) : after
  }
  return out
}

/** Merges `deltas` in the given order with `combine`. */
export const mergeAll = (
  deltas: Iterable<Record<string, unknown>>,
  combine: (a: Record<string, unknown>, b: Record<string, unknown>) => Record<string, unknown>
): Record<string, unknown> => {
  let out: Record<string, unknown> = {}
  for (const delta of deltas) out = combine(out, delta)
  return out
}

export const shallowMerge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> =>
  Object.assign(a, b)
