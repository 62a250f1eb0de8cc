/**
 * `deno task crash`: crash-injection runs. SIGKILLs one node of a local federation of real
 * `fedagg run` processes at each crash point of a round (every journal write, before its rename
 * and after its directory sync, and every frame this node sends; for a plain member and for the
 * round's leader), restarts it, lets the round end and checks that each acknowledged update ends
 * up in exactly one certified aggregate or in an explicit `round-failed` of its node: nothing
 * silently lost, nothing counted twice, no process left behind (`scripts/crash/crash_run.ts`).
 *
 * ```
 * deno task crash [--seed S] [--points all|N] [--role member|leader|both] [--only P#n,…] [--json]
 * ```
 *
 * The points come from a reference round run first with `FEDAGG_CRASH_LOG` (so the list is what
 * the code passes through today); the run refuses to go on if a file in the journal was written
 * without its crash points. `--points N` runs a seeded sample of N of them.
 *
 * Prints one line per point and a summary; with `--json` the last line is one JSON object. Exits
 * 1 if any point breaks the invariant (SILENT-LOSS, stall, COUNTED-AND-FAILED, a bad certificate,
 * a point never hit, a process left behind), 2 on bad options.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import {
  type CrashPointSpec,
  type CrashSettings,
  DEFAULT_SETTINGS,
  enumeratePoints,
  type PointResult,
  runCrashPoint,
  samplePoints,
  stopRunning,
  VIOLATIONS,
} from "./crash/crash_run.ts";

const USAGE = `Usage: deno task crash [options]

  --seed S           seed of the updates, of the armed member and of --points N (default 1)
  --points all|N     every crash point (default), or a seeded sample of N
  --role R           member, leader or both (default both)
  --only P#n,...     only these points (e.g. send:shareKeys#1), for the chosen roles
  --nodes N          members (default 4)
  --dim D            update length (default 64)
  --stage-timeout MS leader's stage timeout (default 1000; advertise and view timeouts 2.5×)
  --settle MS        how long a round may take to settle after the restart (default 30000)
  --out DIR          where each run's federation and logs go (default: a temp dir)
  --json             print one JSON object as the last line
`;

const args = parseArgs(Deno.args, {
  string: ["seed", "points", "role", "only", "nodes", "dim", "stage-timeout", "settle", "out"],
  boolean: ["json", "help"],
  default: { seed: "1", points: "all", role: "both" },
  unknown: (flag: string) => {
    console.error(`crash: unknown option ${flag}\n\n${USAGE}`);
    Deno.exit(2);
  },
});
if (args.help) {
  console.log(USAGE);
  Deno.exit(0);
}
function int(v: string | undefined, name: string, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`crash: --${name} must be an integer ≥ ${min}, got ${v}`);
    Deno.exit(2);
  }
  return n;
}
if (!["member", "leader", "both"].includes(args.role)) {
  console.error(`crash: --role must be member, leader or both, got ${args.role}`);
  Deno.exit(2);
}
if (args.points !== "all") int(args.points, "points", 1, 0);
const settings: CrashSettings = {
  nodes: int(args.nodes, "nodes", 3, DEFAULT_SETTINGS.nodes),
  dim: int(args.dim, "dim", 1, DEFAULT_SETTINGS.dim),
  stageTimeoutMs: int(args["stage-timeout"], "stage-timeout", 100, DEFAULT_SETTINGS.stageTimeoutMs),
  seed: int(args.seed, "seed", 0, DEFAULT_SETTINGS.seed),
  settleMs: int(args.settle, "settle", 1000, DEFAULT_SETTINGS.settleMs),
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await stopRunning();
    Deno.exit(130);
  });
}
const OUT = args.out ?? await Deno.makeTempDir({ prefix: "fedagg-crash-" });
const say = (s: string) => (args.json ? console.error(s) : console.log(s));

say(
  `fedagg crash: ${settings.nodes} nodes, d = ${settings.dim}, stage timeout ` +
    `${settings.stageTimeoutMs} ms, seed ${settings.seed}, in ${OUT}`,
);
const list = await enumeratePoints(`${OUT}/reference`, settings).catch((err) => {
  say(`reference round failed (${err}); once more on a new federation`);
  return enumeratePoints(`${OUT}/reference-retry`, settings);
});
if (list.unhooked.length > 0) {
  say(`journal files written without crash points:\n  ${list.unhooked.join("\n  ")}`);
  Deno.exit(1);
}
const roles = args.role === "both" ? ["member", "leader"] as const : [args.role as "member"];
let points: CrashPointSpec[] = roles.flatMap((r) => list[r]);
const journalPoints = (ps: readonly CrashPointSpec[]) =>
  new Set(ps.filter((p) => p.point.startsWith("journal:")).map((p) => `${p.role} ${p.point}`));
const allJournal = journalPoints(points);
say(
  `reference round: ${list.member.length} points on a member, ${list.leader.length} on the ` +
    `leader (${allJournal.size} journal write points); every journal file is hooked`,
);
if (args.only !== undefined) {
  const wanted = new Set(
    (args.only as string).split(",").map((p: string) => p.includes("#") ? p : `${p}#1`),
  );
  points = points.filter((p) => wanted.has(`${p.point}#${p.nth}`));
  if (points.length === 0) {
    say(`crash: none of ${args.only} is a point of the chosen roles`);
    Deno.exit(2);
  }
}
if (args.points !== "all") points = samplePoints(points, Number(args.points), settings.seed);

const results: PointResult[] = [];
let k = 0;
for (const p of points) {
  k++;
  const dir = `${OUT}/${String(k).padStart(3, "0")}-${p.role}-${
    p.point.replace(/:/g, "_")
  }-${p.nth}`;
  const r = await runCrashPoint(dir, p, settings);
  results.push(r);
  const lost = r.updates.filter((u) => VIOLATIONS.has(u.outcome)).map((u) => u.node);
  say(
    `${String(k).padStart(3)}/${points.length} ${r.role.padEnd(6)} ${r.name.padEnd(40)} ` +
      `${r.outcome.padEnd(18)} ${(r.latencyMs / 1000).toFixed(1).padStart(6)} s` +
      (r.final ? `  final view ${r.final.view} [${r.final.members.join(" ")}]` : "  no final") +
      (lost.length > 0 ? `  (${lost.join(", ")})` : "") +
      (r.notes.length > 0 ? `\n      ${r.notes.join("\n      ")}` : ""),
  );
}

const bad = results.filter((r) => VIOLATIONS.has(r.outcome));
const covered = journalPoints(results);
const count = (o: string) => results.filter((r) => r.outcome === o).length;
const summary = {
  ok: bad.length === 0,
  seed: settings.seed,
  points: results.length,
  journalPointsCovered: covered.size,
  journalPointsTotal: allJournal.size,
  outcomes: Object.fromEntries(
    [...new Set(results.map((r) => r.outcome))].map((o) => [o, count(o)]),
  ),
  failing: bad.map((r) => `${r.role} ${r.name}: ${r.outcome}`),
  out: OUT,
  results,
};
say(
  `\n${results.length} crash points run; journal write points covered ${covered.size} of ` +
    `${allJournal.size}; outcomes: ${
      Object.entries(summary.outcomes).map(([o, n]) => `${o} ${n}`).join(", ")
    }`,
);
say(bad.length === 0 ? "no acknowledged update lost or counted twice" : "CRASH RUN FAILED:");
for (const f of summary.failing) say(`  ${f}`);
if (args.json) console.log(JSON.stringify(summary));
Deno.exit(bad.length === 0 ? 0 : 1);
