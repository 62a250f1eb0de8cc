/**
 * The fedagg node: runs this member's protocol {@link Endpoint} with real time, the libp2p
 * {@link Mesh}, the {@link Journal} and the trainer-facing operations the HTTP API exposes.
 * Every protocol decision stays in `protocol/`; this file only moves bytes, keeps time, stores
 * and reports.
 *
 * Ordering guarantees: every endpoint call and the handling of its outputs run one at a time, in
 * order; a `committed` event is written to the journal before the frame that commits is sent;
 * an update is journaled before `submit` resolves (before the API answers); frames to one
 * member leave in the order the protocol produced them.
 *
 * @module
 */
import { equalBytes, toHex, u32Bytes } from "../protocol/encoding/bytes.ts";
import { aggregateHash } from "../protocol/certificate/certificate.ts";
import { splitFinalCertificate } from "../protocol/certificate/final.ts";
import { withoutBody } from "../protocol/wire/frame.ts";
import { decode, encode } from "../protocol/encoding/codec.ts";
import { systemRng } from "../protocol/crypto/mod.ts";
import { Endpoint, ROUND_WINDOW } from "../protocol/round/endpoint.ts";
import { CallerError, ProtocolError } from "../protocol/errors.ts";
import type { Output, ProtocolEvent } from "../protocol/round/events.ts";
import type { MaskExpander } from "../protocol/math/masking.ts";
import { maxFrameSize, openFrame } from "../protocol/wire/frame.ts";
import { readCertificate } from "../protocol/wire/messages.ts";
import { dequantizeMean, quantize } from "../protocol/math/quantize.ts";
import { type Roster, viewPatienceMs } from "../protocol/federation/roster.ts";
import { leaderOf } from "../protocol/federation/schedule.ts";
import { MAX_ROUND } from "../protocol/federation/session.ts";
import type { NodeIdentity } from "./identity.ts";
import { Journal, type StoredAggregate } from "./journal.ts";
import { type Log, Mesh } from "./mesh.ts";
import { Metrics } from "./metrics.ts";
import { addressesOf, type RosterFile } from "./roster_file.ts";
import type { TensorLayout } from "./tensor_formats/mod.ts";
import { WorkerExpander } from "./worker_expander.ts";

/** What a node needs to start. */
export interface NodeOptions {
  readonly dir: string;
  readonly identity: NodeIdentity;
  readonly rosterFile: RosterFile;
  readonly roster: Roster;
  readonly index: number;
  readonly listen: readonly string[];
  readonly log: Log;
  /** Mask expander (default: Worker threads, one per core). */
  readonly expander?: MaskExpander & { close?(): void };
}

/** A refusal of a trainer request, with the HTTP status that fits. */
export class SubmitError extends Error {
  readonly status: number;
  /** @param status HTTP status @param message what is wrong */
  constructor(status: number, message: string) {
    super(message);
    this.name = "SubmitError";
    this.status = status;
  }
}

/** What `status` reports. */
export interface NodeStatus {
  readonly peerId: string;
  readonly index: number;
  readonly federation: string;
  readonly addresses: readonly string[];
  readonly peers: {
    readonly connected: number;
    readonly members: number;
    readonly ids: readonly string[];
  };
  /** The newest round this node took part in, its view, leader and stage. */
  readonly round: number | null;
  readonly view: number | null;
  readonly leader: string | null;
  readonly stage: string | null;
  readonly lastFinalRound: number | null;
  readonly lastError: string | null;
  /** The session this node last led and its leader stage. */
  readonly leading:
    | { readonly round: number; readonly view: number; readonly stage: string }
    | null;
  readonly traffic: { readonly bytesSent: number; readonly bytesReceived: number };
  readonly peakRssBytes: number;
}

/** Events for API subscribers (server-sent events). */
export interface NodeEvent {
  readonly type: "published" | "final" | "round-failed";
  readonly round: number;
  readonly view: number;
  readonly members?: readonly string[];
  readonly reason?: string;
}

