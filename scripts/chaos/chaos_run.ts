/**
 * Chaos rounds against a local federation of real `fedagg run` processes: the engine of
 * `deno task chaos` (`scripts/chaos.ts`) and of its short version in the test suite.
 *
 * Each round has a new round number, fresh seeded updates on every member and seeded faults
 * (`fault_plan.ts`): members and the round's leader SIGKILLed and restarted, frozen with SIGSTOP
 * and continued, or submitting well after the others, at random moments (time offsets or stages
 * the target reports). Every node is running and unfrozen when a round starts, and each round
 * is judged on its own (a round that stalled does not stop the next; its members still get their
 * next update, and the round notes it). A round is:
 *
 * - `completed`: a final certificate exists; every node holding it serves the same one;
 *   `fedagg verify` accepts it; its aggregate is the weighted mean of exactly the listed
 *   members' inputs; every acknowledged update it lists has its node holding it, and every
 *   acknowledged update it leaves out has its node saying `round failed` (participant);
 * - `failed`: no final certificate, and every node with an acknowledged update said
 *   `round failed` (participant) for the round;
 * - `STALLED`: some acknowledged update is neither certified at its node nor failed there
 *   within the stall bound ({@link stallBoundMs}) after the round's last disturbance;
 * - `WRONG`: a certificate that does not verify, nodes that disagree, an aggregate that is not
 *   the mean of its members' inputs, or an update both certified and failed at its node;
 * - `ERROR`: the harness could not carry the round out (a process that did not start).
 *
 * The judge reads each node's log (`node_logs.ts`), which names the role of a failure and
 * survives restarts, and asks the nodes' APIs which of them serve the final certificate.
 *
 * @module
 */
import { defaultThreshold, STAGES } from "../../protocol/mod.ts";
import {
  LocalNet,
  type LocalNode,
  type SyntheticInputs,
  syntheticInputs,
  waitFor,
} from "../testnet/local_net.ts";
import { describeFault, type Fault, planFaults } from "./fault_plan.ts";
import { NodeLogs } from "./node_logs.ts";

/** The federation and the run. */
export interface ChaosSettings {
  readonly nodes: number;
  readonly rounds: number;
  readonly seed: number;
  readonly dim: number;
  /** The leader's stage timeout; the submission deadline and the view timeout are 2.5× this. */
  readonly stageTimeoutMs: number;
  /** Overrides {@link stallBoundMs}. */
  readonly stallBoundMs?: number;
  /** Called with each round's result as soon as it is known (for progress lines). */
  readonly onRound?: (r: RoundResult) => void;
  /** Called with harness messages (federation up, restarts that failed, ...). */
  readonly say?: (s: string) => void;
}

/** How a round ended. */
export type RoundOutcome = "completed" | "failed" | "STALLED" | "WRONG" | "ERROR";

/** What became of one member's update in a round. */
export type UpdateFate =
  | "certified"
  | "failed"
  | "stalled"
  | "counted-and-failed"
  | "unacknowledged";

/** One member's update in a round. */
export interface UpdateResult {
  readonly node: string;
  /** The HTTP status of its submission, or null if the node did not answer. */
  readonly status: number | null;
  readonly fate: UpdateFate;
  /** Submission of the round to this update's end at its node (ms), if it ended. */
  readonly endedMs: number | null;
  /** Its node's participant `round failed` reasons. */
  readonly failed: readonly string[];
}

/** One round's result. */
export interface RoundResult {
  readonly round: number;
  readonly outcome: RoundOutcome;
  /** Submission to the last acknowledged update's end (ms); null when the round stalled. */
  readonly latencyMs: number | null;
  readonly faults: readonly string[];
  /** The final certificate's view and members, if the round became final anywhere. */
  readonly final: { readonly view: number; readonly members: readonly string[] } | null;
  readonly updates: readonly UpdateResult[];
  /** View changes logged per node (`node: 0→1 1→2`). */
  readonly viewChanges: readonly string[];
  readonly notes: string[];
}

/** The run's result. */
export interface ChaosResult {
  readonly ok: boolean;
  readonly nodes: number;
  readonly threshold: number;
  readonly seed: number;
  readonly dim: number;
  readonly stageTimeoutMs: number;
  readonly advertiseTimeoutMs: number;
  readonly viewTimeoutMs: number;
  readonly stallBoundMs: number;
  readonly counts: Readonly<Record<RoundOutcome, number>>;
  /** Latency percentiles (ms) of the completed and of the failed rounds. */
  readonly latency: {
    readonly completed: Percentiles | null;
    readonly failed: Percentiles | null;
  };
  readonly strays: readonly number[];
  readonly rounds: readonly RoundResult[];
  readonly notes: readonly string[];
  readonly out: string;
}

