/**
 * The in-process simulator: every member is a real {@link Endpoint} (participant and, when
 * scheduled, leader state machines); frames travel through an in-memory network with a fixed
 * latency on a virtual clock, so timeouts and view changes happen without waiting. Members
 * drop out at a chosen stage (they vanish at the moment they would send that stage's message)
 * and the leader can be killed mid-round.
 *
 * For every round it checks the published aggregate against the plaintext sum of the
 * survivors' quantized inputs (bit for bit), verifies the final certificate offline, and
 * measures CPU time per stage and bytes sent.
 *
 * @module
 */
import { toHex } from "../../protocol/encoding/bytes.ts";
import { verifyFinalCertificate } from "../../protocol/certificate/final.ts";
import { type Rng, seededRng, sha256 } from "../../protocol/crypto/mod.ts";
import { Endpoint } from "../../protocol/round/endpoint.ts";
import type { Output, ProtocolEvent } from "../../protocol/round/events.ts";
import { defaultHararyThreshold, secAggPlusGraph } from "../../protocol/graph/secagg_plus.ts";
import { inlineExpander, type MaskExpander } from "../../protocol/math/masking.ts";
import { type MessageType, openFrame } from "../../protocol/wire/frame.ts";
import { dequantizeMean, quantize } from "../../protocol/math/quantize.ts";
import { createRoster, type Member, type Roster } from "../../protocol/federation/roster.ts";
import { type GraphSettings } from "../../protocol/graph/graphs.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { MemberSigner } from "../../protocol/federation/signer.ts";

/** The stage at which dropped members vanish. */
export type DropStage = "advertise" | "share" | "masked" | "consistency" | "unmask" | "mixed";

/** The message a member sends in each stage: a dropped member dies instead of sending it. */
const STAGE_MESSAGE: Record<Exclude<DropStage, "mixed">, MessageType> = {
  advertise: "advertiseKeys",
  share: "shareKeys",
  masked: "maskedInput",
  consistency: "approval",
  unmask: "unmask",
};
const MIXED: Exclude<DropStage, "mixed">[] = [
  "advertise",
  "share",
  "masked",
  "consistency",
  "unmask",
];

/** Simulation settings. */
export interface SimOptions {
  readonly nodes: number;
  readonly dim: number;
  /** Fraction of members that drop out each round (capped at n − t). */
  readonly dropout: number;
  readonly dropStage: DropStage;
  /** `complete`, or `sparse` (SecAgg+ Harary graph; degree from Bell et al. unless given). */
  readonly graph: "complete" | "sparse";
  readonly degree?: number;
  readonly seed: number;
  readonly pq: boolean;
  readonly rounds: number;
  /** Kill the leader of view 0 when it is about to send this stage's relay (view change). */
  readonly killLeaderAt?: "share" | "masked" | "consistency" | "unmask";
  readonly clip?: number;
  readonly maxWeight?: number;
  readonly latencyMs?: number;
  readonly expander?: MaskExpander;
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
  readonly round: number;
  readonly view: number;
  readonly leader: string;
  readonly survivors: number;
  readonly members: readonly string[];
  readonly dropped: readonly string[];
  readonly exact: boolean;
  readonly verified: boolean;
  readonly maxAbsError: number;
  readonly errorBound: number;
  /** Virtual time from the first submission to the final certificate (ms). */
  readonly virtualLatencyMs: number;
  readonly timings: StageTimings;
  readonly bytes: {
    readonly memberAvg: number;
    readonly memberMax: number;
    readonly leader: number;
  };
  readonly refusals: readonly string[];
  readonly failure?: string;
}

/** The whole run. */
export interface SimReport {
  readonly nodes: number;
  readonly dim: number;
  readonly mode: "classical" | "post-quantum";
  readonly graph: string;
  readonly threshold: number;
  readonly rounds: readonly RoundReport[];
}

/** Which stage a frame of each type is processed in, by the role that receives it. */
const STAGE_OF: Record<MessageType, string> = {
  advertiseKeys: "advertise",
  keyList: "share",
  shareKeys: "share",
  shareDelivery: "masked",
  maskedInput: "masked",
  consistencyRequest: "consistency",
  approval: "consistency",
  unmaskRequest: "unmask",
  unmask: "unmask",
  certificate: "publish",
  cosign: "final",
};

