/**
 * The distributed discrete Gaussian in a round (DDGauss, Kairouz–Liu–Steinke ICML 2021,
 * Algorithm 1; the parameters of `parameters.ts`):
 *
 * - **member side** ({@link encodeDpUpdate}): clip the whole flattened update to L2 norm C,
 *   rotate it with the round's rotation ({@link dpRotationKey}: the same for every member and
 *   every view of the round, public), scale by 1/γ, round conditionally to the bound Δ₂, add
 *   N_Z(0, σ_ℓ²/γ²) to each of the D coordinates, reduce modulo 2^bits, and append the weight
 *   word 1. Its randomness comes from a 32-byte member seed ({@link dpStreams}): the same seed
 *   gives the same words, so a member that keeps its seed for the round (the node journals it)
 *   sends the same noisy vector in every view and after a restart, never a second independent
 *   noisy copy of the same update.
 * - **leader / observer side** ({@link decodeDpSum}): reduce the unmasked sum modulo 2^bits,
 *   read it as signed integers ({@link signedSteps}), rescale by γ and rotate back; the weight
 *   word is the number of members summed.
 *
 * **Wraps.** The sum is modular: a coordinate whose true value leaves (−2^(b−1), 2^(b−1)) comes
 * back from the other side. Each honest member's rounded vector has L2 norm ≤ Δ₂, so each
 * coordinate of the noiseless sum of W members is at most W·Δ₂ in magnitude, and the noise of W
 * members exceeds k·√W·σ_ℓ/γ with probability below 10^−6/D per coordinate. A coordinate beyond
 * that bound is evidence of a wrap (or of a member breaking the norm bound);
 * {@link wrapEvidence} counts them when the bound fits inside the word (otherwise a wrap cannot
 * be told from a large value, and it says so).
 *
 * @module
 */
import { HASH, KDF } from "../crypto/domains.ts";
import { taggedHash } from "../crypto/hash.ts";
import { deriveKey } from "../crypto/hkdf.ts";
import { type Rng, seededRng } from "../crypto/random.ts";
import { u64be } from "../encoding/bytes.ts";
import { addDiscreteGaussianNoise } from "./discrete_gaussian.ts";
import type { DpParameters } from "./parameters.ts";
import { localVarianceSteps } from "./parameters.ts";
import { discretize, stddevsForProbability, undiscretize } from "./rounding.ts";

/**
 * The round's rotation key: the domain-separated hash of the roster hash (which binds the
 * federation) and the round. The same in every view of the round (a view change must not
 * rotate the same noisy data another way) and public: the rotation spreads a vector over the
 * coordinates, it hides nothing.
 */
export function dpRotationKey(rosterHash: Uint8Array, round: number): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.dpRotationKey, rosterHash, u64be(round));
}

/**
 * A member's secret seed for `round`, re-derived from its long-term DP noise key (32 secret
 * bytes the member keeps; never shared): HKDF under its own label, bound to the roster hash and
 * the round. The same round gives the same seed — after a view change and after a restart — so
 * the member sends one noisy vector per round, never two independently noised copies of the
 * same update. Refuses (RangeError) a key that is not 32 bytes.
 */
export function dpMemberSeed(
  noiseKey: Uint8Array,
  rosterHash: Uint8Array,
  round: number,
): Uint8Array<ArrayBuffer> {
  if (noiseKey.length !== 32) throw new RangeError("a DP noise key is 32 bytes");
  return deriveKey(noiseKey, KDF.dpMemberSeed, rosterHash, u64be(round));
}

/**
 * The two independent CSPRNG streams of a member's round, from its secret 32-byte seed (fresh
 * from the system CSPRNG per round, kept for the round): the rounding's and the noise's, each
 * ChaCha20 keyed by its own derivation of the seed. Refuses (RangeError) a seed that is not 32
 * bytes.
 */
export function dpStreams(seed: Uint8Array): { rounding: Rng; noise: Rng } {
  if (seed.length !== 32) throw new RangeError("a DP member seed is 32 bytes");
  return {
    rounding: seededRng(deriveKey(seed, KDF.dpRounding)),
    noise: seededRng(deriveKey(seed, KDF.dpNoise)),
  };
}

/** A member's DP input: the words it masks, and what it knew before the noise. */
export interface DpUpdate {
  /** D + 1 words: the noised values modulo 2^bits, then the weight 1. */
  readonly words: Uint32Array<ArrayBuffer>;
  /** The clipped, rotated, rounded values in steps, before noise (D of them). */
  readonly rounded: Int32Array;
  /** The update's L2 norm before clipping (private: report it to its owner only). */
  readonly norm: number;
}

