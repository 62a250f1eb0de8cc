/**
 * The simulator: whole rounds in one process. Every member is a real `Endpoint` (participant and,
 * when scheduled, leader); frames travel through a {@link SimNetwork} with a fixed latency on a
 * virtual clock, so timeouts and view changes happen without waiting. Members drop out at a
 * chosen stage (they vanish at the moment they would send that stage's message), and the first
 * leader can be killed before it answers a stage.
 *
 * For every round it checks the published aggregate against the plaintext sum of the survivors'
 * quantized inputs (bit for bit), verifies the final certificate offline, and counts the bytes
 * each member sends. Given a `clock` (the driver's: this core reads none) it also measures the
 * CPU time of every call, per stage and role.
 *
 * @module
 */
import { verifyFinalCertificate } from "../certificate/final.ts";
import type { CertifiedGroupSums } from "../certificate/group_sums.ts";
import type { GroupSettings } from "../graph/groups.ts";
import { labelledRng } from "../crypto/mod.ts";
import { equalBytes, u32Bytes } from "../encoding/bytes.ts";
import { type Roster, vectorLength } from "../federation/roster.ts";
import { leaderOf } from "../federation/schedule.ts";
import { inlineExpander, type MaskExpander } from "../math/masking.ts";
import { dequantizeMean, quantize } from "../math/quantize.ts";
import { Endpoint } from "../round/endpoint.ts";
import type { ProtocolEvent } from "../round/events.ts";
import { type ExchangeStage, type Stage, TRANSITIONS } from "../round/stages.ts";
import { frameHeader, type MessageType, openFrame } from "../wire/frame.ts";
import { simulatedFederation } from "./federation.ts";
import { type Attack, attackUpdates, GaussianSource } from "./attacks.ts";
import { DEFAULT_SPREAD, honestUpdates } from "./honest_updates.ts";
import { roundGroups } from "../federation/round_groups.ts";
import { describeRobustRule, type RobustRule } from "../robust/rule.ts";
import { SimNetwork, type SimNode, type Wire } from "./network.ts";
import {
  type DpInputs,
  dpInputs,
  type DpRoundReport,
  dpRoundReport,
  type SimDpOptions,
} from "./dp_report.ts";

/** A stage at which members can drop out: they vanish instead of sending its message. */
export type MemberStage = Exclude<ExchangeStage, "publish">;

/** The stage at which dropped members vanish (`mixed`: spread over the stages). */
export type DropStage = MemberStage | "mixed";

/** A stage the first leader can be killed before entering (before it sends the answer). */
export type KillStage = Exclude<MemberStage, "advertise">;

/** The member stages, in order. */
export const MEMBER_STAGES: readonly MemberStage[] = [
  "advertise",
  "share",
  "masked",
  "consistency",
  "unmask",
];

/** Simulation settings. */
export interface SimOptions {
  /** Members in the roster (at least 3). */
  readonly nodes: number;
  /** Update length d. */
  readonly dim: number;
  /** Fraction of members that drop out each round (capped at n − t). */
  readonly dropout: number;
  /** The stage at which they drop out. */
  readonly dropStage: DropStage;
  /** `complete`, or `sparse` (SecAgg+ Harary graph; degree from Bell et al. unless given). */
  readonly graph: "complete" | "sparse";
  /** The sparse graph's degree (even). */
  readonly degree?: number;
  /** Seed of identities, inputs and dropouts. */
  readonly seed: number;
  /** Post-quantum mode. */
  readonly pq: boolean;
  /** Rounds to run, one after the other on the same endpoints. */
  readonly rounds: number;
  /** Kill the leader of view 0 when it is about to send the answer entering this stage. */
  readonly killLeaderAt?: KillStage;
  /** Clipping radius (default 1). */
  readonly clip?: number;
  /** Largest weight a member draws (default 100). */
  readonly maxWeight?: number;
  /** Delay of every frame in virtual ms (default 1). */
  readonly latencyMs?: number;
  /** Where the masks are expanded (default: inline). */
  readonly expander?: MaskExpander;
  /** A clock (ms) to measure CPU time by; without one, timings are not measured. */
  readonly clock?: () => number;
  /** Group-wise aggregation (`graph/groups.ts`); default none (one sum over everyone). */
  readonly groups?: GroupSettings;
  /**
   * Called with each round's verified group sums (group-wise aggregation only), before the
   * report is made: the hook for combining the group means (a robust rule) outside the core.
   */
  readonly onGroups?: (round: number, groups: CertifiedGroupSums) => void;
  /** Distributed DP (`dp_report.ts`): the roster gets a `dp` section, weights are 1. */
  readonly dp?: SimDpOptions;
  /** The robust rule over the group means (`robust/rule.ts`; needs `groups`); default none. */
  readonly robust?: RobustRule;
  /**
   * Byzantine members per round (default 0). They follow the protocol but submit `attack`'s
   * update with the largest weight they may claim. With groups they sit in distinct groups
   * (the first member of groups 0, 1, …, K − 1 of the round's public partition: the worst case
   * for a rule, each poisoning a group); without groups they are members 0 … K − 1.
   */
  readonly byzantine?: number;
  /** What the Byzantine members submit (`attacks.ts`); required when `byzantine` > 0. */
  readonly attack?: Attack;
  /**
   * Under attack: the honest spread H of `honest_updates.ts` (per-member noise std over the
   * shared direction's; `Infinity` for i.i.d. zero-mean updates); default
   * {@link DEFAULT_SPREAD} = 0.5.
   */
  readonly spread?: number;
}

