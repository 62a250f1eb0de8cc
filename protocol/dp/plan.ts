/**
 * Planning a federation's distributed differential privacy before it starts: from a budget
 * (ε, δ) over a number of rounds to the noise each member adds, with the distributed discrete
 * Gaussian (DDGauss, Kairouz–Liu–Steinke ICML 2021) and the accounting of `accountant.ts`.
 *
 * Steps ({@link planDistributedDp}):
 *
 * 1. the budget's zCDP: ρ_total = {@link epsilonToRho}(ε, δ), ρ per round = ρ_total / rounds;
 * 2. the survivors the noise can count on: a round publishes the sum of at least t members, of
 *    whom up to c (corrupt, or simply withholding) may add no noise, so each member adds
 *    variance σ²/(t − c) and the sum of any t survivors carries at least σ² (the guarantee), at
 *    most n·σ²/(t − c) (everyone noised; the modular range must hold that);
 * 3. for a central σ: the per-member std σ_ℓ = σ/√(t − c), the granularity γ of
 *    {@link granularity} (n members, padded dimension D, b bits, modular-clipping probability p;
 *    at least clip/{@link MAX_CLIP_STEPS}),
 *    the rounded norm bound Δ₂ = {@link inflatedNormBound}(c/γ, D, β), and the round's
 *    ρ = {@link ddgaussRho}(Δ₂, σ_ℓ/γ, t − c, D);
 * 4. the smallest σ (bisection) whose ρ fits the round's share. The reported plan is always one
 *    that fits (the bisection keeps the feasible end); it refuses budgets that no σ meets at
 *    these bits (the rounding of a narrow word costs privacy that noise cannot buy back).
 *
 * The error it reports is per coordinate of the published sum (original units): the noise
 * (between σ and σ·√(n/(t − c))) plus randomized rounding (at most γ²/4 per member and
 * coordinate: the rotation is orthogonal, so per-coordinate variances average out the same).
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { ddgaussRho, epsilonToRho, zcdpToEpsilon } from "./accountant.ts";
import { paddedLength } from "./rotation.ts";
import {
  granularity,
  type GranularitySettings,
  inflatedNormBound,
  modularClipProbability,
  stddevsForProbability,
} from "./rounding.ts";

/** What a federation asks of distributed DP. */
export interface DpPlanSettings {
  /** The total ε over all rounds, > 0. */
  readonly epsilon: number;
  /** The total δ, in (0, 1). */
  readonly delta: number;
  /** Rounds the budget must last, ≥ 1. */
  readonly rounds: number;
  /** L2 clipping radius c of each member's flattened update, > 0. */
  readonly clip: number;
  /** Members n of the federation, ≥ 1. */
  readonly members: number;
  /** The round threshold t: a published sum has at least t members, 1 ≤ t ≤ n. */
  readonly threshold: number;
  /** Members c (0 ≤ c < t) that may withhold their noise. */
  readonly corrupt: number;
  /** The update's dimension d (padded to D = 2^⌈log2 d⌉), ≥ 1. */
  readonly dim: number;
  /** Bits b of the modular sum, 1 ≤ b ≤ 32. */
  readonly bits: number;
  /** Conditional rounding β ∈ [0, 1) (DDGauss suggests e^−½; 0 is plain randomized rounding). */
  readonly beta: number;
  /** Target per-coordinate probability that the modular sum wraps, in (0, 1). */
  readonly modclipProb: number;
}

/**
 * Defaults for the settings a federation rarely changes: no withholding members, the issue's
 * d = 100k, the protocol's 32-bit words, β = e^−½ (DDGauss's suggestion) and TFF's default
 * wrap probability 10^−4.
 */
export const DP_PLAN_DEFAULTS = {
  corrupt: 0,
  dim: 100000,
  bits: 32,
  beta: Math.exp(-0.5),
  modclipProb: 1e-4,
} as const;

