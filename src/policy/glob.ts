// Shell-style globs with Python `fnmatch.fnmatchcase` semantics, compiled once per policy.
//
// Whole string, case-sensitive; `*` matches any run of characters (including `/`, `.` and newlines),
// `?` exactly one character, `[abc]` `[a-z]` `[!abc]` one character of (or not of) a set. Nothing
// else is special: `{}`, `()`, `+`, `@`, `!` outside a class and `\` are literal characters; `**` is
// the same as `*`; a `[` without a closing `]` is a literal `[`. Characters are code points, as in
// Python. The class grammar (ranges, a leading `]`, empty and reversed ranges) follows CPython
// 3.11's `fnmatch.translate`, which the property tests use as the oracle.
//
// Matching never backtracks catastrophically: a pattern is split at its stars into fixed-length
// pieces, and each piece is placed at its leftmost possible position (what CPython's atomic
// `(?>.*?piece)` does), so the cost is O(length of text × length of pattern) at worst.

import { escapeUnsafe } from "./private/quote.js";

/** One element of a glob, after parsing. */
export type GlobToken =
  | { readonly kind: "star" }
  | { readonly kind: "literal"; readonly char: string }
  | { readonly kind: "any" }
  | {
      readonly kind: "class";
      readonly negated: boolean;
      /** Inclusive code point ranges; a single character is `[c, c]`. */
      readonly ranges: readonly (readonly [number, number])[];
    };

/** A compiled glob: a matcher plus what the rule index needs to know about the pattern. */
export interface Glob {
  readonly source: string;
  /** True when the pattern matches every string (`*`, `**`, ...). */
  readonly matchesAll: boolean;
  /** The pattern is a plain string with no wildcard: it matches only itself. */
  readonly exact: string | undefined;
  /** Literal characters before the first wildcard (the whole string when `exact`). */
  readonly prefix: string;
  /** Literal characters after the last wildcard ("" when the pattern ends with a wildcard or is exact). */
  readonly suffix: string;
  /**
   * `all` (`*`), `exact` (no wildcard), `prefix` (`abc*`), `suffix` (`*abc`) or `other`. For the
   * first four, knowing the prefix/suffix matched proves the whole pattern matched.
   */
  readonly shape: "all" | "exact" | "prefix" | "suffix" | "other";
  readonly test: (text: string) => boolean;
}

/** Splits a glob into tokens exactly as CPython's `fnmatch.translate` does (stars collapsed). */
export function parseGlob(pattern: string): GlobToken[] {
  const pat = Array.from(pattern); // code points
  const n = pat.length;
  const out: GlobToken[] = [];
  let i = 0;
  while (i < n) {
    const c = pat[i]!;
    i++;
    if (c === "*") {
      if (out.length === 0 || out[out.length - 1]!.kind !== "star") out.push({ kind: "star" });
    } else if (c === "?") {
      out.push({ kind: "any" });
    } else if (c === "[") {
      let j = i;
      if (j < n && pat[j] === "!") j++;
      if (j < n && pat[j] === "]") j++;
      while (j < n && pat[j] !== "]") j++;
      if (j >= n) {
        out.push({ kind: "literal", char: "[" });
        continue;
      }
      out.push(parseClass(pat, i, j));
      i = j + 1;
    } else {
      out.push({ kind: "literal", char: c });
    }
  }
  return out;
}

