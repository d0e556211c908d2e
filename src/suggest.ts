/**
 * "Did you mean": the closest of the known words to a mistyped one.
 *
 * @module
 */

/** Edit distance (insertions, deletions, substitutions, and swaps of neighbours). */
function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * The known word a mistyped one most likely meant: the same in another case,
 * or one within two edits (one for short words), or the singular of a plural.
 *
 * @param word What was typed.
 * @param known The words that exist.
 * @returns The suggestion, or `undefined` when none is close.
 */
export function closest(word: string, known: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === lower ? 0 : distance(lower, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  const limit = word.length <= 4 ? 1 : 2;
  return best !== undefined && bestDistance <= limit && best !== word ? best : undefined;
}

/**
 * " (did you mean X?)" for a mistyped word, or nothing.
 *
 * @param word What was typed.
 * @param known The words that exist.
 * @param show How to write the suggestion (an option with its dashes).
 * @returns The phrase to append.
 */
export function didYouMean(
  word: string,
  known: Iterable<string>,
  show: (word: string) => string = (w) => `"${w}"`,
): string {
  const match = closest(word, known);
  return match === undefined ? "" : `; did you mean ${show(match)}?`;
}
