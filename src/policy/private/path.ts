// Paths of problems: `rules[2].conditions.param_gt`, or `param_eq["a.b"]` for a key that is not a
// plain name. Quoting keeps paths unambiguous (a key "a.b" is not the key "b" under "a") and keeps
// hostile keys (newlines, terminal escapes) out of messages.
import { quote } from "./quote.js";

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/;

export function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  if (!PLAIN_KEY.test(key)) return `${parent}[${quote(key)}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

/** The path `childPath` was given, or undefined for the document itself. */
export function parentPath(path: string): string | undefined {
  if (path === "") return undefined;
  // Scans forward: a quoted key may itself contain `.`, `[` or `]`.
  let last = 0;
  let i = 0;
  while (i < path.length) {
    last = i;
    if (path[i] === "[") {
      if (path[i + 1] === '"') {
        i += 2;
        while (i < path.length && path[i] !== '"') i += path[i] === "\\" ? 2 : 1;
        i += 2; // the closing quote and bracket
      } else {
        const close = path.indexOf("]", i);
        i = close < 0 ? path.length : close + 1;
      }
    } else {
      if (path[i] === ".") i++;
      while (i < path.length && path[i] !== "." && path[i] !== "[") i++;
    }
  }
  return path.slice(0, last);
}
