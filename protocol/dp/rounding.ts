/**
 * The member's discretization in the distributed discrete Gaussian mechanism (DDGauss: Kairouz,
 * Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure
 * Aggregation", ICML 2021, arXiv:2102.06387, Algorithm 1 and Section 4): clip the flattened
 * update to L2 norm c, rotate it ({@link rotate}), scale it by 1/γ, and round it to integers with
 * conditional randomized rounding, so that the rounded vector's norm is at most the inflated
 * bound Δ₂ the privacy analysis uses; the leader undoes the scaling and the rotation
 * ({@link undiscretize}).
 *
 * Units: `γ` (the granularity) is the length one integer step stands for; "scaled" values are in
 * steps (original value / γ).
 *
 * - Randomized rounding of z ∈ R^D: each coordinate independently to ⌊z_i⌋ + Bernoulli(z_i −
 *   ⌊z_i⌋), so E[z̃] = z. Here the Bernoulli is a uniform 32-bit word compared with the fraction
 *   scaled to 2^32 (unbiased up to 2^−32 of a step; privacy does not rest on it, only on the norm
 *   check, which is exact).
 * - Conditional: repeat until ‖z̃‖₂² ≤ Δ₂², with (in steps, c' = c/γ)
 *   Δ₂² = min{ c'² + D/4 + √(2 ln(1/β))·(c' + √D/2), (c' + √D)² }
 *   (the norm bound of DDGauss's Theorem 1; the first term holds except with probability β for
 *   any ‖z‖ ≤ c', so the expected number of attempts is at most 1/(1 − β); the second holds
 *   always, and β = 0 means plain randomized rounding with that bound).
 * - {@link granularity}: the heuristic of DDGauss §4.4 as TFF implements it
 *   (`_heuristic_scale_factor`): the γ for which k standard deviations of a coordinate of the
 *   modular sum of n members fill the 2^b-wide range, assuming a flat rotated signal (each
 *   coordinate of n·c/√D at worst) plus rounding and noise variance:
 *   2^b = 2k·√(c²n²/D + n(γ²/4 + σ_ℓ²)) / γ, i.e. γ = 2k·√(c²n²/D + nσ_ℓ²) / √(4^b − nk²), with
 *   k = √2·erfc⁻¹(p) for a target per-coordinate modular-clipping probability p.
 *
 * @module
 */
import type { Rng } from "../crypto/random.ts";
import { erfc, erfcInverse } from "./normal.ts";
import { paddedLength, rotate, unrotate } from "./rotation.ts";

/**
 * `x` scaled by min(1, clip/‖x‖₂) (DDGauss Algorithm 1, step 1), as a new float64 array, and the
 * norm before clipping. The result's float64 norm is at most `clip` (a last 1 − 2^−40 shrink
 * covers the rounding of the scaling). Refuses (RangeError) clip ≤ 0 or non-finite, and
 * non-finite coordinates.
 */
export function clipL2(
  x: Float32Array | Float64Array,
  clip: number,
): { clipped: Float64Array; norm: number } {
  if (!(clip > 0) || !Number.isFinite(clip)) {
    throw new RangeError(`clipL2: the clip must be a finite number > 0, got ${clip}`);
  }
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`clipL2: coordinate ${i} is not finite`);
    out[i] = x[i];
  }
  const norm = l2(out);
  if (norm > clip) {
    let factor = clip / norm;
    for (let i = 0; i < out.length; i++) out[i] *= factor;
    if (l2(out) > clip) {
      factor = 1 - 2 ** -40;
      for (let i = 0; i < out.length; i++) out[i] *= factor;
    }
  }
  return { clipped: out, norm };
}

function l2(v: ArrayLike<number>): number {
  // Scaled to avoid overflow and underflow of the squares.
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]));
  if (max === 0) return 0;
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const r = v[i] / max;
    s += r * r;
  }
  return max * Math.sqrt(s);
}

/**
 * The inflated L2 bound Δ₂ (in steps) that conditional randomized rounding guarantees for a
 * vector of norm ≤ `clipSteps` in dimension `dim` (see the module doc). Refuses (RangeError)
 * clipSteps ≤ 0, dim < 1, β outside [0, 1).
 */
