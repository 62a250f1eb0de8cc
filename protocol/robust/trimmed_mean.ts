/**
 * Coordinate-wise β-trimmed mean of g group means (Yin, Chen, Ramchandran, Bartlett,
 * "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates", ICML 2018,
 * arXiv:1803.01498, the "coordinate-wise trimmed mean"). With k = ⌊β·g⌋ (the float64
 * product, floored), it tolerates k poisoned means.
 *
 * Per coordinate j: the values sorted by (value, group index); the k smallest and the k largest
 * are dropped; the remaining s = g − 2k are summed in sorted order from 0 and the sum divided by
 * s. A mean's weight counts the coordinates in which it is kept, divided by s·d.
 *
 * @module
 */
import { type RuleOutput, sharesOf, sortPairs } from "./order.ts";

/** The number of values trimmed from each end: ⌊β·g⌋ in float64. */
export function trimCount(beta: number, g: number): number {
  return Math.floor(beta * g);
}

/**
 * The coordinate-wise β-trimmed mean of `means` (≥ 1, one length d), β ∈ [0, 1/2) (checked by
 * the rule's validation; this refuses with a RangeError a β that would leave no value).
 */
export function trimmedMean(means: readonly Float64Array[], beta: number): RuleOutput {
  const g = means.length;
  const d = means[0].length;
  const k = trimCount(beta, g);
  const s = g - 2 * k;
  if (!(k >= 0 && s >= 1)) {
    throw new RangeError(`trimmed mean: β = ${beta} leaves no value of ${g}`);
  }
  const result = new Float64Array(d);
  const count = new Float64Array(g);
  const values = new Float64Array(g);
  const index = new Int32Array(g);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < g; i++) {
      values[i] = means[i][j];
      index[i] = i;
    }
    sortPairs(values, index, g);
    let sum = 0;
    for (let r = k; r < g - k; r++) {
      sum += values[r];
      count[index[r]]++;
    }
    result[j] = sum / s;
  }
  return { result, weights: sharesOf(count, s, d) };
}
