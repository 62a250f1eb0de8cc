/**
 * `deno task learn`: the learning benchmark. Does a model trained through fedagg learn as well as
 * plain federated averaging?
 *
 * ```
 * deno task learn [--nodes 5] [--rounds 20] [--drop 1] [--kill-leader] [--seed 1] [--torch]
 *   [--model logreg|mlp] [--epochs 1] [--attack I=NAME[:ARG]]... [--noise SIGMA] [--json]
 *   [--dp-epsilon E [--dp-delta D] [--dp-clip C] [--dp-bits B]]
 *   [--groups G | --group-size M] [--min-groups K] [--allow-small-groups] [--robust RULE[,…]]
 *   [--norm-filter TAU] [--byzantine K --poison NAME[:ARG]]
 * ```
 *
 * With `--groups`/`--group-size` the roster aggregates group-wise (`docs/protocol.md` §6a) and
 * with `--robust` it publishes the rule's result over the group means (§8): the nodes certify it,
 * every member recomputes it before co-signing, and the trainers apply what their node serves,
 * the rule's result. The baseline stays plain float64 FedAvg over the same members with the same
 * attacks: under attack it is what plain FedAvg does, and a robust run is not held to it.
 * `--byzantine K --poison NAME[:ARG]` makes members 0 … K − 1 attackers (`sign-flip`, `scale[:k]`,
 * `label-flip`, `alie[:z]` of `examples/digits.py`, z defaulting to Baruch et al.'s; they claim the
 * largest weight). The partition is redrawn every round (seeded by the roster and the round), so
 * fixed attackers poison between 1 and K groups a round: the JSON's `rounds[i].poisonedGroups`
 * says how many.
 *
 * With `--dp-epsilon` the roster is a DP roster (DDGauss, `docs/differential-privacy.md`: the
 * budget ε at δ lasts the run's rounds, L2 clip C, no withholding members assumed): members
 * submit with weight 1, their nodes clip, rotate, round and noise the updates, and the baseline is
 * central DP at the same ε — the same clipped updates, equal weights, and one Gaussian draw of
 * std C/√(2ρ) per round (ρ the roster's ρ per round) added to the sum by a trusted party. A DP
 * run is not held to the 1-point target (the noise draws differ); both accuracies are reported.
 *
 * Starts a local federation of real `fedagg run` processes (`scripts/testnet/local_net.ts`) and
 * one Python trainer per member (`examples/learn_trainer.py`, through the `fedagg` Python client):
 * each holds a non-IID share of scikit-learn's digits (Dirichlet α = 0.5, seeded), trains E local
 * epochs per round from the global model, submits the change to its node and applies the
 * certified average. The roster carries the model's tensor layout (`OUT/layout.json`, which the
 * trainer writes from the model's tensor names and shapes in its order, read as `fedagg roster
 * create --layout` reads it), so updates are matched by name and aggregates served in it. Every round `--drop` members and, with `--kill-leader`, the round's leader
 * are SIGKILLed mid-round (as `deno task testnet` does); they restart after the round and take up
 * the global model from another member's node (their own missed the round's certificate).
 *
 * Then the baseline: the same training — same recipe, seeds, transforms and, per round, exactly
 * the members the certificate listed — averaged in plain float64 FedAvg in one process.
 * Reported per round: the global model's test accuracy, the baseline's, the latency from the
 * first submission to the round being final at every survivor (training excluded), and who
 * dropped. `--json` prints one JSON object as the last line: `rounds: [{round, accuracy,
 * baselineAccuracy, latencyMs, members, dropped, view}]`, `finalAccuracy`, `baselineAccuracy`
 * and `maxParamDiff`, the largest difference of any parameter between the final federated model
 * and the baseline's.
 * Exits 1 when a round fails or `finalAccuracy` is more than 1 percentage point below
 * `baselineAccuracy`; no process is left behind.
 *
 * Attacks and privacy settings are update transforms of `examples/digits.py` (`TRANSFORMS`),
 * applied by the member before it submits and identically in the baseline: `--attack 2=sign-flip`
 * makes member 2 send its negated update, `--noise 0.01` adds Gaussian noise at every member.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import {
  defaultThreshold,
  describeRobustRule,
  labelledRng,
  leaderOf,
  roundGroups,
} from "../protocol/mod.ts";
import { LocalNet, ROOT } from "./testnet/local_net.ts";
import { readLayoutFile } from "../node/tensor_formats/layout_file.ts";

const USAGE = `Usage: deno task learn [options]

  --nodes N         members (default 5, at least 3)
  --rounds R        rounds (default 20)
  --drop K          members killed in the middle of each round (default 1)
  --kill-leader     also kill each round's leader mid-round (forces a view change)
  --seed S          data split, initial model, local training, who is killed (default 1)
  --torch           the PyTorch MLP of examples/pytorch_digits.py (needs python3-torch)
  --model M         logreg (default) or mlp: NumPy models
  --epochs E        local epochs per round (default 1; 2 with --torch)
  --attack I=NAME[:ARG]  member I transforms its update (examples/digits.py TRANSFORMS:
                    sign-flip[:k], gaussian:sigma); repeatable
  --noise SIGMA     every member adds Gaussian noise of standard deviation SIGMA
  --dp-epsilon E    a DP roster with total budget ε = E over the rounds (baseline: central DP)
  --dp-delta D      its δ (default 1e-6)
  --dp-clip C       the L2 clip of each member's update (default 1)
  --dp-bits B       bits of the modular sum (default 32)
  --groups G        group-wise aggregation with G groups (or --group-size M)
  --min-groups K    fewest groups a round needs (default ⌈2G/3⌉)
  --allow-small-groups  allow groups below 4 members (group size 1: signed plaintext)
  --robust RULE     publish a robust rule over the group means (median, trimmed-mean,
                    multi-krum, bulyan, geomedian; parameters as RULE,NAME=VALUE…; geomedian
                    defaults to iterations=100,nu=1e-6)
  --norm-filter TAU drop group means farther than TAU × the median distance first
  --byzantine K     members 0 … K − 1 attack with --poison NAME[:ARG] (sign-flip, scale[:k],
                    label-flip, alie[:z]; z defaults to Baruch et al.'s), claiming the
                    largest weight
  --stage-timeout MS  the roster's stage timeout (default 2000; view timeout 2.5×)
  --python PATH     the Python interpreter (default: $FEDAGG_PYTHON, else /usr/bin/python3)
  --out DIR         where the federation and results go (default: a temporary directory)
  --json            print one JSON object as the last line
`;

const args = parseArgs(Deno.args, {
  string: [
    "nodes",
    "rounds",
    "drop",
    "seed",
    "model",
    "epochs",
    "attack",
    "noise",
    "stage-timeout",
    "python",
    "out",
    "dp-epsilon",
    "dp-delta",
    "dp-clip",
    "dp-bits",
    "groups",
    "group-size",
    "min-groups",
    "robust",
    "norm-filter",
    "byzantine",
    "poison",
  ],
  boolean: ["kill-leader", "torch", "json", "help", "allow-small-groups"],
  collect: ["attack"],
  default: { nodes: "5", rounds: "20", drop: "1", seed: "1", "stage-timeout": "2000" },
  unknown: (flag: string) => {
    console.error(`learn: unknown option ${flag}\n\n${USAGE}`);
    Deno.exit(2);
  },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}
function fail(message: string): never {
  console.error(`learn: ${message}`);
  Deno.exit(2);
}
const int = (v: string, name: string, min: number) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got ${v}`);
  return n;
};
const N = int(args.nodes, "nodes", 3);
const ROUNDS = int(args.rounds, "rounds", 1);
const DROP = int(args.drop, "drop", 0);
const SEED = int(args.seed, "seed", 0);
const STAGE_TIMEOUT = int(args["stage-timeout"], "stage-timeout", 100);
const MODEL = args.torch ? "torch" : args.model ?? "logreg";
if (!["logreg", "mlp", "torch"].includes(MODEL)) fail(`--model is logreg or mlp, got ${MODEL}`);
const EPOCHS = int(args.epochs ?? (args.torch ? "2" : "1"), "epochs", 1);
const KILLS = DROP + (args["kill-leader"] ? 1 : 0);
/** How long a node may take to connect to every member: longer with longer stage timeouts. */
const CONNECT_TIMEOUT = Math.max(60_000, 6 * STAGE_TIMEOUT);
/** As in the test network: t is lowered to n − kills when more members die per round. */
const THRESHOLD = Math.min(defaultThreshold(N), N - KILLS);
if (THRESHOLD <= N / 2) fail(`killing ${KILLS} of ${N} members per round leaves too few`);

