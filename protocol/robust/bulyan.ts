/**
 * Bulyan over g group means (El Mhamdi, Guerraoui, Rouault, "The Hidden Vulnerability of
 * Distributed Learning in Byzantium", ICML 2018, arXiv:1802.07927, the Bulyan algorithm with Krum
 * as the selection rule). Needs g ≥ 4f + 3; tolerates f poisoned means.
 *
 * 1. Selection: θ = g − 2f. R = all means, S = ∅. While |S| < θ: the Krum scores within R
 *    (`krumScores`: c = max(0, |R| − f − 2) nearest, so the last picks, where |R| ≤ f + 2, score
 *    0 and go by index); the member of R first by (score, index) moves from R to S.
 * 2. Aggregation, per coordinate j, with β = θ − 2f: the median μ of the selected values
 *    (sorted by (value, index); middle, or (a + b)/2 for even θ); each selected i's deviation
 *    |x_i[j] − μ| (one subtraction, then the absolute value); the selected sorted by
 *    (deviation, index); the first β summed in that order from 0, the sum divided by β.
 *    A mean's weight counts the coordinates in which it is among those β, divided by β·d.
 *
 * @module
 */
import { krumOrder, krumScores, pairwiseSquaredDistances } from "./multi_krum.ts";
import { medianOfSorted, type RuleOutput, sharesOf, sortPairs } from "./order.ts";

/** The θ = g − 2f means Bulyan's recursive Krum selects, in the order it selects them. */
export function bulyanSelection(means: readonly Float64Array[], f: number): number[] {
  const g = means.length;
  const distances = pairwiseSquaredDistances(means);
  const remaining = [...Array(g).keys()];
  const selected: number[] = [];
  while (selected.length < g - 2 * f) {
    const scores = krumScores(distances, g, remaining, f);
    const best = krumOrder(scores, remaining)[0];
    selected.push(remaining[best]);
    remaining.splice(best, 1);
  }
  return selected;
}

/**
 * Bulyan of `means` for f Byzantine means: pure, deterministic. Refuses (RangeError) g < 4f + 3
 * (the rule's validation and `checkGroupCount` say it first, with a typed error).
 */
export function bulyan(means: readonly Float64Array[], f: number): RuleOutput {
  const g = means.length;
  if (g < 4 * f + 3) throw new RangeError(`bulyan: f = ${f} needs g ≥ ${4 * f + 3}, got ${g}`);
  const d = means[0].length;
  const theta = g - 2 * f;
  const beta = theta - 2 * f;
  const selected = bulyanSelection(means, f);
  const sorted = new Float64Array(theta);
  const sortedIndex = new Int32Array(theta);
  const deviation = new Float64Array(theta);
  const byDeviation = new Int32Array(theta);
  const value = new Float64Array(g); // the coordinate's value, by group
  const result = new Float64Array(d);
  const count = new Float64Array(g);
  for (let j = 0; j < d; j++) {
    for (let a = 0; a < theta; a++) {
      const i = selected[a];
      value[i] = sorted[a] = means[i][j];
      sortedIndex[a] = i;
    }
    sortPairs(sorted, sortedIndex, theta);
    const mu = medianOfSorted(sorted, theta);
    for (let a = 0; a < theta; a++) {
      const i = selected[a];
      deviation[a] = Math.abs(value[i] - mu);
      byDeviation[a] = i;
    }
    sortPairs(deviation, byDeviation, theta);
    let sum = 0;
    for (let b = 0; b < beta; b++) {
      const i = byDeviation[b];
      sum += value[i];
      count[i]++;
    }
    result[j] = sum / beta;
  }
  return { result, weights: sharesOf(count, beta, d) };
}
