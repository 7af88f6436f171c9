// Regexes for `param_matches`: ECMAScript syntax (`u` flag), checked at load, and matched in time
// linear in the text, so a hostile param cannot stall the server. Native backtracking is not safe
// even for innocent-looking regexes: an unanchored search for `.*a$` is quadratic (3 s on 50 KB
// here) and `(a+)+$` exponential. So regexes without quantifiers run on the native engine (bounded
// work per position) and any regex with a quantifier runs on a Thompson NFA through a lazily
// built DFA (private/regex-nfa.ts): one table lookup per character once warm, O(text × states)
// at worst. Backreferences and lookarounds cannot be matched that way and are rejected at load,
// as are modifier groups, Python-only syntax (with a hint), and regexes over 1000 characters or
// 256 NFA states (the states bound the worst-case work per character).
import { compileNfa, RegexTooLarge } from "./private/regex-nfa.js";
import { parseRegex, UnsupportedRegex } from "./private/regex-parse.js";

export const MAX_REGEX_LENGTH = 1000;
/** Bounds the work per character (states × text length). */
export const MAX_NFA_STATES = 256;

const PYTHON_ONLY: readonly [RegExp, string][] = [
  [/\(\?P</, "named groups are written (?<name>...) in ECMAScript, not (?P<name>...)"],
  [/\(\?P=/, "named backreferences are written \\k<name> in ECMAScript, not (?P=name)"],
  [/\(\?#/, "ECMAScript regexes have no (?#...) comments"],
  [/\(\?[aiLmsux-]+\)/, "ECMAScript regexes have no inline flags such as (?i); use a character class"],
  [/\\A/, "\\A is Python syntax; use ^"],
  [/\\Z/, "\\Z is Python syntax; use $"],
];

function build(source: string): (text: string) => boolean {
  const native = new RegExp(source, "u");
  const parsed = parseRegex(source);
  if (!parsed.quantified) return (text) => native.test(text);
  return compileNfa(parsed.root, MAX_NFA_STATES);
}

/** Returns a problem message, or undefined when the regex is acceptable. */
export function checkRegex(source: string): string | undefined {
  if (source.length > MAX_REGEX_LENGTH) {
    return `regex is ${source.length} characters long; at most ${MAX_REGEX_LENGTH} are allowed`;
  }
  for (const [probe, hint] of PYTHON_ONLY) {
    if (probe.test(source)) return `invalid regex ${JSON.stringify(source)}: ${hint}`;
  }
  try {
    new RegExp(source, "u");
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, "") : String(err);
    return `invalid regex (ECMAScript syntax, u flag): ${why}`;
  }
  try {
    build(source);
  } catch (err) {
    if (err instanceof UnsupportedRegex || err instanceof RegexTooLarge) {
      return `regex ${JSON.stringify(source)} rejected: ${err.message} (matching must stay linear-time)`;
    }
    throw err;
  }
  return undefined;
}

/** A compiled search: true when the regex matches somewhere in the text (like Python's re.search). */
export function compileRegexSearch(source: string): (text: string) => boolean {
  return build(source);
}
