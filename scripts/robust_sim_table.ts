/**
 * The attack table through the real protocol: for each honest spread H, each group size
 * m and each rule, one simulated round (`simulate`: group-wise secure aggregation, the leader
 * certifying the rule's result, every member recomputing it before co-signing, offline
 * verification) per attack, with K Byzantine members in distinct groups of g groups of m, and the
 * same round without attackers for the rule's own error ("none"). Each cell is
 * `plainError / robustError`, marked against the bar: ✓ when robustError ≤ plainError/10
 * (scale, sign flip) or ≤ max(plainError, 1.5 × none) (noise, ALIE, IPM), ✗ otherwise.
 *
 *   deno run --allow-read --allow-env --allow-sys=cpus scripts/robust_sim_table.ts \
 *     [--spreads iid,0.5,0.25,0.1] [--sizes 1,2,4,8] [--groups 15] [--byzantine 7] [--dim 1000] \
 *     [--seed 7] [--rules "median;median,tau=2;geomedian,tau=2"] [--json]
 *
 * Exits 1 when a round is not exact or not verified (the table is still printed).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { describeRobustRule, parseRobustRule, type RobustRule } from "../protocol/mod.ts";
import { type Attack, simulate } from "../protocol/sim/mod.ts";

const args = parseArgs(Deno.args, {
  string: ["spreads", "sizes", "groups", "byzantine", "dim", "seed", "rules"],
  boolean: ["json"],
  default: {
    spreads: "iid,0.5,0.25,0.1",
    sizes: "1,2,4,8",
    groups: "15",
    byzantine: "7",
    dim: "1000",
    seed: "7",
    rules: "median;median,tau=2;geomedian,tau=2",
  },
});
const G = Number(args.groups);
const K = Number(args.byzantine);
const DIM = Number(args.dim);
const SEED = Number(args.seed);
const spreads = String(args.spreads).split(",").map((
  s: string,
) => (s === "iid" ? Infinity : Number(s)));
const sizes = String(args.sizes).split(",").map(Number);
const ATTACKS: { name: string; attack: Attack; bar: "tenth" | "max" }[] = [
  { name: "scale ×1000", attack: { kind: "scale", lambda: 1000 }, bar: "tenth" },
  { name: "signflip", attack: { kind: "signflip" }, bar: "tenth" },
  { name: "noise σ=1", attack: { kind: "noise", std: 1 }, bar: "max" },
  { name: "ALIE", attack: { kind: "alie" }, bar: "max" },
  { name: "IPM ε=0.5", attack: { kind: "ipm", epsilon: 0.5 }, bar: "max" },
];

/** `KIND[,NAME=VALUE…][,tau=T]` with the simulator's defaults for K poisoned groups. */
function ruleOf(spec: string): RobustRule {
  const [kind, ...params] = spec.split(",");
  const defaults: Record<string, Record<string, number>> = {
    "trimmed-mean": { beta: Number(((K + 0.25) / G).toFixed(6)) },
    "multi-krum": { f: K, m: Math.max(1, G - K) },
    "bulyan": { f: K },
    "geomedian": { iterations: 100, nu: 1e-6 },
  };
  const rule: Record<string, unknown> = { kind, ...(defaults[kind] ?? {}) };
  for (const p of params) {
    const [name, value] = p.split("=");
    if (name === "tau") rule.normFilter = { tau: Number(value) };
    else rule[name] = Number(value);
  }
  return parseRobustRule(rule);
}
const rules = String(args.rules).split(";").map(ruleOf);

let allExact = true;
async function run(m: number, rule: RobustRule, attack: Attack, byzantine: number, spread: number) {
  const report = await simulate({
    nodes: G * m,
    dim: DIM,
    dropout: 0,
    dropStage: "masked",
    graph: "complete",
    seed: SEED,
    pq: false,
    rounds: 1,
    groups: { count: G, minGroups: G, allowSmallGroups: m < 4 },
    robust: rule,
    ...(byzantine > 0 ? { byzantine } : {}),
    attack,
    spread,
  });
  const r = report.rounds[0];
  allExact &&= r.exact && r.verified;
  return { plain: r.plainError!, robust: r.robustError!, ok: r.exact && r.verified };
}

const fmt = (
  x: number,
) => (x >= 100 ? x.toFixed(0) : x >= 0.01 ? x.toPrecision(3) : x.toPrecision(2));
const rows: Record<string, unknown>[] = [];
for (const spread of spreads) {
  const h = spread === Infinity ? "iid" : String(spread);
  const lines = [
    `H = ${h}: g = ${G} groups of m, K = ${K} attackers (one per group), d = ${DIM}, seed ${SEED}`,
    "",
    `|  m | attackers | rule | none | ${ATTACKS.map((a) => a.name).join(" | ")} |`,
    `| -: | --------: | ---- | ---: | ${ATTACKS.map(() => "---:").join(" | ")} |`,
  ];
  for (const m of sizes) {
    for (const rule of rules) {
      const none = await run(m, rule, { kind: "signflip" }, 0, spread);
      const cells: string[] = [];
      const row: Record<string, unknown> = {
        spread: h,
        m,
        rule: describeRobustRule(rule),
        none: none.robust,
      };
      for (const a of ATTACKS) {
        const r = await run(m, rule, a.attack, K, spread);
        const pass = a.bar === "tenth"
          ? r.robust <= r.plain / 10
          : r.robust <= Math.max(r.plain, 1.5 * none.robust);
        cells.push(`${fmt(r.plain)} / ${fmt(r.robust)} ${pass ? "✓" : "✗"}`);
        row[a.name] = { plain: r.plain, robust: r.robust, pass, exactAndVerified: r.ok };
      }
      rows.push(row);
      lines.push(
        `| ${m} | ${K} of ${G * m} | ${describeRobustRule(rule)} | ${fmt(none.robust)} | ${
          cells.join(" | ")
        } |`,
      );
    }
  }
  if (!args.json) console.log(lines.join("\n") + "\n");
}
if (args.json) console.log(JSON.stringify({ groups: G, byzantine: K, dim: DIM, seed: SEED, rows }));
if (!allExact) console.error("robust_sim_table: a round was not exact or not verified");
Deno.exit(allExact ? 0 : 1);
