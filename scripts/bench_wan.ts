/**
 * `deno task bench:wan`: real rounds over an emulated wide-area network, and one stream's
 * throughput on the mesh at a long round trip.
 *
 * ```
 * deno task bench:wan [--nodes 5] [--dim 1000000] [--rounds 3] [--rtt 0,20,50,100]
 *   [--bandwidth 100,1000] [--stream-only] [--json]
 * ```
 *
 * 1. **One stream** (`testnet/mesh_throughput.ts`): `Mesh.send` of 4 MB and 16 MiB frames
 *    between two meshes in this process, on loopback and through a 100 ms, 1 Gbit/s link, so the
 *    muxer's flow-control window is the limit (one 256 KiB window per round trip would be
 *    ≈ 2.6 MB/s).
 * 2. **Rounds**: for each bandwidth (Mbit/s per link, each way) and round-trip time, one
 *    `deno task testnet --drop 0 --rtt … --bandwidth …` run; the figure is the median round
 *    latency of the rounds after the first (the first includes connection warm-up). Each is set
 *    against its floor, what the link alone forces: the masked vector up to the leader and the
 *    aggregate back down, each over its own link (2 × 4(d + 1) bytes / bandwidth), plus
 *    {@link ROUND_TRIPS} round trips (five leader exchanges, then the certificate's gossip, the
 *    body fetched by hash and the co-signatures' gossip: ½ + 1 + ½). The share of the round
 *    spent on round trips is measured, not modelled: (T(rtt) − T(0)) / T(rtt) at the same
 *    bandwidth, and (T(rtt) − T(0)) / rtt is how many round trips the round effectively waited
 *    (against the {@link ROUND_TRIPS} it needs).
 *
 * The machine is shared and has two cores: the emulator, every member and this script compete
 * for them, so figures vary between runs; run it more than once and compare medians.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { meshThroughput } from "./testnet/mesh_throughput.ts";

/** Round trips a round needs at the least (see the module doc). */
export const ROUND_TRIPS = 7;

const args = parseArgs(Deno.args, {
  string: ["nodes", "dim", "rounds", "rtt", "bandwidth"],
  boolean: ["json", "stream-only", "help"],
  default: { nodes: "5", dim: "1000000", rounds: "3", rtt: "0,20,50,100", bandwidth: "100,1000" },
});
if (args.help) {
  console.log(
    "Usage: deno task bench:wan [--nodes N] [--dim D] [--rounds R] [--rtt MS,..] " +
      "[--bandwidth MBIT,..] [--stream-only] [--json]",
  );
  Deno.exit(0);
}
const list = (s: string) => s.split(",").map(Number);
const NODES = Number(args.nodes);
const DIM = Number(args.dim);
const ROUNDS = Number(args.rounds);
const RTTS = list(args.rtt);
const BANDWIDTHS = list(args.bandwidth);
const say = (s: string) => (args.json ? console.error(s) : console.log(s));
const mb = (bytesPerSec: number) => `${(bytesPerSec / 1e6).toFixed(1)} MB/s`;
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---- 1. one stream ------------------------------------------------------------------------------

const wide = { oneWayDelayMs: 50, bandwidthBytesPerSec: 125e6, jitterMs: 0, seed: 1 };
const stream: Record<string, { bytes: number; seconds: readonly number[]; bytesPerSec: number }> =
  {};
say("one stream on the mesh (Mesh.send on the frame stream, median of 3):");
for (
  const [name, bytes, shape] of [
    ["loopback 16 MiB", 16 << 20, undefined],
    ["100 ms, 1 Gbit/s, 4 MB", 4_000_004, wide],
    ["100 ms, 1 Gbit/s, 16 MiB", 16 << 20, wide],
  ] as const
) {
  const r = await meshThroughput(bytes, 3, shape);
  stream[name] = r;
  say(
    `  ${name.padEnd(26)} ${mb(r.bytesPerSec).padStart(11)}  (${
      r.seconds.map((s) => s.toFixed(2)).join(", ")
    } s)`,
  );
}
if (args["stream-only"]) {
  if (args.json) console.log(JSON.stringify({ stream }));
  Deno.exit(0);
}

// ---- 2. rounds ----------------------------------------------------------------------------------

interface Row {
  bandwidthMbit: number;
  rttMs: number;
  latenciesS: number[];
  medianS: number;
  floorS: number;
  overFloor: number;
  maxLinkBytes: number;
  roundTripShare: number | null;
  effectiveRoundTrips: number | null;
}
const rows: Row[] = [];
const root = new URL("..", import.meta.url).pathname;
for (const bw of BANDWIDTHS) {
  let base: number | undefined;
  for (const rtt of RTTS) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `${root}scripts/testnet.ts`,
        "--nodes",
        String(NODES),
        "--rounds",
        String(ROUNDS),
        "--dim",
        String(DIM),
        "--drop",
        "0",
        "--stage-timeout",
        "20000",
        "--rtt",
        String(rtt),
        "--bandwidth",
        String(bw),
        "--json",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const result = JSON.parse(lines[lines.length - 1]) as {
      ok: boolean;
      rounds: { latencyMs: number; maxLinkBytes: number }[];
    };
    if (!result.ok) throw new Error(`testnet at ${rtt} ms, ${bw} Mbit/s failed`);
    const measured = result.rounds.slice(result.rounds.length > 1 ? 1 : 0);
    const latenciesS = measured.map((r) => r.latencyMs / 1000);
    const medianS = median(latenciesS);
    const bytesPerSec = bw * 1e6 / 8;
    const floorS = 2 * 4 * (DIM + 1) / bytesPerSec + ROUND_TRIPS * rtt / 1000;
    if (rtt === 0) base = medianS;
    const row: Row = {
      bandwidthMbit: bw,
      rttMs: rtt,
      latenciesS,
      medianS,
      floorS,
      overFloor: medianS / floorS,
      maxLinkBytes: Math.max(...measured.map((r) => r.maxLinkBytes)),
      roundTripShare: base === undefined || rtt === 0 ? null : (medianS - base) / medianS,
      effectiveRoundTrips: base === undefined || rtt === 0 ? null : (medianS - base) / (rtt / 1000),
    };
    rows.push(row);
    say(
      `${String(bw).padStart(5)} Mbit/s ${String(rtt).padStart(4)} ms RTT: round ${
        medianS.toFixed(2)
      } s (${latenciesS.map((s) => s.toFixed(2)).join(", ")}), floor ${floorS.toFixed(2)} s, ${
        row.overFloor.toFixed(1)
      }× floor${
        row.roundTripShare === null
          ? ""
          : `, ${(100 * row.roundTripShare).toFixed(0)} % of it lost to round trips (≈ ${
            row.effectiveRoundTrips!.toFixed(0)
          } RTT)`
      }`,
    );
  }
}
if (args.json) {
  console.log(JSON.stringify({ nodes: NODES, dim: DIM, roundTrips: ROUND_TRIPS, stream, rows }));
}
Deno.exit(0);