/** One group of a simulated round (group-wise aggregation), JSON-friendly. */
export interface GroupReport {
  /** The group's index in the round's partition. */
  readonly group: number;
  /** The ids of the members whose inputs its sum holds (none for a group left out). */
  readonly members: readonly string[];
  /** Its certified total weight (0 for a group left out). */
  readonly weight: number;
  /** Whether the round's certificate included it. */
  readonly included: boolean;
  /** Its sum is, bit for bit, the plaintext sum of its members' quantized inputs. */
  readonly exact: boolean;
}

/** CPU time per stage. */
export interface StageTimings {
  /** The leader's total per stage (ms). */
  readonly leader: Record<string, number>;
  /** Members' total and slowest single member per stage (ms). */
  readonly members: Record<string, { readonly total: number; readonly max: number }>;
}

/** What one simulated round produced. */
export interface RoundReport {
  /** The round number. */
  readonly round: number;
  /** The view that completed it (0 unless a leader stalled). */
  readonly view: number;
  /** The id of that view's leader. */
  readonly leader: string;
  /** How many members' inputs the aggregate holds (U3). */
  readonly survivors: number;
  /** Their ids. */
  readonly members: readonly string[];
  /** The ids of the members that dropped out (and of a killed leader). */
  readonly dropped: readonly string[];
  /** The aggregate is, bit for bit, the plaintext sum of the survivors' quantized inputs. */
  readonly exact: boolean;
  /** The final certificate verified offline against the roster and the aggregate. */
  readonly verified: boolean;
  /** Largest error of the weighted mean against the float64 mean of the clipped inputs. */
  readonly maxAbsError: number;
  /** The proven bound on that error (`docs/protocol.md` §5). */
  readonly errorBound: number;
  /** Virtual time from the first submission to the final certificate (ms). */
  readonly virtualLatencyMs: number;
  /** CPU time per stage (zeros without a clock). */
  readonly timings: StageTimings;
  /**
   * Bytes sent: a member's average and maximum (leader role aside), the leader's, and the
   * leader's by message type.
   */
  readonly bytes: {
    readonly memberAvg: number;
    readonly memberMax: number;
    readonly leader: number;
    readonly leaderByType: Readonly<Record<string, number>>;
  };
  /** Every refusal a member reported (`member i: …`). */
  readonly refusals: readonly string[];
  /** Why the round did not finish exactly, if it did not. */
  readonly failure?: string;
  /** With groups: every group of the round's partition, included or left out. */
  readonly groups?: readonly GroupReport[];
  /**
   * With groups: the certified body's bytes (the total and each included group's sum), what
   * every member downloads with the certificate; without groups it is 4 · (d + 1).
   */
  readonly bodyBytes?: number;
  /** The DP figures (DP rosters only; `dp_report.ts`). */
  readonly dp?: DpRoundReport;
  /** The ids of the round's Byzantine members (with `byzantine` > 0). */
  readonly byzantine?: readonly string[];
  /**
   * With `byzantine` or `attack`: the relative L2 distance ‖a − h‖/‖h‖ of the plain weighted mean
   * of the total from h, the weighted mean of the honest certified members' clipped updates.
   */
  readonly plainError?: number;
  /** Under a robust rule (with an attack): the same for the published robust result. */
  readonly robustError?: number;
  /** Under a robust rule: the rule and the groups it kept, discarded, filtered, down-weighted. */
  readonly robust?: {
    readonly rule: string;
    readonly kept: readonly number[];
    readonly discarded: readonly number[];
    readonly filtered: readonly number[];
    readonly downWeighted: readonly number[];
  };
}

