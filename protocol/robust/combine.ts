/**
 * The one entry point: {@link combine} runs a federation's robust rule (after its norm filter,
 * if any) over the g group means and names which groups the rule discarded or down-weighted.
 * Pure and deterministic: every member and `fedagg verify` recompute the same bits from the same
 * means (`docs/protocol.md`, "Robust rules").
 *
 * @module
 */
import { CallerError } from "../errors.ts";
import { bulyan } from "./bulyan.ts";
import { geometricMedian } from "./geomedian.ts";
import { coordinateMedian } from "./median.ts";
import { multiKrum } from "./multi_krum.ts";
import { normFilter } from "./norm_filter.ts";
import type { RuleOutput } from "./order.ts";
import {
  checkGroupCount,
  MAX_RULE_GROUPS,
  minimumGroups,
  type RobustRule,
  validateRobustRule,
} from "./rule.ts";
import { trimmedMean } from "./trimmed_mean.ts";

/** Largest magnitude of a group mean's coordinate {@link combine} accepts. */
export const MAX_MEAN_MAGNITUDE = 1e30;

/** The combined result and what the rule did with each group. */
export interface CombineResult {
  /** The published vector (length d). */
  readonly result: Float64Array;
  /** Groups whose mean entered the result (weight > 0), ascending. */
  readonly kept: number[];
  /** Groups left out entirely (by the norm filter or by the rule), ascending. */
  readonly discarded: number[];
  /** Of `discarded`, those the norm filter dropped, ascending. */
  readonly filtered: number[];
  /** Kept groups whose weight is below half a plain average's share, 1/(2g), ascending. */
  readonly downWeighted: number[];
  /** Each group's share of the result (see `RuleOutput.weights`); 0 for discarded groups. */
  readonly weights: Float64Array;
}

/** Runs `rule` (without its filter) on `means`. */
function runRule(rule: RobustRule, means: readonly Float64Array[]): RuleOutput {
  switch (rule.kind) {
    case "median":
      return coordinateMedian(means);
    case "trimmed-mean":
      return trimmedMean(means, rule.beta);
    case "multi-krum":
      return multiKrum(means, rule.f, rule.m);
    case "bulyan":
      return bulyan(means, rule.f);
    case "geomedian":
      return geometricMedian(means, rule.iterations, rule.nu);
  }
}

/**
 * Combines g group means with `rule`. The means are not modified; group weights play no part
 * (rules ignore them: they are self-reported). Refuses with a `ConfigError` an invalid rule
 * (`robust.…`) or a g below what the rule needs (`groups`, e.g. multi-krum's g > 2f + 2), and
 * with a {@link CallerError} `invalid-input` no means, more than 65535, means of different or
 * zero length, or a coordinate that is not finite or exceeds 1e30 in magnitude (naming the group
 * and coordinate).
 */
export function combine(rule: RobustRule, means: readonly Float64Array[]): CombineResult {
  validateRobustRule(rule);
  const g = means.length;
  if (g < 1 || g > MAX_RULE_GROUPS) {
    throw new CallerError("invalid-input", `combine: ${g} group means, expected 1..65535`);
  }
  checkGroupCount(rule, g);
  const d = means[0].length;
  for (let i = 0; i < g; i++) {
    const x = means[i];
    if (!(x instanceof Float64Array) || x.length !== d || d === 0) {
      throw new CallerError(
        "invalid-input",
        `combine: group ${i}'s mean is not a Float64Array of length ${d || "≥ 1"}`,
      );
    }
    for (let j = 0; j < d; j++) {
      if (!(Math.abs(x[j]) <= MAX_MEAN_MAGNITUDE)) {
        throw new CallerError(
          "invalid-input",
          `combine: group ${i}'s mean has ${x[j]} at coordinate ${j} (finite, |x| ≤ 1e30 only)`,
        );
      }
    }
  }
  const keptByFilter = rule.normFilter === undefined
    ? [...Array(g).keys()]
    : normFilter(means, rule.normFilter.tau, minimumGroups(rule)).kept;
  const out = runRule(rule, keptByFilter.map((i) => means[i]));
  const weights = new Float64Array(g);
  keptByFilter.forEach((i, a) => weights[i] = out.weights[a]);
  const inFilter = new Set(keptByFilter);
  const kept: number[] = [];
  const discarded: number[] = [];
  const filtered: number[] = [];
  const downWeighted: number[] = [];
  for (let i = 0; i < g; i++) {
    if (!inFilter.has(i)) filtered.push(i);
    if (weights[i] > 0) {
      kept.push(i);
      if (weights[i] < 1 / (2 * g)) downWeighted.push(i);
    } else discarded.push(i);
  }
  return { result: out.result, kept, discarded, filtered, downWeighted, weights };
}