/** Per-member update transforms (attacks, privacy), as examples/digits.py takes them. */
const TRANSFORMS: Record<string, string[]> = {};
for (const spec of (args.attack ?? []) as string[]) {
  const m = /^(\d+)=([a-z-]+(?::[^\s]+)?)$/.exec(spec);
  if (m === null || Number(m[1]) >= N) {
    fail(`--attack wants I=NAME[:ARG] with I < ${N}, got ${spec}`);
  }
  (TRANSFORMS[m[1]] ??= []).push(m[2]);
}
const BYZANTINE = int(args.byzantine ?? "0", "byzantine", 0);
if ((BYZANTINE > 0) !== (args.poison !== undefined)) fail("--byzantine and --poison go together");
if (BYZANTINE >= N) fail(`--byzantine must be below --nodes ${N}`);
if (args.poison !== undefined && !/^[a-z-]+(:[^\s]+)?$/.test(args.poison)) {
  fail(`--poison wants NAME[:ARG], got ${args.poison}`);
}
for (let i = 0; i < BYZANTINE; i++) (TRANSFORMS[String(i)] ??= []).push(args.poison!);

/** The roster's `groups` and `robust` (`--groups`, `--group-size`, `--robust`, …), if any. */
const GROUPING = (() => {
  if (args.groups === undefined && args["group-size"] === undefined) {
    if (args.robust !== undefined || args["min-groups"] !== undefined) {
      fail("--robust and --min-groups need --groups or --group-size");
    }
    return undefined;
  }
  if (args.groups !== undefined && args["group-size"] !== undefined) {
    fail("give --groups or --group-size, not both");
  }
  const groups = {
    ...(args.groups === undefined ? {} : { count: int(args.groups, "groups", 1) }),
    ...(args["group-size"] === undefined ? {} : { size: int(args["group-size"], "group-size", 1) }),
    ...(args["min-groups"] === undefined
      ? {}
      : { minGroups: int(args["min-groups"], "min-groups", 1) }),
    ...(args["allow-small-groups"] ? { allowSmallGroups: true } : {}),
  };
  if (args.robust === undefined) {
    if (args["norm-filter"] !== undefined) fail("--norm-filter needs --robust");
    return { groups };
  }
  const [kind, ...params] = String(args.robust).split(",");
  const rule: Record<string, unknown> = {
    kind,
    ...(kind === "geomedian" ? { iterations: 100, nu: 1e-6 } : {}),
  };
  for (const p of params) {
    const m = /^([a-z]+)=(.+)$/.exec(p);
    if (m === null || !Number.isFinite(Number(m[2]))) fail(`--robust: ${p} is not NAME=NUMBER`);
    rule[m[1]] = Number(m[2]);
  }
  if (args["norm-filter"] !== undefined) rule.normFilter = { tau: Number(args["norm-filter"]) };
  return { groups, robust: rule };
})();
if (GROUPING !== undefined && args["dp-epsilon"] !== undefined) {
  fail("groups and DP do not go together (DP rosters refuse groups)");
}