/** The whole run. */
export interface SimReport {
  /** Members in the roster. */
  readonly nodes: number;
  /** Update length d. */
  readonly dim: number;
  /** The roster's mode. */
  readonly mode: "classical" | "post-quantum";
  /** The neighbour graph, e.g. `complete`, `harary(k=4, t=3)` or `groups(g=3)`. */
  readonly graph: string;
  /** The global threshold t. */
  readonly threshold: number;
  /** Each round's report. */
  readonly rounds: readonly RoundReport[];
}

/** Runs the simulation: `options.rounds` rounds on one federation of endpoints. */
export async function simulate(options: SimOptions): Promise<SimReport> {
  const { dp: _dp, ...settings } = options;
  const { roster, signers } = await simulatedFederation({
    ...settings,
    ...(options.dp === undefined ? {} : {
      maxWeight: 1,
      rosterDp: {
        epsilon: options.dp.epsilon,
        delta: options.dp.delta,
        rounds: options.dp.rounds ?? options.rounds,
        clip: options.dp.clip ?? 1,
        bits: options.dp.bits ?? 32,
        corrupt: options.dp.corrupt ?? options.dp.withhold ?? 0,
      },
    }),
  });
  const expander = options.expander ?? inlineExpander;
  const endpoints = signers.map((signer, self) =>
    new Endpoint({
      roster,
      self,
      signer,
      rng: labelledRng("fedagg-sim", options.seed, "member", self),
      expander,
    })
  );
  const rounds: RoundReport[] = [];
  for (let round = 0; round < options.rounds; round++) {
    rounds.push(await simulateRound(roster, endpoints, round, options));
  }
  for (const e of endpoints) e.close();
  return {
    nodes: roster.members.length,
    dim: roster.dim,
    mode: roster.mode,
    graph: roster.groups !== undefined
      ? `groups(g=${roster.groups.count}, minGroupSize=${roster.groups.minGroupSize}, ` +
        `minGroups=${roster.groups.minGroups})`
      : roster.graph.kind === "complete"
      ? "complete"
      : `harary(k=${roster.graph.degree}, t=${roster.graph.threshold})`,
    threshold: roster.threshold,
    rounds,
  };
}

// ---------------------------------------------------------------------------------------------

/** Which stage a frame of each type is processed in, by the role that receives it. */
function stageOf(type: MessageType): Stage {
  const stages = Object.keys(TRANSITIONS) as ExchangeStage[];
  const sent = stages.find((s) => TRANSITIONS[s].sends === type);
  if (sent !== undefined) return sent === "publish" ? "final" : sent;
  return TRANSITIONS[stages.find((s) => TRANSITIONS[s].answer === type)!].next;
}

/** The seeded inputs of one round: floats in [−1.2c, 1.2c] (some clipped) and weights. */
interface RoundInputs {
  readonly floats: Float32Array[];
  readonly weights: number[];
  readonly quantized: Uint32Array[];
  /** DP rosters: the members' DP inputs (`quantized` holds their words). */
  readonly dp?: DpInputs;
  /** The Byzantine members, ascending (none without an attack). */
  readonly byzantine?: readonly number[];
}

/** The Byzantine members of `round`: see {@link SimOptions.byzantine}. */
export function byzantineMembers(roster: Roster, round: number, k: number): number[] {
  const n = roster.members.length;
  if (!Number.isSafeInteger(k) || k < 0 || k >= n) {
    throw new RangeError(`byzantine must be an integer in [0, n − 1] = [0, ${n - 1}], got ${k}`);
  }
  const rg = roundGroups(roster, round);
  if (rg === undefined) return [...Array(k).keys()];
  // Round-robin over the groups: one per group first, then a second per group, …
  const out: number[] = [];
  for (let layer = 0; out.length < k; layer++) {
    for (const g of rg.partition.groups) {
      if (out.length < k && layer < g.length) out.push(g[layer]);
    }
  }
  return out.sort((a, b) => a - b);
}

