// Sets of code points as sorted, disjoint, non-adjacent inclusive ranges, flattened:
// [lo0, hi0, lo1, hi1, ...]. The regex compiler needs whole sets (not predicates) to split the
// code point space into the few classes a DFA distinguishes.

export type CharSet = readonly number[];

export const MAX_CODE_POINT = 0x10ffff;

export const EMPTY: CharSet = [];
export const ANY: CharSet = [0, MAX_CODE_POINT];
export const DIGIT: CharSet = [48, 57];
export const WORD: CharSet = [48, 57, 65, 90, 95, 95, 97, 122];
/** ECMAScript WhiteSpace and LineTerminator (`\s`); the tests check it against the native engine. */
export const SPACE: CharSet = [
  9, 13, 32, 32, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f,
  0x3000, 0x3000, 0xfeff, 0xfeff,
];
/** What `.` matches without the `s` flag: everything but the line terminators. */
export const DOT: CharSet = [0, 9, 11, 12, 14, 0x2027, 0x202a, MAX_CODE_POINT];

export function single(cp: number): CharSet {
  return [cp, cp];
}

/** Sorts and merges arbitrary inclusive ranges (`lo <= hi` each). */
export function fromRanges(ranges: readonly (readonly [number, number])[]): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of sorted) {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1]! + 1) {
      if (hi > out[n - 1]!) out[n - 1] = hi;
    } else out.push(lo, hi);
  }
  return out;
}

export function union(sets: readonly CharSet[]): CharSet {
  const ranges: [number, number][] = [];
  for (const s of sets) for (let k = 0; k < s.length; k += 2) ranges.push([s[k]!, s[k + 1]!]);
  return fromRanges(ranges);
}

export function complement(set: CharSet): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let k = 0; k < set.length; k += 2) {
    if (set[k]! > next) out.push(next, set[k]! - 1);
    next = set[k + 1]! + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return out;
}

/** The single code point of a one-element set, or undefined. */
export function soleMember(set: CharSet): number | undefined {
  return set.length === 2 && set[0] === set[1] ? set[0] : undefined;
}
