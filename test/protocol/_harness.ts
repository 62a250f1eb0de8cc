/**
 * Shared fixtures for the state-machine, message and certificate tests: deterministic
 * federations (signers and a roster), quantized inputs, and a tiny in-memory network that
 * delivers frames in FIFO order at a clock the test sets, between real {@link Endpoint}s or
 * between bare {@link Participant}/{@link Leader} machines. Every message can be held back or
 * dropped with a filter, so tests can reorder, stall or withhold any frame.
 *
 * Nothing here is random: every key and input comes from `seededRng` keyed by a label.
 *
 * @module
 */
import { utf8 } from "../../protocol/bytes.ts";
import { encode, type Value } from "../../protocol/codec.ts";
import { type Rng, seededRng, sha256 } from "../../protocol/crypto/mod.ts";
import { Endpoint } from "../../protocol/endpoint.ts";
import type { Output, ProtocolEvent } from "../../protocol/events.ts";
import { Leader } from "../../protocol/leader.ts";
import { inlineExpander, type MaskExpander } from "../../protocol/masking.ts";
import { type MessageType, openFrame, TAG, TO_LEADER } from "../../protocol/messages.ts";
import { Participant } from "../../protocol/participant.ts";
import { quantize } from "../../protocol/quantize.ts";
import {
  createRoster,
  type Member,
  type Roster,
  type RosterSettings,
} from "../../protocol/roster.ts";
import { leaderOf } from "../../protocol/schedule.ts";
import type { Session } from "../../protocol/session.ts";
import { MemberSigner, type Signature } from "../../protocol/signer.ts";

/** A deterministic rng for `label`. */
export function rngFor(...label: (string | number)[]): Rng {
  return seededRng(sha256(utf8(["fedagg-test", ...label].join("/"))));
}

/** Options of {@link federation}: roster settings minus the members, plus their count. */
export type FederationOptions =
  & Partial<Omit<RosterSettings, "members">>
  & { readonly n: number; readonly seed?: string };

/** A federation's signers (index = roster index) and its roster. */
export interface Federation {
  readonly roster: Roster;
  readonly signers: readonly MemberSigner[];
}

const signerCache = new Map<string, MemberSigner>();

/** Signers for `n` members and a roster over them (ids `m-000`, … so roster order = creation). */
export async function federation(options: FederationOptions): Promise<Federation> {
  const pq = options.mode === "post-quantum";
  const signers: MemberSigner[] = [];
  const members: Member[] = [];
  for (let i = 0; i < options.n; i++) {
    const key = `${options.seed ?? "fed"}/${i}/${pq}`;
    let signer = signerCache.get(key);
    if (signer === undefined) {
      const rng = rngFor("identity", key);
      signer = await MemberSigner.fromSeeds(rng(32), pq ? rng(32) : undefined);
      signerCache.set(key, signer);
    }
    signers.push(signer);
    members.push({
      id: `m-${String(i).padStart(3, "0")}`,
      signingKey: signer.signingKey,
      pqSigningKey: signer.pqSigningKey,
    });
  }
  const roster = createRoster({
    federation: "test",
    dim: 8,
    maxWeight: 10,
    stageTimeoutMs: 1000,
    viewTimeoutMs: 3000,
    ...options,
    members,
  });
  return { roster, signers };
}

/** Quantized inputs (length d + 1) of every member for `round`, with weights in [1, maxWeight]. */
export function inputsFor(roster: Roster, round: number, label = "input"): Uint32Array[] {
  const q = roster.quantization;
  return roster.members.map((_, i) => {
    const rng = rngFor(label, round, i);
    const raw = new Uint32Array(rng(4 * roster.dim).buffer.slice(0));
    const x = new Float32Array(roster.dim);
    for (let j = 0; j < x.length; j++) x[j] = (raw[j] / 2 ** 32 * 2 - 1) * q.clip;
    const w = 1 + (new DataView(rng(4).buffer).getUint32(0) % q.maxWeight);
    return quantize(x, w, q, rngFor(label, "rounding", round, i));
  });
}

/** The plaintext sum (mod 2^32) of the inputs of `members`. */
export function plainSum(inputs: readonly Uint32Array[], members: readonly number[]): Uint32Array {
  const sum = new Uint32Array(inputs[0].length);
  for (const m of members) for (let j = 0; j < sum.length; j++) sum[j] = sum[j] + inputs[m][j];
  return sum;
}

/** The message type of a frame (its header is trusted here: the frame came from our machines). */
export function typeOf(roster: Roster, frame: Uint8Array): MessageType {
  return openFrame(frame, roster).type;
}

/** A frame in flight. */
export interface Msg {
  readonly from: number;
  readonly to: number;
  readonly type: MessageType;
  readonly round: number;
  readonly view: number;
  readonly frame: Uint8Array;
}

/** Something that takes a frame from a peer and answers with outputs (an endpoint's `receive`). */
export type Receiver = (frame: Uint8Array, from: number, now: number) => Promise<Output[]>;

/** Which machine of a member produced an output (known for bare machines only). */
export type Role = "participant" | "leader";