if (args.noise !== undefined) {
  const sigma = Number(args.noise);
  if (!(sigma >= 0)) fail(`--noise must be a number ≥ 0, got ${args.noise}`);
  for (let i = 0; i < N; i++) (TRANSFORMS[String(i)] ??= []).push(`gaussian:${sigma}`);
}

async function pythonPath(): Promise<string> {
  if (args.python !== undefined) return args.python;
  const env = Deno.env.get("FEDAGG_PYTHON");
  if (env !== undefined && env !== "") return env;
  return await Deno.stat("/usr/bin/python3").then(() => "/usr/bin/python3", () => "python3");
}
const PYTHON = await pythonPath();
const TRAINER = `${ROOT}/examples/learn_trainer.py`;
const recipeArgs = [
  "--members",
  String(N),
  "--seed",
  String(SEED),
  "--model",
  MODEL,
  "--epochs",
  String(EPOCHS),
  "--transforms",
  JSON.stringify(TRANSFORMS),
];
const say = (s: string) => (args.json ? console.error(s) : console.log(s));

/** The DP settings (`--dp-epsilon`), or undefined. */
const DP = args["dp-epsilon"] === undefined ? undefined : (() => {
  const positive = (v: string, name: string) => {
    const x = Number(v);
    if (!(x > 0) || !Number.isFinite(x)) fail(`--${name} must be a number > 0, got ${v}`);
    return x;
  };
  return {
    epsilon: positive(args["dp-epsilon"], "dp-epsilon"),
    delta: positive(args["dp-delta"] ?? "1e-6", "dp-delta"),
    clip: positive(args["dp-clip"] ?? "1", "dp-clip"),
    bits: int(args["dp-bits"] ?? "32", "dp-bits", 1),
  };
})();
if (DP !== undefined) recipeArgs.push("--l2-clip", String(DP.clip));