/**
 * Inputs under attack: the honest members send `honestUpdates` (`honest_updates.ts`: a shared
 * direction drawn per round plus per-member heterogeneity of spread `options.spread`, default
 * 0.5) with weight 1 + (a draw mod maxWeight); the Byzantine members send `attack`'s update
 * (computed from every honest update: an omniscient attacker) with weight maxWeight. Every
 * update is clipped and quantized as a real member's.
 */
function attackedInputs(
  roster: Roster,
  round: number,
  seed: number,
  options: Pick<SimOptions, "byzantine" | "attack" | "spread">,
): RoundInputs {
  const q = roster.quantization;
  const d = roster.dim;
  const n = roster.members.length;
  const bad = byzantineMembers(roster, round, options.byzantine ?? 0);
  if (bad.length > 0 && options.attack === undefined) {
    throw new RangeError("Byzantine members need an attack");
  }
  const gauss = new GaussianSource(labelledRng("fedagg-sim", seed, "attack-inputs", round));
  const updates = honestUpdates(n, d, q.clip, options.spread ?? DEFAULT_SPREAD, gauss);
  const weightRng = labelledRng("fedagg-sim", seed, "attack-weights", round);
  const weights = updates.map(() =>
    1 + (new DataView(weightRng(4).buffer).getUint32(0) % q.maxWeight)
  );
  const isBad = new Set(bad);
  if (bad.length > 0) {
    const crafted = attackUpdates(
      options.attack!,
      { honest: updates.filter((_, i) => !isBad.has(i)), own: bad.map((i) => updates[i]) },
      labelledRng("fedagg-sim", seed, "attack", round),
    );
    bad.forEach((i, k) => {
      updates[i] = crafted[k];
      weights[i] = q.maxWeight;
    });
  }
  const floats = updates.map((u) => Float32Array.from(u));
  return {
    floats,
    weights,
    quantized: floats.map((x, i) =>
      quantize(x, weights[i], q, labelledRng("fedagg-sim", seed, "rounding", round, i))
    ),
    byzantine: bad,
  };
}

function roundInputs(
  roster: Roster,
  round: number,
  seed: number,
  withhold = 0,
  options: Pick<SimOptions, "byzantine" | "attack" | "spread"> = {},
): RoundInputs {
  if ((options.byzantine ?? 0) > 0 || options.attack !== undefined) {
    return attackedInputs(roster, round, seed, options);
  }
  const q = roster.quantization;
  const inputRng = labelledRng("fedagg-sim", seed, "input", round);
  const inputs: RoundInputs = { floats: [], weights: [], quantized: [] };
  for (let i = 0; i < roster.members.length; i++) {
    const raw = new Uint32Array(inputRng(4 * roster.dim).buffer.slice(0));
    const x = new Float32Array(roster.dim);
    for (let j = 0; j < x.length; j++) x[j] = (raw[j] / 2 ** 32 * 2.4 - 1.2) * q.clip;
    const w = 1 + (new DataView(inputRng(4).buffer).getUint32(0) % q.maxWeight);
    inputs.floats.push(x);
    inputs.weights.push(w);
    if (roster.dp === undefined) {
      inputs.quantized.push(
        quantize(x, w, q, labelledRng("fedagg-sim", seed, "rounding", round, i)),
      );
    }
  }
  if (roster.dp === undefined) return inputs;
  const dp = dpInputs(roster, round, seed, inputs.floats, withhold);
  return { ...inputs, quantized: dp.words, dp };
}

/**
 * Who drops out and when: never the first leader (killing it is a separate option), at most
 * n − t members, each at its stage's message.
 */
function dropouts(roster: Roster, round: number, options: SimOptions): Map<number, MessageType> {
  const n = roster.members.length;
  const budget = Math.min(Math.round(options.dropout * n), n - roster.threshold);
  const pick = labelledRng("fedagg-sim", options.seed, "dropouts", round);
  const leader0 = leaderOf(roster, round, 0);
  const candidates = [...Array(n).keys()].filter((i) => i !== leader0);
  const dropAt = new Map<number, MessageType>();
  for (let k = 0; k < budget; k++) {
    const j = new DataView(pick(4).buffer).getUint32(0) % candidates.length;
    const member = candidates.splice(j, 1)[0];
    const stage = options.dropStage === "mixed"
      ? MEMBER_STAGES[k % MEMBER_STAGES.length]
      : options.dropStage;
    dropAt.set(member, TRANSITIONS[stage].sends);
  }
  return dropAt;
}

