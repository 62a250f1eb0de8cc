/**
 * The simulator's distributed-DP measurement (issue 13): each member's DP input for a round and,
 * once the round is final, how much noise its aggregate actually carries.
 *
 * All figures are per coordinate of the published sum, in original units, in the rotated domain
 * (the rotation is orthogonal, so a per-coordinate std is the same before and after it):
 *
 * - `sigma`: the central σ the guarantee assumes (the noise of t − c members);
 * - `expectedStd`: what the round's noising survivors added in theory, γ·√(k·σ_ℓ²/γ²) for the k
 *   survivors that noised (≥ `sigma` while k ≥ t − c);
 * - `noiseStd`: the measured root mean square, over the D coordinates, of the aggregate minus the
 *   plaintext sum of the survivors' clipped, rotated, rounded inputs (both in steps, the
 *   difference read modulo 2^bits as signed, times γ): the noise alone;
 * - `epsilonSpent`: ε of the budget's δ after the rounds run so far (ρ per round × rounds).
 *
 * @module
 */
import { labelledRng } from "../crypto/mod.ts";
import { zcdpToEpsilon } from "../dp/accountant.ts";
import {
  decodeDpSum,
  dpRotationKey,
  encodeDpUpdate,
  signedSteps,
  wrapEvidence,
} from "../dp/mechanism.ts";
import { localVarianceSteps } from "../dp/parameters.ts";
import type { Roster } from "../federation/roster.ts";
import { clipL2 } from "../dp/rounding.ts";

/** The simulator's DP settings: the budget, and members that withhold their noise. */
export interface SimDpOptions {
  /** The federation's total ε. */
  readonly epsilon: number;
  /** Its δ. */
  readonly delta: number;
  /** Rounds the budget must last (default: the rounds simulated). */
  readonly rounds?: number;
  /** L2 clip (default 1). */
  readonly clip?: number;
  /** Bits of the modular sum (default 32). */
  readonly bits?: number;
  /** c, the withholding members the noise is planned for (default `withhold`). */
  readonly corrupt?: number;
  /** Members (the lowest indices) that add no noise, as corrupt members would (default 0). */
  readonly withhold?: number;
}

/** One round's DP figures (module doc). */
export interface DpRoundReport {
  /** Central σ the guarantee assumes. */
  readonly sigma: number;
  /** The std the noising survivors added in theory. */
  readonly expectedStd: number;
  /** The measured std of (aggregate − plaintext sum of the rounded inputs). */
  readonly noiseStd: number;
  /** ε spent after this many rounds, at `delta`. */
  readonly epsilonSpent: number;
  /** The budget's δ. */
  readonly delta: number;
  /** The L2 clip. */
  readonly clip: number;
  /** Survivors whose noise is in the aggregate. */
  readonly noisers: number;
  /** The granularity γ. */
  readonly gamma: number;
  /** Bits of the modular sum. */
  readonly bits: number;
  /** Coordinates beyond the honest bound (wrap evidence), or null when not detectable. */
  readonly wrapSuspects: number | null;
  /** Largest |published mean − mean of the survivors' L2-clipped updates| (noise included). */
  readonly maxAbsError: number;
}

/** Each member's DP input of one round, and its rounded values before noise. */
export interface DpInputs {
  /** D + 1 words per member. */
  readonly words: Uint32Array[];
  /** D rounded values (steps) per member, before noise. */
  readonly rounded: Int32Array[];
}

/**
 * The members' DP inputs for `round` from their float updates: each with its own seeded stream
 * (`fedagg-sim/seed/dp/round/member`); members below `withhold` add no noise.
 */
export function dpInputs(
  roster: Roster,
  round: number,
  seed: number,
  floats: readonly Float32Array[],
  withhold: number,
): DpInputs {
  const dp = roster.dp!;
  const key = dpRotationKey(roster.hash, round);
  const out: DpInputs = { words: [], rounded: [] };
  floats.forEach((x, i) => {
    const memberSeed = labelledRng("fedagg-sim", seed, "dp", round, i)(32);
    const u = encodeDpUpdate(x, dp, key, memberSeed, i >= withhold);
    out.words.push(u.words);
    out.rounded.push(u.rounded);
  });
  return out;
}

/** The DP figures of a final aggregate over `members` (module doc). */
export function dpRoundReport(
  roster: Roster,
  round: number,
  inputs: DpInputs,
  floats: readonly Float32Array[],
  members: readonly number[],
  aggregate: Uint32Array,
  withhold: number,
): DpRoundReport {
  const dp = roster.dp!;
  const D = dp.paddedDim;
  const modulus = 2 ** dp.bits;
  const difference = new Uint32Array(D);
  for (let i = 0; i < D; i++) {
    let plain = 0;
    for (const m of members) plain += inputs.rounded[m][i];
    difference[i] = ((aggregate[i] - plain) % modulus + modulus) % modulus;
  }
  const noise = signedSteps(difference, D, dp.bits);
  let squares = 0;
  for (let i = 0; i < D; i++) squares += noise[i] * noise[i];
  const noisers = members.filter((m) => m >= withhold).length;
  const key = dpRotationKey(roster.hash, round);
  const decoded = decodeDpSum(aggregate, dp, key, roster.dim);
  const wraps = wrapEvidence(decoded.steps, dp, members.length);
  let worst = 0;
  const clipped = members.map((m) => clipL2(floats[m], dp.clip).clipped);
  for (let j = 0; j < roster.dim; j++) {
    let acc = 0;
    for (const c of clipped) acc += c[j];
    worst = Math.max(worst, Math.abs(decoded.sum[j] - acc) / members.length);
  }
  return {
    sigma: dp.sigma,
    expectedStd: dp.gamma * Math.sqrt(noisers * localVarianceSteps(dp)),
    noiseStd: dp.gamma * Math.sqrt(squares / D),
    epsilonSpent: zcdpToEpsilon(dp.rhoPerRound * (round + 1), dp.delta),
    delta: dp.delta,
    clip: dp.clip,
    noisers,
    gamma: dp.gamma,
    bits: dp.bits,
    wrapSuspects: wraps.detectable ? wraps.beyond : null,
    maxAbsError: worst,
  };
}