const GOSSIP_CERTIFICATE = "certificate";
const GOSSIP_COSIGN = "cosign";
/** Frames from one member waiting for the pipeline; beyond this its frames are refused. */
const MAX_QUEUED_PER_PEER = 16;
/** Certified bodies waiting to be fetched or being fetched; beyond this, certificates are dropped. */
const MAX_PENDING_FETCHES = 4;
/** Sessions whose certificate was taken up that are remembered (so each is fetched once). */
const MAX_FETCHED = 64;

/** A running node. */
export class FedaggNode {
  readonly #options: NodeOptions;
  readonly #roster: Roster;
  readonly #endpoint: Endpoint;
  readonly #journal: Journal;
  readonly #expander: MaskExpander & { close?(): void };
  readonly metrics = new Metrics();
  #mesh!: Mesh;
  #pipeline: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt: number | undefined;
  readonly #sendQueues = new Map<number, Promise<unknown>>();
  /** Aggregate bodies this node can serve, by `round/view/hash`. */
  readonly #bodies = new Map<string, Uint8Array>();
  /** Frames each member has waiting in the pipeline. */
  readonly #queued = new Map<number, number>();
  /** Sessions (`round/view`) whose certified body is queued, being fetched or was fetched. */
  readonly #fetching = new Set<string>();
  /** Body fetches queued or running. */
  #pendingFetches = 0;
  #fetches: Promise<unknown> = Promise.resolve();
  /** When this member submitted to each round within the endpoint's window of its newest. */
  readonly #submittedAt = new Map<number, number>();
  readonly #submitting = new Set<number>();
  readonly #listeners = new Set<(e: NodeEvent) => void>();
  #current: { round: number; view: number; stage: string } | undefined;
  #leading: { round: number; view: number; stage: string } | undefined;
  #lastFinalRound: number | undefined;
  #lastError: string | undefined;
  #peakRss = 0;
  #rssTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  private constructor(options: NodeOptions) {
    this.#options = options;
    this.#roster = options.roster;
    this.#journal = new Journal(options.dir);
    this.#expander = options.expander ?? new WorkerExpander();
    this.#endpoint = new Endpoint({
      roster: options.roster,
      self: options.index,
      signer: options.identity.signer,
      rng: systemRng,
      expander: this.#expander,
    });
  }

  /**
   * Starts the mesh, restores the journal's state and begins serving. If any step fails, what
   * was started (mesh, timers, mask workers) is stopped before the error is rethrown.
   */
  static async start(options: NodeOptions): Promise<FedaggNode> {
    const node = new FedaggNode(options);
    try {
      node.#mesh = await Mesh.start({
        identity: options.identity,
        roster: options.roster,
        addresses: addressesOf(options.rosterFile, options.roster),
        listen: options.listen,
        maxFrame: maxFrameSize(options.roster),
        onFrame: (frame, from) => node.#fromPeer(frame, from),
        onGossip: (data, from) => node.#onGossip(data, from),
        aggregateBody: (round, view, hash) => node.#bodies.get(bodyKey(round, view, hash)),
        log: options.log,
      });
      node.#rssTimer = setInterval(() => node.#sampleMemory(), 250);
      node.#sampleMemory();
      await node.#restore();
    } catch (err) {
      await node.stop().catch(() => {});
      throw err;
    }
    options.log("info", "node started", {
      peerId: options.identity.peerId,
      index: options.index,
      addresses: node.#mesh.addresses,
    });
    return node;
  }

  /** The roster this node runs. */
  get roster(): Roster {
    return this.#roster;
  }

  /** The journal (read access for the API). */
  get journal(): Journal {
    return this.#journal;
  }

  /** Subscribes to node events; returns the unsubscribe function. */
  subscribe(listener: (e: NodeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Accepts the trainer's update for `round`: checks it, journals it (durably) and starts this
   * member's part in the round. Refuses with a {@link SubmitError} carrying an HTTP status.
   */
  async submit(
    round: number,
    values: Float32Array,
    numSamples: number,
    layout: TensorLayout,
  ): Promise<void> {
    const q = this.#roster.quantization;
    if (!Number.isSafeInteger(round) || round < 0 || round >= MAX_ROUND) {
      throw new SubmitError(400, `round must be an integer in [0, 2^48), got ${round}`);
    }
    if (values.length !== this.#roster.dim) {
      throw new SubmitError(
        422,
        `update has ${values.length} values, the roster's d is ${this.#roster.dim}`,
      );
    }
    if (!Number.isSafeInteger(numSamples) || numSamples < 1 || numSamples > q.maxWeight) {
      throw new SubmitError(
        422,
        `num_samples must be an integer in [1, ${q.maxWeight}] (the roster's maxWeight), got ${numSamples}`,
      );
    }
    // Claimed before the first await, so concurrent uploads for one round cannot both pass.
    if (this.#submitting.has(round)) {
      throw new SubmitError(409, `an update for round ${round} is already being accepted`);
    }
    this.#submitting.add(round);
    try {
      if ((await this.#journal.recorded(round)).update) {
        throw new SubmitError(409, `an update for round ${round} was already accepted`);
      }
      const last = this.#lastFinalRound;
      if (last !== undefined && round <= last) {
        throw new SubmitError(
          409,
          `round ${round} is already final here (last final round ${last})`,
        );
      }
      this.#refuseIfDecided(round);
      await this.#journal.recordUpdate(round, { values, numSamples, layout });
      this.metrics.inc("fedagg_updates_accepted_total", "Updates accepted from the trainer");
      await this.#start(round, values, numSamples);
    } finally {
      this.#submitting.delete(round);
    }
  }

  /**
   * The stored aggregate of `round`, if published, with the layout of this member's update for
   * it (if any) and its weighted mean (computed when first read).
   */
  async aggregate(
    round: number,
  ): Promise<
    { stored: StoredAggregate; mean: Float32Array; layout: TensorLayout | undefined } | undefined
  > {
    const stored = await this.#journal.aggregate(round);
    if (stored === undefined) return undefined;
    const layout = (await this.#journal.updateMeta(round))?.layout;
    const q = this.#roster.quantization;
    let mean: Float32Array | undefined;
    return {
      stored,
      layout,
      get mean() {
        return mean ??= dequantizeMean(stored.aggregate, q, stored.members.length);
      },
    };
  }

  /** The node's status. */
  status(): NodeStatus {
    const c = this.#current;
    const connected = this.#mesh.connected();
    return {
      peerId: this.#options.identity.peerId,
      index: this.#options.index,
      federation: this.#roster.federation,
      addresses: this.#mesh.addresses,
      peers: {
        connected: connected.length,
        members: this.#roster.members.length - 1,
        ids: connected.map((i) => this.#roster.members[i].id),
      },
      round: c?.round ?? null,
      view: c?.view ?? null,
      leader: c === undefined
        ? null
        : this.#roster.members[leaderOf(this.#roster, c.round, c.view)].id,
      stage: c?.stage ?? null,
      lastFinalRound: this.#lastFinalRound ?? null,
      lastError: this.#lastError ?? null,
      leading: this.#leading ?? null,
      traffic: {
        bytesSent: this.#mesh.counters.bytesSent,
        bytesReceived: this.#mesh.counters.bytesReceived,
      },
      peakRssBytes: this.#peakRss,
    };
  }

  /** Prometheus text of the node's metrics. */
  renderMetrics(): string {
    const c = this.#mesh.counters;
    const m = this.metrics;
    m.set("fedagg_frames_sent", "Frames delivered to other members", c.framesSent);
    m.set("fedagg_frames_received", "Frames received from other members", c.framesReceived);
    m.set("fedagg_bytes_sent", "Bytes sent (frames, gossip, bodies)", c.bytesSent);
    m.set("fedagg_bytes_received", "Bytes received (frames, gossip, bodies)", c.bytesReceived);
    m.set("fedagg_send_failures", "Failed frame delivery attempts", c.sendFailures);
    m.set("fedagg_refused_peers", "Connections refused to non-members", c.refusedPeers);
    m.set("fedagg_peers_connected", "Roster members connected", this.#mesh.connected().length);
    m.set("fedagg_process_peak_rss_bytes", "Peak resident memory of the process", this.#peakRss);
    m.set("fedagg_process_rss_bytes", "Resident memory of the process", Deno.memoryUsage().rss);
    return m.render();
  }

  /** Stops the node: timers, mesh, workers; wipes the protocol's secrets. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#rssTimer !== undefined) clearInterval(this.#rssTimer);
    await this.#pipeline.catch(() => {});
    this.#endpoint.close();
    try {
      // Undefined when the node failed to start its mesh.
      if (this.#mesh !== undefined) await this.#mesh.stop();
    } finally {
      this.#expander.close?.();
    }
  }

  // ------------------------------------------------------------------------------------------

  #sampleMemory(): void {
    const rss = Deno.memoryUsage().rss;
    if (rss > this.#peakRss) this.#peakRss = rss;
  }

  async #start(round: number, values: Float32Array, numSamples: number): Promise<void> {
    const input = quantize(values, numSamples, this.#roster.quantization, systemRng);
    this.#submittedAt.set(round, performance.now());
    const newest = Math.max(...this.#submittedAt.keys());
    for (const r of this.#submittedAt.keys()) {
      if (r < newest - ROUND_WINDOW) this.#submittedAt.delete(r); // too far behind to time
    }
    await this.#input(() => {
      // Again in the pipeline: a certificate handled since the first check may have decided it.
      this.#refuseIfDecided(round);
      return this.#endpoint.submit(round, input, now());
    });
  }

  /** Refuses (409) an update for a round the endpoint would refuse one for (see `checkSubmit`). */
  #refuseIfDecided(round: number): void {
    try {
      this.#endpoint.checkSubmit(round);
    } catch (err) {
      if (err instanceof CallerError) throw new SubmitError(409, err.message);
      throw err;
    }
  }

  /**
   * Restores after a restart: gives the endpoint the newest journaled round and the views this
   * member committed to within its round window (further back the endpoint acts in no round,
   * and the journaled update refuses a second submission), finds the newest final round, and
   * resumes the newest round with an update and no published aggregate unless it committed in
   * it. Reads directory listings, the commits within the window and the one update it resumes.
   */
  async #restore(): Promise<void> {
    const rounds = await this.#journal.rounds();
    const newest = rounds.at(-1);
    if (newest === undefined) return;
    const committed = new Map<number, number>();
    for (const round of rounds.filter((r) => r >= newest - ROUND_WINDOW)) {
      const view = await this.#journal.committedView(round);
      if (view !== undefined) committed.set(round, view);
    }
    this.#endpoint.restore({ newestRound: newest, committed });
    let pending: number | undefined;
    for (let k = rounds.length - 1; k >= 0; k--) {
      if (pending !== undefined && this.#lastFinalRound !== undefined) break;
      const round = rounds[k];
      const recorded = await this.#journal.recorded(round);
      if (recorded.final) this.#lastFinalRound ??= round;
      else if (!recorded.published && recorded.update) pending ??= round;
    }
    if (pending === undefined) return;
    const view = committed.get(pending) ?? await this.#journal.committedView(pending);
    if (view !== undefined) {
      this.#options.log("warn", "round lost in the restart: this member had committed to a view", {
        round: pending,
        view,
      });
      return;
    }
    const update = await this.#journal.update(pending);
    if (update === undefined) return;
    this.#options.log("info", "resuming the journaled update after a restart", { round: pending });
    await this.#start(pending, update.values, update.numSamples);
  }

  /**
   * Queues a frame from member `from` (sent directly or gossiped). A member with
   * {@link MAX_QUEUED_PER_PEER} frames already waiting has the new one refused (logged): a flood
   * from one member cannot grow the queue or delay everyone else's frames without bound.
   */
  #fromPeer(frame: Uint8Array, from: number): Promise<void> {
    const queued = this.#queued.get(from) ?? 0;
    if (queued >= MAX_QUEUED_PER_PEER) {
      this.#refused(
        new ProtocolError("oversized", `more than ${MAX_QUEUED_PER_PEER} frames waiting`, from),
      );
      return Promise.resolve();
    }
    this.#queued.set(from, queued + 1);
    return this.#input(() => this.#endpoint.receive(frame, from, now()))
      .catch(() => {})
      .finally(() => this.#queued.set(from, (this.#queued.get(from) ?? 1) - 1));
  }

  /** Runs an endpoint call and handles its outputs, after every earlier one, in order. */
  #input(call: () => Promise<Output[]>): Promise<void> {
    const run = this.#pipeline.then(async () => {
      if (this.#stopped) return;
      const outputs = await call();
      for (const o of outputs) await this.#output(o);
      this.#reschedule();
    });
    this.#pipeline = run.catch((err) => {
      if (err instanceof SubmitError) return; // the trainer's, answered by the API
      this.#options.log("error", "node pipeline error", { error: String(err?.stack ?? err) });
    });
    return run;
  }

  #reschedule(): void {
    const at = this.#endpoint.nextTimeout();
    if (at === this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === undefined || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      this.#input(() => this.#endpoint.tick(now())).catch(() => {});
    }, Math.max(0, at - now()));
  }

  async #output(o: Output): Promise<void> {
    if (o.kind === "event") return await this.#event(o.event);
    if (o.kind === "send") {
      if (o.to === this.#options.index) return; // delivered locally by the endpoint
      this.#enqueueSend(o.to, o.frame);
      return;
    }
    await this.#broadcast(o.frame);
  }

  #enqueueSend(to: number, frame: Uint8Array): void {
    // Past this the frame's view is over for its recipient: retrying would only waste traffic.
    const deadline = Date.now() + viewPatienceMs(this.#roster);
    const previous = this.#sendQueues.get(to) ?? Promise.resolve();
    const next = previous.then(() => this.#mesh.send(to, frame, deadline)).catch(() => false);
    this.#sendQueues.set(to, next);
  }

  async #broadcast(frame: Uint8Array): Promise<void> {
    const env = openFrame(frame, this.#roster);
    if (env.type === "certificate" && env.body !== null) {
      // Gossip the certificate alone; members fetch the body by hash (from us first).
      const { round, view } = env.session;
      this.#rememberBody(round, view, readCertificate(env, this.#roster).aggregateHash, env.body);
      await this.#gossip([GOSSIP_CERTIFICATE, withoutBody(env)]);
    } else if (env.type === "cosign") {
      await this.#gossip([GOSSIP_COSIGN, frame]);
    }
  }

  async #gossip(message: (string | number | Uint8Array)[]): Promise<void> {
    try {
      const recipients = await this.#mesh.publish(encode(message));
      if (recipients === 0 && this.#mesh.connected().length > 0) {
        this.#options.log("warn", "gossip reached no peer", { kind: message[0] });
      }
    } catch (err) {
      this.#options.log("warn", "gossip failed", { kind: message[0], error: String(err) });
    }
  }

  /** Keeps a verified aggregate body to serve by (round, view, its certified hash). */
  #rememberBody(round: number, view: number, hash: Uint8Array, body: Uint8Array): void {
    this.#bodies.set(bodyKey(round, view, hash), body);
    while (this.#bodies.size > 8) this.#bodies.delete(this.#bodies.keys().next().value!);
  }

  #onGossip(data: Uint8Array, from: number): void {
    let message: unknown;
    try {
      message = decode(data, data.length, "gossip", from);
    } catch (err) {
      this.#refused(err as ProtocolError);
      return;
    }
    if (!Array.isArray(message) || typeof message[0] !== "string") return;
    const kind = message[0];
    if (kind === GOSSIP_COSIGN && message[1] instanceof Uint8Array) {
      // Same per-member cap as a frame sent directly: gossip is no way around it.
      this.#fromPeer(message[1], from);
    } else if (kind === GOSSIP_CERTIFICATE && message[1] instanceof Uint8Array) {
      this.#onCertificateGossip(message[1], from).catch((err) =>
        this.#options.log("warn", "certificate gossip failed", { from, error: String(err) })
      );
    }
  }

  /**
   * A gossiped certificate (without its body). Only if the endpoint wants it (see
   * `Endpoint.wantsCertificate`) is a fetch of its body queued: at most one per session, at
   * most {@link MAX_PENDING_FETCHES} waiting or running (beyond that it is dropped, logged and
   * counted), one at a time.
   */
  async #onCertificateGossip(frame: Uint8Array, from: number): Promise<void> {
    const interest = await this.#endpoint.wantsCertificate(frame, from);
    if (interest.kind === "refused") return this.#refused(interest.error);
    if (interest.kind === "ignore") return;
    const { round, view } = interest.envelope.session;
    const key = `${round}/${view}`;
    if (this.#fetching.has(key)) return;
    if (this.#pendingFetches >= MAX_PENDING_FETCHES) {
      this.metrics.inc(
        "fedagg_certificate_fetches_dropped_total",
        "Certified aggregates not fetched: too many fetches were waiting",
      );
      this.#options.log("warn", "certificate dropped: too many body fetches waiting", {
        round,
        view,
        from,
      });
      return;
    }
    this.#fetching.add(key);
    while (this.#fetching.size > MAX_FETCHED) {
      this.#fetching.delete(this.#fetching.values().next().value!);
    }
    this.#pendingFetches++;
    const fetched = this.#fetches.then(() => this.#fetchBody(frame, from))
      .finally(() => this.#pendingFetches--);
    this.#fetches = fetched.catch(() => {});
    await fetched;
  }

  /**
   * Fetches the body of a wanted certificate (from the publisher first, then from any connected
   * member; up to 5 rounds of attempts) and hands the whole frame to the endpoint. A body that
   * does not hash to the certified hash is refused (blaming the member that served it), and the
   * next member is asked.
   */
  async #fetchBody(frame: Uint8Array, from: number): Promise<void> {
    // Asked again: the round may have been decided while this fetch waited its turn.
    const interest = await this.#endpoint.wantsCertificate(frame, from);
    if (interest.kind !== "fetch") return;
    const { envelope: env, aggregateHash: hash } = interest;
    const { round, view } = env.session;
    let body = this.#bodies.get(bodyKey(round, view, hash));
    const maxBytes = 4 * (this.#roster.dim + 1);
    const junk = new Set<number>();
    for (let attempt = 0; body === undefined && attempt < 5 && !this.#stopped; attempt++) {
      const sources = [from, ...this.#mesh.connected().filter((i) => i !== from)];
      for (const source of sources.filter((i) => !junk.has(i))) {
        const got = await this.#mesh.fetchAggregate(
          source,
          { round, view, hash, maxBytes },
          30_000,
        );
        if (got === undefined) continue;
        if (equalBytes(aggregateHash(env.session, got), hash)) {
          body = got;
          break;
        }
        junk.add(source);
        this.#refused(
          new ProtocolError(
            "commitment-mismatch",
            `served a body for round ${round} view ${view} that does not match the certified hash`,
            source,
          ),
        );
      }
      if (body === undefined) await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
    if (body === undefined) {
      this.#options.log("warn", "could not fetch a certified aggregate", { round, view, from });
      return;
    }
    const full = encode([env.payload, env.signature.ed25519, env.signature.mlDsa65, body]);
    await this.#input(() => this.#endpoint.receive(full, from, now()));
  }

  #refused(err: ProtocolError): void {
    this.metrics.inc("fedagg_refusals_total", "Inputs refused, by reason", { code: err.code });
    this.#lastError = err.message;
    this.#options.log("warn", "refused", { code: err.code, peer: err.peer, detail: err.message });
  }

  #emit(e: NodeEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // a subscriber's failure is its own
      }
    }
  }

  async #event(e: ProtocolEvent): Promise<void> {
    const ids = (members: readonly number[]) => members.map((i) => this.#roster.members[i].id);
    switch (e.type) {
      case "refused":
        return this.#refused(e.error);
      case "internal-error":
        this.#lastError = e.message;
        this.metrics.inc(
          "fedagg_internal_errors_total",
          "Unexpected errors caught in the protocol core",
        );
        return this.#options.log("error", "internal error in the protocol core", {
          message: e.message,
        });
      case "stage":
        if (e.role === "participant") {
          this.#current = { round: e.round, view: e.view, stage: e.stage };
        } else {
          this.#leading = { round: e.round, view: e.view, stage: e.stage };
        }
        return;
      case "view-change":
        this.metrics.inc("fedagg_view_changes_total", "View changes (a leader stalled)");
        return this.#options.log("warn", "view change", { round: e.round, from: e.from, to: e.to });
      case "committed":
        // Durable before the frame that commits (the next output) leaves.
        return await this.#journal.recordCommit(e.round, e.view);
      case "published":
        this.#rememberBody(
          e.round,
          e.view,
          readCertificate(openFrame(e.certificate, this.#roster), this.#roster).aggregateHash,
          u32Bytes(e.aggregate),
        );
        try {
          await this.#journal.recordAggregate({
            round: e.round,
            view: e.view,
            members: e.members,
            aggregate: e.aggregate,
            certificate: e.certificate,
          });
        } catch (err) {
          // Not fatal to the round: this member's co-signature (the next output) still goes
          // out, and the final certificate writes the whole record again.
          this.#options.log("error", "could not journal the published aggregate", {
            round: e.round,
            error: String(err),
          });
          return;
        }
        this.metrics.inc(
          "fedagg_rounds_published_total",
          "Rounds whose aggregate this node verified",
        );
        this.#emit({ type: "published", round: e.round, view: e.view, members: ids(e.members) });
        return;
      case "final": {
        if ((await this.#journal.recorded(e.round)).published) {
          await this.#journal.recordFinal(e.round, e.certificate);
        } else {
          // Its published record never landed (its write failed): write the whole record now.
          await this.#journal.recordAggregate({
            round: e.round,
            view: e.view,
            members: e.members,
            aggregate: e.aggregate,
            certificate: splitFinalCertificate(this.#roster, e.certificate).certificate,
            final: e.certificate,
          });
        }
        // Final: this member's raw update is no longer needed to resume the round.
        await this.#journal.pruneUpdate(e.round);
        this.#lastFinalRound = Math.max(this.#lastFinalRound ?? -1, e.round);
        this.metrics.inc("fedagg_rounds_final_total", "Rounds with a final certificate");
        const started = this.#submittedAt.get(e.round);
        if (started !== undefined) {
          this.metrics.set(
            "fedagg_round_latency_seconds",
            "Submission to final certificate, last round",
            (performance.now() - started) / 1000,
          );
        }
        this.#options.log("info", "aggregate final", {
          round: e.round,
          view: e.view,
          members: e.members.length,
        });
        this.#emit({ type: "final", round: e.round, view: e.view, members: ids(e.members) });
        return;
      }
      case "round-failed":
        this.metrics.inc("fedagg_rounds_failed_total", "Rounds that failed for this node");
        this.#lastError = e.reason;
        this.#options.log("warn", "round failed", {
          round: e.round,
          view: e.view,
          reason: e.reason,
        });
        this.#emit({ type: "round-failed", round: e.round, view: e.view, reason: e.reason });
        return;
    }
  }
}

function now(): number {
  return performance.now();
}

function bodyKey(round: number, view: number, hash: Uint8Array): string {
  return `${round}/${view}/${toHex(hash)}`;
}
