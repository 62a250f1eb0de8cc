/**
 * An in-memory network of protocol nodes on a virtual clock — the one the unit tests, the
 * adversary tests, the simulator and the examples all run on (in the spirit of quinn-proto's test
 * `Pair`). Sans-IO like the rest of the core: no sockets, no real time.
 *
 * Each node is anything that takes frames and time ({@link SimNode}; an `Endpoint` is one). The
 * network delivers every frame a node sends after a latency (0 by default: in order, at once),
 * and runs each node's timeouts when the clock reaches them. Its knobs:
 *
 * - `latency`: a fixed delay, or one per frame;
 * - `hold`: frames it matches are set aside in `held` until released (reorder, stall, withhold);
 * - `intercept`: every frame a node sends passes through it and may be replaced, dropped or
 *   multiplied (forgery, equivocation, dropouts);
 * - `dead`: members that neither receive nor send any more (frames they sent before they died are
 *   still delivered);
 * - `now`: the virtual clock, which {@link SimNetwork.run} advances to the next frame or timeout
 *   and which tests may also set by hand (then {@link SimNetwork.tick});
 * - `strict`: a node that throws or reports an `internal-error` fails the run at once.
 *
 * **Order of events.** Frames are delivered in order of arrival time, then of sending. When the
 * clock reaches a time at which timeouts are due, every living node whose timeout is due runs it
 * (in roster order) before the frames arriving at that time are delivered.
 *
 * @module
 */
import { decode } from "../encoding/codec.ts";
import type { Roster } from "../federation/roster.ts";
import type { Session } from "../federation/session.ts";
import type { Output, ProtocolEvent } from "../round/events.ts";
import { frameHeader, type MessageType, openFrame, TAG } from "../wire/frame.ts";

/** What the network drives: a member's protocol node (an `Endpoint`, or bare machines). */
export interface SimNode {
  /** Handles a frame that arrived from roster member `from`. */
  receive(frame: Uint8Array, from: number, now: number): Promise<Output[]>;
  /** Runs whatever timeouts are due at `now`. */
  tick(now: number): Promise<Output[]>;
  /** When {@link tick} next needs to run, or undefined. */
  nextTimeout(): number | undefined;
}

/** A frame on the wire. */
export interface Wire {
  /** The sender's roster index. */
  readonly from: number;
  /** The recipient's roster index. */
  readonly to: number;
  /** The frame, as sent. */
  readonly frame: Uint8Array;
  /** Message type, read from the frame's header. */
  readonly type: MessageType;
  /** Session, read from the frame's header. */
  readonly session: Session;
}

/** Which machine of a member produced an event (known for bare machines only). */
export type Role = "participant" | "leader";

/** An event a member reported, when and (for bare machines) by which of its machines. */
export interface Logged {
  /** The roster index of the member that reported it. */
  readonly member: number;
  /** The virtual time of the call that reported it. */
  readonly at: number;
  /** The event. */
  readonly event: ProtocolEvent;
  /** The machine that reported it, for nodes made of bare machines. */
  readonly role?: Role;
}

/** The event of type `T`. */
export type EventOf<T extends ProtocolEvent["type"]> = Extract<ProtocolEvent, { type: T }>;

/**
 * What an interceptor does with a wire the network `net` is sending: undefined passes it, a list
 * replaces it ([] drops it).
 */
export type Interceptor<N extends SimNetwork = SimNetwork> = (
  wire: Wire,
  net: N,
) => Wire[] | undefined | Promise<Wire[] | undefined>;

/** The network's settings. */
export interface SimNetworkOptions {
  /** Delay of every frame (ms of virtual time), or of each; default 0. */
  readonly latency?: number | ((wire: Wire) => number);
  /**
   * Whether a broadcast reaches its sender too. Endpoints hand their own broadcasts to
   * themselves (default false); bare machines need the network to (true).
   */
  readonly broadcastToSelf?: boolean;
  /** Keep every wire sent (`emitted`) and every event (`log`); default true. */
  readonly record?: boolean;
  /** Fail at once when a node throws or reports an `internal-error`; default false. */
  readonly strict?: boolean;
}

