/**
 * The leader of one session (round, view): collects the members' messages stage by stage,
 * relays what the members need, removes the masks and publishes the aggregate with its
 * certificate. A sans-IO state machine like the participant: envelopes, timeouts and `now` in;
 * frames and events out.
 *
 * The leader sees only masked vectors, encrypted shares and — after ≥ t approvals of one
 * survivor set — one share per (holder, owner) of either the owner's self-mask seed (owner in
 * U3) or its mask seed (owner dropped). It checks every reconstructed secret against the
 * owner's commitment or public key before using it. It first interpolates from the t_k shares
 * of lowest index; when that fails the check and it received m > t_k shares, it decodes them
 * all (Reed–Solomon, correcting up to ⌊(m − t_k)/2⌋ wrong ones), names every holder whose share
 * disagrees with a secret that then checks out (`bad-share`), and finishes. Shares it did not
 * need are not examined, so a wrong share that was never used goes unnamed (checking them all
 * costs O(m·t) per secret).
 *
 * When all m shares of a secret agree on one that fails the check, the owner is named
 * (`commitment-mismatch`) only if the holders cannot have framed it. Fewer than 2t − n members
 * are corrupt (the threat model's t > (n + c)/2) and fewer than t_k corrupt members hold shares
 * of one owner (or they could reconstruct its secrets), so at most c = min(2t − n − 1, t_k − 1)
 * of the shares are corrupt. If m − t_k ≥ c, at least t_k are honest; they fix the owner's
 * polynomial, and agreeing shares whose secret fails the check prove the owner shared something
 * else. Otherwise m − t_k + 1 ≤ c colluding holders can shift their shares by a polynomial of
 * degree < t_k that vanishes at the honest holders' (public) x coordinates — a consistent
 * sharing of another secret, which frames an honest owner — so the leader names nobody and the
 * round fails.
 *
 * A stage closes as soon as every expected member has answered, or when `stageTimeoutMs` has
 * passed with at least t answers (`advertiseTimeoutMs`, from the first advert, for the first).
 * With fewer than t the leader keeps waiting; the members' view timeout then moves the round to
 * the next leader.
 *
 * @module
 */
import { equalBytes, u32Bytes, u32View, wipe } from "../encoding/bytes.ts";
import { aggregateHash } from "../certificate/certificate.ts";
import {
  constantTimeEqual,
  HASH,
  type Rng,
  sha256,
  taggedHash,
  x25519,
  XWingDecapsulator,
} from "../crypto/mod.ts";
import { ensure, ProtocolError } from "../errors.ts";
import { event, type Output, type Stage } from "./events.ts";
import { addInto, type MaskExpander, type MaskTerm } from "../math/masking.ts";
import {
  difference,
  intersection,
  type MemberSet,
  memberSetHash,
  toMemberSet,
} from "../math/member_set.ts";
import {
  type AdvertiseKeys,
  certificateFields,
  consistencyRequestFields,
  readAdvertiseKeys,
  readApproval,
  readMaskedInput,
  readShareKeys,
  readUnmask,
  shareDeliveryFields,
  unmaskRequestFields,
} from "../wire/messages.ts";
import { type Envelope, expectSession, sealFrame, verifyEnvelope } from "../wire/frame.ts";
import { type ShareEntry } from "../wire/share_entry.ts";
import { type NeighbourGraph } from "../graph/graphs.ts";
import { sessionGraph } from "../graph/session_graph.ts";
import { shareThreshold } from "../federation/roster.ts";
import type { Roster } from "../federation/roster.ts";
import {
  checkX25519Point,
  maskSeedMatches,
  maskX25519Secret,
  maskXWingSeed,
  pairMaskKey,
  selfMaskCommitment,
  selfMaskKey,
  unwrapPairSecret,
  validateAdvertiseKeys,
} from "./keys.ts";
import { leaderOf } from "../federation/schedule.ts";
import { type Session, sessionHash } from "../federation/session.ts";
import { combine, lagrangeAtZero, reconstruct, type Share } from "../math/shamir.ts";
import type { MemberSigner } from "../federation/signer.ts";