/** The answer a killed first leader never sends: the one that enters `stage`. */
function answerInto(stage: KillStage): MessageType {
  return MEMBER_STAGES.map((s) => TRANSITIONS[s]).find((t) => t.next === stage)!.answer!;
}

/** What a round's run recorded. */
class RoundLog {
  readonly bytes: number[];
  readonly leaderBytes = new Map<number, number>();
  /** Answer bytes by sender, then by message type. */
  readonly leaderByType = new Map<number, Record<string, number>>();
  readonly timings: { leader: Record<string, number>; members: Map<string, number[]> } = {
    leader: {},
    members: new Map(),
  };
  readonly refusals: string[] = [];
  readonly internalErrors: string[] = [];
  final: Extract<ProtocolEvent, { type: "final" }> | undefined;
  failure: string | undefined;
  /** The first `outcome-unknown` (a member that cannot tell how the round ended). */
  unknown: string | undefined;

  constructor(readonly n: number) {
    this.bytes = new Array<number>(n).fill(0);
  }

  event(member: number, e: ProtocolEvent): void {
    if (e.type === "refused") this.refusals.push(`member ${member}: ${e.error.message}`);
    else if (e.type === "final" && this.final === undefined) this.final = e;
    else if (e.type === "round-failed") this.failure ??= `member ${member}: ${e.reason}`;
    else if (e.type === "outcome-unknown") {
      this.unknown ??= `member ${member}: outcome unknown: ${e.reason}`;
    } else if (e.type === "internal-error") {
      this.internalErrors.push(`member ${member}: ${e.message}`);
    }
  }

  time(member: number, role: "leader" | "member", stage: string, ms: number): void {
    if (role === "leader") {
      this.timings.leader[stage] = (this.timings.leader[stage] ?? 0) + ms;
      return;
    }
    const list = this.timings.members.get(stage) ?? new Array<number>(this.n).fill(0);
    list[member] += ms;
    this.timings.members.set(stage, list);
  }

  stageTimings(): StageTimings {
    const members: StageTimings["members"] = {};
    for (const [stage, list] of this.timings.members) {
      members[stage] = { total: list.reduce((a, b) => a + b, 0), max: Math.max(...list) };
    }
    return { leader: this.timings.leader, members };
  }
}

/** An endpoint whose calls are timed into `log` with `clock`, by the stage of what they handle. */
function timed(
  endpoint: Endpoint,
  member: number,
  roster: Roster,
  log: RoundLog,
  clock: () => number,
): SimNode {
  return {
    async receive(frame, from, now) {
      // The header alone, read in place: decoding the whole frame here too would add the
      // simulator's own copy of every frame to the process CPU the bench reports.
      const type = (frameHeader(frame) ?? openFrame(frame, roster)).type;
      const started = clock();
      const out = await endpoint.receive(frame, from, now);
      log.time(member, isCollected(type) ? "leader" : "member", stageOf(type), clock() - started);
      return out;
    },
    async tick(now) {
      const started = clock();
      const out = await endpoint.tick(now);
      log.time(member, "member", "timeout", clock() - started);
      return out;
    },
    nextTimeout: () => endpoint.nextTimeout(),
  };
}

function isCollected(type: MessageType): boolean {
  return MEMBER_STAGES.some((s) => TRANSITIONS[s].sends === type);
}

function isAnswer(type: MessageType): boolean {
  return MEMBER_STAGES.some((s) => TRANSITIONS[s].answer === type);
}

