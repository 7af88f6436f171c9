// Thompson's construction: a parsed regex -> an NFA in flat arrays (no backtracking anywhere). The
// state count is capped because it bounds the cost of building the DFA from it.
import type { CharSet } from "./charset.js";
import type { RegexNode } from "./regex-parse.js";

export const CHAR = 0;
export const SPLIT = 1;
export const ASSERT_START = 2;
export const ASSERT_END = 3;
export const ASSERT_WORD = 4;
export const ASSERT_NONWORD = 5;
export const MATCH = 6;
export const JUMP = 7;

/** The regex cannot be run within the automaton bounds; the message says which bound. */
export class RegexTooLarge extends Error {}

export interface Nfa {
  readonly kind: Int8Array;
  readonly out1: Int32Array;
  readonly out2: Int32Array;
  /** For CHAR states, the index of its set in `atoms`; -1 otherwise. */
  readonly atom: Int32Array;
  /** The distinct character sets of the CHAR states. */
  readonly atoms: readonly CharSet[];
  readonly start: number;
  /** `\b` or `\B` occurs: the DFA must then know whether the previous character was a word one. */
  readonly usesWordAssertions: boolean;
}

export function buildNfa(root: RegexNode, maxStates: number): Nfa {
  const kind: number[] = [];
  const out1: number[] = [];
  const out2: number[] = [];
  const atom: number[] = [];
  const atoms: CharSet[] = [];
  const atomIds = new Map<string, number>();
  let usesWordAssertions = false;
  const add = (k: number, a = -1): number => {
    if (kind.length >= maxStates) {
      throw new RegexTooLarge(`the regex expands to more than ${maxStates} states (shorten its repetitions)`);
    }
    kind.push(k);
    out1.push(-1);
    out2.push(-1);
    atom.push(a);
    return kind.length - 1;
  };
  const atomOf = (set: CharSet): number => {
    const key = set.join(",");
    let id = atomIds.get(key);
    if (id === undefined) {
      id = atoms.length;
      atoms.push(set);
      atomIds.set(key, id);
    }
    return id;
  };
  // Builds `node` so that it continues at state `next`; returns its entry state.
  const build = (node: RegexNode, next: number): number => {
    switch (node.t) {
      case "char": {
        const s = add(CHAR, atomOf(node.set));
        out1[s] = next;
        return s;
      }
      case "assert": {
        const k =
          node.kind === "start"
            ? ASSERT_START
            : node.kind === "end"
              ? ASSERT_END
              : node.kind === "word"
                ? ASSERT_WORD
                : ASSERT_NONWORD;
        if (k === ASSERT_WORD || k === ASSERT_NONWORD) usesWordAssertions = true;
        const s = add(k);
        out1[s] = next;
        return s;
      }
      case "seq": {
        let entry = next;
        for (let k = node.items.length - 1; k >= 0; k--) entry = build(node.items[k]!, entry);
        return entry;
      }
      case "alt": {
        let entry = build(node.options[node.options.length - 1]!, next);
        for (let k = node.options.length - 2; k >= 0; k--) {
          const s = add(SPLIT);
          out1[s] = build(node.options[k]!, next);
          out2[s] = entry;
          entry = s;
        }
        return entry;
      }
      case "rep": {
        let entry = next;
        if (node.max === Number.POSITIVE_INFINITY) {
          // loop: split -> (node -> jump back to split) | next
          const split = add(SPLIT);
          const back = add(JUMP);
          out1[back] = split;
          out1[split] = build(node.node, back);
          out2[split] = next;
          entry = split;
        } else {
          for (let k = node.max - node.min; k > 0; k--) {
            const split = add(SPLIT);
            out1[split] = build(node.node, entry);
            out2[split] = next;
            entry = split;
          }
        }
        for (let k = 0; k < node.min; k++) entry = build(node.node, entry);
        return entry;
      }
    }
  };
  const matchState = add(MATCH);
  const start = build(root, matchState);
  return {
    kind: Int8Array.from(kind),
    out1: Int32Array.from(out1),
    out2: Int32Array.from(out2),
    atom: Int32Array.from(atom),
    atoms,
    start,
    usesWordAssertions,
  };
}
