/**
 * The exact sampler of the discrete Gaussian of Canonne, Kamath and Steinke, "The Discrete
 * Gaussian for Differential Privacy" (NeurIPS 2020, arXiv:2004.00010), Section 5:
 *
 * - Algorithm 1: Bernoulli(exp(−γ)) for a rational γ ≥ 0 ({@link bernoulliExp});
 * - Algorithm 2: the discrete Laplace `Lap_Z(t/s)`, P[x] ∝ exp(−|x|·s/t) ({@link discreteLaplace});
 * - Algorithm 3: the discrete Gaussian `N_Z(0, σ²)`, P[x] ∝ exp(−x²/(2σ²)), by rejection from
 *   `Lap_Z(⌊σ⌋ + 1)` ({@link discreteGaussian}).
 *
 * Every accept/reject step is exact: parameters are rationals of BigInts ({@link Rational}); the
 * primitives are uniform bits and uniform integers below a bound (by rejection), from the bytes
 * of an {@link Rng} (the operating system's CSPRNG in a node, a seeded ChaCha20 stream in tests),
 * and a Bernoulli(num/den) compares uniform bits with the expansion of num/den ({@link bernoulli}). No
 * floating-point number enters a decision, so the output distribution is exactly the stated one
 * (given uniform bytes). Memory is constant: a few BigInts whose size is that of the parameters
 * (the loops keep no history). Running time is random (expected O(1) draws per sample for a
 * fixed σ²) and grows with the bit length of the rationals' numerators and denominators: pass σ²
 * as a small fraction (`{num: 9n, den: 4n}`), not as the exact binary value of a float64 when
 * speed matters.
 *
 * Timing: the number of draws depends on the sample, as in the paper; the sample itself is
 * secret (it is a member's noise), so callers must not let the time one sample takes leak to a
 * party that sees the noisy value in the clear (inside secure aggregation nobody does).
 *
 * @module
 */
import type { Rng } from "../crypto/random.ts";

/** A non-negative rational `num/den` (den > 0), kept in lowest terms by {@link rational}. */
export interface Rational {
  /** The numerator, ≥ 0. */
  readonly num: bigint;
  /** The denominator, > 0. */
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/**
 * The rational `num/den` in lowest terms. Refuses (RangeError) a negative numerator, a
 * denominator ≤ 0, and numbers that are not integers.
 */
export function rational(num: bigint | number, den: bigint | number = 1n): Rational {
  if (typeof num === "number" && !Number.isSafeInteger(num)) {
    throw new RangeError(`rational: numerator ${num} is not a safe integer`);
  }
  if (typeof den === "number" && !Number.isSafeInteger(den)) {
    throw new RangeError(`rational: denominator ${den} is not a safe integer`);
  }
  const n = BigInt(num), d = BigInt(den);
  if (n < 0n) throw new RangeError("rational: the numerator must be ≥ 0");
  if (d <= 0n) throw new RangeError("rational: the denominator must be > 0");
  const g = gcd(n, d);
  return g > 1n ? { num: n / g, den: d / g } : { num: n, den: d };
}

/**
 * The exact value of a finite, non-negative float64 as a rational (every float64 is a dyadic
 * rational `m·2^e`). Refuses (RangeError) negative, infinite and NaN values.
 */
export function rationalFromNumber(x: number): Rational {
  if (!Number.isFinite(x) || x < 0) {
    throw new RangeError(`rationalFromNumber: ${x} is not a finite number ≥ 0`);
  }
  if (x === 0) return { num: 0n, den: 1n };
  // Scale by 2 until the value is an integer (at most 1074 doublings, all exact).
  let den = 1n;
  let v = x;
  while (!Number.isInteger(v)) {
    v *= 2;
    den *= 2n;
  }
  return rational(BigInt(v), den);
}

/**
 * The smallest multiple of 2^−`bits` that is ≥ x, as a rational: a variance planned in float64
 * rounded up to a short fraction, so sampling stays fast and the noise is never below plan.
 * Exact (x·2^bits is exact in float64). Refuses (RangeError) negative or non-finite x and bits
 * outside [0, 52].
 */
export function rationalAtLeast(x: number, bits = 10): Rational {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`rationalAtLeast: ${x} is not ≥ 0`);
  if (!Number.isInteger(bits) || bits < 0 || bits > 52) {
    throw new RangeError(`rationalAtLeast: bits must be an integer in [0, 52], got ${bits}`);
  }
  const scaled = Math.ceil(x * 2 ** bits);
  if (!Number.isSafeInteger(scaled)) return rational(BigInt(scaled), 1n << BigInt(bits));
  return rational(scaled, 2 ** bits);
}

