/**
 * The protocol's in-memory network (`protocol/sim/network.ts`) fitted out for the state-machine,
 * endpoint and certificate tests: real {@link Endpoint}s ({@link EndpointNet}), or bare
 * {@link Participant}/{@link Leader} machines ({@link MachineNet}), whose clock the test sets by
 * hand and whose frames it can hold back and release. Federations, inputs and frames come from
 * `_fixtures.ts` and `_frames.ts`; the scripted attacks' driver is `_federation.ts`.
 *
 * @module
 */
import { Endpoint } from "../../protocol/round/endpoint.ts";
import type { Output } from "../../protocol/round/events.ts";
import { Leader } from "../../protocol/round/leader.ts";
import { inlineExpander, type MaskExpander } from "../../protocol/math/masking.ts";
import { openFrame, TO_LEADER } from "../../protocol/wire/frame.ts";
import { Participant } from "../../protocol/round/participant.ts";
import { Publication } from "../../protocol/round/publication.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { SimNetwork, type SimNode, type Wire } from "../../protocol/sim/mod.ts";
import { type Federation, inputsFor, machineConfig, rngFor } from "./_fixtures.ts";

/** One endpoint per member on a {@link SimNetwork}. */
export class EndpointNet extends SimNetwork {
  readonly endpoints: Endpoint[];

  constructor(fed: Federation, expander: MaskExpander = inlineExpander, label = "endpoint") {
    const endpoints = fed.signers.map((_, self) =>
      new Endpoint(machineConfig(fed, self, rngFor(label, self), expander))
    );
    super(fed.roster, endpoints);
    this.endpoints = endpoints;
  }

  /** Submits `inputs[i]` (a copy) for every member in `members` (default: all). */
  async submit(
    round: number,
    inputs: readonly Uint32Array[],
    members: readonly number[] = inputs.map((_, i) => i),
  ): Promise<void> {
    for (const i of members) {
      await this.call(i, () => this.endpoints[i].submit(round, inputs[i].slice(), this.now));
    }
  }

  close(): void {
    for (const e of this.endpoints) e.close();
  }
}

/**
 * Bare machines of one round on a {@link SimNetwork}: a {@link Participant} per member with
 * input (a {@link Publication}, an observer, for a member without), and {@link Leader}s created
 * for each session on the first frame addressed to them, exactly where the schedule puts them.
 * Routing mirrors the endpoint's, minus its limits; events are logged with the machine (`role`)
 * that reported them. The participants take ownership of the input arrays (and wipe them): pass
 * copies to keep.
 */
export class MachineNet extends SimNetwork {
  readonly fed: Federation;
  readonly round: number;
  /** Each member's participant, or (for a member without input) its observer. */
  readonly participants: (Participant | Publication)[];
  /** The input arrays the participants own (they wipe them when the round ends). */
  readonly inputs: readonly (Uint32Array | undefined)[];
  readonly leaders = new Map<string, Leader>();
  /** Leader-bound frames that reached a member not leading their session (dropped). */
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
    const nodes: SimNode[] = [];
    super(fed.roster, nodes, { broadcastToSelf: true });
    for (let to = 0; to < fed.signers.length; to++) {
      nodes.push({
        receive: (frame, from, now) => this.#route(to, frame, from, now),
        tick: () => Promise.resolve([]),
        nextTimeout: () => undefined,
      });
    }
    this.roleOf = (w) => TO_LEADER.has(w.type) ? "leader" : "participant";
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
      if (p instanceof Participant) {
        await this.call(i, () => p.start(this.now, view), "participant");
      }
    }
  }

  /** Runs every machine's timeouts at the current time (participants, then leaders), then delivers. */
  override async tick(): Promise<void> {
    for (const [i, p] of this.participants.entries()) {
      await this.call(i, () => p.handleTimeout(this.now), "participant");
    }
    for (const l of this.leaders.values()) {
      const self = leaderOf(this.roster, this.round, l.session.view);
      await this.call(self, () => l.handleTimeout(this.now), "leader");
    }
    await this.deliver();
  }

  /**
   * Delivers the first held frame straight to member `x`'s participant; returns the outputs and
   * what each is (the event type or the message type).
   */
  async deliverHeld(x: number): Promise<{ out: Output[]; kinds: string[] }> {
    const [held] = this.held;
    const out = await this.toParticipant(x, held.frame, held.from);
    const kinds = out.map((o) =>
      o.kind === "event" ? o.event.type : openFrame(o.frame, this.roster).type
    );
    return { out, kinds };
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
 * view 0, with every frame delivered that `hold` does not set aside.
 */
export async function startedNet(
  fed: Federation,
  round: number,
  hold?: (m: Wire) => boolean,
): Promise<MachineNet> {
  const net = new MachineNet(fed, round, inputsFor(fed.roster, round));
  net.hold = hold;
  await net.start();
  await net.deliver();
  return net;
}
