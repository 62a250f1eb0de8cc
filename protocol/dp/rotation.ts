/**
 * The randomized Hadamard rotation of the distributed discrete Gaussian mechanism (Kairouz, Liu,
 * Steinke, "The Distributed Discrete Gaussian Mechanism for Federated Learning with Secure
 * Aggregation", ICML 2021, arXiv:2102.06387, Section 4.2: "flattening" by a random orthogonal
 * transform; TFF's `hd` rotation). A vector x ∈ R^d is zero-padded to D = 2^⌈log2 d⌉ and mapped
 * to y = H·S·x / √D, where S is the diagonal matrix of D random signs and H the Sylvester
 * Hadamard matrix (H_{ij} = (−1)^{popcount(i & j)}, the ordering of `scipy.linalg.hadamard`). The
 * map is orthogonal (H·H = D·I), so it preserves the L2 norm and its inverse is x = S·H·y / √D.
 * After the rotation every coordinate of a vector of norm c is, with high probability, of order
 * c/√D, which is what lets rounding and a narrow modulus work.
 *
 * The signs are the bits of the PRG keystream ({@link prgExpand}) of a key derived from the
 * 32-byte rotation key with its own domain label (`deriveKey(key, KDF.dpRotation)`): bit i (bit
 * i mod 32 of word ⌊i/32⌋, little-endian words) set means −1. Everyone who knows the key (the
 * session's members and the leader) applies the same rotation. The derivation keeps the signs
 * independent of any other stream keyed by the same bytes (a masking PRG stream in particular),
 * even if a caller passed a key that is also used elsewhere. The transform is the in-place fast
 * Walsh–Hadamard butterfly in float64: O(D log D) operations, no matrix.
 *
 * @module
 */
import { KDF } from "../crypto/domains.ts";
import { deriveKey } from "../crypto/hkdf.ts";
import { prgExpand } from "../crypto/prg.ts";

/** The padded length D = 2^⌈log2 d⌉ (1 for d ≤ 1). Refuses (RangeError) d beyond 2^30. */
export function paddedLength(d: number): number {
  if (!Number.isSafeInteger(d) || d < 0 || d > 2 ** 30) {
    throw new RangeError(`rotation: dimension ${d} is not an integer in [0, 2^30]`);
  }
  let n = 1;
  while (n < d) n *= 2;
  return n;
}

/**
 * The D = {@link paddedLength}(d) signs of the rotation keyed by `key`, as ±1: the bits of the
 * PRG keystream of `deriveKey(key, KDF.dpRotation)`, never of `key` itself. Refuses
 * (RangeError) a key that is not 32 bytes.
 */
export function rotationSigns(key: Uint8Array, d: number): Int8Array {
  if (key.length !== 32) {
    throw new RangeError(`rotation: the key must be 32 bytes, got ${key.length}`);
  }
  const n = paddedLength(d);
  const words = prgExpand(deriveKey(key, KDF.dpRotation), Math.ceil(n / 32));
  const signs = new Int8Array(n);
  for (let i = 0; i < n; i++) signs[i] = (words[i >>> 5] >>> (i & 31)) & 1 ? -1 : 1;
  return signs;
}

/** In-place unnormalized fast Walsh–Hadamard transform (Sylvester order); length a power of 2. */
function fwht(v: Float64Array): void {
  const n = v.length;
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
    }
  }
}

/**
 * y = H·S·x/√D: `x` zero-padded to D = {@link paddedLength}(x.length) and rotated with the signs
 * of `key`. Returns a new array of length D. Refuses (RangeError) a key that is not 32 bytes and
 * non-finite values (a NaN would spread over every coordinate).
 */
export function rotate(x: Float32Array | Float64Array, key: Uint8Array): Float64Array {
  const signs = rotationSigns(key, x.length);
  const y = new Float64Array(signs.length);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`rotate: coordinate ${i} is not finite`);
    y[i] = signs[i] * x[i];
  }
  fwht(y);
  const norm = 1 / Math.sqrt(y.length);
  for (let i = 0; i < y.length; i++) y[i] *= norm;
  return y;
}

/**
 * The inverse of {@link rotate}: x = S·H·y/√D, truncated to the first `d` coordinates (the
 * padding). Refuses (RangeError) a `y` whose length is not {@link paddedLength}(d), and a key that
 * is not 32 bytes.
 */
export function unrotate(y: Float64Array, key: Uint8Array, d: number): Float64Array {
  const n = paddedLength(d);
  if (y.length !== n) {
    throw new RangeError(`unrotate: expected ${n} values for dimension ${d}, got ${y.length}`);
  }
  const signs = rotationSigns(key, d);
  const v = Float64Array.from(y);
  fwht(v);
  const norm = 1 / Math.sqrt(n);
  const x = new Float64Array(d);
  for (let i = 0; i < d; i++) x[i] = signs[i] * v[i] * norm;
  return x;
}
