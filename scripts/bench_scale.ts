/**
 * `deno task bench:scale`: how the cost of a sparse (SecAgg+) round grows with the number of
 * members. For each n and d it runs one simulated round in its own process:
 *
 * ```
 * deno run --allow-read --allow-env --allow-sys=cpus scripts/sim.ts \
 *   --nodes N --dim D --graph sparse --dropout 0.1 --rounds 1 --json
 * ```
 *
 * and reports the leader's bytes and a member's average bytes against n × 4d (the aggregate the
 * leader must send every member) and 4d (one vector), whether the round was exact and verified,
 * wall time, peak resident memory (the child's VmHWM, read from /proc while it runs; Linux only)
 * and the CPU time of the leader and the members (with `--json`, also the leader's bytes by message
 * type and the CPU time by stage).
 *
 * ```
 * deno task bench:scale [--nodes 100,300,1000] [--dims 10000,1000] [--pq] [--seed 7] [--json]
 * ```
 *
 * Exits 1 when a round is not exact or not verified.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";

const USAGE =
  "Usage: deno task bench:scale [--nodes 100,300,1000] [--dims 10000,1000] [--pq] [--seed S] [--json]";

const args = parseArgs(Deno.args, {
  boolean: ["pq", "json", "help"],
  string: ["nodes", "dims", "seed", "dropout"],
  default: { nodes: "100,300,1000", dims: "10000,1000", seed: "7", dropout: "0.1" },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}

function list(value: string, name: string): number[] {
  const out = value.split(",").map(Number);
  if (out.some((x) => !Number.isSafeInteger(x) || x < 3)) {
    console.error(
      `bench:scale: --${name} must be a comma-separated list of integers ≥ 3\n${USAGE}`,
    );
    Deno.exit(2);
  }
  return out;
}

const nodes = list(args.nodes, "nodes");
const dims = list(args.dims, "dims");
const log = (s: string) => args.json ? console.error(s) : console.log(s);

/** One row of the table. */
interface Row {
  nodes: number;
  dim: number;
  graph: string;
  exact: boolean;
  verified: boolean;
  leaderBytes: number;
  leaderPerN4d: number;
  memberAvgBytes: number;
  memberPer4d: number;
  wallSeconds: number;
  peakRssMiB: number | null;
  cpuLeaderMs: number;
  cpuMembersMs: number;
  survivors: number;
  /** The leader's bytes by message type (the simulator's `bytes.leaderByType`). */
  leaderByType: Record<string, number>;
  /** CPU milliseconds by stage, the leader's and the members' (the simulator's `timings`). */
  timings: Record<string, unknown>;
}

/** The child's peak resident set (VmHWM, bytes), or undefined where /proc is not readable. */
function peakRss(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function runOne(n: number, d: number): Promise<Row> {
  const simArgs = [
    "run",
    "--allow-read",
    "--allow-env",
    "--allow-sys=cpus",
    // The default V8 heap limit is below what n = 10,000 needs; the machine's memory is the limit.
    "--v8-flags=--max-old-space-size=20000",
    new URL("./sim.ts", import.meta.url).pathname,
    "--nodes",
    String(n),
    "--dim",
    String(d),
    "--graph",
    "sparse",
    "--dropout",
    args.dropout,
    "--rounds",
    "1",
    "--seed",
    args.seed,
    "--json",
    ...(args.pq ? ["--pq"] : []),
  ];
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: simArgs,
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  let peak: number | undefined;
  const poll = setInterval(() => {
    peak = peakRss(child.pid) ?? peak;
  }, 50);
  const out = await child.output();
  clearInterval(poll);
  const wallSeconds = (performance.now() - started) / 1000;
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
  let report;
  try {
    report = JSON.parse(stdout[stdout.length - 1]);
  } catch {
    throw new Error(
      `sim n=${n} d=${d} printed no report (exit ${out.code}): ${
        new TextDecoder().decode(out.stderr).slice(-2000)
      }`,
    );
  }
  const sum = (o: Record<string, number | { total: number }>) =>
    Object.values(o).reduce<number>((a, v) => a + (typeof v === "number" ? v : v.total), 0);
  return {
    nodes: n,
    dim: d,
    graph: report.graph,
    exact: report.exact,
    verified: report.verified,
    survivors: report.survivors,
    leaderBytes: report.bytes.leader,
    leaderPerN4d: report.bytes.leader / (n * 4 * d),
    memberAvgBytes: report.bytes.memberAvg,
    memberPer4d: report.bytes.memberAvg / (4 * d),
    wallSeconds,
    peakRssMiB: peak === undefined ? null : peak / 2 ** 20,
    cpuLeaderMs: sum(report.timings.leader),
    cpuMembersMs: sum(report.timings.members),
    leaderByType: report.bytes.leaderByType,
    timings: report.timings,
  };
}

const mb = (x: number) => (x / 1e6).toFixed(1);
log(
  "    n        d  graph               leader MB  ×(n·4d)  member KB  ×4d   exact  wall s  peak MiB  CPU leader s  CPU members s",
);
const rows: Row[] = [];
for (const d of dims) {
  for (const n of nodes) {
    const r = await runOne(n, d);
    rows.push(r);
    log(
      [
        String(n).padStart(5),
        String(d).padStart(8),
        r.graph.padEnd(18),
        mb(r.leaderBytes).padStart(10),
        r.leaderPerN4d.toFixed(2).padStart(8),
        (r.memberAvgBytes / 1e3).toFixed(1).padStart(10),
        r.memberPer4d.toFixed(2).padStart(5),
        (r.exact && r.verified ? "yes" : "NO").padStart(6),
        r.wallSeconds.toFixed(1).padStart(7),
        (r.peakRssMiB === null ? "-" : r.peakRssMiB.toFixed(0)).padStart(9),
        (r.cpuLeaderMs / 1000).toFixed(1).padStart(13),
        (r.cpuMembersMs / 1000).toFixed(1).padStart(14),
      ].join(" "),
    );
  }
}
if (args.json) console.log(JSON.stringify({ rows }));
Deno.exit(rows.every((r) => r.exact && r.verified) ? 0 : 1);