/** A plan: the noise, the discretization, the privacy it buys and the error it costs. */
export interface DpPlan {
  /** The settings the plan was made for. */
  readonly settings: DpPlanSettings;
  /** σ: the central noise std the guarantee assumes (original units). */
  readonly sigma: number;
  /** σ_ℓ = σ/√(t − c): each member's noise std (original units). */
  readonly localStd: number;
  /** σ_ℓ/γ: each member's discrete Gaussian std in integer steps. */
  readonly localStdSteps: number;
  /** γ: the granularity (one step, original units); 1/γ is the scale. */
  readonly gamma: number;
  /** D: the padded dimension. */
  readonly paddedDim: number;
  /** Δ₂: the rounded L2 bound of one member's vector (steps). */
  readonly l2Bound: number;
  /** τ of DDGauss Proposition 14 at σ_ℓ/γ and t − c members. */
  readonly tau: number;
  /** ρ one round costs. */
  readonly rhoPerRound: number;
  /** ρ the budget allows in total ({@link epsilonToRho}(ε, δ)). */
  readonly rhoBudget: number;
  /** ε all rounds spend at δ (≤ the target). */
  readonly epsilonSpent: number;
  /** Noise std per coordinate of the sum: [σ, σ·√(n/(t − c))] (original units). */
  readonly noiseStd: { readonly min: number; readonly max: number };
  /** Bound on the rounding error's std per coordinate of the sum of n members: γ·√n/2. */
  readonly roundingStd: number;
  /** Expected error std per coordinate of the sum, everyone noised: √(max² + rounding²). */
  readonly errorStd: number;
  /** The same for the mean of the n members' updates (errorStd/n). */
  readonly meanErrorStd: number;
  /** The word checks (TFF's): bits ≥ log2 n, 4^b > n·k² (both refused otherwise), the wraps. */
  readonly bitsCheck: {
    /** log2 n, which the bits must reach (refused below). */
    readonly log2Members: number;
    /** k = √2·erfc⁻¹(p). */
    readonly stddevs: number;
    /** The per-coordinate wrap probability at γ (p by construction, less if γ was capped). */
    readonly modclipPerCoordinate: number;
    /** Union bound on any coordinate wrapping in one round: min(1, D·p). */
    readonly modclipAnyCoordinate: number;
  };
  /**
   * What the plan allows but a federation should know. Today one kind: some coordinate of a
   * round's sum may wrap with probability above {@link WRAP_WARNING_LEVEL} (when γ is not
   * capped the per-coordinate p binds: with D ≈ 10^5 and p = 10^−4, about 13 coordinates of
   * every round wrap, each off by 2^b steps).
   */
  readonly warnings: readonly DpPlanWarning[];
}

/** A setting the plan accepts but advises changing. */
export interface DpPlanWarning {
  /** The setting to change. */
  readonly setting: "modclipProb";
  /** A value of it that removes the warning (two significant digits). */
  readonly suggested: number;
  /** What is wrong, one sentence, without the suggestion. */
  readonly message: string;
}

/**
 * The any-coordinate wrap probability per round above which a plan warns (1 %): a wrapped
 * coordinate of the sum is off by 2^b steps, which no mean can absorb.
 */
export const WRAP_WARNING_LEVEL = 0.01;

/**
 * The most steps the clip may span (γ ≥ clip/2^24): keeps a member's rounded norm (≤ clip/γ +
 * √D) far enough below 2^26.5 that its square, the conditional rounding's check, is exact in
 * float64, and every coordinate inside int32. TFF caps its scale at 10^6 for the same kind of
 * reason. A coarser γ than the heuristic's only lowers the wrap probability.
 */
export const MAX_CLIP_STEPS = 2 ** 24;

/** The smallest positive normal float64 (2^−1022): a γ below it has lost precision. */
const MIN_NORMAL = 2 ** -1022;

/** x rounded down to two significant digits (a suggestion that, as printed, still holds). */
function floorTwoDigits(x: number): number {
  const unit = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.floor(x / unit) * unit;
}

function refuse(setting: string, detail: string): never {
  throw new ConfigError(setting, detail);
}