export function inflatedNormBound(clipSteps: number, dim: number, beta: number): number {
  if (!(clipSteps > 0) || !Number.isFinite(clipSteps)) {
    throw new RangeError(`inflatedNormBound: the scaled clip must be > 0, got ${clipSteps}`);
  }
  if (!Number.isSafeInteger(dim) || dim < 1) {
    throw new RangeError(`inflatedNormBound: dimension ${dim} is not an integer ≥ 1`);
  }
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`inflatedNormBound: β = ${beta} ∉ [0, 1)`);
  const always = clipSteps + Math.sqrt(dim);
  if (beta === 0) return always;
  const squared = clipSteps * clipSteps + dim / 4 +
    Math.sqrt(2 * Math.log(1 / beta)) * (clipSteps + Math.sqrt(dim) / 2);
  return Math.min(always, Math.sqrt(squared));
}

/**
 * Conditional randomized rounding of `z` (in steps): rounds every coordinate up with probability
 * its fractional part, and repeats until ‖z̃‖₂² ≤ `bound`², at most `maxAttempts` times. Returns
 * the integers and the attempts used. Refuses (RangeError) non-finite values or values of
 * magnitude ≥ 2^31 − 1, a bound whose square is not below 2^53 (the norm check would not be
 * exact), and — after `maxAttempts` failures — the input (its norm is then above what the bound
 * was computed for).
 */
export function conditionalRound(
  z: Float64Array,
  bound: number,
  rng: Rng,
  maxAttempts = 1000,
): { values: Int32Array; attempts: number } {
  const limit = bound * bound;
  if (!(bound >= 0) || !(limit < 2 ** 53)) {
    throw new RangeError(`conditionalRound: the bound ${bound} must be ≥ 0 with bound² < 2^53`);
  }
  for (let i = 0; i < z.length; i++) {
    if (!(Math.abs(z[i]) < 2 ** 31 - 1)) {
      throw new RangeError(`conditionalRound: coordinate ${i} (${z[i]}) is not in (−2^31, 2^31)`);
    }
  }
  const values = new Int32Array(z.length);
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const drawn = rng(4 * z.length);
    const bytes = drawn.byteOffset % 4 === 0 ? drawn : drawn.slice();
    const u = new Uint32Array(bytes.buffer, bytes.byteOffset, z.length);
    let squared = 0;
    for (let i = 0; i < z.length; i++) {
      const floor = Math.floor(z[i]);
      const up = u[i] < (z[i] - floor) * 2 ** 32 ? 1 : 0;
      const v = floor + up;
      values[i] = v;
      squared += v * v; // exact: integers, and the loop ends past 2^53 only if it already failed
    }
    drawn.fill(0);
    bytes.fill(0);
    if (squared <= limit) return { values, attempts: attempt };
  }
  values.fill(0);
  throw new RangeError(
    `conditionalRound: no rounding within the norm bound ${bound} in ${maxAttempts} attempts ` +
      `(the input's norm exceeds what the bound was computed for)`,
  );
}

/** What a member needs to discretize its update (all members of a round use the same). */
export interface DiscretizeSettings {
  /** The L2 clipping radius c (original units), > 0. */
  readonly clip: number;
  /** The granularity γ: one integer step stands for γ (original units), > 0. */
  readonly gamma: number;
  /** The conditional rounding parameter β ∈ [0, 1) (0: plain randomized rounding). */
  readonly beta: number;
  /** The 32-byte rotation key, the same for every member of the session. */
  readonly rotationKey: Uint8Array;
}

/**
 * The member's side, before noise: clip to `clip`, rotate with `rotationKey` (padding to
 * D = 2^⌈log2 d⌉), scale by 1/γ and round conditionally to the bound
 * {@link inflatedNormBound}(clip/γ, D, β). Returns D integers (the caller adds its noise and
 * maps them into Z_(2^32)), the norm before clipping, and the bound. Refuses (RangeError) what
 * {@link clipL2}, {@link rotate} and {@link conditionalRound} refuse and γ ≤ 0.
 */
export function discretize(
  x: Float32Array | Float64Array,
  settings: DiscretizeSettings,
  rng: Rng,
): { values: Int32Array; norm: number; bound: number } {
  const { clip, gamma, beta, rotationKey } = settings;
  if (!(gamma > 0) || !Number.isFinite(gamma)) {
    throw new RangeError(`discretize: γ must be a finite number > 0, got ${gamma}`);
  }
  const { clipped, norm } = clipL2(x, clip);
  const y = rotate(clipped, rotationKey);
  for (let i = 0; i < y.length; i++) y[i] /= gamma;
  const bound = inflatedNormBound(clip / gamma, y.length, beta);
  return { values: conditionalRound(y, bound, rng).values, norm, bound };
}

