/**
 * `deno task bench [--quick] [--json]`: protocol-level benchmarks with baselines measured in the
 * same run, so figures are ratios and survive a noisy machine.
 *
 * Baselines: raw PRG throughput (ChaCha20 keystream into a 4 MiB vector, single thread) and
 * Uint32 addition throughput. Cases:
 *
 * - `member-masking`: one member's masking of d = 1M with 99 neighbours (1 self mask + 99 pair
 *   masks) against 100 raw 4 MiB PRG expansions (target ≤ 1.3×), inline and on Workers;
 * - `leader-unmask-complete`: the leader's whole unmask stage in a real simulated round, n = 100,
 *   d = 1M, 20 members dropped at the masked-input stage, complete graph (target ≤ 4 s);
 * - `leader-unmask-sparse`: the same with a SecAgg+ Harary graph of degree 16 (target ≤ 0.5 s);
 * - `pq-vs-classical`: a round with n = 50, d = 100k in both modes (target ≤ 1.5×), as total CPU
 *   (the sum of every endpoint call's time) and as critical path (per stage: leader + slowest
 *   member, what a deployment waits for); and, informative, the process CPU time of both runs
 *   (every thread, the simulator included), which a busy machine does not inflate.
 *
 * `--quick` runs fewer repetitions of the same cases. The JSON has `baseline` and `cases`, each
 * case with `seconds`, the ratio to its baseline and whether its target is met.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "@std/cli/parse-args";
import { applyMasks, type MaskTerm, prgFill, seededRng } from "../protocol/crypto/mod.ts";
import { WorkerExpander } from "../node/worker_expander.ts";
import { type SimReport, simulate } from "../protocol/sim/mod.ts";

const args = parseArgs(Deno.args, { boolean: ["quick", "json", "help"] });
if (args.help) {
  console.log("Usage: deno task bench [--quick] [--json]");
  Deno.exit(0);
}
const quick = args.quick;
const log = (s: string) => {
  if (!args.json) console.log(s);
  else console.error(s);
};

const WORDS = 1 << 20; // d = 1M coordinates, 4 MiB
const rng = seededRng(new Uint8Array(32).fill(9));

function seconds(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

function best(reps: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < reps; i++) min = Math.min(min, seconds(fn));
  return min;
}

// ---- baselines -------------------------------------------------------------------------------
const reps = quick ? 3 : 7;
const vector = new Uint32Array(WORDS);
const keys = Array.from({ length: 100 }, () => rng(32));
const prg100 = best(reps, () => {
  for (const k of keys) prgFill(k, vector);
});
const other = new Uint32Array(WORDS).fill(12345);
const add100 = best(reps, () => {
  for (let r = 0; r < 100; r++) for (let i = 0; i < WORDS; i++) vector[i] = vector[i] + other[i];
});
const baseline = {
  prgMBps: (100 * 4 * WORDS) / 1e6 / prg100,
  prg100x4MiBSeconds: prg100,
  addMBps: (100 * 4 * WORDS) / 1e6 / add100,
};
log(
  `baseline: PRG ${baseline.prgMBps.toFixed(0)} MB/s (100 × 4 MiB in ${prg100.toFixed(3)} s), ` +
    `Uint32 add ${baseline.addMBps.toFixed(0)} MB/s`,
);

interface Case {
  name: string;
  seconds: number;
  baseline: string;
  baselineSeconds: number;
  ratio: number;
  target: string;
  met: boolean;
  notes?: string;
  [extra: string]: unknown;
}
const cases: Case[] = [];

// ---- member masking ----------------------------------------------------------------------------
{
  const terms: MaskTerm[] = keys.map((key, i) => ({ key, negate: i > 0 && i % 2 === 0 }));
  const input = new Uint32Array(WORDS + 1).fill(77);
  const inline = best(reps, () => {
    const masked = new Uint32Array(input);
    applyMasks(masked, terms);
  });
  const workers = new WorkerExpander();
  let pooled = Infinity;
  for (let i = 0; i < reps; i++) {
    const masked = new Uint32Array(input);
    const t0 = performance.now();
    await workers.apply(masked, terms);
    pooled = Math.min(pooled, (performance.now() - t0) / 1000);
  }
  const poolSize = workers.size; // read before close(), which empties the pool
  workers.close();
  cases.push({
    name: "member-masking d=1M, 99 neighbours (inline, 1 thread)",
    seconds: inline,
    baseline: "100 raw PRG expansions of 4 MiB",
    baselineSeconds: prg100,
    ratio: inline / prg100,
    target: "≤ 1.3×",
    met: inline / prg100 <= 1.3,
  });
  cases.push({
    name: `member-masking d=1M, 99 neighbours (${poolSize} workers)`,
    seconds: pooled,
    baseline: "100 raw PRG expansions of 4 MiB",
    baselineSeconds: prg100,
    ratio: pooled / prg100,
    target: "≤ 1.3×",
    met: pooled / prg100 <= 1.3,
  });
  log(
    `member masking: inline ${inline.toFixed(3)} s (${(inline / prg100).toFixed(2)}×), ` +
      `workers ${pooled.toFixed(3)} s (${(pooled / prg100).toFixed(2)}×)`,
  );
}

// ---- leader unmask (real simulated rounds) -----------------------------------------------------
async function simulated(options: Parameters<typeof simulate>[0]): Promise<SimReport> {
  const expander = new WorkerExpander();
  try {
    return await simulate({ ...options, expander, clock: () => performance.now() });
  } finally {
    expander.close();
  }
}

for (const graph of ["complete", "sparse"] as const) {
  const t0 = performance.now();
  const report = await simulated({
    nodes: 100,
    dim: WORDS,
    dropout: 0.2,
    dropStage: "masked",
    graph,
    degree: graph === "sparse" ? 16 : undefined,
    seed: 11,
    pq: false,
    rounds: 1,
  });
  const round = report.rounds[0];
  const unmask = (round.timings.leader.unmask ?? NaN) / 1000;
  const survivors = round.survivors;
  const dropped = 100 - survivors;
  const degree = graph === "complete" ? 99 : 16;
  // PRG work the leader must do: one self mask per survivor, and per dropped member one pair
  // mask per surviving neighbour (≈ degree · survivors / (n − 1) for a sparse graph).
  const expansions = survivors + dropped * Math.round(degree * survivors / 99);
  const prgOnly = expansions * prg100 / 100;
  const target = graph === "complete" ? 4 : 0.5;
  cases.push({
    name: `leader-unmask n=100 d=1M 20 dropped at masked, ${report.graph}`,
    seconds: unmask,
    baseline: `${expansions} raw PRG expansions of 4 MiB on one thread`,
    baselineSeconds: prgOnly,
    ratio: unmask / prgOnly,
    target: `≤ ${target} s`,
    met: round.exact && unmask <= target,
    exact: round.exact,
    survivors,
    simulationSeconds: (performance.now() - t0) / 1000,
  });
  log(
    `leader unmask (${report.graph}): ${unmask.toFixed(3)} s for ~${expansions} expansions ` +
      `(${(unmask / prgOnly).toFixed(2)}× one-thread PRG), exact=${round.exact}`,
  );
}

// ---- post-quantum vs classical -------------------------------------------------------------------
async function pqVersusClassical(dim: number, rounds: number) {
  const run = async (pq: boolean) => {
    const cpu0 = process.cpuUsage();
    const r = await simulated({
      nodes: 50,
      dim,
      dropout: 0.1,
      dropStage: "masked",
      graph: "complete",
      seed: 5,
      pq,
      rounds,
    });
    // Every thread of this process (Worker expanders included) over the whole run: unlike the
    // per-call times below, it does not grow when other processes take the cores.
    const cpuUsed = process.cpuUsage(cpu0);
    const cpu = (cpuUsed.user + cpuUsed.system) / 1e6;
    // With several rounds, measure the last (caches and JIT warm).
    const round = r.rounds[r.rounds.length - 1];
    const stages = new Set([
      ...Object.keys(round.timings.leader),
      ...Object.keys(round.timings.members),
    ]);
    stages.delete("timeout");
    let total = 0;
    let critical = 0;
    for (const s of stages) {
      const l = round.timings.leader[s] ?? 0;
      const m = round.timings.members[s];
      total += l + (m?.total ?? 0);
      critical += l + (m?.max ?? 0);
    }
    return {
      total: total / 1000,
      critical: critical / 1000,
      cpu,
      exact: round.exact && round.verified,
    };
  };
  return { classical: await run(false), pq: await run(true) };
}

{
  const cases100k = await pqVersusClassical(100_000, quick ? 1 : 2);
  for (const metric of ["critical", "total"] as const) {
    const { classical, pq } = cases100k;
    const ratio = pq[metric] / classical[metric];
    cases.push({
      name: `pq-vs-classical n=50 d=100k (${
        metric === "critical" ? "critical path" : "total CPU"
      })`,
      seconds: pq[metric],
      baseline: "the same round in classical mode",
      baselineSeconds: classical[metric],
      ratio,
      target: "≤ 1.5×",
      met: ratio <= 1.5 && pq.exact && classical.exact,
    });
    log(
      `post-quantum vs classical, d=100k (${metric}): ${pq[metric].toFixed(3)} s vs ` +
        `${classical[metric].toFixed(3)} s = ${ratio.toFixed(2)}×`,
    );
  }
  {
    // Informative: the process CPU time of the same two runs (all their rounds, the simulator's
    // own bookkeeping included), a figure a busy machine does not inflate.
    const { classical, pq } = cases100k;
    const ratio = pq.cpu / classical.cpu;
    cases.push({
      name: "pq-vs-classical n=50 d=100k (process CPU, informative)",
      seconds: pq.cpu,
      baseline: "the same run in classical mode",
      baselineSeconds: classical.cpu,
      ratio,
      target: "none",
      met: pq.exact && classical.exact,
    });
    log(
      `post-quantum vs classical, d=100k (process CPU): ${pq.cpu.toFixed(3)} s vs ` +
        `${classical.cpu.toFixed(3)} s = ${ratio.toFixed(2)}×`,
    );
  }
  if (!quick) {
    // Informative: how the ratio moves when vector work dominates (no target).
    const { classical, pq } = await pqVersusClassical(WORDS, 1);
    const ratio = pq.critical / classical.critical;
    cases.push({
      name: "pq-vs-classical n=50 d=1M (critical path, informative)",
      seconds: pq.critical,
      baseline: "the same round in classical mode",
      baselineSeconds: classical.critical,
      ratio,
      target: "none",
      met: pq.exact && classical.exact,
    });
    log(`post-quantum vs classical, d=1M (critical): ${ratio.toFixed(2)}×`);
  }
}

const result = {
  quick,
  machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno, v8: Deno.version.v8 },
  baseline,
  cases,
};
if (args.json) {
  console.log(JSON.stringify(result));
} else {
  console.log("\ncase".padEnd(70) + "seconds   ratio  target   met");
  for (const c of cases) {
    console.log(
      `${c.name.padEnd(69)} ${c.seconds.toFixed(3).padStart(7)}  ${
        c.ratio.toFixed(2).padStart(6)
      }  ` +
        `${c.target.padEnd(8)} ${c.met ? "yes" : "NO"}`,
    );
  }
}
Deno.exit(0);