function checkSettings(s: DpPlanSettings): void {
  if (!(s.epsilon > 0) || !Number.isFinite(s.epsilon)) {
    refuse("epsilon", `must be a finite number > 0, got ${s.epsilon}`);
  }
  if (!(s.delta > 0 && s.delta < 1)) refuse("delta", `must be in (0, 1), got ${s.delta}`);
  if (!Number.isSafeInteger(s.rounds) || s.rounds < 1) {
    refuse("rounds", `must be an integer ≥ 1, got ${s.rounds}`);
  }
  if (!(s.clip > 0) || !Number.isFinite(s.clip)) {
    refuse("clip", `must be a finite number > 0, got ${s.clip}`);
  }
  if (!Number.isSafeInteger(s.members) || s.members < 1) {
    refuse("members", `must be an integer ≥ 1, got ${s.members}`);
  }
  if (!Number.isSafeInteger(s.threshold) || s.threshold < 1 || s.threshold > s.members) {
    refuse(
      "threshold",
      `must be an integer in [1, ${s.members}] (the members), got ${s.threshold}`,
    );
  }
  if (!Number.isSafeInteger(s.corrupt) || s.corrupt < 0 || s.corrupt >= s.threshold) {
    refuse(
      "corrupt",
      `must be an integer in [0, threshold − 1] = [0, ${s.threshold - 1}]: at least one ` +
        `member of every published sum must add noise, got ${s.corrupt}`,
    );
  }
  if (!Number.isSafeInteger(s.dim) || s.dim < 1 || s.dim > 2 ** 30) {
    refuse("dim", `must be an integer in [1, 2^30], got ${s.dim}`);
  }
  if (!Number.isInteger(s.bits) || s.bits < 1 || s.bits > 32) {
    refuse("bits", `must be an integer in [1, 32], got ${s.bits}`);
  }
  if (!(s.beta >= 0 && s.beta < 1)) refuse("beta", `must be in [0, 1), got ${s.beta}`);
  if (!(s.modclipProb > 0 && s.modclipProb < 1)) {
    refuse("modclipProb", `must be in (0, 1), got ${s.modclipProb}`);
  }
}

interface Evaluation {
  readonly rho: number;
  readonly tau: number;
  readonly gamma: number;
  readonly l2Bound: number;
  readonly localStd: number;
}

/**
 * The plan for `settings` (module doc). Refuses (ConfigError naming the setting) out-of-range
 * settings, bits too narrow for n members (2^b < n, or 4^b ≤ n·k² at the wrap probability: the
 * checks of TFF's `DistributedDpSumFactory`), budgets no noise level meets at these bits,
 * budgets whose ρ per round underflows to 0 (`epsilon`), and clips so large or small that the
 * noise or the granularity leave float64's range (`clip`). Works in units of the clip, so any
 * clip whose results are representable is planned (the plan is homogeneous in the clip).
 */