async function simulateRound(
  roster: Roster,
  endpoints: readonly Endpoint[],
  round: number,
  options: SimOptions,
): Promise<RoundReport> {
  const n = roster.members.length;
  const log = new RoundLog(n);
  const inputs = roundInputs(roster, round, options.seed, options.dp?.withhold, options);
  const dropAt = dropouts(roster, round, options);
  const leader0 = leaderOf(roster, round, 0);
  const killAt = options.killLeaderAt === undefined ? undefined : answerInto(options.killLeaderAt);
  const clock = options.clock;
  const nodes: SimNode[] = endpoints.map((e, i) =>
    clock === undefined ? e : timed(e, i, roster, log, clock)
  );
  const net = new SimNetwork(roster, nodes, { latency: options.latencyMs ?? 1, record: false });
  net.onEvent = (l) => log.event(l.member, l.event);
  net.intercept = (w: Wire) => {
    const dies = dropAt.get(w.from) === w.type || (w.from === leader0 && w.type === killAt);
    if (dies) {
      net.dead.add(w.from); // it vanishes before this send (and everything after it)
      return [];
    }
    log.bytes[w.from] += w.frame.length;
    if (isAnswer(w.type)) {
      log.leaderBytes.set(w.from, (log.leaderBytes.get(w.from) ?? 0) + w.frame.length);
      const byType = log.leaderByType.get(w.from) ?? {};
      byType[w.type] = (byType[w.type] ?? 0) + w.frame.length;
      log.leaderByType.set(w.from, byType);
    }
    return undefined;
  };
  for (let i = 0; i < n; i++) {
    const started = clock?.() ?? 0;
    await net.call(i, () => endpoints[i].submit(round, inputs.quantized[i].slice(), 0));
    if (clock !== undefined) log.time(i, "member", "advertise", clock() - started);
  }
  await net.run({ until: () => log.final !== undefined, maxTime: 60 * roster.viewTimeoutMs });
  return await report(roster, round, options, inputs, log, dropAt, net.now);
}

async function report(
  roster: Roster,
  round: number,
  options: SimOptions,
  inputs: RoundInputs,
  log: RoundLog,
  dropAt: ReadonlyMap<number, MessageType>,
  now: number,
): Promise<RoundReport> {
  const n = roster.members.length;
  const q = roster.quantization;
  const leader0 = leaderOf(roster, round, 0);
  const final = log.final;
  const dropped = [...dropAt.keys()].concat(options.killLeaderAt ? [leader0] : []);
  const leaderIndex = final ? leaderOf(roster, round, final.view) : leader0;
  const leaderBytes = (i: number) => log.leaderBytes.get(i) ?? 0;
  const base = {
    round,
    view: final?.view ?? 0,
    leader: roster.members[leaderIndex].id,
    dropped: dropped.sort((a, b) => a - b).map((i) => roster.members[i].id),
    errorBound: q.errorBound,
    virtualLatencyMs: now,
    timings: log.stageTimings(),
    bytes: {
      memberAvg: log.bytes.reduce((a, b) => a + b, 0) / n - leaderBytes(leaderIndex) / n,
      memberMax: Math.max(...log.bytes.map((b, i) => b - leaderBytes(i))),
      leader: leaderBytes(leaderIndex),
      leaderByType: log.leaderByType.get(leaderIndex) ?? {},
    },
    refusals: log.refusals,
  };
  if (final === undefined || log.internalErrors.length > 0) {
    return {
      ...base,
      survivors: final?.members.length ?? 0,
      members: final?.members.map((i) => roster.members[i].id) ?? [],
      exact: false,
      verified: false,
      maxAbsError: Infinity,
      failure: final === undefined
        ? [log.failure ?? log.unknown ?? "no final certificate", ...log.internalErrors].join("; ")
        : `internal errors: ${log.internalErrors.join("; ")}`,
    };
  }
  // With groups the body is the total, then each included group's sum.
  const total = final.aggregate.subarray(0, vectorLength(roster));
  let exact = equalBytes(
    u32Bytes(plainSum(inputs, final.members, vectorLength(roster))),
    u32Bytes(total),
  );
  let verified = false;
  let groups: GroupReport[] | undefined;
  let robust: CertifiedGroupSums["robust"];
  try {
    const v = await verifyFinalCertificate(roster, final.certificate, u32Bytes(final.aggregate));
    verified = true;
    if (v.groups !== undefined) {
      options.onGroups?.(round, v.groups);
      groups = groupReports(roster, inputs, v.groups);
      exact &&= groups.every((g) => g.exact);
      robust = v.groups.robust;
    }
  } catch (err) {
    log.refusals.push(`offline verification: ${(err as Error).message}`);
  }
  if (inputs.dp !== undefined) {
    const dp = dpRoundReport(
      roster,
      round,
      inputs.dp,
      inputs.floats,
      final.members,
      final.aggregate,
      options.dp?.withhold ?? 0,
    );
    return {
      ...base,
      survivors: final.members.length,
      members: final.members.map((i) => roster.members[i].id),
      exact,
      verified,
      maxAbsError: dp.maxAbsError,
      errorBound: Infinity, // noise: no proven bound (the `dp` figures say how much there is)
      dp,
    };
  }
  const attacked = inputs.byzantine !== undefined;
  const honest = attacked ? honestMean(roster, inputs, final.members) : undefined;
  const plainMean = dequantizeMean(total, q, final.members.length);
  return {
    ...base,
    survivors: final.members.length,
    members: final.members.map((i) => roster.members[i].id),
    exact,
    verified,
    maxAbsError: maxAbsError(roster, inputs, final.members, total),
    ...(groups === undefined ? {} : { groups, bodyBytes: final.aggregate.byteLength }),
    ...(inputs.byzantine === undefined
      ? {}
      : { byzantine: inputs.byzantine.map((i) => roster.members[i].id) }),
    ...(honest === undefined ? {} : { plainError: relativeError(plainMean, honest) }),
    ...(honest === undefined || robust === undefined
      ? {}
      : { robustError: relativeError(robust.result, honest) }),
    ...(robust === undefined ? {} : {
      robust: {
        rule: describeRobustRule(robust.rule),
        kept: robust.kept,
        discarded: robust.discarded,
        filtered: robust.filtered,
        downWeighted: robust.downWeighted,
      },
    }),
  };
}

