/** The inverse of a one-to-one lookup table (name <-> enum value), so each mapping is written once. */
export function invert<K extends PropertyKey, V extends PropertyKey>(
  table: Record<K, V>,
): Partial<Record<V, K>> {
  const out: Partial<Record<V, K>> = {};
  for (const key of Object.keys(table) as K[]) out[table[key]] = key;
  return out;
}
