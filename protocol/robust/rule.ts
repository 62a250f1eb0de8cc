/**
 * The robust rule a federation combines its group means with: its settings, their validation
 * (from the roster's JSON and from canonical bytes), their canonical encoding, the number of
 * groups each rule needs and the number of poisoned groups it tolerates. The rules themselves
 * are one file each (`median.ts`, `trimmed_mean.ts`, `multi_krum.ts`, `bulyan.ts`,
 * `geomedian.ts`, `norm_filter.ts`); `combine.ts` runs one. `docs/protocol.md` ("Robust rules")
 * specifies every rule to the float operation.
 *
 * Rules ignore group weights: a group's weight is self-reported by its members, so a rule that
 * weighted by it would let one member claiming `maxWeight` steer the result.
 *
 * @module
 */
import { type Value } from "../encoding/codec.ts";
import { Fields } from "../encoding/codec.ts";
import { ConfigError, ProtocolError } from "../errors.ts";

/** The rule's kind; also its name in the roster's JSON and in its canonical encoding. */
export type RobustRuleKind = "median" | "trimmed-mean" | "multi-krum" | "bulyan" | "geomedian";

/** The optional filter before any rule: drop means farther than τ × the median distance. */
export interface NormFilter {
  /** τ: finite, ≥ 1. */
  readonly tau: number;
}

/**
 * A robust rule and its parameters, optionally preceded by a {@link NormFilter}:
 *
 * - `median`: coordinate-wise median (Yin et al. 2018);
 * - `trimmed-mean`: coordinate-wise β-trimmed mean, β ∈ [0, 1/2) (Yin et al. 2018);
 * - `multi-krum`: the mean of the m means with the lowest Krum scores for f Byzantine groups
 *   (Blanchard et al. 2017), 1 ≤ m, g ≥ max(2f + 3, f + m);
 * - `bulyan`: Krum-selected θ = g − 2f means, then per coordinate the mean of the θ − 2f values
 *   closest to their median (El Mhamdi et al. 2018), g ≥ 4f + 3;
 * - `geomedian`: smoothed Weiszfeld with a fixed iteration budget (1..1000) and smoothing ν > 0
 *   (Pillutla et al. 2022).
 */
export type RobustRule =
  & (
    | { readonly kind: "median" }
    | { readonly kind: "trimmed-mean"; readonly beta: number }
    | { readonly kind: "multi-krum"; readonly f: number; readonly m: number }
    | { readonly kind: "bulyan"; readonly f: number }
    | { readonly kind: "geomedian"; readonly iterations: number; readonly nu: number }
  )
  & { readonly normFilter?: NormFilter };

/** The rule kinds, in the order the docs list them. */
export const ROBUST_RULE_KINDS: readonly RobustRuleKind[] = [
  "median",
  "trimmed-mean",
  "multi-krum",
  "bulyan",
  "geomedian",
];

/** Largest Byzantine-group count f (and m) a rule may name: the roster's member limit. */
export const MAX_RULE_GROUPS = 65535;
/** Largest Weiszfeld iteration budget. */
export const MAX_GEOMEDIAN_ITERATIONS = 1000;
/** Largest magnitude of a float parameter (ν, τ): keeps every product with a distance finite. */
const MAX_FLOAT_PARAMETER = 1e30;

/** Each kind's parameters, by name (the JSON keys besides `kind` and `normFilter`). */
const PARAMETERS: Record<RobustRuleKind, readonly string[]> = {
  "median": [],
  "trimmed-mean": ["beta"],
  "multi-krum": ["f", "m"],
  "bulyan": ["f"],
  "geomedian": ["iterations", "nu"],
};

function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Object.is(v, -0)) return "-0";
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  return Array.isArray(v) ? "an array" : typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) &&
    Object.getPrototypeOf(v) === Object.prototype;
}

function integerIn(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new ConfigError(field, `must be an integer in [${min}, ${max}], got ${describeValue(v)}`);
  }
  return v;
}

function floatIn(field: string, v: unknown, ok: (x: number) => boolean, range: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || Object.is(v, -0) || !ok(v)) {
    throw new ConfigError(field, `must be a finite number ${range}, got ${describeValue(v)}`);
  }
  return v;
}

/**
 * Checks a rule's parameters on their own (not against a group count: {@link tolerates} does
 * that) and returns it. Refuses with a {@link ConfigError} whose `setting` names the field
 * (`field.kind`, `field.beta`, `field.f`, `field.m`, `field.iterations`, `field.nu`,
 * `field.normFilter.tau`): an unknown kind; β outside [0, 1/2); f outside [0, 65535]; m outside
 * [1, 65535]; iterations outside [1, 1000]; ν not in (0, 1e30]; τ not in [1, 1e30]; any float
 * that is NaN, infinite or −0 (−0 would give a second encoding of the same rule).
 */
