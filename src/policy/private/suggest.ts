// "Did you mean" hints for misspelt keys and operators.

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(best.length / 3));
  if (bestScore <= limit) return best;
  // `tgt` for `target`: the letters in order, same first letter.
  const isSubsequence = (c: string): boolean => {
    let k = 0;
    for (const ch of c.toLowerCase()) if (ch === w[k]) k++;
    return k === w.length;
  };
  const bySubsequence = candidates.find(
    (c) => w.length >= 2 && c[0]?.toLowerCase() === w[0] && isSubsequence(c),
  );
  if (bySubsequence !== undefined) return bySubsequence;
  // `gt` for `param_gt`, `contains` for `param_contains`, ...
  const byAffix = candidates.find((c) => w.length >= 2 && (c.endsWith(`_${w}`) || c.startsWith(`${w}_`)));
  return byAffix;
}

export function didYouMean(word: string, candidates: readonly string[]): string {
  const hit = closest(word, candidates);
  return hit !== undefined ? ` (did you mean "${hit}"?)` : "";
}
