/**
 * Robust rules over group means: the coordinate-wise median, the trimmed mean, multi-Krum,
 * Bulyan, the geometric median and a norm filter before any of them, with the rule's settings,
 * canonical encoding and tolerance. {@link combine} is the entry point; `docs/protocol.md`
 * ("Robust rules") specifies each rule bit for bit. Rules ignore group weights.
 *
 * @module
 */
export { combine, type CombineResult, MAX_MEAN_MAGNITUDE } from "./combine.ts";
export {
  checkGroupCount,
  decodeRobustRule,
  describeRobustRule,
  MAX_GEOMEDIAN_ITERATIONS,
  MAX_RULE_GROUPS,
  minimumGroups,
  type NormFilter,
  parseRobustRule,
  ROBUST_RULE_KINDS,
  type RobustRule,
  type RobustRuleKind,
  robustRuleValue,
  tolerates,
  validateRobustRule,
} from "./rule.ts";
export type { RuleOutput } from "./order.ts";
export type { Value } from "../encoding/codec.ts";
export { coordinateMedian } from "./median.ts";
export { trimmedMean } from "./trimmed_mean.ts";
export { multiKrum } from "./multi_krum.ts";
export { bulyan, bulyanSelection } from "./bulyan.ts";
export { geometricMedian } from "./geomedian.ts";
export { normFilter, type NormFilterOutput } from "./norm_filter.ts";
