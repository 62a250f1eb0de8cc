/**
 * The participant: one member's side of one round, across views. A sans-IO state machine fed
 * with envelopes (already structurally checked by `openFrame`), timeouts and its local input;
 * it returns frames to send and events. It never touches a socket, a clock or a file: time
 * arrives as the `now` argument (milliseconds on any monotonic scale).
 *
 * Per view it runs the member's part of the six stages:
 * 1. sends AdvertiseKeys (fresh ephemeral keys and a commitment to its self-mask seed);
 * 2. on the leader's KeyList (U1): checks every neighbour's signature and that its own entry is
 *    intact, Shamir-shares its self-mask and mask seeds among its neighbourhood, encrypts each
 *    share pair to its holder (in post-quantum mode also signing each entry with ML-DSA-65) and
 *    sends ShareKeys;
 * 3. on ShareDelivery (U2 and the shares addressed to it): checks each entry's signature
 *    (post-quantum mode) and decrypts it, derives the pair masks, masks its quantized input and
 *    sends it with a signature over its hash;
 * 4. on ConsistencyRequest (U2, U3): commits to this view (see below) and signs an Approval;
 * 5. on UnmaskRequest (≥ t approvals of the same lists): for each neighbour reveals the share of
 *    its self-mask seed if it is in U3, of its mask seed if it is in U2 \ U3 — never both;
 * 6. on the Certificate: checks it with the aggregate, co-signs it (broadcast) and reports the
 *    aggregate; with ≥ t co-signatures it reports the final certificate.
 *
 * **One view per round.** A member reveals shares in at most one view of a round and, once it
 * has committed to a view, never acts in another; it emits a `committed` event first so a node
 * can persist the decision. With the complete graph it commits when it reveals its shares:
 * completing a view needs t distinct revealers and 2t > n + c, so two views of a round can never
 * both be unmasked. With a sparse graph a view completes with fewer revealers (each
 * neighbourhood needs only its own threshold), so there a member commits earlier, when it
 * approves: approvals are global, and t of them can only exist for one view.
 *
 * **View change.** If the leader makes no progress for `viewTimeoutMs`, a member that has not
 * committed wipes the view's secrets and re-advertises fresh keys to the next leader.
 *
 * Every refusal is reported as a `refused` event naming the peer and the reason; it never
 * throws out of {@link Participant.handle}.
 *
 * @module
 */
import { concat, equalBytes, u32Bytes, wipe } from "../encoding/bytes.ts";
import { checkApprovals } from "../certificate/approvals.ts";
import { checkCertificate, checkCosignFields } from "../certificate/certificate.ts";
import { encodeFinalCertificate } from "../certificate/final.ts";
import { withoutBody } from "../wire/frame.ts";
import { HASH, type Rng, taggedHash, xwingEncapsulate } from "../crypto/mod.ts";
import { CallerError, ensure, ProtocolError, relayedBy } from "../errors.ts";
import { event, type Output, type Stage } from "./events.ts";
import {
  difference,
  intersection,
  isSubset,
  type MemberSet,
  memberSetHash,
  sameMembers,
} from "../math/member_set.ts";
import type { MaskExpander, MaskTerm } from "../math/masking.ts";
import {
  type AdvertiseKeys,
  advertiseKeysFields,
  approvalFields,
  cosignFields,
  maskedInputFields,
  readAdvertiseKeys,
  readConsistencyRequest,
  readKeyList,
  readShareDelivery,
  readUnmaskRequest,
  shareKeysFields,
  unmaskFields,
} from "../wire/messages.ts";
import {
  type Envelope,
  expectSession,
  expectType,
  openFrame,
  sealFrame,
  verifyEnvelope,
} from "../wire/frame.ts";
import {
  SHARE_LENGTH,
  type ShareEntry,
  shareEntryPayload,
  verifyShareEntry,
} from "../wire/share_entry.ts";
import { sessionGraph } from "../graph/session_graph.ts";
import { shareThreshold } from "../federation/roster.ts";
import { type Roster, viewPatienceMs } from "../federation/roster.ts";
import { pairMaskKey, RoundKeys, wrapPairSecret } from "./keys.ts";
import { leaderOf } from "../federation/schedule.ts";
import { type Session, sessionHash, sessionOf } from "../federation/session.ts";
import { split } from "../math/shamir.ts";
import type { MemberSigner } from "../federation/signer.ts";

