/**
 * `deno task scale:plan`: the projection behind `docs/scale.md`. For n = 10^3 … 10^6 it prints the
 * SecAgg+ degree and thresholds (`secAggPlusParameters`, the same bounds the simulator uses), the
 * size of a sampled approval committee with the same bounds (`docs/protocol.md` §3, sparse
 * traffic), and the per-member and per-leader bytes and CPU of one round, from:
 *
 * - frame sizes measured here with the real encoder (an advert, an approval, a co-signature);
 * - per-operation costs measured here (opening and verifying an approval; the rest of a member's
 *   work per neighbour);
 * - the per-member and per-leader costs of a measured `deno task bench:scale --json` row (`--from
 *   FILE`, the row with the largest n at `--dim`), which calibrate the O(k) member work and the
 *   O(n) leader work.
 *
 * ```
 * deno task scale:plan --from bench.json [--dim 10000] [--gamma 0.05] [--delta 0.1] [--gbps 10]
 * ```
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { secAggPlusParameters } from "../protocol/graph/secagg_plus.ts";
import { committeeParameters } from "../protocol/graph/committee.ts";
import { defaultThreshold } from "../protocol/mod.ts";
import { openFrame, sealFrame, verifyEnvelope } from "../protocol/wire/frame.ts";
import { advertiseKeysFields, approvalFields, cosignFields } from "../protocol/wire/messages.ts";
import { sessionOf } from "../protocol/federation/session.ts";
import { simulatedFederation } from "../protocol/sim/mod.ts";

const args = parseArgs(Deno.args, {
  string: ["from", "dim", "gamma", "delta", "gbps"],
  default: { dim: "10000", gamma: "0.05", delta: "0.1", gbps: "10" },
});
const d = Number(args.dim);
const gamma = Number(args.gamma);
const delta = Number(args.delta);
const gbps = Number(args.gbps);
const SIGMA = 40;
const fmtB = (x: number) =>
  x >= 1e12
    ? `${(x / 1e12).toFixed(1)} TB`
    : x >= 1e9
    ? `${(x / 1e9).toFixed(1)} GB`
    : x >= 1e6
    ? `${(x / 1e6).toFixed(1)} MB`
    : `${(x / 1e3).toFixed(1)} KB`;
const fmtS = (ms: number) =>
  ms >= 3.6e6
    ? `${(ms / 3.6e6).toFixed(1)} h`
    : ms >= 1e3
    ? `${(ms / 1e3).toFixed(1)} s`
    : `${ms.toFixed(1)} ms`;

/** The approval committee `secAggPlusParameters` sizes (`protocol/graph/committee.ts`). */
function committee(n: number, c: number, dropped: number): { s: number; tc: number } {
  const p = committeeParameters({ n, corrupt: c, dropouts: dropped, securityBits: SIGMA });
  return p === undefined ? { s: n, tc: defaultThreshold(n) } : { s: p.size, tc: p.quorum };
}

// ---- frame sizes with the real encoder -----------------------------------------------------
async function sizes(pq: boolean) {
  const { roster, signers } = await simulatedFederation({
    nodes: 3,
    dim: 1,
    seed: 1,
    pq,
  });
  const session = sessionOf(roster, 0, 0);
  const h = new Uint8Array(32).fill(7);
  const keyLength = pq ? 32 + 1216 : 32;
  const advert = await sealFrame(
    "advertiseKeys",
    session,
    2,
    advertiseKeysFields({
      shareKey: new Uint8Array(keyLength),
      maskKey: new Uint8Array(pq ? 1216 : 32),
      commitment: h,
    }),
    signers[2],
    roster.mode,
  );
  const approval = await sealFrame(
    "approval",
    session,
    2,
    approvalFields({ u2Hash: h, u3Hash: h }),
    signers[2],
    roster.mode,
  );
  const cosign = await sealFrame(
    "cosign",
    session,
    2,
    cosignFields({ certificateHash: h }),
    signers[2],
    roster.mode,
  );
  // Opening and verifying one approval, as a member checking a relayed list does.
  const reps = pq ? 100 : 2000;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await verifyEnvelope(roster, openFrame(approval, roster));
  const verifyMs = (performance.now() - t0) / reps;
  return { advert: advert.length, approval: approval.length, cosign: cosign.length, verifyMs };
}

const classical = await sizes(false);
const pq = await sizes(true);

// ---- calibration from a measured simulated round ------------------------------------------
/** What a `deno task sim --json` report holds that the projection uses. */
interface SimJson {
  nodes: number;
  dim: number;
  threshold: number;
  survivors: number;
  graph: string;
  timings: {
    leader: Record<string, number>;
    members: Record<string, { total: number }>;
  };
}
const sim: SimJson | undefined = args.from
  ? JSON.parse(Deno.readTextFileSync(args.from).trim().split("\n").at(-1)!)
  : undefined;

