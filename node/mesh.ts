/**
 * The libp2p mesh of a federation: TCP, noise, yamux, identify, ping and gossipsub, admitting
 * only roster members. Members multiplex under {@link MUXER_PROTOCOL} (yamux with a 4 MiB
 * initial stream window, so a vector crosses a long link in about one round trip) and fall back
 * to the standard `/yamux/1.0.0` with anyone else. Three ways to move bytes:
 *
 * - **frames** (`frame_stream.ts`): protocol frames to one member on one long-lived stream
 *   (`/fedagg/2/frames`, opened at the first frame; a stream per frame, `/fedagg/1/frame`,
 *   with members that do not speak it), length-prefixed and sent in 1 MiB chunks
 *   (`sized_stream.ts`; vectors of millions of parameters stay under the 4 MiB stream buffers),
 *   acknowledged on receipt, retried with backoff until a deadline (but not once the receiver
 *   refused it as too large);
 * - **gossip** (one topic per federation and roster): small broadcasts — certificates without
 *   their body and co-signatures. Before a message is delivered or forwarded the mesh checks
 *   only who published it and its size: gossipsub verifies the publisher's signature (strict
 *   signing) and the topic validator rejects a publisher outside the roster or a message above
 *   {@link MAX_GOSSIP}. The content is not checked here: the protocol layer validates what
 *   `onGossip` hands it, so a member can still spread a malformed message;
 * - **bodies by hash** (`/fedagg/1/aggregate`): a published aggregate fetched from whoever has
 *   it.
 *
 * Connections to every member are dialed at start and kept warm: a member that is not
 * connected is redialed with exponential backoff (1 s up to 30 s), the first time right after
 * its last connection closed. The mesh reports each member's connectivity as it changes
 * (`onConnected` / `onDisconnected`): facts only, which the node's failure detector
 * (`peer_watch.ts`) turns into the protocol's lost-member input.
 *
 * @module
 */
import { noise } from "npm:@chainsafe/libp2p-noise@17.0.0";
import { yamux } from "npm:@chainsafe/libp2p-yamux@8.0.1";
import { gossipsub } from "npm:@libp2p/gossipsub@17.1.1";
import { identify } from "npm:@libp2p/identify@4.1.14";
import type { PeerId, Stream } from "npm:@libp2p/interface@3.3.0";
import { peerIdFromString } from "npm:@libp2p/peer-id@6.0.15";
import { ping } from "npm:@libp2p/ping@3.1.13";
import { tcp } from "npm:@libp2p/tcp@11.0.28";
import { multiaddr } from "npm:@multiformats/multiaddr@13.0.3";
import { createLibp2p, type Libp2p } from "npm:libp2p@3.3.11";
import { type Roster, toHex } from "../protocol/mod.ts";
import { NodeError } from "./errors.ts";
import type { NodeIdentity } from "./identity.ts";
import {
  FRAME_STREAM_PROTOCOL,
  FrameInbox,
  FrameOutbox,
  LEGACY_FRAME_PROTOCOL,
} from "./frame_stream.ts";
import { readSized, sizedStream, writeSized } from "./sized_stream.ts";

export { MAX_LARGE_IN_FLIGHT } from "./frame_stream.ts";
/** Protocol of one frame per stream (members before the frame stream; still served). */
export const FRAME_PROTOCOL = LEGACY_FRAME_PROTOCOL;
/** Protocol of aggregate bodies fetched by hash. */
export const AGGREGATE_PROTOCOL = "/fedagg/1/aggregate";
/**
 * The stream muxer members prefer: yamux under a protocol id of its own, with a larger initial
 * stream window ({@link STREAM_WINDOW}). js-yamux assumes the peer's initial window equals its
 * own setting without announcing it, so a different initial window needs a different protocol
 * id: two members that both speak this one use it, anything else negotiates the standard
 * `/yamux/1.0.0` with the default 256 KiB window (listed second).
 */
