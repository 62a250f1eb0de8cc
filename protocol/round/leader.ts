/**
 * The leader of one session (round, view): collects the members' messages stage by stage,
 * answers what the members need (the table of `stages.ts`), removes the masks and publishes the
 * aggregate with its certificate. A sans-IO state machine like the participant: envelopes,
 * timeouts and `now` in; frames and events out.
 *
 * The leader sees only masked vectors, encrypted shares and — after ≥ t approvals (with an
 * approval committee, `graph/committee.ts`, also t_C of its members') of one
 * survivor set — one share per (holder, owner) of either the owner's self-mask seed (owner in
 * U3) or its mask seed (owner dropped). It checks every reconstructed secret against the
 * owner's commitment or public key before using it (`recovery.ts`, which also says when a holder
 * or an owner is named), recomputes the pair masks of dropped members (`pair_terms.ts`) and
 * removes every mask from its running sum.
 *
 * A stage closes as soon as every expected member has answered, or when `stageTimeoutMs` has
 * passed with at least t answers (`advertiseTimeoutMs`, from the first advert, for the first),
 * or — with at least t answers — as soon as every expected member that has not answered is one
 * the driver reports lost (the `lost` set the endpoint shares; see {@link Leader.recheck}).
 * The consistency stage also waits for t_C committee approvals when the roster has a committee;
 * its UnmaskRequest and certificate carry exactly the first t_C of them (compact,
 * `compactApprovals`), and go to every approver. With fewer than t the leader keeps waiting; the members' view timeout then moves the round to
 * the next leader, and this leader gives up a view timeout later.
 *
 * @module
 */
import { equalBytes, u32Bytes, u32View, wipe } from "../encoding/bytes.ts";
import { sealCertificate } from "../certificate/certificate.ts";
import { robustOutcome } from "../certificate/robust_result.ts";
import { groupBody } from "../certificate/group_sums.ts";
import type { Value } from "../encoding/codec.ts";
import { type Rng, sha256 } from "../crypto/mod.ts";
import { ensure, ProtocolError } from "../errors.ts";
import { type Roster, vectorLength } from "../federation/roster.ts";
import { type RoundGroups, roundGroups } from "../federation/round_groups.ts";
import { leaderOf } from "../federation/schedule.ts";
import { type Session, sessionHash } from "../federation/session.ts";
import type { MemberSigner } from "../federation/signer.ts";
import type { NeighbourGraph } from "../graph/graphs.ts";
import { sessionGraph } from "../graph/session_graph.ts";
import { approvalQuorum } from "../graph/committee.ts";
import { addInto, type MaskExpander } from "../math/masking.ts";
import {
  difference,
  intersection,
  type MemberSet,
  memberSetHash,
  toMemberSet,
} from "../math/member_set.ts";
import type { Share } from "../math/shamir.ts";
import {
  type Envelope,
  expectSession,
  expectType,
  type MessageType,
  openFrame,
  sealFrame,
  verifyEnvelope,
} from "../wire/frame.ts";
import {
  type AdvertiseKeys,
  type Certificate,
  consistencyRequestFields,
  keyListFields,
  readAdvertiseKeys,
  readApproval,
  readMaskedInput,
  readShareKeys,
  readUnmask,
  shareDeliveryFields,
  sparseKeyList,
  unmaskRequestFields,
} from "../wire/messages.ts";
import type { ShareEntry } from "../wire/share_entry.ts";
import { relayShareKeys } from "./share_sealing.ts";
import { event, type Output } from "./events.ts";
import { validateAdvertiseKeys } from "./keys.ts";
import type { PairAttachment } from "./pair_terms.ts";
import { removeMasks } from "./unmasking.ts";
import { encodeUnmaskRecord, readUnmaskRecord } from "./unmask_record.ts";
import { checkApproval, checkMaskedInput, checkShareKeys, checkUnmask } from "./leader_checks.ts";
import { collectedIn, type CollectStage, type LeaderStage, TRANSITIONS } from "./stages.ts";

/** What a leader needs to run. */
export interface LeaderConfig {
  readonly roster: Roster;
  readonly self: number;
  readonly signer: MemberSigner;
  readonly rng: Rng;
  readonly expander: MaskExpander;
}