/**
 * The member side (module doc): `x` (d values) clipped, rotated with `rotationKey`, scaled,
 * rounded conditionally and noised with the exact discrete Gaussian of variance
 * `p.localVariance` (steps²), modulo 2^bits, with the weight word 1. With `noise` false the
 * noise is left out (a member that withholds it: only for simulating corrupt members). Deterministic
 * in `seed`. Refuses (RangeError) non-finite values and a seed that is not 32 bytes, and what
 * `discretize` refuses.
 */
export function encodeDpUpdate(
  x: Float32Array | Float64Array,
  p: DpParameters,
  rotationKey: Uint8Array,
  seed: Uint8Array,
  noise = true,
): DpUpdate {
  const streams = dpStreams(seed);
  const { values, norm } = discretize(
    x,
    { clip: p.clip, gamma: p.gamma, beta: p.beta, rotationKey },
    streams.rounding,
  );
  const D = values.length;
  const words = new Uint32Array(D + 1);
  for (let i = 0; i < D; i++) words[i] = values[i] >>> 0;
  const body = words.subarray(0, D);
  if (noise) addDiscreteGaussianNoise(body, p.localVariance, streams.noise);
  if (p.bits < 32) {
    const mask = 2 ** p.bits - 1;
    for (let i = 0; i < D; i++) body[i] = (body[i] & mask) >>> 0;
  }
  words[D] = 1;
  return { words, rounded: values, norm };
}

/**
 * The first D words of a sum reduced modulo 2^bits and read as signed integers in
 * [−2^(bits−1), 2^(bits−1)). Refuses (RangeError) bits outside 1..32.
 */
export function signedSteps(sum: Uint32Array, D: number, bits: number): Float64Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) {
    throw new RangeError(`bits must be an integer in [1, 32], got ${bits}`);
  }
  const modulus = 2 ** bits;
  const half = modulus / 2;
  const out = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    const w = sum[i] % modulus;
    out[i] = w >= half ? w - modulus : w;
  }
  return out;
}

/** What a DP aggregate decodes to. */
export interface DpAggregate {
  /** The sum of the members' clipped updates plus the noise, original units, d values. */
  readonly sum: Float64Array;
  /** The weight word: the number of members summed. */
  readonly members: number;
  /** The sum in steps, signed, in the rotated domain (D values). */
  readonly steps: Float64Array;
}

/**
 * The leader / observer side (module doc): the aggregate's D value words modulo 2^bits as
 * signed steps, times γ, rotated back and truncated to `dim`; the last word is the member count.
 * Refuses (RangeError) an aggregate that is not D + 1 words.
 */
export function decodeDpSum(
  aggregate: Uint32Array,
  p: DpParameters,
  rotationKey: Uint8Array,
  dim: number,
): DpAggregate {
  const D = p.paddedDim;
  if (aggregate.length !== D + 1) {
    throw new RangeError(`a DP aggregate has D + 1 = ${D + 1} words, got ${aggregate.length}`);
  }
  const steps = signedSteps(aggregate, D, p.bits);
  return {
    sum: undiscretize(steps, p.gamma, rotationKey, dim),
    members: aggregate[D],
    steps,
  };
}

/** The count of coordinates beyond the honest bound, or why there is no such bound. */
export type WrapEvidence =
  | { readonly detectable: true; readonly bound: number; readonly beyond: number }
  | { readonly detectable: false; readonly bound: number };

/**
 * Wrap evidence (module doc) for signed `steps` summed from `members` members: the coordinates
 * whose magnitude exceeds W·Δ₂ + k·√(W·σ_ℓ²/γ²), k the Gaussian quantile of 10^−6/D (an honest
 * round flags a coordinate with probability below 10^−6). Not detectable when that bound does
 * not fit below 2^(bits−1).
 */
export function wrapEvidence(steps: Float64Array, p: DpParameters, members: number): WrapEvidence {
  const k = stddevsForProbability(1e-6 / p.paddedDim);
  const bound = members * p.l2Bound + k * Math.sqrt(members * localVarianceSteps(p));
  if (!(bound < 2 ** (p.bits - 1))) return { detectable: false, bound };
  let beyond = 0;
  for (let i = 0; i < steps.length; i++) if (Math.abs(steps[i]) > bound) beyond++;
  return { detectable: true, bound, beyond };
}
