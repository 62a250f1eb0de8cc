/**
 * `deno task testnet`: a local federation of real `fedagg run` processes on loopback.
 *
 * ```
 * deno task testnet --nodes 5 --rounds 3 --dim 100000 --drop 1 --kill-leader --out DIR [--pq] [--json]
 *   [--graph complete|sparse]
 *   [--rtt MS --bandwidth MBIT [--jitter MS]]
 * ```
 *
 * Creates identities and a roster signed by every member in DIR, starts one process per member
 * (the entry point under `deno run` with the compiled binary's permissions), and every round:
 * submits seeded synthetic updates through each node's API (saving them as
 * `DIR/inputs/round-R/NODE.npy` and the weights in `DIR/inputs/round-R/weights.json`), kills
 * `--drop` members and, with `--kill-leader`, the round's leader in the middle of the round,
 * waits for the final certificate, downloads the aggregate from a surviving node, checks it
 * against the weighted mean of the inputs of the members the certificate lists (within the
 * quantization bound the roster guarantees), and runs `fedagg verify` on it. Killed nodes are
 * restarted after the round (they rejoin from their journal).
 *
 * With `--rtt` or `--bandwidth`, the roster lists for each member the port of a shaping proxy
 * (`testnet/wan_proxy.ts`, in this process) that forwards to the member's own port, so every
 * connection between members crosses an emulated wide-area link: `--rtt` ms round trip (half each
 * way), `--bandwidth` Mbit/s each way per link, `--jitter` ms of seeded jitter (from `--seed`).
 *
 * Prints a table; with `--json` the last line is one JSON object. Exits non-zero if any round
 * is wrong or unverified, and leaves no process behind.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { defaultThreshold, labelledRng, leaderOf } from "../protocol/mod.ts";
import { encodeNpy, parseUpdate } from "../node/tensor_formats/mod.ts";
import { DEFAULT_SECAGG_PLUS } from "../node/roster_file.ts";
import { LocalNet, type LocalNode, waitFor } from "./testnet/local_net.ts";
import { type LinkShape, WanProxy } from "./testnet/wan_proxy.ts";

const USAGE = `Usage: deno task testnet [options]

  --nodes N        members (default 5, at least 3)
  --rounds R       rounds (default 3)
  --dim D          update length (default 100000)
  --drop K         members killed in the middle of each round (default 1)
  --kill-leader    also kill each round's leader mid-round (forces a view change)
  --pq             post-quantum mode
  --graph G        complete (default) or sparse: SecAgg+ neighbour graph, with an approval
                   committee and bitmap member sets above 16 members
  --out DIR        where identities, roster, inputs, results and logs go (default: a temp dir)
  --seed S         seed of the synthetic updates and of who is killed (default 1)
  --stage-timeout MS  how long a leader waits for stragglers per stage (default 2000; the
                   submission deadline is 1.25× and the view timeout 2.5× this)
  --rtt MS         emulate a wide-area network: every link between members gets this round-trip
                   time (a shaping proxy in this process sits between the members)
  --bandwidth MBIT each link's bandwidth each way in Mbit/s (default with --rtt: unlimited)
  --jitter MS      each chunk's one-way delay varies by up to ± this (seeded by --seed)
  --log-level L    the nodes' log level (default info; debug logs every stage a node enters)
  --json           print one JSON object as the last line
  --keep           keep the processes running at the end (for inspection; Ctrl-C stops them)
`;

const args = parseArgs(Deno.args, {
  string: [
    "nodes",
    "rounds",
    "dim",
    "drop",
    "out",
    "seed",
    "stage-timeout",
    "rtt",
    "bandwidth",
    "jitter",
    "log-level",
    "graph",
  ],
  boolean: ["kill-leader", "pq", "json", "help", "keep"],
  default: {
    nodes: "5",
    rounds: "3",
    dim: "100000",
    drop: "1",
    seed: "1",
    "stage-timeout": "2000",
    graph: "complete",
  },
  unknown: (flag: string) => {
    console.error(`testnet: unknown option ${flag}\n\n${USAGE}`);
    Deno.exit(2);
  },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const int = (v: string, name: string, min: number) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`testnet: --${name} must be an integer ≥ ${min}, got ${v}`);
    Deno.exit(2);
  }
  return n;
};
const N = int(args.nodes, "nodes", 3);
const ROUNDS = int(args.rounds, "rounds", 1);
const DIM = int(args.dim, "dim", 1);
const DROP = int(args.drop, "drop", 0);
const SEED = int(args.seed, "seed", 0);
const STAGE_TIMEOUT = int(args["stage-timeout"], "stage-timeout", 100);
const KILLS = DROP + (args["kill-leader"] ? 1 : 0);
if (args.graph !== "complete" && args.graph !== "sparse") {
  console.error(`testnet: --graph must be complete or sparse, got ${args.graph}`);
  Deno.exit(2);
}
const GRAPH = args.graph === "sparse"
  ? { kind: "secagg+" as const, ...DEFAULT_SECAGG_PLUS }
  : { kind: "complete" as const };
const num = (v: string | undefined, name: string, fallback: number) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (name === "bandwidth" && n === 0)) {
    console.error(`testnet: --${name} must be a number ${name === "bandwidth" ? ">" : "≥"} 0`);
    Deno.exit(2);
  }
  return n;
};
const NODE_ARGS = args["log-level"] === undefined ? [] : ["--log-level", args["log-level"]];
const WAN = args.rtt !== undefined || args.bandwidth !== undefined || args.jitter !== undefined;
const SHAPE: LinkShape = {
  oneWayDelayMs: num(args.rtt, "rtt", 0) / 2,
  bandwidthBytesPerSec: num(args.bandwidth, "bandwidth", Infinity) * 1e6 / 8,
  jitterMs: num(args.jitter, "jitter", 0),
  seed: SEED,
};
/**
 * The default threshold ⌊2n/3⌋ + 1 tolerates ⌈n/3⌉ − 1 lost members; when more are killed per
 * round, the testnet lowers t to n − kills (the protocol refuses t ≤ n/2), which also lowers
 * the number of corrupt members it tolerates (c < 2t − n).
 */