/** Why {@link SimNetwork.run} returned. */
export interface RunOptions {
  /** Stop as soon as this holds (checked before every delivery or tick). */
  readonly until?: () => boolean;
  /** Do not move the clock past this (default: now + 12 view timeouts). */
  readonly maxTime?: number;
}

interface Queued {
  readonly at: number;
  readonly seq: number;
  readonly wire: Wire;
}

/**
 * The type and session of a frame from its header, without checking anything else (read in
 * place by `frameHeader`; a header it cannot read is decoded the long way, as before).
 */
export function peekHeader(frame: Uint8Array): { type: MessageType; session: Session } {
  const header = frameHeader(frame);
  if (header !== undefined) return header;
  const outer = decode(frame, frame.length, "frame") as unknown[];
  const fields = decode(outer[0] as Uint8Array, (outer[0] as Uint8Array).length, "payload") as [
    string,
    string,
    Uint8Array,
    number,
    number,
  ];
  const [tag, federation, rosterHash, round, view] = fields;
  const type = (Object.keys(TAG) as MessageType[]).find((t) => TAG[t] === tag)!;
  return { type, session: { federation, rosterHash, round, view } };
}

/** The members a send or broadcast of member `from` goes to (`n` members). */
export function recipients(
  output: Exclude<Output, { kind: "event" }>,
  from: number,
  n: number,
  toSelf: boolean,
): number[] {
  if (output.kind === "send") return [output.to];
  return [...Array(n).keys()].filter((i) => toSelf || i !== from);
}

/**
 * An in-memory network of protocol nodes on a virtual clock (see the module doc).
 *
 * @example Run a simulated round: three endpoints on the in-memory network, one update each
 * ```ts
 * import {
 *   dequantizeMean,
 *   Endpoint,
 *   inlineExpander,
 *   labelledRng,
 *   quantize,
 *   SimNetwork,
 *   simulatedFederation,
 * } from "../../mod.ts";
 *
 * const { roster, signers } = await simulatedFederation({ nodes: 3, dim: 2, seed: 1 });
 * const endpoints = signers.map((signer, self) =>
 *   new Endpoint({ roster, self, signer, rng: labelledRng("ex", self), expander: inlineExpander })
 * );
 * const net = new SimNetwork(roster, endpoints);
 * const updates = [[0.5, -0.5], [0.25, 0], [0, 0.5]];
 * for (const [i, e] of endpoints.entries()) {
 *   const q = quantize(new Float32Array(updates[i]), 1, roster.quantization, labelledRng("q", i));
 *   await net.call(i, () => e.submit(0, q, net.now));
 * }
 * await net.run({ until: () => net.events("final").length === 3 });
 * const [final] = net.events("final");
 * const mean = dequantizeMean(final.aggregate, roster.quantization, final.members.length);
 * if (Math.abs(mean[0] - 0.25) > roster.quantization.errorBound) throw new Error("not the mean");
 * ```
 */