/** One session's leader. */
export class Leader {
  readonly #config: LeaderConfig;
  /** The session (round, view) this leader runs. */
  readonly session: Session;
  readonly #hash: Uint8Array;
  readonly #graph: NeighbourGraph;
  /** The round's groups (group-wise aggregation), or undefined for one sum over everyone. */
  readonly #groups: RoundGroups | undefined;
  #stage: LeaderStage = "advertise";
  #stageOpened: number | undefined;
  #deadline: number | undefined;
  #timedOut = false;
  /** Members the driver reports lost (owned and updated by the endpoint; read only here). */
  readonly #lost: ReadonlySet<number>;

  /** Digest of each accepted message, by type and sender: a second, different one is equivocation. */
  readonly #digests = new Map<string, Map<number, Uint8Array>>();
  readonly #adverts = new Map<number, { frame: Uint8Array; keys: AdvertiseKeys }>();
  #u1: MemberSet = [];
  readonly #shares = new Map<number, readonly ShareEntry[]>();
  #u2: MemberSet = [];
  #u2Hash: Uint8Array = new Uint8Array(0);
  /** Post-quantum pair attachments from the lower to the higher index: "lo,hi" → ct, wrap. */
  readonly #pairs = new Map<string, PairAttachment>();
  #sum: Uint32Array | undefined;
  /** With groups: each group's running sum of masked inputs (allocated on its first input). */
  readonly #groupSums = new Map<number, Uint32Array>();
  /** With groups: the groups eligible under U3 (enough inputs), fixed when U3 is. */
  #eligible: ReadonlySet<number> = new Set();
  readonly #masked = new Set<number>();
  #u3: MemberSet = [];
  #u3Hash: Uint8Array = new Uint8Array(0);
  readonly #approvals = new Map<number, Uint8Array>();
  #approvers: MemberSet = [];
  /**
   * The approvals an UnmaskRequest and the certificate carry: every approver's, or with an
   * approval committee the first t_C committee members' (`graph/committee.ts`).
   */
  #evidence: Uint8Array[] = [];
  /** The round's approval committee (undefined: every member of U3 approves) and quorum. */
  readonly #quorum: ReturnType<typeof approvalQuorum>;
  readonly #unmasked = new Set<number>();
  readonly #selfShares = new Map<number, Share[]>();
  readonly #maskShares = new Map<number, Share[]>();

  /**
   * A leader for `session`. Refuses (RangeError) to lead a session whose scheduled leader is
   * another member. `lost` is the live set of members the driver reports lost (default: none):
   * the leader reads it, never changes it, and after a change is told to {@link recheck}.
   */
  constructor(config: LeaderConfig, session: Session, lost: ReadonlySet<number> = new Set()) {
    const scheduled = leaderOf(config.roster, session.round, session.view);
    if (scheduled !== config.self) {
      throw new RangeError(
        `member ${config.self} is not the leader of round ${session.round} view ${session.view}`,
      );
    }
    this.#config = config;
    this.session = session;
    this.#lost = lost;
    this.#hash = sessionHash(session);
    this.#graph = sessionGraph(config.roster, session);
    this.#quorum = approvalQuorum(config.roster, session);
    this.#groups = roundGroups(config.roster, session.round);
  }

