/**
 * `deno task bench:round`: where a real round's time goes, stage by stage and process by
 * process, from the nodes' own logs and metrics, against the round's floor.
 *
 * ```
 * deno task bench:round [--nodes 12] [--dim 1000000] [--rounds 3] [--out DIR] [--json]
 *                        [--cpu-prof DIR]
 * ```
 *
 * Runs a local federation (real `fedagg run` processes on loopback, `--log-level debug`, no
 * faults, a 20 s stage timeout) and, for every round:
 *
 * - **phases** from the leader's `stage` log lines: from the first submission to the leader's
 *   first advert (`submit`: uploads, journaling, quantizing, the adverts' way), then each leader
 *   stage, then from the certificate (`publish`) to the last member's final certificate;
 * - **protocol time** from each node's `protocol input` log lines: the wall time inside the
 *   protocol core's calls (mask expansion on workers included), the process CPU time during
 *   them, and the time handling their outputs (journal writes, events, gossip), each placed in
 *   the phase it started in;
 * - **process CPU** from `/proc/PID/stat` (user + system, all threads) before and after;
 * - **memory**: the leader's peak RSS, JavaScript heap and off-heap (ArrayBuffer) bytes.
 *
 * The floor is what the round needs at the least on this machine: the protocol's CPU time summed
 * over every process divided by the cores, plus the bytes the members sent through libp2p at the
 * loopback throughput of one mesh stream, measured first in the same run
 * (`testnet/mesh_throughput.ts`). The machine is shared: run it more than once and compare
 * medians.
 *
 * With `--cpu-prof DIR`, every node runs under `deno run --cpu-prof` and writes a V8 CPU profile
 * (`.cpuprofile`, one per isolate, the mask workers' included) into `DIR/node-K/` when it stops;
 * `scripts/cpu_profile_self.py` sums their self time by function. Profiling costs CPU: the
 * round times of such a run are not comparable to a run without it.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { leaderOf } from "../protocol/mod.ts";
import { LocalNet, type LocalNode, syntheticInputs, waitFor } from "./testnet/local_net.ts";
import { meshThroughput } from "./testnet/mesh_throughput.ts";

const args = parseArgs(Deno.args, {
  string: ["nodes", "dim", "rounds", "out", "cpu-prof"],
  boolean: ["json", "help"],
  default: { nodes: "12", dim: "1000000", rounds: "3" },
});
if (args.help) {
  console.log(
    "Usage: deno task bench:round [--nodes N] [--dim D] [--rounds R] [--out DIR] [--json]" +
      " [--cpu-prof DIR]",
  );
  Deno.exit(0);
}
const N = Number(args.nodes);
const DIM = Number(args.dim);
const ROUNDS = Number(args.rounds);
const CORES = navigator.hardwareConcurrency;
const OUT = args.out ?? await Deno.makeTempDir({ prefix: "fedagg-breakdown-" });
const say = (s: string) => (args.json ? console.error(s) : console.log(s));

/** CPU seconds (user + system, all threads) of a process so far; NaN where /proc is missing. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the command: state is field 3, utime 14 and stime 15 (1-based, man proc).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

interface LogLine {
  t: number;
  msg: string;
  role?: string;
  round?: number;
  stage?: string;
  what?: string;
  protocolMs?: number;
  cpuMs?: number;
  outputsMs?: number;
}

async function readLog(node: LocalNode): Promise<LogLine[]> {
  const text = await Deno.readTextFile(`${node.dir}/node.log`);
  const out: LogLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const o = JSON.parse(line);
      if (o.msg === "stage" || o.msg === "protocol input") out.push({ ...o, t: Date.parse(o.t) });
    } catch {
      // not ours
    }
  }
  return out;
}

interface Phase {
  name: string;
  wallMs: number;
  leaderProtocolMs: number;
  leaderCpuMs: number;
  leaderOutputsMs: number;
  membersProtocolMs: number;
  maxMemberProtocolMs: number;
  /** The most any member spent handling outputs (journal writes, gossip) in the phase. */
  maxMemberOutputsMs: number;
}

