/**
 * Machine-level networks for the state-machine, endpoint and certificate tests: a tiny in-memory
 * network that delivers frames in FIFO order at a clock the test sets, between real
 * {@link Endpoint}s or between bare {@link Participant}/{@link Leader} machines. Every message
 * can be held back or dropped with a filter, so tests can reorder, stall or withhold any frame.
 * Federations, inputs and frames come from `_fixtures.ts` and `_frames.ts`; hostile networks
 * (interception, forgery, dead members) are `_federation.ts`'s.
 *
 * @module
 */
import { Endpoint } from "../../protocol/round/endpoint.ts";
import type { Output, ProtocolEvent } from "../../protocol/round/events.ts";
import { Leader } from "../../protocol/round/leader.ts";
import { inlineExpander, type MaskExpander } from "../../protocol/math/masking.ts";
import { type MessageType, openFrame, TO_LEADER } from "../../protocol/wire/frame.ts";
import { Participant } from "../../protocol/round/participant.ts";
import { Publication } from "../../protocol/round/publication.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import {
  type EventOf,
  eventsIn,
  type Federation,
  inputsFor,
  type Logged as MemberLogged,
  machineConfig,
  rngFor,
} from "./_fixtures.ts";
import { recipients, type Wire } from "./_frames.ts";

/** Something that takes a frame from a peer and answers with outputs (an endpoint's `receive`). */
export type Receiver = (frame: Uint8Array, from: number, now: number) => Promise<Output[]>;

/** Which machine of a member produced an output (known for bare machines only). */
export type Role = "participant" | "leader";

/** An event together with the member (and, for bare machines, the machine) that reported it. */
export interface Logged extends MemberLogged {
  readonly role: Role | undefined;
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
  readonly queue: Wire[] = [];
  readonly held: Wire[] = [];
  /** Every event reported, in order. */
  readonly log: Logged[] = [];
  /** Every message handed to the network, in order (delivered or held). */
  readonly sent: Wire[] = [];
  filter: (m: Wire) => boolean = () => true;
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
    const n = this.roster.members.length;
    for (const o of outputs) {
      if (o.kind === "event") {
        this.log.push({ member: from, role, event: o.event });
        continue;
      }
      // The header is checked here: the frame came from our own machines.
      const { type, session } = openFrame(o.frame, this.roster);
      for (const to of recipients(o, from, n, this.broadcastToSelf)) {
        const m = { from, to, type, session, frame: o.frame };
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
  protected roleOf(_m: Wire): Role | undefined {
    return undefined;
  }

  /** Moves the held messages matching `pick` back to the queue (bypassing the filter once). */
  async release(pick: (m: Wire) => boolean = () => true): Promise<void> {
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
  ): (EventOf<T> & { member: number })[] {
    const log = role === undefined ? this.log : this.log.filter((l) => l.role === role);
    return eventsIn(log, type, member);
  }

  /** Messages of `type` handed to the network. */
  messages(type: MessageType): Wire[] {
    return this.sent.filter((m) => m.type === type);
  }
}

/** One endpoint per member on a {@link Net}. */
export class EndpointNet extends Net {
  readonly endpoints: Endpoint[];

  constructor(fed: Federation, expander: MaskExpander = inlineExpander, label = "endpoint") {
    const endpoints = fed.signers.map((_, self) =>
      new Endpoint(machineConfig(fed, self, rngFor(label, self), expander))
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
  /** Each member's participant, or (for a member without input) its observer. */
  readonly participants: (Participant | Publication)[];
  /** The input arrays the participants own (they wipe them when the round ends). */
  readonly inputs: readonly (Uint32Array | undefined)[];
  readonly leaders = new Map<string, Leader>();
  /** Refusals by routing (a leader-bound frame at a member that does not lead its session). */
  readonly misrouted: Wire[] = [];
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
    this.participants = fed.signers.map((_, self) => {
      const config = machineConfig(fed, self, rngFor(label, "participant", self), expander);
      const input = inputs[self];
      return input === undefined
        ? new Publication(config, round)
        : new Participant(config, round, input);
    });
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
      if (p instanceof Participant) this.emit(i, await p.start(this.now, view), "participant");
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

  protected override roleOf(m: Wire): Role {
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
      this.misrouted.push({ from, to, type: env.type, session: env.session, frame });
      return [];
    }
    const key = `${round}/${view}`;
    let leader = this.leaders.get(key);
    if (leader === undefined) {
      leader = new Leader(
        machineConfig(this.fed, to, rngFor(this.#label, "leader", to), this.#expander),
        env.session,
      );
      this.leaders.set(key, leader);
    }
    return await leader.handle(env, now);
  }
}

/**
 * A {@link MachineNet} of `round` where every member has its {@link inputsFor} input, started in
 * view 0 and run until nothing is left to deliver; messages `filter` rejects are held.
 */
export async function startedNet(
  fed: Federation,
  round: number,
  filter?: (m: Wire) => boolean,
): Promise<MachineNet> {
  const net = new MachineNet(fed, round, inputsFor(fed.roster, round));
  if (filter) net.filter = filter;
  await net.start();
  await net.run();
  return net;
}