/** The set between `[` (exclusive, index `start`) and `]` (index `end`). */
function parseClass(pat: readonly string[], start: number, end: number): GlobToken {
  const negated = pat[start] === "!";
  const cp = (ch: string): number => ch.codePointAt(0)!;
  const body = pat.slice(start, end);
  if (!body.includes("-")) {
    const chars = negated ? body.slice(1) : body;
    return { kind: "class", negated, ranges: chars.map((ch) => [cp(ch), cp(ch)] as const) };
  }
  // Ranges: split at the hyphens that form ranges (CPython's chunk algorithm, verbatim).
  const chunks: string[][] = [];
  let i = start;
  let k = negated ? start + 2 : start + 1;
  for (;;) {
    let found = -1;
    for (let m = k; m < end; m++) {
      if (pat[m] === "-") {
        found = m;
        break;
      }
    }
    if (found < 0) break;
    chunks.push(pat.slice(i, found));
    i = found + 1;
    k = found + 3;
  }
  const last = pat.slice(i, end);
  if (last.length > 0) chunks.push(last);
  else chunks[chunks.length - 1]!.push("-");
  // Remove empty ranges (CPython: "invalid in RE").
  for (let m = chunks.length - 1; m > 0; m--) {
    const prev = chunks[m - 1]!;
    const cur = chunks[m]!;
    // Code points, as CPython compares str characters (UTF-16 order would call U+FFFF > U+1F600).
    if (cp(prev[prev.length - 1]!) > cp(cur[0]!)) {
      chunks[m - 1] = [...prev.slice(0, -1), ...cur.slice(1)];
      chunks.splice(m, 1);
    }
  }
  if (negated) chunks[0] = chunks[0]!.slice(1);
  const first = chunks[0]!;
  if (chunks.length === 1 && first.length === 0) {
    // `[z-a]`: never matches; `[!z-a]`: any character.
    return { kind: "class", negated, ranges: [] };
  }
  // Each hyphen between two chunks is a range from the last character of the left chunk to the
  // first character of the right one; every other character is itself.
  const ranges: (readonly [number, number])[] = [];
  for (let m = 0; m < chunks.length; m++) {
    const chunk = chunks[m]!;
    const from = m === 0 ? 0 : 1;
    const to = m === chunks.length - 1 ? chunk.length : chunk.length - 1;
    if (m > 0) ranges.push([cp(chunks[m - 1]![chunks[m - 1]!.length - 1]!), cp(chunk[0]!)]);
    for (let q = from; q < to; q++) ranges.push([cp(chunk[q]!), cp(chunk[q]!)]);
  }
  return { kind: "class", negated, ranges };
}

function hex(code: number): string {
  return `\\u{${code.toString(16)}}`;
}

/** A RegExp source (for the `u` and `s` flags) matching exactly one token that is not a star. */
function tokenSource(t: GlobToken): string {
  switch (t.kind) {
    case "literal":
      return hex(t.char.codePointAt(0)!);
    case "any":
      return ".";
    case "class": {
      const body = t.ranges.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)).join("");
      return `[${t.negated ? "^" : ""}${body}]`;
    }
    case "star":
      throw new Error("unreachable: star has no single-character source");
  }
}

const MATCH_ALL = (): boolean => true;

/** A literal that starts with a low or ends with a high surrogate (a lone half in the pattern). */
function splitsPair(literal: string): boolean {
  if (literal === "") return false;
  const first = literal.charCodeAt(0);
  const last = literal.charCodeAt(literal.length - 1);
  return (first >= 0xdc00 && first <= 0xdfff) || (last >= 0xd800 && last <= 0xdbff);
}

/** Longer globs are refused at load: matching costs O(text × pattern) and V8 caps regex size. */
export const MAX_GLOB_LENGTH = 1000;

/** Why a glob cannot be used (a load problem), or undefined when it compiles. */
export function checkGlob(pattern: string): string | undefined {
  const length = [...pattern].length;
  if (length > MAX_GLOB_LENGTH) {
    return `the glob is ${length} characters long; at most ${MAX_GLOB_LENGTH} are allowed`;
  }
  try {
    compileGlob(pattern);
  } catch (err) {
    // Not expected for any input; a load problem is still better than a 500 or a crashed CLI.
    return `the glob cannot be compiled (${escapeUnsafe(err instanceof Error ? err.message : String(err))})`;
  }
  return undefined;
}

