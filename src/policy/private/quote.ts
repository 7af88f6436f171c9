// Quoting of user-written text in problem messages, paths and CLI output. A policy is hostile input:
// a rule name or key holding "\n", ESC or a bidi override could forge output lines, drive a terminal
// or reorder what a reviewer reads. Such code points are shown as \uXXXX escapes instead.

/**
 * C0 controls, DEL and C1 controls, the Unicode line/paragraph separators, the bidi embeddings,
 * overrides, isolates and marks, and lone surrogates (which render as replacement characters).
 */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const escapeOne = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** `text` with every unsafe code point as a `\uXXXX` escape (backslashes are left alone). */
export function escapeUnsafe(text: string): string {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text) ? text.replace(UNSAFE, escapeOne) : text;
}

/** A JSON string literal of `text` that is also safe to print (see `escapeUnsafe`). */
export function quote(text: string): string {
  return escapeUnsafe(JSON.stringify(text));
}

/** `quote`, cut to `max` code points (with the full length said): a value is echoed, not dumped. */
export function quoteShort(text: string, max = 80): string {
  if (text.length <= max) return quote(text);
  const points = Array.from(text);
  if (points.length <= max) return quote(text);
  return `${quote(points.slice(0, max).join(""))}… (${points.length} characters)`;
}