/** What a participant needs to run. */
export interface ParticipantConfig {
  readonly roster: Roster;
  /** This member's roster index. */
  readonly self: number;
  readonly signer: MemberSigner;
  /** Source of every ephemeral secret and of the Shamir coefficients. */
  readonly rng: Rng;
  readonly expander: MaskExpander;
}

/** A neighbour's verified advertisement. */
interface Peer {
  readonly advertise: AdvertiseKeys;
}

/** State of the current view. */
interface ViewState {
  readonly session: Session;
  readonly sessionHash: Uint8Array;
  readonly leader: number;
  readonly keys: RoundKeys;
  readonly advertFrame: Uint8Array;
  u1?: Map<number, Peer>;
  u2?: MemberSet;
  u2Hash?: Uint8Array;
  u3?: MemberSet;
  /**
   * PRG keys of the pair masks known once U1 is: every neighbour's in classical mode, the ones
   * this member encapsulated (to higher indices) in post-quantum mode. By neighbour.
   */
  pairKeys?: Map<number, Uint8Array>;
  /** Share pairs this member holds for each owner (including itself): b-share ‖ mask-share. */
  held?: Map<number, Uint8Array>;
}

/**
 * A key agreement with member `u`'s advertised (and signed) keys failed: a low-order X25519
 * point or an ML-KEM key failing the FIPS 203 check. The member is to blame.
 */
function unusableKeys(err: unknown, u: number): unknown {
  if (!(err instanceof RangeError)) return err;
  return new ProtocolError(
    "malformed",
    `member ${u}'s advertised keys are unusable (${err.message})`,
    u,
  );
}

/** Stages in which a stalled leader can be abandoned for the next view (if not committed). */
const BEFORE_COMMIT: ReadonlySet<Stage> = new Set(["advertise", "share", "masked", "consistency"]);