/** An event together with the member (and, for bare machines, the machine) that reported it. */
export interface Logged {
  readonly member: number;
  readonly role: Role | undefined;
  readonly event: ProtocolEvent;
}

/**
 * A FIFO network between `receivers` (index = roster index). Outputs handed to {@link emit} are
 * queued; {@link run} delivers them in order at the current {@link now}. A message for which
 * {@link filter} returns false is not delivered but kept in {@link held} (re-queue it with
 * {@link release}).
 */
export class Net {
  readonly roster: Roster;
  readonly receivers: Receiver[];
  readonly queue: Msg[] = [];
  readonly held: Msg[] = [];
  /** Every event reported, in order. */
  readonly log: Logged[] = [];
  /** Every message handed to the network, in order (delivered or held). */
  readonly sent: Msg[] = [];
  filter: (m: Msg) => boolean = () => true;
  now = 0;
  /** Whether a broadcast is also delivered to its sender (bare machines: yes; endpoints do it). */
  readonly broadcastToSelf: boolean;

  constructor(roster: Roster, receivers: Receiver[], broadcastToSelf: boolean) {
    this.roster = roster;
    this.receivers = receivers;
    this.broadcastToSelf = broadcastToSelf;
  }

  /** Queues the sends of `outputs` from member `from` and logs its events. */
  emit(from: number, outputs: readonly Output[], role?: Role): void {
    for (const o of outputs) {
      if (o.kind === "event") {
        this.log.push({ member: from, role, event: o.event });
        continue;
      }
      const { type, session: { round, view } } = openFrame(o.frame, this.roster);
      const targets = o.kind === "send"
        ? [o.to]
        : this.roster.members.map((_, i) => i).filter((i) => this.broadcastToSelf || i !== from);
      for (const to of targets) {
        const m = { from, to, type, round, view, frame: o.frame };
        this.sent.push(m);
        this.queue.push(m);
      }
    }
  }

  /** Delivers queued messages until none is left (or `limit` deliveries). */
  async run(limit = 1_000_000): Promise<void> {
    for (let k = 0; k < limit && this.queue.length > 0; k++) {
      const m = this.queue.shift()!;
      if (!this.filter(m)) {
        this.held.push(m);
        continue;
      }
      this.emit(m.to, await this.receivers[m.to](m.frame, m.from, this.now), this.roleOf(m));
    }
  }

  /** The machine a delivered message goes to, when the network knows it. */
  protected roleOf(_m: Msg): Role | undefined {
    return undefined;
  }

  /** Moves the held messages matching `pick` back to the queue (bypassing the filter once). */
  async release(pick: (m: Msg) => boolean = () => true): Promise<void> {
    const again = this.held.filter(pick);
    for (const m of again) this.held.splice(this.held.indexOf(m), 1);
    for (const m of again) {
      this.emit(m.to, await this.receivers[m.to](m.frame, m.from, this.now), this.roleOf(m));
    }
    await this.run();
  }

  /** Events of `type` (optionally of one member, and of one of its machines), in order. */
  events<T extends ProtocolEvent["type"]>(
    type: T,
    member?: number,
    role?: Role,
  ): (Extract<ProtocolEvent, { type: T }> & { member: number })[] {
    return this.log
      .filter((l) =>
        l.event.type === type && (member === undefined || l.member === member) &&
        (role === undefined || l.role === role)
      )
      .map((l) =>
        ({ ...l.event, member: l.member }) as Extract<ProtocolEvent, { type: T }> & {
          member: number;
        }
      );
  }

  /** Messages of `type` handed to the network. */
  messages(type: MessageType): Msg[] {
    return this.sent.filter((m) => m.type === type);
  }
}

/** One endpoint per member on a {@link Net}. */
export class EndpointNet extends Net {
  readonly endpoints: Endpoint[];

  constructor(fed: Federation, expander: MaskExpander = inlineExpander, label = "endpoint") {
    const endpoints = fed.signers.map((signer, self) =>
      new Endpoint({ roster: fed.roster, self, signer, rng: rngFor(label, self), expander })
    );
    super(fed.roster, endpoints.map((e) => (f, from, now) => e.receive(f, from, now)), false);
    this.endpoints = endpoints;
  }

  /** Submits `inputs[i]` (a copy) for every member in `members` (default: all). */
  async submit(
    round: number,
    inputs: readonly Uint32Array[],
    members: readonly number[] = inputs.map((_, i) => i),
  ): Promise<void> {
    for (const i of members) {
      this.emit(i, await this.endpoints[i].submit(round, inputs[i].slice(), this.now));
    }
  }

  /** Runs every endpoint's timeouts at the current time. */
  async tick(): Promise<void> {
    for (const [i, e] of this.endpoints.entries()) this.emit(i, await e.tick(this.now));
    await this.run();
  }

  close(): void {
    for (const e of this.endpoints) e.close();
  }
}

