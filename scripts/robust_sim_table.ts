/**
 * The attack table through the real protocol: for each honest spread H, each group size
 * m and each rule, one simulated round (`simulate`: group-wise secure aggregation, the leader
 * certifying the rule's result, every member recomputing it before co-signing, offline
 * verification) per attack, with K Byzantine members in distinct groups of g groups of m, and the
 * same round without attackers for the rule's own error ("none"). Each cell is
 * `plainError / robustError`, marked against the bar: ✓ when robustError ≤ plainError/10
 * (scale, sign flip) or ≤ max(plainError, 1.5 × none) (noise, ALIE, IPM), ✗ otherwise.
 *
 * After the rules of each group size come two "oracle" lines (`scripts/robust_oracle.ts`), each
 * with its error against the same honest mean in place of robustError: the weighted mean of the
 * unpoisoned groups' members, what a perfect rule that knows the attackers could publish (its
 * "none" is 0: without attackers it is the honest mean), and the weight-blind oracle, the plain
 * average of the unpoisoned groups' means, what such a rule could publish if it also ignored the
 * self-reported weights as every rule here must (its "none" is the average of all group means).
 * Where an oracle is ✗, no rule that discards the poisoned groups (and, for the weight-blind one,
 * ignores weights) meets that bar except by chance. The partition seed hashes the
 * roster, rule included, so each rule's round has its own partition, attackers and plainError:
 * the oracle line is the round of the first rule in `--rules` (named in the line), and with
 * `--json` every cell also carries its own round's `oracle`. It needs no extra rounds: the oracle
 * is computed from the round's honest inputs, redrawn as the simulator draws them and checked
 * against the simulator's robustError (a mismatch stops the table). `--rules` may not be empty.
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
import type { CertifiedGroupSums } from "../protocol/certificate/group_sums.ts";
import { oracleReference, relativeError, simulatedHonestInputs } from "./robust_oracle.ts";

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
const rules = String(args.rules).split(";").filter((r) => r !== "").map(ruleOf);
if (rules.length === 0) {
  console.error("robust_sim_table: --rules needs at least one rule");
  Deno.exit(2);
}
/** The simulator's defaults, which the oracle's redraw of the inputs needs. */
const CLIP = 1;
const MAX_WEIGHT = 100;

let allExact = true;
async function run(
  m: number,
  rule: RobustRule,
  attack: Attack,
  byzantine: number,
  spread: number,
): Promise<
  { plain: number; robust: number; ok: boolean; oracle?: number; weightBlind?: number }
> {
  let certified: CertifiedGroupSums | undefined;
  const report = await simulate({
    nodes: G * m,
    dim: DIM,
    dropout: 0,
    dropStage: "masked",
    graph: "complete",
    seed: SEED,
    pq: false,
    rounds: 1,
    clip: CLIP,
    maxWeight: MAX_WEIGHT,
    groups: { count: G, minGroups: G, allowSmallGroups: m < 4 },
    robust: rule,
    ...(byzantine > 0 ? { byzantine } : {}),
    attack,
    spread,
    onGroups: (_, groups) => (certified = groups),
  });
  const r = report.rounds[0];
  allExact &&= r.exact && r.verified;
  const out = { plain: r.plainError!, robust: r.robustError!, ok: r.exact && r.verified };
  if (certified === undefined || r.groups === undefined) return out;
  return { ...out, ...oracle(m, spread, certified, r.groups, r.byzantine ?? [], r.robustError!) };
}

/**
 * The oracles' errors for a round (`robust_oracle.ts`), after checking that the honest inputs it
 * redraws give the simulator's own robustError for the published result.
 */
