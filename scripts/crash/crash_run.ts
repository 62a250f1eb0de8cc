/**
 * Crash-injection runs against a local federation of real `fedagg run` processes: the engine of
 * `deno task crash` (`scripts/crash.ts`) and of its seeded sample in the test suite.
 *
 * {@link enumeratePoints} runs one normal round with `FEDAGG_CRASH_LOG` set on every node
 * (`node/crash_point.ts`) and returns the crash points a plain member and the round's leader pass
 * through, as each logged them, so the list comes from the code as it is, not from a list kept by
 * hand; it also checks that every file the journal holds after the round was written through a
 * hooked write (both of its points were logged).
 *
 * {@link runCrashPoint} then, for one point: starts a fresh federation, arms one node (the round's
 * leader or a plain member) with `FEDAGG_CRASH_AT`, submits an update on every node (a 202 is an
 * acknowledgement), waits for the armed node to kill itself at the point (its crash log's last
 * line must be the point), restarts it without the variable (resubmitting, as a trainer would,
 * an update whose answer the crash swallowed: a 202 or a 409 `already-submitted` means the node
 * has it), lets the round run to its end and checks the invariant: each acknowledged update ends
 * up in exactly one certified aggregate (the final certificate, checked by `fedagg verify`, lists
 * its member once, every node holding a final certificate agrees on it, and the aggregate equals
 * the weighted mean of the listed members' inputs, so no input counts twice) or in an explicit
 * `round-failed` of its node for the round (seen on the node's `/v1/events` stream, or as its
 * `round failed` log line for events before the stream reconnected) — never both, never neither.
 *
 * @module
 */
import { defaultThreshold, labelledRng, leaderOf } from "../../protocol/mod.ts";
import {
  LocalNet,
  type LocalNode,
  type SyntheticInputs,
  syntheticInputs,
  waitFor,
} from "../testnet/local_net.ts";

/** Which node is armed: the leader of round 0's view 0, or a member that does not lead it. */
export type Role = "member" | "leader";

/** One crash point to inject: the `nth` hit of `point` on the node playing `role`. */
export interface CrashPointSpec {
  readonly role: Role;
  readonly point: string;
  readonly nth: number;
}

/** The federation each run uses. */
export interface CrashSettings {
  /** Members (default 4: t = 3 < n, so a round can finish without one member). */
  readonly nodes: number;
  readonly dim: number;
  /**
   * The leader's stage timeout; the submission (advertise) deadline and the view timeout are
   * 2.5× this (a generous deadline, so that a node merely slow under load is not late).
   */
  readonly stageTimeoutMs: number;
  /** Seeds the updates, their weights and which member is armed. */
  readonly seed: number;
  /** How long to wait for the armed node to die, then for the round to settle after restart. */
  readonly settleMs: number;
}

/** Defaults: a small federation with short timeouts. */
export const DEFAULT_SETTINGS: CrashSettings = {
  nodes: 4,
  dim: 64,
  stageTimeoutMs: 1000,
  seed: 1,
  settleMs: 30_000,
};

/**
 * What became of one node's update:
 * - `in-aggregate`: acknowledged and listed once by the final certificate;
 * - `round-failed`: acknowledged, not listed, and its node said `round-failed` for the round;
 * - `outcome-unknown`: acknowledged and committed, no final certificate anywhere, and its node
 *   said `outcome-unknown` (it cannot know whether the dead view was certified; signed abandon
 *   votes, issue 8, would end it): explicit, not silent, but unresolved — reported apart;
 * - `SILENT-LOSS`: acknowledged, a final certificate leaves it out, and its node said nothing;
 * - `stall`: acknowledged, and its node neither holds the final certificate nor said
 *   `round-failed` before the deadline (a certificate elsewhere that lists it does not help the
 *   trainer asking its own node: the note says so);
 * - `COUNTED-AND-FAILED`: listed by the certificate although its node said `round-failed` (a
 *   trainer that resubmits it elsewhere would have it counted twice);
 * - `unacknowledged`: the node never acknowledged it (not part of the invariant).
 */
export type UpdateOutcome =
  | "in-aggregate"
  | "round-failed"
  | "outcome-unknown"
  | "SILENT-LOSS"
  | "stall"
  | "COUNTED-AND-FAILED"
  | "unacknowledged";