export function planDistributedDp(settings: DpPlanSettings): DpPlan {
  const s = settings;
  checkSettings(s);
  const D = paddedLength(s.dim);
  const noisy = s.threshold - s.corrupt;
  const k = stddevsForProbability(s.modclipProb);
  if (2 ** s.bits < s.members) {
    refuse("bits", `${s.bits} is below log2 of the ${s.members} members: the sum would overflow`);
  }
  if (4 ** s.bits <= s.members * k * k) {
    refuse(
      "bits",
      `${s.bits} cannot hold ${k.toFixed(2)} standard deviations of the rounding noise of ` +
        `${s.members} members (needs 4^bits > n·k² = ${(s.members * k * k).toFixed(1)}): raise ` +
        `the bits or the modular-clipping probability`,
    );
  }
  const rhoBudget = epsilonToRho(s.epsilon, s.delta);
  const target = rhoBudget / s.rounds;
  if (!(target > 0)) {
    refuse(
      "epsilon",
      `${s.epsilon} at δ = ${s.delta} over ${s.rounds} rounds allows a zCDP budget ρ of ` +
        `${target} per round (it underflows float64): no noise level meets it; raise ε or δ, ` +
        `or lower the rounds`,
    );
  }

  // Everything below is in units of the clip (c = 1): the plan is homogeneous in c (γ, σ and the
  // errors scale with it, the steps do not), and unit clip keeps c², c·n and σ² far from float64's
  // overflow and underflow; the results are scaled back at the end.
  const word = (localStd: number): GranularitySettings => ({
    bits: s.bits,
    modclipProb: s.modclipProb,
    clip: 1,
    members: s.members,
    dim: D,
    localStd,
  });
  const evaluate = (sigma: number): Evaluation | undefined => {
    const localStd = sigma / Math.sqrt(noisy);
    const gamma = Math.max(granularity(word(localStd)), 1 / MAX_CLIP_STEPS);
    if (!(gamma > 0) || localStd / gamma < 0.5) return undefined; // outside Proposition 14
    const l2Bound = inflatedNormBound(1 / gamma, D, s.beta);
    const { rho, tau } = ddgaussRho({
      l2Bound,
      localStd: localStd / gamma,
      noisyMembers: noisy,
      dim: D,
    });
    return { rho, tau, gamma, l2Bound, localStd };
  };
  const fits = (e: Evaluation | undefined): e is Evaluation => e !== undefined && e.rho <= target;

  // Bracket: hi fits, lo does not (in units of the clip; 2^200 is far below overflow).
  let hi = 1;
  let found = evaluate(hi);
  for (let i = 0; i < 200 && !fits(found); i++) {
    hi *= 2;
    found = evaluate(hi);
  }
  if (!fits(found)) {
    refuse(
      "bits",
      `${s.bits} cannot meet ρ = ${target.toExponential(3)} per round at any noise level (the ` +
        `rounding to a ${s.bits}-bit word alone costs more): raise the bits or the budget, or ` +
        `lower the rounds`,
    );
  }
  let best: Evaluation = found;
  let lo = hi / 2;
  for (let e = evaluate(lo); fits(e) && lo > 1e-12; e = evaluate(lo)) {
    hi = lo;
    best = e;
    lo /= 2;
  }
  for (let i = 0; i < 200; i++) {
    const mid = lo + (hi - lo) / 2;
    if (mid === lo || mid === hi || (hi - lo) / hi < 1e-12) break;
    const e = evaluate(mid);
    if (fits(e)) {
      hi = mid;
      best = e;
    } else {
      lo = mid;
    }
  }
  const { gamma: unitGamma, l2Bound, localStd: unitLocalStd, rho, tau } = best;
  const perCoordinate = modularClipProbability(word(unitLocalStd), unitGamma);
  // Back to original units.
  const sigma = hi * s.clip;
  const localStd = unitLocalStd * s.clip;
  const gamma = unitGamma * s.clip;
  const noiseMax = sigma * Math.sqrt(s.members / noisy);
  const roundingStd = (gamma * Math.sqrt(s.members)) / 2;
  const errorStd = Math.hypot(noiseMax, roundingStd);
  if (!Number.isFinite(noiseMax) || !Number.isFinite(errorStd)) {
    refuse(
      "clip",
      `${s.clip} needs a noise std (${hi.toPrecision(4)} × the clip, up to ` +
        `${Math.sqrt(s.members / noisy).toPrecision(4)} times that in the sum) beyond float64's ` +
        `range: express the updates in smaller units`,
    );
  }
  if (!(gamma >= MIN_NORMAL)) {
    refuse(
      "clip",
      `${s.clip} makes the granularity γ = ${gamma} too small for float64 (a step must be at ` +
        `least ${MIN_NORMAL}): express the updates in larger units`,
    );
  }
  const anyCoordinate = Math.min(1, D * perCoordinate);
  const warnings: DpPlanWarning[] = [];
  if (anyCoordinate > WRAP_WARNING_LEVEL) {
    warnings.push({
      setting: "modclipProb",
      suggested: floorTwoDigits(WRAP_WARNING_LEVEL / D),
      message: `some coordinate of a round's sum wraps modulo 2^${s.bits} with probability up ` +
        `to ${anyCoordinate.toPrecision(3)} (about ${(D * perCoordinate).toPrecision(3)} ` +
        `coordinates per round, each then off by 2^${s.bits} steps): the wrap probability ` +
        `${s.modclipProb} is per coordinate, and there are ${D}`,
    });
  }
  return {
    settings: s,
    sigma,
    localStd,
    localStdSteps: unitLocalStd / unitGamma,
    gamma,
    paddedDim: D,
    l2Bound,
    tau,
    rhoPerRound: rho,
    rhoBudget,
    epsilonSpent: zcdpToEpsilon(rho * s.rounds, s.delta),
    noiseStd: { min: sigma, max: noiseMax },
    roundingStd,
    errorStd,
    meanErrorStd: errorStd / s.members,
    bitsCheck: {
      log2Members: Math.log2(s.members),
      stddevs: k,
      modclipPerCoordinate: perCoordinate,
      modclipAnyCoordinate: anyCoordinate,
    },
    warnings,
  };
}
