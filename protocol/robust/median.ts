/**
 * Coordinate-wise median of g group means (Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust
 * Distributed Learning: Towards Optimal Statistical Rates", ICML 2018, arXiv:1803.01498,
 * the "coordinate-wise median"). Tolerates ⌊(g − 1)/2⌋ poisoned means.
 *
 * Per coordinate j: the values x_0[j], …, x_{g−1}[j] sorted by (value, group index); the middle
 * value for odd g, (a + b)/2 of the two middle values for even g. A mean's weight counts the
 * coordinates in which it is the middle value (or one of the two), divided by s·d, s = 1 for odd
 * g and 2 for even g.
 *
 * @module
 */
import { medianOfSorted, type RuleOutput, sharesOf, sortPairs } from "./order.ts";

/** The coordinate-wise median of `means` (≥ 1, all of one length d); pure and deterministic. */
export function coordinateMedian(means: readonly Float64Array[]): RuleOutput {
  const g = means.length;
  const d = means[0].length;
  const result = new Float64Array(d);
  const count = new Float64Array(g);
  const values = new Float64Array(g);
  const index = new Int32Array(g);
  const mid = g >> 1;
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < g; i++) {
      values[i] = means[i][j];
      index[i] = i;
    }
    sortPairs(values, index, g);
    result[j] = medianOfSorted(values, g);
    count[index[mid]]++;
    if (g % 2 === 0) count[index[mid - 1]]++;
  }
  return { result, weights: sharesOf(count, g % 2 === 1 ? 1 : 2, d) };
}

/** Just the coordinate-wise median vector (the norm filter's and Weiszfeld's starting point). */
export function medianVector(means: readonly Float64Array[]): Float64Array {
  return coordinateMedian(means).result;
}