/**
 * The outcome of a point: its worst update, or a failure of the run itself (`not-hit`: the armed
 * node never died at its point; `BAD-CERTIFICATE`: the final certificate does not verify, nodes
 * disagree on it, or its aggregate is not the mean of its members' inputs; `STRAY-PROCESS`: a
 * node process outlived the run; `ERROR`: the run could not be carried out, twice).
 */
export type PointOutcome =
  | UpdateOutcome
  | "not-hit"
  | "BAD-CERTIFICATE"
  | "STRAY-PROCESS"
  | "ERROR";

/** Outcomes that break the invariant (a run reporting one fails). */
export const VIOLATIONS: ReadonlySet<PointOutcome> = new Set<PointOutcome>([
  "SILENT-LOSS",
  "stall",
  "COUNTED-AND-FAILED",
  "not-hit",
  "BAD-CERTIFICATE",
  "STRAY-PROCESS",
  "ERROR",
]);

const SEVERITY: readonly PointOutcome[] = [
  "unacknowledged",
  "in-aggregate",
  "round-failed",
  "outcome-unknown",
  "stall",
  "SILENT-LOSS",
  "COUNTED-AND-FAILED",
  "BAD-CERTIFICATE",
  "not-hit",
  "STRAY-PROCESS",
  "ERROR",
];

/** One node's update in a run. */
export interface UpdateResult {
  readonly node: string;
  /** `202`, `409` (already-submitted on resubmission: the node has it) or false. */
  readonly acknowledged: "202" | "409" | false;
  readonly outcome: UpdateOutcome;
  /** The node's `round-failed` reasons for the round, if any. */
  readonly failed: readonly string[];
  /** Whether the node itself holds the final certificate at the end. */
  readonly holdsFinal: boolean;
}

/** The result of one crash point. */
export interface PointResult extends CrashPointSpec {
  /** `point#nth`. */
  readonly name: string;
  /** The armed node. */
  readonly target: string;
  readonly outcome: PointOutcome;
  readonly updates: readonly UpdateResult[];
  /** Submission to settled (every node final or failed), or to the deadline. */
  readonly latencyMs: number;
  /** The certified aggregate's view and members, if the round became final anywhere. */
  readonly final: { readonly view: number; readonly members: readonly string[] } | null;
  /** Observations beside the invariant (refusals, raw updates left behind, errors). */
  readonly notes: readonly string[];
  /** Where the run's files are. */
  readonly dir: string;
}

/** The points each role passes through in a normal round (`point#nth`, in order). */
export interface PointList {
  readonly member: readonly CrashPointSpec[];
  readonly leader: readonly CrashPointSpec[];
  /** Journal files found after the round with no logged write point (should be empty). */
  readonly unhooked: readonly string[];
}

const ROUND = 0;
const CRASH_LOG = "crash-points.log";
/** Federations with processes running (for {@link stopRunning}). */
const running = new Set<LocalNet>();

/** Stops every process of the runs in progress (for a harness interrupted by a signal). */
export async function stopRunning(): Promise<void> {
  await Promise.all([...running].map((net) => net.stopAll()));
}

function rosterParameters(s: CrashSettings) {
  return {
    dim: s.dim,
    maxWeight: 100,
    threshold: defaultThreshold(s.nodes),
    stageTimeoutMs: s.stageTimeoutMs,
    advertiseTimeoutMs: Math.round(2.5 * s.stageTimeoutMs),
    viewTimeoutMs: Math.round(2.5 * s.stageTimeoutMs),
  };
}

/** The seeded updates and weights of the run, one per roster index. */
function inputs(s: CrashSettings): SyntheticInputs {
  return syntheticInputs("crash", s.seed, ROUND, s.nodes, s.dim);
}

/** The roster index armed for `role`: the leader of view 0, or a seeded other member. */
function armedIndex(net: LocalNet, role: Role, seed: number): number {
  const leader = leaderOf(net.roster, ROUND, 0);
  if (role === "leader") return leader;
  const others = net.roster.members.map((_, i) => i).filter((i) => i !== leader);
  return others[labelledRng("crash-armed", seed, ROUND)(1)[0] % others.length];
}

type Submission = "202" | "409" | false;

async function submit(
  net: LocalNet,
  index: number,
  values: Float32Array,
  weight: number,
): Promise<Submission> {
  const answer = await net.submitUpdate(net.node(index), ROUND, values, weight);
  if (answer?.status === 202) return "202";
  if (answer?.status === 409 && answer.text.includes("already-submitted")) return "409";
  return false; // refused otherwise, or the node died before answering
}

