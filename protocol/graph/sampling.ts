/**
 * Unbiased sampling from an {@link Rng}: a uniform integer below a bound and a uniform random
 * permutation. Both consume the rng's bytes in a normative order, so every implementation (and
 * every member) derives the same values from the same stream; the SecAgg+ graph's relabelling
 * is drawn this way.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Rng } from "../crypto/random.ts";

const TWO_32 = 2 ** 32;

/**
 * A uniformly random integer in `[0, bound)`, drawn from `rng` without modulo bias.
 *
 * Byte consumption (normative, so other implementations derive the same values): repeatedly
 * call `rng(4)` and read the 4 bytes as a little-endian unsigned 32-bit word `w`; let
 * `limit = 2^32 − (2^32 mod bound)`; the first `w < limit` is accepted and `w mod bound` is
 * returned, every `w ≥ limit` is discarded. Each residue therefore has exactly
 * `⌊2^32 / bound⌋` accepted preimages. A call consumes one word, plus one more per rejection
 * (a rejection happens with probability `(2^32 mod bound) / 2^32 < bound / 2^32`).
 *
 * Refuses (RangeError) a `bound` that is not an integer in `[1, 2^32]`, and an rng that returns
 * a number of bytes other than the 4 requested.
 */
export function uniformBelow(rng: Rng, bound: number): number {
  if (!Number.isInteger(bound) || bound < 1 || bound > TWO_32) {
    throw new RangeError(`uniformBelow: bound must be an integer in [1, 2^32], got ${bound}`);
  }
  const limit = TWO_32 - (TWO_32 % bound);
  for (;;) {
    const b = rng(4);
    if (b.length !== 4) throw new RangeError(`rng returned ${b.length} bytes, expected 4`);
    const w = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
    if (w < limit) return w % bound;
  }
}

/**
 * A uniformly random permutation of `0..n−1` (Fisher–Yates), as an array mapping a position to
 * the value placed there.
 *
 * Byte consumption (normative): start from the identity `p = [0, 1, …, n−1]`; for
 * `i = n−1` down to `1`, draw `j = uniformBelow(rng, i + 1)` and swap `p[i]` and `p[j]`. That is
 * `n − 1` words plus one per rejection, read in that order; nothing else is read from `rng`.
 *
 * Refuses (ConfigError `"n"`) an `n` that is not an integer in `[1, 2^32]`.
 */
export function randomPermutation(n: number, rng: Rng): number[] {
  if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
    throw new ConfigError("n", `the permutation size must be an integer in [1, 2^32], got ${n}`);
  }
  const p = new Array<number>(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i >= 1; i--) {
    const j = uniformBelow(rng, i + 1);
    const tmp = p[i];
    p[i] = p[j];
    p[j] = tmp;
  }
  return p;
}
