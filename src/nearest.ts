/** Suggestions for a mistyped word: candidates ordered by edit distance, case ignored. */

/** The candidates, nearest to `word` first (ties keep their order). */
export function nearestFirst(word: string, candidates: readonly string[]): string[] {
  const lower = word.toLowerCase();
  return candidates
    .map((candidate, index) => ({ candidate, index, distance: editDistance(lower, candidate.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance || a.index - b.index)
    .map((entry) => entry.candidate);
}

/** The candidate nearest to `word` ("" when there is none). */
export function nearest(word: string, candidates: readonly string[]): string {
  return nearestFirst(word, candidates)[0] ?? "";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