async function readLines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

/** What a node's log says: `round failed` reasons for the round, refusals, errors. */
export async function readLog(
  node: LocalNode,
): Promise<{ failed: string[]; unknown: string[]; notes: string[] }> {
  const failed: string[] = [];
  const unknown: string[] = [];
  const refusals = new Map<string, number>();
  const notes: string[] = [];
  for (const line of await readLines(`${node.dir}/node.log`)) {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
    } catch {
      if (/error|uncaught/i.test(line)) notes.push(`${node.name}: ${line.slice(0, 160)}`);
      continue;
    }
    if (entry.msg === "round failed" && entry.round === ROUND) {
      // A leader session's failure is not the end of this node's own update.
      if (entry.role === undefined || entry.role === "participant") {
        failed.push(String(entry.reason));
      }
    } else if (
      String(entry.msg).startsWith("round outcome unknown") && entry.round === ROUND
    ) unknown.push(String(entry.reason));
    else if (entry.msg === "refused") {
      const key = String(entry.code);
      refusals.set(key, (refusals.get(key) ?? 0) + 1);
    } else if (entry.level === "error" || /lost|giving up|gave up/i.test(String(entry.msg))) {
      notes.push(
        `${node.name}: ${entry.msg}${entry.round !== undefined ? ` (round ${entry.round})` : ""}`,
      );
    }
  }
  if (refusals.size > 0) {
    notes.push(
      `${node.name} refused ${[...refusals].map(([code, n]) => `${code}×${n}`).join(", ")}`,
    );
  }
  return { failed, unknown, notes };
}

async function startAll(net: LocalNet, env: (n: LocalNode) => Record<string, string>) {
  running.add(net);
  await Promise.all(net.nodes.map((n) => net.start(n, { env: env(n) })));
  await Promise.all(net.nodes.map((n) => net.connected(n)));
}

async function stopAll(net: LocalNet, notes: string[]): Promise<number[]> {
  await net.stopAll();
  running.delete(net);
  const strays = await net.strays();
  if (strays.length > 0) notes.push(`processes left behind: ${strays.join(", ")}`);
  return strays;
}

/**
 * Runs one normal round on a fresh federation in `dir` with every node logging its crash points,
 * and returns the points the leader of view 0 and a (seeded) plain member passed through from
 * submission on (`journal:` and `send:` points: the journal writes and frame sends of a round).
 * Throws if the round does not become final everywhere.
 */
export async function enumeratePoints(dir: string, s: CrashSettings): Promise<PointList> {
  const net = await LocalNet.create(dir, s.nodes, rosterParameters(s));
  const notes: string[] = [];
  let points: PointList;
  let strays: number[] = [];
  try {
    await startAll(net, (n) => ({ FEDAGG_CRASH_LOG: `${n.dir}/${CRASH_LOG}` }));
    const { values, weights } = inputs(s);
    const acks = await Promise.all(
      net.roster.members.map((_, i) => submit(net, i, values[i], weights[i])),
    );
    if (!acks.every((a) => a === "202")) throw new Error("the reference round refused an update");
    await Promise.all(net.nodes.map((n) => finalAt(net, n, s.settleMs)));
    const list = async (index: number, role: Role): Promise<CrashPointSpec[]> =>
      (await readLines(`${net.node(index).dir}/${CRASH_LOG}`))
        .filter((l) => l.startsWith("journal:") || l.startsWith("send:"))
        .map((l) => {
          const [point, nth] = l.split("#");
          return { role, point, nth: Number(nth) };
        });
    const member = await list(armedIndex(net, "member", s.seed), "member");
    const leader = await list(armedIndex(net, "leader", s.seed), "leader");
    const unhooked: string[] = [];
    for (const n of net.nodes) {
      const logged = new Set(await readLines(`${n.dir}/${CRASH_LOG}`));
      for await (const e of Deno.readDir(`${n.dir}/journal/round-${ROUND}`)) {
        for (const moment of ["before-rename", "after-sync"]) {
          if (!logged.has(`journal:${e.name}:${moment}#1`)) {
            unhooked.push(`${n.name}: journal/round-${ROUND}/${e.name} (${moment})`);
          }
        }
      }
    }
    points = { member, leader, unhooked };
  } finally {
    strays = await stopAll(net, notes);
  }
  if (strays.length > 0) throw new Error(notes.join("; "));
  return points;
}