const THRESHOLD = Math.min(defaultThreshold(N), N - KILLS);
if (THRESHOLD <= N / 2) {
  console.error(
    `testnet: killing ${KILLS} of ${N} members per round needs a threshold ≤ ${
      N - KILLS
    }, but it ` +
      `must exceed n/2 = ${N / 2}; use more --nodes or fewer --drop`,
  );
  Deno.exit(2);
}
const OUT = args.out ?? await Deno.makeTempDir({ prefix: "fedagg-testnet-" });
const say = (s: string) => (args.json ? console.error(s) : console.log(s));

let net: LocalNet | undefined;
let proxy: WanProxy | undefined;
let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await net?.stopAll();
  await proxy?.stop();
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await cleanup();
    Deno.exit(130);
  });
}

// ---- rounds -------------------------------------------------------------------------------------

interface RoundResult {
  round: number;
  leader: string;
  view: number;
  survivors: number;
  members: string[];
  killed: string[];
  exact: boolean;
  verified: boolean;
  maxError: number;
  errorBound: number;
  latencyMs: number;
  bytesMoved: number;
  bytesPerMemberOver4d: number;
  leaderPeakRssBytes: number | null;
  /** The leader's peak JavaScript heap and off-heap (ArrayBuffer) memory since it started. */
  leaderPeakHeapUsedBytes: number | null;
  leaderPeakExternalBytes: number | null;
  /** With an emulated WAN: the most bytes one link carried one way during the round. */
  maxLinkBytes: number | null;
  aggregatePath: string;
  sumPath: string;
  certificatePath: string;
  failure?: string;
}

