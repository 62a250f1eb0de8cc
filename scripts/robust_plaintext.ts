/**
 * The robust rules against the simulator's attacks, in plaintext: n = g·m members in g groups of
 * m, one attacker in each of f groups (f < g/2; spreading attackers poisons the most groups),
 * every rule of protocol/robust/ over the g group means against plain averaging over all n. No
 * secure aggregation here (the group means are computed directly); the group-wise protocol gives
 * the same means, so the same errors, once it is merged.
 *
 * Honest update i is μ* + σ_h·ξ_i (μ* and ξ_i standard normal in d dimensions: a shared
 * direction plus each member's heterogeneity). The error of an aggregate a is its relative L2
 * distance from the honest members' mean h: ‖a − h‖ / ‖h‖ (without an attack, everyone's mean).
 *
 *   deno run scripts/robust_plaintext.ts [--groups 15] [--group-size 1] [--byzantine 3]
 *     [--dim 200] [--spread 0.5] [--seed 1] [--json] [--sweep "scale ×1000"]
 *
 * prints one markdown table (rows: rules, columns: attacks) or the JSON of {@link experiment};
 * `--sweep ATTACK` prints {@link sweep}'s table over group sizes instead.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { labelledRng } from "../protocol/crypto/random.ts";
import { combine, describeRobustRule, type RobustRule } from "../protocol/robust/mod.ts";
import { type Attack, attackUpdates, GaussianSource } from "../protocol/sim/attacks.ts";

/** One experiment's settings. */
export interface ExperimentSettings {
  /** Groups g. */
  readonly groups: number;
  /** Members per group m. */
  readonly groupSize: number;
  /** Attacking members f (one per group, in groups 0..f−1), f ≤ g; rules configured for f < g/2. */
  readonly byzantine: number;
  /** Dimension d. */
  readonly dim: number;
  /** σ_h: the honest members' spread around the shared direction. */
  readonly spread: number;
  /** Seed of every draw. */
  readonly seed: number;
}

/** The attacks of the table, with the parameters it uses. */
export function experimentAttacks(): { name: string; attack: Attack | null }[] {
  return [
    { name: "none", attack: null },
    { name: "scale ×1000", attack: { kind: "scale", lambda: 1000 } },
    { name: "signflip", attack: { kind: "signflip" } },
    { name: "noise σ=10", attack: { kind: "noise", std: 10 } },
    { name: "ALIE", attack: { kind: "alie" } },
    { name: "IPM ε=0.5", attack: { kind: "ipm", epsilon: 0.5 } },
  ];
}

/**
 * The rules of the table for g groups and f poisoned: each configured for f where it can be
 * (trimmed mean β = (f + 1/4)/g rounded to 3 decimals, so ⌊β·g⌋ = f; multi-Krum f_K = min(f, ⌊(g − 3)/2⌋), m = g − f_K;
 * Bulyan f_B = min(f, ⌊(g − 3)/4⌋)), and the norm filter τ = 2 before the median and the
 * geometric median (before multi-Krum with m = g − f it could drop nothing: the filter keeps at
 * least the f + m means multi-Krum needs).
 */
export function experimentRules(g: number, f: number): RobustRule[] {
  const fk = Math.min(f, Math.floor((g - 3) / 2));
  const fb = Math.min(f, Math.floor((g - 3) / 4));
  const trimBeta = Number(((f + 0.25) / g).toFixed(3));
  if (Math.floor(trimBeta * g) !== f) throw new RangeError(`no 3-decimal β trims ${f} of ${g}`);
  const rules: RobustRule[] = [
    { kind: "median" },
    { kind: "trimmed-mean", beta: trimBeta },
    { kind: "multi-krum", f: fk, m: g - fk },
    { kind: "geomedian", iterations: 100, nu: 1e-6 },
    { kind: "median", normFilter: { tau: 2 } },
    { kind: "geomedian", iterations: 100, nu: 1e-6, normFilter: { tau: 2 } },
  ];
  if (fb >= 0 && g >= 4 * fb + 3) rules.splice(3, 0, { kind: "bulyan", f: fb });
  return rules;
}

/** One row of the table: a rule (or plain averaging) and its error under each attack. */
export interface ExperimentRow {
  /** The rule, or "plain mean". */
  readonly rule: string;
  /** Relative L2 error per attack name. */
  readonly errors: Record<string, number>;
  /** Groups the rule discarded, per attack name (the poisoned groups are 0..f−1). */
  readonly discarded: Record<string, number[]>;
}

function relativeError(a: Float64Array, h: Float64Array): number {
  let num = 0, den = 0;
  for (let j = 0; j < h.length; j++) {
    num += (a[j] - h[j]) ** 2;
    den += h[j] ** 2;
  }
  return Math.sqrt(num / den);
}

function mean(vectors: readonly Float64Array[], d: number): Float64Array {
  const out = new Float64Array(d);
  for (const v of vectors) for (let j = 0; j < d; j++) out[j] += v[j];
  for (let j = 0; j < d; j++) out[j] /= vectors.length;
  return out;
}