function finalAt(net: LocalNet, node: LocalNode, ms: number): Promise<true> {
  return waitFor(`round ${ROUND} to be final at ${node.name}`, async () => {
    const st = await net.status(node);
    return st?.lastFinalRound != null && st.lastFinalRound >= ROUND ? true : undefined;
  }, ms);
}

/**
 * Runs one crash point on a fresh federation in `dir` (see the module doc). A run that throws
 * (the harness's own trouble, e.g. a node that cannot bind the port it was given because another
 * process took it meanwhile) is run once more on a new federation in `dir-retry`; a second
 * failure is the outcome `ERROR`, with the reason in the notes.
 */
export async function runCrashPoint(
  dir: string,
  spec: CrashPointSpec,
  s: CrashSettings,
): Promise<PointResult> {
  let first: unknown;
  try {
    return await runOnce(dir, spec, s);
  } catch (err) {
    first = err;
  }
  try {
    const r = await runOnce(`${dir}-retry`, spec, s);
    return { ...r, notes: [`first attempt failed: ${String(first)}`, ...r.notes] };
  } catch (err) {
    return {
      ...spec,
      name: `${spec.point}#${spec.nth}`,
      target: "",
      outcome: "ERROR",
      updates: [],
      latencyMs: 0,
      final: null,
      notes: [`both attempts failed: ${String(first)}; ${String(err)}`],
      dir,
    };
  }
}