export function validateRobustRule(rule: RobustRule, field = "robust"): RobustRule {
  const r = rule as unknown as Record<string, unknown>;
  switch (rule.kind) {
    case "median":
      break;
    case "trimmed-mean":
      floatIn(`${field}.beta`, r.beta, (x) => x >= 0 && x < 0.5, "in [0, 0.5)");
      break;
    case "multi-krum":
      integerIn(`${field}.f`, r.f, 0, MAX_RULE_GROUPS);
      integerIn(`${field}.m`, r.m, 1, MAX_RULE_GROUPS);
      break;
    case "bulyan":
      integerIn(`${field}.f`, r.f, 0, MAX_RULE_GROUPS);
      break;
    case "geomedian":
      integerIn(`${field}.iterations`, r.iterations, 1, MAX_GEOMEDIAN_ITERATIONS);
      floatIn(`${field}.nu`, r.nu, (x) => x > 0 && x <= MAX_FLOAT_PARAMETER, "in (0, 1e30]");
      break;
    default:
      throw new ConfigError(
        `${field}.kind`,
        `must be one of ${ROBUST_RULE_KINDS.join(", ")}, got ${describeValue(r.kind)}`,
      );
  }
  if (rule.normFilter !== undefined) {
    const tau = (rule.normFilter as unknown as Record<string, unknown>)?.tau;
    floatIn(
      `${field}.normFilter.tau`,
      tau,
      (x) => x >= 1 && x <= MAX_FLOAT_PARAMETER,
      "in [1, 1e30]",
    );
  }
  return rule;
}

/**
 * Reads a rule from parsed JSON (the roster's `robust` object), strictly: an object with `kind`,
 * exactly that kind's parameters (numbers, not strings) and optionally
 * `normFilter: {tau}`. Refuses with a {@link ConfigError} naming the field (`robust.beta`, …):
 * a missing or unknown key, a value of the wrong type, a value out of range
 * ({@link validateRobustRule}). A JSON −0 reads as 0. Returns a fresh, frozen rule.
 */
export function parseRobustRule(json: unknown, field = "robust"): RobustRule {
  if (!isPlainObject(json)) {
    throw new ConfigError(field, `must be an object with a "kind", got ${describeValue(json)}`);
  }
  const kind = json.kind;
  if (typeof kind !== "string" || !(ROBUST_RULE_KINDS as readonly string[]).includes(kind)) {
    throw new ConfigError(
      `${field}.kind`,
      `must be one of ${ROBUST_RULE_KINDS.join(", ")}, got ${describeValue(kind)}`,
    );
  }
  const names = PARAMETERS[kind as RobustRuleKind];
  for (const key of Object.keys(json)) {
    if (key !== "kind" && key !== "normFilter" && !names.includes(key)) {
      throw new ConfigError(`${field}.${key}`, `is not a parameter of the ${kind} rule`);
    }
  }
  const out: Record<string, unknown> = { kind };
  for (const name of names) {
    if (!(name in json)) throw new ConfigError(`${field}.${name}`, `is missing (rule ${kind})`);
    const v = json[name];
    out[name] = typeof v === "number" && Object.is(v, -0) ? 0 : v;
  }
  if ("normFilter" in json) {
    const nf = json.normFilter;
    if (!isPlainObject(nf)) {
      throw new ConfigError(
        `${field}.normFilter`,
        `must be an object {"tau": τ}, got ${describeValue(nf)}`,
      );
    }
    for (const key of Object.keys(nf)) {
      if (key !== "tau") {
        throw new ConfigError(`${field}.normFilter.${key}`, "is not a norm-filter parameter");
      }
    }
    if (!("tau" in nf)) throw new ConfigError(`${field}.normFilter.tau`, "is missing");
    out.normFilter = Object.freeze({ tau: Object.is(nf.tau, -0) ? 0 : nf.tau });
  }
  return Object.freeze(validateRobustRule(out as unknown as RobustRule, field));
}

/**
 * The smallest number of group means the rule runs on: 1 for `median`, `trimmed-mean` and
 * `geomedian`, max(2f + 3, f + m) for `multi-krum` (Krum's g > 2f + 2 and m ≤ g − f), 4f + 3 for
 * `bulyan`. A norm filter never leaves fewer than this (`norm_filter.ts`).
 */
export function minimumGroups(rule: RobustRule): number {
  switch (rule.kind) {
    case "median":
    case "trimmed-mean":
    case "geomedian":
      return 1;
    case "multi-krum":
      return Math.max(2 * rule.f + 3, rule.f + rule.m);
    case "bulyan":
      return 4 * rule.f + 3;
  }
}

/**
 * The most poisoned groups the rule tolerates among `g` group means: ⌊(g − 1)/2⌋ for `median`
 * and `geomedian` (breakdown point 1/2), ⌊β·g⌋ for `trimmed-mean` (the values trimmed from each
 * end), f for `multi-krum` and `bulyan` (the f they are configured for). A norm filter does not
 * change it (it removes means, never adds a poisoned one; see docs/threat-model.md for what that
 * does not cover). Refuses with a {@link ConfigError}: an invalid rule (`robust.…`), a `g` that is
 * not an integer in [1, 65535] or below {@link minimumGroups} (`groups`, naming the precondition,
 * e.g. Krum's g > 2f + 2).
 */
