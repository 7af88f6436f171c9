// A linear-time regex search: Thompson's construction and a breadth-first simulation over the
// set of NFA states, O(text length × states) whatever the pattern (no backtracking at all).
import type { CharTest, RegexNode } from "./regex-parse.js";

const CHAR = 0;
const SPLIT = 1;
const ASSERT_START = 2;
const ASSERT_END = 3;
const ASSERT_WORD = 4;
const ASSERT_NONWORD = 5;
const MATCH = 6;
const JUMP = 7;

export class RegexTooLarge extends Error {}

const isWordAt = (text: string, index: number): boolean => {
  if (index < 0 || index >= text.length) return false;
  const c = text.charCodeAt(index);
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
};

/** Compiles a parsed regex into a search function (true when it matches anywhere). */
export function compileNfa(root: RegexNode, maxStates: number): (text: string) => boolean {
  const kind: number[] = [];
  const out1: number[] = [];
  const out2: number[] = [];
  const tests: (CharTest | undefined)[] = [];
  const add = (k: number, test?: CharTest): number => {
    if (kind.length >= maxStates) {
      throw new RegexTooLarge(`the regex expands to more than ${maxStates} states (shorten its repetitions)`);
    }
    kind.push(k);
    out1.push(-1);
    out2.push(-1);
    tests.push(test);
    return kind.length - 1;
  };
  // Builds `node` so that it continues at state `next`; returns its entry state.
  const build = (node: RegexNode, next: number): number => {
    switch (node.t) {
      case "char": {
        const s = add(CHAR, node.test);
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
  const n = kind.length;
  const kindA = Int8Array.from(kind);
  const o1 = Int32Array.from(out1);
  const o2 = Int32Array.from(out2);

  return (text) => {
    let cur = new Int32Array(n);
    let nxt = new Int32Array(n);
    const mark = new Int32Array(n).fill(-1);
    const stack = new Int32Array(n * 2 + 2);
    let curLen = 0;
    let nxtLen = 0;
    let generation = 0;
    const len = text.length;
    // Adds the epsilon closure of `s` at position `pos` to `nxt`; returns true on MATCH.
    const close = (s0: number, pos: number): boolean => {
      let sp = 0;
      stack[sp++] = s0;
      while (sp > 0) {
        const s = stack[--sp]!;
        if (s < 0 || mark[s] === generation) continue;
        mark[s] = generation;
        switch (kindA[s]) {
          case CHAR:
            nxt[nxtLen++] = s;
            break;
          case MATCH:
            return true;
          case SPLIT:
            stack[sp++] = o2[s]!;
            stack[sp++] = o1[s]!;
            break;
          case JUMP:
            stack[sp++] = o1[s]!;
            break;
          case ASSERT_START:
            if (pos === 0) stack[sp++] = o1[s]!;
            break;
          case ASSERT_END:
            if (pos === len) stack[sp++] = o1[s]!;
            break;
          case ASSERT_WORD:
          case ASSERT_NONWORD: {
            const boundary = isWordAt(text, pos - 1) !== isWordAt(text, pos);
            if (boundary === (kindA[s] === ASSERT_WORD)) stack[sp++] = o1[s]!;
            break;
          }
        }
      }
      return false;
    };
    generation++;
    if (close(start, 0)) return true;
    [cur, nxt] = [nxt, cur];
    curLen = nxtLen;
    let pos = 0;
    while (pos < len) {
      const cp = text.codePointAt(pos)!;
      const after = pos + (cp > 0xffff ? 2 : 1);
      generation++;
      nxtLen = 0;
      for (let k = 0; k < curLen; k++) {
        const s = cur[k]!;
        if (tests[s]!(cp, text, pos) && close(o1[s]!, after)) return true;
      }
      // Unanchored search: a new attempt starts at every position.
      if (close(start, after)) return true;
      [cur, nxt] = [nxt, cur];
      curLen = nxtLen;
      pos = after;
    }
    return false;
  };
}