/** What a leader needs to run. */
export interface LeaderConfig {
  readonly roster: Roster;
  readonly self: number;
  readonly signer: MemberSigner;
  readonly rng: Rng;
  readonly expander: MaskExpander;
}

/** The stages of a leader: it publishes, and finality is up to the members. */
export type LeaderStage = Exclude<Stage, "final">;

/** One session's leader. */
export class Leader {
  readonly #config: LeaderConfig;
  /** The session (round, view) this leader runs. */
  readonly session: Session;
  readonly #hash: Uint8Array;
  readonly #graph: NeighbourGraph;
  #stage: LeaderStage = "advertise";
  #stageOpened: number | undefined;
  #deadline: number | undefined;
  #timedOut = false;

  /** Digest of each accepted message, by type and sender: a second, different one is equivocation. */
  readonly #digests = new Map<string, Map<number, Uint8Array>>();
  readonly #adverts = new Map<number, { frame: Uint8Array; advertise: AdvertiseKeys }>();
  #u1: MemberSet = [];
  readonly #shares = new Map<number, readonly ShareEntry[]>();
  #u2: MemberSet = [];
  #u2Hash: Uint8Array = new Uint8Array(0);
  /** Post-quantum pair attachments from the lower to the higher index: "lo,hi" → ct, wrap. */
  readonly #pairs = new Map<string, { maskKemCt: Uint8Array; wrap: Uint8Array }>();
  #sum: Uint32Array | undefined;
  readonly #masked = new Set<number>();
  #u3: MemberSet = [];
  readonly #approvals = new Map<number, Uint8Array>();
  #approvers: MemberSet = [];
  readonly #unmasked = new Set<number>();
  readonly #selfShares = new Map<number, Share[]>();
  readonly #maskShares = new Map<number, Share[]>();

  /**
   * A leader for `session`. Refuses (RangeError) to lead a session whose scheduled leader is
   * another member.
   */
  constructor(config: LeaderConfig, session: Session) {
    const scheduled = leaderOf(config.roster, session.round, session.view);
    if (scheduled !== config.self) {
      throw new RangeError(
        `member ${config.self} is not the leader of round ${session.round} view ${session.view}`,
      );
    }
    this.#config = config;
    this.session = session;
    this.#hash = sessionHash(session);
    this.#graph = sessionGraph(config.roster, this.#hash);
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
      if (this.#stage === "failed") {
        throw new ProtocolError("wrong-stage", "this session's leader has stopped", env.sender);
      }
      if (this.#stageOpened === undefined) {
        this.#open(now);
        out.push(this.#stageEvent("advertise"));
      }
      out.push(...await this.#dispatch(env, now));
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      out.push(event({ type: "refused", error: err }));
    }
    return out;
  }

  #dispatch(env: Envelope, now: number): Promise<Output[]> {
    switch (env.type) {
      case "advertiseKeys":
        return this.#onAdvertiseKeys(env, now);
      case "shareKeys":
        return this.#onShareKeys(env, now);
      case "maskedInput":
        return this.#onMaskedInput(env, now);
      case "approval":
        return this.#onApproval(env, now);
      case "unmask":
        return this.#onUnmask(env, now);
      default:
        throw new ProtocolError(
          "wrong-type",
          `${env.type} is not addressed to the leader`,
          env.sender,
        );
    }
  }

