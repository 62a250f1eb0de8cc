/**
 * The participant: one member's side of one round, across views. A sans-IO state machine fed
 * with envelopes (already structurally checked by `openFrame`), timeouts and its local input;
 * it returns frames to send and events. It never touches a socket, a clock or a file: time
 * arrives as the `now` argument (milliseconds on any monotonic scale).
 *
 * Per view it runs the member's part of the stages of `stages.ts`, each on the leader's answer:
 * 1. sends AdvertiseKeys (fresh ephemeral keys and a commitment to its self-mask seed);
 * 2. on the KeyList (U1): checks every neighbour's signature and that its own entry is intact,
 *    deals its secrets to its neighbourhood (`share_sealing.ts`) and sends ShareKeys;
 * 3. on the ShareDelivery (U2 and the entries addressed to it): opens the entries, masks its
 *    quantized input with its self mask and its pair masks and sends MaskedInput;
 * 4. on the ConsistencyRequest (U2, U3): signs an Approval (committing, on a sparse graph);
 * 5. on the UnmaskRequest (≥ t approvals of the same lists, t_C of the committee with one):
 *    commits, and for each neighbour reveals the share of its self-mask seed if it is in U3, of
 *    its mask seed if it is in U2 \ U3 — never both;
 * 6. on the Certificate (in any stage): hands it to its {@link Publication}, which checks it,
 *    co-signs it and reports the aggregate and, with ≥ t co-signatures, the final certificate.
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
 * committed leaves the view (`participantTimeout` in `stages.ts`): it signs Leave(r, v; p) and
 * sends it to every other member, wipes the view's secrets and re-advertises fresh keys to the
 * next leader, up to view n − 1 (`viewLimit`); past that it gives the round up. In a view it
 * approved without committing (complete graph) it keeps the shares it holds, in memory only, and
 * p (the views it promises never to commit in are those < p) leaves that view out: **rescue** —
 * once it holds that view's valid UnmaskRequest and another member's signed OutcomeRequest of
 * the view (that member is bound there), a member committed nowhere goes back and reveals there,
 * committing to it ({@link Participant.peerBound}, `docs/protocol.md` §4). Leaving has one code
 * path whatever the cause — a view timeout, or Leave evidence from enough other members
 * ({@link Participant.sync}: it then moves straight to the view the evidence justifies,
 * `leave_evidence.ts`). Before each Leave it reports `left` and before each advert `advertised`,
 * so a node can persist that this member spoke in or promised away the view and, after a
 * restart, resume in a later one (`docs/protocol.md` §4).
 *
 * **Round deadline.** `roundDeadlineMs` after the round started here (`start`'s `now`) a member
 * that has not committed gives the round up: it signs Leave(r, n − 1), wipes the view's secrets,
 * and reports `round-failed` naming the stage and the members missing — or, if its masked input
 * left in some view m (that view may still complete with it), `outcome-unknown`: it never
 * approves or reveals again and asks how the round ended. A member that committed and holds no
 * certificate at its deadline **renounces**: it reports `renounced` (journaled first), signs
 * Leave(r, n − 1; n + 1) — it will never co-sign a certificate of the round — zeroes the round's
 * ephemeral secrets (the view's keys and held shares, its input: the round ended for them), and
 * answers no leader any more. A member in `outcome-unknown` (or renounced) whose evidence holds promises
 * p > m (never to commit in a view ≤ m, or renouncements) from `abandonQuorum` members (itself
 * included when it did not commit, or renounced) reports `round-failed` (`abandoned`): no
 * certificate containing its update can gather t co-signatures.
 *
 * **The end of the update.** Every participant ends in exactly one of: a certificate whose U3
 * contains this member (`published`, then `final`), or `round-failed` — a view limit before it
 * committed, or a certificate or an Outcome of the round that does not contain this member
 * (`excluded`). A committed member whose leader stalls is `outcome-unknown` until one of those
 * reaches it: it asks the other members (`outcome_inquiry.ts`) and never guesses a failure.
 *
 * Every refusal is reported as a `refused` event naming the peer and the reason; it never
 * throws out of {@link Participant.handle}.
 *
 * @module
 */
import { u32Bytes, wipe } from "../encoding/bytes.ts";
import { checkCertificate } from "../certificate/certificate.ts";
import { HASH, type Rng, taggedHash } from "../crypto/mod.ts";
import { CallerError, ensure, ProtocolError } from "../errors.ts";
import {
  ownerShareThreshold,
  type Roster,
  vectorLength,
  viewPatienceMs,
} from "../federation/roster.ts";
import { leaderOf } from "../federation/schedule.ts";
import { sessionHash, sessionOf } from "../federation/session.ts";
import type { MemberSigner } from "../federation/signer.ts";
import { sessionGraph } from "../graph/session_graph.ts";
import { roundGroups } from "../federation/round_groups.ts";
import type { MaskExpander, MaskTerm } from "../math/masking.ts";
import { type MemberSet, memberSetHash } from "../math/member_set.ts";
import {
  type Envelope,
  expectRound,
  expectSession,
  sealFrame,
  verifyEnvelope,
} from "../wire/frame.ts";
import {
  type AdvertiseKeys,
  advertiseKeysFields,
  approvalFields,
  leaveFields,
  maskedInputFields,
  readConsistencyRequest,
  readShareDelivery,
  readUnmaskRequest,
  shareKeysFields,
  unmaskFields,
} from "../wire/messages.ts";
import { SHARE_LENGTH } from "../wire/share_entry.ts";
import { event, type Output } from "./events.ts";
import { RoundKeys } from "./keys.ts";
import { OutcomeInquiry } from "./outcome_inquiry.ts";
import { approvalQuorum } from "../graph/committee.ts";
import { abandonSigners, renouncement, RoundLeaves, syncThreshold } from "./leave_evidence.ts";
import { Publication } from "./publication.ts";
import {
  checkConsistencyRequest,
  checkDelivery,
  checkKeyList,
  checkUnmaskRequest,
  type MemberView,
  revealsShares,
} from "./member_checks.ts";
import { dealShares, discardOpened, openDelivery, type SealingContext } from "./share_sealing.ts";
import {
  awaitedIn,
  participantTimeout,
  type Stage,
  TRANSITIONS,
  viewLimit,
  type ViewStage,
} from "./stages.ts";

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