/** Compiles a glob. The result is immutable and safe to share. */
export function compileGlob(pattern: string): Glob {
  const tokens = parseGlob(pattern);
  const isLit = (t: GlobToken): t is { kind: "literal"; char: string } => t.kind === "literal";
  let p = 0;
  while (p < tokens.length && isLit(tokens[p]!)) p++;
  const prefix = tokens
    .slice(0, p)
    .map((t) => (t as { char: string }).char)
    .join("");
  if (p === tokens.length) {
    return {
      source: pattern,
      matchesAll: false,
      exact: prefix,
      prefix,
      suffix: "",
      shape: "exact",
      test: (s) => s === prefix,
    };
  }
  let q = tokens.length;
  while (q > p && isLit(tokens[q - 1]!)) q--;
  const suffix = tokens
    .slice(q)
    .map((t) => (t as { char: string }).char)
    .join("");
  const middle = tokens.slice(p, q);
  const base = { source: pattern, exact: undefined, prefix, suffix, shape: "other" as const };
  const inner = middle.slice(1, -1);
  const needle = inner.every(isLit) ? inner.map((t) => (t as { char: string }).char).join("") : "";
  if (splitsPair(prefix) || splitsPair(suffix) || splitsPair(needle)) {
    // startsWith / endsWith / indexOf compare code units and would match half of a surrogate pair.
    return { ...base, matchesAll: false, test: generalMatcher(tokens) };
  }
  // Fast paths for the shapes policies are made of.
  if (middle.length === 1 && middle[0]!.kind === "star") {
    if (prefix === "" && suffix === "") return { ...base, shape: "all", matchesAll: true, test: MATCH_ALL };
    if (suffix === "")
      return { ...base, shape: "prefix", matchesAll: false, test: (s) => s.startsWith(prefix) };
    if (prefix === "")
      return { ...base, shape: "suffix", matchesAll: false, test: (s) => s.endsWith(suffix) };
    const min = prefix.length + suffix.length;
    return {
      ...base,
      matchesAll: false,
      test: (s) => s.length >= min && s.startsWith(prefix) && s.endsWith(suffix),
    };
  }
  if (
    middle.length >= 3 &&
    middle[0]!.kind === "star" &&
    middle[middle.length - 1]!.kind === "star" &&
    inner.every(isLit)
  ) {
    // `pre*needle*suf`: the needle must fit between prefix and suffix.
    const from = prefix.length;
    const min = prefix.length + needle.length + suffix.length;
    return {
      ...base,
      matchesAll: false,
      test: (s) => {
        if (s.length < min || !s.startsWith(prefix) || !s.endsWith(suffix)) return false;
        const at = s.indexOf(needle, from);
        return at >= 0 && at + needle.length <= s.length - suffix.length;
      },
    };
  }
  return { ...base, matchesAll: false, test: generalMatcher(tokens) };
}

/** Any glob: star-free pieces placed leftmost (linear per piece, no nested backtracking). */
function generalMatcher(tokens: readonly GlobToken[]): (text: string) => boolean {
  const pieces: GlobToken[][] = [[]];
  for (const t of tokens) {
    if (t.kind === "star") pieces.push([]);
    else pieces[pieces.length - 1]!.push(t);
  }
  const src = (piece: readonly GlobToken[]): string => piece.map(tokenSource).join("");
  if (pieces.length === 1) {
    const re = new RegExp(`^${src(pieces[0]!)}$`, "su");
    return (s) => re.test(s);
  }
  const head = pieces[0]!;
  const tail = pieces[pieces.length - 1]!;
  const headRe = head.length > 0 ? new RegExp(src(head), "suy") : undefined;
  const middles = pieces
    .slice(1, -1)
    .filter((piece) => piece.length > 0)
    .map((piece) => new RegExp(src(piece), "sug"));
  const tailRe = tail.length > 0 ? new RegExp(`${src(tail)}$`, "sug") : undefined;
  return (s) => {
    let pos = 0;
    if (headRe) {
      headRe.lastIndex = 0;
      if (!headRe.test(s)) return false;
      pos = headRe.lastIndex;
    }
    for (const re of middles) {
      re.lastIndex = pos;
      if (!re.test(s)) return false;
      pos = re.lastIndex;
    }
    if (tailRe) {
      tailRe.lastIndex = pos;
      return tailRe.test(s);
    }
    return true;
  };
}