/**
 * The leader's side: a sum of discretized (and noised) vectors, as signed integers in steps,
 * mapped back to original units: times γ, inverse rotation, truncated to `dim`. Refuses
 * (RangeError) a sum whose length is not {@link paddedLength}(dim).
 */
export function undiscretize(
  sum: ArrayLike<number>,
  gamma: number,
  rotationKey: Uint8Array,
  dim: number,
): Float64Array {
  const n = paddedLength(dim);
  if (sum.length !== n) {
    throw new RangeError(`undiscretize: expected ${n} values for dimension ${dim}`);
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = sum[i] * gamma;
  return unrotate(y, rotationKey, dim);
}

/** What {@link granularity} needs: the modular sum's width and what it must hold. */
export interface GranularitySettings {
  /** Bits b of the modular sum (values live in [−2^(b−1), 2^(b−1))), 1 ≤ b ≤ 32. */
  readonly bits: number;
  /** Target probability p ∈ (0, 1) that one coordinate of the sum wraps around. */
  readonly modclipProb: number;
  /** L2 clipping radius c (original units). */
  readonly clip: number;
  /** Members whose vectors (and noise) may be in the sum, n ≥ 1. */
  readonly members: number;
  /** Padded dimension D. */
  readonly dim: number;
  /** Per-member noise standard deviation σ_ℓ (original units), ≥ 0. */
  readonly localStd: number;
}

/** k = √2·erfc⁻¹(p): the standard deviations beyond which a Gaussian lands with probability p. */
export function stddevsForProbability(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`the probability ${p} is not in (0, 1)`);
  return Math.SQRT2 * erfcInverse(p);
}

/**
 * The granularity γ of the DDGauss/TFF heuristic (module doc). Refuses (RangeError) when
 * 4^b ≤ n·k² (no γ can keep k standard deviations of rounding noise of n members inside 2^b:
 * raise the bits, lower the members or raise the probability), and out-of-range settings.
 */
export function granularity(s: GranularitySettings): number {
  checkGranularitySettings(s);
  const k = stddevsForProbability(s.modclipProb);
  const n = s.members;
  const room = 4 ** s.bits - n * k * k;
  if (!(room > 0)) {
    throw new RangeError(
      `${s.bits} bits cannot hold ${k.toFixed(2)} standard deviations of the rounding noise of ` +
        `${n} members (needs 4^bits > n·k² = ${(n * k * k).toFixed(1)})`,
    );
  }
  const signal = (s.clip * s.clip * n * n) / s.dim + n * s.localStd * s.localStd;
  return (2 * k * Math.sqrt(signal)) / Math.sqrt(room);
}

/**
 * The per-coordinate probability that the modular sum wraps, under the same model as
 * {@link granularity}: erfc(2^(b−1) / (s·√2)) with s = √(c²n²/D + n(γ²/4 + σ_ℓ²))/γ the
 * standard deviation of a coordinate of the sum, in steps.
 */
export function modularClipProbability(s: GranularitySettings, gamma: number): number {
  checkGranularitySettings(s);
  const n = s.members;
  const std = Math.sqrt(
    (s.clip * s.clip * n * n) / s.dim + n * (gamma * gamma / 4 + s.localStd * s.localStd),
  ) / gamma;
  return erfc(2 ** (s.bits - 1) / (std * Math.SQRT2));
}

function checkGranularitySettings(s: GranularitySettings): void {
  if (!Number.isInteger(s.bits) || s.bits < 1 || s.bits > 32) {
    throw new RangeError(`bits must be an integer in [1, 32], got ${s.bits}`);
  }
  if (!(s.modclipProb > 0 && s.modclipProb < 1)) {
    throw new RangeError(`the modular clipping probability ${s.modclipProb} is not in (0, 1)`);
  }
  if (!(s.clip > 0) || !Number.isFinite(s.clip)) throw new RangeError("the clip must be > 0");
  if (!Number.isSafeInteger(s.members) || s.members < 1) {
    throw new RangeError(`members must be an integer ≥ 1, got ${s.members}`);
  }
  if (!Number.isSafeInteger(s.dim) || s.dim < 1) {
    throw new RangeError(`the dimension must be an integer ≥ 1, got ${s.dim}`);
  }
  if (!(s.localStd >= 0) || !Number.isFinite(s.localStd)) {
    throw new RangeError(`the local noise std must be ≥ 0, got ${s.localStd}`);
  }
}
