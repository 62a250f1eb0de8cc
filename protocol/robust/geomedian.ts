/**
 * Geometric median of g group means by smoothed Weiszfeld iterations (Pillutla, Kakade,
 * Harchaoui, "Robust Aggregation for Federated Learning", IEEE Trans. Signal Processing 2022,
 * arXiv:1912.13445, RFA with the smoothed Weiszfeld algorithm, all weights α_i equal
 * because rules ignore group weights). Breakdown point 1/2: tolerates ⌊(g − 1)/2⌋ poisoned means.
 *
 * Start: v = the coordinate-wise median (`median.ts`; the paper starts at the mean, which a
 * single far mean drags away; the fixed point is the same). Then `iterations` times:
 *
 * 1. for each i ascending: δ_i = √‖v − x_i‖² (`squaredDistance(v, x_i)`, then `sqrt`),
 *    w_i = 1 / max(ν, δ_i) (ν when δ_i ≤ ν: the smoothing, which also settles the tie of v on a
 *    mean);
 * 2. W = Σ w_i in ascending i from 0;
 * 3. per coordinate j: a_j = Σ_i w_i·x_i[j] in ascending i from 0 (a product, then a sum), and
 *    v'[j] = a_j / W;
 * 4. v = v'. When v' equals v in every coordinate the remaining iterations would repeat it (the
 *    next weights depend on v only through the δ_i), so the loop may stop: the result is the same.
 *
 * A mean's weight is its w_i / W of the last iteration.
 *
 * @module
 */
import { medianVector } from "./median.ts";
import { type RuleOutput, squaredDistance } from "./order.ts";

/**
 * The smoothed-Weiszfeld geometric median of `means` after `iterations` (≥ 1) steps with
 * smoothing ν > 0: pure, deterministic.
 */
export function geometricMedian(
  means: readonly Float64Array[],
  iterations: number,
  nu: number,
): RuleOutput {
  const g = means.length;
  const d = means[0].length;
  let v = medianVector(means);
  const w = new Float64Array(g);
  let total = 0;
  for (let t = 0; t < iterations; t++) {
    total = 0;
    for (let i = 0; i < g; i++) {
      const delta = Math.sqrt(squaredDistance(v, means[i]));
      w[i] = 1 / (delta > nu ? delta : nu);
      total += w[i];
    }
    const next = new Float64Array(d);
    for (let i = 0; i < g; i++) {
      const x = means[i];
      const wi = w[i];
      for (let j = 0; j < d; j++) next[j] += wi * x[j];
    }
    let same = true;
    for (let j = 0; j < d; j++) {
      next[j] /= total;
      if (next[j] !== v[j]) same = false;
    }
    v = next;
    if (same) break;
  }
  const weights = new Float64Array(g);
  for (let i = 0; i < g; i++) weights[i] = w[i] / total;
  return { result: v, weights };
}
