/**
 * The fedagg node: this member's protocol {@link Endpoint} run in real time over the libp2p
 * {@link Mesh}, with the {@link Journal} and the trainer-facing operations the HTTP API exposes.
 * Every protocol decision stays in `protocol/`; the node moves bytes, keeps time, stores and
 * reports, in three parts it wires together here:
 *
 * - the {@link RoundDriver} runs the endpoint's calls one at a time and performs its outputs;
 * - the {@link CertificateExchange} gossips certificates and co-signatures and fetches and
 *   serves aggregate bodies;
 * - the {@link EventSink} journals, counts, logs and reports the protocol's events.
 *
 * Ordering guarantees: an update is journaled before `submit` resolves (before the API answers);
 * an `advertised` event is written to the journal before the advert it announces is sent, a
 * `masked` event before the masked input, and a `committed` event before the frame that commits;
 * frames to one member leave in the order the protocol produced them. After a restart every journaled update without an aggregate is resumed
 * or given up as the endpoint decides (`#restore`), and its raw values are deleted whenever its
 * round ends for this member (final or `round-failed`).
 *
 * @module
 */
import process from "node:process";
import {
  aggregateMean,
  CallerError,
  ChainEndpoint,
  countClipped,
  dpMemberSeed,
  dpRoundUpdate,
  type DpSpend,
  leaderOf,
  type MaskExpander,
  MAX_ROUND,
  maxFrameSize,
  quantize,
  type RobustOutcome,
  type Roster,
  type RosterVersion,
  ROUND_WINDOW,
  type SignedAmendment,
  storedRobustOutcome,
  systemRng,
  u32Bytes,
  walkChain,
} from "../protocol/mod.ts";
import { readAmendmentDir, signedOf, storeAmendment } from "./amendment_dir.ts";
import type { AmendmentFile } from "./amendment_file.ts";
import { CertificateExchange } from "./certificate_exchange.ts";
import { JournalError, NodeError } from "./errors.ts";
import { DEFAULT_RETENTION, retainJournal, type RetentionPolicy } from "./journal_retention.ts";
import type { LoggedEvent, Replay } from "./event_log.ts";
import { EventSink, type NodeEvent } from "./event_sink.ts";
import type { NodeIdentity } from "./identity.ts";
import { Journal, type StoredAggregate } from "./journal.ts";
import { type Log, Mesh } from "./mesh.ts";
import { FEDAGG_VERSION, nodeMetrics, rosterHashPrefix } from "./metric_catalog.ts";
import type { Exposure, Metrics } from "./metrics.ts";
import { now, RoundDriver } from "./round_driver.ts";
import { PEER_LOSS_GRACE_MS, PeerWatch } from "./peer_watch.ts";
import { addressesOf, type RosterFile } from "./roster_file.ts";
import { loadDpNoiseKey } from "./dp_noise_key.ts";
import { DpLedger } from "./dp_ledger.ts";
import type { TensorLayout } from "./tensor_formats/mod.ts";
import { WorkerExpander } from "./worker_expander.ts";
import { RobustOutcomeCache } from "./robust_outcome_cache.ts";

export type { NodeEvent };

/** What a node needs to start. */
export interface NodeOptions {
  readonly dir: string;
  readonly identity: NodeIdentity;
  readonly rosterFile: RosterFile;
  /**
   * The roster every member signed: version 0 of the federation's roster chain, which the node
   * extends with the amendments in `DIR/amendments/` at start and those it adopts while running
   * (`adoptAmendment`).
   */
  readonly roster: Roster;
  /**
   * This member's index in `roster`, when it is listed there (a member that joins in a later
   * version is not). The node finds itself in every version by its identity; a given index
   * must match.
   */
  readonly index?: number;
  readonly listen: readonly string[];
  readonly log: Log;
  /** Mask expander (default: Worker threads, one per core). */
  readonly expander?: MaskExpander & { close?(): void };
  /** How much of the journal to keep (default {@link DEFAULT_RETENTION}). */
  readonly retention?: RetentionPolicy;
  /** Events kept for `Last-Event-ID` replay (default `DEFAULT_EVENT_CAPACITY`). */
  readonly eventReplayCapacity?: number;
  /**
   * How long (ms) a member's connection may be down before the protocol is told the member is
   * lost (default {@link PEER_LOSS_GRACE_MS}; see `peer_watch.ts`).
   */
  readonly peerLossGraceMs?: number;
}

