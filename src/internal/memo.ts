/** Caches a derivation per object (a step definition, a list of case keys) for its lifetime. */
export const memoizeByIdentity = <K extends object, V>(derive: (key: K) => V): (key: K) => V => {
  const cache = new WeakMap<K, V>()
  return (key) => {
    let value = cache.get(key)
    if (value === undefined) {
      value = derive(key)
      cache.set(key, value)
    }
    return value
  }
}