/** State of the current view. */
interface ViewState extends SealingContext, MemberView {
  readonly leader: number;
  /** U1 as the leader's key list states it. */
  u1?: MemberSet;
  /** The verified advertised keys this member received (its neighbours' in U1 on a sparse graph). */
  keys1?: Map<number, AdvertiseKeys>;
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
  /** The Unmask frame this member sent in the view (public to its leader; sent again on asking). */
  unmask?: Uint8Array;
}

/** A view this member approved and left without committing, kept for a rescue. */
interface Retained {
  readonly v: ViewState;
  /** Its leader's UnmaskRequest, once one checked out (held until a member is seen bound there). */
  request?: { readonly env: Envelope; readonly refused: readonly ProtocolError[] };
  /** True once another member's signed OutcomeRequest of the view showed it bound there. */
  bound?: boolean;
}

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
  #maskedSent = false;
  /** The highest view this member sent its masked input in. */
  #maskedView: number | undefined;
  #deadline: number | undefined;
  /** When the round deadline passes (set by `start`), until it did or the round ended. */
  #roundDeadline: number | undefined;
  /** The Leave evidence of this round (shared with the endpoint, which records it). */
  readonly #leaves: RoundLeaves;
  /** The highest w this member signed Leave(round, w) for; -1 for none. */
  #leftView = -1;
  /** This member's newest Leave frame of the round. */
  #leaveFrame: Uint8Array | undefined;
  /** Gave the round up after its masked input left: outcome-unknown, never acts again. */
  #gaveUp = false;
  /** Digests of approval frames whose signatures this member already checked. */
  readonly #verifiedApprovals = new Set<string>();
  /** Asking the other members how the round ended, once committed and the leader went quiet. */
  #inquiry: OutcomeInquiry | undefined;
  /** The round's certificate and co-signatures (survives the view that produced them). */
  readonly #publication: Publication;
  /**
   * Views this member approved and left without committing (complete graph only: a sparse graph
   * commits on approving), by view: their lists and the shares held there, kept in memory only
   * (never journaled, never logged) so that the member can still reveal there (a rescue);
   * ephemeral keys wiped. Zeroed once the member commits, gives the round up, or the round ends.
   */
  readonly #retained = new Map<number, Retained>();

  /**
   * A participant for `round` with its quantized input (`vectorLength` words: d + 1, see `quantize.ts`, or D + 1 in DP
   * mode, see `dp/mechanism.ts`) and the
   * round's Leave evidence (kept up to date by its endpoint; by default its own, empty), and —
   * for a round resumed after a restart — `maskedView`, the highest view a journaled `masked`
   * event says this member already sent its masked input in: the update then counts as sent
   * (never withdrawn; a give-up is `outcome-unknown` for that view). The participant takes
   * ownership of `input` and wipes it when the round ends. Refuses (CallerError
   * `invalid-input`) an input of another length.
   */
  constructor(
    config: ParticipantConfig,
    round: number,
    input: Uint32Array,
    leaves: RoundLeaves = new RoundLeaves(round),
    maskedView?: number,
  ) {
    if (input.length !== vectorLength(config.roster)) {
      throw new CallerError(
        "invalid-input",
        `input has length ${input.length}, expected ${
          config.roster.dp === undefined ? "d + 1" : "D + 1 (DP: the padded dimension)"
        } = ${vectorLength(config.roster)}`,
      );
    }
    this.#config = config;
    this.round = round;
    this.#input = input;
    this.#leaves = leaves;
    if (maskedView !== undefined) {
      this.#maskedSent = true;
      this.#maskedView = maskedView;
    }
    this.#publication = new Publication(config, round, undefined, this.#verifiedApprovals);
  }

  /** The current stage (`publish` or `final` once the round's certificate checked out). */
  get stage(): Stage {
    return this.#publication.stage ?? this.#stage;
  }

  /** The current view. */
  get view(): number {
    return this.#viewNumber;
  }

  /** True once a certificate of this round checked out here (the round is decided). */
  get decided(): boolean {
    return this.#publication.decided;
  }

  /**
   * True while this member's update has not ended here: the round is neither decided (a
   * certificate or Outcome reported it `published` or `excluded`) nor given up (`round-failed`).
   */
  get open(): boolean {
    return this.#stage !== "failed" && !this.decided;
  }

  /** The view this member committed to, if any. */
  get committedView(): number | undefined {
    return this.#committedView;
  }

  /**
   * True once this member produced its masked input in any view of the round: from then on a
   * leader may count the update in an aggregate, so it can no longer be withdrawn.
   */
  get sentMaskedInput(): boolean {
    return this.#maskedSent;
  }

  /**
   * The highest view this member sent its masked input in, if any: the highest view that may
   * complete with its update.
   */
  get maskedView(): number | undefined {
    return this.#maskedView;
  }

  /**
   * The view whose outcome decides this member's update when it can no longer act: the view it
   * committed to, or — once it gave the round up after its masked input left — the highest view
   * it sent one in. Undefined while it can still act, or never sent a masked input.
   */
  get outcomeView(): number | undefined {
    return this.#committedView ?? (this.#gaveUp ? this.#maskedView : undefined);
  }

  /** The highest w this member signed Leave(round, w) for, if any. */
  get leftView(): number | undefined {
    return this.#leftView < 0 ? undefined : this.#leftView;
  }

  /** This member's newest Leave frame of the round (public), if it signed one. */
  get leaveFrame(): Uint8Array | undefined {
    return this.#leaveFrame;
  }

  /**
   * True once this member renounced co-signing any certificate of the round (committed, it
   * reached its round deadline without a certificate: see {@link handleTimeout}).
   */
  get renounced(): boolean {
    return this.#publication.renounced;
  }

  /**
   * The members that have not contributed to the current view as far as this member knows: those
   * missing from the newest list its leader sent (U1, U2 or U3); undefined before the first list
   * (or out of a view).
   */
  get missing(): readonly number[] | undefined {
    const v = this.#view;
    const known = v?.u3 ?? v?.u2 ?? v?.u1;
    if (known === undefined) return undefined;
    const n = this.#config.roster.members.length;
    return [...Array(n).keys()].filter((i) => !known.includes(i));
  }

  /**
   * How many members' share pairs this member still holds, for inspection (a count, nothing
   * secret): those of its view until it reveals them or leaves the view, and those of views kept
   * for a rescue. Zero once it revealed, renounced, gave the round up or the round ended here.
   */
  get heldShares(): number {
    let count = this.#view?.held?.size ?? 0;
    for (const { v } of this.#retained.values()) count += v.held?.size ?? 0;
    return count;
  }

  /** When the round deadline passes here, until it did (or the round ended). */
  get roundDeadline(): number | undefined {
    return this.#roundDeadline;
  }

  /** When {@link handleTimeout} next needs to run, or undefined. */
  nextTimeout(): number | undefined {
    // Decided: only the publication's watch for missing co-signatures is left.
    if (this.#publication.decided) return this.#publication.nextTimeout();
    const d = this.#deadline;
    const r = this.#roundDeadline;
    return d === undefined ? r : r === undefined ? d : Math.min(d, r);
  }

  /**
   * Starts the round in `view` (normally 0; after a restart, the view after the last one this
   * member advertised in or left) and its round deadline (`now` + `roundDeadlineMs`):
   * advertises fresh keys to that view's leader — or, when the round's Leave evidence already
   * justifies a later view (a late submitter), leaves straight for that view. A view at or past
   * the view limit (`viewLimit`) gives the round up at once (`round-failed`).
   */
  async start(now: number, view = 0): Promise<Output[]> {
    if (this.#input === undefined) return [];
    this.#roundDeadline = now + this.#config.roster.roundDeadlineMs;
    if (view >= viewLimit(this.#config.roster.members.length)) {
      this.#viewNumber = view;
      this.#roundDeadline = undefined;
      return this.#fail(`view ${view} is past the last view of a round (every member led once)`);
    }
    this.#viewNumber = view;
    // Resumed after the views it advertised in or left (journaled): it never commits in them, so
    // its Leave of them is signed again (not broadcast: they were left before; it answers members
    // that are behind, `Endpoint`), so a restart does not erase its promise.
    if (view > 0) await this.#signLeave(view - 1);
    const justified = this.#justifiedView();
    if (justified !== undefined) {
      return await this.#leaveView(now, justified, this.#evidenceReason(justified));
    }
    return await this.#enterView(view, now);
  }

  /**
   * Acts on the round's Leave evidence, after the endpoint recorded a new Leave: a member that
   * can still act and has not committed moves at once to the view the evidence justifies
   * (`RoundLeaves.justifiedView`), leaving its own view like a view timeout does (or gives the
   * round up when that view is past the view limit); a member in `outcome-unknown` ends its
   * update as `round-failed` (`abandoned`) once the evidence proves no view with its update can
   * complete. Anything else: nothing.
   */
  async sync(now: number): Promise<Output[]> {
    if (!this.open) return [];
    if (this.#inquiry !== undefined || this.#gaveUp || this.renounced) return this.#checkAbandon();
    if (this.#committedView !== undefined || this.#view === undefined) return [];
    const justified = this.#justifiedView();
    if (justified === undefined) return [];
    return await this.#leaveView(now, justified, this.#evidenceReason(justified));
  }

  /**
   * Handles one envelope from the network. Never throws: refusals come back as `refused`
   * events and leave the state unchanged (or, where continuing would be unsafe, abandon the
   * view, which is reported too). The round deadline is checked first, as by
   * {@link handleTimeout}: a member that was paused past it gives the round up before it reads
   * the frame, and then answers no leader (it never approves or reveals after its deadline);
   * certificates, Outcomes and co-signatures are still taken.
   */
  async handle(env: Envelope, now: number): Promise<Output[]> {
    const late = await this.#roundDeadlinePassed(now);
    try {
      expectRound(env, this.round);
      if (env.type === "certificate" || env.type === "outcome") {
        return [...late, ...await this.#onDecision(env, now)];
      }
      if (env.type === "cosign") return [...late, ...await this.#publication.cosign(env)];
      // Past its deadline (given up, or renounced): it answers no leader.
      if (late.length > 0 || this.renounced) return late;
      const stage = awaitedIn(env.type);
      if (stage === undefined) {
        throw new ProtocolError(
          "wrong-type",
          `${env.type} is addressed to the leader, not to a participant`,
          env.sender,
        );
      }
      if (env.type === "unmaskRequest" && env.session.view !== this.#viewNumber) {
        const rescued = await this.#earlierUnmaskRequest(env, now);
        if (rescued !== undefined) return rescued;
      }
      if (env.type === "unmaskRequest" && this.#view?.unmask !== undefined) {
        return await this.#unmaskAgain(env, this.#view);
      }
      const v = await this.#fromLeader(env, stage);
      return await this.#onAnswer[stage](env, v, now);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return [...late, event({ type: "refused", error: err })];
    }
  }

  /**
   * Handles the passage of time: a view change if the leader stalled before this member
   * committed; once committed, an inquiry (`outcome-unknown`, OutcomeRequests with backoff) —
   * never a `round-failed` on a timeout, since the round may have been certified with this
   * member's update. Once the round is decided here, only the publication's watch runs: short
   * of t co-signatures two view timeouts after the certificate, it asks for the final
   * certificate.
   */
  async handleTimeout(now: number): Promise<Output[]> {
    if (this.#publication.decided) return await this.#publication.handleTimeout(now);
    const late = await this.#roundDeadlinePassed(now);
    if (late.length > 0) return late;
    if (this.#deadline === undefined || now < this.#deadline) return [];
    if (this.#inquiry !== undefined) {
      const out = await this.#inquiry.handleTimeout(now);
      this.#deadline = this.#inquiry.nextTimeout();
      return out.length === 0 ? out : [...out, ...this.#revealAgain()];
    }
    const view = this.#viewNumber;
    switch (participantTimeout(this.stage, this.#committedView !== undefined)) {
      case "next-view":
        return await this.#leaveView(
          now,
          view + 1,
          `no leader made progress in views 0 to ${view} (every member led once); last in ` +
            this.#whereAndWho(),
        );
      case "ask": {
        // Committed: the round may have been certified with this update, so it is not failed
        // on a guess. The view stays (a slow leader's certificate, or on a sparse graph its
        // UnmaskRequest, is still taken); the other members are asked for the Outcome.
        wipe(this.#input);
        this.#input = undefined;
        this.#inquiry = new OutcomeInquiry(this.#config, this.round, view);
        const out = await this.#inquiry.start(
          now,
          `the leader of view ${view} made no progress for a view timeout after this member ` +
            `committed to it`,
        );
        this.#deadline = this.#inquiry.nextTimeout();
        // The round deadline stays: reached without a certificate, it renounces co-signing.
        return [...out, ...this.#revealAgain(), ...this.#checkAbandon()];
      }
      case "none":
        this.#deadline = undefined;
        return [];
    }
  }

  /**
   * Once the round deadline passed (`now` at or after it): gives the round up, if this member
   * can still act and has not committed; renounces co-signing ({@link #renounce}) if it
   * committed and holds no certificate (see the module doc); its outputs, else nothing.
   */
  async #roundDeadlinePassed(now: number): Promise<Output[]> {
    if (this.#roundDeadline === undefined || now < this.#roundDeadline) return [];
    this.#roundDeadline = undefined;
    if (!this.open || this.#gaveUp) return [];
    if (this.#committedView !== undefined) return await this.#renounce();
    if (this.#inquiry !== undefined || this.#input === undefined) return [];
    return await this.#giveUp(
      now,
      `round deadline: ${this.#config.roster.roundDeadlineMs} ms after the round started ` +
        `here it was still in ${this.#whereAndWho()}`,
    );
  }

  /**
   * The driver reports the current view's leader lost (its connection gone past the driver's
   * grace): the member leaves the view now, by the same path as its view timeout
   * ({@link handleTimeout}, whose deadline this moves to `now`) — but only where that timeout
   * would move to the next view. A member that committed keeps its view (its timeout asks, as
   * before), and the last view is left to the timer (a lost leader alone never gives the round
   * up). The caller decides that the leader is the lost member; nothing else is inferred here.
   */
  async leaderLost(now: number): Promise<Output[]> {
    if (this.#view === undefined || this.#inquiry !== undefined || this.#deadline === undefined) {
      return [];
    }
    if (participantTimeout(this.stage, this.#committedView !== undefined) !== "next-view") {
      return [];
    }
    if (this.#viewNumber + 1 >= viewLimit(this.#config.roster.members.length)) return [];
    this.#deadline = now;
    return await this.handleTimeout(now);
  }

  /**
   * This member's Outcome frame of the round (its final certificate and aggregate), once the
   * round is final here; else undefined (see `Publication.outcomeFrame`).
   */
  outcomeFrame(): Promise<Uint8Array> | undefined {
    return this.#publication.outcomeFrame();
  }

  /**
   * This member's Cosign of the certificate of `view` it took, while not final (see
   * `Publication.cosignFor`).
   */
  cosignFor(view: number): Uint8Array | undefined {
    return this.#publication.cosignFor(view);
  }

  /** Zeroes every secret the participant holds and ends its part in the round. */
  wipe(): void {
    this.#dropView();
    this.#dropRetained();
    wipe(this.#input);
    this.#input = undefined;
  }

  // ------------------------------------------------------------------------------------------

  /** The handler of each leader answer, by the stage that awaits it. */
  readonly #onAnswer: Readonly<
    Record<ViewStage, (env: Envelope, v: ViewState, now: number) => Promise<Output[]>>
  > = {
    advertise: (env, v, now) => this.#onKeyList(env, v, now),
    share: (env, v, now) => this.#onShareDelivery(env, v, now),
    masked: (env, v, now) => this.#onConsistencyRequest(env, v, now),
    consistency: (env, v, now) => this.#onUnmaskRequest(env, v, now),
  };

  /**
   * Leaves the current view's state: its ephemeral keys and pair keys are wiped; its held shares
   * too — unless `retain` and this member approved the view without committing to it (complete
   * graph), in which case they are kept for a rescue (see `#retained`).
   */
  #dropView(retain = false): void {
    const v = this.#view;
    if (v === undefined) return;
    this.#view = undefined;
    const keep = retain && this.#committedView === undefined && v.u3 !== undefined &&
      v.held !== undefined && v.held.size > 0;
    zeroView(v, !keep);
    if (keep) this.#retained.set(this.#viewNumber, { v });
  }

  /**
   * Zeroes every ephemeral secret of the round — the view's keys, pair keys and held shares, the
   * views kept for a rescue, the input — and keeps the view's public state (session, leader,
   * lists, its Unmask frame): a member that renounced never deals, masks or reveals again, but
   * still takes the round's certificate or Outcome, checked against the U3 it approved.
   */
  #zeroSecrets(): void {
    if (this.#view !== undefined) zeroView(this.#view);
    this.#dropRetained();
    wipe(this.#input);
    this.#input = undefined;
  }

  /** Zeroes the shares of every retained view (see `#retained`) and forgets them. */
  #dropRetained(): void {
    for (const { v } of this.#retained.values()) {
      for (const s of v.held?.values() ?? []) s.fill(0);
      v.held?.clear();
    }
    this.#retained.clear();
  }

  #fail(reason: string): Output[] {
    const view = this.#viewNumber;
    this.wipe();
    this.#stage = "failed";
    this.#deadline = undefined;
    this.#roundDeadline = undefined;
    return [event({ type: "round-failed", role: "participant", round: this.round, view, reason })];
  }

  /** The view the round's Leave evidence moves this member to from its view, if any. */
  #justifiedView(): number | undefined {
    const { roster, self } = this.#config;
    return this.#leaves.justifiedView(this.#viewNumber, self, syncThreshold(roster));
  }

  #evidenceReason(to: number): string {
    const e = syncThreshold(this.#config.roster);
    return `${e} other member(s) signed Leave for view ${to - 1} or later; no leader made ` +
      `progress in views 0 to ${to - 1} (every member led once)`;
  }

  /**
   * Where this member is and who is missing, as far as it knows: the stage, view and leader, the
   * members not in the newest list its leader sent (U1, U2 or U3), and those that left the
   * round's later views.
   */
  #whereAndWho(): string {
    const v = this.#view;
    const stage = this.#stage;
    const where = `stage ${stage} of view ${this.#viewNumber}` +
      (v === undefined ? "" : ` (leader ${v.leader})`);
    const absent = this.missing;
    const missing = absent === undefined
      ? `no key list from the leader yet`
      : `members missing from the leader's list: ${absent.join(", ") || "none"}`;
    const left = this.#leaves.signersFrom(this.#viewNumber, this.#config.self);
    return `${where}: ${missing}` +
      (left.length === 0 ? "" : `; members that left view ${this.#viewNumber}: ${left.join(", ")}`);
  }

  /**
   * Signs Leave(round, w; p) — "this member has left every view ≤ w without committing, and never
   * commits in a view < p", p being the lowest view it keeps for a rescue, or w + 1 — and sends
   * it to every other member, after a `left` event the node persists first (a
   * restarted member then resumes no earlier than w + 1). Nothing when it already signed one
   * with a w at least as high. Never for a w at or past a view it committed to (a bug: throws).
   */
  async #sayLeave(w: number): Promise<Output[]> {
    const { roster, self } = this.#config;
    if (this.#committedView !== undefined && w >= this.#committedView) {
      throw new Error(
        `refusing to sign Leave(${this.round}, ${w}): committed to view ${this.#committedView}`,
      );
    }
    if (w <= this.#leftView) return [];
    const frame = await this.#signLeave(w);
    const out: Output[] = [event({ type: "left", round: this.round, view: w })];
    for (let to = 0; to < roster.members.length; to++) {
      if (to !== self) out.push({ kind: "send", to, frame });
    }
    return out;
  }

  /**
   * Signs Leave(round, w; p) — p the lowest view kept for a rescue, or w + 1 — and keeps it as
   * this member's newest Leave (sent by the caller, if at all).
   */
  async #signLeave(w: number): Promise<Uint8Array> {
    const { roster, self, signer } = this.#config;
    // It never commits in a view ≤ w except, by a rescue, one it kept.
    const promised = Math.min(w + 1, ...this.#retained.keys());
    const frame = await sealFrame(
      "leave",
      sessionOf(roster, this.round, w),
      self,
      leaveFields(promised),
      signer,
      roster.mode,
    );
    this.#leftView = w;
    this.#leaveFrame = frame;
    return frame;
  }

  /**
   * Leaves the current view for view `to` — the one path for every cause (a view timeout,
   * Leave evidence, and a lost leader): keeps the view's shares for a rescue if it approved it
   * (else wipes them), signs Leave(round, to − 1; p), wipes the view's keys and advertises in `to`; when `to` is past the view limit, gives the round up instead (`reason`
   * says why).
   */
  async #leaveView(now: number, to: number, reason: string): Promise<Output[]> {
    if (to >= viewLimit(this.#config.roster.members.length)) return await this.#giveUp(now, reason);
    const from = this.#viewNumber;
    // Kept for a rescue first, so the Leave's promise leaves that view out.
    this.#dropView(true);
    const out = await this.#sayLeave(to - 1);
    return [
      ...out,
      event({ type: "view-change", round: this.round, from, to }),
      ...await this.#enterView(to, now),
    ];
  }

  /**
   * Gives the round up (deadline, view limit) before committing: signs Leave(round, n − 1),
   * wipes the view's secrets and input. Without a masked input sent the update is in no
   * aggregate: `round-failed`. With one sent in view m (which may still complete with it) the
   * outcome is unknown: `committed` and `renounced` (view m, for the journal: it never acts in
   * another view nor co-signs), then `outcome-unknown` and OutcomeRequests; it never approves or
   * reveals again.
   */
  async #giveUp(now: number, reason: string): Promise<Output[]> {
    const limit = viewLimit(this.#config.roster.members.length);
    const m = this.#maskedView;
    // It will never reveal anywhere: what a rescue would need goes before the promise.
    this.#dropRetained();
    // Bound to view m, committed nowhere: it co-signs no certificate of the round (its Leave
    // promises every view). Journaled, so a restarted member observing view m keeps to it.
    if (m !== undefined) this.#publication.renounce();
    const out: Output[] = m === undefined ? [] : [
      event({ type: "committed", round: this.round, view: m }),
      event({ type: "renounced", round: this.round, view: m }),
    ];
    out.push(...await this.#sayLeave(limit - 1));
    if (m === undefined) return [...out, ...this.#fail(reason)];
    this.#dropView();
    wipe(this.#input);
    this.#input = undefined;
    this.#gaveUp = true;
    this.#roundDeadline = undefined;
    this.#inquiry = new OutcomeInquiry(this.#config, this.round, m);
    out.push(
      ...await this.#inquiry.start(
        now,
        `gave the round up (${reason}) after its masked input left in view ${m}: that view ` +
          `may still complete with it`,
      ),
    );
    this.#deadline = this.#inquiry.nextTimeout();
    return [...out, ...this.#checkAbandon()];
  }

  /**
   * The round deadline passed for a member committed to view m with no certificate: it will
   * never co-sign a certificate of the round (`Publication.renounce`), nor answer a leader
   * again. It reports `renounced` (the node journals it first, so a restart keeps the promise),
   * signs the renouncement Leave(round, n − 1; n + 1) (`renouncePromise`) and sends it to every
   * other member (it is also its newest Leave, for members that are behind), then checks for
   * abandonment, counting itself. It zeroes the round's ephemeral secrets first (it never deals,
   * masks or reveals again). It still takes a certificate or Outcome (`published`, `final`): only
   * its co-signature is withheld.
   */
  async #renounce(): Promise<Output[]> {
    this.#publication.renounce();
    // The round ended for this member's secrets: it uses none of them again.
    this.#zeroSecrets();
    const { frame, sends } = await renouncement(this.#config, this.round);
    this.#leftView = this.#config.roster.members.length - 1;
    this.#leaveFrame = frame;
    return [
      event({ type: "renounced", round: this.round, view: this.#committedView! }),
      ...sends,
      ...this.#checkAbandon(),
    ];
  }

  /**
   * In `outcome-unknown`: `round-failed` (`abandoned`) once the evidence proves no view ≤ m can
   * complete (`abandonSigners`: t give-ups on a complete graph, t Leave(round, w ≥ m) on a sparse
   * one), m being the view it committed to or, if it did not commit, the highest it sent a masked
   * input in (then it counts itself: it signed Leave(round, n − 1)).
   */
  #checkAbandon(): Output[] {
    const { roster, self } = this.#config;
    const renounced = this.renounced;
    if (!this.open || (this.#inquiry === undefined && !this.#gaveUp && !renounced)) return [];
    const committed = this.#committedView !== undefined;
    const m = this.#committedView ?? this.#maskedView;
    if (m === undefined) return [];
    // It counts itself once it co-signs nothing of views ≤ m: it gave up without committing,
    // or renounced.
    const signers = abandonSigners(
      roster,
      this.#leaves,
      m,
      self,
      !committed || renounced,
      approvalQuorum(roster, {
        federation: roster.federation,
        rosterHash: roster.hash,
        round: this.round,
      }),
    );
    if (signers === undefined) return [];
    this.#inquiry?.stop();
    this.#viewNumber = m;
    return this.#fail(
      `abandoned: members ${signers.join(", ")} signed that they never commit in, nor ` +
        `co-sign a certificate of, any view up to ${m}, the last view with this member's ` +
        `masked input, so no certificate with it can gather t = ${roster.threshold} ` +
        `co-signatures`,
    );
  }

  /** Commits to the current view for the rest of the round (see the module doc). */
  #commit(): Output {
    this.#committedView = this.#viewNumber;
    // Committed here, it never reveals in another view: the shares kept for a rescue are spent.
    this.#dropRetained();
    return event({ type: "committed", round: this.round, view: this.#viewNumber });
  }

  /** Enters `stage` of the current view: its stage event, and the view deadline from `now`. */
  #enter(stage: Stage, now: number): Output {
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

  /** Builds and signs this member's message of the current view. */
  #seal(
    v: ViewState,
    type: Parameters<typeof sealFrame>[0],
    fields: Parameters<typeof sealFrame>[3],
    body?: Uint8Array,
  ) {
    const { roster, self, signer } = this.#config;
    return sealFrame(type, v.session, self, fields, signer, roster.mode, body);
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
    const graph = sessionGraph(roster, session);
    this.#view = {
      roster,
      self,
      session,
      sessionHash: hash,
      graph,
      leader,
      keys,
      advertFrame,
      verifiedRoots: new Map(),
    };
    return [
      this.#enter("advertise", now),
      // Persisted by the node before the advert leaves: never two adverts in one session.
      event({ type: "advertised", round: this.round, view }),
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
    ensure(this.stage === stage, "wrong-stage", `${env.type} in stage ${this.stage}`, env.sender);
    ensure(await verifyEnvelope(this.#config.roster, env), "bad-signature", env.type, env.sender);
    return v;
  }

  async #onKeyList(env: Envelope, v: ViewState, now: number): Promise<Output[]> {
    const { roster, self, rng, signer } = this.#config;
    const { u1, keys } = await checkKeyList(v, env);
    const neighbours = v.graph.neighbours(self).filter((u) => keys.has(u));
    let tk = ownerShareThreshold(roster, v.graph, self);
    // A group with fewer members in U1 than its need can never reach it in U3 ⊆ U1, so it is
    // never unmasked (no member reveals for it): its members still take part, dealing to the
    // holders they have, and are left out of the round's sums (`round_groups.ts`).
    const rg = roundGroups(roster, this.round);
    if (rg !== undefined) {
      const j = rg.partition.groupOf(self);
      const inU1 = rg.members(j, u1).length;
      if (inU1 < rg.need(j)) tk = Math.min(tk, neighbours.length + 1);
    }
    ensure(
      neighbours.length + 1 >= tk,
      "inconsistent-lists",
      `only ${neighbours.length + 1} of this member's share holders are in U1, threshold ${tk}`,
      env.sender,
    );
    const dealt = await dealShares(v, signer, rng, neighbours, (u) => keys.get(u)!, tk);
    v.u1 = u1;
    v.keys1 = keys;
    v.held = new Map([[self, dealt.own]]);
    v.pairKeys = dealt.pairKeys;
    const frame = await this.#seal(v, "shareKeys", shareKeysFields(dealt, roster.mode));
    return [this.#enter(TRANSITIONS.advertise.next, now), { kind: "send", to: v.leader, frame }];
  }

  async #onShareDelivery(env: Envelope, v: ViewState, now: number): Promise<Output[]> {
    const { roster, self, expander } = this.#config;
    const delivery = readShareDelivery(env, roster, self);
    const keys = v.keys1!;
    checkDelivery(v, delivery, v.u1!, env.sender);
    const u2 = delivery.u2;
    const opened = await openDelivery(
      v,
      delivery.entries,
      (u) => keys.get(u)!,
      v.pairKeys!,
      env.sender,
    );
    const terms: MaskTerm[] = [{ key: v.keys.selfMaskKey(), negate: false }];
    delivery.entries.forEach((e, i) => terms.push({ key: opened[i].key, negate: self > e.peer }));
    const masked = new Uint32Array(this.#input!);
    try {
      await expander.apply(masked, terms);
    } catch (err) {
      wipe(masked, terms[0].key);
      discardOpened(opened);
      throw err;
    }
    // Every pair mask is applied: the keys are spent, the view's included.
    for (const t of terms) t.key.fill(0);
    for (const k of v.pairKeys!.values()) k.fill(0);
    v.pairKeys!.clear();
    delivery.entries.forEach((e, i) => v.held!.set(e.peer, opened[i].plain));
    v.u2 = u2;
    v.u2Hash = memberSetHash(v.sessionHash, u2);
    const body = u32Bytes(masked);
    const vectorHash = taggedHash(HASH.maskedVector, v.sessionHash, body);
    const frame = await this.#seal(
      v,
      "maskedInput",
      maskedInputFields({ u2Hash: v.u2Hash, vectorHash }),
      body,
    );
    this.#maskedSent = true;
    this.#maskedView = Math.max(this.#maskedView ?? 0, this.#viewNumber);
    // Its masked input is in this later view now: no earlier view may be rescued (`#canRescue`).
    this.#dropRetained();
    return [
      this.#enter(TRANSITIONS.share.next, now),
      // Persisted by the node before the masked input leaves: a restart never forgets it.
      event({ type: "masked", round: this.round, view: this.#viewNumber }),
      { kind: "send", to: v.leader, frame },
    ];
  }

  async #onConsistencyRequest(env: Envelope, v: ViewState, now: number): Promise<Output[]> {
    const { roster } = this.#config;
    const request = readConsistencyRequest(env, roster);
    checkConsistencyRequest(v, request, v.u2!, env.sender);
    const u3Hash = memberSetHash(v.sessionHash, request.u3);
    const frame = await this.#seal(v, "approval", approvalFields({ u2Hash: v.u2Hash!, u3Hash }));
    v.u3 = request.u3;
    // Sparse and group graphs complete a view with fewer revealers than t: commit on approving.
    const out = roster.graph.kind === "complete" && roster.groups === undefined
      ? []
      : [this.#commit()];
    return [
      ...out,
      this.#enter(TRANSITIONS.masked.next, now),
      { kind: "send", to: v.leader, frame },
    ];
  }

  async #onUnmaskRequest(env: Envelope, v: ViewState, now: number): Promise<Output[]> {
    return this.#reveal(v, await this.#checkedUnmaskRequest(env, v), now);
  }

  /**
   * The UnmaskRequest `env` for view state `v`, checked against the lists this member approved
   * there (throws a ProtocolError otherwise); the refusals of individual approvals it carries.
   */
  async #checkedUnmaskRequest(env: Envelope, v: ViewState) {
    const request = readUnmaskRequest(env, this.#config.roster);
    const refused = await checkUnmaskRequest(
      v,
      request,
      { u2: v.u2!, u2Hash: v.u2Hash!, u3: v.u3! },
      env.sender,
      this.#verifiedApprovals,
    );
    return { v, refused };
  }

  /**
   * Commits to the current view (`v`, whose UnmaskRequest checked out) and reveals to its leader,
   * for each owner it holds shares of, the self-mask seed share if the owner is in U3, else the
   * mask-seed share — never both; the held shares are then zeroed.
   */
  async #reveal(
    v: ViewState,
    checked: { refused: readonly ProtocolError[] },
    now: number,
  ): Promise<Output[]> {
    const alive = new Set(v.u3!);
    const selfShares: [number, Uint8Array][] = [];
    const maskShares: [number, Uint8Array][] = [];
    // A group with too few inputs is never unmasked: its members reveal nothing.
    const owners = revealsShares(v, v.u3!) ? [...v.held!.keys()] : [];
    for (const owner of owners.sort((a, b) => a - b)) {
      const pair = v.held!.get(owner)!;
      if (alive.has(owner)) selfShares.push([owner, pair.slice(0, SHARE_LENGTH)]);
      else maskShares.push([owner, pair.slice(SHARE_LENGTH)]);
    }
    const frame = await this.#seal(v, "unmask", unmaskFields({ selfShares, maskShares }));
    v.unmask = frame;
    const commit = this.#committedView === undefined ? [this.#commit()] : [];
    for (const [, s] of [...selfShares, ...maskShares]) s.fill(0);
    for (const s of v.held!.values()) s.fill(0);
    v.held!.clear();
    return [
      ...checked.refused.map((error) => event({ type: "refused", error })),
      ...commit,
      this.#enter(TRANSITIONS.consistency.next, now),
      { kind: "send", to: v.leader, frame },
    ];
  }

  /**
   * This member's Unmask frame again, to its view's leader, when it revealed and asks how the
   * round ended: the same frame (the leader ignores an exact repeat), for a leader that was paused
   * or cut off while the first copy was on its way and still waits for reveals (`leader.ts` waits
   * a view timeout past its unmask stage timeout).
   */
  #revealAgain(): Output[] {
    const v = this.#view;
    if (v?.unmask === undefined || this.decided || this.renounced) return [];
    return [{ kind: "send", to: v.leader, frame: v.unmask }];
  }

  /**
   * An UnmaskRequest of the view this member already revealed in: its leader asks again (it was
   * restarted and resumed from its unmask record, `Leader.resume`, having lost the reveals). When
   * it is that leader's and authentic, the same Unmask frame goes to it again — nothing new is
   * revealed (the leader already had it, or would have). Refused like any frame out of stage
   * otherwise.
   */
  async #unmaskAgain(env: Envelope, v: ViewState): Promise<Output[]> {
    expectSession(env, v.session);
    ensure(
      env.sender === v.leader,
      "not-leader",
      `${env.type} from a member that is not the leader (${v.leader}) of round ${this.round} ` +
        `view ${this.#viewNumber}`,
      env.sender,
    );
    ensure(await verifyEnvelope(this.#config.roster, env), "bad-signature", env.type, env.sender);
    return this.#revealAgain();
  }

  /**
   * True while a rescue of `view` may still happen: committed nowhere, acting, not given up, and
   * no masked input sent in a later view. (The last keeps the committed view the highest view
   * that may hold this member's update, which the abandon check and a certificate's judgement rely
   * on: a later view, left with its masked input, could still complete with it by the others'
   * reveals.)
   */
  #canRescue(view: number): boolean {
    return this.#committedView === undefined && !this.#gaveUp && this.#inquiry === undefined &&
      this.open && this.#input !== undefined && this.#maskedView === view;
  }

  /**
   * The UnmaskRequest `env` of an earlier view this member approved and left without committing
   * (`#retained`): when it is that view's leader's, authentic and for the lists approved there,
   * it is kept, and the member rescues the view (`#rescue`) once another member is seen bound
   * there. Undefined when it is not rescued now (the frame then goes the usual way and is
   * refused: this member is not in that view); throws the ProtocolError of a request that does
   * not check out, changing nothing.
   */
  async #earlierUnmaskRequest(env: Envelope, now: number): Promise<Output[] | undefined> {
    const r = this.#retained.get(env.session.view);
    if (r === undefined || !this.#canRescue(env.session.view)) return undefined;
    if (r.request === undefined) {
      const { v } = r;
      expectSession(env, v.session);
      ensure(
        env.sender === v.leader,
        "not-leader",
        `${env.type} from a member that is not the leader (${v.leader}) of round ${this.round} ` +
          `view ${env.session.view}`,
        env.sender,
      );
      ensure(await verifyEnvelope(this.#config.roster, env), "bad-signature", env.type, env.sender);
      const { refused } = await this.#checkedUnmaskRequest(env, v);
      r.request = { env, refused };
    }
    return r.bound === true ? await this.#rescue(env.session.view, now) : undefined;
  }

  /**
   * Another member's OutcomeRequest `env` of this round (opened by the endpoint): signed evidence
   * that its sender is bound to that view — it committed there, gave the round up after its
   * masked input left there, or took that view's certificate (`finality_watch.ts`) — so it will
   * never help another view. If this member approved that view and left it without committing,
   * it rescues it (reveals there) as soon as it holds the view's UnmaskRequest
   * (`docs/protocol.md` §4, "Rescue"). Nothing otherwise; a request whose signature does not
   * verify is ignored here (the endpoint answers or refuses it).
   */
  async peerBound(env: Envelope, now: number): Promise<Output[]> {
    const view = env.session.view;
    const r = this.#retained.get(view);
    if (
      env.session.round !== this.round || env.sender === this.#config.self || r === undefined ||
      r.bound === true || !this.#canRescue(view)
    ) return [];
    if (!await verifyEnvelope(this.#config.roster, env)) return [];
    r.bound = true;
    return r.request === undefined ? [] : await this.#rescue(view, now);
  }

  /**
   * A rescue (`docs/protocol.md` §4): goes back to retained view `view`, whose UnmaskRequest
   * checked out and in which another member is bound — leaving its current view, whose keys it
   * wipes — commits there and reveals. It commits in that view only, so it still reveals in at
   * most one view of the round.
   */
  async #rescue(view: number, now: number): Promise<Output[]> {
    const r = this.#retained.get(view)!;
    const from = this.#viewNumber;
    this.#dropView();
    this.#retained.delete(view);
    this.#view = r.v;
    this.#viewNumber = view;
    return [
      event({ type: "view-change", round: this.round, from, to: view }),
      ...await this.#reveal(r.v, r.request!, now),
    ];
  }

  /**
   * After this member reported `round-failed`: a certificate that checks out and contains its
   * update contradicts that report. Never taken (no `published`, no `final`); reported as an
   * `internal-error` naming the round, the view and the sender. Undefined for anything else.
   */
  async #conflict(env: Envelope): Promise<Output[] | undefined> {
    ensure(env.body !== null, "malformed", "certificate without its aggregate", env.sender);
    const { roster, self } = this.#config;
    const checked = await checkCertificate(roster, env, env.body, this.#verifiedApprovals);
    if (!checked.members.includes(self)) return undefined;
    return [this.#conflictEvent(env.session.view, env.sender, "certificate")];
  }

  #conflictEvent(view: number, sender: number, what: string): Output {
    return event({
      type: "internal-error",
      message: `conflict: this member reported round ${this.round} round-failed, but a ` +
        `${what} of view ${view} containing its update checked out (from member ${sender}); ` +
        `not taken: it is not reported published or final here`,
    });
  }

  /**
   * A Certificate or an Outcome goes to the publication, with what this member committed to;
   * once it checks out the round is decided and whatever view this member was in ends here. A
   * decision whose U3 does not contain this member ends its update: `round-failed` (excluded).
   */
  async #onDecision(env: Envelope, now: number): Promise<Output[]> {
    const decided = this.#publication.decided;
    const committed = this.#committedView;
    if (
      env.type === "outcome" && this.#stage === "failed" && !decided
    ) {
      const { verified } = await this.#publication.checkOutcome(env);
      if (verified.members.includes(this.#config.self)) {
        return [this.#conflictEvent(env.session.view, env.sender, "final certificate")];
      }
    }
    if (
      env.type === "outcome" && committed !== undefined && env.session.view !== committed &&
      this.#stage !== "failed" && !decided
    ) {
      // Signed evidence that the round was certified in another view than the one this member
      // committed to: its update is in no aggregate of the round and never will be.
      const { verified } = await this.#publication.checkOutcome(env);
      if (verified.members.includes(this.#config.self)) return [];
      this.#inquiry?.stop();
      return this.#fail(
        `excluded: the round was certified in view ${env.session.view} (final certificate) ` +
          `while this member committed to view ${committed}`,
      );
    }
    if (this.#stage === "failed" && !decided && env.type === "certificate") {
      const conflict = await this.#conflict(env);
      if (conflict !== undefined) return conflict;
    }
    const commitment = {
      view: this.#committedView,
      approvedU3: this.#view?.u3,
      left: this.leftView,
    };
    const out = env.type === "certificate"
      ? await this.#publication.certificate(env, commitment, now)
      : await this.#publication.outcome(env, commitment);
    if (decided || !this.#publication.decided) return out;
    this.#dropView();
    this.#dropRetained();
    wipe(this.#input);
    this.#input = undefined;
    this.#viewNumber = env.session.view;
    this.#deadline = undefined;
    this.#roundDeadline = undefined;
    this.#inquiry?.stop();
    const published = out.find((o) => o.kind === "event" && o.event.type === "published");
    const members = published?.kind === "event" && published.event.type === "published"
      ? published.event.members
      : [];
    // A member that already gave the round up reported its end then.
    if (members.includes(this.#config.self) || this.#stage === "failed") return out;
    return [
      ...out,
      event({
        type: "round-failed",
        role: "participant",
        round: this.round,
        view: env.session.view,
        reason: `excluded: the round was decided in view ${env.session.view} without this ` +
          `member's update`,
      }),
    ];
  }
}

/**
 * Zeroes `v`'s ephemeral keys and pair keys and, with `shares`, the share pairs it holds (then
 * forgotten); its public state (session, leader, lists, Unmask frame) stays.
 */
function zeroView(v: ViewState, shares = true): void {
  v.keys.wipe();
  for (const k of v.pairKeys?.values() ?? []) k.fill(0);
  v.pairKeys?.clear();
  if (!shares) return;
  for (const s of v.held?.values() ?? []) s.fill(0);
  v.held?.clear();
}
