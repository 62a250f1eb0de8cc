/**
 * The honest members' updates in simulations under attack: an explicit model of what makes
 * federated updates alike and what makes them differ, so a robust rule's error can be read
 * against a stated heterogeneity.
 *
 * Member i sends u_i = c·k·(0.25·μ + 0.25·H·ξ_i), with μ ~ N(0, 1)^d drawn once per round (the
 * shared direction: the common gradient signal), ξ_i ~ N(0, 1)^d per member (its heterogeneity:
 * data, minibatch and optimiser noise), c the roster's clip and k = √(1.25/(1 + H²)), which keeps
 * the per-coordinate standard deviation of every update at 0.25·√1.25·c ≈ 0.28·c whatever the
 * spread H, so clipping at ±c touches the same tail at every H. H is the per-member
 * noise-to-signal ratio of standard deviations (the signal-to-noise ratio is 1/H): ‖u_i − μ'‖ ≈
 * H·‖μ'‖ for the scaled μ', and a group mean of m members has spread about H/√m.
 *
 * - H = 0.5 ({@link DEFAULT_SPREAD}, k = 1: exactly the model the simulator used before the spread
 *   was a parameter) — members as far from the shared direction as half its size;
 * - H → 0: identical members (IID data, full batches);
 * - H = ∞ (`"iid"`): no shared direction at all, i.i.d. zero-mean noise; the honest mean is
 *   then itself noise of size ~1/√n, and an error relative to it measures nothing a rule can do.
 *
 * Robust rules ignore weights and see only the honest groups' means, so at the tolerance limit
 * their error against the honest weighted mean has a floor proportional to H (what the discarded
 * honest members and the weights would have contributed); the plain mean's error under a sign
 * flip or scaling does not depend on H. Ratios of the two therefore depend on H: report them at
 * more than one.
 *
 * @module
 */
import type { GaussianSource } from "./attacks.ts";

/** The default honest spread H (per-member noise std over the shared direction's std). */
export const DEFAULT_SPREAD = 0.5;

/** The honest spread: a finite H ≥ 0, or `Infinity` for i.i.d. noise with no shared direction. */
export type HonestSpread = number;

/**
 * `n` honest updates of length `d` under spread `spread` for clip `clip` (see the module doc),
 * drawing μ first and then each member's ξ_i in member order from `gauss`. With `spread` =
 * {@link DEFAULT_SPREAD} the draws and the arithmetic are the simulator's original ones, bit for
 * bit. Refuses (RangeError) a negative or NaN spread, or a clip that is not finite and > 0.
 */
export function honestUpdates(
  n: number,
  d: number,
  clip: number,
  spread: HonestSpread,
  gauss: GaussianSource,
): Float64Array[] {
  if (!(spread >= 0)) throw new RangeError(`honest spread must be ≥ 0, got ${spread}`);
  if (!(clip > 0 && Number.isFinite(clip))) {
    throw new RangeError(`clip must be finite and > 0, got ${clip}`);
  }
  const iid = spread === Infinity;
  const k = iid ? 0 : Math.sqrt(1.25) / Math.sqrt(1 + spread * spread);
  const signal = 0.25 * k * clip;
  const noise = iid ? 0.25 * Math.sqrt(1.25) * clip : 0.25 * k * spread * clip;
  const mu = Float64Array.from({ length: d }, () => signal * gauss.next());
  return Array.from({ length: n }, () => mu.map((m) => m + noise * gauss.next()));
}