interface Item {
  at: number;
  seq: number;
  to: number;
  kind: "frame" | "tick" | "submit";
  frame?: Uint8Array;
  from?: number;
}

/** A min-heap of scheduled deliveries ordered by (time, insertion). */
class Queue {
  #heap: Item[] = [];
  #seq = 0;
  get size(): number {
    return this.#heap.length;
  }
  push(item: Omit<Item, "seq">): void {
    const h = this.#heap;
    h.push({ ...item, seq: this.#seq++ });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }
  pop(): Item | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Item, b: Item): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function rngFor(seed: number, ...labels: (string | number)[]): Rng {
  return seededRng(sha256(new TextEncoder().encode(["fedagg-sim", seed, ...labels].join("/"))));
}

/** Builds the members' identities and the roster for a simulation. */
export async function simulatedFederation(
  options: Pick<
    SimOptions,
    "nodes" | "dim" | "seed" | "pq" | "graph" | "degree" | "dropout" | "clip" | "maxWeight"
  >,
): Promise<{ roster: Roster; signers: MemberSigner[] }> {
  const { nodes: n, seed } = options;
  const signers: MemberSigner[] = [];
  const members: Member[] = [];
  for (let i = 0; i < n; i++) {
    const rng = rngFor(seed, "identity", i);
    const signer = await MemberSigner.fromSeeds(rng(32), options.pq ? rng(32) : undefined);
    signers.push(signer);
    members.push({
      id: `node-${String(i).padStart(3, "0")}`,
      signingKey: signer.signingKey,
      pqSigningKey: signer.pqSigningKey,
    });
  }
  let graph: GraphSettings = { kind: "complete" };
  if (options.graph === "sparse") {
    graph = options.degree !== undefined
      ? {
        kind: "harary",
        degree: options.degree,
        threshold: defaultHararyThreshold(options.degree),
      }
      : secAggPlusGraph({
        n,
        corruptFraction: 0.05,
        dropoutFraction: Math.min(Math.max(options.dropout, 0.05), 0.3),
      });
  }
  const roster = createRoster({
    federation: "sim",
    members,
    mode: options.pq ? "post-quantum" : "classical",
    dim: options.dim,
    clip: options.clip ?? 1,
    maxWeight: options.maxWeight ?? 100,
    graph,
    stageTimeoutMs: 1000,
    advertiseTimeoutMs: 1000,
    viewTimeoutMs: 3000,
  });
  // Members are sorted by id, which matches creation order (zero-padded ids).
  return { roster, signers };
}

/** Runs the simulation. */
export async function simulate(options: SimOptions): Promise<SimReport> {
  const { roster, signers } = await simulatedFederation(options);
  const n = roster.members.length;
  const expander = options.expander ?? inlineExpander;
  const endpoints = signers.map((signer, self) =>
    new Endpoint({ roster, self, signer, rng: rngFor(options.seed, "member", self), expander })
  );
  const rounds: RoundReport[] = [];
  for (let round = 0; round < options.rounds; round++) {
    rounds.push(await simulateRound(roster, endpoints, round, options));
  }
  for (const e of endpoints) e.close();
  return {
    nodes: n,
    dim: roster.dim,
    mode: roster.mode,
    graph: roster.graph.kind === "complete"
      ? "complete"
      : `harary(k=${roster.graph.degree}, t=${roster.graph.threshold})`,
    threshold: roster.threshold,
    rounds,
  };
}

async function simulateRound(
  roster: Roster,
  endpoints: Endpoint[],
  round: number,
  options: SimOptions,
): Promise<RoundReport> {
  const n = roster.members.length;
  const latency = options.latencyMs ?? 1;
  const q = roster.quantization;
  const leader0 = leaderOf(roster, round, 0);
  // Inputs: seeded floats in [−1.2c, 1.2c] (some clipped) and weights in [1, maxWeight].
  const inputRng = rngFor(options.seed, "input", round);
  const floats: Float32Array[] = [];
  const weights: number[] = [];
  const quantized: Uint32Array[] = [];
  for (let i = 0; i < n; i++) {
    const raw = new Uint32Array(inputRng(4 * roster.dim).buffer.slice(0));
    const x = new Float32Array(roster.dim);
    for (let j = 0; j < x.length; j++) x[j] = (raw[j] / 2 ** 32 * 2.4 - 1.2) * q.clip;
    const w = 1 + (new DataView(inputRng(4).buffer).getUint32(0) % q.maxWeight);
    floats.push(x);
    weights.push(w);
    quantized.push(quantize(x, w, q, rngFor(options.seed, "rounding", round, i)));
  }
  // Dropouts: never the first leader (killing it is a separate option), at most n − t.
  const budget = Math.min(Math.round(options.dropout * n), n - roster.threshold);
  const pick = rngFor(options.seed, "dropouts", round);
  const candidates = [...Array(n).keys()].filter((i) => i !== leader0);
  const dropStageOf = new Map<number, MessageType>();
  for (let k = 0; k < budget; k++) {
    const j = new DataView(pick(4).buffer).getUint32(0) % candidates.length;
    const member = candidates.splice(j, 1)[0];
    const stage = options.dropStage === "mixed" ? MIXED[k % MIXED.length] : options.dropStage;
    dropStageOf.set(member, STAGE_MESSAGE[stage]);
  }
  const killLeaderType: MessageType | undefined = options.killLeaderAt === undefined
    ? undefined
    : ({
      share: "keyList",
      masked: "shareDelivery",
      consistency: "consistencyRequest",
      unmask: "unmaskRequest",
    } as const)[
      options.killLeaderAt
    ];
  const dead = new Set<number>();
  const bytes = new Array<number>(n).fill(0);
  const leaderBytes = new Map<number, number>();
  const timings: {
    leader: Record<string, number>;
    members: Record<string, { total: number; max: number }>;
  } = {
    leader: {},
    members: {},
  };
  const perMember = new Map<string, number[]>();
  const refusals: string[] = [];
  const internalErrors: string[] = [];
  let final: Extract<ProtocolEvent, { type: "final" }> | undefined;
  let failure: string | undefined;
  const queue = new Queue();
  const scheduledTick = new Array<number | undefined>(n).fill(undefined);
  for (let i = 0; i < n; i++) queue.push({ at: 0, to: i, kind: "submit" });

  const emit = (from: number, outputs: Output[], now: number) => {
    for (const o of outputs) {
      if (o.kind === "event") {
        const e = o.event;
        if (e.type === "refused") refusals.push(`member ${from}: ${e.error.message}`);
        else if (e.type === "final" && final === undefined) final = e;
        else if (e.type === "round-failed") failure ??= `member ${from}: ${e.reason}`;
        else if (e.type === "internal-error") {
          internalErrors.push(`member ${from}: ${e.message}`);
        }
        continue;
      }
      const type = peekType(roster, o.frame);
      const dropAt = dropStageOf.get(from);
      const isLeaderRelay = from === leader0 && type === killLeaderType;
      if ((dropAt !== undefined && type === dropAt) || isLeaderRelay) {
        dead.add(from);
        return; // it vanished before this send (and everything after it)
      }
      const targets = o.kind === "send" ? [o.to] : [...Array(n).keys()].filter((i) => i !== from);
      for (const to of targets) {
        bytes[from] += o.frame.length;
        if (isFromLeaderRole(type)) {
          leaderBytes.set(from, (leaderBytes.get(from) ?? 0) + o.frame.length);
        }
        queue.push({ at: now + latency, to, kind: "frame", frame: o.frame, from });
      }
    }
  };
  const scheduleTick = (i: number) => {
    const t = endpoints[i].nextTimeout();
    if (t !== undefined && (scheduledTick[i] === undefined || t < scheduledTick[i]!)) {
      scheduledTick[i] = t;
      queue.push({ at: t, to: i, kind: "tick" });
    }
  };
  const record = (member: number, role: "leader" | "member", stage: string, ms: number) => {
    if (role === "leader") {
      timings.leader[stage] = (timings.leader[stage] ?? 0) + ms;
      return;
    }
    const key = stage;
    const list = perMember.get(key) ?? new Array<number>(n).fill(0);
    list[member] += ms;
    perMember.set(key, list);
  };

  let now = 0;
  const maxVirtual = 60 * roster.viewTimeoutMs;
  while (queue.size > 0 && final === undefined) {
    const item = queue.pop()!;
    now = item.at;
    if (now > maxVirtual) break;
    const i = item.to;
    if (dead.has(i)) continue;
    const started = performance.now();
    let outputs: Output[];
    let role: "leader" | "member" = "member";
    let stage = "timeout";
    if (item.kind === "submit") {
      outputs = await endpoints[i].submit(round, quantized[i].slice(), now);
      stage = "advertise";
    } else if (item.kind === "tick") {
      if (scheduledTick[i] === item.at) scheduledTick[i] = undefined;
      outputs = await endpoints[i].tick(now);
    } else {
      const type = peekType(roster, item.frame!);
      stage = STAGE_OF[type];
      role = isToLeader(type) ? "leader" : "member";
      outputs = await endpoints[i].receive(item.frame!, item.from!, now);
    }
    record(i, role, stage, performance.now() - started);
    emit(i, outputs, now);
    scheduleTick(i);
  }
  for (const [stage, list] of perMember) {
    timings.members[stage] = { total: list.reduce((a, b) => a + b, 0), max: Math.max(...list) };
  }

  const dropped = [...dropStageOf.keys()].concat(options.killLeaderAt ? [leader0] : []);
  const leaderIndex = final ? leaderOf(roster, round, final.view) : leader0;
  const base = {
    round,
    view: final?.view ?? 0,
    leader: roster.members[leaderIndex].id,
    dropped: dropped.sort((a, b) => a - b).map((i) => roster.members[i].id),
    errorBound: q.errorBound,
    virtualLatencyMs: now,
    timings,
    bytes: {
      memberAvg: bytes.reduce((a, b) => a + b, 0) / n - (leaderBytes.get(leaderIndex) ?? 0) / n,
      memberMax: Math.max(...bytes.map((b, i) => b - (leaderBytes.get(i) ?? 0))),
      leader: leaderBytes.get(leaderIndex) ?? 0,
    },
    refusals,
  };
  if (final === undefined) {
    return {
      ...base,
      survivors: 0,
      members: [],
      exact: false,
      verified: false,
      maxAbsError: Infinity,
      failure: [failure ?? "no final certificate", ...internalErrors].join("; "),
    };
  }
  // Exactness: the plaintext sum of the certified members' quantized inputs.
  const expected = new Uint32Array(roster.dim + 1);
  for (const m of final.members) {
    const v = quantized[m];
    for (let j = 0; j < expected.length; j++) expected[j] = expected[j] + v[j];
  }
  if (internalErrors.length > 0) {
    return {
      ...base,
      survivors: final.members.length,
      members: final.members.map((i) => roster.members[i].id),
      exact: false,
      verified: false,
      maxAbsError: Infinity,
      failure: `internal errors: ${internalErrors.join("; ")}`,
    };
  }
  const exact = toHex(sha256(new Uint8Array(expected.buffer))) ===
    toHex(
      sha256(
        new Uint8Array(
          final.aggregate.buffer,
          final.aggregate.byteOffset,
          final.aggregate.byteLength,
        ),
      ),
    );
  let verified = false;
  try {
    const body = new Uint8Array(
      final.aggregate.buffer,
      final.aggregate.byteOffset,
      final.aggregate.byteLength,
    );
    await verifyFinalCertificate(roster, final.certificate, body);
    verified = true;
  } catch (err) {
    refusals.push(`offline verification: ${(err as Error).message}`);
  }
  // Error against the float64 weighted mean of the clipped inputs.
  const mean = dequantizeMean(final.aggregate, q, final.members.length);
  let wsum = 0;
  for (const m of final.members) wsum += weights[m];
  let maxAbsError = 0;
  for (let j = 0; j < roster.dim; j++) {
    let acc = 0;
    for (const m of final.members) {
      acc += weights[m] * Math.max(-q.clip, Math.min(q.clip, floats[m][j]));
    }
    maxAbsError = Math.max(maxAbsError, Math.abs(mean[j] - acc / wsum));
  }
  return {
    ...base,
    survivors: final.members.length,
    members: final.members.map((i) => roster.members[i].id),
    exact,
    verified,
    maxAbsError,
  };
}

const typeCache = new WeakMap<Uint8Array, MessageType>();

function peekType(roster: Roster, frame: Uint8Array): MessageType {
  let type = typeCache.get(frame);
  if (type === undefined) typeCache.set(frame, type = openFrame(frame, roster).type);
  return type;
}

function isToLeader(type: MessageType): boolean {
  return type === "advertiseKeys" || type === "shareKeys" || type === "maskedInput" ||
    type === "approval" ||
    type === "unmask";
}

function isFromLeaderRole(type: MessageType): boolean {
  return type === "keyList" || type === "shareDelivery" || type === "consistencyRequest" ||
    type === "unmaskRequest" || type === "certificate";
}