function inputsFor(round: number): { values: Float32Array[]; weights: number[] } {
  const rng = labelledRng("testnet", SEED, round);
  const values: Float32Array[] = [];
  const weights: number[] = [];
  for (let i = 0; i < N; i++) {
    const raw = new Uint32Array(rng(4 * DIM).buffer);
    const v = new Float32Array(DIM);
    for (let j = 0; j < DIM; j++) v[j] = raw[j] / 2 ** 32 * 2 - 1;
    values.push(v);
    weights.push(1 + (rng(1)[0] % 100));
  }
  return { values, weights };
}

async function runRound(net: LocalNet, round: number): Promise<RoundResult> {
  const roster = net.roster;
  const { values, weights } = inputsFor(round);
  const nodeOf = (index: number): LocalNode => net.node(index);
  const status = (n: LocalNode) => net.status(n);
  const api = (n: LocalNode, path: string, init?: RequestInit) => net.api(n, path, init);
  const dir = `${OUT}/inputs/round-${round}`;
  await Deno.mkdir(dir, { recursive: true });
  const weightJson: Record<string, number> = {};
  for (let i = 0; i < N; i++) {
    const n = nodeOf(i);
    await Deno.writeFile(`${dir}/${n.name}.npy`, encodeNpy(values[i]));
    weightJson[n.name] = weights[i];
  }
  await Deno.writeTextFile(`${dir}/weights.json`, JSON.stringify(weightJson, null, 2) + "\n");

  const leader0 = leaderOf(roster, round, 0);
  const pick = labelledRng("testnet-kill", SEED, round);
  const candidates = [...Array(N).keys()].filter((i) => i !== leader0);
  const victims: number[] = [];
  for (let k = 0; k < Math.min(DROP, candidates.length); k++) {
    victims.push(candidates.splice(pick(1)[0] % candidates.length, 1)[0]);
  }
  if (args["kill-leader"]) victims.push(leader0);
  const budget = N - roster.threshold;
  if (victims.length > budget) {
    throw new Error(`killing ${victims.length} members leaves fewer than t = ${roster.threshold}`);
  }

  const before = new Map<number, number>();
  for (let i = 0; i < N; i++) before.set(i, (await status(nodeOf(i)))?.traffic.bytesSent ?? 0);
  const linkBefore = proxy?.links.map((l) => l.bytes) ?? [];
  const started = performance.now();
  const submit = (members: readonly number[]) =>
    Promise.all(members.map(async (i) => {
      const res = await api(nodeOf(i), `/v1/rounds/${round}/update?num_samples=${weights[i]}`, {
        method: "POST",
        body: encodeNpy(values[i]),
        headers: { "content-type": "application/x-npy" },
      });
      if (res.status !== 202) {
        throw new Error(`${nodeOf(i).name} refused the update: ${await res.text()}`);
      }
      await res.body?.cancel();
    })).then(() => {});
  // Mid-round: the victims die while the leader waits in its first stage for the late member,
  // once each victim has entered the round (see LocalNet.submitAndKill).
  await net.submitAndKill(round, victims, submit);
  const killed = new Set(victims);
  const alive = [...Array(N).keys()].filter((i) => !killed.has(i));

  // Wait until every surviving node holds the final certificate.
  const finals = await Promise.all(
    alive.map((i) =>
      waitFor(`round ${round} to be final at ${nodeOf(i).name}`, async () => {
        const s = await status(nodeOf(i));
        return s !== undefined && s.lastFinalRound !== null && s.lastFinalRound >= round
          ? s
          : undefined;
      }, 180_000)
    ),
  );
  const latencyMs = performance.now() - started;
  const maxLinkBytes = proxy === undefined
    ? null
    : proxy.links.reduce((m, l, i) => Math.max(m, l.bytes - (linkBefore[i] ?? 0)), 0);
  const source = nodeOf(alive[0]);
  const results = `${OUT}/results/round-${round}`;
  await Deno.mkdir(results, { recursive: true });
  const download = async (format: string, path: string) => {
    const res = await api(source, `/v1/rounds/${round}/aggregate?format=${format}`);
    if (!res.ok) throw new Error(`aggregate download failed: ${await res.text()}`);
    await Deno.writeFile(path, new Uint8Array(await res.arrayBuffer()));
    return res.headers;
  };
  const aggregatePath = `${results}/aggregate.npy`;
  const sumPath = `${results}/aggregate.sum`;
  const certificatePath = `${results}/certificate.cbor`;
  const headers = await download("npy", aggregatePath);
  await download("sum", sumPath);
  const cert = await api(source, `/v1/rounds/${round}/certificate`);
  if (!cert.ok) throw new Error(`certificate download failed: ${await cert.text()}`);
  await Deno.writeFile(certificatePath, new Uint8Array(await cert.arrayBuffer()));
  const view = Number(headers.get("x-fedagg-view"));
  const memberIds = (headers.get("x-fedagg-members") ?? "").split(",").filter((s) => s !== "");
  const memberIdx = memberIds.map((id) => roster.indexOf(id)!);

  // The check: the mean of the certified members' inputs, within the proven quantization bound.
  const mean = parseUpdate(await Deno.readFile(aggregatePath), DIM, "npy").values;
  const q = roster.quantization;
  let wsum = 0;
  for (const m of memberIdx) wsum += weights[m];
  let maxError = 0;
  for (let j = 0; j < DIM; j++) {
    let acc = 0;
    for (const m of memberIdx) {
      acc += weights[m] * Math.max(-q.clip, Math.min(q.clip, values[m][j]));
    }
    maxError = Math.max(maxError, Math.abs(mean[j] - acc / wsum));
  }
  const exact = maxError <= q.errorBound && memberIdx.length >= roster.threshold;

  const verify = await net.cli([
    "verify",
    "--certificate",
    certificatePath,
    "--aggregate",
    sumPath,
    "--mean",
    aggregatePath,
    "--roster",
    net.rosterPath,
    "--json",
  ]);
  const verified = verify.code === 0;

  let bytesMoved = 0;
  let memberMax = 0;
  for (let i = 0; i < N; i++) {
    if (killed.has(i)) continue;
    const s = finals[alive.indexOf(i)];
    const sent = s.traffic.bytesSent - (before.get(i) ?? 0);
    bytesMoved += sent;
    if (i !== leaderOf(roster, round, view)) memberMax = Math.max(memberMax, sent);
  }
  const leaderIndex = leaderOf(roster, round, view);
  const leaderStatus = killed.has(leaderIndex) ? undefined : await status(nodeOf(leaderIndex));
  const result: RoundResult = {
    round,
    leader: nodeOf(leaderIndex).name,
    view,
    survivors: memberIdx.length,
    members: memberIdx.map((i) => nodeOf(i).name),
    killed: victims.map((i) => nodeOf(i).name),
    exact,
    verified,
    maxError,
    errorBound: q.errorBound,
    latencyMs,
    bytesMoved,
    bytesPerMemberOver4d: memberMax / (4 * DIM),
    leaderPeakRssBytes: leaderStatus?.peakRssBytes ?? null,
    leaderPeakHeapUsedBytes: leaderStatus?.peakHeapUsedBytes ?? null,
    leaderPeakExternalBytes: leaderStatus?.peakExternalBytes ?? null,
    maxLinkBytes,
    aggregatePath,
    sumPath,
    certificatePath,
  };
  if (!verified) result.failure = (verify.stdout + verify.stderr).trim();

  // Bring the killed nodes back: they rejoin from their journal for the next round.
  await Promise.all(victims.map((v) => net.start(nodeOf(v), { args: NODE_ARGS })));
  return result;
}

