// Copies of user data whose keys are defined, never assigned: `obj[key] = v` with the key
// "__proto__" would replace the object's prototype instead of adding a key, so a policy's
// `{__proto__: 1}` would silently lose its only entry (and `{__proto__: {...}}` would graft
// inherited properties onto it).

/** Adds `key` as an ordinary own, enumerable property, whatever the key. */
export function defineOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A deep copy of JSON data (already shape-checked: plain, finite, bounded depth). */
export function plainCopy<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(plainCopy) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value))
    defineOwn(out, key, plainCopy((value as Record<string, unknown>)[key]));
  return out as T;
}