  /**
   * A leader resumed after a restart in the unmask stage of the session its journaled unmask
   * record (`unmask_record.ts`, reported as `unmasking` before its UnmaskRequest left) names,
   * with the record's adverts, lists, approvals and masked sum(s) and no reveal yet; the stage
   * timeout runs from `now`. Its outputs send the journaled UnmaskRequest again to every
   * approver but this member (a revealer answers a repeat with its Unmask again; one that left
   * the view after approving may rescue it), so the reveals lost with the old process come back.
   * Refuses (ProtocolError) a record that does not read, whose frames do not open for the roster
   * or are not of its session, and (RangeError) a session this member does not lead.
   */
  static resume(
    config: LeaderConfig,
    bytes: Uint8Array,
    now: number,
    lost: ReadonlySet<number> = new Set(),
  ): { leader: Leader; outputs: Output[] } {
    const { roster, self } = config;
    const record = readUnmaskRecord(roster, bytes);
    const request = openFrame(record.request, roster);
    expectType(request, "unmaskRequest");
    const leader = new Leader(config, request.session, lost);
    const session = request.session;
    for (const frame of record.adverts) {
      const env = openFrame(frame, roster);
      expectSession(env, session);
      leader.#adverts.set(env.sender, { frame, keys: readAdvertiseKeys(env, roster) });
    }
    leader.#u1 = toMemberSet(leader.#adverts.keys());
    leader.#u2 = record.u2;
    leader.#u2Hash = memberSetHash(leader.#hash, record.u2);
    leader.#u3 = record.u3;
    leader.#u3Hash = memberSetHash(leader.#hash, record.u3);
    for (const m of record.u3) leader.#masked.add(m);
    for (const frame of record.approvals) {
      const env = openFrame(frame, roster);
      expectSession(env, session);
      readApproval(env);
      leader.#approvals.set(env.sender, frame);
    }
    leader.#approvers = toMemberSet(leader.#approvals.keys());
    leader.#evidence = leader.#committeeApproved().map((a) => leader.#approvals.get(a)!);
    ensure(
      leader.#approvers.length >= roster.threshold &&
        record.u2.every((m) => leader.#adverts.has(m)) &&
        record.u3.every((m) => record.u2.includes(m)) &&
        leader.#approvers.every((m) => record.u3.includes(m)),
      "malformed",
      "unmask record: its lists do not nest (U3 ⊆ U2 ⊆ U1, approvers ⊆ U3, ≥ t approvers)",
    );
    if (leader.#groups === undefined) {
      ensure(record.sum !== undefined, "malformed", "unmask record without its masked sum");
      leader.#sum = record.sum;
    } else {
      for (const [j, sum] of record.groupSums) leader.#groupSums.set(j, sum);
      leader.#eligible = new Set(leader.#groups.eligible(record.u3));
    }
    for (const [key, p] of record.pairs) leader.#pairs.set(key, p);
    leader.#stage = "unmask";
    leader.#open(now);
    const outputs: Output[] = [leader.#stageEvent("unmask")];
    for (const m of leader.#approvers) {
      if (m !== self) outputs.push({ kind: "send", to: m, frame: record.request });
    }
    return { leader, outputs };
  }

  /** The current stage. */
  get stage(): LeaderStage {
    return this.#stage;
  }

  /** How many members' adverts this leader accepted. */
  get advertCount(): number {
    return this.#adverts.size;
  }

  /** When {@link handleTimeout} next needs to run, or undefined. */
  nextTimeout(): number | undefined {
    return this.#deadline;
  }

  /** Handles one envelope addressed to the leader. Never throws: refusals become events. */
  async handle(env: Envelope, now: number): Promise<Output[]> {
    const out: Output[] = [];
    try {
      expectSession(env, this.session);
      // A revealer sends its Unmask again while it waits for the outcome (`participant.ts`): once
      // taken, a copy is not news, whatever the stage now (and nothing to blame it for).
      if (env.type === "unmask" && this.#unmasked.has(env.sender)) return out;
      if (this.#stage === "failed") {
        throw new ProtocolError("wrong-stage", "this session's leader has stopped", env.sender);
      }
      if (this.#stageOpened === undefined) {
        this.#open(now);
        out.push(this.#stageEvent("advertise"));
      }
      const stage = collectedIn(env.type);
      if (stage === undefined) {
        throw new ProtocolError(
          "wrong-type",
          `${env.type} is not addressed to the leader`,
          env.sender,
        );
      }
      out.push(...await this.#collect[stage](env, now));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      out.push(event({ type: "refused", error: err }));
    }
    return out;
  }

  /**
   * Closes the current stage if its timeout passed and enough members answered. A stage still
   * short of t answers `viewTimeoutMs` later is given up (stage `failed`): by then the members
   * have moved to the next view, and a leader waiting forever would only hold resources. That
   * is not a `round-failed`: the round goes on in the next view — except in `unmask`, where the
   * revealers committed to this view: it then unmasks what it has, which reports why it cannot
   * (`round-failed`, as before this wait; the wait lets a member that approved and left come back
   * to reveal, a rescue).
   */
  async handleTimeout(now: number): Promise<Output[]> {
    if (this.#deadline === undefined || now < this.#deadline) return [];
    // Short of t reveals a view timeout after the unmask stage's own: members committed here, so
    // the session ends with the reason (what could not be reconstructed), not silently.
    if (this.#timedOut) return this.#stage === "unmask" ? await this.#finish() : [this.#stop()];
    this.#timedOut = true;
    this.#deadline = undefined;
    const stage = this.#stage;
    const out = await this.#tryClose(now);
    if (this.#stage === stage && this.#deadline === undefined && stage !== "publish") {
      this.#deadline = now + this.#config.roster.viewTimeoutMs;
    }
    return out;
  }

  /**
   * Closes the current stage now if it has at least t answers and every expected member still
   * missing is lost (called after the lost set changed). A lost member is only treated as
   * absent: its later answer to a stage still open is taken as usual, and nothing is decided
   * that a stage timeout would not decide with the same answers.
   */
  async recheck(now: number): Promise<Output[]> {
    if (this.#stageOpened === undefined || this.#stage === "failed") return [];
    return await this.#tryClose(now);
  }

  /**
   * Zeroes the leader's secret material (reconstructed seeds are wiped as soon as used) and
   * closes the session here: later frames are refused (`wrong-stage`) and timeouts do nothing.
   * A session not yet published ends in stage `failed`, without an event.
   */
  wipe(): void {
    this.#deadline = undefined;
    if (this.#stage !== "publish") this.#stage = "failed";
    wipe(this.#sum, ...this.#groupSums.values());
    this.#sum = undefined;
    this.#groupSums.clear();
    this.#wipeShares();
  }

  // ------------------------------------------------------------------------------------------

  /** The handler of each member message, by the stage that collects it. */
  readonly #collect: Readonly<
    Record<CollectStage, (env: Envelope, now: number) => Promise<Output[]>>
  > = {
    advertise: (env, now) => this.#onAdvertiseKeys(env, now),
    share: (env, now) => this.#onShareKeys(env, now),
    masked: (env, now) => this.#onMaskedInput(env, now),
    consistency: (env, now) => this.#onApproval(env, now),
    unmask: (env, now) => this.#onUnmask(env, now),
  };

  #wipeShares(): void {
    for (const list of [...this.#selfShares.values(), ...this.#maskShares.values()]) {
      for (const s of list) s.y.fill(0);
    }
    this.#selfShares.clear();
    this.#maskShares.clear();
  }

  /** Ends this session here (stage `failed`): no more timeouts, secrets wiped. */
  #stop(): Output {
    this.#stage = "failed";
    this.wipe();
    return this.#stageEvent("failed");
  }

  /**
   * Ends this session because its round cannot complete here (the members committed to it):
   * stage `failed`, then `round-failed` with the reason.
   */
  #fail(reason: string): Output[] {
    return [
      this.#stop(),
      event({
        type: "round-failed",
        role: "leader",
        round: this.session.round,
        view: this.session.view,
        reason,
      }),
    ];
  }

  #open(now: number): void {
    const { roster } = this.#config;
    this.#stageOpened = now;
    this.#timedOut = false;
    this.#deadline = now +
      (this.#stage === "advertise" ? roster.advertiseTimeoutMs : roster.stageTimeoutMs);
  }

  /** Closes `stage` (sending its answer is the caller's) and enters the next one. */
  #enter(from: CollectStage, now: number): Output {
    const next = TRANSITIONS[from].next as LeaderStage;
    this.#stage = next;
    this.#open(now);
    return this.#stageEvent(next);
  }

  #stageEvent(stage: LeaderStage): Output {
    return event({
      type: "stage",
      role: "leader",
      round: this.session.round,
      view: this.session.view,
      stage,
    });
  }

  /**
   * Checks that `env` fits the current stage and comes from an expected member. Returns false
   * for an exact repeat of an accepted message (ignored). A different second message is
   * equivocation only when validly signed; otherwise it is a forgery (`bad-signature`).
   */
  async #firstTime(env: Envelope, stage: CollectStage, expected: MemberSet): Promise<boolean> {
    ensure(
      this.#stage === stage,
      "wrong-stage",
      `${env.type} while the leader is in stage ${this.#stage}`,
      env.sender,
    );
    ensure(
      expected.includes(env.sender),
      "inconsistent-lists",
      `${env.type} from a member outside the expected set of this stage`,
      env.sender,
    );
    const previous = this.#digests.get(env.type)?.get(env.sender);
    if (previous === undefined) return true;
    if (equalBytes(previous, sha256(env.frame))) return false;
    await this.#verified(env);
    throw new ProtocolError("equivocation", `a second, different ${env.type}`, env.sender);
  }

  /** Records an accepted (fully checked) message for duplicate detection. */
  #accept(env: Envelope): void {
    let byType = this.#digests.get(env.type);
    if (byType === undefined) this.#digests.set(env.type, byType = new Map());
    byType.set(env.sender, sha256(env.frame));
  }

  async #verified(env: Envelope): Promise<void> {
    ensure(await verifyEnvelope(this.#config.roster, env), "bad-signature", env.type, env.sender);
  }

  #all(): MemberSet {
    return this.#config.roster.members.map((_, i) => i);
  }

  async #onAdvertiseKeys(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "advertise", this.#all())) return [];
    const keys = readAdvertiseKeys(env, this.#config.roster);
    await this.#verified(env);
    await validateAdvertiseKeys(this.#config.roster.mode, keys, env.sender);
    this.#accept(env);
    this.#adverts.set(env.sender, { frame: env.frame, keys });
    return await this.#tryClose(now);
  }

  async #onShareKeys(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "share", this.#u1)) return [];
    const { entries } = readShareKeys(env, this.#config.roster);
    checkShareKeys(this.#graph, this.#u1, env.sender, entries);
    await this.#verified(env);
    this.#accept(env);
    this.#shares.set(env.sender, entries);
    return await this.#tryClose(now);
  }

  async #onMaskedInput(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "masked", this.#u2)) return [];
    const input = readMaskedInput(env, this.#config.roster);
    checkMaskedInput(this.#hash, this.#u2Hash, env.sender, input);
    await this.#verified(env);
    addInto(this.#sumOf(env.sender), u32View(input.body)); // read-only: a view of the body
    this.#accept(env);
    this.#masked.add(env.sender);
    return await this.#tryClose(now);
  }

  async #onApproval(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "consistency", this.#u3)) return [];
    checkApproval(this.#u2Hash, this.#u3Hash, env.sender, readApproval(env));
    await this.#verified(env);
    this.#accept(env);
    this.#approvals.set(env.sender, env.frame);
    return await this.#tryClose(now);
  }

  async #onUnmask(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "unmask", this.#approvers)) return [];
    const unmask = readUnmask(env, this.#config.roster);
    const holder = env.sender;
    const reveals = this.#groups === undefined ||
      this.#eligible.has(this.#groups.partition.groupOf(holder));
    checkUnmask(this.#graph, this.#u2, this.#u3, holder, unmask, reveals);
    await this.#verified(env);
    this.#accept(env);
    this.#unmasked.add(holder);
    for (const [owner, y] of unmask.selfShares) push(this.#selfShares, owner, { x: holder + 1, y });
    for (const [owner, y] of unmask.maskShares) push(this.#maskShares, owner, { x: holder + 1, y });
    return await this.#tryClose(now);
  }

  /**
   * Closes the stage when everyone expected answered, after the timeout with ≥ t, or with ≥ t
   * when every expected member that has not answered is lost.
   */
  async #tryClose(now: number): Promise<Output[]> {
    const t = this.#config.roster.threshold;
    const ready = (answered: { has(m: number): boolean; size: number }, expected: MemberSet) =>
      answered.size === expected.length || (this.#timedOut && answered.size >= t) ||
      (answered.size >= t && expected.every((m) => answered.has(m) || this.#lost.has(m)));
    switch (this.#stage) {
      case "advertise":
        return ready(this.#adverts, this.#all()) ? await this.#closeAdvertiseKeys(now) : [];
      case "share":
        return ready(this.#shares, this.#u1) ? await this.#closeShareKeys(now) : [];
      case "masked":
        return ready(this.#masked, this.#u2) && this.#enoughGroups(this.#masked)
          ? await this.#closeMasked(now)
          : [];
      case "consistency":
        return ready(this.#approvals, this.#u3) && this.#committeeApproved().length > 0
          ? await this.#closeApprovals(now)
          : [];
      case "unmask":
        // Short of t reveals at the timeout it keeps waiting: a member that left the view after
        // approving may still come back to reveal (a rescue, `docs/protocol.md` §4).
        return ready(this.#unmasked, this.#approvers) ? await this.#finish() : [];
      default:
        return [];
    }
  }

  #sendAll(to: MemberSet, frame: Uint8Array): Output[] {
    return to.map((m) => ({ kind: "send", to: m, frame }) as const);
  }

  #seal(type: MessageType, fields: readonly Value[]): Promise<Uint8Array> {
    const { roster, self, signer } = this.#config;
    return sealFrame(type, this.session, self, fields, signer, roster.mode);
  }

  async #closeAdvertiseKeys(now: number): Promise<Output[]> {
    const { roster } = this.#config;
    this.#u1 = toMemberSet(this.#adverts.keys());
    const advert = (i: number) => this.#adverts.get(i)!.frame;
    if (!sparseKeyList(roster)) {
      const frame = await this.#seal(
        "keyList",
        keyListFields({ adverts: this.#u1.map(advert) }, roster),
      );
      return [this.#enter("advertise", now), ...this.#sendAll(this.#u1, frame)];
    }
    // Sparse: each member gets U1 and its closed neighbourhood's adverts only (linear in n).
    const out: Output[] = [this.#enter("advertise", now)];
    for (const v of this.#u1) {
      const closed = toMemberSet(
        [v, ...this.#graph.neighbours(v)].filter((u) => this.#adverts.has(u)),
      );
      const fields = keyListFields({ u1: this.#u1, adverts: closed.map(advert) }, roster);
      out.push({ kind: "send", to: v, frame: await this.#seal("keyList", fields) });
    }
    return out;
  }

  async #closeShareKeys(now: number): Promise<Output[]> {
    const { roster } = this.#config;
    this.#u2 = toMemberSet(this.#shares.keys());
    this.#u2Hash = memberSetHash(this.#hash, this.#u2);
    const byRecipient = relayShareKeys(this.#u2, this.#shares, this.#pairs);
    this.#shares.clear();
    const out: Output[] = [this.#enter("share", now)];
    for (const v of this.#u2) {
      const frame = await this.#seal(
        "shareDelivery",
        shareDeliveryFields({ u2: this.#u2, entries: byRecipient.get(v)! }, roster),
      );
      out.push({ kind: "send", to: v, frame });
    }
    return out;
  }

  /** The running sum a masked input of `member` goes into: its group's, or the one sum. */
  #sumOf(member: number): Uint32Array {
    const w = vectorLength(this.#config.roster);
    if (this.#groups === undefined) return this.#sum ??= new Uint32Array(w);
    const j = this.#groups.partition.groupOf(member);
    let sum = this.#groupSums.get(j);
    if (sum === undefined) this.#groupSums.set(j, sum = new Uint32Array(w));
    return sum;
  }

  /**
   * Whether the masked inputs received leave at least `minGroups` groups with enough inputs
   * (always, without groups). Below it the leader waits: members refuse a consistency request
   * that could not complete (`member_checks.ts`), and the view timeout moves on.
   */
  #enoughGroups(masked: ReadonlySet<number>): boolean {
    const rg = this.#groups;
    return rg === undefined || rg.eligible(toMemberSet(masked)).length >= rg.minGroups;
  }

  async #closeMasked(now: number): Promise<Output[]> {
    this.#u3 = toMemberSet(this.#masked.keys());
    if (this.#groups !== undefined) this.#eligible = new Set(this.#groups.eligible(this.#u3));
    this.#u3Hash = memberSetHash(this.#hash, this.#u3);
    const frame = await this.#seal(
      "consistencyRequest",
      consistencyRequestFields({ u2: this.#u2, u3: this.#u3 }, this.#config.roster),
    );
    return [this.#enter("masked", now), ...this.#sendAll(this.#u3, frame)];
  }

  /**
   * The approvers whose approvals are the evidence, or none while there are too few: without a
   * committee every approver (≥ 1); with one, the first t_C committee members that approved, or
   * none below t_C (the stage then stays open: members would refuse fewer).
   */
  #committeeApproved(): MemberSet {
    const { committee, quorum } = this.#quorum;
    if (committee === undefined) return toMemberSet(this.#approvals.keys());
    const approved = committee.filter((m) => this.#approvals.has(m));
    return approved.length >= quorum ? approved.slice(0, quorum) : [];
  }

  async #closeApprovals(now: number): Promise<Output[]> {
    this.#approvers = toMemberSet(this.#approvals.keys());
    this.#evidence = this.#committeeApproved().map((a) => this.#approvals.get(a)!);
    const frame = await this.#seal(
      "unmaskRequest",
      unmaskRequestFields({
        alive: this.#u3,
        dropped: difference(this.#u2, this.#u3),
        approvals: this.#evidence,
      }, this.#config.roster),
    );
    // Journaled by a node before the UnmaskRequest leaves: a leader killed while the reveals
    // come in resumes from it (`Leader.resume`). Public state only.
    const record = encodeUnmaskRecord({
      request: frame,
      adverts: this.#u1.map((m) => this.#adverts.get(m)!.frame),
      u2: this.#u2,
      u3: this.#u3,
      approvals: this.#approvers.map((a) => this.#approvals.get(a)!),
      sum: this.#sum,
      groupSums: this.#groupSums,
      pairs: this.#pairs,
    });
    const { round, view } = this.session;
    const entered = this.#enter("consistency", now);
    return [
      event({ type: "unmasking", round, view, record }),
      entered,
      ...this.#sendAll(this.#approvers, frame),
    ];
  }

  /**
   * Reconstructs every needed secret, removes the masks and publishes. Runs once: the revealed
   * shares are wiped whatever happens, and an unexpected failure (a bug, or a mask expander that
   * broke with the sum half done) ends the session here — an `internal-error` and `round-failed` —
   * rather than leaving a sum that a second attempt could publish wrong.
   */
  async #finish(): Promise<Output[]> {
    if (this.#groups !== undefined) return await this.#finishGroups(this.#groups);
    let unmasked;
    try {
      unmasked = await removeMasks({
        roster: this.#config.roster,
        expander: this.#config.expander,
        sessionHash: this.#hash,
        graph: this.#graph,
        u2: this.#u2,
        u3: this.#u3,
        shares: { self: this.#selfShares, mask: this.#maskShares },
        advertOf: (m) => this.#adverts.get(m)!.keys,
        attachment: (lo, hi) => this.#pairs.get(`${lo},${hi}`)!,
      }, this.#sum!);
    } catch (err) {
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      return [
        event({ type: "internal-error", message }),
        ...this.#fail("cannot remove the masks: an internal error left the sum unusable"),
      ];
    } finally {
      this.#wipeShares();
    }
    const out = unmasked.refused.map((error) => event({ type: "refused", error }));
    if (unmasked.failure !== undefined) return [...out, ...this.#fail(unmasked.failure)];
    return [...out, ...await this.#publish()];
  }

  /**
   * With groups: unmasks each eligible group's sum on its own (its members' secrets, from its
   * members' shares: pair masks never cross groups). A group whose secrets cannot be recovered
   * (too few revealers, inconsistent shares) or whose weight is out of range is left out while
   * the others complete (the certificate lists the groups included, so every member names the
   * others); with fewer than `minGroups` left the session fails, naming each group's reason. Like
   * {@link #finish}, runs once and wipes the revealed shares whatever happens.
   */
  async #finishGroups(rg: RoundGroups): Promise<Output[]> {
    const { roster } = this.#config;
    const out: Output[] = [];
    const included: number[] = [];
    const sums: Uint32Array[] = [];
    const leftOut: string[] = [];
    try {
      for (const j of [...this.#eligible].sort((a, b) => a - b)) {
        const sum = this.#groupSums.get(j)!;
        const u3 = rg.members(j, this.#u3);
        const unmasked = await removeMasks({
          roster,
          expander: this.#config.expander,
          sessionHash: this.#hash,
          graph: this.#graph,
          u2: rg.members(j, this.#u2),
          u3,
          shares: { self: this.#selfShares, mask: this.#maskShares },
          advertOf: (m) => this.#adverts.get(m)!.keys,
          attachment: (lo, hi) => this.#pairs.get(`${lo},${hi}`)!,
        }, sum);
        out.push(...unmasked.refused.map((error) => event({ type: "refused", error })));
        const weight = sum[vectorLength(roster) - 1];
        const maxWeight = roster.quantization.maxWeight;
        if (unmasked.failure !== undefined) {
          leftOut.push(`group ${j}: ${unmasked.failure}`);
        } else if (weight < u3.length || weight > u3.length * maxWeight) {
          leftOut.push(
            `group ${j}: its weight ${weight} is outside [${u3.length}, ` +
              `${u3.length * maxWeight}]: a member submitted an out-of-range weight`,
          );
        } else {
          included.push(j);
          sums.push(sum);
        }
      }
    } catch (err) {
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      return [
        event({ type: "internal-error", message }),
        ...this.#fail("cannot remove the masks: an internal error left the sums unusable"),
      ];
    } finally {
      this.#wipeShares();
    }
    if (included.length < rg.minGroups) {
      return [
        ...out,
        ...this.#fail(
          `only ${included.length} groups could be unmasked, the round needs ${rg.minGroups}` +
            (leftOut.length > 0 ? ` (${leftOut.join("; ")})` : ""),
        ),
      ];
    }
    // The robust result is computed from the sums before they are wiped.
    let robustHash: Uint8Array | undefined;
    if (roster.robust !== undefined) {
      try {
        const inputs = included.map((group, i) => ({
          group,
          inputs: rg.members(group, this.#u3).length,
          sum: sums[i],
        }));
        robustHash = robustOutcome(roster, this.session, inputs).hash;
      } catch (err) {
        return [...out, ...this.#fail(`the robust rule failed: ${(err as Error).message}`)];
      }
    }
    const body = groupBody(roster.dim, sums);
    for (const s of this.#groupSums.values()) wipe(s);
    this.#groupSums.clear();
    return [
      ...out,
      ...await this.#publishBody(body, intersectionOfGroups(rg, included, this.#u3), {
        seed: rg.partition.seed,
        included,
        ...(robustHash === undefined ? {} : { robustHash }),
      }),
    ];
  }

  /**
   * Publishes the unmasked sum: refuses (round-failed) a total weight outside
   * [|U3|, |U3| · maxWeight], else signs the Certificate and broadcasts it with the aggregate.
   */
  async #publish(): Promise<Output[]> {
    const { roster } = this.#config;
    const sum = this.#sum!;
    const k = this.#u3.length;
    const totalWeight = sum[vectorLength(roster) - 1];
    if (totalWeight < k || totalWeight > k * roster.quantization.maxWeight) {
      return this.#fail(
        `the unmasked total weight ${totalWeight} is outside [${k}, ` +
          `${k * roster.quantization.maxWeight}]: a member submitted an out-of-range weight`,
      );
    }
    return await this.#publishBody(sum, this.#u3, undefined);
  }

  /**
   * Signs the Certificate over `words` (the total, then with groups the included group sums)
   * and broadcasts it. `inputs` are the members whose inputs it holds (its total weight was
   * checked against them).
   */
  async #publishBody(
    words: Uint32Array,
    inputs: MemberSet,
    groups: Certificate["groups"],
  ): Promise<Output[]> {
    const { roster } = this.#config;
    const totalWeight = words[vectorLength(roster) - 1]; // the weight is the last word
    if (
      totalWeight < inputs.length || totalWeight > inputs.length * roster.quantization.maxWeight
    ) {
      return this.#fail(`the unmasked total weight ${totalWeight} is out of range`);
    }
    const body = u32Bytes(words);
    const approvals = this.#evidence;
    const { frame, withoutBody, aggregateHash } = await sealCertificate(
      roster,
      this.session,
      this.#config.self,
      this.#config.signer,
      {
        u2Hash: this.#u2Hash,
        u3: this.#u3,
        approvals,
        totalWeight,
        ...(groups === undefined ? {} : { groups }),
      },
      body,
    );
    this.#stage = "publish";
    this.#deadline = undefined;
    this.#sum = undefined;
    const { round, view } = this.session;
    const published = { round, view, certificate: withoutBody, aggregateHash, body };
    // The stage is reported once the certificate is on its way: an endpoint takes (and journals)
    // its own certificate before it leaves (`Endpoint`), so `publish` means recorded.
    return [{ kind: "broadcast", frame, published }, this.#stageEvent("publish")];
  }
}

/** The members of `u3` in the `included` groups. */
function intersectionOfGroups(rg: RoundGroups, included: readonly number[], u3: MemberSet) {
  return toMemberSet(included.flatMap((j) => intersection(rg.partition.groups[j], u3)));
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
