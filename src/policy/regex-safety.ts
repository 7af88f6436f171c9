// Regexes for `param_matches`: ECMAScript syntax (`u` flag), checked at load, and matched in time
// linear in the text with a small constant, so neither a hostile param nor a hostile policy can
// stall the server. The native engine backtracks: `(a|a)(a|a)...b` is exponential even without a
// quantifier, and an unanchored `.*a$` quadratic. So the native engine only checks syntax; a regex
// runs as a plain substring test when it is a literal, and otherwise on a DFA built completely at
// load (private/regex-dfa.ts): one table lookup per character. What a DFA cannot express
// (backreferences, lookarounds) is rejected, as are modifier groups, Python-only syntax (with a
// hint), and regexes whose automata exceed the bounds below (the message says which).

import { soleMember } from "./private/charset.js";
import { escapeUnsafe, quoteShort } from "./private/quote.js";
import { compileDfa, type DfaLimits } from "./private/regex-dfa.js";
import { buildNfa, RegexTooLarge } from "./private/regex-nfa.js";
import { parseRegex, type RegexNode, UnsupportedRegex } from "./private/regex-parse.js";

export const MAX_REGEX_LENGTH = 1000;
/** Bounds the work of building the DFA (each DFA state is a set of NFA states). */
export const MAX_NFA_STATES = 256;
/** Bounds the DFA: more states are rejected at load ("needs more than N automaton states"). */
export const MAX_DFA_STATES = 4096;
/** Bounds the DFA's table (states × character classes, two bytes each): 512 KiB per regex. */
export const MAX_DFA_CELLS = 1 << 18;
/**
 * Distinct Unicode property escapes (`\p{L}`, ...) per policy: the first use of each costs a scan
 * of every code point (tens of milliseconds), so a policy cannot make a load arbitrarily slow.
 */
export const MAX_UNICODE_PROPERTIES = 16;

export type RegexSearch = (text: string) => boolean;