async function runOnce(
  dir: string,
  spec: CrashPointSpec,
  s: CrashSettings,
): Promise<PointResult> {
  const name = `${spec.point}#${spec.nth}`;
  const net = await LocalNet.create(dir, s.nodes, rosterParameters(s));
  const armed = net.node(armedIndex(net, spec.role, s.seed));
  const notes: string[] = [];
  const failedSeen = new Map<string, string[]>(net.nodes.map((n) => [n.id, []]));
  const unfollow: (() => void)[] = [];
  const started = performance.now();
  let latencyMs = 0;
  const result = (
    outcome: PointOutcome,
    updates: UpdateResult[] = [],
    final: PointResult["final"] = null,
  ): PointResult => ({
    ...spec,
    name,
    target: armed.name,
    outcome,
    updates,
    latencyMs: latencyMs || performance.now() - started,
    final,
    notes,
    dir,
  });
  const run = async (): Promise<PointResult> => {
    // Every node logs its points (for the record); only the armed one crashes at one.
    await startAll(net, (n) => ({
      FEDAGG_CRASH_LOG: `${n.dir}/${CRASH_LOG}`,
      ...(n === armed ? { FEDAGG_CRASH_AT: name } : {}),
    }));
    for (const n of net.nodes) {
      unfollow.push(net.follow(n, (type, data) => {
        if (type === "round-failed" && data.round === ROUND) {
          failedSeen.get(n.id)!.push(String(data.reason));
        }
      }));
    }
    const { values, weights } = inputs(s);
    const died = net.exited(armed);
    const submitted = performance.now();
    const acks: Submission[] = await Promise.all(
      net.roster.members.map((_, i) => submit(net, i, values[i], weights[i])),
    );
    // The armed node dies at its point, or the round ends without passing it.
    const armedIdx = net.index(armed);
    const outcome = await Promise.race([
      died.then(() => "died" as const),
      Promise.all(net.nodes.map((n) => finalAt(net, n, s.settleMs)))
        .then(() => "done" as const, () => "deadline" as const),
    ]);
    if (outcome !== "died") {
      notes.push(`${armed.name} never crashed at ${name}`);
      return result("not-hit");
    }
    // Killed by its own SIGKILL right after logging the point, not by anything else.
    const st = await died;
    const last = (await readLines(`${armed.dir}/${CRASH_LOG}`)).at(-1);
    if (last !== name || st?.signal !== "SIGKILL") {
      notes.push(
        `${armed.name} died (code ${st?.code}, signal ${st?.signal}), but its last crash point ` +
          `was ${last ?? "none"}`,
      );
      return result("not-hit");
    }
    await net.start(armed);
    if (acks[armedIdx] === false) {
      // As a trainer would: the answer was lost in the crash, so ask again.
      await waitFor(`${armed.name}'s API`, async () => (await net.status(armed)) && true, 60_000);
      acks[armedIdx] = await submit(net, armedIdx, values[armedIdx], weights[armedIdx]);
      notes.push(`${armed.name} resubmitted after the restart: ${acks[armedIdx] || "refused"}`);
    }
    // Settled: every node holds the final certificate or said round-failed (log or event).
    const logFailed = async (n: LocalNode) => (await readLog(n)).failed;
    const settledAt = async (n: LocalNode): Promise<boolean> => {
      const st = await net.status(n);
      if (st?.lastFinalRound != null && st.lastFinalRound >= ROUND) return true;
      return failedSeen.get(n.id)!.length > 0 || (await logFailed(n)).length > 0;
    };
    let settled = true;
    await waitFor("the round to settle on every node", async () => {
      for (const n of net.nodes) if (!(await settledAt(n))) return undefined;
      return true;
    }, s.settleMs).catch(() => (settled = false));
    latencyMs = performance.now() - submitted;
    if (!settled) notes.push(`not settled on every node after ${s.settleMs} ms`);

    // Who holds the final certificate, and is it sound?
    const holders: LocalNode[] = [];
    for (const n of net.nodes) {
      const st = await net.status(n);
      if (st?.lastFinalRound != null && st.lastFinalRound >= ROUND) holders.push(n);
    }
    let final: PointResult["final"] = null;
    if (holders.length > 0) {
      const checked = await net.checkFinal(ROUND, holders, inputs(s), dir);
      if ("bad" in checked) {
        notes.push(checked.bad);
        return result("BAD-CERTIFICATE");
      }
      final = { view: checked.view, members: checked.members.map((id) => nameOf(net, id)) };
    }
    const updates: UpdateResult[] = [];
    for (const n of net.nodes) {
      const log = await readLog(n);
      notes.push(...log.notes);
      const failed = [...new Set([...failedSeen.get(n.id)!, ...log.failed])];
      const ack = acks[net.index(n)];
      const listed = final?.members.filter((m) => m === n.name).length ?? 0;
      let outcome: UpdateOutcome;
      if (ack === false) outcome = "unacknowledged";
      else if (listed > 0 && failed.length > 0) outcome = "COUNTED-AND-FAILED";
      else if (listed === 1) outcome = holders.includes(n) ? "in-aggregate" : "stall";
      else if (failed.length > 0) outcome = "round-failed";
      else if (final === null && log.unknown.length > 0) outcome = "outcome-unknown";
      else if (final !== null) outcome = "SILENT-LOSS";
      else outcome = "stall";
      updates.push({
        node: n.name,
        acknowledged: ack,
        outcome,
        failed,
        holdsFinal: holders.includes(n),
      });
      // The raw update must not outlive its round, however the round ended for this node.
      const raw = `${n.dir}/journal/round-${ROUND}/update.f32`;
      if ((holders.includes(n) || failed.length > 0) && (await exists(raw))) {
        notes.push(`${n.name} kept its raw update.f32 after the round ended`);
      }
      if (!holders.includes(n) && final !== null && ack !== false && failed.length === 0) {
        notes.push(
          `${n.name} never learned the final certificate` +
            (listed > 0 ? " (which lists its update)" : ""),
        );
      }
    }
    const worst = updates.reduce<PointOutcome>(
      (w, u) => SEVERITY.indexOf(u.outcome) > SEVERITY.indexOf(w) ? u.outcome : w,
      "unacknowledged",
    );
    return result(worst, updates, final);
  };
  let out: PointResult;
  try {
    out = await run();
  } finally {
    for (const u of unfollow) u();
    await stopAll(net, notes);
  }
  return notes.some((n) => n.startsWith("processes left behind"))
    ? { ...out, outcome: "STRAY-PROCESS" }
    : out;
}

function nameOf(net: LocalNet, id: string): string {
  return net.nodes.find((n) => n.id === id)?.name ?? id;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A seeded choice of `count` points from `all` (deterministic for a seed), in their list order.
 */
export function samplePoints(
  all: readonly CrashPointSpec[],
  count: number,
  seed: number,
): CrashPointSpec[] {
  const rng = labelledRng("crash-sample", seed, 0);
  const pool = [...all.keys()];
  const picked: number[] = [];
  while (picked.length < Math.min(count, all.length)) {
    picked.push(pool.splice(rng(1)[0] % pool.length, 1)[0]);
  }
  return picked.sort((a, b) => a - b).map((i) => all[i]);
}
