/**
 * A roster's distributed-DP parameters: the budget and the mechanism's settings a federation
 * chooses (its `dp` section), and what every member derives from them with the planner
 * (`plan.ts`): the central σ, the granularity γ and the exact rational variance each member's
 * sampler uses. Every member derives the same parameters from the same roster, and the roster
 * hash binds the derived γ and variance too, so a member whose arithmetic differed would not
 * accept the roster at all (rather than add noise of another scale).
 *
 * DP mode changes what a member sends: D + 1 words (D = 2^⌈log2 d⌉, the rotation's padded
 * length), the D words of its clipped, rotated, rounded and noised update modulo 2^bits, and a
 * weight word fixed at 1 (a self-reported weight would change the sensitivity, and the weight
 * sum is published exactly), see `mechanism.ts`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { type Rational, rationalAtLeast } from "./discrete_gaussian.ts";
import { DP_PLAN_DEFAULTS, planDistributedDp } from "./plan.ts";

/** The mechanism a DP roster names (the only one built: the distributed discrete Gaussian). */
export type DpMechanism = "ddgauss";

/** What a federation chooses for distributed DP (the roster's `dp` section). */
export interface DpSettings {
  /** The federation's total ε over all its rounds, > 0. */
  readonly epsilon: number;
  /** The total δ, in (0, 1). */
  readonly delta: number;
  /** Rounds the budget must last, ≥ 1 (each round's noise is planned for a 1/rounds share). */
  readonly rounds: number;
  /** The L2 clipping radius C of each member's whole flattened update, > 0. */
  readonly clip: number;
  /** Bits b of the modular sum, 1..32 (members send words modulo 2^b). */
  readonly bits: number;
  /**
   * Members c (0 ≤ c < t) of a published sum that may withhold their noise (corrupt, or
   * dropped after sending): each member adds variance σ²/(t − c). Required: no default.
   */
  readonly corrupt: number;
  /** Conditional rounding β ∈ [0, 1); defaults to e^−½ (DDGauss's suggestion). */
  readonly beta?: number;
  /** Planned per-coordinate probability that the modular sum wraps; defaults to 10^−4. */
  readonly modclipProb?: number;
}

/** A roster's DP parameters: the settings (defaults filled in) and what they imply. */
export interface DpParameters extends Required<DpSettings> {
  /** The mechanism: `ddgauss`. */
  readonly mechanism: DpMechanism;
  /** Central noise std σ (original units) that the sum of any t survivors carries at least. */
  readonly sigma: number;
  /** The granularity γ: one integer step stands for γ (original units). */
  readonly gamma: number;
  /**
   * Each member's noise variance in steps², the exact rational its sampler uses: at least
   * (σ/γ)²/(t − c) (rounded up to a multiple of 2^−10, {@link rationalAtLeast}).
   */
  readonly localVariance: Rational;
  /** The padded dimension D = 2^⌈log2 d⌉: a DP member sends D + 1 words. */
  readonly paddedDim: number;
  /** The rounded vector's L2 bound Δ₂ in steps (DDGauss Theorem 1). */
  readonly l2Bound: number;
  /** The survivors t the noise assumes (the roster's threshold). */
  readonly threshold: number;
  /** ρ (zCDP) one round spends. */
  readonly rhoPerRound: number;
  /** The budget's ρ: ρ(ε, δ) under the CKS conversion. */
  readonly rhoBudget: number;
}

const SETTING_NAMES = [
  "epsilon",
  "delta",
  "rounds",
  "clip",
  "bits",
  "corrupt",
  "beta",
  "modclipProb",
] as const;

/**
 * The DP parameters of a roster of `members` members, threshold `threshold` and dimension `dim`.
 * Refuses (ConfigError naming `dp.<setting>`) a setting of the wrong type, a missing `corrupt`,
 * and everything {@link planDistributedDp} refuses (out-of-range values, bits too narrow for n,
 * budgets no noise level meets). Reads only the settings' own fields (a {@link DpParameters}
 * given back as settings yields the same parameters).
 */
export function dpParameters(
  settings: DpSettings,
  roster: { readonly members: number; readonly threshold: number; readonly dim: number },
): DpParameters {
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    throw new ConfigError("dp", "must be an object of DP settings");
  }
  for (const name of SETTING_NAMES) {
    const v: unknown = settings[name];
    const optional = name === "beta" || name === "modclipProb";
    if (v === undefined && optional) continue;
    if (v === undefined) {
      throw new ConfigError(
        `dp.${name}`,
        name === "corrupt"
          ? "is required in DP mode: how many members of a published sum may withhold their " +
            "noise (0 trusts every survivor to add it)"
          : "is required in DP mode",
      );
    }
    if (typeof v !== "number") throw new ConfigError(`dp.${name}`, "must be a number");
  }
  const full = {
    epsilon: settings.epsilon,
    delta: settings.delta,
    rounds: settings.rounds,
    clip: settings.clip,
    bits: settings.bits,
    corrupt: settings.corrupt,
    beta: settings.beta ?? DP_PLAN_DEFAULTS.beta,
    modclipProb: settings.modclipProb ?? DP_PLAN_DEFAULTS.modclipProb,
  };
  let plan;
  try {
    plan = planDistributedDp({
      ...full,
      members: roster.members,
      threshold: roster.threshold,
      dim: roster.dim,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const own = (SETTING_NAMES as readonly string[]).includes(err.setting);
    throw new ConfigError(
      own ? `dp.${err.setting}` : err.setting,
      err.message.slice(err.setting.length + 2),
    );
  }
  return Object.freeze({
    ...full,
    mechanism: "ddgauss" as const,
    sigma: plan.sigma,
    gamma: plan.gamma,
    localVariance: rationalAtLeast(plan.localStdSteps ** 2),
    paddedDim: plan.paddedDim,
    l2Bound: plan.l2Bound,
    threshold: roster.threshold,
    rhoPerRound: plan.rhoPerRound,
    rhoBudget: plan.rhoBudget,
  });
}

/** The per-member noise variance in steps² as a float64 (for reports; the sampler is exact). */
export function localVarianceSteps(p: Pick<DpParameters, "localVariance">): number {
  return Number(p.localVariance.num) / Number(p.localVariance.den);
}
