/**
 * The orderings and reductions every robust rule shares, each fixed to the float operation so
 * that any implementation of `docs/protocol.md` ("Robust rules") gets the same bits: the order
 * of values by (value, index), the median of a sorted list, the sequential sum of squares.
 *
 * @module
 */

/** What a rule returns for the means it was given. */
export interface RuleOutput {
  /** The combined vector (length d). */
  readonly result: Float64Array;
  /**
   * Each mean's share of the result, averaged over coordinates: the coefficient its values
   * carry in the output (1/s when it is one of the s values averaged in a coordinate, 0 when
   * it is left out), summed over coordinates and divided by d; Weiszfeld's final normalized
   * weight for the geometric median. The shares sum to 1 up to rounding. A diagnostic: it names
   * the means a rule discarded (0) or down-weighted, and is itself specified exactly.
   */
  readonly weights: Float64Array;
}

/**
 * Sorts the pairs (values[r], index[r]), r < count, in place, ascending by value and equal
 * values (−0 equal to +0) by the lower index: `values` and `index` move together, so afterwards
 * values[r] is the r-th value and index[r] the group it came from. The order is total, so every
 * correct sort gives the same result; insertion sort for short lists, the built-in sort
 * otherwise.
 */
export function sortPairs(values: Float64Array, index: Int32Array, count: number): void {
  if (count <= 32) {
    for (let a = 1; a < count; a++) {
      const v = values[a];
      const k = index[a];
      let b = a - 1;
      while (b >= 0) {
        const w = values[b];
        if (w > v || (w === v && index[b] > k)) {
          values[b + 1] = w;
          index[b + 1] = index[b];
          b--;
        } else break;
      }
      values[b + 1] = v;
      index[b + 1] = k;
    }
    return;
  }
  const order = Array.from({ length: count }, (_, r) => r).sort((a, b) =>
    values[a] < values[b] ? -1 : values[a] > values[b] ? 1 : index[a] - index[b]
  );
  const v = order.map((r) => values[r]);
  const k = order.map((r) => index[r]);
  for (let r = 0; r < count; r++) {
    values[r] = v[r];
    index[r] = k[r];
  }
}

/**
 * The median of the first `count` values of an ascending array: the middle value for an odd
 * count, (a + b) / 2 of the two middle values a ≤ b for an even count (one addition, one
 * division by 2, in float64). Refuses (RangeError) an empty list.
 */
export function medianOfSorted(sorted: Float64Array, count: number): number {
  if (count < 1) throw new RangeError("median of no values");
  const mid = count >> 1;
  return count % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * ‖a − b‖² summed in coordinate order: s = 0; for j = 0..d−1: t = a[j] − b[j]; s = s + t·t
 * (no fused multiply-add; JavaScript has none). Symmetric bit for bit (b − a = −(a − b)).
 */
export function squaredDistance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

/** Shares count[i] / (perCoordinate · d): the weights of a rule that averages s values. */
export function sharesOf(count: Float64Array, perCoordinate: number, d: number): Float64Array {
  const out = new Float64Array(count.length);
  const total = perCoordinate * d;
  for (let i = 0; i < count.length; i++) out[i] = count[i] / total;
  return out;
}