export function tolerates(rule: RobustRule, g: number): number {
  validateRobustRule(rule);
  integerIn("groups", g, 1, MAX_RULE_GROUPS);
  checkGroupCount(rule, g);
  switch (rule.kind) {
    case "median":
    case "geomedian":
      return Math.floor((g - 1) / 2);
    case "trimmed-mean":
      return Math.floor(rule.beta * g);
    case "multi-krum":
    case "bulyan":
      return rule.f;
  }
}

/** Refuses (ConfigError `groups`) a count of group means below what `rule` needs. */
export function checkGroupCount(rule: RobustRule, g: number): void {
  const need = minimumGroups(rule);
  if (g >= need) return;
  const why = rule.kind === "multi-krum"
    ? `multi-krum with f = ${rule.f}, m = ${rule.m} needs g > 2f + 2 and g ≥ f + m, ` +
      `so g ≥ ${need}`
    : rule.kind === "bulyan"
    ? `bulyan with f = ${rule.f} needs g ≥ 4f + 3 = ${need}`
    : `${rule.kind} needs g ≥ ${need}`;
  throw new ConfigError("groups", `${why}, got ${g} group means`);
}

function float64Bytes(x: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, x);
  return b;
}

function readFloat64(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0);
}

/**
 * The rule's canonical value, to embed in a signed structure (`encode` gives its bytes):
 * `[kind, …parameters, tau | null]` with integers as integers and floats (β, ν, τ) as their
 * 8 IEEE-754 big-endian bytes — `["median", τ]`, `["trimmed-mean", β, τ]`,
 * `["multi-krum", f, m, τ]`, `["bulyan", f, τ]`, `["geomedian", iterations, ν, τ]`, where τ is
 * `null` without a norm filter. One rule has one encoding (−0 and NaN are refused).
 */
export function robustRuleValue(rule: RobustRule): Value {
  validateRobustRule(rule);
  const tau = rule.normFilter === undefined ? null : float64Bytes(rule.normFilter.tau);
  switch (rule.kind) {
    case "median":
      return ["median", tau];
    case "trimmed-mean":
      return ["trimmed-mean", float64Bytes(rule.beta), tau];
    case "multi-krum":
      return ["multi-krum", rule.f, rule.m, tau];
    case "bulyan":
      return ["bulyan", rule.f, tau];
    case "geomedian":
      return ["geomedian", rule.iterations, float64Bytes(rule.nu), tau];
  }
}

/**
 * Reads a rule from its decoded canonical value ({@link robustRuleValue}), e.g. a field of a
 * certificate from the network. Refuses with a {@link ProtocolError} `malformed` naming `what`
 * and the field: not an array, an unknown kind, the wrong number of fields, a float field that
 * is not 8 bytes, any parameter out of range.
 */
export function decodeRobustRule(value: unknown, what: string, peer?: number): RobustRule {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ProtocolError("malformed", `${what} is not a robust rule`, peer);
  }
  const kind = value[0];
  if (typeof kind !== "string" || !(ROBUST_RULE_KINDS as readonly string[]).includes(kind)) {
    throw new ProtocolError("malformed", `${what}: unknown robust rule kind`, peer);
  }
  const k = kind as RobustRuleKind;
  const fields = new Fields(value, 2 + PARAMETERS[k].length, what, peer);
  const last = value.length - 1;
  const tauField = value[last];
  let rule: Record<string, unknown>;
  switch (k) {
    case "median":
      rule = { kind };
      break;
    case "trimmed-mean":
      rule = { kind, beta: readFloat64(fields.bytes(1, "beta", 8)) };
      break;
    case "multi-krum":
      rule = { kind, f: fields.uint(1, "f"), m: fields.uint(2, "m") };
      break;
    case "bulyan":
      rule = { kind, f: fields.uint(1, "f") };
      break;
    case "geomedian":
      rule = {
        kind,
        iterations: fields.uint(1, "iterations"),
        nu: readFloat64(fields.bytes(2, "nu", 8)),
      };
      break;
  }
  if (tauField !== null) rule.normFilter = { tau: readFloat64(fields.bytes(last, "tau", 8)) };
  try {
    return Object.freeze(validateRobustRule(rule as unknown as RobustRule));
  } catch (err) {
    throw new ProtocolError("malformed", `${what}: ${(err as Error).message}`, peer);
  }
}

/** A short human-readable name: `multi-krum(f=1, m=3)`, `median after norm filter τ=2`. */
export function describeRobustRule(rule: RobustRule): string {
  const r = rule as unknown as Record<string, unknown>;
  const params = PARAMETERS[rule.kind].map((p) => `${p}=${r[p]}`).join(", ");
  const base = params === "" ? rule.kind : `${rule.kind}(${params})`;
  return rule.normFilter === undefined
    ? base
    : `${base} after norm filter τ=${rule.normFilter.tau}`;
}