console.log(
  `frames: advert ${classical.advert} B (pq ${pq.advert}), approval ${classical.approval} B ` +
    `(pq ${pq.approval}), co-signature ${classical.cosign} B (pq ${pq.cosign}); opening and ` +
    `verifying one approval ${classical.verifyMs.toFixed(3)} ms (pq ${pq.verifyMs.toFixed(3)})`,
);

// From the measured round: a member's O(k) work (advertise, share, masked, consistency) per
// neighbour; one approval check (its unmask stage checks ≥ t of them; the certificate's are
// cached); one co-signature check (final stage, t of them); the leader's work per member.
let perNeighbourMs: number | undefined;
let approvalMs = classical.verifyMs;
let cosignMs = classical.verifyMs;
let leaderPerMemberMs: number | undefined;
if (sim !== undefined && sim.dim !== d) {
  console.log(`the measured round has d = ${sim.dim}, not ${d}: CPU is not projected`);
}
if (sim !== undefined && sim.dim === d) {
  const k = Number(/k=(\d+)/.exec(sim.graph)![1]);
  const m = sim.timings.members;
  const own = ["advertise", "share", "masked", "consistency"]
    .reduce((a, s) => a + (m[s]?.total ?? 0), 0) / sim.nodes;
  perNeighbourMs = own / k;
  // Members check every relayed approval (≈ the survivors): take |U3| from the report.
  approvalMs = (m.unmask.total + m.publish.total) / (sim.nodes * sim.survivors);
  cosignMs = m.final.total / (sim.nodes * sim.threshold);
  const leader = Object.values(sim.timings.leader).reduce((a, b) => a + b, 0);
  leaderPerMemberMs = leader / sim.nodes;
  console.log(
    `calibration (simulated round, n = ${sim.nodes}, d = ${sim.dim}, ${sim.graph}): a member's ` +
      `own work ${fmtS(own)} (${fmtS(perNeighbourMs)} per neighbour); an approval check ` +
      `(unmask request and certificate) ${approvalMs.toFixed(3)} ms, a co-signature check ` +
      `${cosignMs.toFixed(3)} ms; the leader ${fmtS(leaderPerMemberMs)} per member`,
  );
}

console.log(
  `\nd = ${d}, γ = ${gamma}, δ = ${delta}, leader link ${gbps} Gbit/s; "now" = without a ` +
    `committee (every member gets and checks every approval, twice, and t co-signatures), ` +
    `"committee" = with the approval committee of docs/protocol.md §3 (s committee approvals ` +
    `and co-signatures; lists counted as bitmaps, which are not built yet)`,
);
console.log(
  "        n      k   t_k        t      s   t_C   member B now   member B cmte   leader B now   leader B cmte   link time cmte   member CPU now   member CPU cmte   leader CPU",
);
for (const n of [1_000, 10_000, 100_000, 1_000_000]) {
  const p = secAggPlusParameters({ n, corruptFraction: gamma, dropoutFraction: delta });
  const t = defaultThreshold(n);
  const { s, tc } = committee(n, p.corrupt, p.dropouts);
  const k = p.degree;
  const vector = 4 * (d + 1);
  const entry = 100; // a classical share entry (sealed shares, index), measured ≈ 100 B
  const listNow = 6 * 3 * n; // six member lists a round, ≈ 3 bytes an index
  const listBitmap = 6 * Math.ceil(n / 8);
  const base = vector + (k + 1) * classical.advert + k * entry;
  // The leader relays every approval it got (≈ n − D), in the unmask request and the certificate.
  const approvers = n - p.dropouts;
  const memberNow = base + listNow + 2 * approvers * classical.approval;
  const memberCmte = base + listBitmap + 2 * s * classical.approval;
  const cpuNow = perNeighbourMs === undefined
    ? NaN
    : k * perNeighbourMs + approvers * approvalMs + t * cosignMs;
  const cpuCmte = perNeighbourMs === undefined
    ? NaN
    : k * perNeighbourMs + s * (approvalMs + cosignMs);
  const leaderCpu = leaderPerMemberMs === undefined ? NaN : n * leaderPerMemberMs;
  console.log(
    [
      String(n).padStart(9),
      String(k).padStart(6),
      String(p.threshold).padStart(5),
      String(t).padStart(8),
      String(s).padStart(6),
      String(tc).padStart(5),
      fmtB(memberNow).padStart(14),
      fmtB(memberCmte).padStart(15),
      fmtB(n * memberNow).padStart(14),
      fmtB(n * memberCmte).padStart(15),
      fmtS((n * memberCmte * 8) / (gbps * 1e9) * 1e3).padStart(16),
      fmtS(cpuNow).padStart(16),
      fmtS(cpuCmte).padStart(17),
      fmtS(leaderCpu).padStart(12),
    ].join(" "),
  );
}
