// Redaction of secrets in action params before they are stored (DESIGN §3.1, §5).
// A key is secret when its name contains one of the markers, case-insensitively, at any depth,
// inside arrays too (`tokens_used` and `X-Authorization` are redacted). Values under a secret key
// are replaced whole, whatever their type.

export const REDACTED = "[REDACTED]";

export const SECRET_KEY_MARKERS: readonly string[] = [
  "password",
  "secret",
  "token",
  "api_key",
  "apikey",
  "authorization",
  "credential",
  "private_key",
  "access_key",
];

export function isSecretKey(key: string): boolean {
  const lower = key.toLowerCase();
  for (const marker of SECRET_KEY_MARKERS) {
    if (lower.includes(marker)) return true;
  }
  return false;
}

/** A redacted deep copy of `value`; the input is never modified. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const v = isSecretKey(key) ? REDACTED : redact(inner);
      // `out.__proto__ = v` would set the prototype and drop the key: the audit row would then
      // differ from the params the policy saw (JSON.parse makes `__proto__` an own key).
      if (key === "__proto__")
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
    }
    return out;
  }
  return value;
}

/** Redacts an action's params object. */
export function redactParams(params: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return redact(params) as Record<string, unknown>;
}