/**
 * Bare machines of one round on a {@link Net}: a {@link Participant} per member (with or
 * without input) and {@link Leader}s created for each session on the first frame addressed to
 * them, exactly where the schedule puts them. Routing mirrors the endpoint's, minus its limits.
 * The participants take ownership of the input arrays (and wipe them): pass copies to keep.
 */
export class MachineNet extends Net {
  readonly fed: Federation;
  readonly round: number;
  readonly participants: Participant[];
  /** The input arrays the participants own (they wipe them when the round ends). */
  readonly inputs: readonly (Uint32Array | undefined)[];
  readonly leaders = new Map<string, Leader>();
  /** Refusals by routing (a leader-bound frame at a member that does not lead its session). */
  readonly misrouted: Msg[] = [];
  readonly #expander: MaskExpander;
  readonly #label: string;

  constructor(
    fed: Federation,
    round: number,
    inputs: readonly (Uint32Array | undefined)[],
    expander: MaskExpander = inlineExpander,
    label = "machine",
  ) {
    const receivers: Receiver[] = [];
    super(fed.roster, receivers, true);
    for (let to = 0; to < fed.signers.length; to++) {
      receivers.push((frame, from, now) => this.#route(to, frame, from, now));
    }
    this.fed = fed;
    this.round = round;
    this.participants = fed.signers.map((signer, self) =>
      new Participant(
        { roster: fed.roster, self, signer, rng: rngFor(label, "participant", self), expander },
        round,
        inputs[self],
      )
    );
    this.inputs = inputs;
    this.#expander = expander;
    this.#label = label;
  }

  /** The leader of (round, view), if created. */
  leader(view: number): Leader | undefined {
    return this.leaders.get(`${this.round}/${view}`);
  }

  /** Starts every participant that has an input, in `view`. */
  async start(view = 0): Promise<void> {
    for (const [i, p] of this.participants.entries()) {
      this.emit(i, await p.start(this.now, view), "participant");
    }
  }

  /** Runs every machine's timeouts at the current time, then delivers. */
  async tick(): Promise<void> {
    for (const [i, p] of this.participants.entries()) {
      this.emit(i, await p.handleTimeout(this.now), "participant");
    }
    for (const l of this.leaders.values()) {
      const self = leaderOf(this.roster, this.round, l.session.view);
      this.emit(self, await l.handleTimeout(this.now), "leader");
    }
    await this.run();
  }

  protected override roleOf(m: Msg): Role {
    return TO_LEADER.has(m.type) ? "leader" : "participant";
  }

  /** Delivers `frame` from `from` straight to member `to`'s participant and returns its outputs. */
  async toParticipant(to: number, frame: Uint8Array, from: number): Promise<Output[]> {
    return await this.participants[to].handle(openFrame(frame, this.roster, from), this.now);
  }

  async #route(to: number, frame: Uint8Array, from: number, now: number): Promise<Output[]> {
    const env = openFrame(frame, this.roster, from);
    if (!TO_LEADER.has(env.type)) return await this.participants[to].handle(env, now);
    const { round, view } = env.session;
    if (leaderOf(this.roster, round, view) !== to) {
      this.misrouted.push({ from, to, type: env.type, round, view, frame });
      return [];
    }
    const key = `${round}/${view}`;
    let leader = this.leaders.get(key);
    if (leader === undefined) {
      leader = new Leader({
        roster: this.roster,
        self: to,
        signer: this.fed.signers[to],
        rng: rngFor(this.#label, "leader", to),
        expander: this.#expander,
      }, env.session);
      this.leaders.set(key, leader);
    }
    return await leader.handle(env, now);
  }
}

/**
 * Signs arbitrary payload values with `signer` (a hybrid signature when `hybrid`) and wraps them
 * as a frame `[payload, ed25519, mlDsa65, body?]`, for frames the typed builders would never
 * produce. `signature` replaces the two signature elements.
 */
export async function craftFrame(
  payload: readonly Value[],
  signer: MemberSigner,
  hybrid: boolean,
  options: { body?: Uint8Array; signature?: (s: Signature) => Value[] } = {},
): Promise<Uint8Array> {
  const bytes = encode(payload);
  const sig = await signer.sign(bytes, hybrid);
  const frame: Value[] = [bytes, ...(options.signature?.(sig) ?? [sig.ed25519, sig.mlDsa65])];
  if (options.body !== undefined) frame.push(options.body);
  return encode(frame);
}

/** The payload header of a message of `type` in `session` from `sender`. */
export function header(type: MessageType, session: Session, sender: number): Value[] {
  return [
    TAG[type],
    session.federation,
    session.rosterHash,
    session.round,
    session.view,
    sender,
  ];
}

/** A member that leads none of the given views of `round` (and is not in `avoid`). */
export function follower(
  roster: Roster,
  round: number,
  views: readonly number[] = [0, 1],
  avoid: readonly number[] = [],
): number {
  const leaders = new Set(views.map((v) => leaderOf(roster, round, v)));
  const i = roster.members.findIndex((_, i) => !leaders.has(i) && !avoid.includes(i));
  if (i < 0) throw new Error("no follower available");
  return i;
}