export class SimNetwork {
  /** The roster every node runs. */
  readonly roster: Roster;
  /** The nodes, by roster index. */
  readonly nodes: readonly SimNode[];
  /** The roster's size. */
  readonly n: number;
  /** The virtual clock (ms). */
  now = 0;
  /** Members that neither receive nor send any more. */
  readonly dead: Set<number> = new Set<number>();
  /** Frames this matches are set aside in {@link held} instead of being delivered. */
  hold: ((wire: Wire) => boolean) | undefined;
  /** Every frame a node sends passes through this (see {@link Interceptor}). */
  intercept: Interceptor<this> | undefined;
  /** Frames set aside by {@link hold}, in order. */
  readonly held: Wire[] = [];
  /** Every wire a node produced, before interception, in order (when recording). */
  readonly emitted: Wire[] = [];
  /** Every event reported, in order (when recording). */
  readonly log: Logged[] = [];
  /** Called with every event as it is reported (also when not recording). */
  onEvent: ((logged: Logged) => void) | undefined;
  /** Which machine a delivered frame goes to, for nodes made of bare machines. */
  roleOf: ((wire: Wire) => Role) | undefined;
  readonly #options: Required<Omit<SimNetworkOptions, "latency">>;
  readonly #latency: (wire: Wire) => number;
  readonly #queue: Queued[] = [];
  #seq = 0;
  /**
   * Each node's next timeout as last read (after every call the network makes to it), and a
   * lazy min-heap of (time, node) over those readings: finding the next timer costs O(log n)
   * instead of asking all n nodes after every frame. A node called from outside the network is
   * read again at the start of every {@link run} and {@link tick}.
   */
  readonly #timeouts: (number | undefined)[] = []; // NaN: unknown, read again

  readonly #timerHeap: { at: number; node: number }[] = [];

