/**
 * Mask arithmetic in Z_(2^32): adding masked vectors into the leader's running sum, and the
 * {@link MaskExpander} seam through which both roles apply many PRG masks to one vector.
 *
 * The expander is injected so the core stays free of threads: {@link inlineExpander} runs the
 * fused kernel on the calling thread; the node provides one that splits the vector across
 * Worker threads (both give bit-identical results, which the tests check).
 *
 * @module
 */
import { applyMasks, type MaskTerm } from "../crypto/mod.ts";

export type { MaskTerm };

/** Applies `target[i] += Σ ±PRG(term.key)[i]` (mod 2^32) for a set of mask terms. */
export interface MaskExpander {
  /** Adds (or, for `negate` terms, subtracts) every term's keystream into `target` in place. */
  apply(target: Uint32Array, terms: readonly MaskTerm[]): Promise<void>;
}

/** Runs the fused ChaCha20 mask kernel on the calling thread (errors reject the promise). */
export const inlineExpander: MaskExpander = {
  // deno-lint-ignore require-await
  async apply(target, terms) {
    applyMasks(target, terms);
  },
};

/** `sum[i] += v[i]` mod 2^32. Refuses (RangeError) vectors of different lengths. */
export function addInto(sum: Uint32Array, v: Uint32Array): void {
  if (sum.length !== v.length) throw new RangeError("vector lengths differ");
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i] + v[i];
}