// ---- main ---------------------------------------------------------------------------------------

let ok = false;
const rounds: RoundResult[] = [];
try {
  say(
    `fedagg testnet: ${N} nodes, d = ${DIM}, ${args.pq ? "post-quantum" : "classical"}, in ${OUT}`,
  );
  if (WAN) {
    say(
      `emulated WAN: RTT ${2 * SHAPE.oneWayDelayMs} ms, ${
        Number.isFinite(SHAPE.bandwidthBytesPerSec)
          ? `${(SHAPE.bandwidthBytesPerSec * 8 / 1e6).toFixed(0)} Mbit/s`
          : "unlimited bandwidth"
      } per link each way, jitter ±${SHAPE.jitterMs} ms`,
    );
  }
  net = await LocalNet.create(OUT, N, {
    dim: DIM,
    mode: args.pq ? "post-quantum" : "classical",
    graph: GRAPH,
    maxWeight: 100,
    threshold: THRESHOLD,
    // Short timeouts so a killed leader costs seconds, not minutes (deployments use longer).
    stageTimeoutMs: STAGE_TIMEOUT,
    advertiseTimeoutMs: Math.round(1.25 * STAGE_TIMEOUT),
    viewTimeoutMs: Math.round(2.5 * STAGE_TIMEOUT),
  }, { proxied: WAN });
  if (WAN) proxy = WanProxy.start(net.routes(), SHAPE);
  const roster = net.roster;
  await Promise.all(net.nodes.map((n) => net!.start(n, { args: NODE_ARGS })));
  await Promise.all(net.nodes.map((n) => net!.connected(n)));
  say(`all ${N} nodes up and connected; roster t = ${roster.threshold}`);
  if (roster.threshold < defaultThreshold(N)) {
    say(
      `note: t lowered from ${defaultThreshold(N)} so that ${KILLS} members can die per ` +
        `round; this roster tolerates fewer than ${2 * roster.threshold - N} corrupt members`,
    );
  }
  for (let round = 0; round < ROUNDS; round++) {
    const r = await runRound(net, round);
    rounds.push(r);
    say(
      `round ${r.round}: leader ${r.leader} view ${r.view}, ${r.survivors} members, ` +
        `exact ${r.exact ? "yes" : "NO"}, verified ${r.verified ? "yes" : "NO"}, ` +
        `${r.latencyMs.toFixed(0)} ms` +
        (r.killed.length > 0 ? ` (killed ${r.killed.join(", ")})` : ""),
    );
    if (r.round < ROUNDS - 1 && r.killed.length > 0) {
      await Promise.all(net.nodes.map((n) => net!.connected(n)));
    }
  }
  ok = rounds.every((r) => r.exact && r.verified);
} catch (err) {
  say(`testnet FAILED: ${(err as Error).message}`);
} finally {
  if (args.keep && ok) {
    say("--keep: processes left running; Ctrl-C to stop them");
    await new Promise(() => {});
  }
  await cleanup();
}

