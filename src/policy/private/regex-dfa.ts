// An NFA -> a complete DFA, built eagerly at load time by subset construction over character
// classes, then used for an unanchored search: one class lookup and one table read per code point,
// whatever the regex or the text. A regex whose DFA would exceed the caps is rejected at load
// instead (the lazy alternative can be forced to build a new state per character).
//
// A DFA state is the set of NFA states a step lands on ("seeds", before their epsilon closure), plus
// what the assertions need to know about the position: at the start, and whether the previous
// character was a word character (only when the regex has \b or \B). The closure is taken once the
// next character's class (or the end) is known, so `^ $ \b \B` are exact.
import { characterClasses, TooManyClasses } from "./char-classes.js";
import { WORD } from "./charset.js";
import {
  ASSERT_END,
  ASSERT_NONWORD,
  ASSERT_START,
  ASSERT_WORD,
  CHAR,
  JUMP,
  MATCH,
  type Nfa,
  RegexTooLarge,
  SPLIT,
} from "./regex-nfa.js";

const AT_START = 1;
const PREV_WORD = 2;
/** Final numbering: the search has matched / can no longer match. Live states follow. */
const ACCEPT = 0;
const DEAD = 1;

export interface DfaLimits {
  /** At most this many states. */
  readonly maxStates: number;
  /** At most this many table cells (states × character classes), which bounds memory and build time. */
  readonly maxCells: number;
  /** Told how many states and cells were built, also when the limits stop the construction. */
  readonly onBuilt?: (states: number, cells: number) => void;
}

interface Building {
  readonly seeds: Int32Array;
  readonly flags: number;
}