export const MUXER_PROTOCOL = "/fedagg/yamux/1";
/**
 * Initial (and smallest) receive window of a stream under {@link MUXER_PROTOCOL}: one vector
 * of a million parameters fits, so a masked input crosses a long link in one round trip instead
 * of the ≈ 4 the default 256 KiB window needs while js-yamux grows it (it doubles the window
 * while data keeps arriving, up to {@link MAX_STREAM_WINDOW}). It stays below the 4 MiB a
 * stream may buffer unread (`maxReadBufferLength`).
 */
export const STREAM_WINDOW = 4 << 20;
/** Largest window js-yamux grows a stream's to (16 MiB: 128 MB/s at 100 ms). */
export const MAX_STREAM_WINDOW = 16 << 20;
/** Largest gossip message accepted (gossipsub itself caps messages near 4 MiB). */
export const MAX_GOSSIP = 3 << 20;

/** The levels of a log line, least severe first (`log_level.ts` filters by them). */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** A structured log line. */
export type Log = (level: LogLevel, message: string, fields?: object) => void;

/** What the mesh needs. */
export interface MeshOptions {
  readonly identity: NodeIdentity;
  /** The roster (version 0 of a chain): its federation and hash name the gossip topic. */
  readonly roster: Roster;
  /**
   * Member ids by number (default: the roster's members by index). With a chain of roster
   * versions these are the chain's member slots (`ChainEndpoint.members`); every number the
   * mesh reports or takes is one of them.
   */
  readonly members?: readonly string[];
  /**
   * The members whose connections, frames and gossip are accepted (default: all of
   * {@link members}); everyone else is refused like a non-member. {@link Mesh.update} changes it.
   */
  readonly admitted?: ReadonlySet<number>;
  /** Dial addresses of each member, by number. */
  readonly addresses: readonly (readonly string[])[];
  /**
   * Multiaddrs to listen on. The node announces its own entry of {@link addresses} instead,
   * when that is not empty (the roster says where members reach it).
   */
  readonly listen: readonly string[];
  /** Largest frame accepted (the protocol's `maxFrameSize`). */
  readonly maxFrame: number;
  /**
   * A frame arrived from roster member `from`. For large frames the mesh waits for the returned
   * promise before taking in the next large one (see `MAX_LARGE_IN_FLIGHT`).
   */
  readonly onFrame: (frame: Uint8Array, from: number) => void | Promise<void>;
  /**
   * A gossip message arrived, signed by its publisher, roster member `from`, and at most
   * {@link MAX_GOSSIP} bytes; nothing else about it is checked.
   */
  readonly onGossip: (data: Uint8Array, from: number) => void;
  /** Serves an aggregate body by (round, view, hash), or undefined if unknown here. */
  readonly aggregateBody: (round: number, view: number, hash: Uint8Array) => Uint8Array | undefined;
  /** A roster member this node had no connection to is connected now (libp2p `peer:connect`). */
  readonly onConnected?: (member: number) => void;
  /** The last connection to roster member `member` closed (libp2p `peer:disconnect`). */
  readonly onDisconnected?: (member: number) => void;
  readonly log: Log;
}

/** Traffic counters. */
export interface MeshCounters {
  framesSent: number;
  framesReceived: number;
  /** Frame streams accepted from members (one per frame with members that only speak legacy). */
  frameStreams: number;
  bytesSent: number;
  bytesReceived: number;
  sendFailures: number;
  refusedPeers: number;
}

/** A running mesh. */
export class Mesh {
  readonly #node: Libp2p;
  readonly #options: MeshOptions;
  readonly #peers: PeerId[];
  readonly #index = new Map<string, number>();
  /** Ids whose connections are accepted (shared with the connection gater). */
  readonly #admitted: Set<string>;
  #addresses: readonly (readonly string[])[];
  #maxFrame: number;
  readonly #topic: string;
  readonly #backoff = new Map<number, { next: number; delay: number }>();
  readonly #inbox: FrameInbox;
  readonly #outbox: FrameOutbox;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopping = false;
  /** Traffic counters (exposed as metrics). */
  readonly counters: MeshCounters;

