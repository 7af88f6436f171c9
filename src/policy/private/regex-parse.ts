// A parser for the ECMAScript regex syntax (`u` flag) accepted by `param_matches`. It runs only on
// sources the native RegExp constructor has already accepted, so it interprets valid syntax (and
// need not diagnose invalid syntax), and it rejects what a finite automaton cannot match
// (backreferences, lookarounds). Every character atom becomes the exact set of code points it
// matches, which is what lets the DFA be built over a few character classes at load time.
import {
  ANY,
  type CharSet,
  complement,
  DIGIT,
  DOT,
  EMPTY,
  fromRanges,
  SPACE,
  single,
  soleMember,
  union,
  WORD,
} from "./charset.js";
import { propertySet } from "./unicode-property.js";

export type RegexNode =
  | { readonly t: "char"; readonly set: CharSet }
  | { readonly t: "seq"; readonly items: readonly RegexNode[] }
  | { readonly t: "alt"; readonly options: readonly RegexNode[] }
  | { readonly t: "rep"; readonly node: RegexNode; readonly min: number; readonly max: number }
  | { readonly t: "assert"; readonly kind: "start" | "end" | "word" | "nonword" };

export class UnsupportedRegex extends Error {}

export interface ParsedRegex {
  readonly root: RegexNode;
  /** The distinct `\p{...}` / `\P{...}` escapes, as written (each costs a scan when first seen). */
  readonly properties: readonly string[];
}

const CONTROL_ESCAPES: Readonly<Record<string, number>> = { f: 12, n: 10, r: 13, t: 9, v: 11 };
const CLASS_ESCAPES: Readonly<Record<string, CharSet>> = {
  d: DIGIT,
  D: complement(DIGIT),
  s: SPACE,
  S: complement(SPACE),
  w: WORD,
  W: complement(WORD),
};

const QUANTIFIER = /\{(\d+)(,(\d*))?\}/y;
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

/**
 * Parses a source the native engine accepts with the `u` flag. `scanProperties: false` only
 * collects property escapes (so the loader can bound them before paying for the scans).
 */