/** Compiles an NFA into a search function (true when the regex matches somewhere in the text). */
export function compileDfa(nfa: Nfa, limits: DfaLimits): (text: string) => boolean {
  const { kind, out1: o1, out2: o2, atom, start } = nfa;
  const n = kind.length;
  const usesWord = nfa.usesWordAssertions;
  let classes: ReturnType<typeof characterClasses>;
  try {
    classes = characterClasses(usesWord ? [...nfa.atoms, WORD] : nfa.atoms);
  } catch (err) {
    if (err instanceof TooManyClasses) throw new RegexTooLarge(err.message);
    throw err;
  }
  const C = classes.count;
  const wordClass = new Uint8Array(C);
  if (usesWord) for (const c of classes.members[nfa.atoms.length]!) wordClass[c] = 1;
  const cap = Math.max(1, Math.min(limits.maxStates, Math.floor(limits.maxCells / C) - 2));

  // Epsilon closure of `seeds` in a context; the CHAR states reached go to `reached`.
  const mark = new Int32Array(n).fill(-1);
  let generation = 0;
  const stack = new Int32Array(3 * n + 2);
  const reached = new Int32Array(n);
  /** Returns the number of CHAR states reached, or -1 when MATCH is reached. */
  const closure = (seeds: Int32Array, flags: number, atEnd: boolean, nextWord: boolean): number => {
    const atStart = (flags & AT_START) !== 0;
    const prevWord = (flags & PREV_WORD) !== 0;
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

  // Interning: states by a hash of (flags, seeds); -1 in a row stands for ACCEPT until renumbering.
  const states: Building[] = [];
  const byHash = new Map<number, number[]>();
  const intern = (seeds: Int32Array, flags: number): number => {
    let hash = 0x811c9dc5 ^ flags;
    for (let k = 0; k < seeds.length; k++) hash = Math.imul(hash ^ seeds[k]!, 0x01000193);
    const bucket = byHash.get(hash);
    if (bucket !== undefined) {
      for (const id of bucket) {
        const st = states[id]!;
        if (st.flags === flags && sameSeeds(st.seeds, seeds)) return id;
      }
    }
    if (states.length >= cap) {
      limits.onBuilt?.(states.length, states.length * C);
      const why = cap < limits.maxStates ? ` (it tells ${C} kinds of characters apart)` : "";
      throw new RegexTooLarge(`it needs more than ${cap} automaton states${why}; simplify it`);
    }
    const id = states.length;
    states.push({ seeds: seeds.slice(), flags });
    if (bucket !== undefined) bucket.push(id);
    else byHash.set(hash, [id]);
    return id;
  };

  const rows: Int32Array[] = [];
  const acceptsAtEnd: boolean[] = [];
  const targets: number[][] = Array.from({ length: C }, () => []);
  const scratch = new Int32Array(n + 1);
  const contexts = usesWord ? [false, true] : [false];
  intern(Int32Array.of(start), AT_START);
  for (let id = 0; id < states.length; id++) {
    const { seeds, flags } = states[id]!;
    const row = new Int32Array(C);
    for (const nextWord of contexts) {
      const applies = (c: number): boolean => !usesWord || (wordClass[c] === 1) === nextWord;
      const nextFlags = nextWord ? PREV_WORD : 0;
      const count = closure(seeds, flags, false, nextWord);
      if (count < 0) {
        for (let c = 0; c < C; c++) if (applies(c)) row[c] = -1;
        continue;
      }
      for (let k = 0; k < count; k++) {
        const s = reached[k]!;
        for (const c of classes.members[atom[s]!]!) if (applies(c)) targets[c]!.push(o1[s]!);
      }
      let restart = -2; // the state for "no NFA state moved", shared by many classes
      for (let c = 0; c < C; c++) {
        if (!applies(c)) continue;
        const list = targets[c]!;
        if (list.length === 0) {
          if (restart === -2) restart = intern(Int32Array.of(start), nextFlags);
          row[c] = restart;
          continue;
        }
        scratch[0] = start;
        for (let k = 0; k < list.length; k++) scratch[k + 1] = list[k]!;
        const sorted = scratch.subarray(0, list.length + 1).sort();
        let m = 1;
        for (let k = 1; k < sorted.length; k++) if (sorted[k] !== sorted[m - 1]) sorted[m++] = sorted[k]!;
        row[c] = intern(sorted.subarray(0, m), nextFlags);
        list.length = 0;
      }
    }
    rows.push(row);
    acceptsAtEnd.push(closure(seeds, flags, true, false) < 0);
  }
  // V8 (unlike the spec) also tries a match between the two halves of a surrogate pair, where no
  // character can be consumed and both neighbours count as non-word characters: an empty match
  // that only needs \B (or nothing) succeeds there. Matching V8 keeps `u` semantics as they were.
  const midPair = closure(Int32Array.of(start), 0, false, false) < 0;
  limits.onBuilt?.(rows.length, rows.length * C);
  return finish(rows, acceptsAtEnd, C, classes.latin, classes.classOf, midPair);
}

function sameSeeds(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * Merges every state that can no longer lead to a match into DEAD, numbers ACCEPT 0 and DEAD 1
 * (so the search loop stops on one comparison), and returns the search.
 */
function finish(
  rows: readonly Int32Array[],
  acceptsAtEnd: readonly boolean[],
  C: number,
  latin: Uint16Array,
  classOf: (cp: number) => number,
  midPair: boolean,
): (text: string) => boolean {
  const count = rows.length;
  // Live: accepts at the end, or some path leads to ACCEPT (reverse breadth-first search).
  const preds: number[][] = Array.from({ length: count }, () => []);
  const live = new Uint8Array(count);
  const queue: number[] = [];
  for (let s = 0; s < count; s++) {
    const row = rows[s]!;
    let toAccept = acceptsAtEnd[s]!;
    for (let c = 0; c < C; c++) {
      const t = row[c]!;
      if (t < 0) toAccept = true;
      else if (t !== s) preds[t]!.push(s);
    }
    if (toAccept) {
      live[s] = 1;
      queue.push(s);
    }
  }
  for (let q = 0; q < queue.length; q++) {
    for (const p of preds[queue[q]!]!) {
      if (live[p] === 0) {
        live[p] = 1;
        queue.push(p);
      }
    }
  }
  const number = new Int32Array(count);
  let next = 2;
  for (let s = 0; s < count; s++) number[s] = live[s] === 1 ? next++ : DEAD;
  const table = new Uint16Array(next * C);
  table.fill(DEAD, C, 2 * C);
  const atEnd = new Uint8Array(next);
  atEnd[ACCEPT] = 1;
  for (let s = 0; s < count; s++) {
    if (live[s] === 0) continue;
    const base = number[s]! * C;
    const row = rows[s]!;
    for (let c = 0; c < C; c++) {
      const t = row[c]!;
      table[base + c] = t < 0 ? ACCEPT : number[t]!;
    }
    atEnd[number[s]!] = acceptsAtEnd[s]! ? 1 : 0;
  }
  const initial = number[0]!;
  if (initial === DEAD) return () => false;
  return (text) => {
    const len = text.length;
    let s = initial;
    let i = 0;
    while (i < len) {
      let cp = text.charCodeAt(i++);
      if (cp >= 0xd800 && cp <= 0xdbff && i < len) {
        const lo = text.charCodeAt(i);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          if (midPair) return true;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i++;
        }
      }
      s = table[s * C + (cp < 256 ? latin[cp]! : classOf(cp))]!;
      if (s <= DEAD) return s === ACCEPT;
    }
    return atEnd[s] === 1;
  };
}