  private constructor(
    node: Libp2p,
    options: MeshOptions,
    peers: PeerId[],
    topic: string,
    counters: MeshCounters,
    admitted: Set<string>,
  ) {
    this.counters = counters;
    this.#node = node;
    this.#options = options;
    this.#peers = peers;
    this.#admitted = admitted;
    this.#addresses = options.addresses;
    this.#maxFrame = options.maxFrame;
    this.#topic = topic;
    peers.forEach((p, i) => this.#index.set(p.toString(), i));
    this.#inbox = new FrameInbox({
      // Read per frame: `update` may change the limit after the inbox exists.
      maxFrame: () => this.#maxFrame,
      memberOf: (peer) => this.#member(peer),
      onFrame: options.onFrame,
      counters,
      log: options.log,
    });
    this.#outbox = new FrameOutbox((member, protocols, signal) =>
      this.#node.dialProtocol(this.#peers[member], [...protocols], { signal })
    );
  }

  /**
   * Creates libp2p stopped, registers the protocol handlers and the gossip topic validator, then
   * starts it (so nothing is accepted before the handlers and the validator are in place),
   * subscribes to the topic and dials every member.
   */
  static async start(options: MeshOptions): Promise<Mesh> {
    const { roster, identity, log } = options;
    const ids = options.members ?? roster.members.map((m) => m.id);
    const peers = ids.map((id) => peerIdFromString(id));
    const admitted = new Set(
      ids.filter((_, i) => options.admitted === undefined || options.admitted.has(i)),
    );
    const own = options.addresses[ids.indexOf(identity.peerId)] ?? [];
    // Created before the node: its connection gater counts refusals.
    const counters: MeshCounters = {
      framesSent: 0,
      framesReceived: 0,
      frameStreams: 0,
      bytesSent: 0,
      bytesReceived: 0,
      sendFailures: 0,
      refusedPeers: 0,
    };
    const refuse = (peer: PeerId, direction: string) => {
      if (admitted.has(peer.toString())) return false;
      counters.refusedPeers++;
      log("warn", "refused a non-member", { peer: peer.toString(), direction });
      return true;
    };
    const node = await createLibp2p({
      // libp2p 3 starts the node inside createLibp2p unless told not to.
      start: false,
      privateKey: identity.libp2pKey,
      // Peers learn this node's addresses from the roster and, through identify, from what the
      // node announces: announce the roster's addresses for it (when it lists any), not the
      // listen addresses, so a member reached through a proxy, a NAT or a forwarded port is
      // never dialed behind it.
      addresses: {
        listen: [...options.listen],
        ...(own.length > 0 ? { announce: [...own] } : {}),
      },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [fedaggYamux(), yamux()],
      connectionGater: {
        denyDialPeer: (peer: PeerId) => refuse(peer, "dial"),
        denyInboundEncryptedConnection: (peer: PeerId) => refuse(peer, "inbound"),
        denyOutboundEncryptedConnection: (peer: PeerId) => refuse(peer, "outbound"),
      },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          emitSelf: false,
          allowPublishToZeroTopicPeers: true,
          floodPublish: true,
          maxInboundDataLength: MAX_GOSSIP + 4096,
          // gossipsub's default score charges every peer −5·(k − 10)² when k > 10 peers share one
          // IP address (a Sybil defence): members on one host or behind one NAT — 15 or more —
          // fall below the publish (−50) and graylist (−80) thresholds, and gossip reaches nobody
          // and is ignored. The connection gater admits roster members only, so it defends nothing.
          scoreParams: { IPColocationFactorWeight: 0 },
        }),
      },
    });
    const topic = `fedagg/1/${roster.federation}/${toHex(roster.hash).slice(0, 16)}`;
    const mesh = new Mesh(node as unknown as Libp2p, options, peers, topic, counters, admitted);
    await mesh.#register();
    mesh.#watchConnections();
    await node.start();
    mesh.#pubsub().subscribe(topic); // gossipsub refuses subscriptions before it starts
    await mesh.#learnAddresses(0);
    mesh.#timer = setInterval(() => mesh.#maintain(), 1000);
    mesh.#maintain();
    return mesh;
  }

  /**
   * Takes a new list of members (`members`, extending the one given at start: numbers never
   * change), their addresses and the members admitted now, and the largest frame accepted: the
   * addresses of new members are learnt (and they are dialled), and connections to members no
   * longer admitted are closed (and refused from now on).
   */
  async update(next: {
    readonly members: readonly string[];
    readonly addresses: readonly (readonly string[])[];
    readonly admitted: ReadonlySet<number>;
    readonly maxFrame: number;
  }): Promise<void> {
    const known = this.#peers.length;
    for (const id of next.members.slice(known)) {
      this.#index.set(id, this.#peers.length);
      this.#peers.push(peerIdFromString(id));
    }
    this.#addresses = next.addresses;
    this.#maxFrame = next.maxFrame;
    this.#admitted.clear();
    for (const i of next.admitted) this.#admitted.add(next.members[i]);
    await this.#learnAddresses(known);
    for (const c of this.#node.getConnections()) {
      const peer = c.remotePeer.toString();
      if (this.#index.has(peer) && !this.#admitted.has(peer)) {
        this.#options.log("info", "closing the connection to a member no longer admitted", {
          member: this.#index.get(peer),
        });
        await c.close().catch(() => {});
      }
    }
    this.#maintain();
  }

  /** Puts the addresses of members from number `from` on into the peer store. */
  async #learnAddresses(from: number): Promise<void> {
    const self = this.#options.identity.peerId;
    for (const [i, list] of this.#addresses.entries()) {
      if (i < from || this.#peers[i]?.toString() === self || list.length === 0) continue;
      try {
        await this.#node.peerStore.merge(this.#peers[i], {
          multiaddrs: list.map((a) => multiaddr(a)),
        });
      } catch (err) {
        this.#options.log("warn", "bad address in roster", { member: i, error: String(err) });
      }
    }
  }

  /** Whether `peer` is a member admitted now: its number, else undefined. */
  #member(peer: PeerId | undefined): number | undefined {
    if (peer === undefined) return undefined;
    const id = peer.toString();
    return this.#admitted.has(id) ? this.#index.get(id) : undefined;
  }

  /** The multiaddrs this node listens on (with its PeerId). */
  get addresses(): string[] {
    return this.#node.getMultiaddrs().map((a) => a.toString());
  }

  /** Roster indices of the members currently connected. */
  connected(): number[] {
    const out = new Set<number>();
    for (const c of this.#node.getConnections()) {
      const i = this.#index.get(c.remotePeer.toString());
      if (i !== undefined) out.add(i);
    }
    return [...out].sort((a, b) => a - b);
  }

  /**
   * The stream muxer protocol of each open connection to member `member` ({@link MUXER_PROTOCOL}
   * when both sides speak it), in libp2p's order; empty when not connected.
   */
  muxers(member: number): string[] {
    const peer = this.#peers[member]?.toString();
    return this.#node.getConnections().filter((c) => c.remotePeer.toString() === peer)
      .map((c) => c.multiplexer ?? "none");
  }

  /**
   * Delivers `frame` to member `to` on the frame stream to it (`frame_stream.ts`: frames to one
   * member leave one at a time, in call order), retrying with backoff on a new stream until
   * `deadline` (ms since the epoch) when the stream failed — also when the receiver answers that
   * it is busy (it still holds this node's previous large frame). Resolves true once the member
   * acknowledged receipt; false if the deadline passed or the receiver refused the frame for good
   * (larger than it accepts), which is not retried.
   */
  async send(to: number, frame: Uint8Array, deadline: number): Promise<boolean> {
    let delay = 200;
    while (!this.#stopping) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      try {
        await this.#outbox.sendOnce(
          to,
          frame,
          Math.min(remaining, 30_000 + frame.length / 10_000),
        );
        this.counters.framesSent++;
        this.counters.bytesSent += frame.length;
        return true;
      } catch (err) {
        this.counters.sendFailures++;
        const permanent = err instanceof NodeError && err.code === "frame-refused";
        if (permanent || Date.now() + delay >= deadline) {
          this.#options.log("warn", "giving up sending a frame", {
            to,
            bytes: frame.length,
            error: String((err as Error)?.message ?? err),
          });
          break;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
    return false;
  }

  /**
   * Closes every connection to member `member` (its frame stream with them); the mesh redials it
   * as it would after any dropped connection. For operators' tools and tests.
   */
  async hangUp(member: number): Promise<void> {
    const peer = this.#peers[member];
    if (peer !== undefined) await this.#node.hangUp(peer);
  }

  /** Publishes a gossip message; resolves to the number of peers it went to. */
  async publish(data: Uint8Array): Promise<number> {
    if (data.length > MAX_GOSSIP) throw new RangeError(`gossip message of ${data.length} bytes`);
    const result = await this.#pubsub().publish(this.#topic, data);
    this.counters.bytesSent += data.length * result.recipients.length;
    return result.recipients.length;
  }

  /**
   * Fetches the body of aggregate (round, view, hash) from member `from`. Resolves undefined
   * when that member does not have it or cannot be reached in `timeoutMs`.
   */
  async fetchAggregate(
    from: number,
    request: { round: number; view: number; hash: Uint8Array; maxBytes: number },
    timeoutMs: number,
  ): Promise<Uint8Array | undefined> {
    const signal = AbortSignal.timeout(timeoutMs);
    let stream: Stream | undefined;
    try {
      stream = await this.#node.dialProtocol(this.#peers[from], AGGREGATE_PROTOCOL, { signal });
      const lp = sizedStream(stream);
      const ask = new Uint8Array(16 + 32);
      const view = new DataView(ask.buffer);
      view.setFloat64(0, request.round);
      view.setFloat64(8, request.view);
      ask.set(request.hash, 16);
      await lp.write(ask, { signal });
      const body = await readSized(lp, request.maxBytes, signal, "aggregate");
      if (body === undefined) {
        stream.abort(new Error("no such aggregate, or too large"));
        return undefined;
      }
      this.counters.bytesReceived += body.length;
      await stream.close({ signal });
      return body;
    } catch (err) {
      stream?.abort(err as Error);
      return undefined;
    }
  }

  /** Stops libp2p (the caller closes the shims' channels afterwards). */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#outbox.close();
    await this.#node.stop();
  }

  // ------------------------------------------------------------------------------------------

  // deno-lint-ignore no-explicit-any
  #pubsub(): any {
    // deno-lint-ignore no-explicit-any
    return (this.#node as any).services.pubsub;
  }

  async #register(): Promise<void> {
    await this.#node.handle(
      FRAME_STREAM_PROTOCOL,
      (stream, connection) => this.#inbox.serveStream(stream, connection.remotePeer),
      { maxInboundStreams: 8 },
    );
    await this.#node.handle(
      LEGACY_FRAME_PROTOCOL,
      (stream, connection) => this.#inbox.serveLegacy(stream, connection.remotePeer),
      { maxInboundStreams: 32 },
    );
    await this.#node.handle(
      AGGREGATE_PROTOCOL,
      (stream, connection) => this.#serveAggregate(stream, connection.remotePeer),
      { maxInboundStreams: 64 },
    );
    const pubsub = this.#pubsub();
    pubsub.topicValidators.set(
      this.#topic,
      (_peer: PeerId, message: { from?: PeerId; data: Uint8Array }) => {
        const from = this.#member(message.from);
        // "reject" stops delivery and forwarding, and penalises whoever relayed it.
        return from === undefined || message.data.length > MAX_GOSSIP ? "reject" : "accept";
      },
    );
    pubsub.addEventListener(
      "message",
      (e: CustomEvent<{ topic: string; from?: PeerId; data: Uint8Array }>) => {
        if (e.detail.topic !== this.#topic || e.detail.from === undefined) return;
        const from = this.#member(e.detail.from);
        if (from === undefined) return;
        this.counters.bytesReceived += e.detail.data.length;
        this.#options.onGossip(e.detail.data, from);
      },
    );
  }

  /**
   * Hands each roster member's connectivity changes to `onConnected` / `onDisconnected`, and
   * redials a member at once when its last connection closed (a dropped connection to a live
   * member is back well within the failure detector's grace).
   */
  #watchConnections(): void {
    const { onConnected, onDisconnected } = this.#options;
    this.#node.addEventListener("peer:connect", (e: CustomEvent<PeerId>) => {
      const member = this.#index.get(e.detail.toString());
      if (member !== undefined && !this.#stopping) onConnected?.(member);
    });
    this.#node.addEventListener("peer:disconnect", (e: CustomEvent<PeerId>) => {
      const member = this.#index.get(e.detail.toString());
      if (member === undefined || this.#stopping) return;
      this.#outbox.drop(member);
      onDisconnected?.(member);
      this.#maintain();
    });
  }

  /** Serves one aggregate body by (round, view, hash) on `/fedagg/1/aggregate`. */
  async #serveAggregate(stream: Stream, remote: PeerId): Promise<void> {
    const signal = AbortSignal.timeout(60_000);
    const lp = sizedStream(stream);
    try {
      if (this.#member(remote) === undefined) throw new Error("not a member");
      const ask = (await lp.read({ signal })).subarray();
      if (ask.length !== 48) throw new Error("malformed aggregate request");
      const view = new DataView(ask.buffer, ask.byteOffset, 16);
      const body = this.#options.aggregateBody(
        view.getFloat64(0),
        view.getFloat64(8),
        ask.slice(16),
      );
      // An unknown body is announced as length 0, which the fetching side refuses.
      await writeSized(lp, body ?? new Uint8Array(0), signal);
      if (body !== undefined) this.counters.bytesSent += body.length;
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
    }
  }

  /** Dials members that are not connected, each with its own exponential backoff. */
  #maintain(): void {
    if (this.#stopping) return;
    const connected = new Set(this.connected());
    const self = this.#index.get(this.#options.identity.peerId);
    const now = Date.now();
    this.#peers.forEach((peer, i) => {
      if (
        i === self || connected.has(i) || !(this.#addresses[i]?.length > 0) ||
        !this.#admitted.has(peer.toString())
      ) {
        this.#backoff.delete(i);
        return;
      }
      const state = this.#backoff.get(i) ?? { next: 0, delay: 1000 };
      if (now < state.next) return;
      this.#backoff.set(i, { next: now + state.delay, delay: Math.min(state.delay * 2, 30_000) });
      this.#node.dial(peer, { signal: AbortSignal.timeout(10_000) }).catch(() => {});
    });
  }
}

/**
 * The {@link MUXER_PROTOCOL} muxer: js-yamux with the initial window {@link STREAM_WINDOW}
 * under its own protocol id (the factory's `protocol` is what libp2p negotiates; the muxers it
 * creates carry it too, which is what a connection reports as its `multiplexer`).
 */
function fedaggYamux(): ReturnType<typeof yamux> {
  const make = yamux({
    streamOptions: {
      initialStreamWindowSize: STREAM_WINDOW,
      maxStreamWindowSize: MAX_STREAM_WINDOW,
    },
  });
  return (...a: Parameters<typeof make>) => {
    const factory = make(...a);
    const create = factory.createStreamMuxer.bind(factory);
    return Object.assign(factory, {
      protocol: MUXER_PROTOCOL,
      createStreamMuxer: (...b: Parameters<typeof create>) =>
        Object.assign(create(...b), { protocol: MUXER_PROTOCOL }),
    });
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const id = setTimeout(resolve, ms);
    Deno.unrefTimer(id);
  });
}