export function parseRegex(src: string, scanProperties = true): ParsedRegex {
  let i = 0;
  const properties = new Set<string>();

  const peek = (): string | undefined => src[i];

  const parseDisjunction = (): RegexNode => {
    const options: RegexNode[] = [parseAlternative()];
    while (peek() === "|") {
      i++;
      options.push(parseAlternative());
    }
    return options.length === 1 ? options[0]! : { t: "alt", options };
  };

  const parseAlternative = (): RegexNode => {
    const items: RegexNode[] = [];
    while (i < src.length && peek() !== "|" && peek() !== ")") {
      const atom = parseTerm();
      items.push(parseQuantifier(atom));
    }
    return items.length === 1 ? items[0]! : { t: "seq", items };
  };

  const parseQuantifier = (atom: RegexNode): RegexNode => {
    const c = peek();
    let min: number;
    let max: number;
    if (c === "*") {
      min = 0;
      max = Number.POSITIVE_INFINITY;
      i++;
    } else if (c === "+") {
      min = 1;
      max = Number.POSITIVE_INFINITY;
      i++;
    } else if (c === "?") {
      min = 0;
      max = 1;
      i++;
    } else if (c === "{") {
      QUANTIFIER.lastIndex = i;
      const m = QUANTIFIER.exec(src);
      if (!m) return atom; // not a quantifier (cannot happen in u mode)
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Number.POSITIVE_INFINITY : Number(m[3]);
      i += m[0].length;
    } else {
      return atom;
    }
    if (peek() === "?") i++; // lazy: same language, and only the yes/no answer matters
    return { t: "rep", node: atom, min, max };
  };

  const parseTerm = (): RegexNode => {
    const ch = src[i]!;
    if (ch === "^") {
      i++;
      return { t: "assert", kind: "start" };
    }
    if (ch === "$") {
      i++;
      return { t: "assert", kind: "end" };
    }
    if (ch === ".") {
      i++;
      return { t: "char", set: DOT };
    }
    if (ch === "(") return parseGroup();
    if (ch === "[") return { t: "char", set: parseClass() };
    if (ch === "\\") {
      const e = src[i + 1];
      if (e === "b" || e === "B") {
        i += 2;
        return { t: "assert", kind: e === "b" ? "word" : "nonword" };
      }
      if (e === "k" || (e !== undefined && e >= "1" && e <= "9")) {
        throw new UnsupportedRegex("backreferences are not supported in param_matches");
      }
      return { t: "char", set: parseEscape() };
    }
    const cp = src.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    return { t: "char", set: single(cp) };
  };

  const parseGroup = (): RegexNode => {
    if (
      src.startsWith("(?=", i) ||
      src.startsWith("(?!", i) ||
      src.startsWith("(?<=", i) ||
      src.startsWith("(?<!", i)
    ) {
      throw new UnsupportedRegex("lookahead and lookbehind are not supported in param_matches");
    }
    if (src.startsWith("(?:", i)) i += 3;
    else if (src.startsWith("(?<", i)) i = src.indexOf(">", i) + 1;
    else if (src.startsWith("(?", i)) {
      // Node 24 accepts modifier groups such as (?i:...), Node 20 does not: reject them on both.
      throw new UnsupportedRegex("modifier groups such as (?i:...) are not supported in param_matches");
    } else i++;
    const inner = parseDisjunction();
    i++; // ")"
    return inner;
  };

  /** `[...]`, from its `[` to past its `]`. */
  const parseClass = (): CharSet => {
    i++;
    const negated = peek() === "^";
    if (negated) i++;
    const parts: CharSet[] = [];
    while (i < src.length && peek() !== "]") {
      const from = parseClassAtom();
      if (peek() === "-" && src[i + 1] !== "]" && i + 1 < src.length) {
        i++;
        const to = parseClassAtom();
        // The native engine only accepts ranges between single characters, in order.
        parts.push(fromRanges([[soleMember(from)!, soleMember(to)!]]));
      } else parts.push(from);
    }
    i++; // "]"
    const set = parts.length === 0 ? EMPTY : union(parts);
    return negated ? complement(set) : set;
  };

  const parseClassAtom = (): CharSet => {
    if (peek() === "\\") {
      const e = src[i + 1];
      if (e === "b") {
        i += 2;
        return single(8);
      }
      if (e === "-") {
        i += 2;
        return single(45);
      }
      return parseEscape();
    }
    const cp = src.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    return single(cp);
  };

  /** A character escape or class escape at `i` (a backslash); not `\b`, `\B` or backreferences. */
  const parseEscape = (): CharSet => {
    const e = src[i + 1]!;
    const cls = CLASS_ESCAPES[e];
    if (cls !== undefined) {
      i += 2;
      return cls;
    }
    if (e === "p" || e === "P") {
      const end = src.indexOf("}", i) + 1;
      const property = src.slice(i, end);
      i = end;
      properties.add(property);
      return scanProperties ? propertySet(property) : ANY;
    }
    const control = CONTROL_ESCAPES[e];
    if (control !== undefined) {
      i += 2;
      return single(control);
    }
    if (e === "c") {
      const letter = src.charCodeAt(i + 2);
      i += 3;
      return single(letter % 32);
    }
    if (e === "0") {
      i += 2;
      return single(0);
    }
    if (e === "x") {
      const cp = Number.parseInt(src.slice(i + 2, i + 4), 16);
      i += 4;
      return single(cp);
    }
    if (e === "u") return single(parseUnicodeEscape());
    // An identity escape (u mode: a syntax character or "/"); a class's "\-" is handled above.
    const cp = src.codePointAt(i + 1)!;
    i += 1 + (cp > 0xffff ? 2 : 1);
    return single(cp);
  };

  /** `\uXXXX`, `\uLEAD\uTRAIL` (one code point in u mode) or `\u{...}`. */
  const parseUnicodeEscape = (): number => {
    if (src[i + 2] === "{") {
      const end = src.indexOf("}", i);
      const cp = Number.parseInt(src.slice(i + 3, end), 16);
      i = end + 1;
      return cp;
    }
    const hi = Number.parseInt(src.slice(i + 2, i + 6), 16);
    i += 6;
    if (
      hi >= 0xd800 &&
      hi <= 0xdbff &&
      src.startsWith("\\u", i) &&
      [2, 3, 4, 5].every((k) => isHex(src[i + k]))
    ) {
      const lo = Number.parseInt(src.slice(i + 2, i + 6), 16);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        i += 6;
        return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
      }
    }
    return hi;
  };

  const root = parseDisjunction();
  return { root, properties: [...properties] };
}