/** Runs every rule under every attack; the first row is plain averaging over all members. */
export function experiment(s: ExperimentSettings): ExperimentRow[] {
  const { groups: g, groupSize: m, byzantine: f, dim: d } = s;
  if (!(f >= 0 && f <= g)) throw new RangeError(`need 0 ≤ f ≤ g, got f = ${f}, g = ${g}`);
  const gauss = new GaussianSource(labelledRng("robust-plaintext", s.seed, "honest"));
  const direction = Float64Array.from({ length: d }, () => gauss.next());
  const updates = Array.from(
    { length: g * m },
    () => direction.map((x) => x + s.spread * gauss.next()),
  );
  // member k·m is group k's attacker, for k < f
  const attackers = [...Array(f).keys()].map((k) => k * m);
  const isAttacker = new Set(attackers);
  const honest = updates.filter((_, i) => !isAttacker.has(i));
  const honestMean = mean(honest, d);
  // the rules are configured for the most they can tolerate at or below f
  const rules = experimentRules(g, Math.min(f, Math.floor((g - 1) / 2)));
  const rows: ExperimentRow[] = [
    { rule: "plain mean", errors: {}, discarded: {} },
    ...rules.map(
      (r) => ({ rule: describeRobustRule(r), errors: {}, discarded: {} }),
    ),
  ];
  const n = g * m;
  for (const { name, attack } of experimentAttacks()) {
    if (attack?.kind === "alie" && attack.z === undefined && !(2 * f < n)) {
      // ALIE's z is defined for an attacking minority only (s = ⌊n/2 + 1⌋ − f ≥ 1)
      for (const row of rows) {
        row.errors[name] = NaN;
        row.discarded[name] = [];
      }
      continue;
    }
    const submitted: Float64Array[] = updates.slice();
    if (attack !== null && f > 0) {
      const bad = attackUpdates(
        attack,
        { honest, own: attackers.map((i) => updates[i]) },
        labelledRng("robust-plaintext", s.seed, "attack", name),
      );
      attackers.forEach((i, k) => submitted[i] = bad[k]);
    }
    // without an attack every member is honest: the reference is everyone's mean
    const reference = attack === null ? mean(updates, d) : honestMean;
    rows[0].errors[name] = relativeError(mean(submitted, d), reference);
    rows[0].discarded[name] = [];
    const groupMeans = [...Array(g).keys()].map((k) =>
      mean(submitted.slice(k * m, (k + 1) * m), d)
    );
    rules.forEach((rule, r) => {
      const out = combine(rule, groupMeans);
      rows[r + 1].errors[name] = relativeError(out.result, reference);
      rows[r + 1].discarded[name] = out.discarded;
    });
  }
  return rows;
}

function show(error: number): string {
  return Number.isNaN(error) ? "—" : error.toPrecision(3);
}

/** The rows as a markdown table of errors (3 significant digits). */
export function markdownTable(rows: ExperimentRow[]): string {
  const names = experimentAttacks().map((a) => a.name);
  const lines = [
    `| rule | ${names.join(" | ")} |`,
    `| --- | ${names.map(() => "---:").join(" | ")} |`,
    ...rows.map((row) => `| ${row.rule} | ${names.map((a) => show(row.errors[a])).join(" | ")} |`),
  ];
  return lines.join("\n");
}

/**
 * Where robustness ends: for groups of m ∈ {1, 2, 4, 8}, the error of plain averaging and of each
 * rule under `attack` with f = ⌊(g − 1)/2⌋ attackers (the most the median tolerates: a fraction
 * just under 1/(2m)) and with one more (f ≥ g/2: a majority of poisoned groups), the rules
 * configured for ⌊(g − 1)/2⌋.
 */
export function sweep(
  base: Omit<ExperimentSettings, "groupSize" | "byzantine">,
  attack: string,
): string {
  const limit = Math.floor((base.groups - 1) / 2);
  const lines: string[] = [];
  for (const groupSize of [1, 2, 4, 8]) {
    for (const byzantine of [limit, limit + 1]) {
      const rows = experiment({ ...base, groupSize, byzantine });
      if (lines.length === 0) {
        lines.push(`| m | attackers | ${rows.map((r) => r.rule).join(" | ")} |`);
        lines.push(`| ---: | ---: | ${rows.map(() => "---:").join(" | ")} |`);
      }
      const fraction = `${byzantine} of ${base.groups * groupSize}`;
      lines.push(
        `| ${groupSize} | ${fraction} | ${rows.map((r) => show(r.errors[attack])).join(" | ")} |`,
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const args = parseArgs(Deno.args, {
    string: ["groups", "group-size", "byzantine", "dim", "spread", "seed", "sweep"],
    boolean: ["json"],
    default: {
      groups: "15",
      "group-size": "1",
      byzantine: "3",
      dim: "200",
      spread: "0.5",
      seed: "1",
    },
  });
  const settings: ExperimentSettings = {
    groups: Number(args.groups),
    groupSize: Number(args["group-size"]),
    byzantine: Number(args.byzantine),
    dim: Number(args.dim),
    spread: Number(args.spread),
    seed: Number(args.seed),
  };
  for (const [k, v] of Object.entries(settings)) {
    if (!Number.isFinite(v) || v < 0) {
      console.error(`--${k}: not a non-negative number`);
      Deno.exit(2);
    }
  }
  if (args.sweep !== undefined) {
    const names = experimentAttacks().map((a) => a.name);
    if (!names.includes(args.sweep)) {
      console.error(`--sweep: one of ${names.map((n) => JSON.stringify(n)).join(", ")}`);
      Deno.exit(2);
    }
    console.log(
      `g = ${settings.groups}, d = ${settings.dim}, σ_h = ${settings.spread}, ` +
        `seed ${settings.seed}, attack ${args.sweep}: relative error\n`,
    );
    console.log(sweep(settings, args.sweep));
    Deno.exit(0);
  }
  const rows = experiment(settings);
  if (args.json) console.log(JSON.stringify({ settings, rows }, null, 1));
  else {
    const { groups, groupSize, byzantine, dim, spread, seed } = settings;
    console.log(
      `g = ${groups} groups of m = ${groupSize}, f = ${byzantine} poisoned groups ` +
        `(${byzantine} of ${
          groups * groupSize
        } members), d = ${dim}, σ_h = ${spread}, seed ${seed}\n`,
    );
    console.log(markdownTable(rows));
  }
}