const PYTHON_ONLY: readonly [RegExp, string][] = [
  [/\(\?P</, "named groups are written (?<name>...) in ECMAScript, not (?P<name>...)"],
  [/\(\?P=/, "named backreferences are written \\k<name> in ECMAScript, not (?P=name)"],
  [/\(\?#/, "ECMAScript regexes have no (?#...) comments"],
  [/\(\?[aiLmsux-]+\)/, "ECMAScript regexes have no inline flags such as (?i); use a character class"],
  [/\\A/, "\\A is Python syntax; use ^"],
  [/\\Z/, "\\Z is Python syntax; use $"],
];

/**
 * DFA states and table cells for all the regexes of one policy: building a capped DFA takes tens
 * of milliseconds, so without a total a policy of many distinct near-cap regexes could take a
 * minute to load. Rejected regexes count too (their construction was paid for).
 */
export const MAX_POLICY_DFA_STATES = 8 * MAX_DFA_STATES;
export const MAX_POLICY_DFA_CELLS = 4 * MAX_DFA_CELLS;

/** What the regexes of one policy may cost together. */
export class RegexBudget {
  private readonly properties = new Set<string>();
  private states = MAX_POLICY_DFA_STATES;
  private cells = MAX_POLICY_DFA_CELLS;

  /** The limits for the next DFA: its own caps, or what is left of the policy's. */
  limits(): DfaLimits & { readonly policyBound: boolean } {
    const maxStates = Math.min(MAX_DFA_STATES, this.states);
    const maxCells = Math.min(MAX_DFA_CELLS, this.cells);
    return {
      maxStates,
      maxCells,
      policyBound: maxStates < MAX_DFA_STATES || maxCells < MAX_DFA_CELLS,
      onBuilt: (states, cells) => {
        this.states -= states;
        this.cells -= cells;
      },
    };
  }

  /** Returns false (and records nothing) when `escapes` would exceed the bound. */
  admit(escapes: readonly string[]): boolean {
    const fresh = escapes.filter((e) => !this.properties.has(e));
    if (this.properties.size + fresh.length > MAX_UNICODE_PROPERTIES) return false;
    for (const e of fresh) this.properties.add(e);
    return true;
  }
}

/** A plain code point string (no surrogate halves, which a `u` regex never matches inside a pair). */
function literalOf(nodes: readonly RegexNode[]): string | undefined {
  let out = "";
  for (const node of nodes) {
    if (node.t !== "char") return undefined;
    const cp = soleMember(node.set);
    if (cp === undefined || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
    out += String.fromCodePoint(cp);
  }
  return out;
}

/** `lit`, `^lit`, `lit$`, `^lit$` as string tests; undefined for anything else. */
function literalSearch(root: RegexNode): RegexSearch | undefined {
  const items = root.t === "seq" ? [...root.items] : [root];
  const anchoredStart = items[0]?.t === "assert" && items[0].kind === "start";
  if (anchoredStart) items.shift();
  const last = items[items.length - 1];
  const anchoredEnd = last?.t === "assert" && last.kind === "end";
  if (anchoredEnd) items.pop();
  const lit = literalOf(items);
  if (lit === undefined) return undefined;
  if (anchoredStart && anchoredEnd) return (text) => text === lit;
  if (anchoredStart) return (text) => text.startsWith(lit);
  if (anchoredEnd) return (text) => text.endsWith(lit);
  return (text) => text.includes(lit);
}

/** Compiles a regex, or says why it is rejected. */
export function compileRegex(
  source: string,
  budget?: RegexBudget,
): { readonly search: RegexSearch } | { readonly problem: string } {
  if (source.length > MAX_REGEX_LENGTH) {
    return { problem: `regex is ${source.length} characters long; at most ${MAX_REGEX_LENGTH} are allowed` };
  }
  for (const [probe, hint] of PYTHON_ONLY) {
    if (probe.test(source)) return { problem: `invalid regex ${quoteShort(source)}: ${hint}` };
  }
  try {
    new RegExp(source, "u");
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // V8 says "Invalid regular expression: /<source>/u: <reason>"; the source is quoted above.
    const reason = message.slice(message.lastIndexOf(": ") + 2);
    return {
      problem: `invalid regex ${quoteShort(source)} (ECMAScript syntax, u flag): ${escapeUnsafe(reason)}`,
    };
  }
  try {
    const outline = parseRegex(source, false);
    if (budget !== undefined && !budget.admit(outline.properties)) {
      return {
        problem: `regex ${quoteShort(source)} rejected: a policy may use at most ${MAX_UNICODE_PROPERTIES} distinct Unicode property escapes (\\p{...})`,
      };
    }
    const { root } = parseRegex(source);
    const literal = literalSearch(root);
    if (literal !== undefined) return { search: literal };
    const limits = budget?.limits() ?? {
      maxStates: MAX_DFA_STATES,
      maxCells: MAX_DFA_CELLS,
      policyBound: false,
    };
    try {
      return { search: compileDfa(buildNfa(root, MAX_NFA_STATES), limits) };
    } catch (err) {
      if (!(err instanceof RegexTooLarge) || !limits.policyBound || !/automaton states/.test(err.message))
        throw err;
      return {
        problem: `regex ${quoteShort(source)} rejected: the policy's regexes need more than ${MAX_POLICY_DFA_STATES} automaton states (or ${MAX_POLICY_DFA_CELLS} table cells) together; simplify them`,
      };
    }
  } catch (err) {
    if (err instanceof UnsupportedRegex) {
      return {
        problem: `regex ${quoteShort(source)} rejected: ${err.message} (matching must stay linear-time)`,
      };
    }
    if (err instanceof RegexTooLarge)
      return { problem: `regex ${quoteShort(source)} rejected: ${err.message}` };
    throw err;
  }
}

/** Returns a problem message, or undefined when the regex is acceptable. */
export function checkRegex(source: string): string | undefined {
  const r = compileRegex(source);
  return "problem" in r ? r.problem : undefined;
}

/** A compiled search: true when the regex matches somewhere in the text (like Python's re.search). */
export function compileRegexSearch(source: string): RegexSearch {
  const r = compileRegex(source);
  if ("problem" in r) throw new Error(r.problem);
  return r.search;
}
