/**
 * The norm filter that may precede any rule: drop the group means whose L2 distance to the
 * coordinate-wise median exceeds τ times the median of those distances (the distance bound of
 * zPROBE, Ghodsi et al., "zPROBE: Zero Peek Robustness Checks for Federated Learning", ICCV
 * 2023, arXiv:2206.12100, which bounds each update's distance from a median; here the scale is
 * the median distance).
 *
 * 1. c = the coordinate-wise median of all g means (`median.ts`).
 * 2. δ_i = √‖x_i − c‖² (`squaredDistance(x_i, c)`, then `sqrt`), for each i.
 * 3. M = the median of the δ_i (sorted by (value, index); middle, or (a + b)/2 for even g).
 * 4. Kept: the i with δ_i ≤ τ·M (one float64 product).
 * 5. If fewer than `keepAtLeast` are kept (the rule's minimum group count), the `keepAtLeast`
 *    first by (δ_i, index) are kept instead.
 *
 * The kept means go to the rule in ascending group index. With τ ≥ 1 at most ⌊g/2⌋ means
 * exceed the threshold; a mean within τ·M is not dropped however it was made.
 *
 * @module
 */
import { medianVector } from "./median.ts";
import { medianOfSorted, sortPairs, squaredDistance } from "./order.ts";

/** What the filter decided. */
export interface NormFilterOutput {
  /** Group indices kept, ascending. */
  readonly kept: number[];
  /** Each mean's distance δ_i to the coordinate-wise median. */
  readonly distances: Float64Array;
  /** τ·M: the largest distance kept (unless the floor of `keepAtLeast` applied). */
  readonly threshold: number;
}

/** Runs the filter on `means` (≥ 1, one length d) with τ and a floor of `keepAtLeast` ≥ 1. */
export function normFilter(
  means: readonly Float64Array[],
  tau: number,
  keepAtLeast: number,
): NormFilterOutput {
  const g = means.length;
  const center = medianVector(means);
  const distances = new Float64Array(g);
  for (let i = 0; i < g; i++) distances[i] = Math.sqrt(squaredDistance(means[i], center));
  const sorted = distances.slice();
  const order = Int32Array.from({ length: g }, (_, i) => i);
  sortPairs(sorted, order, g);
  const threshold = tau * medianOfSorted(sorted, g);
  let kept: number[] = [];
  for (let i = 0; i < g; i++) if (distances[i] <= threshold) kept.push(i);
  if (kept.length < keepAtLeast) {
    kept = Array.from(order.slice(0, Math.min(keepAtLeast, g))).sort((a, b) => a - b);
  }
  return { kept, distances, threshold };
}