/** Runs the trainer script once and parses the JSON line it prints. */
async function python<T>(what: string, extra: string[] = []): Promise<T> {
  const out = await new Deno.Command(PYTHON, {
    args: [TRAINER, what, ...recipeArgs, ...extra],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0) {
    throw new Error(`${what} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return JSON.parse(text.split("\n").at(-1)!) as T;
}

/** One member's trainer process: JSON commands in, one JSON answer per command out. */
class Trainer {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(dir: string, member: number, log: string) {
    const child = new Deno.Command(PYTHON, {
      args: [TRAINER, "member", "--dir", dir, "--member", String(member), ...recipeArgs],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines(child.stdout)[Symbol.asyncIterator]();
    (async () => {
      const file = await Deno.open(log, { create: true, append: true });
      await child.stderr.pipeTo(file.writable).catch(() => {});
    })();
  }

  /** Sends one command and resolves with its answer (commands to one trainer run in order). */
  send(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    const next = this.#queue.then(async () => {
      await this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
      const line = await this.#lines.next();
      if (line.done) throw new Error(`trainer exited during ${JSON.stringify(command)}`);
      const answer = JSON.parse(line.value) as Record<string, unknown>;
      if (answer.ok !== true) {
        throw new Error(`${command.cmd} ${command.round}: ${answer.error}: ${answer.message}`);
      }
      return answer;
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    await this.#child.status;
    clearTimeout(timer);
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
    }
  }
}

interface RoundReport {
  round: number;
  accuracy: number;
  baselineAccuracy: number;
  latencyMs: number;
  view: number;
  members: string[];
  dropped: string[];
  /** With groups and attackers: how many of the round's groups hold an attacker. */
  poisonedGroups?: number;
}

const OUT = args.out ?? await Deno.makeTempDir({ prefix: "fedagg-learn-" });
await Deno.mkdir(OUT, { recursive: true }); // a given --out may not exist yet
let net: LocalNet | undefined;
const trainers: Trainer[] = [];
let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await Promise.all(trainers.map((t) => t.stop()));
  await net?.stopAll();
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await cleanup();
    Deno.exit(130);
  });
}

const reports: RoundReport[] = [];
let failure: string | undefined;
let finalAccuracy = NaN;
let baselineAccuracy = NaN;
let maxParamDiff = NaN;
let centralSigma: number | undefined;
let dpReport: Record<string, number> | undefined;
// The roster carries the model's layout, from a layout.json the trainer writes from the model
// (its tensors' names and shapes in the model's order), read as `fedagg roster create --layout`
// reads it: uploads are matched to it by name and the aggregate comes back in it.
const LAYOUT_FILE = `${OUT}/layout.json`;
const described = await python<{ dim: number; maxWeight: number; clip: number; samples: number[] }>(
  "describe",
  ["--write-layout", LAYOUT_FILE],
).catch((err) => fail((err as Error).message));
const layout = await readLayoutFile(LAYOUT_FILE).then((s) => s.layout).catch((err) =>
  fail((err as Error).message)
);
try {
  say(
    `fedagg learn: ${N} nodes, model ${MODEL} (d = ${described.dim} in ${layout.tensors.length} ` +
      `tensors: ${layout.tensors.map((t) => t.name).join(", ")}), ${ROUNDS} rounds, ` +
      `${EPOCHS} local epoch(s), samples per member ${described.samples.join("/")}, in ${OUT}`,
  );
  net = await LocalNet.create(OUT, N, {
    dim: described.dim,
    layout,
    maxWeight: DP === undefined ? described.maxWeight : 1,
    ...(DP === undefined ? {} : {
      dp: {
        mechanism: "ddgauss" as const,
        epsilon: DP.epsilon,
        delta: DP.delta,
        rounds: ROUNDS,
        clip: DP.clip,
        bits: DP.bits,
        corrupt: 0,
        beta: null,
        modclipProb: null,
      },
    }),
    clip: described.clip,
    ...(GROUPING === undefined ? {} : GROUPING),
    threshold: THRESHOLD,
    stageTimeoutMs: STAGE_TIMEOUT,
    advertiseTimeoutMs: Math.round(1.25 * STAGE_TIMEOUT),
    viewTimeoutMs: Math.round(2.5 * STAGE_TIMEOUT),
  });
  const local = net;
  await Promise.all(local.nodes.map((n) => local.start(n)));
  await Promise.all(local.nodes.map((n) => local.connected(n, CONNECT_TIMEOUT)));
  say(
    `all ${N} nodes up; t = ${local.roster.threshold}; error bound ${
      local.roster.quantization.errorBound.toExponential(2)
    }`,
  );
  for (let i = 0; i < N; i++) {
    trainers.push(new Trainer(local.node(i).dir, i, `${local.node(i).dir}/trainer.log`));
  }
  const plan: number[][] = [];
  const accuracies: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const leader0 = leaderOf(local.roster, round, 0);
    const pick = labelledRng("learn-kill", SEED, round);
    const candidates = [...Array(N).keys()].filter((i) => i !== leader0);
    const victims: number[] = [];
    for (let k = 0; k < Math.min(DROP, candidates.length); k++) {
      victims.push(candidates.splice(pick(1)[0] % candidates.length, 1)[0]);
    }
    if (args["kill-leader"]) victims.push(leader0);
    await Promise.all(trainers.map((t) => t.send({ cmd: "train", round })));
    const started = performance.now();
    await local.submitAndKill(round, victims, async (members) => {
      await Promise.all(members.map((i) => trainers[i].send({ cmd: "submit", round })));
    });
    const alive = [...Array(N).keys()].filter((i) => !victims.includes(i));
    const applied = await Promise.all(alive.map((i) => trainers[i].send({ cmd: "apply", round })));
    const latencyMs = performance.now() - started;
    const first = applied[0] as { members: string[]; view: number; accuracy: number };
    if (applied.some((a) => JSON.stringify(a.members) !== JSON.stringify(first.members))) {
      throw new Error(`round ${round}: members disagree on the certified member list`);
    }
    if (applied.some((a) => a.accuracy !== first.accuracy)) {
      throw new Error(`round ${round}: members hold different global models`);
    }
    const listed = first.members.map((id) => local.roster.indexOf(id)!);
    plan.push(listed);
    accuracies.push(first.accuracy);
    reports.push({
      round,
      accuracy: first.accuracy,
      baselineAccuracy: NaN,
      latencyMs: Math.round(latencyMs),
      view: first.view,
      members: listed.map((i) => local.node(i).name),
      dropped: victims.map((i) => local.node(i).name),
      ...(BYZANTINE === 0 || roundGroups(local.roster, round) === undefined ? {} : {
        poisonedGroups: new Set(
          [...Array(BYZANTINE).keys()].map((i) =>
            roundGroups(local.roster, round)!.partition.groupOf(i)
          ),
        ).size,
      }),
    });
    if (victims.length > 0) {
      // The killed members missed the round's certificate: they take up the global model from
      // a surviving member's node (its aggregate, as safetensors) once restarted.
      const res = await local.api(
        local.node(alive[0]),
        `/v1/rounds/${round}/aggregate?format=safetensors`,
      );
      if (!res.ok) throw new Error(`round ${round}: aggregate download: ${res.status}`);
      const path = `${OUT}/aggregate-${round}.safetensors`;
      await Deno.writeFile(path, new Uint8Array(await res.arrayBuffer()));
      await Promise.all(victims.map((v) => local.start(local.node(v))));
      const synced = await Promise.all(
        victims.map((v) => trainers[v].send({ cmd: "sync", round, path })),
      );
      if (synced.some((s) => s.accuracy !== first.accuracy)) {
        throw new Error(`round ${round}: a restarted member holds another global model`);
      }
      await Promise.all(local.nodes.map((n) => local.connected(n, CONNECT_TIMEOUT)));
    }
    const r = reports.at(-1)!;
    say(
      `round ${round}: accuracy ${(100 * r.accuracy).toFixed(2)} %, ${r.members.length} members, ` +
        `view ${r.view}, ${r.latencyMs} ms` +
        (r.dropped.length > 0 ? ` (killed ${r.dropped.join(", ")})` : ""),
    );
  }
  const planPath = `${OUT}/plan.json`;
  await Deno.writeTextFile(planPath, JSON.stringify({ rounds: plan }) + "\n");
  // Every trainer holds the global model now (the killed ones took it up): one saves it.
  const modelPath = `${OUT}/federated-model.npz`;
  await trainers[0].send({ cmd: "save", round: ROUNDS - 1, path: modelPath });
  const dp = local.roster.dp;
  if (dp !== undefined) {
    centralSigma = dp.clip / Math.sqrt(2 * dp.rhoPerRound);
    dpReport = {
      epsilon: dp.epsilon,
      delta: dp.delta,
      clip: dp.clip,
      bits: dp.bits,
      sigma: dp.sigma,
      centralSigma,
    };
    say(
      `DP: ε = ${dp.epsilon} at δ = ${dp.delta} over ${ROUNDS} rounds, L2 clip ${dp.clip}: ` +
        `distributed σ ≥ ${dp.sigma.toPrecision(4)} per sum; central DP's σ = ` +
        `${centralSigma.toPrecision(4)}`,
    );
  }
  const base = await python<{ accuracies: number[]; maxParamDiff: number }>("baseline", [
    "--plan",
    planPath,
    "--compare",
    modelPath,
    ...(centralSigma === undefined ? [] : ["--central-sigma", String(centralSigma)]),
  ]);
  base.accuracies.forEach((a, i) => (reports[i].baselineAccuracy = a));
  maxParamDiff = base.maxParamDiff;
  finalAccuracy = accuracies.at(-1)!;
  baselineAccuracy = base.accuracies.at(-1)!;
} catch (err) {
  failure = (err as Error).message;
  say(`learn FAILED: ${failure} (logs in ${OUT}/node-*/)`);
} finally {
  await cleanup();
}

const withinTarget = finalAccuracy >= baselineAccuracy - 0.01;
// A robust rule is not plain FedAvg: its run is compared with the baseline, not held to it.
const ROBUST = GROUPING?.robust === undefined ? undefined : net?.roster.robust;
const ok = failure === undefined && (withinTarget || DP !== undefined || ROBUST !== undefined);
if (!args.json) {
  console.log("\nround  accuracy  baseline  latency    view  members  dropped");
  for (const r of reports) {
    console.log(
      `${String(r.round).padEnd(6)} ${(100 * r.accuracy).toFixed(2).padStart(7)} % ${
        (100 * r.baselineAccuracy).toFixed(2).padStart(7)
      } % ${(r.latencyMs + " ms").padEnd(10)} ${String(r.view).padEnd(5)} ${
        String(r.members.length).padEnd(8)
      } ${r.dropped.join(", ")}`,
    );
  }
  if (failure === undefined) {
    console.log(
      `\nfinal accuracy ${(100 * finalAccuracy).toFixed(2)} %, baseline (float64 FedAvg${
        DP === undefined ? "" : " with central DP at the same ε"
      }, same ` +
        `seeds and dropouts) ${(100 * baselineAccuracy).toFixed(2)} %: ` +
        (ROBUST !== undefined
          ? `${describeRobustRule(ROBUST)} against plain FedAvg`
          : withinTarget
          ? "within 1 point"
          : "MORE THAN 1 POINT BELOW") +
        `; largest parameter difference ${maxParamDiff.toExponential(2)}`,
    );
  }
} else {
  console.log(JSON.stringify({
    ok,
    nodes: N,
    model: MODEL,
    dim: described.dim,
    layout: layout.tensors.map((t) => ({ name: t.name, shape: [...t.shape] })),
    epochs: EPOCHS,
    seed: SEED,
    drop: DROP,
    killLeader: args["kill-leader"],
    transforms: TRANSFORMS,
    ...(GROUPING === undefined ? {} : { groups: GROUPING.groups }),
    ...(ROBUST === undefined ? {} : { robust: describeRobustRule(ROBUST) }),
    rounds: reports,
    finalAccuracy,
    baselineAccuracy,
    maxParamDiff,
    ...(dpReport === undefined ? {} : { dp: dpReport }),
    ...(failure === undefined ? {} : { failure }),
    out: OUT,
  }));
}
Deno.exit(ok ? 0 : 1);
