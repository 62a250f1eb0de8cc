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
 * Sorts `order[0..count)` (indices into `values`) ascending by (values[i], i): by value, ties
 * (equal values, −0 equal to +0) by the lower index. The order is total, so every correct sort
 * gives the same permutation; insertion sort for short lists, the built-in sort otherwise.
 */
export function sortByValueThenIndex(
  values: Float64Array,
  order: Int32Array | number[],
  count: number = order.length,
): void {
  if (count <= 32) {
    for (let a = 1; a < count; a++) {
      const key = order[a];
      const kv = values[key];
      let b = a - 1;
      while (b >= 0) {
        const o = order[b];
        const ov = values[o];
        if (ov > kv || (ov === kv && o > key)) {
          order[b + 1] = o;
          b--;
        } else break;
      }
      order[b + 1] = key;
    }
    return;
  }
  const sorted = Array.from(order.slice(0, count)).sort((a, b) =>
    values[a] < values[b] ? -1 : values[a] > values[b] ? 1 : a - b
  );
  for (let i = 0; i < count; i++) order[i] = sorted[i];
}

/**
 * The median of `count` values taken in the sorted order `order`: the middle value for an odd
 * count, (a + b) / 2 of the two middle values a ≤ b for an even count (one addition, one
 * division by 2, in float64). Refuses (RangeError) an empty list.
 */
export function medianOfSorted(
  values: Float64Array,
  order: Int32Array | number[],
  count: number = order.length,
): number {
  if (count < 1) throw new RangeError("median of no values");
  const mid = count >> 1;
  return count % 2 === 1 ? values[order[mid]] : (values[order[mid - 1]] + values[order[mid]]) / 2;
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

/** The identity permutation 0..n−1 as an Int32Array. */
export function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** Shares count[i] / (perCoordinate · d): the weights of a rule that averages s values. */
export function sharesOf(count: Float64Array, perCoordinate: number, d: number): Float64Array {
  const out = new Float64Array(count.length);
  const total = perCoordinate * d;
  for (let i = 0; i < count.length; i++) out[i] = count[i] / total;
  return out;
}
