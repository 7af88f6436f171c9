// What PostgreSQL can store exactly as given: text and jsonb refuse NUL characters, and an unpaired
// UTF-16 surrogate would be stored as U+FFFD (text) or refused (jsonb). Every concern that writes
// client data checks it with these before it reaches the database.

const MAX_DEPTH = 100;

/** Why a string cannot be stored as it is, or undefined when it can. */
export function stringProblem(s: string): string | undefined {
  if (s.includes("\0")) return "contains a NUL character (U+0000), which cannot be stored";
  if (!s.isWellFormed()) return "contains an unpaired UTF-16 surrogate (not valid Unicode)";
  return undefined;
}

/** Why a JSON value (its strings and keys, at any depth) cannot be stored as it is, or undefined. */
export function unstorableJson(value: unknown, depth = 0): string | undefined {
  if (typeof value === "string") return stringProblem(value);
  if (typeof value !== "object" || value === null) return undefined;
  if (depth >= MAX_DEPTH) return `it is nested more than ${MAX_DEPTH} levels deep`;
  if (Array.isArray(value)) {
    for (const v of value) {
      const p = unstorableJson(v, depth + 1);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const p = stringProblem(key) ?? unstorableJson((value as Record<string, unknown>)[key], depth + 1);
    if (p !== undefined) return p;
  }
  return undefined;
}