/**
 * The weighted mean of the honest members among `members` (their updates clipped as the
 * quantizer clips them), in float64; undefined when none is honest.
 */
function honestMean(
  roster: Roster,
  inputs: RoundInputs,
  members: readonly number[],
): Float64Array | undefined {
  const bad = new Set(inputs.byzantine ?? []);
  const c = roster.quantization.clip;
  const out = new Float64Array(roster.dim);
  let weight = 0;
  for (const m of members) {
    if (bad.has(m)) continue;
    weight += inputs.weights[m];
    const x = inputs.floats[m];
    for (let j = 0; j < out.length; j++) {
      out[j] += inputs.weights[m] * Math.max(-c, Math.min(c, x[j]));
    }
  }
  if (weight === 0) return undefined;
  for (let j = 0; j < out.length; j++) out[j] /= weight;
  return out;
}

/** ‖a − h‖ / ‖h‖ in float64. */
function relativeError(a: ArrayLike<number>, h: Float64Array): number {
  let num = 0, den = 0;
  for (let j = 0; j < h.length; j++) {
    num += (a[j] - h[j]) ** 2;
    den += h[j] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Each group of the round: its certified members and weight, and whether its sum is exact. */
function groupReports(
  roster: Roster,
  inputs: RoundInputs,
  groups: CertifiedGroupSums,
): GroupReport[] {
  return groups.partition.map((_, j): GroupReport => {
    const g = groups.included.find((x) => x.group === j);
    if (g === undefined) {
      return { group: j, members: [], weight: 0, included: false, exact: true };
    }
    const exact = equalBytes(
      u32Bytes(plainSum(inputs, g.members, vectorLength(roster))),
      u32Bytes(g.sum),
    );
    return {
      group: j,
      members: g.members.map((i) => roster.members[i].id),
      weight: g.weight,
      included: true,
      exact,
    };
  });
}

/** The plaintext sum (mod 2^32) of `members`' quantized inputs: what the aggregate must be. */
function plainSum(inputs: RoundInputs, members: readonly number[], words: number): Uint32Array {
  const sum = new Uint32Array(words);
  for (const m of members) {
    const v = inputs.quantized[m];
    for (let j = 0; j < sum.length; j++) sum[j] = sum[j] + v[j];
  }
  return sum;
}

/** Largest error of the published weighted mean against the float64 mean of the clipped inputs. */
function maxAbsError(
  roster: Roster,
  inputs: RoundInputs,
  members: readonly number[],
  total: Uint32Array,
): number {
  const q = roster.quantization;
  const mean = dequantizeMean(total, q, members.length);
  let wsum = 0;
  for (const m of members) wsum += inputs.weights[m];
  let worst = 0;
  for (let j = 0; j < roster.dim; j++) {
    let acc = 0;
    for (const m of members) {
      acc += inputs.weights[m] * Math.max(-q.clip, Math.min(q.clip, inputs.floats[m][j]));
    }
    worst = Math.max(worst, Math.abs(mean[j] - acc / wsum));
  }
  return worst;
}
