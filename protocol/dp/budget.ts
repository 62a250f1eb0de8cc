/**
 * A member's privacy budget under a DP roster: what it has spent and whether it may take one
 * more round. A round is charged when the member commits to a view of it (before its approval
 * leaves), whatever the round's outcome, and at most once per round (its noisy vector is the
 * same in every view). Spending composes additively in zCDP (Bun–Steinke 2016): ρ_spent is the
 * sum of the charged rounds' ρ; (ε, δ) follows by the CKS conversion at the roster's δ.
 *
 * @module
 */
import { zcdpToEpsilon } from "./accountant.ts";
import type { DpParameters } from "./parameters.ts";

/** A member's spend against the roster's budget. */
export interface DpSpend {
  /** Rounds charged. */
  readonly roundsCharged: number;
  /** ρ spent (zCDP). */
  readonly rhoSpent: number;
  /** The budget's ρ. */
  readonly rhoBudget: number;
  /** ε spent at δ (0 before any round). */
  readonly epsilonSpent: number;
  /** The budget's ε. */
  readonly epsilonBudget: number;
  /** δ. */
  readonly delta: number;
  /** Whole rounds of the roster's ρ per round that still fit. */
  readonly roundsLeft: number;
}

/**
 * Slack for float64 sums: R rounds of a plan made for R rounds always fit, though their ρ, added
 * one by one, can exceed the budget's ρ by a few ulps.
 */
const SLACK = 1e-9;

/** The spend of `roundsCharged` rounds that cost `rhoSpent` in total, under `dp`. */
export function dpSpend(dp: DpParameters, rhoSpent: number, roundsCharged: number): DpSpend {
  const left = dp.rhoBudget * (1 + SLACK) - rhoSpent;
  return {
    roundsCharged,
    rhoSpent,
    rhoBudget: dp.rhoBudget,
    epsilonSpent: rhoSpent > 0 ? zcdpToEpsilon(rhoSpent, dp.delta) : 0,
    epsilonBudget: dp.epsilon,
    delta: dp.delta,
    roundsLeft: Math.max(0, Math.floor(left / dp.rhoPerRound)),
  };
}

/**
 * Why this member may not take a new round, or undefined when it may: with `rhoSpent` charged
 * and `inFlight` rounds accepted but not charged yet (each will cost ρ per round if it commits),
 * one more round must still fit the budget. The reason states the spend and what is left.
 */
export function budgetRefusal(
  dp: DpParameters,
  rhoSpent: number,
  roundsCharged: number,
  inFlight: number,
): string | undefined {
  const spend = dpSpend(dp, rhoSpent, roundsCharged);
  if (spend.roundsLeft >= inFlight + 1) return undefined;
  return `the DP budget (ε = ${dp.epsilon} at δ = ${dp.delta}, ${dp.rounds} rounds of ` +
    `ρ = ${dp.rhoPerRound.toPrecision(4)}) has ${spend.roundsLeft} round(s) left, ` +
    `${inFlight} of them taken by updates in flight: ${roundsCharged} round(s) charged, ` +
    `ε spent ${spend.epsilonSpent.toPrecision(4)}, ρ left ` +
    `${Math.max(0, dp.rhoBudget - rhoSpent).toPrecision(4)}`;
}
