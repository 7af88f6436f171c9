// A linear-time regex search: Thompson's construction, then a lazily built DFA over sets of NFA
// states (no backtracking at all): O(text length × NFA states) at worst, one table lookup per
// character once the DFA states a text visits are cached.
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
  return lazyDfa(Int8Array.from(kind), Int32Array.from(out1), Int32Array.from(out2), tests, start);
}

/**
 * A DFA state: the NFA states a step lands on ("seeds", before their epsilon closure), plus what
 * the assertions need to know about the position (at the start; was the previous char a word char).
 * The closure is taken when the next character (or the end) is known, so `^ $ \b \B` all work.
 */
interface DState {
  readonly seeds: Int32Array;
  readonly flags: number; // 1: at start, 2: previous char is a word char
  readonly hash: number;
  /** Transition per ASCII code point: a DState index, ACCEPT, or UNKNOWN. */
  readonly ascii: Int32Array;
  /** Transitions for other code points, by character class (see `classOf`). */
  readonly other: Map<number, number>;
  /** -1 unknown, 0 no, 1 yes: does the text match if it ends here? */
  acceptsAtEnd: number;
}

const UNKNOWN = -1;
const ACCEPT = -2;
const AT_START = 1;
const PREV_WORD = 2;
/** Cached DFA states per regex; the cache is dropped and rebuilt when it grows past this. */
const MAX_DFA_STATES = 2048;
/** Memoised code point -> class entries per regex. */
const MAX_CLASS_MEMO = 65_536;

const isWordCp = (cp: number): boolean =>
  (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95;

function sameSeeds(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * Search with a lazily built DFA (the RE2 approach): each step is a cached table lookup once the
 * states a text visits are known, and building a new state costs O(NFA states). Code points
 * beyond ASCII are grouped into classes (which atoms accept them), so texts with many distinct
 * characters share transitions. Results are exact; the caches only save work.
 */
function lazyDfa(
  kind: Int8Array,
  o1: Int32Array,
  o2: Int32Array,
  tests: readonly (CharTest | undefined)[],
  start: number,
): (text: string) => boolean {
  const n = kind.length;
  const mark = new Int32Array(n).fill(-1);
  const seen = new Int32Array(n).fill(-1);
  let generation = 0;
  const stack = new Int32Array(n * 2 + 2);
  const reached = new Int32Array(n);
  const nextSeeds = new Int32Array(n + 1);
  let states: DState[] = [];
  let buckets = new Map<number, number[]>();

  // Character classes for non-ASCII code points: the set of distinct atoms that accept them.
  const atoms = [...new Set(tests.filter((t): t is CharTest => t !== undefined))];
  const classIds = new Map<string, number>();
  const classMemo = new Map<number, number>();
  const classOf = (cp: number): number => {
    let id = classMemo.get(cp);
    if (id === undefined) {
      let key = isWordCp(cp) ? "w" : "-";
      for (const t of atoms) key += t(cp) ? "1" : "0";
      id = classIds.get(key);
      if (id === undefined) {
        id = classIds.size;
        classIds.set(key, id);
      }
      if (classMemo.size < MAX_CLASS_MEMO) classMemo.set(cp, id);
    }
    return id;
  };

  /** Epsilon closure of `seeds` in a context; CHAR states go to `reached`. Returns -1 on MATCH. */
  const closure = (
    seeds: Int32Array,
    atStart: boolean,
    atEnd: boolean,
    prevWord: boolean,
    nextWord: boolean,
  ): number => {
    generation++;
    let count = 0;
    let sp = 0;
    for (let k = seeds.length - 1; k >= 0; k--) stack[sp++] = seeds[k]!;
    while (sp > 0) {
      const s = stack[--sp]!;
      if (mark[s] === generation) continue;
      mark[s] = generation;
      switch (kind[s]) {
        case CHAR:
          reached[count++] = s;
          break;
        case MATCH:
          return -1;
        case SPLIT:
          stack[sp++] = o2[s]!;
          stack[sp++] = o1[s]!;
          break;
        case JUMP:
          stack[sp++] = o1[s]!;
          break;
        case ASSERT_START:
          if (atStart) stack[sp++] = o1[s]!;
          break;
        case ASSERT_END:
          if (atEnd) stack[sp++] = o1[s]!;
          break;
        case ASSERT_WORD:
          if (prevWord !== nextWord) stack[sp++] = o1[s]!;
          break;
        case ASSERT_NONWORD:
          if (prevWord === nextWord) stack[sp++] = o1[s]!;
          break;
      }
    }
    return count;
  };

  const intern = (seeds: Int32Array, flags: number): number => {
    let hash = 0x811c9dc5 ^ flags;
    for (let k = 0; k < seeds.length; k++) hash = Math.imul(hash ^ seeds[k]!, 0x01000193);
    const bucket = buckets.get(hash);
    if (bucket !== undefined) {
      for (const id of bucket) {
        const st = states[id]!;
        if (st.flags === flags && sameSeeds(st.seeds, seeds)) return id;
      }
    }
    if (states.length >= MAX_DFA_STATES) {
      states = [];
      buckets = new Map();
    }
    const id = states.length;
    states.push({
      seeds: seeds.slice(),
      flags,
      hash,
      ascii: new Int32Array(128).fill(UNKNOWN),
      other: new Map(),
      acceptsAtEnd: -1,
    });
    const b = buckets.get(hash);
    if (b) b.push(id);
    else buckets.set(hash, [id]);
    return id;
  };

  const step = (d: DState, cp: number): number => {
    const nextWord = isWordCp(cp);
    const count = closure(d.seeds, (d.flags & AT_START) !== 0, false, (d.flags & PREV_WORD) !== 0, nextWord);
    if (count < 0) return ACCEPT;
    generation++;
    let m = 0;
    nextSeeds[m++] = start;
    seen[start] = generation;
    for (let k = 0; k < count; k++) {
      const s = reached[k]!;
      const to = o1[s]!;
      if (seen[to] !== generation && tests[s]!(cp)) {
        seen[to] = generation;
        nextSeeds[m++] = to;
      }
    }
    const seeds = nextSeeds.subarray(0, m).sort();
    return intern(seeds, nextWord ? PREV_WORD : 0);
  };

  return (text) => {
    let d = states[intern(Int32Array.of(start), AT_START)]!;
    const len = text.length;
    let pos = 0;
    while (pos < len) {
      const cp = text.codePointAt(pos)!;
      let t: number;
      if (cp < 128) {
        t = d.ascii[cp]!;
        if (t === UNKNOWN) {
          t = step(d, cp);
          d.ascii[cp] = t; // `step` may reset the cache: `d` still keeps its own (fresh) entry
        }
      } else {
        const cls = classOf(cp);
        const hit = d.other.get(cls);
        if (hit === undefined) {
          t = step(d, cp);
          d.other.set(cls, t);
        } else t = hit;
      }
      if (t === ACCEPT) return true;
      d = states[t]!;
      pos += cp > 0xffff ? 2 : 1;
    }
    if (d.acceptsAtEnd < 0) {
      const atStart = (d.flags & AT_START) !== 0;
      d.acceptsAtEnd = closure(d.seeds, atStart, true, (d.flags & PREV_WORD) !== 0, false) < 0 ? 1 : 0;
    }
    return d.acceptsAtEnd === 1;
  };
}
