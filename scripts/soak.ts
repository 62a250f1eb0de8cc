/**
 * `deno task soak`: many rounds on a local federation of real `fedagg run` processes, to see the
 * journal's disk use over time (not part of the test suite: it runs for minutes).
 *
 * ```
 * deno task soak --nodes 4 --rounds 200 --dim 200000 [--keep-rounds N] [--keep-bytes SIZE]
 *                [--unbounded] [--every K] [--out DIR] [--json]
 * ```
 *
 * Every round each member submits a seeded synthetic update and the round must become final on
 * every node; every `--every` rounds (and at the end) it prints each node's journal size (bytes
 * of `DIR/journal`, as `du` counts file sizes) and round directories, and what `GET /v1/status`
 * reports. `--keep-rounds` / `--keep-bytes` are passed to `fedagg run`; `--unbounded` sets them
 * so high that nothing is retired (the behaviour before the retention policy). Exits non-zero if
 * a round does not become final; leaves no process behind.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { LocalNet, type LocalNode, syntheticInputs, waitFor } from "./testnet/local_net.ts";

const USAGE = `Usage: deno task soak [options]

  --nodes N          members (default 4)
  --rounds R         rounds (default 200)
  --dim D            update length (default 200000)
  --keep-rounds N    fedagg run --keep-rounds (default: the node's)
  --keep-bytes SIZE  fedagg run --keep-bytes (default: the node's)
  --unbounded        keep everything (as before the retention policy)
  --every K          print journal sizes every K rounds (default 20)
  --stage-timeout MS (default 2000)
  --out DIR          where the nodes live (default: a temp dir, removed at the end)
  --json             print one JSON object as the last line
`;

const args = parseArgs(Deno.args, {
  string: ["nodes", "rounds", "dim", "keep-rounds", "keep-bytes", "every", "out", "stage-timeout"],
  boolean: ["unbounded", "json", "help"],
  default: { nodes: "4", rounds: "200", dim: "200000", every: "20", "stage-timeout": "2000" },
  unknown: (flag: string) => {
    console.error(`soak: unknown option ${flag}\n\n${USAGE}`);
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
    console.error(`soak: --${name} must be an integer ≥ ${min}, got ${v}`);
    Deno.exit(2);
  }
  return n;
};
const N = int(args.nodes, "nodes", 3);
const ROUNDS = int(args.rounds, "rounds", 1);
const DIM = int(args.dim, "dim", 1);
const EVERY = int(args.every, "every", 1);
const STAGE_TIMEOUT = int(args["stage-timeout"], "stage-timeout", 100);
const runArgs: string[] = args.unbounded
  ? ["--keep-rounds", "1000000000", "--keep-bytes", "1000000G"]
  : [
    ...(args["keep-rounds"] === undefined ? [] : ["--keep-rounds", args["keep-rounds"]]),
    ...(args["keep-bytes"] === undefined ? [] : ["--keep-bytes", args["keep-bytes"]]),
  ];
const say = (s: string) => (args.json ? console.error(s) : console.log(s));
const OUT = args.out ?? await Deno.makeTempDir({ prefix: "fedagg-soak-" });

/** Bytes of the files under `path` (0 if missing) and the round directories directly in it. */
async function journalSize(path: string): Promise<{ bytes: number; rounds: number }> {
  let bytes = 0;
  let rounds = 0;
  const walk = async (p: string, top: boolean) => {
    for await (const e of Deno.readDir(p)) {
      const child = `${p}/${e.name}`;
      if (e.isDirectory) {
        if (top && /^round-\d+$/.test(e.name)) rounds++;
        await walk(child, false);
      } else bytes += (await Deno.lstat(child)).size;
    }
  };
  try {
    await walk(path, true);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return { bytes, rounds };
}

interface Sample {
  readonly round: number;
  readonly nodes: { name: string; bytes: number; rounds: number; statusBytes: number | null }[];
}

async function sample(net: LocalNet, round: number): Promise<Sample> {
  const nodes = [];
  for (const n of net.nodes) {
    const size = await journalSize(`${n.dir}/journal`);
    const status = await net.status(n) as { journal?: { bytes: number } } | undefined;
    nodes.push({ name: n.name, ...size, statusBytes: status?.journal?.bytes ?? null });
  }
  return { round, nodes };
}

function show(s: Sample): void {
  const mb = (b: number) => (b / 1e6).toFixed(1);
  say(
    `after round ${String(s.round).padStart(4)}: ` +
      s.nodes.map((n) => `${n.name} ${mb(n.bytes)} MB / ${n.rounds} rounds`).join(", "),
  );
}

const net = await LocalNet.create(OUT, N, {
  dim: DIM,
  maxWeight: 100,
  stageTimeoutMs: STAGE_TIMEOUT,
  advertiseTimeoutMs: Math.round(1.25 * STAGE_TIMEOUT),
  viewTimeoutMs: Math.round(2.5 * STAGE_TIMEOUT),
});
let failed: string | undefined;
const samples: Sample[] = [];
const started = performance.now();
try {
  for (const n of net.nodes) await net.start(n, { args: runArgs });
  for (const n of net.nodes) await net.connected(n);
  samples.push(await sample(net, -1));
  say(
    `soak: ${N} nodes, d = ${DIM}, ${ROUNDS} rounds, fedagg run ${
      runArgs.join(" ") || "(defaults)"
    }`,
  );
  show(samples[0]);
  for (let round = 0; round < ROUNDS; round++) {
    const inputs = syntheticInputs("soak", 1, round, N, DIM);
    await Promise.all(net.nodes.map(async (n: LocalNode) => {
      const i = net.index(n);
      const r = await net.submitUpdate(n, round, inputs.values[i], inputs.weights[i]);
      if (r?.status !== 202) throw new Error(`${n.name} round ${round}: ${r?.status} ${r?.text}`);
    }));
    await waitFor(`round ${round} to become final on every node`, async () => {
      for (const n of net.nodes) if (await net.holdsFinal(n, round) !== true) return undefined;
      return true;
    }, 120_000);
    if ((round + 1) % EVERY === 0 || round === ROUNDS - 1) {
      samples.push(await sample(net, round));
      show(samples.at(-1)!);
    }
  }
} catch (err) {
  failed = err instanceof Error ? err.message : String(err);
  say(`soak: FAILED: ${failed}`);
} finally {
  await net.stopAll();
}
const seconds = (performance.now() - started) / 1000;
const first = samples[0];
const last = samples.at(-1)!;
say(
  `soak: ${last.round + 1} rounds in ${seconds.toFixed(0)} s; journal per node before ` +
    `${first.nodes.map((n) => n.bytes).join(", ")} bytes, after ` +
    `${last.nodes.map((n) => n.bytes).join(", ")} bytes (${
      last.nodes.map((n) => n.rounds).join(", ")
    } rounds)`,
);
if (args.json) {
  console.log(
    JSON.stringify({ nodes: N, dim: DIM, rounds: ROUNDS, runArgs, seconds, samples, failed }),
  );
}
if (args.out === undefined) await Deno.remove(OUT, { recursive: true }).catch(() => {});
Deno.exit(failed === undefined ? 0 : 1);
