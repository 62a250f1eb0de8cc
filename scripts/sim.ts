/**
 * `deno task sim`: runs whole rounds in one process over an in-memory network, every member
 * and leader a real state machine, and reports whether each aggregate is exact.
 *
 * ```
 * deno task sim --nodes 100 --dim 100000 --dropout 0.2 --drop-stage masked --graph complete \
 *   --seed 7 [--pq] [--rounds 3] [--kill-leader STAGE] [--workers N] [--json] \
 *   [--dp-epsilon E --dp-delta D [--dp-bits B] [--dp-withhold W] [--dp-corrupt C] [--dp-rounds R]]
 * deno task sim --nodes 60 --dim 1000 --dropout 0 --groups 15 --min-groups 15 \
 *   --byzantine 7 --attack signflip --robust median [--norm-filter 2] --json
 * ```
 *
 * Exits 0 when every round is exact and its final certificate verifies, 1 otherwise, 2 on a
 * usage error.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import {
  ConfigError,
  type GroupSettings,
  parseRobustRule,
  type RobustRule,
} from "../protocol/mod.ts";
import { WorkerExpander } from "../node/worker_expander.ts";
import { STAGES } from "../protocol/mod.ts";
import {
  type DpRoundReport,
  type DropStage,
  type KillStage,
  MEMBER_STAGES,
  type RoundReport,
  type SimDpOptions,
  type SimReport,
  simulate,
} from "../protocol/sim/mod.ts";
import {
  type Attack,
  ATTACK_KINDS,
  type AttackKind,
  defaultAttack,
} from "../protocol/sim/attacks.ts";

const USAGE = `Usage: deno task sim [options]

Runs secure-aggregation rounds in one process: every member and leader is a real protocol
state machine, the network is in memory on a virtual clock.

Options:
  --nodes N          members in the roster (default 20, at least 3)
  --dim D            update length (default 100000)
  --dropout F        fraction of members that drop out each round (default 0.2; capped at n − t)
  --drop-stage S     advertise | share | masked | consistency | unmask | mixed (default mixed)
  --graph G          complete | sparse (SecAgg+ Harary graph) (default complete)
  --degree K         sparse graph degree (default: chosen per Bell et al. for the dropout rate)
  --seed S           integer seed for identities, inputs and dropouts (default 7)
  --pq               post-quantum mode (X-Wing + ML-DSA-65 alongside Ed25519)
  --rounds R         rounds to run (default 3)
  --kill-leader S    kill the first leader before it relays stage S
                     (share | masked | consistency | unmask): forces a view change
  --workers N        Worker threads for mask expansion (default 0: inline; jobs under
                     2^24 words × terms run inline anyway)
  --max-weight W     largest per-member weight (default 100; 1 with DP)
  --groups G         group-wise aggregation: G groups per round, each group's sum certified
  --group-size M     (instead of --groups) groups of at least M members
  --min-group-size K fewest inputs a group sum may hold (default: the group threshold, ≥ 4)
  --min-groups K     fewest groups a round needs (default ⌈2G/3⌉)
  --allow-small-groups  allow groups (or a minimum) below 4 members
  --dp-epsilon E     distributed DP (DDGauss) with total budget ε = E, with
  --dp-delta D       its δ; the JSON then has dp: {sigma, expectedStd, noiseStd, epsilonSpent,
                     delta, clip} (all runs pooled; each round's under rounds[i].dp)
  --dp-bits B        bits of the modular sum (default 32)
  --dp-clip C        L2 clip of each update (default 1)
  --dp-rounds R      rounds the budget must last (default: --rounds)
  --dp-withhold W    members (the lowest indices) that add no noise (default 0)
  --dp-corrupt C     withholding members the noise is planned for (default: --dp-withhold)
  --robust RULE      publish a robust rule over the group means (needs groups): median,
                     trimmed-mean, multi-krum, bulyan, geomedian; parameters as
                     RULE,NAME=VALUE… (defaults: trimmed-mean beta=(K+1/4)/G, multi-krum
                     f=K m=G−K, bulyan f=K, geomedian iterations=100 nu=1e-6)
  --norm-filter TAU  drop group means farther than TAU × the median distance first
  --byzantine K      Byzantine members per round (in distinct groups): they follow the protocol
                     but submit the attack's update with the largest weight (honest members
                     then send a shared direction plus noise); reports plainError, robustError
  --attack A         scale | signflip | noise | alie | ipm (default parameters: scale ×1000,
                     signflip, noise std 1, ALIE's z, IPM ε 0.5)
  --spread H         under attack, the honest updates' heterogeneity: per-member noise std over
                     the shared direction's std (protocol/sim/honest_updates.ts; default 0.5),
                     or iid for zero-mean i.i.d. updates with no shared direction
  --json             print one JSON object as the last line
  --help             this text
`;

const DROP_STAGES: readonly string[] = [...MEMBER_STAGES, "mixed"];
const KILL: readonly string[] = MEMBER_STAGES.slice(1);

function fail(message: string): never {
  console.error(`sim: ${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function integer(value: unknown, name: string, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    fail(`--${name} must be an integer ≥ ${min}, got ${value}`);
  }
  return n;
}

const args = parseArgs(Deno.args, {
  boolean: ["pq", "json", "help", "allow-small-groups"],
  string: [
    "nodes",
    "dim",
    "dropout",
    "drop-stage",
    "graph",
    "degree",
    "seed",
    "rounds",
    "kill-leader",
    "workers",
    "max-weight",
    "groups",
    "group-size",
    "min-group-size",
    "min-groups",
    "dp-epsilon",
    "dp-delta",
    "dp-bits",
    "dp-clip",
    "dp-rounds",
    "dp-withhold",
    "dp-corrupt",
    "robust",
    "norm-filter",
    "byzantine",
    "attack",
    "spread",
  ],
  default: {
    nodes: "20",
    dim: "100000",
    dropout: "0.2",
    "drop-stage": "mixed",
    graph: "complete",
    seed: "7",
    rounds: "3",
    workers: "0",
    "max-weight": "100",
  },
  unknown: (flag: string) => {
    if (flag.startsWith("-")) fail(`unknown option ${flag}`);
    fail(`unexpected argument ${flag}`);
  },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const dropout = Number(args.dropout);
if (!(dropout >= 0 && dropout < 1)) fail(`--dropout must be in [0, 1), got ${args.dropout}`);
if (!DROP_STAGES.includes(args["drop-stage"])) {
  fail(`--drop-stage must be one of ${DROP_STAGES.join(", ")}`);
}
if (args.graph !== "complete" && args.graph !== "sparse") {
  fail("--graph must be complete or sparse");
}
if (args["kill-leader"] !== undefined && !KILL.includes(args["kill-leader"])) {
  fail(`--kill-leader must be one of ${KILL.join(", ")}`);
}
const groups = groupsOf();
const byzantine = integer(args.byzantine ?? "0", "byzantine", 0);
const attack = attackOf();
const spread = spreadOf();
const robust = robustOf();
const workers = integer(args.workers, "workers", 0);
const dp = dpOptions();

/** The DP settings, when --dp-epsilon or --dp-delta is given (both are then required). */
function dpOptions(): SimDpOptions | undefined {
  const given = Object.keys(args).filter((k) => k.startsWith("dp-") && args[k as "dp-bits"]);
  if (given.length === 0) return undefined;
  if (args["dp-epsilon"] === undefined || args["dp-delta"] === undefined) {
    fail("--dp-epsilon and --dp-delta go together");
  }
  const positive = (name: "dp-epsilon" | "dp-delta" | "dp-clip"): number => {
    const v = Number(args[name]);
    if (!(v > 0) || !Number.isFinite(v)) fail(`--${name} must be a number > 0, got ${args[name]}`);
    return v;
  };
  const optional = (name: "dp-bits" | "dp-rounds" | "dp-withhold" | "dp-corrupt", min: number) =>
    args[name] === undefined ? undefined : integer(args[name], name, min);
  return {
    epsilon: positive("dp-epsilon"),
    delta: positive("dp-delta"),
    clip: args["dp-clip"] === undefined ? undefined : positive("dp-clip"),
    bits: optional("dp-bits", 1),
    rounds: optional("dp-rounds", 1),
    withhold: optional("dp-withhold", 0),
    corrupt: optional("dp-corrupt", 0),
  };
}
const expander = workers > 0 ? new WorkerExpander(workers) : undefined;

