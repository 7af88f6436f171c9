// The coarsest partition of the code points that a set of character sets cannot tell apart: two
// code points are in one class when every set holds both or neither. A DFA over classes needs one
// table column per class instead of one per code point; a regex's classes are few (a literal
// adds at most two, `\p{L}` about three however many ranges it has).
import { type CharSet, MAX_CODE_POINT } from "./charset.js";

export interface CharClasses {
  readonly count: number;
  /** For each input set, the classes it contains (ascending). */
  readonly members: readonly Uint16Array[];
  /** Maps a code point to its class, one array read below U+0100, a binary search above. */
  readonly classOf: (cp: number) => number;
  /** The class of U+0000..U+00FF (the matcher reads it directly). */
  readonly latin: Uint16Array;
}

/** Too many classes for a 16-bit table entry (far beyond what the DFA cell cap allows anyway). */
export class TooManyClasses extends Error {}

export function characterClasses(sets: readonly CharSet[]): CharClasses {
  // Elementary intervals: no set has a boundary inside one.
  const cuts = new Set<number>([0, 256]);
  for (const s of sets) {
    for (let k = 0; k < s.length; k += 2) {
      cuts.add(s[k]!);
      if (s[k + 1]! < MAX_CODE_POINT) cuts.add(s[k + 1]! + 1);
    }
  }
  const starts = Int32Array.from(cuts).sort();
  const n = starts.length;
  // Refine: split every class by membership in each set in turn.
  let cls = new Int32Array(n);
  let count = 1;
  const inSet = (s: CharSet, visit: (interval: number) => void): void => {
    let k = 0;
    for (let i = 0; i < n; i++) {
      const lo = starts[i]!;
      while (k < s.length && s[k + 1]! < lo) k += 2;
      if (k < s.length && s[k]! <= lo) visit(i);
    }
  };
  for (const s of sets) {
    const member = new Uint8Array(n);
    inSet(s, (i) => {
      member[i] = 1;
    });
    const remap = new Int32Array(count * 2).fill(-1);
    const next = new Int32Array(n);
    let nextCount = 0;
    for (let i = 0; i < n; i++) {
      const key = cls[i]! * 2 + member[i]!;
      if (remap[key] === -1) remap[key] = nextCount++;
      next[i] = remap[key]!;
    }
    cls = next;
    count = nextCount;
    if (count > 0xffff) throw new TooManyClasses("the regex distinguishes too many kinds of characters");
  }
  const members = sets.map((s) => {
    const seen = new Uint8Array(count);
    inSet(s, (i) => {
      seen[cls[i]!] = 1;
    });
    const list: number[] = [];
    for (let c = 0; c < count; c++) if (seen[c] === 1) list.push(c);
    return Uint16Array.from(list);
  });
  const latin = new Uint16Array(256);
  // Intervals from U+0100 up, adjacent ones of the same class merged.
  const highStarts: number[] = [];
  const highIds: number[] = [];
  for (let i = 0; i < n; i++) {
    const lo = starts[i]!;
    const hi = i + 1 < n ? starts[i + 1]! - 1 : MAX_CODE_POINT;
    if (lo < 256) latin.fill(cls[i]!, lo, Math.min(hi, 255) + 1);
    else if (highIds.length === 0 || highIds[highIds.length - 1] !== cls[i]) {
      highStarts.push(lo);
      highIds.push(cls[i]!);
    }
  }
  const hs = Int32Array.from(highStarts);
  const hid = Uint16Array.from(highIds);
  const last = hs.length - 1;
  const classOf = (cp: number): number => {
    if (cp < 256) return latin[cp]!;
    let lo = 0;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (hs[mid]! <= cp) lo = mid;
      else hi = mid - 1;
    }
    return hid[lo]!;
  };
  return { count, members, classOf, latin };
}