  /**
   * Closes the current stage if its timeout passed and enough members answered. A stage still
   * short of t answers `viewTimeoutMs` later is given up (stage `failed`): by then the members
   * have moved to the next view, and a leader waiting forever would only hold resources. That
   * is not a `round-failed`: the round goes on in the next view.
   */
  async handleTimeout(now: number): Promise<Output[]> {
    if (this.#deadline === undefined || now < this.#deadline) return [];
    if (this.#timedOut) return [this.#stop()];
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
   * Zeroes the leader's secret material (reconstructed seeds are wiped as soon as used) and
   * closes the session here: later frames are refused (`wrong-stage`) and timeouts do nothing.
   * A session not yet published ends in stage `failed`, without an event.
   */
  wipe(): void {
    this.#deadline = undefined;
    if (this.#stage !== "publish") this.#stage = "failed";
    wipe(this.#sum);
    this.#sum = undefined;
    this.#wipeShares();
  }

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
      event({ type: "round-failed", round: this.session.round, view: this.session.view, reason }),
    ];
  }

  // ------------------------------------------------------------------------------------------

  #open(now: number): void {
    const { roster } = this.#config;
    this.#stageOpened = now;
    this.#timedOut = false;
    this.#deadline = now +
      (this.#stage === "advertise" ? roster.advertiseTimeoutMs : roster.stageTimeoutMs);
  }

  #enter(stage: LeaderStage, now: number): Output {
    this.#stage = stage;
    this.#open(now);
    return this.#stageEvent(stage);
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
  async #firstTime(env: Envelope, stage: LeaderStage, expected: MemberSet): Promise<boolean> {
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
    const advertise = readAdvertiseKeys(env, this.#config.roster);
    await this.#verified(env);
    await validateAdvertiseKeys(this.#config.roster.mode, advertise, env.sender);
    this.#accept(env);
    this.#adverts.set(env.sender, { frame: env.frame, advertise });
    return await this.#tryClose(now);
  }

  async #onShareKeys(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "share", this.#u1)) return [];
    const { entries } = readShareKeys(env, this.#config.roster);
    const expected = intersection(this.#graph.neighbours(env.sender), this.#u1);
    ensure(
      entries.length === expected.length && entries.every((e, i) => e.peer === expected[i]),
      "inconsistent-lists",
      "share-keys must hold one entry for each neighbour in U1",
      env.sender,
    );
    for (const e of entries) {
      // An X-Wing ciphertext whose X25519 half is low-order would only fail at unmasking.
      for (const ct of [e.shareKemCt, e.maskKemCt]) {
        if (ct.length > 0) {
          checkX25519Point(ct.subarray(ct.length - 32), "an X-Wing ciphertext", env.sender);
        }
      }
    }
    // The entries' own signatures (post-quantum mode) are left to their holders, who must check
    // them anyway: a bad one costs its holder the view and names this leader, as does an entry
    // that does not open, which no leader can check.
    await this.#verified(env);
    this.#accept(env);
    this.#shares.set(env.sender, entries);
    return await this.#tryClose(now);
  }

  async #onMaskedInput(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "masked", this.#u2)) return [];
    const input = readMaskedInput(env, this.#config.roster);
    ensure(
      equalBytes(input.u2Hash, this.#u2Hash),
      "inconsistent-lists",
      "masked input commits to another U2",
      env.sender,
    );
    ensure(
      equalBytes(taggedHash(HASH.maskedVector, this.#hash, input.body), input.vectorHash),
      "commitment-mismatch",
      "masked vector does not match its signed hash",
      env.sender,
    );
    await this.#verified(env);
    this.#sum ??= new Uint32Array(this.#config.roster.dim + 1);
    addInto(this.#sum, u32View(input.body)); // read-only: a view of the decoded body
    this.#accept(env);
    this.#masked.add(env.sender);
    return await this.#tryClose(now);
  }

  async #onApproval(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "consistency", this.#u3)) return [];
    const approval = readApproval(env);
    ensure(
      equalBytes(approval.u2Hash, this.#u2Hash) &&
        equalBytes(approval.u3Hash, memberSetHash(this.#hash, this.#u3)),
      "inconsistent-lists",
      "approval of other survivor lists",
      env.sender,
    );
    await this.#verified(env);
    this.#accept(env);
    this.#approvals.set(env.sender, env.frame);
    return await this.#tryClose(now);
  }

  async #onUnmask(env: Envelope, now: number): Promise<Output[]> {
    if (!await this.#firstTime(env, "unmask", this.#approvers)) return [];
    const unmask = readUnmask(env, this.#config.roster);
    const holder = env.sender;
    const closed = [holder, ...this.#graph.neighbours(holder)];
    const expectedSelf = toMemberSet(intersection(toMemberSet(closed), this.#u3));
    const expectedMask = toMemberSet(
      intersection(toMemberSet(closed), difference(this.#u2, this.#u3)),
    );
    const selfOwners = unmask.selfShares.map(([o]) => o);
    const maskOwners = unmask.maskShares.map(([o]) => o);
    const both = intersection(selfOwners, maskOwners);
    ensure(
      both.length === 0,
      "inconsistent-lists",
      `revealed both secrets of member ${both[0]}`,
      holder,
    );
    ensure(
      selfOwners.length === expectedSelf.length &&
        selfOwners.every((o, i) => o === expectedSelf[i]) &&
        maskOwners.length === expectedMask.length &&
        maskOwners.every((o, i) => o === expectedMask[i]),
      "inconsistent-lists",
      "unmask shares do not match the holder's neighbours in U3 and U2 \\ U3",
      holder,
    );
    await this.#verified(env);
    this.#accept(env);
    this.#unmasked.add(holder);
    for (const [owner, y] of unmask.selfShares) push(this.#selfShares, owner, { x: holder + 1, y });
    for (const [owner, y] of unmask.maskShares) push(this.#maskShares, owner, { x: holder + 1, y });
    return await this.#tryClose(now);
  }

  /** Closes the stage when everyone expected answered, or after the timeout with ≥ t. */
  async #tryClose(now: number): Promise<Output[]> {
    const t = this.#config.roster.threshold;
    const ready = (have: number, expected: number) =>
      have === expected || (this.#timedOut && have >= t);
    switch (this.#stage) {
      case "advertise":
        return ready(this.#adverts.size, this.#config.roster.members.length)
          ? await this.#closeAdvertiseKeys(now)
          : [];
      case "share":
        return ready(this.#shares.size, this.#u1.length) ? await this.#closeShareKeys(now) : [];
      case "masked":
        return ready(this.#masked.size, this.#u2.length) ? await this.#closeMasked(now) : [];
      case "consistency":
        return ready(this.#approvals.size, this.#u3.length) ? await this.#closeApprovals(now) : [];
      case "unmask":
        return this.#unmasked.size === this.#approvers.length || this.#timedOut
          ? await this.#finish()
          : [];
      default:
        return [];
    }
  }

  #sendAll(to: MemberSet, frame: Uint8Array): Output[] {
    return to.map((m) => ({ kind: "send", to: m, frame }) as const);
  }

  async #seal(
    type: Parameters<typeof sealFrame>[0],
    fields: Parameters<typeof sealFrame>[3],
    body?: Uint8Array,
  ) {
    const { roster, self, signer } = this.#config;
    return await sealFrame(type, this.session, self, fields, signer, roster.mode, body);
  }

  async #closeAdvertiseKeys(now: number): Promise<Output[]> {
    this.#u1 = toMemberSet(this.#adverts.keys());
    const frame = await this.#seal("keyList", [this.#u1.map((i) => this.#adverts.get(i)!.frame)]);
    return [this.#enter("share", now), ...this.#sendAll(this.#u1, frame)];
  }

  async #closeShareKeys(now: number): Promise<Output[]> {
    const { roster } = this.#config;
    this.#u2 = toMemberSet(this.#shares.keys());
    this.#u2Hash = memberSetHash(this.#hash, this.#u2);
    const inU2 = new Set(this.#u2);
    // Index every entry by recipient; keep the post-quantum pair attachments for unmasking.
    const byRecipient = new Map<number, ShareEntry[]>(this.#u2.map((v) => [v, []]));
    for (const sender of this.#u2) {
      for (const e of this.#shares.get(sender)!) {
        if (!inU2.has(e.peer)) continue;
        byRecipient.get(e.peer)!.push({ ...e, peer: sender, wrap: new Uint8Array(0) });
        if (e.maskKemCt.length > 0) {
          this.#pairs.set(`${sender},${e.peer}`, { maskKemCt: e.maskKemCt, wrap: e.wrap });
        }
      }
    }
    this.#shares.clear();
    const out: Output[] = [this.#enter("masked", now)];
    for (const v of this.#u2) {
      const frame = await this.#seal(
        "shareDelivery",
        shareDeliveryFields({ u2: this.#u2, entries: byRecipient.get(v)! }, roster.mode),
      );
      out.push({ kind: "send", to: v, frame });
    }
    return out;
  }

  async #closeMasked(now: number): Promise<Output[]> {
    this.#u3 = toMemberSet(this.#masked.keys());
    const frame = await this.#seal(
      "consistencyRequest",
      consistencyRequestFields({ u2: this.#u2, u3: this.#u3 }),
    );
    return [this.#enter("consistency", now), ...this.#sendAll(this.#u3, frame)];
  }

  async #closeApprovals(now: number): Promise<Output[]> {
    this.#approvers = toMemberSet(this.#approvals.keys());
    const frame = await this.#seal(
      "unmaskRequest",
      unmaskRequestFields({
        alive: this.#u3,
        dropped: difference(this.#u2, this.#u3),
        approvals: this.#approvers.map((a) => this.#approvals.get(a)!),
      }),
    );
    return [this.#enter("unmask", now), ...this.#sendAll(this.#approvers, frame)];
  }

  /** Reconstructs every needed secret, removes the masks and publishes. */
  async #finish(): Promise<Output[]> {
    const { roster, expander } = this.#config;
    const out: Output[] = [];
    const tk = shareThreshold(roster);
    const dropped = difference(this.#u2, this.#u3);
    const coefficients = new Map<string, Uint16Array>();
    // A consistent sharing that fails its check convicts the owner only when the honest shares
    // among it are at least t_k even if the most corrupt holders allowed for are among it.
    const framers = Math.min(2 * roster.threshold - roster.members.length - 1, tk - 1);
    const recover = (
      shares: Share[] | undefined,
      owner: number,
      check: (s: Uint8Array) => boolean,
    ) => {
      if (shares === undefined || shares.length < tk) return undefined;
      shares.sort((a, b) => a.x - b.x);
      const first = shares.slice(0, tk);
      const id = first.map((s) => s.x).join(",");
      let c = coefficients.get(id);
      if (c === undefined) coefficients.set(id, c = lagrangeAtZero(first.map((s) => s.x)));
      const fast = combine(first, c);
      if (check(fast)) return fast;
      fast.fill(0);
      const result = reconstruct(shares, tk, check);
      if (result.secret === undefined) {
        if (result.consistent && shares.length - tk >= framers) {
          out.push(event({
            type: "refused",
            error: new ProtocolError(
              "commitment-mismatch",
              "the member's shared secret does not match its advertised commitment or key",
              owner,
            ),
          }));
        }
        return undefined;
      }
      for (const x of result.bad) {
        out.push(event({
          type: "refused",
          error: new ProtocolError(
            "bad-share",
            `share of member ${owner}'s secret is inconsistent`,
            x - 1,
          ),
        }));
      }
      return result.secret;
    };
    const selfSeeds = new Map<number, Uint8Array>();
    const maskSeeds = new Map<number, Uint8Array>();
    const missing: number[] = [];
    for (const u of this.#u3) {
      const commitment = this.#adverts.get(u)!.advertise.commitment;
      const seed = recover(
        this.#selfShares.get(u),
        u,
        (s) => constantTimeEqual(selfMaskCommitment(this.#hash, u, s), commitment),
      );
      if (seed === undefined) missing.push(u);
      else selfSeeds.set(u, seed);
    }
    for (const v of dropped) {
      const maskKey = this.#adverts.get(v)!.advertise.maskKey;
      const seed = recover(
        this.#maskShares.get(v),
        v,
        (s) => maskSeedMatches(roster.mode, s, maskKey),
      );
      if (seed === undefined) missing.push(v);
      else maskSeeds.set(v, seed);
    }
    this.#wipeShares();
    if (missing.length > 0) {
      wipe(...selfSeeds.values(), ...maskSeeds.values());
      out.push(...this.#fail(
        `not enough consistent shares to reconstruct the secrets of members ${missing.join(", ")}`,
      ));
      return out;
    }
    const terms: MaskTerm[] = [];
    try {
      for (const [u, seed] of selfSeeds) {
        terms.push({ key: selfMaskKey(this.#hash, u, seed), negate: true });
      }
      for (const [v, seed] of maskSeeds) {
        const survivors = intersection(this.#graph.neighbours(v), this.#u3);
        await this.#pushRecoveredPairTerms(v, seed, survivors, terms);
      }
      await expander.apply(this.#sum!, terms);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      out.push(event({ type: "refused", error: err }));
      out.push(...this.#fail(`cannot remove the masks: ${err.message}`));
      return out;
    } finally {
      wipe(...selfSeeds.values(), ...maskSeeds.values());
      for (const t of terms) t.key.fill(0);
    }
    const sum = this.#sum!;
    const k = this.#u3.length;
    const totalWeight = sum[roster.dim];
    if (totalWeight < k || totalWeight > k * roster.quantization.maxWeight) {
      out.push(...this.#fail(
        `the unmasked total weight ${totalWeight} is outside [${k}, ` +
          `${k * roster.quantization.maxWeight}]: a member submitted an out-of-range weight`,
      ));
      return out;
    }
    const body = u32Bytes(sum);
    const frame = await this.#seal(
      "certificate",
      certificateFields({
        u2Hash: this.#u2Hash,
        u3: this.#u3,
        approvals: this.#approvers.map((a) => this.#approvals.get(a)!),
        aggregateHash: aggregateHash(this.session, body),
        totalWeight,
      }),
      body,
    );
    this.#stage = "publish";
    this.#deadline = undefined;
    out.push(
      event({
        type: "stage",
        role: "leader",
        round: this.session.round,
        view: this.session.view,
        stage: "publish",
      }),
      { kind: "broadcast", frame },
    );
    this.#sum = undefined;
    return out;
  }

  /**
   * Appends to `terms` the PRG keys of the pairs (dropped v, survivor u), derived from v's
   * reconstructed mask seed, each negated as u applied it. The caller owns `terms` and wipes
   * them: when a pair fails (a ciphertext or wrap v's shares cannot open), every key already
   * derived is in `terms` too, and all derivations have settled before this throws.
   */
  async #pushRecoveredPairTerms(
    v: number,
    seed: Uint8Array,
    survivors: MemberSet,
    terms: MaskTerm[],
  ): Promise<void> {
    const { roster } = this.#config;
    // Survivor u added +PRG when u < v and −PRG when u > v: remove exactly that.
    const term = (u: number, key: Uint8Array): MaskTerm => ({ key, negate: u < v });
    if (roster.mode === "classical") {
      const sk = maskX25519Secret(seed);
      try {
        for (const u of survivors) {
          const dh = x25519(sk, this.#adverts.get(u)!.advertise.maskKey);
          try {
            terms.push(term(u, pairMaskKey(this.#hash, u, v, dh)));
          } finally {
            dh.fill(0);
          }
        }
      } finally {
        sk.fill(0);
      }
      return;
    }
    const kemSeed = maskXWingSeed(seed);
    let kem: XWingDecapsulator;
    try {
      kem = await XWingDecapsulator.fromSeed(kemSeed);
    } finally {
      kemSeed.fill(0);
    }
    try {
      const settled = await Promise.allSettled(survivors.map(async (u) => {
        if (u < v) {
          // u encapsulated to v: decapsulate with v's recovered key.
          const { maskKemCt } = this.#pairs.get(`${u},${v}`)!;
          let secret: Uint8Array;
          try {
            secret = await kem.decapsulate(maskKemCt);
          } catch {
            throw new ProtocolError("malformed", `member ${u}'s mask ciphertext for ${v}`, u);
          }
          try {
            terms.push(term(u, pairMaskKey(this.#hash, u, v, secret, maskKemCt)));
          } finally {
            secret.fill(0);
          }
          return;
        }
        // v encapsulated to u: unwrap the secret v wrapped under its mask seed.
        const { maskKemCt, wrap } = this.#pairs.get(`${v},${u}`)!;
        const secret = unwrapPairSecret(this.#hash, seed, v, u, wrap, maskKemCt);
        if (secret === undefined) {
          throw new ProtocolError(
            "tampered-ciphertext",
            `member ${v}'s wrapped pair secret for ${u}`,
            v,
          );
        }
        try {
          terms.push(term(u, pairMaskKey(this.#hash, u, v, secret, maskKemCt)));
        } finally {
          secret.fill(0);
        }
      }));
      const failure = settled.find((r) => r.status === "rejected");
      if (failure !== undefined) throw failure.reason;
    } finally {
      kem.wipe();
    }
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}
