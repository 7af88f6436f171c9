// The code points of a Unicode property escape (`\p{L}`, `\p{Script=Greek}`, ...), computed once per
// property by letting the native engine scan a string of every code point: the engine is the
// authority on what a property means in this Node version, and one linear scan of a single-
// character class cannot backtrack. Costly (tens of milliseconds), hence the cache; the loader
// also bounds how many distinct properties one policy may use.
import { Buffer } from "node:buffer";
import { type CharSet, complement, fromRanges } from "./charset.js";

/** Code points U+0000..U+DBFF, then U+DC00..U+10FFFF: split so that no lone surrogate pairs up. */
let universe: readonly [string, string] | undefined;
/** Index in the second string of U+10000 (each astral code point takes two code units). */
const ASTRAL_OFFSET = 0x10000 - 0xdc00;

function build(lo: number, hi: number): string {
  const units = new Uint16Array(hi - lo + 1 + Math.max(0, hi - Math.max(lo, 0x10000) + 1));
  let n = 0;
  for (let cp = lo; cp <= hi; cp++) {
    if (cp > 0xffff) {
      const v = cp - 0x10000;
      units[n++] = 0xd800 + (v >> 10);
      units[n++] = 0xdc00 + (v & 0x3ff);
    } else units[n++] = cp;
  }
  // Decoding UTF-16LE keeps lone surrogates as they are (TextDecoder would replace them).
  return Buffer.from(units.buffer, units.byteOffset, n * 2).toString("utf16le");
}

function cpAt(part: 0 | 1, index: number): number {
  if (part === 0) return index;
  return index < ASTRAL_OFFSET ? 0xdc00 + index : 0x10000 + ((index - ASTRAL_OFFSET) >> 1);
}

function scan(property: string): CharSet {
  universe ??= [build(0, 0xdbff), build(0xdc00, 0x10ffff)];
  const re = new RegExp(`(?:${property})+`, "gu");
  const ranges: [number, number][] = [];
  for (const part of [0, 1] as const) {
    const text = universe[part];
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const end = m.index + m[0].length;
      ranges.push([cpAt(part, m.index), cpAt(part, end - 1)]);
    }
  }
  return fromRanges(ranges);
}

const cache = new Map<string, CharSet>();
/** More than the number of distinct properties ECMAScript defines (spelt one way each). */
const MAX_CACHED = 1024;

/** The set of `\p{...}` or `\P{...}` (the source as written, already accepted by the native engine). */
export function propertySet(property: string): CharSet {
  const positive = `\\p${property.slice(2)}`;
  let set = cache.get(positive);
  if (set === undefined) {
    set = scan(positive);
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    cache.set(positive, set);
  }
  return property[1] === "P" ? complement(set) : set;
}