/** Nearest-rank percentiles. */
export interface Percentiles {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The timeouts the run puts in the roster for a stage timeout (as `deno task crash` does). */
export function chaosTimeouts(stageTimeoutMs: number) {
  return {
    stageTimeoutMs,
    advertiseTimeoutMs: Math.round(2.5 * stageTimeoutMs),
    viewTimeoutMs: Math.round(2.5 * stageTimeoutMs),
  };
}

/**
 * How long after a round's last disturbance (the acknowledgements, a restart, a SIGCONT, a late
 * submission) an acknowledged update may stay unresolved before the round counts as STALLED:
 * n × (advertise timeout + view timeout) + 2 × view timeout + 10 s. Why: today's participant
 * that never commits moves on at most n − 1 times and gives the round up after view n − 1
 * (`viewLimit`), each view lasting at most advertise + view timeout from its entry
 * (`viewPatienceMs`); one that committed fails a view timeout after its leader stalls; a
 * restarted or continued member's clocks start again at its disturbance, hence the reference
 * point. The 2 view timeouts and 10 s cover a restarted process's start-up and a loaded
 * machine. Anything unresolved past that bound is waiting on nothing in the protocol.
 */
export function stallBoundMs(
  nodes: number,
  t: { advertiseTimeoutMs: number; viewTimeoutMs: number },
): number {
  return nodes * (t.advertiseTimeoutMs + t.viewTimeoutMs) + 2 * t.viewTimeoutMs + 10_000;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nearest-rank percentiles of `xs`, or null if empty. */
export function percentiles(xs: readonly number[]): Percentiles | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.max(0, Math.ceil(p * s.length) - 1)];
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] };
}

/** Federations with processes running (for {@link stopRunning}). */
const running = new Set<LocalNet>();

/** Stops every process of the runs in progress (for a harness interrupted by a signal). */
export async function stopRunning(): Promise<void> {
  await Promise.all([...running].map((net) => net.stopEverything()));
}

/**
 * Runs `s.rounds` chaos rounds (numbers 0, 1, …) on a fresh federation of `s.nodes` processes in
 * `out` and judges each (see the module doc). Never throws for a round's trouble (that round is
 * `ERROR`); every process is stopped at the end and the result lists any left behind.
 */
export async function runChaos(out: string, s: ChaosSettings): Promise<ChaosResult> {
  const say = s.say ?? (() => {});
  const timeouts = chaosTimeouts(s.stageTimeoutMs);
  const bound = s.stallBoundMs ?? stallBoundMs(s.nodes, timeouts);
  const net = await LocalNet.create(out, s.nodes, {
    dim: s.dim,
    maxWeight: 100,
    threshold: defaultThreshold(s.nodes),
    ...timeouts,
  });
  running.add(net);
  const logs = new NodeLogs(net.nodes);
  const rounds: RoundResult[] = [];
  const notes: string[] = [];
  /** Rounds that stalled, by node name (to note on the next update and re-check at the end). */
  const stalledAt = new Map<string, number[]>();
  let strays: number[] = [];
  try {
    await Promise.all(net.nodes.map((n) => net.start(n)));
    await Promise.all(net.nodes.map((n) => net.connected(n)));
    say(
      `all ${s.nodes} nodes up; t = ${net.roster.threshold}, stage/advertise/view timeouts ` +
        `${timeouts.stageTimeoutMs}/${timeouts.advertiseTimeoutMs}/${timeouts.viewTimeoutMs} ms, ` +
        `stall bound ${bound} ms`,
    );
    for (let round = 0; round < s.rounds; round++) {
      let r: RoundResult;
      try {
        r = await runRound(net, logs, round, s, bound, stalledAt);
      } catch (err) {
        r = {
          round,
          outcome: "ERROR",
          latencyMs: null,
          faults: [],
          final: null,
          updates: [],
          viewChanges: [],
          notes: [`harness error: ${String(err)}`],
        };
      }
      rounds.push(r);
      for (const u of r.updates) {
        if (u.fate === "stalled") stalledAt.set(u.node, [...stalledAt.get(u.node) ?? [], round]);
      }
      s.onRound?.(r);
    }
    // Did a stalled round end later after all (while later rounds ran)?
    await logs.poll(Date.now());
    for (const r of rounds) {
      if (r.outcome !== "STALLED") continue;
      for (const u of r.updates) {
        if (u.fate !== "stalled") continue;
        const node = net.nodes.find((n) => n.name === u.node)!;
        const l = logs.round(node, r.round);
        const later = l.final !== undefined
          ? "became final"
          : l.participantFailed.length > 0
          ? `failed (${l.participantFailed[0].reason})`
          : "still unresolved";
        r.notes.push(`${u.node}'s update of round ${r.round} ${later} by the end of the run`);
      }
    }
    for (const [n, errs] of logs.errors) notes.push(`${n.name} logged: ${errs.join("; ")}`);
  } finally {
    await net.stopEverything();
    running.delete(net);
    strays = await net.strays();
  }
  const counts: Record<RoundOutcome, number> = {
    completed: 0,
    failed: 0,
    STALLED: 0,
    WRONG: 0,
    ERROR: 0,
  };
  for (const r of rounds) counts[r.outcome]++;
  const lat = (o: RoundOutcome) =>
    percentiles(
      rounds.filter((r) => r.outcome === o && r.latencyMs !== null).map((r) => r.latencyMs!),
    );
  if (strays.length > 0) notes.push(`processes left behind: ${strays.join(", ")}`);
  return {
    ok: counts.STALLED + counts.WRONG + counts.ERROR === 0 && strays.length === 0 &&
      rounds.length === s.rounds,
    nodes: s.nodes,
    threshold: net.roster.threshold,
    seed: s.seed,
    dim: s.dim,
    ...timeouts,
    stallBoundMs: bound,
    counts,
    latency: { completed: lat("completed"), failed: lat("failed") },
    strays,
    rounds,
    notes,
    out,
  };
}

