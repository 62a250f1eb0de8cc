/**
 * Multi-Krum over g group means (Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine Learning
 * with Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017, arXiv:1703.02757: Krum
 * and Multi-Krum). Needs g > 2f + 2 and 1 ≤ m ≤ g − f; tolerates f poisoned means.
 *
 * 1. D[i][k] = ‖x_i − x_k‖² (`squaredDistance`: coordinate order, no FMA), for i < k, and
 *    D[k][i] = D[i][k].
 * 2. The score of i: its distances to the other means (k ≠ i) sorted ascending, the smallest
 *    c = g − f − 2 summed in that order from 0.
 * 3. The means sorted by (score, index); the first m are selected.
 * 4. The result: the selected means summed coordinate-wise in ascending group index from 0,
 *    each sum divided by m. Selected means weigh 1/m, the others 0.
 *
 * @module
 */
import { type RuleOutput, squaredDistance } from "./order.ts";

/** The symmetric matrix of squared distances (row-major, g × g, zero diagonal). */
export function pairwiseSquaredDistances(means: readonly Float64Array[]): Float64Array {
  const g = means.length;
  const out = new Float64Array(g * g);
  for (let i = 0; i < g; i++) {
    for (let k = i + 1; k < g; k++) {
      const v = squaredDistance(means[i], means[k]);
      out[i * g + k] = v;
      out[k * g + i] = v;
    }
  }
  return out;
}

/**
 * Krum scores within the set `members` (group indices, ascending) for f Byzantine means: for
 * each member i, the sum (ascending, from 0) of the c = max(0, |members| − f − 2) smallest
 * squared distances to the other members. `distances` is {@link pairwiseSquaredDistances} of
 * all g means. Returns the scores in the order of `members`.
 */
export function krumScores(
  distances: Float64Array,
  g: number,
  members: readonly number[],
  f: number,
): Float64Array {
  const c = Math.max(0, members.length - f - 2);
  const scores = new Float64Array(members.length);
  const row = new Float64Array(Math.max(0, members.length - 1));
  for (let a = 0; a < members.length; a++) {
    const i = members[a];
    let r = 0;
    for (const k of members) if (k !== i) row[r++] = distances[i * g + k];
    row.sort();
    let s = 0;
    for (let b = 0; b < c; b++) s += row[b];
    scores[a] = s;
  }
  return scores;
}

/**
 * The positions (into `members`) sorted by (score, group index): the Krum order, best first.
 */
export function krumOrder(scores: Float64Array, members: readonly number[]): number[] {
  return [...members.keys()].sort((a, b) =>
    scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : members[a] - members[b]
  );
}

/**
 * Multi-Krum of `means` for f Byzantine means, averaging the m best: pure, deterministic.
 * Refuses (RangeError) g ≤ 2f + 2 or m outside [1, g − f] (the rule's validation and
 * `checkGroupCount` say it first, with a typed error).
 */
export function multiKrum(means: readonly Float64Array[], f: number, m: number): RuleOutput {
  const g = means.length;
  if (g <= 2 * f + 2 || m < 1 || m > g - f) {
    throw new RangeError(`multi-krum: f = ${f}, m = ${m} do not fit g = ${g}`);
  }
  const d = means[0].length;
  const all = [...Array(g).keys()];
  const scores = krumScores(pairwiseSquaredDistances(means), g, all, f);
  const selected = krumOrder(scores, all).slice(0, m).sort((a, b) => a - b);
  const acc = new Float64Array(d);
  for (const i of selected) {
    const x = means[i];
    for (let j = 0; j < d; j++) acc[j] += x[j];
  }
  for (let j = 0; j < d; j++) acc[j] /= m;
  const weights = new Float64Array(g);
  for (const i of selected) weights[i] = 1 / m;
  return { result: acc, weights };
}