function oracle(
  m: number,
  spread: number,
  certified: CertifiedGroupSums,
  groups: readonly { members: readonly string[] }[],
  byzantineIds: readonly string[],
  robustError: number,
): { oracle: number; weightBlind: number } {
  const index = new Map<string, number>();
  for (const g of certified.included) {
    g.members.forEach((i, k) => index.set(groups[g.group].members[k], i));
  }
  const byzantine = byzantineIds.map((id) => index.get(id)!);
  const members = [...index.values()];
  const inputs = simulatedHonestInputs({
    nodes: G * m,
    dim: DIM,
    clip: CLIP,
    maxWeight: MAX_WEIGHT,
    spread,
    seed: SEED,
    round: 0,
  });
  const ref = oracleReference(inputs, certified.partition, members, byzantine, CLIP);
  const check = relativeError(certified.robust!.result, ref.honest);
  if (!(Math.abs(check - robustError) <= 1e-12 * Math.max(1, robustError))) {
    throw new Error(
      `oracle: the redrawn honest inputs give robustError ${check}, the simulator ${robustError}`,
    );
  }
  return { oracle: ref.oracleError, weightBlind: ref.weightBlindError };
}

const fmt = (
  x: number,
) => (x === 0 ? "0" : x >= 100 ? x.toFixed(0) : x >= 0.01 ? x.toPrecision(3) : x.toPrecision(2));
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
    /** The first rule's round per attack: its plainError and the oracles' errors. */
    const first: { plain: number; oracle: number; weightBlind: number }[] = [];
    let blindNone = NaN;
    for (const [ruleIndex, rule] of rules.entries()) {
      const none = await run(m, rule, { kind: "signflip" }, 0, spread);
      if (ruleIndex === 0) blindNone = none.weightBlind!;
      const cells: string[] = [];
      const row: Record<string, unknown> = {
        spread: h,
        m,
        rule: describeRobustRule(rule),
        none: none.robust,
      };
      for (const [k, a] of ATTACKS.entries()) {
        const r = await run(m, rule, a.attack, K, spread);
        if (ruleIndex === 0) {
          first[k] = { plain: r.plain, oracle: r.oracle!, weightBlind: r.weightBlind! };
        }
        const pass = a.bar === "tenth"
          ? r.robust <= r.plain / 10
          : r.robust <= Math.max(r.plain, 1.5 * none.robust);
        cells.push(`${fmt(r.plain)} / ${fmt(r.robust)} ${pass ? "✓" : "✗"}`);
        row[a.name] = {
          plain: r.plain,
          robust: r.robust,
          pass,
          exactAndVerified: r.ok,
          oracle: r.oracle,
          weightBlindOracle: r.weightBlind,
        };
      }
      rows.push(row);
      lines.push(
        `| ${m} | ${K} of ${G * m} | ${describeRobustRule(rule)} | ${fmt(none.robust)} | ${
          cells.join(" | ")
        } |`,
      );
    }
    const round = describeRobustRule(rules[0]);
    for (const kind of ["weighted", "weight-blind"] as const) {
      const label = `oracle, ${kind} (${round}'s round)`;
      const noneError = kind === "weighted" ? 0 : blindNone;
      const row: Record<string, unknown> = { spread: h, m, rule: label, none: noneError };
      const cells = ATTACKS.map((a, k) => {
        const { plain } = first[k];
        const error = kind === "weighted" ? first[k].oracle : first[k].weightBlind;
        const pass = a.bar === "tenth"
          ? error <= plain / 10
          : error <= Math.max(plain, 1.5 * noneError);
        row[a.name] = { plain, robust: error, pass };
        return `${fmt(plain)} / ${fmt(error)} ${pass ? "✓" : "✗"}`;
      });
      rows.push(row);
      lines.push(
        `| ${m} | ${K} of ${G * m} | ${label} | ${fmt(noneError)} | ${cells.join(" | ")} |`,
      );
    }
  }
  if (!args.json) console.log(lines.join("\n") + "\n");
}
if (args.json) console.log(JSON.stringify({ groups: G, byzantine: K, dim: DIM, seed: SEED, rows }));
if (!allExact) console.error("robust_sim_table: a round was not exact or not verified");
Deno.exit(allExact ? 0 : 1);