/** One member's side of one round. */
export class Participant {
  readonly #config: ParticipantConfig;
  /** The round this participant takes part in. */
  readonly round: number;
  #input: Uint32Array | undefined;
  #stage: Stage = "advertise";
  #view: ViewState | undefined;
  #viewNumber = 0;
  #committedView: number | undefined;
  #deadline: number | undefined;
  // Publication state (survives the view that produced it).
  #certificate: {
    session: Session;
    hash: Uint8Array;
    frame: Uint8Array;
    members: MemberSet;
    aggregate: Uint32Array;
  } | undefined;
  /** Co-signatures of our certificate that checked out, by member. */
  readonly #cosigns = new Map<number, Uint8Array>();
  /**
   * Co-signatures not checked yet (one per member): those that overtook the certificate, and
   * those of our certificate awaiting a batch signature check in {@link #tryFinal}.
   */
  readonly #unverifiedCosigns = new Map<number, Envelope>();
  /** Digests of approval frames whose signatures this member already checked. */
  readonly #verifiedApprovals = new Set<string>();

  /**
   * A participant for `round` with its quantized input (length d + 1, see `quantize.ts`), or
   * without one: an observer that only checks and co-signs the round's certificate.
   * The participant takes ownership of `input` and wipes it when the round ends. Refuses
   * (CallerError) an input of another length.
   */
  constructor(
    config: ParticipantConfig,
    round: number,
    input: Uint32Array | undefined,
    committedView?: number,
  ) {
    if (input !== undefined && input.length !== config.roster.dim + 1) {
      throw new CallerError(
        `input has length ${input.length}, expected d + 1 = ${config.roster.dim + 1}`,
      );
    }
    this.#config = config;
    this.round = round;
    this.#input = input;
    this.#committedView = committedView;
    if (input === undefined) this.#stage = "publish";
  }

  /** The current stage. */
  get stage(): Stage {
    return this.#stage;
  }

  /** The current view. */
  get view(): number {
    return this.#viewNumber;
  }

  /** True once a certificate of this round checked out here (the round is decided). */
  get decided(): boolean {
    return this.#certificate !== undefined;
  }

  /** The view this member committed to (approved), if any. */
  get committedView(): number | undefined {
    return this.#committedView;
  }

  /** When {@link handleTimeout} next needs to run, or undefined. */
  nextTimeout(): number | undefined {
    return this.#deadline;
  }

  /** Starts the round in `view` (normally 0): advertises fresh keys to that view's leader. */
  async start(now: number, view = 0): Promise<Output[]> {
    if (this.#input === undefined) return [];
    return await this.#enterView(view, now);
  }

  /**
   * Handles one envelope from the network. Never throws: refusals come back as `refused`
   * events and leave the state unchanged (or, where continuing would be unsafe, abandon the
   * view, which is reported too).
   */
  async handle(env: Envelope, now: number): Promise<Output[]> {
    try {
      ensure(
        env.session.round === this.round,
        "wrong-session",
        `${env.type} is for round ${env.session.round}, this participant runs round ${this.round}`,
        env.sender,
      );
      switch (env.type) {
        case "keyList":
          return await this.#onKeyList(env, await this.#fromLeader(env, "advertise"), now);
        case "shareDelivery":
          return await this.#onShareDelivery(env, await this.#fromLeader(env, "share"), now);
        case "consistencyRequest":
          return await this.#onConsistencyRequest(env, await this.#fromLeader(env, "masked"), now);
        case "unmaskRequest":
          return await this.#onUnmaskRequest(
            env,
            await this.#fromLeader(env, "consistency"),
            now,
          );
        case "certificate":
          return await this.#onCertificate(env, now);
        case "cosign":
          return await this.#onCosign(env);
        default:
          throw new ProtocolError(
            "wrong-type",
            `${env.type} is addressed to the leader, not to a participant`,
            env.sender,
          );
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return [event({ type: "refused", error: err })];
    }
  }

  /** Handles the passage of time: a view change if the leader stalled before we committed. */
  async handleTimeout(now: number): Promise<Output[]> {
    if (this.#deadline === undefined || now < this.#deadline) return [];
    const view = this.#viewNumber;
    if (this.#committedView === undefined && BEFORE_COMMIT.has(this.#stage)) {
      const out: Output[] = [
        event({ type: "view-change", round: this.round, from: view, to: view + 1 }),
      ];
      out.push(...await this.#enterView(view + 1, now));
      return out;
    }
    if (this.#stage === "consistency" || this.#stage === "unmask") {
      return this.#fail(`the leader of view ${view} stalled after this member committed to it`);
    }
    this.#deadline = undefined;
    return [];
  }

  /** Zeroes every secret the participant holds and ends its part in the round. */
  wipe(): void {
    this.#dropView();
    wipe(this.#input);
    this.#input = undefined;
  }

  // ------------------------------------------------------------------------------------------

  #dropView(): void {
    const v = this.#view;
    if (v === undefined) return;
    v.keys.wipe();
    for (const s of v.held?.values() ?? []) s.fill(0);
    for (const k of v.pairKeys?.values() ?? []) k.fill(0);
    this.#view = undefined;
  }

  #fail(reason: string): Output[] {
    const view = this.#viewNumber;
    this.wipe();
    this.#stage = "failed";
    this.#deadline = undefined;
    return [event({ type: "round-failed", round: this.round, view, reason })];
  }

  /** Commits to the current view for the rest of the round (see the module doc). */
  #commit(): Output {
    this.#committedView = this.#viewNumber;
    return event({ type: "committed", round: this.round, view: this.#viewNumber });
  }

  #progress(stage: Stage, now: number): Output {
    const { roster } = this.#config;
    this.#stage = stage;
    // While advertising, the leader may legitimately wait `advertiseTimeoutMs` for stragglers.
    this.#deadline = now + (stage === "advertise" ? viewPatienceMs(roster) : roster.viewTimeoutMs);
    return event({
      type: "stage",
      role: "participant",
      round: this.round,
      view: this.#viewNumber,
      stage,
    });
  }

  async #enterView(view: number, now: number): Promise<Output[]> {
    const { roster, self, rng, signer } = this.#config;
    this.#dropView();
    this.#viewNumber = view;
    const session = sessionOf(roster, this.round, view);
    const hash = sessionHash(session);
    const keys = await RoundKeys.generate(roster.mode, hash, self, rng);
    const leader = leaderOf(roster, this.round, view);
    const advertFrame = await sealFrame(
      "advertiseKeys",
      session,
      self,
      advertiseKeysFields(keys.advertise),
      signer,
      roster.mode,
    );
    this.#view = { session, sessionHash: hash, leader, keys, advertFrame };
    return [
      this.#progress("advertise", now),
      { kind: "send", to: leader, frame: advertFrame },
    ];
  }

  /**
   * The current view, checking that `env` is its leader's authenticated message for `stage`.
   *
   * The handlers of leader messages (`#onKeyList` … `#onUnmaskRequest`) are transactional: they
   * build their results in local variables and write the view's state only once the whole
   * message checked out and its work succeeded, wiping what they computed otherwise. A bad
   * message therefore leaves no partial state (no shares held, no keys derived or spent), and
   * the member stays ready for a correct one or for its view timeout.
   */
  async #fromLeader(env: Envelope, stage: Stage): Promise<ViewState> {
    const v = this.#view;
    ensure(
      v !== undefined,
      "wrong-stage",
      `${env.type} but this member is not in a view`,
      env.sender,
    );
    expectSession(env, v.session);
    ensure(
      env.sender === v.leader,
      "not-leader",
      `${env.type} from a member that is not the leader (${v.leader}) of round ${this.round} view ${this.#viewNumber}`,
      env.sender,
    );
    ensure(this.#stage === stage, "wrong-stage", `${env.type} in stage ${this.#stage}`, env.sender);
    ensure(await verifyEnvelope(this.#config.roster, env), "bad-signature", env.type, env.sender);
    return v;
  }

  async #onKeyList(env: Envelope, v: ViewState, now: number): Promise<Output[]> {
    const { roster, self, rng, signer } = this.#config;
    const list = readKeyList(env, roster);
    const graph = sessionGraph(roster, v.sessionHash);
    const adverts = new Map<number, { env: Envelope; advertise: AdvertiseKeys }>();
    for (const frame of list.adverts) {
      // The leader signed the list: a bad entry is its fault, whoever the entry claims to be.
      try {
        const a = openFrame(frame, roster);
        expectType(a, "advertiseKeys");
        expectSession(a, v.session);
        ensure(!adverts.has(a.sender), "equivocation", `repeats member ${a.sender}`);
        adverts.set(a.sender, { env: a, advertise: readAdvertiseKeys(a, roster) });
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        throw relayedBy(err, "key list entry", env.sender);
      }
    }
    const own = adverts.get(self);
    ensure(
      own !== undefined && equalBytes(own.env.frame, v.advertFrame),
      "inconsistent-lists",
      "the key list omits or alters this member's own keys",
      env.sender,
    );
    ensure(
      adverts.size >= roster.threshold,
      "inconsistent-lists",
      `key list has ${adverts.size} members, threshold ${roster.threshold}`,
      env.sender,
    );
    const neighbours = graph.neighbours(self).filter((u) => adverts.has(u));
    // The keys' usability (no low-order X25519 point, a valid ML-KEM part) is checked where they
    // are first used below, which costs nothing extra; the signatures are checked here, at once.
    const valid = await Promise.all(
      neighbours.map((u) => verifyEnvelope(roster, adverts.get(u)!.env)),
    );
    const forged = neighbours.find((_, i) => !valid[i]);
    // Keys the leader cannot vouch for: abandon the view (the view timeout moves on).
    ensure(
      forged === undefined,
      "bad-signature",
      `forged advertisement of member ${forged}`,
      env.sender,
    );
    const holders = [self, ...neighbours].sort((a, b) => a - b);
    const tk = shareThreshold(roster);
    ensure(
      holders.length >= tk,
      "inconsistent-lists",
      `only ${holders.length} of this member's share holders are in U1, threshold ${tk}`,
      env.sender,
    );
    const xs = holders.map((h) => h + 1);
    const bShares = split(v.keys.selfSeed, xs, tk, rng);
    const mShares = split(v.keys.maskSeed, xs, tk, rng);
    const held = new Map<number, Uint8Array>();
    const u1 = new Map([...adverts].map(([i, a]) => [i, { advertise: a.advertise }]));
    const pq = roster.mode === "post-quantum";
    // Pre-draw the X25519 ephemerals of the encapsulations so concurrency cannot reorder the rng.
    const ephemerals = pq ? neighbours.map(() => rng(64)) : [];
    // Pair keys are derived here, where the advertised keys are first used, so that a neighbour's
    // unusable key is refused now (naming it) and the next stage has less to do.
    const pairKeys = new Map<number, Uint8Array>();
    const settled = await Promise.allSettled(neighbours.map(async (u, i): Promise<ShareEntry> => {
      const peer = u1.get(u)!.advertise;
      const j = holders.indexOf(u);
      const plaintext = concat(bShares[j], mShares[j]);
      let shareKem: { cipherText: Uint8Array; sharedSecret: Uint8Array } | undefined;
      let entry: ShareEntry;
      try {
        let maskKemCt = new Uint8Array(0);
        let wrap = new Uint8Array(0);
        if (pq) {
          const e = ephemerals[i];
          shareKem = await xwingEncapsulate(peer.shareKey.subarray(32), () => e.subarray(0, 32));
          if (self < u) {
            const m = await xwingEncapsulate(peer.maskKey, () => e.subarray(32, 64));
            maskKemCt = m.cipherText;
            wrap = wrapPairSecret(
              v.sessionHash,
              v.keys.maskSeed,
              self,
              u,
              m.sharedSecret,
              maskKemCt,
            );
            pairKeys.set(u, pairMaskKey(v.sessionHash, self, u, m.sharedSecret, maskKemCt));
            m.sharedSecret.fill(0);
          }
        } else {
          pairKeys.set(u, v.keys.classicalPairKey(u, peer.maskKey));
        }
        const sealed = v.keys.sealShares(u, peer.shareKey, plaintext, maskKemCt, shareKem);
        entry = {
          peer: u,
          sealed,
          shareKemCt: shareKem?.cipherText ?? new Uint8Array(0),
          maskKemCt,
          wrap,
          signature: new Uint8Array(0),
        };
      } catch (err) {
        throw unusableKeys(err, u);
      } finally {
        plaintext.fill(0);
        shareKem?.sharedSecret.fill(0);
      }
      if (!pq) return entry;
      // The leader relays the entry in its own frame: only this signature vouches for us there.
      const payload = shareEntryPayload(v.sessionHash, self, u, entry);
      return { ...entry, signature: await signer.signPostQuantum(payload) };
    }));
    const failure = settled.find((r) => r.status === "rejected");
    if (failure !== undefined) {
      // Everything settled: nothing computed for this message survives it.
      wipe(...ephemerals, ...bShares, ...mShares, ...pairKeys.values());
      throw failure.reason;
    }
    const entries = settled.map((r) => (r as PromiseFulfilledResult<ShareEntry>).value);
    wipe(...ephemerals);
    const j = holders.indexOf(self);
    held.set(self, concat(bShares[j], mShares[j]));
    wipe(...bShares, ...mShares);
    v.u1 = u1;
    v.held = held;
    v.pairKeys = pairKeys;
    const frame = await sealFrame(
      "shareKeys",
      v.session,
      self,
      shareKeysFields({ entries }, roster.mode),
      signer,
      roster.mode,
    );
    return [this.#progress("share", now), { kind: "send", to: v.leader, frame }];
  }

  async #onShareDelivery(env: Envelope, v: ViewState, now: number): Promise<Output[]> {
    const { roster, self, signer, expander } = this.#config;
    const delivery = readShareDelivery(env, roster, self);
    const u1 = v.u1!;
    const u2 = delivery.u2;
    ensure(
      isSubset(u2, [...u1.keys()].sort((a, b) => a - b)),
      "inconsistent-lists",
      "U2 is not a subset of U1",
      env.sender,
    );
    ensure(u2.includes(self), "inconsistent-lists", "U2 omits this member", env.sender);
    ensure(
      u2.length >= roster.threshold,
      "inconsistent-lists",
      `|U2| = ${u2.length} < t = ${roster.threshold}`,
      env.sender,
    );
    const graph = sessionGraph(roster, v.sessionHash);
    const expected = intersection(graph.neighbours(self), u2);
    ensure(
      sameMembers(delivery.entries.map((e) => e.peer), expected),
      "inconsistent-lists",
      "the delivery does not hold exactly one share pair from each neighbour in U2",
      env.sender,
    );
    // Each entry yields its opened share pair and the pair key; all settle before any decision.
    // An entry is trusted only with its sender's signature (post-quantum mode) and once it
    // opens; either failure is the leader's, which chose to relay it (the sender may never have
    // sent it). The signatures are checked concurrently, each before its entry is opened.
    const settled = await Promise.allSettled(delivery.entries.map(async (e) => {
      const peer = u1.get(e.peer)!.advertise;
      if (!await verifyShareEntry(roster, v.sessionHash, e.peer, self, e)) {
        throw new ProtocolError(
          "tampered-ciphertext",
          `the share pair from member ${e.peer} lacks its valid signature`,
          env.sender,
        );
      }
      let plain: Uint8Array | undefined;
      try {
        plain = await v.keys.openShares(e.peer, peer.shareKey, e.sealed, e.shareKemCt, e.maskKemCt);
      } catch {
        plain = undefined;
      }
      if (plain === undefined) {
        throw new ProtocolError(
          "tampered-ciphertext",
          `the share pair from member ${e.peer} does not authenticate`,
          env.sender,
        );
      }
      // The view's own key is used as is (no copy) and spent only once the masks are applied.
      const known = v.pairKeys!.get(e.peer);
      if (known !== undefined) return { plain, key: known, fresh: false };
      // Post-quantum, lower-indexed peer: it encapsulated the pair secret to us (the ciphertext
      // is signed by it and authenticated with its shares, so a malformed one is its own doing).
      let secret: Uint8Array;
      try {
        secret = await v.keys.decapsulatePairSecret(e.maskKemCt);
      } catch (err) {
        plain.fill(0);
        throw unusableKeys(err, e.peer);
      }
      try {
        const key = pairMaskKey(v.sessionHash, self, e.peer, secret, e.maskKemCt);
        return { plain, key, fresh: true };
      } finally {
        secret.fill(0);
      }
    }));
    const results = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    // Undoes this message's work: the view keeps its own pair keys for a correct delivery.
    const discard = () => {
      for (const r of results) wipe(r.plain, r.fresh ? r.key : undefined);
    };
    const failure = settled.find((r) => r.status === "rejected");
    if (failure !== undefined) {
      discard();
      throw failure.reason;
    }
    const terms: MaskTerm[] = [{ key: v.keys.selfMaskKey(), negate: false }];
    delivery.entries.forEach((e, i) => terms.push({ key: results[i].key, negate: self > e.peer }));
    const masked = new Uint32Array(this.#input!);
    try {
      await expander.apply(masked, terms);
    } catch (err) {
      wipe(masked, terms[0].key);
      discard();
      throw err;
    }
    // Every pair mask is applied: the keys are spent, the view's included.
    for (const t of terms) t.key.fill(0);
    for (const k of v.pairKeys!.values()) k.fill(0);
    v.pairKeys!.clear();
    delivery.entries.forEach((e, i) => v.held!.set(e.peer, results[i].plain));
    v.u2 = u2;
    v.u2Hash = memberSetHash(v.sessionHash, u2);
    const body = u32Bytes(masked);
    const vectorHash = taggedHash(HASH.maskedVector, v.sessionHash, body);
    const frame = await sealFrame(
      "maskedInput",
      v.session,
      self,
      maskedInputFields({ u2Hash: v.u2Hash, vectorHash }),
      signer,
      roster.mode,
      body,
    );
    return [this.#progress("masked", now), { kind: "send", to: v.leader, frame }];
  }

  async #onConsistencyRequest(env: Envelope, v: ViewState, now: number): Promise<Output[]> {
    const { roster, self, signer } = this.#config;
    const request = readConsistencyRequest(env, roster);
    ensure(
      sameMembers(request.u2, v.u2!),
      "inconsistent-lists",
      "U2 differs from the one delivered",
      env.sender,
    );
    ensure(
      isSubset(request.u3, request.u2),
      "inconsistent-lists",
      "U3 is not a subset of U2",
      env.sender,
    );
    ensure(request.u3.includes(self), "inconsistent-lists", "U3 omits this member", env.sender);
    ensure(
      request.u3.length >= roster.threshold,
      "inconsistent-lists",
      `|U3| = ${request.u3.length} < t = ${roster.threshold}`,
      env.sender,
    );
    const u3Hash = memberSetHash(v.sessionHash, request.u3);
    const frame = await sealFrame(
      "approval",
      v.session,
      self,
      approvalFields({ u2Hash: v.u2Hash!, u3Hash }),
      signer,
      roster.mode,
    );
    v.u3 = request.u3;
    const out = roster.graph.kind === "complete" ? [] : [this.#commit()];
    return [...out, this.#progress("consistency", now), { kind: "send", to: v.leader, frame }];
  }

  async #onUnmaskRequest(env: Envelope, v: ViewState, now: number): Promise<Output[]> {
    const { roster, self, signer } = this.#config;
    const request = readUnmaskRequest(env, roster);
    const both = intersection(request.alive, request.dropped);
    ensure(
      both.length === 0,
      "inconsistent-lists",
      `the request lists member ${both[0]} as both alive and dropped`,
      env.sender,
    );
    ensure(
      sameMembers(request.alive, v.u3!),
      "inconsistent-lists",
      "the alive list differs from the approved U3",
      env.sender,
    );
    ensure(
      sameMembers(request.dropped, difference(v.u2!, v.u3!)),
      "inconsistent-lists",
      "the dropped list is not U2 \\ U3",
      env.sender,
    );
    const { refused } = await checkApprovals(
      roster,
      v.session,
      request.approvals,
      v.u3!,
      v.u2Hash!,
      env.sender,
      this.#verifiedApprovals,
    );
    const alive = new Set(v.u3!);
    const selfShares: [number, Uint8Array][] = [];
    const maskShares: [number, Uint8Array][] = [];
    for (const owner of [...v.held!.keys()].sort((a, b) => a - b)) {
      const pair = v.held!.get(owner)!;
      if (alive.has(owner)) selfShares.push([owner, pair.slice(0, SHARE_LENGTH)]);
      else maskShares.push([owner, pair.slice(SHARE_LENGTH)]);
    }
    const frame = await sealFrame(
      "unmask",
      v.session,
      self,
      unmaskFields({ selfShares, maskShares }),
      signer,
      roster.mode,
    );
    const commit = this.#committedView === undefined ? [this.#commit()] : [];
    for (const [, s] of [...selfShares, ...maskShares]) s.fill(0);
    for (const s of v.held!.values()) s.fill(0);
    v.held!.clear();
    return [
      ...refused.map((error) => event({ type: "refused", error })),
      ...commit,
      this.#progress("unmask", now),
      { kind: "send", to: v.leader, frame },
    ];
  }

  async #onCertificate(env: Envelope, now: number): Promise<Output[]> {
    const { roster, self, signer } = this.#config;
    const existing = this.#certificate;
    if (existing !== undefined) {
      ensure(
        existing.session.view === env.session.view && equalBytes(existing.frame, withoutBody(env)),
        "equivocation",
        `a second, different certificate for round ${this.round}`,
        env.sender,
      );
      return [];
    }
    ensure(
      this.#committedView === undefined || this.#committedView === env.session.view,
      "wrong-session",
      `certificate for view ${env.session.view}, this member committed to view ${this.#committedView}`,
      env.sender,
    );
    ensure(env.body !== null, "malformed", "certificate without its aggregate", env.sender);
    const checked = await checkCertificate(roster, env, env.body, this.#verifiedApprovals);
    if (this.#committedView !== undefined) {
      ensure(
        sameMembers(checked.certificate.u3, this.#view?.u3 ?? checked.certificate.u3),
        "inconsistent-lists",
        "the certificate's U3 differs from the one this member approved",
        env.sender,
      );
    }
    this.#certificate = {
      session: env.session,
      hash: checked.hash,
      frame: withoutBody(env),
      members: checked.certificate.u3,
      aggregate: checked.aggregate,
    };
    // The round is decided: whatever view this member was in ends here.
    this.#dropView();
    wipe(this.#input);
    this.#input = undefined;
    this.#viewNumber = env.session.view;
    const cosign = await sealFrame(
      "cosign",
      env.session,
      self,
      cosignFields({ certificateHash: checked.hash }),
      signer,
      roster.mode,
    );
    const out: Output[] = [
      ...checked.refused.map((error) => event({ type: "refused", error })),
      this.#progress("publish", now),
      event({
        type: "published",
        round: this.round,
        view: env.session.view,
        certificate: this.#certificate.frame,
        aggregate: checked.aggregate,
        members: checked.certificate.u3,
      }),
      { kind: "broadcast", frame: cosign },
    ];
    this.#deadline = undefined;
    out.push(...await this.#tryFinal());
    return out;
  }

  async #onCosign(env: Envelope): Promise<Output[]> {
    if (this.#stage === "final") return [];
    if (this.#cosigns.has(env.sender) || this.#unverifiedCosigns.has(env.sender)) return [];
    // Co-signatures can overtake the certificate: kept (one per member) until it arrives.
    this.#unverifiedCosigns.set(env.sender, env);
    return this.#certificate === undefined ? [] : await this.#tryFinal();
  }

  /**
   * Once the unverified co-signatures could reach the threshold, checks them all in one batch —
   * each must sign our certificate's hash in its session, with a valid signature (the runtime
   * verifies ML-DSA-65 concurrently) — and reports the final certificate when ≥ t hold.
   */
  async #tryFinal(): Promise<Output[]> {
    const cert = this.#certificate!;
    const { roster } = this.#config;
    if (this.#cosigns.size + this.#unverifiedCosigns.size < roster.threshold) return [];
    const out: Output[] = [];
    const batch = [...this.#unverifiedCosigns.values()].filter((c) => {
      try {
        checkCosignFields(c, cert.session, cert.hash);
        return true;
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        out.push(event({ type: "refused", error: err }));
        return false;
      }
    });
    this.#unverifiedCosigns.clear();
    const valid = await Promise.all(batch.map((c) => verifyEnvelope(roster, c)));
    batch.forEach((c, i) => {
      if (valid[i]) this.#cosigns.set(c.sender, c.frame);
      else {
        out.push(event({
          type: "refused",
          error: new ProtocolError("bad-signature", "co-signature", c.sender),
        }));
      }
    });
    if (this.#cosigns.size < roster.threshold) return out;
    this.#stage = "final";
    const frames = [...this.#cosigns].sort(([a], [b]) => a - b).map(([, f]) => f);
    const certificateEnv = openFrame(cert.frame, roster);
    return [
      ...out,
      event({
        type: "stage",
        role: "participant",
        round: this.round,
        view: cert.session.view,
        stage: "final",
      }),
      event({
        type: "final",
        round: this.round,
        view: cert.session.view,
        certificate: encodeFinalCertificate(certificateEnv, frames),
        aggregate: cert.aggregate,
        members: cert.members,
      }),
    ];
  }
}