if (!args.json) {
  console.log(
    "\nround  leader   view  survivors  exact  verified  max error   latency    bytes moved  member bytes/4d",
  );
  for (const r of rounds) {
    console.log(
      `${String(r.round).padEnd(6)} ${r.leader.padEnd(8)} ${String(r.view).padEnd(5)} ${
        String(r.survivors).padEnd(10)
      } ${(r.exact ? "yes" : "NO").padEnd(6)} ${(r.verified ? "yes" : "NO").padEnd(9)} ${
        r.maxError.toExponential(2).padEnd(11)
      } ${(r.latencyMs.toFixed(0) + " ms").padEnd(10)} ${
        (r.bytesMoved / 1e6).toFixed(2).padStart(8)
      } MB  ${r.bytesPerMemberOver4d.toFixed(2)}`,
    );
  }
  console.log(ok ? "\nall rounds exact and verified" : "\nTESTNET FAILED");
} else {
  console.log(
    JSON.stringify({
      ok,
      nodes: N,
      dim: DIM,
      roster: `${OUT}/roster.json`,
      out: OUT,
      wan: WAN
        ? {
          rttMs: 2 * SHAPE.oneWayDelayMs,
          bandwidthBytesPerSec: Number.isFinite(SHAPE.bandwidthBytesPerSec)
            ? SHAPE.bandwidthBytesPerSec
            : null,
          jitterMs: SHAPE.jitterMs,
        }
        : null,
      rounds,
    }),
  );
}
Deno.exit(ok ? 0 : 1);
