/**
 * Tail bounds of the hypergeometric distribution, in log space: how likely it is that a random
 * neighbourhood of k members holds at least a given number of corrupt (or dropped) ones. The
 * SecAgg+ parameter choice (`secagg_plus.ts`) is built on these; they are exported for it and
 * for the tests that compare them with SciPy.
 *
 * @module
 */

/** ln(x!) for x = 0..length−1, grown on demand (see {@link lnFactorial}). */
let lnFactorials = new Float64Array([0, 0]);

/** ln(x!), from a table grown on demand. */
export function lnFactorial(x: number): number {
  if (x >= lnFactorials.length) {
    const table = new Float64Array(Math.max(x + 1, 2 * lnFactorials.length));
    table.set(lnFactorials);
    for (let i = lnFactorials.length; i < table.length; i++) table[i] = lnFactorialUncached(i);
    lnFactorials = table;
  }
  return lnFactorials[x];
}

/**
 * ln(x!) computed independently for each x (no error accumulated along the table): the exact
 * product for small x, the Stirling series (truncation error below 1e-19 for x > 20) above.
 */
function lnFactorialUncached(x: number): number {
  if (x <= 20) {
    let p = 1;
    for (let i = 2; i <= x; i++) p *= i;
    return Math.log(p);
  }
  const inv = 1 / x;
  const inv2 = inv * inv;
  return x * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI * x) +
    inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)));
}

/** ln C(a, b); −∞ when b is outside [0, a]. */
function lnBinomial(a: number, b: number): number {
  if (b < 0 || b > a) return -Infinity;
  return lnFactorial(a) - lnFactorial(b) - lnFactorial(a - b);
}

function lnAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/** Support [lo, hi] of the hypergeometric distribution HG(population, successes, draws). */
export function support(population: number, successes: number, draws: number): [number, number] {
  return [Math.max(0, draws - (population - successes)), Math.min(draws, successes)];
}

/** ln P[X = x] for X ~ HG(population, successes, draws). */
export function lnHyperPmf(
  population: number,
  successes: number,
  draws: number,
  x: number,
): number {
  return lnBinomial(successes, x) + lnBinomial(population - successes, draws - x) -
    lnBinomial(population, draws);
}

/** Terms whose total is below e^−CUTOFF of the running sum are bounded, not summed (2^−60). */
const LN_CUTOFF = 60 * Math.LN2;

/**
 * ln P[X ≥ atLeast] for X ~ HG(population, successes, draws), an upper bound tight to a relative
 * 2^−60 (plus rounding). The pmf is unimodal, so the sum starts at the mode (or at `atLeast`
 * above it) and walks outwards over non-increasing terms; once the remaining `r` terms, each at
 * most the last one seen, total below 2^−60 of the sum, `r ·` that term is added instead of them.
 * The cost is therefore O(standard deviation · √60), not O(draws).
 */
export function lnHyperTail(
  population: number,
  successes: number,
  draws: number,
  atLeast: number,
): number {
  const [lo, hi] = support(population, successes, draws);
  if (atLeast <= lo) return 0;
  if (atLeast > hi) return -Infinity;
  const mode = Math.min(
    hi,
    Math.max(lo, Math.floor(((draws + 1) * (successes + 1)) / (population + 2))),
  );
  const start = Math.max(atLeast, mode);
  let acc = -Infinity;
  // Upwards from start: terms non-increasing (start ≥ mode).
  for (let x = start; x <= hi; x++) {
    const term = lnHyperPmf(population, successes, draws, x);
    acc = lnAddExp(acc, term);
    const rest = hi - x;
    if (rest > 0 && term + Math.log(rest) < acc - LN_CUTOFF) {
      acc = lnAddExp(acc, term + Math.log(rest));
      break;
    }
  }
  // Downwards from start − 1 to atLeast: terms non-increasing (all below the mode).
  for (let x = start - 1; x >= atLeast; x--) {
    const term = lnHyperPmf(population, successes, draws, x);
    acc = lnAddExp(acc, term);
    const rest = x - atLeast;
    if (rest > 0 && term + Math.log(rest) < acc - LN_CUTOFF) {
      acc = lnAddExp(acc, term + Math.log(rest));
      break;
    }
  }
  return Math.min(0, acc);
}

/** The smallest `a` with ln P[X ≥ a] ≤ lnTarget (binary search; the tail falls as `a` grows). */
export function smallestTailAtMost(
  population: number,
  successes: number,
  draws: number,
  lnTarget: number,
): number {
  if (lnTarget >= 0) return 0;
  const [lo, hi] = support(population, successes, draws);
  // tail(lo) = 1 > target and tail(hi + 1) = 0 ≤ target; the answer lies in (lo, hi + 1].
  let low = lo;
  let high = hi + 1;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (lnHyperTail(population, successes, draws, mid) <= lnTarget) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * log₂ P[X ≥ atLeast] for X hypergeometric: `draws` items taken without replacement from a
 * `population` containing `successes` marked items, X = number of marked items drawn.
 * An upper bound tight to a relative 2^−60 plus floating-point rounding (log-space sum outwards
 * from the mode, log-factorials from a cached table); returns 0 when the event is certain and
 * −∞ when it is impossible.
 * Refuses (RangeError) arguments that are not integers with
 * `0 ≤ successes ≤ population` and `0 ≤ draws ≤ population`.
 */
export function log2HypergeometricTail(
  population: number,
  successes: number,
  draws: number,
  atLeast: number,
): number {
  for (const x of [population, successes, draws, atLeast]) {
    if (!Number.isSafeInteger(x)) throw new RangeError(`not an integer: ${x}`);
  }
  if (successes < 0 || successes > population || draws < 0 || draws > population) {
    throw new RangeError("need 0 ≤ successes ≤ population and 0 ≤ draws ≤ population");
  }
  return lnHyperTail(population, successes, draws, atLeast) / Math.LN2;
}