let report: SimReport;
try {
  report = await simulate({
    nodes: integer(args.nodes, "nodes", 3),
    dim: integer(args.dim, "dim", 1),
    dropout,
    dropStage: args["drop-stage"] as DropStage,
    graph: args.graph,
    degree: args.degree === undefined ? undefined : integer(args.degree, "degree", 2),
    seed: integer(args.seed, "seed", 0),
    pq: args.pq,
    rounds: integer(args.rounds, "rounds", 1),
    killLeaderAt: args["kill-leader"] as KillStage | undefined,
    maxWeight: integer(args["max-weight"], "max-weight", 1),
    ...(groups === undefined ? {} : { groups }),
    dp,
    ...(robust === undefined ? {} : { robust }),
    ...(byzantine > 0 ? { byzantine } : {}),
    ...(attack === undefined ? {} : { attack }),
    ...(spread === undefined ? {} : { spread }),
    expander,
    clock: () => performance.now(),
  });
} catch (err) {
  if (err instanceof ConfigError || err instanceof RangeError) fail(err.message);
  throw err;
} finally {
  expander?.close();
}

const ok = report.rounds.every((r) => r.exact && r.verified);
if (args.json) {
  console.log(JSON.stringify(toJson(report)));
} else {
  printReport(report);
}
Deno.exit(ok ? 0 : 1);