/**
 * A source of uniform integers drawn from an {@link Rng}, buffered (the generator is called for
 * 256 bytes at a time, not for every draw). Not safe to share between two users that must not
 * see each other's randomness: give each its own.
 */
export class UniformSource {
  readonly #rng: Rng;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #bits = 0;
  #bitCount = 0;

  /** A source reading the bytes of `rng`. */
  constructor(rng: Rng) {
    this.#rng = rng;
  }

  #byte(): number {
    if (this.#pos === this.#buf.length) {
      this.#buf.fill(0);
      this.#buf = this.#rng(256);
      this.#pos = 0;
    }
    return this.#buf[this.#pos++];
  }

  /** One uniform bit (eight per byte of the generator). */
  bit(): number {
    if (this.#bitCount === 0) {
      this.#bits = this.#byte();
      this.#bitCount = 8;
    }
    this.#bitCount--;
    const b = this.#bits & 1;
    this.#bits >>= 1;
    return b;
  }

  /**
   * A uniform integer in `[0, m)`, by rejection: draw ⌈bits(m − 1)/8⌉ bytes, mask to bits(m − 1)
   * bits, retry while ≥ m (fewer than 2 draws expected). Refuses (RangeError) m ≤ 0.
   */
  below(m: bigint): bigint {
    if (m <= 0n) throw new RangeError("UniformSource.below: the bound must be > 0");
    if (m === 1n) return 0n;
    const bits = (m - 1n).toString(2).length;
    if (bits <= 48) {
      const mm = Number(m);
      const bytes = Math.ceil(bits / 8);
      const top = 2 ** (bits - (bytes - 1) * 8);
      for (;;) {
        let v = this.#byte() % top; // top divides 256: the masked top byte is uniform
        for (let i = 1; i < bytes; i++) v = v * 256 + this.#byte();
        if (v < mm) return BigInt(v);
      }
    }
    const bytes = Math.ceil(bits / 8);
    const topMask = BigInt(2 ** (bits - (bytes - 1) * 8) - 1);
    for (;;) {
      let v = BigInt(this.#byte()) & topMask;
      for (let i = 1; i < bytes; i++) v = (v << 8n) | BigInt(this.#byte());
      if (v < m) return v;
    }
  }
}

/**
 * Bernoulli(num/den) for 0 ≤ num ≤ den: true with probability exactly num/den. It compares the
 * binary expansion of a uniform U ∈ [0, 1), drawn bit by bit, with that of p = num/den, computed
 * by long division, and answers U < p at the first bit where they differ (2 bits expected,
 * whatever the size of den; U = p has probability 0, and a finite expansion of p that ends with
 * U's prefix equal means U ≥ p).
 */
export function bernoulli(src: UniformSource, num: bigint, den: bigint): boolean {
  if (num <= 0n) return false;
  if (num >= den) return true;
  if (den <= 2n ** 52n) {
    const d = Number(den);
    let r = Number(num);
    for (;;) {
      r *= 2; // r < d ≤ 2^52: exact
      const pBit = r >= d ? 1 : 0;
      if (pBit) r -= d;
      if (src.bit() !== pBit) return pBit === 1;
      if (r === 0) return false;
    }
  }
  let r = num;
  for (;;) {
    r <<= 1n;
    const pBit = r >= den ? 1 : 0;
    if (pBit) r -= den;
    if (src.bit() !== pBit) return pBit === 1;
    if (r === 0n) return false;
  }
}

/**
 * Algorithm 1 of Canonne–Kamath–Steinke: true with probability exactly exp(−γ), for a rational
 * γ ≥ 0. For γ ≤ 1 it draws A_k ~ Bernoulli(γ/k) for k = 1, 2, … until the first A_k = 0 and
 * answers whether that k is odd; for γ > 1 it is the conjunction of ⌊γ⌋ draws of
 * Bernoulli(exp(−1)) and one of Bernoulli(exp(−(γ − ⌊γ⌋))), stopping at the first false.
 */
export function bernoulliExp(src: UniformSource, gamma: Rational): boolean {
  const { num, den } = gamma;
  if (num <= den) return bernoulliExpAtMostOne(src, num, den);
  const whole = num / den;
  for (let k = 0n; k < whole; k++) {
    if (!bernoulliExpAtMostOne(src, 1n, 1n)) return false;
  }
  return bernoulliExpAtMostOne(src, num - whole * den, den);
}

/** Bernoulli(exp(−num/den)) for 0 ≤ num/den ≤ 1 (the first half of Algorithm 1). */
function bernoulliExpAtMostOne(src: UniformSource, num: bigint, den: bigint): boolean {
  let k = 1n;
  while (bernoulli(src, num, den * k)) k++;
  return k % 2n === 1n;
}

/**
 * Algorithm 2 of Canonne–Kamath–Steinke: a sample of the discrete Laplace `Lap_Z(scale)`,
 * P[x] = (e^{1/scale} − 1)/(e^{1/scale} + 1) · e^{−|x|/scale} for x ∈ Z, with `scale = t/s` a
 * positive rational. Refuses (RangeError) scale = 0.
 */
export function discreteLaplace(src: UniformSource, scale: Rational): bigint {
  const t = scale.num, s = scale.den;
  if (t === 0n) throw new RangeError("discreteLaplace: the scale must be > 0");
  for (;;) {
    const u = src.below(t);
    if (!bernoulliExp(src, rational(u, t))) continue;
    let v = 0n;
    while (bernoulliExp(src, ONE)) v++;
    const y = (u + t * v) / s;
    const negative = bernoulli(src, 1n, 2n);
    if (negative && y === 0n) continue;
    return negative ? -y : y;
  }
}

const ONE: Rational = { num: 1n, den: 1n };

/** ⌊√n⌋ for a BigInt n ≥ 0 (Newton's method on integers). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError("isqrt of a negative number");
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  // Correct the float estimate (exact for any size: Newton steps, then ±1 adjustments).
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) break;
    x = y;
  }
  while (x * x > n) x--;
  while ((x + 1n) * (x + 1n) <= n) x++;
  return x;
}

/**
 * Algorithm 3 of Canonne–Kamath–Steinke: a sample of the discrete Gaussian `N_Z(0, σ²)`,
 * P[x] = e^{−x²/(2σ²)} / Σ_{y∈Z} e^{−y²/(2σ²)}, for σ² = `sigma2` a positive rational. With
 * t = ⌊σ⌋ + 1 it draws Y ~ Lap_Z(t) and accepts with probability exp(−(|Y| − σ²/t)²/(2σ²)),
 * evaluated exactly: for σ² = a/b that exponent is the rational (|Y|·t·b − a)² / (2·a·t²·b).
 * Refuses (RangeError) σ² = 0.
 */
export function discreteGaussian(src: UniformSource, sigma2: Rational): bigint {
  const a = sigma2.num, b = sigma2.den;
  if (a === 0n) throw new RangeError("discreteGaussian: σ² must be > 0");
  const t = isqrt(a / b) + 1n; // ⌊σ⌋ = ⌊√⌊σ²⌋⌋
  const laplace: Rational = { num: t, den: 1n };
  const den = 2n * a * t * t * b;
  for (;;) {
    const y = discreteLaplace(src, laplace);
    const abs = y < 0n ? -y : y;
    const diff = abs * t * b - a;
    if (bernoulliExp(src, rational(diff * diff, den))) return y;
  }
}

/**
 * Fills `out` with independent samples of `N_Z(0, σ²)` ({@link discreteGaussian}), each added
 * to the value already there modulo 2^32 (`out[i] += noise`, as uint32): the member-side noise
 * of the distributed discrete Gaussian, ready for a masked sum in Z_(2^32). Refuses
 * (RangeError) σ² = 0.
 */
export function addDiscreteGaussianNoise(
  out: Uint32Array,
  sigma2: Rational,
  rng: Rng,
): void {
  const src = new UniformSource(rng);
  for (let i = 0; i < out.length; i++) {
    const noise = discreteGaussian(src, sigma2);
    out[i] = out[i] + Number(BigInt.asUintN(32, noise));
  }
}