  /** A network between `nodes` (index = roster index) running `roster`. */
  constructor(roster: Roster, nodes: readonly SimNode[], options: SimNetworkOptions = {}) {
    this.roster = roster;
    this.nodes = nodes;
    this.n = roster.members.length;
    const latency = options.latency ?? 0;
    this.#latency = typeof latency === "number" ? () => latency : latency;
    this.#options = {
      broadcastToSelf: options.broadcastToSelf ?? false,
      record: options.record ?? true,
      strict: options.strict ?? false,
    };
  }

  /** The frames in flight, in delivery order. */
  queued(): Wire[] {
    return [...this.#queue].sort(before).map((q) => q.wire);
  }

  /**
   * Calls member `member`'s node (`fn`, e.g. a submit) at the current time and sends its
   * outputs; resolves to them. A dead member is not called (resolves to []).
   */
  async call(member: number, fn: () => Promise<Output[]>, role?: Role): Promise<Output[]> {
    if (this.dead.has(member)) return [];
    let out: Output[];
    try {
      out = await this.#checked(member, fn);
    } finally {
      this.#readTimeout(member);
    }
    await this.emit(member, out, role);
    return out;
  }

  /**
   * Delivers `frame` to member `to` now, as if it arrived from roster member `from` (by default
   * the frame's signed sender), and sends what comes back; resolves to the events of this call.
   */
  async inject(to: number, frame: Uint8Array, from?: number): Promise<ProtocolEvent[]> {
    const peer = from ?? peekSender(frame);
    const out = await this.call(to, () => this.nodes[to].receive(frame, peer, this.now));
    return out.flatMap((o) => (o.kind === "event" ? [o.event] : []));
  }

  /** Logs the events of `outputs` from member `from` and sends its frames (see the knobs). */
  async emit(from: number, outputs: readonly Output[], role?: Role): Promise<void> {
    for (const o of outputs) {
      if (o.kind === "event") {
        const logged: Logged = { member: from, at: this.now, event: o.event, role };
        if (this.#options.record) this.log.push(logged);
        this.onEvent?.(logged);
        continue;
      }
      if (this.dead.has(from)) continue;
      // The recipients open it in full; a header that does not even read is refused here.
      const { type, session } = frameHeader(o.frame) ?? openFrame(o.frame, this.roster);
      for (const to of recipients(o, from, this.n, this.#options.broadcastToSelf)) {
        if (this.dead.has(from)) break; // an interceptor may kill the sender mid-broadcast
        const wire: Wire = { from, to, frame: o.frame, type, session };
        if (this.#options.record) this.emitted.push(wire);
        const replaced = await this.intercept?.(wire, this);
        for (const w of replaced ?? [wire]) {
          if (this.hold?.(w)) this.held.push(w);
          else this.#enqueue(w, this.now + this.#latency(w));
        }
      }
    }
  }

  /** Delivers the next frame due by now; false when none is. */
  async step(): Promise<boolean> {
    const next = this.#peek();
    if (next === undefined || next.at > this.now) return false;
    this.#pop();
    const w = next.wire;
    if (this.dead.has(w.to)) return true;
    const role = this.roleOf?.(w);
    await this.call(w.to, () => this.nodes[w.to].receive(w.frame, w.from, this.now), role);
    return true;
  }

  /** Delivers every frame due by now (frames it causes too), without moving the clock. */
  async deliver(options: Pick<RunOptions, "until"> = {}): Promise<void> {
    while (!options.until?.() && await this.step());
  }

  /** Runs every living node's timeouts at the current time (in roster order), then delivers. */
  async tick(): Promise<void> {
    this.#rereadTimeouts();
    for (let i = 0; i < this.n; i++) {
      await this.call(i, () => this.nodes[i].tick(this.now));
    }
    await this.deliver();
  }

  /**
   * Delivers frames and runs timeouts in time order (see the module doc), moving the clock,
   * until `until` holds, nothing is left to do, or the next event is past `maxTime`.
   */
  async run(options: RunOptions = {}): Promise<void> {
    const maxTime = options.maxTime ?? this.now + 12 * this.roster.viewTimeoutMs;
    this.#rereadTimeouts();
    for (;;) {
      if (options.until?.()) return;
      const frameAt = this.#peek()?.at;
      const timerAt = this.#nextTimeout();
      const next = Math.min(frameAt ?? Infinity, timerAt ?? Infinity);
      if (next === Infinity || next > maxTime) return;
      this.now = Math.max(this.now, next);
      if (timerAt !== undefined && timerAt <= this.now) await this.#tickDue();
      else await this.step();
    }
  }

  /** Moves the held wires matching `pick` (default: all) to the queue, due now; returns them. */
  release(pick: (wire: Wire) => boolean = () => true): Wire[] {
    const moved = this.take(pick, this.held);
    for (const w of moved) this.#enqueue(w, this.now);
    return moved;
  }

  /** Removes and returns the wires of `list` (default: the frames in flight) matching `pick`. */
  take(pick: (wire: Wire) => boolean, list?: Wire[]): Wire[] {
    if (list !== undefined) {
      const taken: Wire[] = [];
      for (let i = 0; i < list.length;) {
        if (pick(list[i])) taken.push(...list.splice(i, 1));
        else i++;
      }
      return taken;
    }
    const kept = this.#queue.filter((q) => !pick(q.wire));
    const taken = this.#queue.filter((q) => pick(q.wire)).sort(before).map((q) => q.wire);
    this.#queue.length = 0;
    for (const q of kept) this.#push(q);
    return taken;
  }

  /** Events of `type` (optionally of one member, and of one of its machines), in order. */
  events<T extends ProtocolEvent["type"]>(
    type: T,
    member?: number,
    role?: Role,
  ): (EventOf<T> & { member: number })[] {
    return this.log
      .filter((l) =>
        l.event.type === type && (member === undefined || l.member === member) &&
        (role === undefined || l.role === role)
      )
      .map((l) => ({ ...l.event, member: l.member }) as EventOf<T> & { member: number });
  }

  /** Wires of `type` (and of one sender, and session view) handed to the network, in order. */
  sent(type?: MessageType, from?: number, view?: number): Wire[] {
    return this.emitted.filter((w) =>
      (type === undefined || w.type === type) && (from === undefined || w.from === from) &&
      (view === undefined || w.session.view === view)
    );
  }

  // ------------------------------------------------------------------------------------------

  async #checked(member: number, fn: () => Promise<Output[]>): Promise<Output[]> {
    if (!this.#options.strict) return await fn();
    let out: Output[];
    try {
      out = await fn();
    } catch (err) {
      throw new Error(`node ${member} threw out of a call: ${(err as Error)?.stack ?? err}`);
    }
    for (const o of out) {
      if (o.kind === "event" && o.event.type === "internal-error") {
        throw new Error(`node ${member} hit an internal error: ${o.event.message}`);
      }
    }
    return out;
  }

  async #tickDue(): Promise<void> {
    // The due nodes, in roster order (a node whose timeout a call moves is read again then).
    const due = new Set<number>();
    const h = this.#timerHeap;
    while (h.length > 0 && h[0].at <= this.now) {
      const top = heapPop(h, earlier)!;
      if (this.#timeouts[top.node] === top.at) due.add(top.node);
    }
    for (const i of [...due].sort((a, b) => a - b)) {
      this.#timeouts[i] = NaN; // its heap entry is gone: the next reading goes back in
      if (this.dead.has(i)) continue;
      const t = this.nodes[i].nextTimeout();
      if (t !== undefined && t <= this.now) await this.call(i, () => this.nodes[i].tick(this.now));
      else this.#readTimeout(i);
    }
  }

  #nextTimeout(): number | undefined {
    const h = this.#timerHeap;
    // Drop readings a later one replaced, and dead nodes'.
    while (h.length > 0 && (this.#timeouts[h[0].node] !== h[0].at || this.dead.has(h[0].node))) {
      heapPop(h, earlier);
    }
    return h[0]?.at;
  }

  /** Reads node `i`'s next timeout into the cache (and the heap when it changed). */
  #readTimeout(i: number): void {
    const t = this.nodes[i].nextTimeout();
    if (t === this.#timeouts[i]) return;
    this.#timeouts[i] = t;
    if (t !== undefined) heapPush(this.#timerHeap, { at: t, node: i }, earlier);
  }

  /** Reads every node's next timeout again (nodes may have been called from outside). */
  #rereadTimeouts(): void {
    for (let i = 0; i < this.n; i++) {
      const t = this.nodes[i].nextTimeout();
      if (t === this.#timeouts[i]) continue;
      this.#timeouts[i] = t;
      if (t !== undefined) heapPush(this.#timerHeap, { at: t, node: i }, earlier);
    }
  }

  #enqueue(wire: Wire, at: number): void {
    this.#push({ at, seq: this.#seq++, wire });
  }

  // A binary min-heap on (at, seq).
  #push(item: Queued): void {
    heapPush(this.#queue, item, before);
  }

  #peek(): Queued | undefined {
    return this.#queue[0];
  }

  #pop(): Queued | undefined {
    return heapPop(this.#queue, before);
  }
}

/** Pushes onto a binary min-heap ordered by `order` (negative: the first comes first). */
function heapPush<T>(h: T[], item: T, order: (a: T, b: T) => number): void {
  h.push(item);
  for (let i = h.length - 1; i > 0;) {
    const p = (i - 1) >> 1;
    if (order(h[p], h[i]) <= 0) break;
    [h[p], h[i]] = [h[i], h[p]];
    i = p;
  }
}

/** Pops the least element of a binary min-heap ordered by `order`. */
function heapPop<T>(h: T[], order: (a: T, b: T) => number): T | undefined {
  const top = h[0];
  const last = h.pop();
  if (h.length > 0 && last !== undefined) {
    h[0] = last;
    for (let i = 0;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && order(h[l], h[m]) < 0) m = l;
      if (r < h.length && order(h[r], h[m]) < 0) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
  return top;
}

/** Timer order: by time, then node. */
function earlier(a: { at: number; node: number }, b: { at: number; node: number }): number {
  return a.at - b.at || a.node - b.node;
}

function before(a: Queued, b: Queued): number {
  return a.at - b.at || a.seq - b.seq;
}

/** The signed sender of a frame (header only, unchecked). */
export function peekSender(frame: Uint8Array): number {
  const header = frameHeader(frame);
  if (header !== undefined) return header.sender;
  const outer = decode(frame, frame.length, "frame") as unknown[];
  const fields = decode(outer[0] as Uint8Array, (outer[0] as Uint8Array).length, "payload");
  return (fields as unknown[])[5] as number;
}
