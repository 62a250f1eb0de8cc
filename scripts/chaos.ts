/**
 * `deno task chaos`: rounds on a local federation of real `fedagg run` processes with seeded
 * faults — members and the round's leader killed (SIGKILL) and restarted, frozen (SIGSTOP) and
 * continued (SIGCONT), or submitting well after the others, at random moments — as a
 * measurement: each round is completed (final certificate verified, aggregate exact, every node
 * agreeing), failed (every node whose update is not certified said round-failed) or STALLED
 * (an acknowledged update neither certified nor failed within the stall bound), with its
 * latency (`scripts/chaos/chaos_run.ts`).
 *
 * ```
 * deno task chaos [--nodes 6] [--rounds 30] [--seed S] [--dim D] [--stage-timeout MS] [--json]
 * ```
 *
 * Prints one line per round and a summary (counts, latency percentiles); with `--json` the last
 * line is one JSON object. Exits 1 if any round stalled, was wrong or could not be run, or a
 * process was left behind; 2 on bad options.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import {
  chaosTimeouts,
  type RoundResult,
  runChaos,
  stallBoundMs,
  stopRunning,
} from "./chaos/chaos_run.ts";

const USAGE = `Usage: deno task chaos [options]

  --nodes N          members (default 6, at least 4)
  --rounds R         rounds, numbered 0 … R − 1 (default 30)
  --seed S           seed of the faults and of the updates (default 1)
  --dim D            update length (default 1000)
  --stage-timeout MS leader's stage timeout (default 2000; submission deadline and view
                     timeout 2.5× this)
  --stall-bound MS   how long after a round's last fault an update may stay unresolved before
                     the round counts as STALLED (default n × (advertise + view timeout)
                     + 2 × view timeout + 10 s)
  --out DIR          where the federation, results and logs go (default: a temp dir)
  --json             print one JSON object as the last line
`;

const args = parseArgs(Deno.args, {
  string: ["nodes", "rounds", "seed", "dim", "stage-timeout", "stall-bound", "out"],
  boolean: ["json", "help"],
  default: { nodes: "6", rounds: "30", seed: "1", dim: "1000", "stage-timeout": "2000" },
  unknown: (flag: string) => {
    console.error(`chaos: unknown option ${flag}\n\n${USAGE}`);
    Deno.exit(2);
  },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}
function int(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`chaos: --${name} must be an integer ≥ ${min}, got ${v}`);
    Deno.exit(2);
  }
  return n;
}
const nodes = int(args.nodes, "nodes", 4)!;
const stageTimeoutMs = int(args["stage-timeout"], "stage-timeout", 100)!;
const OUT = args.out ?? await Deno.makeTempDir({ prefix: "fedagg-chaos-" });
const say = (s: string) => (args.json ? console.error(s) : console.log(s));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await stopRunning();
    Deno.exit(130);
  });
}

const line = (r: RoundResult) =>
  `round ${String(r.round).padStart(3)}  ${r.outcome.padEnd(9)} ${
    r.latencyMs === null ? "      —" : `${(r.latencyMs / 1000).toFixed(1).padStart(6)} s`
  }  ${r.final ? `view ${r.final.view} [${r.final.members.join(" ")}]` : "no final"}  faults: ${
    r.faults.join("; ")
  }` + (r.notes.length > 0 ? `\n      ${r.notes.join("\n      ")}` : "");

const settings = {
  nodes,
  rounds: int(args.rounds, "rounds", 1)!,
  seed: int(args.seed, "seed", 0)!,
  dim: int(args.dim, "dim", 1)!,
  stageTimeoutMs,
  stallBoundMs: int(args["stall-bound"], "stall-bound", 1000) ??
    stallBoundMs(nodes, chaosTimeouts(stageTimeoutMs)),
};
say(
  `fedagg chaos: ${settings.nodes} nodes, ${settings.rounds} rounds, seed ${settings.seed}, ` +
    `d = ${settings.dim}, stage timeout ${settings.stageTimeoutMs} ms, in ${OUT}`,
);
// Each round's result as a JSON line too, so an interrupted run leaves its figures behind.
await Deno.mkdir(OUT, { recursive: true });
const progress = await Deno.open(`${OUT}/rounds.jsonl`, { create: true, append: true });
const result = await runChaos(OUT, {
  ...settings,
  say,
  onRound: (r) => {
    say(line(r));
    progress.writeSync(new TextEncoder().encode(JSON.stringify(r) + "\n"));
  },
});
progress.close();
const pct = (p: typeof result.latency.completed) =>
  p === null
    ? "—"
    : `n ${p.n}, p50 ${(p.p50 / 1000).toFixed(1)} s, p90 ${(p.p90 / 1000).toFixed(1)} s, max ${
      (p.max / 1000).toFixed(1)
    } s`;
say(
  `\n${result.rounds.length} rounds: ${
    Object.entries(result.counts).map(([o, n]) => `${o} ${n}`).join(", ")
  }\nlatency of completed rounds: ${pct(result.latency.completed)}\nlatency of failed rounds: ${
    pct(result.latency.failed)
  }`,
);
for (const n of result.notes) say(n);
say(result.ok ? "no round stalled or wrong; no process left behind" : "CHAOS RUN FAILED");
if (args.json) console.log(JSON.stringify(result));
Deno.exit(result.ok ? 0 : 1);