function toJson(r: SimReport) {
  const rounds = r.rounds.map((x) => ({
    round: x.round,
    view: x.view,
    leader: x.leader,
    survivors: x.survivors,
    dropped: x.dropped,
    exact: x.exact,
    verified: x.verified,
    maxAbsError: x.maxAbsError,
    errorBound: x.errorBound,
    virtualLatencyMs: x.virtualLatencyMs,
    timings: x.timings,
    bytes: x.bytes,
    refusals: x.refusals,
    failure: x.failure,
    ...(x.groups === undefined ? {} : { groups: x.groups, bodyBytes: x.bodyBytes }),
    ...(x.dp === undefined ? {} : { dp: x.dp }),
    ...(x.byzantine === undefined ? {} : { byzantine: x.byzantine }),
    ...(x.plainError === undefined ? {} : { plainError: x.plainError }),
    ...(x.robustError === undefined ? {} : { robustError: x.robustError }),
    ...(x.robust === undefined ? {} : { robust: x.robust }),
  }));
  const first = rounds[0];
  // Top-level fields describe the first round (the single-round interface); every
  // round is under `rounds`.
  return {
    nodes: r.nodes,
    dim: r.dim,
    mode: r.mode,
    graph: r.graph,
    threshold: r.threshold,
    survivors: first.survivors,
    dropped: first.dropped,
    exact: r.rounds.every((x) => x.exact),
    verified: r.rounds.every((x) => x.verified),
    maxAbsError: Math.max(...r.rounds.map((x) => x.maxAbsError)),
    timings: first.timings,
    bytes: first.bytes,
    ...(dp === undefined ? {} : { dp: pooledDp(r.rounds.flatMap((x) => x.dp ? [x.dp] : [])) }),
    ...(first.plainError === undefined ? {} : { plainError: first.plainError }),
    ...(first.robustError === undefined ? {} : { robustError: first.robustError }),
    ...(first.robust === undefined ? {} : { discarded: first.robust.discarded }),
    rounds,
  };
}

/** `--attack`, with the default parameters (`defaultAttack`), or undefined. */
function attackOf(): Attack | undefined {
  if (args.attack === undefined) {
    if (byzantine > 0) fail("--byzantine needs --attack");
    return undefined;
  }
  if (!(ATTACK_KINDS as readonly string[]).includes(args.attack)) {
    fail(`--attack must be one of ${ATTACK_KINDS.join(", ")}, got ${args.attack}`);
  }
  return defaultAttack(args.attack as AttackKind);
}

/** `--spread H|iid` (needs `--attack`), or undefined for the default. */
function spreadOf(): number | undefined {
  if (args.spread === undefined) return undefined;
  if (attack === undefined) {
    fail("--spread needs --attack (it shapes the honest updates under attack)");
  }
  if (args.spread === "iid") return Infinity;
  const h = Number(args.spread);
  if (!(h >= 0 && Number.isFinite(h))) {
    fail(`--spread must be a number ≥ 0 or iid, got ${args.spread}`);
  }
  return h;
}