/** Waits for a fault's moment: a time offset, or the target reaching a stage (or the fallback). */
async function waitMoment(
  net: LocalNet,
  f: Fault,
  round: number,
  ackedAt: number,
  notes: string[],
): Promise<void> {
  const m = f.moment!;
  if (m.kind === "time") return await sleep(Math.max(0, ackedAt + m.afterMs - Date.now()));
  const node = net.node(f.target);
  const wanted = STAGES.indexOf(m.stage);
  while (Date.now() < ackedAt + m.fallbackMs) {
    const st = await net.status(node);
    const at = f.leader
      ? (st?.leading?.round === round ? st.leading.stage : undefined)
      : (st?.round === round ? st.stage : undefined);
    if (at !== undefined && at !== null && STAGES.indexOf(at as typeof STAGES[number]) >= wanted) {
      return;
    }
    await sleep(100);
  }
  notes.push(`${node.name} never reported stage ${m.stage}: struck at the fallback`);
}

async function runRound(
  net: LocalNet,
  logs: NodeLogs,
  round: number,
  s: ChaosSettings,
  bound: number,
  stalledAt: ReadonlyMap<string, number[]>,
): Promise<RoundResult> {
  const notes: string[] = [];
  // Every node running, unfrozen and connected before the round starts.
  for (const n of [...net.paused]) net.resume(n);
  for (const n of net.nodes) if (n.child === undefined) await net.start(n);
  await Promise.all(
    net.nodes.map((n) =>
      net.connected(n, 60_000).catch(() => notes.push(`${n.name} not connected to all at start`))
    ),
  );
  const inputs: SyntheticInputs = syntheticInputs("chaos", s.seed, round, s.nodes, s.dim);
  const faults = planFaults(net.roster, chaosTimeouts(s.stageTimeoutMs), s.seed, round);
  const name = (i: number) => net.node(i).name;
  const lateOnes = new Set(faults.filter((f) => f.kind === "late").map((f) => f.target));
  const statuses = new Map<number, number | null>();
  const submit = async (i: number) => {
    const res = await net.submitUpdate(net.node(i), round, inputs.values[i], inputs.weights[i]);
    statuses.set(i, res?.status ?? null);
    const stalled = stalledAt.get(name(i));
    if (stalled !== undefined && stalled.length > 0) {
      notes.push(
        `${name(i)}'s update of round ${stalled.at(-1)} stalled; its update of this round was ` +
          `submitted anyway: ${res?.status ?? "no answer"}`,
      );
    }
    if (res !== undefined && res.status !== 202) {
      notes.push(`${name(i)} refused its update: ${res.status} ${res.text.trim().slice(0, 200)}`);
    }
  };
  const started = Date.now();
  await Promise.all(net.roster.members.map((_, i) => lateOnes.has(i) ? undefined : submit(i)));
  const ackedAt = Date.now();
  const acked = () => net.roster.members.map((_, i) => i).filter((i) => statuses.get(i) === 202);
  const ended = (i: number) => {
    const l = logs.round(net.node(i), round);
    return l.final !== undefined || l.participantFailed.length > 0;
  };
  // Carry out the faults; each resolves with the time its disturbance ended.
  const harnessErrors: string[] = [];
  const carry = async (f: Fault): Promise<void> => {
    const node = net.node(f.target);
    if (f.kind === "late") {
      await sleep(Math.max(0, ackedAt + f.durationMs - Date.now()));
      return await submit(f.target);
    }
    await waitMoment(net, f, round, ackedAt, notes);
    await logs.poll(Date.now());
    if (acked().every(ended)) {
      notes.push(
        `${describeFault(f, name)} struck after every acknowledged update of the round had ended`,
      );
    }
    if (f.kind === "kill") {
      await net.stop(node, "SIGKILL");
      await sleep(f.durationMs);
      await net.start(node);
      // Back once its API answers (it has restored its journal by then).
      await waitFor(`${node.name}'s API after its restart`, () => net.status(node), 60_000);
    } else {
      net.pause(node);
      await sleep(f.durationMs);
      net.resume(node);
    }
  };
  // Each resolves with the time its disturbance ended (a harness failure ends it too).
  const carried = faults.map((f) =>
    carry(f).catch((err) => {
      harnessErrors.push(`${describeFault(f, name)}: ${String(err)}`);
    }).then(() => Date.now())
  );
  let lastDisturbance: number | undefined;
  Promise.all(carried).then((ends) => lastDisturbance = Math.max(ackedAt, ...ends));
  for (;;) {
    await logs.poll(Date.now());
    if (lastDisturbance !== undefined) {
      if (acked().every(ended)) break;
      if (Date.now() > lastDisturbance + bound) break;
    }
    await sleep(250);
  }
  await Promise.all(carried); // (already settled)

  // Who serves the final certificate, and is it sound?
  const holders: LocalNode[] = [];
  for (const n of net.nodes) {
    // A node that does not answer (still starting) is asked again, for up to 30 s.
    const holds = await waitFor(
      `${n.name}'s certificate of round ${round}`,
      async () => await net.holdsFinal(n, round),
      30_000,
    ).catch(() => {
      notes.push(`${n.name} did not answer whether it holds the final certificate`);
      return false;
    });
    if (holds) holders.push(n);
  }
  let final: RoundResult["final"] = null;
  let wrong = false;
  if (holders.length > 0) {
    const checked = await net.checkFinal(
      round,
      holders,
      inputs,
      `${net.out}/results/round-${round}`,
    );
    if ("bad" in checked) {
      notes.push(checked.bad);
      wrong = true;
    } else {
      const nameOf = (id: string) => net.nodes.find((n) => n.id === id)?.name ?? id;
      final = { view: checked.view, members: checked.members.map(nameOf) };
    }
  }
  const updates: UpdateResult[] = net.roster.members.map((_, i) => {
    const node = net.node(i);
    const l = logs.round(node, round);
    const failed = l.participantFailed.map((f) => f.reason);
    const listed = final?.members.includes(node.name) ?? false;
    const status = statuses.get(i) ?? null;
    let fate: UpdateFate;
    let end: number | undefined;
    if (status !== 202) fate = "unacknowledged";
    else if (listed && failed.length > 0) {
      fate = "counted-and-failed";
      end = Math.min(l.participantFailed[0].at, l.final?.at ?? Infinity); // its first answer
    } else if (listed && holders.includes(node) && l.final !== undefined) {
      fate = "certified";
      end = l.final.at;
    } else if (!listed && failed.length > 0) {
      fate = "failed";
      end = l.participantFailed[0].at;
    } else fate = "stalled";
    if (fate === "stalled") {
      notes.push(
        `${node.name}: acknowledged, ` +
          (listed
            ? "listed by the final certificate, which its node never got"
            : final !== null
            ? "left out of the final certificate, and its node never said round-failed"
            : "neither certified nor failed") +
          ` within ${bound} ms`,
      );
    }
    return {
      node: node.name,
      status,
      fate,
      endedMs: end === undefined ? null : end - started,
      failed,
    };
  });
  const fates = updates.map((u) => u.fate);
  for (const e of harnessErrors) notes.push(`harness error: ${e}`);
  let outcome: RoundOutcome;
  if (wrong || fates.includes("counted-and-failed")) outcome = "WRONG";
  else if (harnessErrors.length > 0) outcome = "ERROR";
  else if (fates.includes("stalled")) outcome = "STALLED";
  else if (final !== null) outcome = "completed";
  else outcome = "failed";
  const ends = updates.filter((u) => u.endedMs !== null).map((u) => u.endedMs!);
  const viewChanges = net.nodes
    .map((n) => ({ n, v: logs.round(n, round).viewChanges }))
    .filter(({ v }) => v.length > 0)
    .map(({ n, v }) => `${n.name}: ${v.join(" ")}`);
  for (const n of net.nodes) {
    for (const f of logs.round(n, round).leaderFailed) {
      notes.push(`${n.name} as leader of view ${f.view}: ${f.reason}`);
    }
  }
  return {
    round,
    outcome,
    latencyMs: outcome === "STALLED" || ends.length === 0 ? null : Math.max(...ends),
    faults: faults.map((f) => describeFault(f, name)),
    final,
    updates,
    viewChanges,
    notes,
  };
}
