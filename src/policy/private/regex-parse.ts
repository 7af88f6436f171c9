// A parser for the ECMAScript regex syntax (`u` flag) accepted by `param_matches`. It runs only on
// sources the native RegExp constructor has already accepted, so it interprets valid syntax and
// rejects the features the linear-time matcher cannot support (backreferences, lookarounds).

/** Tests one code point. */
export type CharTest = (cp: number) => boolean;

export type RegexNode =
  | { readonly t: "char"; readonly test: CharTest }
  | { readonly t: "seq"; readonly items: readonly RegexNode[] }
  | { readonly t: "alt"; readonly options: readonly RegexNode[] }
  | { readonly t: "rep"; readonly node: RegexNode; readonly min: number; readonly max: number }
  | { readonly t: "assert"; readonly kind: "start" | "end" | "word" | "nonword" };

export class UnsupportedRegex extends Error {}

const isLineTerminator = (cp: number): boolean => cp === 10 || cp === 13 || cp === 0x2028 || cp === 0x2029;
const isDigit = (cp: number): boolean => cp >= 48 && cp <= 57;
const isWord = (cp: number): boolean =>
  isDigit(cp) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95;

/**
 * One code point tested with the native engine (classes, \s, \p{..}, escapes). The answer depends
 * on the code point alone, so it is memoised: a table for ASCII, a bounded map beyond.
 */
function nativeTest(source: string): CharTest {
  const re = new RegExp(`^(?:${source})$`, "u");
  const ascii = new Int8Array(128); // 0 unknown, 1 no, 2 yes
  const other = new Map<number, boolean>();
  return (cp) => {
    if (cp < 128) {
      let v = ascii[cp]!;
      if (v === 0) {
        v = re.test(String.fromCharCode(cp)) ? 2 : 1;
        ascii[cp] = v;
      }
      return v === 2;
    }
    let hit = other.get(cp);
    if (hit === undefined) {
      hit = re.test(String.fromCodePoint(cp));
      if (other.size < 4096) other.set(cp, hit);
    }
    return hit;
  };
}

const ESCAPE_TESTS: Record<string, CharTest> = {
  d: (cp) => isDigit(cp),
  D: (cp) => !isDigit(cp),
  w: (cp) => isWord(cp),
  W: (cp) => !isWord(cp),
};

export interface ParsedRegex {
  readonly root: RegexNode;
  /** True when the regex has a quantifier (the native engine is then not linear-time safe). */
  readonly quantified: boolean;
}

export function parseRegex(src: string): ParsedRegex {
  let i = 0;
  let quantified = false;

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
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
      if (!m) return atom; // not a quantifier (cannot happen in u mode)
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? Number.POSITIVE_INFINITY : Number(m[3]);
      i += m[0].length;
    } else {
      return atom;
    }
    if (peek() === "?") i++; // lazy: same language
    quantified = true;
    return { t: "rep", node: atom, min, max };
  };

  const parseTerm = (): RegexNode => {
    const c = src.codePointAt(i)!;
    const ch = String.fromCodePoint(c);
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
      return { t: "char", test: (cp) => !isLineTerminator(cp) };
    }
    if (ch === "(") {
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
    }
    if (ch === "[") {
      const start = i;
      i++;
      while (i < src.length && src[i] !== "]") i += src[i] === "\\" ? 2 : 1;
      i++;
      return { t: "char", test: nativeTest(src.slice(start, i)) };
    }
    if (ch === "\\") return parseEscape();
    i += ch.length;
    return { t: "char", test: (cp) => cp === c };
  };

  const parseEscape = (): RegexNode => {
    const e = src[i + 1]!;
    if (e === "b" || e === "B") {
      i += 2;
      return { t: "assert", kind: e === "b" ? "word" : "nonword" };
    }
    if (/[1-9]/.test(e) || e === "k") {
      throw new UnsupportedRegex("backreferences are not supported in param_matches");
    }
    const fast = ESCAPE_TESTS[e];
    if (fast) {
      i += 2;
      return { t: "char", test: fast };
    }
    let end = i + 2;
    if (e === "p" || e === "P") end = src.indexOf("}", i) + 1;
    else if (e === "x") end = i + 4;
    else if (e === "c") end = i + 3;
    else if (e === "u") {
      if (src[i + 2] === "{") end = src.indexOf("}", i) + 1;
      else {
        end = i + 6;
        const hi = Number.parseInt(src.slice(i + 2, i + 6), 16);
        const pair = /^\\u([0-9a-fA-F]{4})/.exec(src.slice(end));
        if (hi >= 0xd800 && hi <= 0xdbff && pair) {
          const lo = Number.parseInt(pair[1]!, 16);
          if (lo >= 0xdc00 && lo <= 0xdfff) end += 6;
        }
      }
    }
    const source = src.slice(i, end);
    i = end;
    return { t: "char", test: nativeTest(source) };
  };

  const root = parseDisjunction();
  return { root, quantified };
}