/**
 * `--robust RULE[,NAME=VALUE…]` and `--norm-filter TAU` as the rule (`parseRobustRule`), with
 * defaults for the parameters a kind needs and none were given, configured for K = --byzantine
 * poisoned groups: trimmed-mean β = (K + 1/4)/G (so ⌊β·G⌋ = K), multi-krum f = K, m = G − K,
 * bulyan f = K, geomedian 100 iterations with ν = 1e-6.
 */
function robustOf(): RobustRule | undefined {
  if (args.robust === undefined) {
    if (args["norm-filter"] !== undefined) fail("--norm-filter needs --robust");
    return undefined;
  }
  if (groups === undefined) fail("--robust needs --groups or --group-size");
  const [kind, ...params] = String(args.robust).split(",");
  const g = groups.count ?? Math.floor(integer(args.nodes, "nodes", 3) / groups.size!);
  const k = byzantine;
  const defaults: Record<string, Record<string, number>> = {
    "trimmed-mean": { beta: Number(((k + 0.25) / g).toFixed(6)) },
    "multi-krum": { f: k, m: Math.max(1, g - k) },
    "bulyan": { f: k },
    "geomedian": { iterations: 100, nu: 1e-6 },
  };
  const rule: Record<string, unknown> = { kind, ...(defaults[kind] ?? {}) };
  for (const p of params) {
    const m = /^([a-z]+)=(.+)$/.exec(p);
    const v = m === null ? NaN : Number(m[2]);
    if (m === null || !Number.isFinite(v)) fail(`--robust: ${p} is not NAME=NUMBER`);
    rule[m[1]] = v;
  }
  if (args["norm-filter"] !== undefined) {
    rule.normFilter = { tau: Number(args["norm-filter"]) };
  }
  try {
    return parseRobustRule(rule);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

/** The group settings of `--groups` / `--group-size` and their minimums, or undefined. */
function groupsOf(): GroupSettings | undefined {
  const count = args.groups === undefined ? undefined : integer(args.groups, "groups", 1);
  const size = args["group-size"] === undefined
    ? undefined
    : integer(args["group-size"], "group-size", 1);
  if (count !== undefined && size !== undefined) fail("give --groups or --group-size, not both");
  if (count === undefined && size === undefined) {
    if (args["min-group-size"] ?? args["min-groups"] ?? args["allow-small-groups"] === true) {
      fail("--min-group-size, --min-groups and --allow-small-groups need --groups or --group-size");
    }
    return undefined;
  }
  return {
    ...(count === undefined ? {} : { count }),
    ...(size === undefined ? {} : { size }),
    ...(args["min-group-size"] === undefined
      ? {}
      : { minGroupSize: integer(args["min-group-size"], "min-group-size", 1) }),
    ...(args["min-groups"] === undefined
      ? {}
      : { minGroups: integer(args["min-groups"], "min-groups", 1) }),
    allowSmallGroups: args["allow-small-groups"],
  };
}

/**
 * The issue's `dp` object over every round that finished: σ, the expected and the measured noise
 * std pooled over the rounds (root mean of the variances; each round has D coordinates), ε spent
 * after the last, δ and the clip.
 */
function pooledDp(rounds: readonly DpRoundReport[]) {
  if (rounds.length === 0) return null;
  const rms = (f: (x: DpRoundReport) => number) =>
    Math.sqrt(rounds.reduce((a, x) => a + f(x) ** 2, 0) / rounds.length);
  const last = rounds[rounds.length - 1];
  return {
    sigma: last.sigma,
    expectedStd: rms((x) => x.expectedStd),
    noiseStd: rms((x) => x.noiseStd),
    epsilonSpent: last.epsilonSpent,
    delta: last.delta,
    clip: last.clip,
    bits: last.bits,
    gamma: last.gamma,
    wrapSuspects: rounds.some((x) => x.wrapSuspects === null)
      ? null
      : rounds.reduce((a, x) => a + x.wrapSuspects!, 0),
  };
}

function ms(x: number | undefined): string {
  return x === undefined ? "-" : x < 10 ? x.toFixed(2) : x.toFixed(0);
}

function kib(x: number): string {
  return x >= 1 << 20 ? `${(x / (1 << 20)).toFixed(1)} MiB` : `${(x / 1024).toFixed(1)} KiB`;
}

function printReport(r: SimReport): void {
  console.log(
    `fedagg simulation: ${r.nodes} members, d = ${r.dim}, ${r.mode}, ${r.graph} graph, t = ${r.threshold}`,
  );
  for (const x of r.rounds) printRound(x, r.dim);
  const ok = r.rounds.every((x) => x.exact && x.verified);
  console.log(ok ? "\nall rounds exact and verified" : "\nSOME ROUNDS FAILED");
}

function printRound(x: RoundReport, dim: number): void {
  console.log(`\nround ${x.round}: leader ${x.leader} (view ${x.view})`);
  if (x.failure !== undefined) console.log(`  FAILED: ${x.failure}`);
  console.log(`  survivors      ${x.survivors} (dropped: ${x.dropped.join(", ") || "none"})`);
  console.log(
    `  exact          ${
      x.exact ? "yes" : "NO"
    }  (aggregate = plaintext sum of survivors' quantized inputs)`,
  );
  console.log(`  certificate    ${x.verified ? "final, verified offline" : "NOT VERIFIED"}`);
  console.log(
    `  max |error|    ${x.maxAbsError.toExponential(3)} (bound ${x.errorBound.toExponential(3)})`,
  );
  if (x.dp !== undefined) {
    console.log(
      `  dp             σ ${x.dp.sigma.toPrecision(4)}, expected noise std ` +
        `${x.dp.expectedStd.toPrecision(4)} (${x.dp.noisers} noising), measured ` +
        `${x.dp.noiseStd.toPrecision(4)} (ratio ${
          (x.dp.noiseStd / x.dp.expectedStd).toFixed(4)
        }), ` +
        `ε spent ${x.dp.epsilonSpent.toPrecision(4)} at δ ${x.dp.delta}`,
    );
  }
  console.log(
    `  bytes sent     member avg ${kib(x.bytes.memberAvg)} (${
      (x.bytes.memberAvg / (4 * dim)).toFixed(2)
    } × 4d), leader ${kib(x.bytes.leader)}`,
  );
  for (const g of x.groups ?? []) {
    console.log(
      g.included
        ? `  group ${String(g.group).padEnd(7)} ${g.members.length} inputs, weight ${g.weight}, ` +
          `${g.exact ? "exact" : "NOT EXACT"}`
        : `  group ${String(g.group).padEnd(7)} left out`,
    );
  }
  if (x.byzantine !== undefined) {
    console.log(`  byzantine      ${x.byzantine.join(", ") || "none"}`);
  }
  if (x.plainError !== undefined) {
    console.log(`  plainError     ${x.plainError.toPrecision(3)} (plain mean vs honest mean)`);
  }
  if (x.robust !== undefined) {
    const list = (a: readonly number[]) => a.join(", ") || "none";
    console.log(
      `  robust         ${x.robust.rule}: robustError ${x.robustError?.toPrecision(3) ?? "-"}; ` +
        `discarded ${list(x.robust.discarded)} (filtered ${list(x.robust.filtered)}), ` +
        `down-weighted ${list(x.robust.downWeighted)}`,
    );
  }
  if (x.bodyBytes !== undefined) {
    console.log(
      `  certified body ${kib(x.bodyBytes)} per member (${
        (x.bodyBytes / (4 * (dim + 1))).toFixed(0)
      } × 4(d + 1): the total and the included group sums)`,
    );
  }
  console.log(`  virtual time   ${x.virtualLatencyMs} ms (network latency and timeouts only)`);
  console.log("  CPU time (ms)  stage         leader   members total   slowest member");
  for (const s of [...STAGES.filter((s) => s !== "failed"), "timeout"]) {
    const l = x.timings.leader[s];
    const m = x.timings.members[s];
    if (l === undefined && m === undefined) continue;
    console.log(
      `                 ${s.padEnd(12)} ${ms(l).padStart(7)}   ${ms(m?.total).padStart(13)}   ${
        ms(m?.max).padStart(14)
      }`,
    );
  }
  if (x.refusals.length > 0) {
    console.log(`  refusals       ${x.refusals.length}:`);
    for (const r of x.refusals.slice(0, 10)) console.log(`    ${r}`);
  }
}