/** What `status` reports. */
export interface NodeStatus {
  readonly peerId: string;
  /** This member's roster index in the version of the current round (-1: not listed there). */
  readonly index: number;
  /**
   * The roster version the current round runs under, and the newest version this node knows
   * (with the round it takes effect from).
   */
  readonly rosterVersion: number;
  readonly newestRosterVersion: { readonly version: number; readonly firstRound: number };
  readonly federation: string;
  readonly addresses: readonly string[];
  readonly peers: {
    readonly connected: number;
    readonly members: number;
    readonly ids: readonly string[];
  };
  /**
   * The federation's current round as this member knows it (one past the newest round that
   * ended here): updates are taken for it and up to `ROUND_WINDOW` rounds ahead.
   */
  readonly currentRound: number;
  /** The newest round this node took part in, its view, leader and stage. */
  readonly round: number | null;
  readonly view: number | null;
  readonly leader: string | null;
  readonly stage: string | null;
  /**
   * For that round while this member still works on it: milliseconds until its round deadline
   * (≤ 0: passed), and the members that have not contributed to its view as far as it knows
   * (missing from the newest list its leader sent; null before the first list).
   */
  readonly deadlineInMs: number | null;
  readonly missing: readonly string[] | null;
  readonly lastFinalRound: number | null;
  readonly lastError: string | null;
  /** The session this node last led and its leader stage. */
  readonly leading:
    | { readonly round: number; readonly view: number; readonly stage: string }
    | null;
  readonly traffic: { readonly bytesSent: number; readonly bytesReceived: number };
  readonly peakRssBytes: number;
  /**
   * Peak of the JavaScript heap in use (`Deno.memoryUsage().heapUsed`), sampled like
   * `peakRssBytes` every 250 ms: live objects and garbage not yet collected, without the
   * off-heap buffers that back typed arrays (those count in RSS).
   */
  readonly peakHeapUsedBytes: number;
  /**
   * Peak of the memory V8 holds outside its heap (`Deno.memoryUsage().external`), sampled the
   * same way: the ArrayBuffers behind vectors, frames and keystream chunks live here.
   */
  readonly peakExternalBytes: number;
  /**
   * The fedagg version and the signed roster's (version 0's) hash prefix, as `fedagg_roster_info`
   * shows it; the version of the current round is {@link rosterVersion}.
   */
  readonly version: string;
  readonly rosterHash: string;
  /**
   * The journal's size as last measured (after start-up and after each update, end of round
   * and retention pass) and the retention policy it is kept to.
   */
  readonly journal: {
    readonly bytes: number;
    readonly rounds: number;
    readonly keepRounds: number;
    readonly keepBytes: number;
    readonly archiveDir: string | null;
  };
  /**
   * DP rosters only: this member's privacy spend (rounds charged at commit, ε spent at the
   * roster's δ, the budget, the whole rounds left).
   */
  readonly dp?: DpSpend;
}

/** A running node. */
export class FedaggNode {
  readonly #options: NodeOptions;
  /** Version 0 of the chain (the roster every member signed). */
  readonly #roster: Roster;
  readonly #endpoint: ChainEndpoint;
  /** The amendments the chain was walked through (every copy kept, valid or pending). */
  #amendments: SignedAmendment[];
  /** Adoptions run one at a time. */
  #adopting: Promise<unknown> = Promise.resolve();
  /** The member slots admitted when the mesh was last told (see {@link #refreshMesh}). */
  #admittedKey = "";
  readonly #journal: Journal;
  /** The robust results of recent rounds (`aggregate`), so re-serving one costs no recompute. */
  readonly #robustCache = new RobustOutcomeCache();
  readonly #expander: MaskExpander & { close?(): void };
  readonly #sink: EventSink;
  readonly #driver: RoundDriver;
  readonly #exchange: CertificateExchange;
  readonly #watch: PeerWatch;
  /** The node's metrics (every documented series from the start: `metric_catalog.ts`). */
  readonly metrics: Metrics;
  #mesh!: Mesh;
  readonly #submitting = new Set<number>();
  #peakRss = 0;
  #peakHeap = 0;
  #peakExternal = 0;
  #rssTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  readonly #retention: RetentionPolicy;
  #journalUsage = { bytes: 0, rounds: 0 };
  /** The retention pass running now, and whether another one was asked for meanwhile. */
  #retaining: Promise<void> | undefined;
  #retainAgain = false;
  /** Rounds with an update that the start-up scan moved aside, for {@link #restore}. */
  #damaged: { round: number; reason: string }[] = [];
  /** DP rosters: the key this member's per-round noise seeds derive from (`dp_noise_key.ts`). */
  #dpKey: Uint8Array | undefined;
  /** DP rosters: the spend, charged at commit (`dp_ledger.ts`). */
  #dpLedger: DpLedger | undefined;
  /** DP rosters: rounds with an update accepted here, not charged and not ended yet. */
  readonly #dpInFlight = new Set<number>();

