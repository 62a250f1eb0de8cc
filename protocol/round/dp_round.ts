/**
 * Distributed DP in a round, in the roster's terms (`dp/mechanism.ts` does the arithmetic): what
 * a member of a DP roster submits for a round, and what a certified aggregate means. Without DP
 * the input is the quantization of `math/quantize.ts` and the mean its dequantization; in DP
 * mode the input is the clipped, rotated, rounded, noised update (D + 1 words, the weight 1) and
 * the mean is the decoded sum divided by the member count. The certified aggregate stays the
 * raw modular sum either way: decoding is public post-processing anyone repeats.
 *
 * @module
 */
import { decodeDpSum, dpRotationKey, type DpUpdate, encodeDpUpdate } from "../dp/mechanism.ts";
import { zcdpToEpsilon } from "../dp/accountant.ts";
import { localVarianceSteps } from "../dp/parameters.ts";
import { type Roster, vectorLength } from "../federation/roster.ts";
import { CallerError } from "../errors.ts";
import { dequantizeMean } from "../math/quantize.ts";

/**
 * A DP roster member's input for `round`: {@link encodeDpUpdate} with the round's rotation and
 * the member's secret 32-byte `seed` for the round. The same seed gives the same words: a member
 * keeps its seed for the round (the node journals it with the update), so every view and every
 * restart sends the same noisy vector. Refuses (CallerError `invalid-input`) a roster without
 * DP, values of another length than d, and non-finite values.
 */
export function dpRoundUpdate(
  roster: Roster,
  round: number,
  values: Float32Array,
  seed: Uint8Array,
): DpUpdate {
  if (roster.dp === undefined) throw new CallerError("invalid-input", "the roster has no DP");
  if (values.length !== roster.dim) {
    throw new CallerError(
      "invalid-input",
      `update has ${values.length} values, the roster's d is ${roster.dim}`,
    );
  }
  try {
    return encodeDpUpdate(values, roster.dp, dpRotationKey(roster.hash, round), seed);
  } catch (err) {
    if (err instanceof RangeError) throw new CallerError("invalid-input", err.message);
    throw err;
  }
}

/**
 * The mean a certified aggregate of `round` over `members` members stands for, as float32. With
 * DP: the decoded noisy sum (`decodeDpSum`) divided by the aggregate's weight word (the member
 * count: every weight is 1); without: `dequantizeMean`. Refuses (RangeError) an aggregate of the
 * wrong length or whose weight word is not `members` (DP) or out of range (`dequantizeMean`).
 */
export function aggregateMean(
  roster: Roster,
  round: number,
  aggregate: Uint32Array,
  members: number,
): Float32Array<ArrayBuffer> {
  // With groups the certified body is the total, then the group sums: the mean is the total's.
  const total = aggregate.subarray(0, vectorLength(roster));
  if (roster.dp === undefined) return dequantizeMean(total, roster.quantization, members);
  const decoded = decodeDpSum(total, roster.dp, dpRotationKey(roster.hash, round), roster.dim);
  if (decoded.members !== members) {
    throw new RangeError(
      `aggregate weight ${decoded.members} is not the ${members} members it sums (DP weights are 1)`,
    );
  }
  const out = new Float32Array(roster.dim);
  for (let i = 0; i < roster.dim; i++) out[i] = decoded.sum[i] / members;
  return out;
}

/**
 * The privacy guarantee of a DP aggregate, as anyone verifying it can state it from the roster
 * (whose hash the certificate binds: every number below is fixed by it) and the certificate.
 */
export interface DpGuarantee {
  /** The mechanism: `ddgauss`. */
  readonly mechanism: string;
  /** The L2 clip C of each member's update. */
  readonly clip: number;
  /** Bits of the modular sum. */
  readonly bits: number;
  /** The rotation: `hadamard` (randomized, keyed by the roster hash and the round). */
  readonly rotation: "hadamard";
  /** The granularity γ. */
  readonly gamma: number;
  /** The central σ the guarantee assumes. */
  readonly sigma: number;
  /** Each member's noise std σ_ℓ (original units). */
  readonly localStd: number;
  /** The roster's threshold t. */
  readonly threshold: number;
  /** Members c that may withhold their noise. */
  readonly corrupt: number;
  /** The noising members the guarantee assumes: t − c. */
  readonly noisersAssumed: number;
  /** Members the aggregate sums (|U3|). */
  readonly members: number;
  /** Its noise std if only t − c of them noised (σ) … */
  readonly noiseStdMin: number;
  /** … and if all of them did. */
  readonly noiseStdMax: number;
  /** The certified round. */
  readonly round: number;
  /** ρ (zCDP) per round. */
  readonly rhoPerRound: number;
  /** ε at δ after round + 1 rounds (for a member that took part in every one). */
  readonly epsilonSpent: number;
  /** δ. */
  readonly delta: number;
  /** The federation's ε budget … */
  readonly epsilonBudget: number;
  /** … over this many rounds. */
  readonly roundsBudget: number;
}

/** The DP guarantee of `round`'s aggregate over `members` members; undefined without DP. */
export function dpGuarantee(
  roster: Roster,
  round: number,
  members: number,
): DpGuarantee | undefined {
  const dp = roster.dp;
  if (dp === undefined) return undefined;
  const localStd = dp.gamma * Math.sqrt(localVarianceSteps(dp));
  return {
    mechanism: dp.mechanism,
    clip: dp.clip,
    bits: dp.bits,
    rotation: "hadamard",
    gamma: dp.gamma,
    sigma: dp.sigma,
    localStd,
    threshold: dp.threshold,
    corrupt: dp.corrupt,
    noisersAssumed: dp.threshold - dp.corrupt,
    members,
    noiseStdMin: dp.sigma,
    noiseStdMax: localStd * Math.sqrt(members),
    round,
    rhoPerRound: dp.rhoPerRound,
    epsilonSpent: zcdpToEpsilon(dp.rhoPerRound * (round + 1), dp.delta),
    delta: dp.delta,
    epsilonBudget: dp.epsilon,
    roundsBudget: dp.rounds,
  };
}
