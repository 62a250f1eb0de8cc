/**
 * The complementary error function and its inverse in float64, for the planning side of
 * distributed DP (tail probabilities of modular clipping, the number of standard deviations a
 * target probability implies). Never used in a sampling decision.
 *
 * erfc(x) is the Maclaurin series of erf for |x| < 2 (at most e^4 ≈ 55× cancellation, so about
 * 1e-14 absolute) and the classical continued fraction
 * erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) for x ≥ 2 (modified Lentz),
 * accurate to a few ulps relative; erfc(−x) = 2 − erfc(x).
 *
 * @module
 */

const SQRT_PI = Math.sqrt(Math.PI);

/** erfc(x) = 1 − erf(x), to about 1e-13 relative wherever erfc(x) > 1e-300. NaN for NaN. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) return 1 - erfSeries(x);
  if (x > 27.3) return 0; // below the smallest float64
  return erfcContinuedFraction(x);
}

function erfSeries(x: number): number {
  // erf(x) = 2/√π · Σ_n (−1)^n x^{2n+1} / (n! (2n+1))
  const x2 = x * x;
  let term = x; // (−1)^n x^{2n+1} / n!
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / SQRT_PI) * sum;
}

function erfcContinuedFraction(x: number): number {
  // erfc(x) = e^{−x²}/√π · K, K = 1/(x + a1/(x + a2/(x + …))), a_k = k/2. Modified Lentz.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / SQRT_PI / f;
}

/**
 * The x ≥ 0 with erfc(x) = p, for p in (0, 1], by bisection to float64 resolution. Refuses
 * (RangeError) p outside (0, 1].
 */
export function erfcInverse(p: number): number {
  if (!(p > 0 && p <= 1)) throw new RangeError(`erfcInverse: ${p} is not in (0, 1]`);
  let lo = 0, hi = 27.3;
  for (let i = 0; i < 200 && hi - lo > 0; i++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    if (erfc(mid) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