  private constructor(
    options: NodeOptions,
    chain: readonly RosterVersion[],
    amendments: SignedAmendment[],
  ) {
    this.#options = options;
    this.#roster = options.roster;
    this.#amendments = amendments;
    this.#retention = options.retention ?? DEFAULT_RETENTION;
    this.metrics = nodeMetrics(options.roster);
    this.metrics.collect(() => this.#collectMetrics());
    this.#expander = options.expander ?? new WorkerExpander();
    try {
      this.#endpoint = new ChainEndpoint({
        versions: chain,
        self: options.identity.peerId,
        signer: options.identity.signer,
        rng: systemRng,
        expander: this.#expander,
      });
    } catch (err) {
      this.#expander.close?.();
      if (!(err instanceof CallerError && err.code === "not-a-member")) throw asNodeError(err);
      throw new NodeError(
        "not-a-member",
        `this node (${options.identity.peerId}) is not in the roster, and no valid amendment in ` +
          `${options.dir}/amendments/ adds it`,
      );
    }
    const rosterOf = (round: number) => this.#endpoint.rosterOf(round);
    this.#journal = new Journal(options.dir, rosterOf);
    const { log } = options;
    this.#sink = new EventSink({
      roster: rosterOf,
      journal: this.#journal,
      metrics: this.metrics,
      log,
      replayCapacity: options.eventReplayCapacity,
    });
    this.#driver = new RoundDriver({
      roster: () => this.#endpoint.versions.at(-1)!.roster,
      self: this.#endpoint.slotOf(options.identity.peerId)!,
      endpoint: this.#endpoint,
      log,
      sinks: {
        event: async (e) => {
          if ((e.type === "masked" || e.type === "committed") && this.#dpLedger !== undefined) {
            // Charged before the masked input (the next output) leaves — a leader may count it
            // without this member's approval — so before any approval or reveal, whatever the
            // round's outcome; once per round (every view sends the same noisy vector).
            await this.#dpLedger.charge(e.round);
            this.#dpInFlight.delete(e.round);
          }
          await this.#sink.handle(e);
        },
        refused: (err) => this.#sink.refused(err),
        broadcast: (frame, published) => this.#exchange.broadcast(frame, published),
        body: (round, view, hash, body) => this.#exchange.remember(round, view, hash, body),
      },
      cpuMs: () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1000;
      },
      timed: (what, protocolMs, outputsMs, protocolCpuMs) => {
        this.metrics.inc("fedagg_protocol_seconds_total", "", {}, protocolMs / 1000);
        this.metrics.inc("fedagg_protocol_cpu_seconds_total", "", {}, protocolCpuMs / 1000);
        this.metrics.inc("fedagg_protocol_outputs_seconds_total", "", {}, outputsMs / 1000);
        // Per input at debug level: the round breakdown (scripts/round_breakdown.ts) places
        // each in the stage it fell in by its time.
        if (protocolMs + outputsMs >= 1) {
          log("debug", "protocol input", {
            what,
            protocolMs: Math.round(protocolMs * 10) / 10,
            cpuMs: Math.round(protocolCpuMs * 10) / 10,
            outputsMs: Math.round(outputsMs * 10) / 10,
          });
        }
      },
    });
    this.#watch = new PeerWatch({
      graceMs: options.peerLossGraceMs ?? PEER_LOSS_GRACE_MS,
      lost: (member) => {
        this.metrics.inc("fedagg_members_lost_total", "");
        void this.#driver.memberReport(member, true);
      },
      back: (member) => void this.#driver.memberReport(member, false),
    });
    this.#exchange = new CertificateExchange({
      endpoint: this.#endpoint,
      driver: this.#driver,
      metrics: this.metrics,
      log,
      refused: (err) => this.#sink.refused(err),
    });
  }

  /**
   * Starts the mesh, restores the journal's state and begins serving. If any step fails, what
   * was started (mesh, timers, mask workers) is stopped before the error is rethrown.
   */
  static async start(options: NodeOptions): Promise<FedaggNode> {
    const amendments = await readAmendmentDir(options.dir, options.roster);
    const walked = await walkChain(options.roster, amendments);
    if (walked.fork !== undefined) {
      options.log("error", "two valid successors of one roster version: both refused", {
        version: walked.fork.amended.version,
        equivocators: walked.fork.equivocators,
      });
    }
    if (
      options.index !== undefined &&
      options.index !== options.roster.indexOf(options.identity.peerId)
    ) {
      throw new NodeError("not-a-member", `this node is not member ${options.index} of the roster`);
    }
    const node = new FedaggNode(options, walked.versions, amendments);
    try {
      // Before anything reads the journal or joins the mesh: repairs, quarantines or refuses.
      const scan = await node.#journal.open({ log: options.log, metrics: node.metrics });
      node.#damaged = scan.quarantined.flatMap((q) =>
        q.updateRound === undefined
          ? []
          : [{ round: q.updateRound, reason: `${q.path} moved to ${q.movedTo}: ${q.reason}` }]
      );
      node.#admittedKey = [...node.#endpoint.admitted()].join(",");
      node.#mesh = await Mesh.start({
        identity: options.identity,
        roster: options.roster,
        members: node.#endpoint.members,
        admitted: node.#endpoint.admitted(),
        addresses: node.#addresses(),
        listen: options.listen,
        maxFrame: node.#maxFrame(),
        onFrame: (frame, from) => node.#driver.fromPeer(frame, from),
        onGossip: (data, from) => node.#exchange.onGossip(data, from),
        aggregateBody: (round, view, hash) => node.#exchange.body(round, view, hash),
        onConnected: (member) => node.#watch.up(member),
        onDisconnected: (member) => node.#watch.down(member),
        log: options.log,
      });
      node.#driver.attach(node.#mesh);
      node.#exchange.attach(node.#mesh);
      node.#rssTimer = setInterval(() => node.#sampleMemory(), 250);
      node.#sampleMemory();
      if (options.roster.dp !== undefined) {
        node.#dpKey = await loadDpNoiseKey(options.dir);
        node.#dpLedger = await DpLedger.open(
          options.dir,
          options.roster.dp,
          options.roster.federation,
        );
        node.#sink.subscribe(({ event }) => {
          if (["final", "round-failed", "withdrawn"].includes(event.type)) {
            node.#dpInFlight.delete(event.round);
          }
        });
      }
      await node.#restore();
      // A round that ends may move the current round past a version that removed a member.
      node.#sink.subscribe(({ event }) => {
        if (["final", "round-failed", "published"].includes(event.type)) {
          void node.#refreshMesh();
        }
      });
      node.#sink.subscribe(({ event }) => {
        if (["accepted", "final", "round-failed", "withdrawn"].includes(event.type)) {
          node.#retain();
        }
      });
      node.#retain();
      await node.#retaining;
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

  /**
   * The roster of the federation's current round (as this node knows it). Its `dim` and layout
   * are those of every version (a running node adopts no amendment that changes them).
   */
  get roster(): Roster {
    return this.#endpoint.rosterOf(this.#endpoint.currentRound);
  }

  /** The roster `round` runs under (the version of the chain that governs it). */
  rosterOf(round: number): Roster {
    return this.#endpoint.rosterOf(round);
  }

  /** The roster versions this node knows, version 0 first. */
  get versions(): readonly RosterVersion[] {
    return this.#endpoint.versions;
  }

  /**
   * Takes a roster amendment file (`POST /v1/roster/amendments`): checks it against the chain
   * from this node's signed roster, stores it in `DIR/amendments/` and, once it makes a valid
   * version, adopts that version: its rounds run under it from its first round on, the mesh
   * admits its members (dialling joiners at their signed addresses) and refuses those it removed
   * once the rounds before it ended. Resolves to what became of it: `adopted` (the versions
   * added), or `pending` (kept; it lacks approvals or joiners' signatures, as listed).
   *
   * Refuses (NodeError, nothing stored or adopted): `amendment-invalid` — another federation's,
   * keys or signatures that do not decode, an amendment that extends no version of the chain
   * (the walker's reason), or one that forks it (two valid successors of one version: both
   * refused, the members who approved both named); `amendment-refused` — a version whose first
   * round is ≤ the current round + `ROUND_WINDOW`, or that changes the dim, layout, mode or a DP
   * roster (see `ChainEndpoint.adopt`).
   */
  adoptAmendment(file: AmendmentFile): Promise<AdoptionResult> {
    const run = this.#adopting.then(() => this.#adopt(file));
    this.#adopting = run.catch(() => {});
    return run;
  }

  async #adopt(file: AmendmentFile): Promise<AdoptionResult> {
    const signed = signedOf(file, this.#roster, "the amendment");
    const walked = await walkChain(this.#roster, [...this.#amendments, signed]);
    if (walked.fork !== undefined) {
      const { amended, equivocators } = walked.fork;
      throw new NodeError(
        "amendment-invalid",
        `this amendment makes a second valid successor of roster version ${amended.version}: ` +
          `both are refused (approved both: ${equivocators.join(", ") || "nobody"})`,
      );
    }
    const refused = walked.refused.find((r) => r.signed === signed);
    if (refused !== undefined) {
      throw new NodeError(
        "amendment-invalid",
        `the amendment is refused: ${refused.error.message}`,
      );
    }
    const known = this.#endpoint.versions.length;
    const step = walked.steps.findIndex((st) => st.copies.includes(signed));
    if (step >= 0 && step + 1 < known) {
      // A copy of a version already adopted: nothing changes.
      const v = walked.versions[step + 1];
      return {
        status: "adopted",
        version: v.version,
        firstRound: v.firstRound,
        approvedBy: walked.steps[step].approvedBy,
        needed: walked.steps[step].needed,
        joinersMissing: [],
      };
    }
    // Too late is refused whether or not the amendment is valid yet: it could never be adopted.
    try {
      this.#endpoint.checkFirstRound(file.version, file.firstRound);
    } catch (err) {
      throw asNodeError(err);
    }
    if (walked.versions.length === known) {
      const pending = walked.pending.find((c) => c.copies.includes(signed));
      await storeAmendment(this.#options.dir, file);
      this.#amendments = [...this.#amendments, signed];
      return {
        status: "pending",
        version: file.version,
        firstRound: file.firstRound,
        approvedBy: pending?.approvedBy ?? [],
        needed: pending?.needed ?? 0,
        joinersMissing: pending?.joinersMissing ?? [],
      };
    }
    // Checked before anything is stored: adopt() refuses exactly what it would refuse now.
    try {
      this.#endpoint.checkAdoption(walked.versions);
    } catch (err) {
      throw asNodeError(err);
    }
    await storeAmendment(this.#options.dir, file);
    this.#amendments = [...this.#amendments, signed];
    const added = this.#endpoint.adopt(walked.versions);
    for (const v of added) {
      this.#options.log("info", "adopted a roster version", {
        version: v.version,
        firstRound: v.firstRound,
        members: v.roster.members.length,
        threshold: v.roster.threshold,
      });
    }
    await this.#refreshMesh(true);
    const tip = walked.versions.at(-1)!;
    return {
      status: "adopted",
      version: tip.version,
      firstRound: tip.firstRound,
      approvedBy: walked.steps.at(-1)?.approvedBy ?? [],
      needed: walked.steps.at(-1)?.needed ?? 0,
      joinersMissing: [],
    };
  }

  /** Dial addresses by member slot: the roster file's for version 0, then each newest entry's. */
  #addresses(): (readonly string[])[] {
    const genesis = addressesOf(this.#options.rosterFile, this.#roster);
    return this.#endpoint.members.map((id) => {
      for (const v of [...this.#endpoint.versions].reverse()) {
        const m = v.roster.members[v.roster.indexOf(id) ?? -1];
        if (m?.addresses !== undefined && m.addresses.length > 0) return m.addresses;
      }
      return genesis[this.#roster.indexOf(id) ?? -1] ?? [];
    });
  }

  /** The largest frame of any known version (the mesh accepts up to it). */
  #maxFrame(): number {
    return Math.max(...this.#endpoint.versions.map((v) => maxFrameSize(v.roster)));
  }

  /**
   * Tells the mesh the members, their addresses and who is admitted now, when that changed
   * (or `always`). Failures are logged.
   */
  async #refreshMesh(always = false): Promise<void> {
    if (this.#mesh === undefined || this.#stopped) return;
    const admitted = this.#endpoint.admitted();
    const key = [...admitted].join(",");
    if (!always && key === this.#admittedKey) return;
    this.#admittedKey = key;
    this.#options.log("info", "members admitted", {
      currentRound: this.#endpoint.currentRound,
      members: [...admitted].sort((x, y) => x - y),
    });
    try {
      await this.#mesh.update({
        members: this.#endpoint.members,
        addresses: this.#addresses(),
        admitted,
        maxFrame: this.#maxFrame(),
      });
    } catch (err) {
      this.#options.log("error", "could not update the mesh's members", { error: String(err) });
    }
  }

  /** The journal (read access for the API). */
  get journal(): Journal {
    return this.#journal;
  }

  /**
   * Subscribes to node events (each with its id); returns the unsubscribe function and the kept
   * events after `lastEventId` to send first (`EventSink.subscribe`).
   */
  subscribe(
    listener: (e: LoggedEvent<NodeEvent>) => void,
    lastEventId?: string,
  ): { unsubscribe: () => void; replay: Replay<NodeEvent> } {
    return this.#sink.subscribe(listener, lastEventId);
  }

  /**
   * Accepts the trainer's update for `round`: checks it, journals it (durably) and starts this
   * member's part in the round. Refuses with a {@link NodeError}: `invalid-round`, `wrong-dim`,
   * `invalid-num-samples`, `submit-in-progress`, `already-submitted`, `quarantined`,
   * `already-final`, or what the endpoint refuses (`decided`, `committed-before-restart`,
   * `round-too-far-ahead`: more than `ROUND_WINDOW` past the federation's current round), before
   * journaling anything —
   * except when a certificate decides the round while the update is being journaled: then the
   * update stays journaled and the refusal is `decided`. Resolves to how many of the values
   * quantization clips to the roster's `[-clip, clip]` (also counted in
   * `fedagg_update_values_clipped_total`, a token-only series).
   */
  async submit(
    round: number,
    values: Float32Array,
    numSamples: number,
    layout: TensorLayout,
  ): Promise<{ readonly clipped: number }> {
    if (!Number.isSafeInteger(round) || round < 0 || round >= MAX_ROUND) {
      throw new NodeError("invalid-round", `round must be an integer in [0, 2^48), got ${round}`);
    }
    const roster = this.#endpoint.rosterOf(round);
    const q = roster.quantization;
    if (values.length !== roster.dim) {
      throw new NodeError(
        "wrong-dim",
        `update has ${values.length} values, the roster's d is ${roster.dim}`,
      );
    }
    if (!Number.isSafeInteger(numSamples) || numSamples < 1 || numSamples > q.maxWeight) {
      throw new NodeError(
        "invalid-num-samples",
        roster.dp === undefined
          ? `num_samples must be an integer in [1, ${q.maxWeight}] (the roster's maxWeight), got ${numSamples}`
          : `num_samples must be 1 on a DP roster (every weight is 1: a weight would change the ` +
            `sensitivity the noise is calibrated to), got ${numSamples}`,
      );
    }
    // Claimed before the first await, so concurrent uploads for one round cannot both pass.
    if (this.#submitting.has(round)) {
      throw new NodeError(
        "submit-in-progress",
        `an update for round ${round} is already being accepted`,
      );
    }
    this.#submitting.add(round);
    let reserved: number | undefined;
    let accepted = false;
    try {
      if ((await this.#journal.recorded(round)).update) {
        throw new NodeError(
          "already-submitted",
          `an update for round ${round} was already accepted`,
        );
      }
      if (await this.#journal.quarantined(round)) {
        throw new NodeError(
          "quarantined",
          `round ${round}'s journal was damaged and moved to journal/quarantine/ at start-up: ` +
            "this member may have committed in it, so it takes no new update for that round",
        );
      }
      const last = this.#sink.lastFinalRound;
      if (last !== undefined && round <= last) {
        throw new NodeError(
          "already-final",
          `round ${round} is already final here (last final round ${last})`,
        );
      }
      try {
        this.#endpoint.checkSubmit(round);
      } catch (err) {
        throw asNodeError(err);
      }
      if (this.#dpLedger !== undefined && !this.#dpInFlight.has(round)) {
        try {
          this.#dpLedger.check(round, this.#dpInFlight.size);
        } catch (err) {
          this.metrics.inc("fedagg_dp_budget_refusals_total", "");
          throw err;
        }
        // Reserved now (before the next await), so concurrent uploads for other rounds cannot
        // both take the budget's last round; released below if this one is not accepted.
        if (!this.#dpLedger.has(round)) {
          reserved = round;
          this.#dpInFlight.add(round);
        }
      }
      try {
        await this.#journal.recordUpdate(round, { values, numSamples, layout });
      } catch (err) {
        if (err instanceof JournalError && err.code === "disk-full") {
          this.metrics.inc(
            "fedagg_journal_disk_full_total",
            "Updates refused (507) because the journal's disk (or quota) was full",
          );
          this.#options.log("error", "journal disk full: update refused", {
            round,
            path: err.path,
          });
        }
        throw err;
      }
      this.metrics.inc("fedagg_updates_accepted_total", "Updates accepted from the trainer");
      const clipped = roster.dp === undefined
        ? countClipped(values, q.clip)
        : l2Norm(values) > roster.dp.clip
        ? values.length // the L2 clip scales every value
        : 0;
      await this.#start(round, values, numSamples);
      this.#sink.accepted(round, numSamples);
      // A function of this member's private update: a token-only series (metric_catalog.ts).
      this.metrics.inc("fedagg_update_values_clipped_total", "", {}, clipped);
      accepted = true;
      return { clipped };
    } finally {
      this.#submitting.delete(round);
      if (!accepted && reserved !== undefined) this.#dpInFlight.delete(reserved);
    }
  }

  /**
   * Withdraws this member's update for `round` (the trainer's `DELETE`): the endpoint wipes the
   * round's secrets and sends nothing more for it, then the withdrawal is journaled and the
   * update deleted before this resolves, so a restart does not resume it; a new update for the
   * round may be submitted afterwards. Refuses with a {@link NodeError}: `invalid-round`,
   * `submit-in-progress` (an upload or a withdrawal of the round is under way), or what the
   * endpoint refuses: `nothing-to-withdraw`, `decided`, `committed` (its masked input left).
   */
  async withdraw(round: number): Promise<void> {
    if (!Number.isSafeInteger(round) || round < 0 || round >= MAX_ROUND) {
      throw new NodeError("invalid-round", `round must be an integer in [0, 2^48), got ${round}`);
    }
    if (this.#submitting.has(round)) {
      throw new NodeError(
        "submit-in-progress",
        `an update for round ${round} is being accepted or withdrawn right now`,
      );
    }
    this.#submitting.add(round);
    try {
      await this.#driver.input(() => this.#endpoint.withdraw(round)).catch((err) => {
        throw asNodeError(err);
      });
    } finally {
      this.#submitting.delete(round);
    }
  }

  /**
   * The stored aggregate of `round`, if published, with the roster's layout (the same at every
   * member, whatever format each uploaded in) and its result (computed when first read): `mean`
   * is the round's published result — under a robust rule the rule's result over the group means
   * (`storedRobustOutcome`, checked against the certificate, computed once per round and
   * certificate and kept for the last few rounds: `robust_outcome_cache.ts`; float64 served as
   * float32), else the weighted mean of the total — and `plainMean` is always the weighted mean
   * of the total.
   */
  async aggregate(round: number): Promise<
    {
      stored: StoredAggregate;
      mean: Float32Array;
      plainMean: Float32Array;
      robust: RobustOutcome | undefined;
      layout: TensorLayout;
    } | undefined
  > {
    const stored = await this.#journal.aggregate(round);
    if (stored === undefined) return undefined;
    const roster = this.#endpoint.rosterOf(round);
    const layout = roster.layout;
    let plain: Float32Array | undefined;
    let served: Float32Array | undefined;
    // With groups the group sums follow the total: the plain mean is the total's (aggregateMean).
    const plainOf = () =>
      plain ??= aggregateMean(roster, round, stored.aggregate, stored.members.length);
    let robust: RobustOutcome | undefined | null = null;
    const robustOf = () =>
      robust === null
        ? robust = this.#robustCache.get(
          round,
          stored.certificate,
          () => storedRobustOutcome(roster, stored.certificate, stored.aggregate),
        )
        : robust;
    return {
      stored,
      layout,
      get plainMean() {
        return plainOf();
      },
      get robust() {
        return robustOf();
      },
      get mean() {
        const r = robustOf();
        return r === undefined ? plainOf() : served ??= Float32Array.from(r.result);
      },
    };
  }

  /** The node's status. */
  status(): NodeStatus {
    const c = this.#sink.current;
    const connected = this.#mesh.connected();
    const p = c === undefined ? undefined : this.#endpoint.participant(c.round);
    const currentRound = this.#endpoint.currentRound;
    const current = this.#endpoint.versionOf(currentRound);
    const newest = this.#endpoint.versions.at(-1)!;
    const roundRoster = c === undefined ? current.roster : this.#endpoint.rosterOf(c.round);
    const members = this.#endpoint.members;
    const deadline = p?.open ? p.roundDeadline : undefined;
    const missing = p?.open ? p.missing : undefined;
    return {
      peerId: this.#options.identity.peerId,
      index: current.roster.indexOf(this.#options.identity.peerId) ?? -1,
      rosterVersion: current.version,
      newestRosterVersion: { version: newest.version, firstRound: newest.firstRound },
      federation: this.#roster.federation,
      addresses: this.#mesh.addresses,
      peers: {
        connected: connected.length,
        members: this.#endpoint.admitted().size,
        ids: connected.map((i) => members[i]),
      },
      currentRound,
      round: c?.round ?? null,
      view: c?.view ?? null,
      leader: c === undefined
        ? null
        : roundRoster.members[leaderOf(roundRoster, c.round, c.view)].id,
      stage: c?.stage ?? null,
      deadlineInMs: deadline === undefined ? null : Math.round(deadline - now()),
      missing: missing === undefined ? null : missing.map((i) => roundRoster.members[i].id),
      lastFinalRound: this.#sink.lastFinalRound ?? null,
      lastError: this.#sink.lastError ?? null,
      leading: this.#sink.leading ?? null,
      traffic: {
        bytesSent: this.#mesh.counters.bytesSent,
        bytesReceived: this.#mesh.counters.bytesReceived,
      },
      peakRssBytes: this.#peakRss,
      peakHeapUsedBytes: this.#peakHeap,
      peakExternalBytes: this.#peakExternal,
      version: FEDAGG_VERSION,
      rosterHash: rosterHashPrefix(this.#roster),
      journal: {
        ...this.#journalUsage,
        keepRounds: this.#retention.keepRounds,
        keepBytes: this.#retention.keepBytes,
        archiveDir: this.#retention.archiveDir ?? null,
      },
      ...(this.#dpLedger === undefined ? {} : { dp: this.#dpLedger.spend() }),
    };
  }

  /**
   * Runs a retention pass (`journal_retention.ts`) and measures the journal, one pass at a
   * time (a pass asked for while one runs runs after it). Failures are logged, never thrown.
   */
  #retain(): void {
    if (this.#retaining !== undefined) {
      this.#retainAgain = true;
      return;
    }
    this.#retaining = (async () => {
      do {
        this.#retainAgain = false;
        if (this.#stopped) break;
        try {
          const result = await retainJournal(
            this.#journal,
            this.#retention,
            this.#endpoint.currentRound,
          );
          for (const { round, to } of result.retired) {
            this.metrics.inc(
              "fedagg_journal_pruned_rounds_total",
              "Ended rounds the retention policy removed or archived",
            );
            this.#options.log(
              "info",
              to === undefined ? "journal round deleted" : "journal round archived",
              { round, ...(to === undefined ? {} : { to }) },
            );
          }
          this.#journalUsage = await this.#journal.usage();
          this.metrics.set("fedagg_journal_bytes", "", this.#journalUsage.bytes);
          this.metrics.set("fedagg_journal_rounds", "", this.#journalUsage.rounds);
        } catch (err) {
          this.#options.log("error", "journal retention failed", { error: String(err) });
        }
      } while (this.#retainAgain);
    })().finally(() => this.#retaining = undefined);
  }

  /**
   * Prometheus text of the node's metrics: all of them (the token-protected API), or with
   * `exposure: "open"` only those the token-free scrape listener may serve.
   */
  renderMetrics(exposure?: Exposure): string {
    return this.metrics.render({ exposure });
  }

  /**
   * Reads the values kept elsewhere (mesh counters, memory, rounds) into the metrics (declared
   * in `metric_catalog.ts`, so no HELP text is repeated here).
   */
  #collectMetrics(): void {
    const m = this.metrics;
    const c = this.#mesh?.counters;
    if (c !== undefined) {
      m.setTotal("fedagg_frames_sent_total", "", c.framesSent);
      m.setTotal("fedagg_frames_received_total", "", c.framesReceived);
      m.setTotal("fedagg_bytes_sent_total", "", c.bytesSent);
      m.setTotal("fedagg_bytes_received_total", "", c.bytesReceived);
      m.setTotal("fedagg_send_failures_total", "", c.sendFailures);
      m.setTotal("fedagg_refused_peers_total", "", c.refusedPeers);
      m.set("fedagg_peers_connected", "", this.#mesh.connected().length);
    }
    m.set("fedagg_current_round", "", this.#endpoint.currentRound);
    m.set("fedagg_last_final_round", "", this.#sink.lastFinalRound ?? -1);
    if (this.#dpLedger !== undefined) {
      const spend = this.#dpLedger.spend();
      m.set("fedagg_dp_rounds_charged", "", spend.roundsCharged);
      m.set("fedagg_dp_epsilon_spent", "", spend.epsilonSpent);
      m.set("fedagg_dp_epsilon_budget", "", spend.epsilonBudget);
    }
    m.set("fedagg_process_peak_rss_bytes", "", this.#peakRss);
    const usage = Deno.memoryUsage();
    m.set("fedagg_process_rss_bytes", "", usage.rss);
    m.set("fedagg_process_heap_used_bytes", "", usage.heapUsed);
    m.set("fedagg_process_peak_heap_used_bytes", "", this.#peakHeap);
    m.set("fedagg_process_peak_external_bytes", "", this.#peakExternal);
  }

  /** Stops the node: timers, mesh, workers; wipes the protocol's secrets. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#retaining;
    if (this.#rssTimer !== undefined) clearInterval(this.#rssTimer);
    this.#watch.stop();
    this.#exchange.stop();
    await this.#driver.stop();
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
    const { rss, heapUsed, external } = Deno.memoryUsage();
    if (rss > this.#peakRss) this.#peakRss = rss;
    if (heapUsed > this.#peakHeap) this.#peakHeap = heapUsed;
    if (external > this.#peakExternal) this.#peakExternal = external;
  }

  async #start(round: number, values: Float32Array, numSamples: number, view = 0): Promise<void> {
    if (this.#dpLedger !== undefined && !this.#dpLedger.has(round)) this.#dpInFlight.add(round);
    // DP: the round's seed is re-derived, so a restart sends the same noisy vector again.
    const roster = this.#endpoint.rosterOf(round);
    const input = roster.dp === undefined
      ? quantize(values, numSamples, roster.quantization, systemRng)
      : dpRoundUpdate(
        roster,
        round,
        values,
        dpMemberSeed(this.#dpKey!, roster.hash, round),
      ).words;
    this.#sink.submitted(round, performance.now(), ROUND_WINDOW);
    // The endpoint checks again: a certificate handled since the first check may have decided it.
    await this.#driver.input(() => this.#endpoint.submit(round, input, now(), view), "submit")
      .catch(
        (err) => {
          throw asNodeError(err);
        },
      );
  }

  /**
   * Restores after a restart. Reads which rounds the journal holds and, for each, whether it is
   * final, published, withdrawn, failed (its update's values deleted without an aggregate) or
   * pending (an accepted update whose values are still journaled and no aggregate). The endpoint
   * gets the newest round, the newest decided round, the failed and withdrawn rounds (from which
   * it knows the federation's current round), the views this member committed to and
   * advertised in, the rounds in which it renounced co-signing, the rounds in which it journaled
   * an unmask record as leader, the published rounds, the rounds that failed for it, and the
   * pending rounds, and decides for each pending round whether it is
   * resumed (in which view) or given up; a given-up round is reported like any round that
   * failed for this member (logged, counted, a `round-failed` event, its raw update deleted).
   * It also decides which leaders resume in their unmask stage (`RestorePlan.lead`): the node
   * reads those rounds' unmask records and hands each to `resumeLeader`.
   * A pending round this member committed to is asked about (`Endpoint.ask`), never given up on
   * a guess. A round published but not final (at any distance: its certificate would otherwise
   * stay unfinished) is recovered: the endpoint checks the journaled certificate again, applies
   * the exclusion rule to this member's update, and asks the other members for the final
   * certificate. The raw update of every published or final round is deleted (a crash may have
   * come between the record and the deletion).
   */
  async #restore(): Promise<void> {
    const rounds = await this.#journal.rounds();
    const newest = rounds.at(-1);
    if (newest === undefined && this.#damaged.length === 0) return;
    const committed = new Map<number, number>();
    const advertised = new Map<number, number>();
    const masked = new Map<number, number>();
    const renounced: number[] = [];
    const unmasked: number[] = [];
    const published: number[] = [];
    const roundFailed: number[] = [];
    const withdrawn = new Map<number, number>();
    const pending: number[] = [];
    const failed: number[] = [];
    const unfinished: { round: number; ownUpdate: boolean }[] = [];
    let decided: number | undefined;
    for (const round of rounds) {
      const recorded = await this.#journal.recorded(round);
      // Led a session of the round into its unmask stage (`restore` decides whether it resumes).
      if (recorded.unmasking) unmasked.push(round);
      if (recorded.published) published.push(round);
      if (recorded.final || recorded.published) {
        // Certified: the raw values are never needed again (a crash may have come between the
        // final record and the deletion).
        await this.#prune(round);
      }
      if (recorded.final) {
        this.#sink.lastFinalRound = Math.max(this.#sink.lastFinalRound ?? -1, round);
        decided = Math.max(decided ?? -1, round);
        continue;
      }
      const view = await this.#journal.committedView(round);
      if (view !== undefined) committed.set(round, view);
      // Promised never to co-sign a certificate of the round: kept, published or not.
      if (await this.#journal.renouncedView(round) !== undefined) renounced.push(round);
      // Ended for this member (whatever else the journal holds of the round).
      const failedView = await this.#journal.failedView(round);
      if (failedView !== undefined) roundFailed.push(round);
      if (recorded.published) {
        decided = Math.max(decided ?? -1, round);
        unfinished.push({ round, ownUpdate: recorded.update });
        continue;
      }
      const next = await this.#journal.withdrawnView(round);
      if (next !== undefined) {
        // Withdrawn: also completes a withdrawal a crash interrupted (the update goes).
        withdrawn.set(round, next);
        await this.#journal.recordWithdrawn(round, next);
        continue;
      }
      if (!recorded.update) continue;
      // Ended for this member before the restart (reported then): neither asked about nor
      // reported again.
      if (failedView !== undefined) {
        failed.push(round);
        continue;
      }
      // Committed: its outcome is asked for, with or without its values (deleted once committed).
      if (view !== undefined) {
        pending.push(round);
        continue;
      }
      // Not committed and its values deleted: its round failed for it before the restart.
      if (await this.#journal.update(round) === undefined) {
        failed.push(round);
        continue;
      }
      pending.push(round);
      const last = await this.#journal.advertisedView(round);
      if (last !== undefined) advertised.set(round, last);
      const sent = await this.#journal.maskedView(round);
      if (sent !== undefined) masked.set(round, sent);
    }
    const plan = this.#endpoint.restore({
      newestRound: newest,
      decided,
      failed,
      withdrawn,
      committed,
      advertised,
      masked,
      renounced,
      unmasked,
      published,
      roundFailed,
      pending,
      damaged: this.#damaged,
    });
    // Read before any output is performed: a record that cannot be read stops the start-up here.
    const leading: { round: number; record: Uint8Array }[] = [];
    for (const round of plan.lead) {
      const record = await this.#journal.unmaskRecord(round);
      if (record !== undefined) leading.push({ round, record });
    }
    if (plan.givenUp.length > 0) await this.#driver.input(() => Promise.resolve([...plan.givenUp]));
    for (const round of plan.ask) {
      this.#options.log("info", "asking the members how a committed round ended after a restart", {
        round,
      });
      await this.#driver.input(() => this.#endpoint.ask(round, now()));
    }
    for (const { round, record } of leading) {
      this.#options.log("info", "resuming the round's leader in its unmask stage after a restart", {
        round,
      });
      await this.#driver.input(() => this.#endpoint.resumeLeader(round, record, now())).catch(
        (err) => {
          this.#options.log("error", "could not resume the round's leader", {
            round,
            error: String(err),
          });
        },
      );
    }
    for (const { round, ownUpdate } of unfinished) {
      const stored = await this.#journal.aggregate(round);
      if (stored === undefined) continue;
      this.#options.log("info", "asking the members for the final certificate after a restart", {
        round,
      });
      await this.#driver.input(() =>
        this.#endpoint.recover(
          round,
          stored.certificate,
          u32Bytes(stored.aggregate),
          now(),
          ownUpdate,
        )
      ).catch((err) => {
        this.#options.log("error", "could not take up the published round again", {
          round,
          error: String(err),
        });
      });
    }
    for (const { round, view } of plan.resume) {
      const update = await this.#journal.update(round);
      if (update === undefined) continue;
      this.#options.log("info", "resuming the journaled update after a restart", { round, view });
      try {
        await this.#start(round, update.values, update.numSamples, view);
      } catch (err) {
        // A certificate of the round may arrive between the plan and the resumption (the mesh
        // runs meanwhile): the round ended without this member's resumed session. Not a reason to
        // stop the node; the round's certificate says whether the update counted (the aggregate's
        // x-fedagg-members), and the raw values are never needed again (a decided round takes no
        // update).
        if (!(err instanceof NodeError && err.code === "decided")) throw err;
        this.#options.log("warn", "round decided while this node was down: update not resumed", {
          round,
          view,
        });
        await this.#prune(round);
      }
    }
  }

  /** Deletes the raw values of a round whose update is certified (logged if that fails). */
  async #prune(round: number): Promise<void> {
    try {
      if (await this.#journal.pruneUpdate(round)) {
        this.#options.log("info", "deleted the raw update of a certified round at start-up", {
          round,
        });
      }
    } catch (err) {
      this.#options.log("error", "could not delete the raw update of a certified round", {
        round,
        error: String(err),
      });
    }
  }
}

/** What {@link FedaggNode.adoptAmendment} did with an amendment. */
export interface AdoptionResult {
  /** `adopted`: the chain now reaches `version`; `pending`: kept, not valid yet. */
  readonly status: "adopted" | "pending";
  /** The version (adopted: the newest the chain reaches; pending: the amendment's). */
  readonly version: number;
  /** Its first round. */
  readonly firstRound: number;
  /** Members whose approvals verified, and how many are needed. */
  readonly approvedBy: readonly string[];
  readonly needed: number;
  /** Joining members whose own signature is still missing. */
  readonly joinersMissing: readonly string[];
}

/** The node error of the same code for the endpoint's refusal of a call; anything else as is. */
function asNodeError(err: unknown): unknown {
  return err instanceof CallerError ? new NodeError(err.code, err.message) : err;
}

/** The L2 norm of `x` in float64 (DP mode's clip is on the whole update's norm). */
function l2Norm(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}