interface ProcessRow {
  node: string;
  leader: boolean;
  cpuS: number;
  protocolS: number;
  protocolCpuS: number;
  outputsS: number;
  sentBytes: number;
}

interface RoundRow {
  round: number;
  leader: string;
  latencyS: number;
  submitS: number;
  phases: Phase[];
  processes: ProcessRow[];
  cpuS: number;
  protocolS: number;
  protocolCpuS: number;
  outputsS: number;
  bytesSent: number;
  floorS: number;
  floorCpuS: number;
  floorBytesS: number;
  leaderPeakRssBytes: number;
  leaderPeakHeapUsedBytes: number;
  leaderPeakExternalBytes: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

say(`loopback throughput of one mesh stream (16 MiB frames, median of 3) ...`);
const loopback = await meshThroughput(16 << 20, 3);
say(`  ${(loopback.bytesPerSec / 1e6).toFixed(1)} MB/s`);

say(`fedagg round breakdown: ${N} nodes, d = ${DIM}, ${ROUNDS} rounds, in ${OUT}`);
const net = await LocalNet.create(OUT, N, {
  dim: DIM,
  maxWeight: 100,
  stageTimeoutMs: 20_000,
  advertiseTimeoutMs: 25_000,
  viewTimeoutMs: 50_000,
});
const rows: RoundRow[] = [];
const windows: { round: number; start: number; end: number; cpu: number[][] }[] = [];
let idleRss: number[] = [];
try {
  const profDir = args["cpu-prof"];
  await Promise.all(net.nodes.map((n) =>
    net.start(n, {
      args: ["--log-level", "debug"],
      denoFlags: profDir === undefined
        ? []
        : ["--cpu-prof", "--cpu-prof-interval=4000", `--cpu-prof-dir=${profDir}/${n.name}`],
    })
  ));
  await Promise.all(net.nodes.map((n) => net.connected(n, 180_000)));
  idleRss = (await Promise.all(net.nodes.map((n) => net.status(n)))).map((s) =>
    s?.peakRssBytes ?? NaN
  );
  say(`all ${N} nodes up; idle peak RSS median ${(median(idleRss) / 1e6).toFixed(0)} MB`);
  for (let round = 0; round < ROUNDS; round++) {
    const { values, weights } = syntheticInputs("breakdown", 1, round, N, DIM);
    const before = await Promise.all(net.nodes.map((n) => net.status(n)));
    const cpu0 = net.nodes.map((n) => cpuSeconds(n.child?.pid));
    const start = Date.now();
    const t0 = performance.now();
    let submitted = 0;
    await Promise.all(net.roster.members.map(async (_, i) => {
      const r = await net.submitUpdate(net.node(i), round, values[i], weights[i]);
      if (r?.status !== 202) throw new Error(`node ${i} refused the update: ${r?.text}`);
      submitted = Math.max(submitted, performance.now() - t0);
    }));
    await Promise.all(
      net.nodes.map((n) =>
        waitFor(`round ${round} final at ${n.name}`, async () => {
          const s = await net.status(n);
          return s?.lastFinalRound !== undefined && s.lastFinalRound !== null &&
              s.lastFinalRound >= round
            ? true
            : undefined;
        }, 300_000)
      ),
    );
    const latencyS = (performance.now() - t0) / 1000;
    const end = Date.now();
    const cpu1 = net.nodes.map((n) => cpuSeconds(n.child?.pid));
    const after = await Promise.all(net.nodes.map((n) => net.status(n)));
    const leaderIndex = leaderOf(net.roster, round, 0);
    const leader = net.node(leaderIndex);
    const ls = after[net.nodes.indexOf(leader)];
    windows.push({ round, start, end, cpu: [cpu0, cpu1] });
    rows.push({
      round,
      leader: leader.name,
      latencyS,
      submitS: submitted / 1000,
      phases: [],
      processes: net.nodes.map((n, k) => ({
        node: n.name,
        leader: n === leader,
        cpuS: cpu1[k] - cpu0[k],
        protocolS: 0,
        protocolCpuS: 0,
        outputsS: 0,
        sentBytes: (after[k]?.traffic.bytesSent ?? 0) - (before[k]?.traffic.bytesSent ?? 0),
      })),
      cpuS: 0,
      protocolS: 0,
      protocolCpuS: 0,
      outputsS: 0,
      bytesSent: 0,
      floorS: 0,
      floorCpuS: 0,
      floorBytesS: 0,
      leaderPeakRssBytes: ls?.peakRssBytes ?? NaN,
      leaderPeakHeapUsedBytes: ls?.peakHeapUsedBytes ?? NaN,
      leaderPeakExternalBytes: ls?.peakExternalBytes ?? NaN,
    });
    say(`round ${round}: ${latencyS.toFixed(2)} s (leader ${leader.name})`);
  }
} finally {
  // Writing a CPU profile at exit takes seconds when twelve processes do it at once.
  await net.stopAll(args["cpu-prof"] === undefined ? 5000 : 120_000);
}

// ---- the logs -----------------------------------------------------------------------------------

const logs = await Promise.all(net.nodes.map((n) => readLog(n)));
const STAGE_ORDER = ["advertise", "share", "masked", "consistency", "unmask", "publish"];
for (const [w, row] of windows.map((w, i) => [w, rows[i]] as const)) {
  const leaderK = net.nodes.findIndex((n) => n.name === row.leader);
  const entered = new Map<string, number>();
  for (const l of logs[leaderK]) {
    if (l.msg === "stage" && l.role === "leader" && l.round === w.round && l.stage !== undefined) {
      if (!entered.has(l.stage)) entered.set(l.stage, l.t);
    }
  }
  const lastFinal = Math.max(
    ...logs.map((ls) =>
      Math.max(
        ...ls.filter((l) => l.msg === "stage" && l.round === w.round && l.stage === "final")
          .map((l) => l.t),
      )
    ),
  );
  const bounds: { name: string; from: number }[] = [{ name: "submit", from: w.start }];
  for (const s of STAGE_ORDER) {
    const t = entered.get(s);
    if (t !== undefined) bounds.push({ name: s, from: t });
  }
  const stop = Number.isFinite(lastFinal) ? lastFinal : w.end;
  const phases: Phase[] = bounds.map((b, i) => ({
    name: b.name === "publish" ? "publish → all final" : b.name,
    wallMs: (i + 1 < bounds.length ? bounds[i + 1].from : stop) - b.from,
    leaderProtocolMs: 0,
    leaderCpuMs: 0,
    leaderOutputsMs: 0,
    membersProtocolMs: 0,
    maxMemberProtocolMs: 0,
    maxMemberOutputsMs: 0,
  }));
  const phaseOf = (t: number) => {
    let k = -1;
    for (let i = 0; i < bounds.length; i++) if (t >= bounds[i].from) k = i;
    return k;
  };
  logs.forEach((ls, k) => {
    const perPhase = new Array(phases.length).fill(0);
    const perPhaseOut = new Array(phases.length).fill(0);
    for (const l of ls) {
      if (l.msg !== "protocol input") continue;
      const took = (l.protocolMs ?? 0) + (l.outputsMs ?? 0);
      const began = l.t - took;
      if (began < w.start - 5 || l.t > w.end + 5) continue;
      row.processes[k].protocolS += (l.protocolMs ?? 0) / 1000;
      row.processes[k].protocolCpuS += (l.cpuMs ?? 0) / 1000;
      row.processes[k].outputsS += (l.outputsMs ?? 0) / 1000;
      const p = phaseOf(began);
      if (p < 0) continue;
      if (k === leaderK) {
        phases[p].leaderProtocolMs += l.protocolMs ?? 0;
        phases[p].leaderCpuMs += l.cpuMs ?? 0;
        phases[p].leaderOutputsMs += l.outputsMs ?? 0;
      } else {
        perPhase[p] += l.cpuMs ?? 0;
        perPhaseOut[p] += l.outputsMs ?? 0;
      }
    }
    if (k !== leaderK) {
      perPhase.forEach((ms, p) => {
        phases[p].membersProtocolMs += ms;
        phases[p].maxMemberProtocolMs = Math.max(phases[p].maxMemberProtocolMs, ms);
        phases[p].maxMemberOutputsMs = Math.max(phases[p].maxMemberOutputsMs, perPhaseOut[p]);
      });
    }
  });
  row.phases = phases;
  row.cpuS = row.processes.reduce((a, p) => a + p.cpuS, 0);
  row.protocolS = row.processes.reduce((a, p) => a + p.protocolS, 0);
  row.protocolCpuS = row.processes.reduce((a, p) => a + p.protocolCpuS, 0);
  row.outputsS = row.processes.reduce((a, p) => a + p.outputsS, 0);
  row.bytesSent = row.processes.reduce((a, p) => a + p.sentBytes, 0);
  row.floorCpuS = row.protocolCpuS / CORES;
  row.floorBytesS = row.bytesSent / loopback.bytesPerSec;
  row.floorS = row.floorCpuS + row.floorBytesS;
}

// ---- report -------------------------------------------------------------------------------------

const ms = (v: number) => v.toFixed(0).padStart(7);
for (const r of rows) {
  say(
    `\nround ${r.round} (leader ${r.leader}): ${r.latencyS.toFixed(2)} s; all uploads answered ` +
      `after ${r.submitS.toFixed(2)} s`,
  );
  say(
    "  phase                  wall ms   leader: protocol wall / CPU / outputs ms   members' " +
      "protocol CPU Σ / max ms, outputs max ms",
  );
  for (const p of r.phases) {
    say(
      `  ${p.name.padEnd(21)} ${ms(p.wallMs)}   ${ms(p.leaderProtocolMs)} / ${
        ms(p.leaderCpuMs)
      } / ${ms(p.leaderOutputsMs)}              ${ms(p.membersProtocolMs)} / ${
        ms(p.maxMemberProtocolMs)
      }, ${ms(p.maxMemberOutputsMs)}`,
    );
  }
  say("  process    CPU s  protocol wall s  protocol CPU s  outputs s  sent MB");
  for (const p of r.processes) {
    say(
      `  ${(p.node + (p.leader ? "*" : "")).padEnd(9)} ${p.cpuS.toFixed(2).padStart(6)} ${
        p.protocolS.toFixed(2).padStart(16)
      } ${p.protocolCpuS.toFixed(2).padStart(15)} ${p.outputsS.toFixed(2).padStart(10)} ${
        (p.sentBytes / 1e6).toFixed(1).padStart(8)
      }`,
    );
  }
  say(
    `  Σ process CPU ${r.cpuS.toFixed(2)} s, Σ protocol CPU ${r.protocolCpuS.toFixed(2)} s ` +
      `(wall ${r.protocolS.toFixed(2)} s, outputs ${r.outputsS.toFixed(2)} s), ${
        (r.bytesSent / 1e6).toFixed(1)
      } MB sent; floor ${r.floorS.toFixed(2)} s = protocol CPU / ${CORES} cores ${
        r.floorCpuS.toFixed(2)
      } s + bytes at ${(loopback.bytesPerSec / 1e6).toFixed(0)} MB/s ${
        r.floorBytesS.toFixed(2)
      } s; round / floor ${(r.latencyS / r.floorS).toFixed(1)}×; all-process CPU / ${CORES} cores ${
        (r.cpuS / CORES).toFixed(2)
      } s`,
  );
  say(
    `  leader peak RSS ${(r.leaderPeakRssBytes / 1e6).toFixed(0)} MB (idle ${
      (median(idleRss) / 1e6).toFixed(0)
    } MB), heap ${(r.leaderPeakHeapUsedBytes / 1e6).toFixed(0)} MB, off-heap ${
      (r.leaderPeakExternalBytes / 1e6).toFixed(0)
    } MB (peaks since start)`,
  );
}
if (args.json) {
  console.log(JSON.stringify({
    nodes: N,
    dim: DIM,
    cores: CORES,
    loopbackBytesPerSec: loopback.bytesPerSec,
    idleRssMedian: median(idleRss),
    rounds: rows,
  }));
}
Deno.exit(0);
