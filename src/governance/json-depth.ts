// A bound on JSON nesting, checked once where every transport passes (the governance service).
// Proto3 JSON decoding over Connect stops at the same depth; deeper input over REST or binary
// gRPC would otherwise only exhaust the stack later (hashing, redaction, audit serialisation).

export const MAX_JSON_DEPTH = 100;

/** True when `v` has containers nested deeper than `MAX_JSON_DEPTH` (counting from `depth`). */
export function exceedsJsonDepth(v: unknown, depth = 0): boolean {
  if (typeof v !== "object" || v === null) return false;
  if (depth >= MAX_JSON_DEPTH) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (exceedsJsonDepth(x, depth + 1)) return true;
    return false;
  }
  for (const k in v) if (exceedsJsonDepth((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}
