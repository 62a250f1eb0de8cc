/**
 * A member's endpoint: the one object a driver (simulator or node) talks to. It decodes every
 * incoming frame, routes it to this member's participant for the frame's round or to the
 * leader of the frame's session (creating that leader on demand when this member is scheduled
 * to lead it), delivers frames this member sends to itself without a network round trip, and
 * merges the machines' outputs. Like them it is sans-IO: frames, local input and `now` in;
 * sends and events out.
 *
 * Calls are serialized internally, so a driver may call it from concurrent callbacks.
 *
 * **The current round.** The federation's current round, as this member knows it, is one past the
 * newest round that ended here ({@link Endpoint.currentRound}): decided (a certificate with ≥ t
 * approvals checked out, or its signatures did for a certificate gossiped for a round beyond
 * the window) or failed for this member's update. An update is taken only for a round at most
 * {@link ROUND_WINDOW} ahead of it (`round-too-far-ahead` otherwise), so a mistyped round number
 * never moves this member out of the window in which it leads the federation's rounds. A
 * trainer withdraws an update that sent no masked input yet with {@link Endpoint.withdraw}.
 *
 * **Lost members.** The driver may report a member whose connection was lost and not
 * re-established within its grace ({@link Endpoint.memberLost}), and its return
 * ({@link Endpoint.memberBack}). That is a fact about a connection, not proof of a crash, so it
 * only lets the endpoint do sooner what its timers would do: a participant whose view's leader
 * is lost leaves the view by its view-timeout path, and a leader closes a stage with ≥ t answers
 * once only lost members are missing. It never fails a round, never moves a committed member and
 * never refuses a lost member's frames; a hung but connected member is still caught by the timers.
 *
 * Resource limits against a flooding peer: leaders are created only for rounds within
 * {@link ROUND_WINDOW} of the newest round this member submitted to or saw decided (any round
 * before its first submission or {@link Endpoint.restore}) and views within {@link VIEW_WINDOW}
 * of its own view,
 * and at most {@link MAX_LEADERS} exist at once. A leader past its first stage is never evicted
 * while it can still progress; one stalled below t gives up a view timeout after its stage
 * timeout and is then evictable.
 *
 * @module
 */
import { CallerError, ProtocolError, type RefusalCode } from "../errors.ts";
import { event, type Output, type ProtocolEvent } from "./events.ts";
import { Leader } from "./leader.ts";
import type { MaskExpander } from "../math/masking.ts";
import {
  aggregateHash,
  certificateBodyLength,
  readLeaderCertificate,
  verifyCertificateSignatures,
} from "../certificate/certificate.ts";
import { equalBytes } from "../encoding/bytes.ts";
import { type Envelope, openFrame, TO_LEADER, verifyEnvelope, withBody } from "../wire/frame.ts";
import { readLeave, readOutcomeRequest } from "../wire/messages.ts";
import { RoundLeaves, syncThreshold } from "./leave_evidence.ts";
import { Participant } from "./participant.ts";
import { viewLimit } from "./stages.ts";
import { Observer } from "./observer.ts";
import type { Roster } from "../federation/roster.ts";
import { MAX_ROUND } from "../federation/session.ts";
import { leaderOf } from "../federation/schedule.ts";
import type { Rng } from "../crypto/mod.ts";
import type { MemberSigner } from "../federation/signer.ts";

/**
 * How far (in rounds) ahead of or behind its newest round an endpoint will lead; also how far
 * ahead of the federation's current round ({@link Endpoint.currentRound}) it takes an update, so
 * that its newest round stays within this window of the current round, which it therefore
 * still leads.
 */
export const ROUND_WINDOW = 2;
/** Most leader instances alive at once. */
export const MAX_LEADERS = 8;
/** How many views ahead of its own view (in that round) an endpoint will lead. */
export const VIEW_WINDOW = 3;
/** Most rounds whose participants and observers are kept (older ones are dropped). */
const MAX_PARTICIPANTS = 4;
/** Most rounds whose Leave evidence is kept (n numbers each) beside those with a seat. */
const MAX_LEAVE_ROUNDS = 2 * ROUND_WINDOW + 1;

/** A journaled round a restarted member takes up again, and in which view (see `restore`). */
export interface Resumption {
  /** The round. */
  readonly round: number;
  /** The view to start in: the one after the last this member advertised in, else 0. */
  readonly view: number;
}

/** What {@link Endpoint.restore} decided about a restarted member's pending updates. */
export interface RestorePlan {
  /** Rounds to resume with their journaled update (`submit(round, input, now, view)`). */
  readonly resume: readonly Resumption[];
  /**
   * Rounds given up: one `round-failed` event (role `participant`) each, naming why, for the
   * driver to report like any other output; their updates are in no aggregate and never will be.
   */
  readonly givenUp: readonly Output[];
  /**
   * Rounds this member committed to before the restart: never given up on a guess (the round may
   * have been certified with this update) nor resumed (it may act in no other view); their
   * observer asks the other members how the round ended (`ask(round, now)`).
   */
  readonly ask: readonly number[];
  /**
   * Rounds, ascending, whose leader this member resumes in its unmask stage from the unmask
   * record it journaled (`resumeLeader(record, now)` with that round's record): every round with
   * a record that was neither published here (final or not: the round is decided, its leader has
   * nothing left to collect) nor failed for this member (an abandoned round can never be final).
   */
  readonly lead: readonly number[];
}

/**
 * What an endpoint keeps for one round: this member's participant, or — for a round it took no
 * part in — an observer, a publication alone, that checks and co-signs the round's certificate.
 */
type Seat = Participant | Observer;

/** What an endpoint needs. */
export interface EndpointConfig {
  /** The validated roster every member runs. */
  readonly roster: Roster;
  /** This member's roster index. */
  readonly self: number;
  /** This member's long-term signing keys (those the roster lists for `self`). */
  readonly signer: MemberSigner;
  /** Source of the ephemeral secrets: a CSPRNG (`systemRng`) outside tests. */
  readonly rng: Rng;
  /** Runs the mask PRG work (inline, or on worker threads in the node). */
  readonly expander: MaskExpander;
}

/** What {@link Endpoint.wantsCertificate} decided about a certificate that came without body. */
export type CertificateInterest =
  | {
    readonly kind: "fetch";
    /** The certificate's round. */
    readonly round: number;
    /** The certificate's view. */
    readonly view: number;
    /** The body to fetch is the one whose `aggregateHash` under the session is this. */
    readonly aggregateHash: Uint8Array;
    /** The body's length in bytes (4 · (d + 1)): a body of any other length is not it. */
    readonly bodyLength: number;
    /**
     * True when `body` is the certified one (it hashes to `aggregateHash` in the session). A
     * body that is not is the fault of whoever served it.
     */
    isBody(body: Uint8Array): boolean;
    /** The certificate frame with `body` attached, to hand to {@link Endpoint.receive}. */
    withBody(body: Uint8Array): Uint8Array;
  }
  /** Of no use to this member (`reason` says why); nobody is blamed. */
  | { readonly kind: "ignore"; readonly reason: string }
  /** Fails a check; the refusal names it and the member to blame. */
  | { readonly kind: "refused"; readonly error: ProtocolError };

/** One member's protocol endpoint. */
export class Endpoint {
  readonly #config: EndpointConfig;
  readonly #participants = new Map<number, Seat>();
  readonly #leaders = new Map<string, Leader>();
  #newestRound = -1;
  /** The newest round that ended here (decided, or failed for this member's update); -1: none. */
  #ended = -1;
  /** Rounds whose update the trainer withdrew: the first view a new update may start in. */
  readonly #withdrawn = new Map<number, number>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Views this member committed to before a restart, by round (see {@link Endpoint.restore}). */
  readonly #committed = new Map<number, number>();
  /**
   * The highest view this member sent its masked input in, by round, as journaled before a
   * restart (`restore`): the resumed participant starts with it (never withdrawn).
   */
  readonly #masked = new Map<number, number>();
  /**
   * Rounds in which this member promised never to co-sign a certificate (journaled `renounced`
   * events given back by `restore`, and rounds given up after their masked input left): every
   * observer of such a round co-signs nothing.
   */
  readonly #renounced = new Set<number>();
  /**
   * The members sent this member's Outcome, by round: kept only for rounds whose seat it holds
   * (at most {@link MAX_PARTICIPANTS} rounds of at most n members), see {@link #answer}.
   */
  readonly #answered = new Map<number, Set<number>>();
  /** When this member last resent its Cosign to each asker, by round (see {@link #resendCosign}). */
  readonly #cosignSent = new Map<number, Map<number, number>>();
  /** The Leave evidence of recent rounds (see `leave_evidence.ts`), by round. */
  readonly #leaves = new Map<number, RoundLeaves>();
  /**
   * The w of the last Leave of this member's sent to each member behind it, by round (kept only
   * for rounds whose seat it holds): at most one answer per (round, member, w).
   */
  readonly #leaveAnswered = new Map<number, Map<number, number>>();
  /** Members the driver reports lost and not back since (never this member). */
  readonly #lost = new Set<number>();

  /**
   * An endpoint with no rounds yet.
   * @param config the roster, this member's index and keys, its rng and mask expander
   */
  constructor(config: EndpointConfig) {
    this.#config = config;
  }

  /** This member's roster index. */
  get self(): number {
    return this.#config.self;
  }

  /**
   * The federation's current round as this member knows it: one past the newest round that ended
   * here — decided (its certificate checked out, from the leader, gossip or an Outcome; or, for a
   * round beyond the window, a gossiped certificate's signatures and ≥ t approvals did) or failed
   * for this member's update — and 0 for a member that knows of no ended round. A member whose
   * knowledge is behind learns the federation's progress from the next certificate it receives.
   * Updates are taken for rounds up to {@link ROUND_WINDOW} ahead of it.
   */
  get currentRound(): number {
    return this.#ended + 1;
  }

  /**
   * The driver learnt that the federation's rounds up to `round` ended (another endpoint of this
   * member, running an earlier roster version, saw them end): {@link currentRound} and the
   * window of rounds this endpoint leads move up to it, as for a certificate of a round beyond
   * the window. Never moves them back.
   */
  federationReached(round: number): void {
    checkNumber("round", round);
    this.#learnDecided(round);
  }

  /** The participant of `round`, if this member submitted to it (for inspection). */
  participant(round: number): Participant | undefined {
    const seat = this.#participants.get(round);
    return seat instanceof Participant ? seat : undefined;
  }

  /** The observer of `round`, if this member follows it without an update (for inspection). */
  observer(round: number): Observer | undefined {
    const seat = this.#participants.get(round);
    return seat instanceof Observer ? seat : undefined;
  }

  /** The leader of (`round`, `view`), if this endpoint runs it (for inspection). */
  leader(round: number, view: number): Leader | undefined {
    return this.#leaders.get(`${round}/${view}`);
  }

  /**
   * Starts this member's part in `round` with its quantized input (length d + 1; ownership
   * passes to the endpoint, which wipes it when the round ends). Refuses with a
   * {@link CallerError}: `invalid-input` for a round or view outside [0, 2^48) or an input of
   * another length; `decided` for a round whose certificate this member already checked;
   * `already-submitted` for a round that has its update; `committed-before-restart` for a round
   * this member committed to before a restart; `round-too-far-ahead` for a round more than
   * {@link ROUND_WINDOW} ahead of {@link currentRound}. After a withdrawal ({@link withdraw}) the
   * new update starts no earlier than the view after the last one the withdrawn update
   * advertised in (a member never advertises twice in one session).
   */
  submit(round: number, input: Uint32Array, now: number, view = 0): Promise<Output[]> {
    return this.#serialized(async () => {
      this.checkSubmit(round);
      checkNumber("view", view);
      const participant = new Participant(
        this.#config,
        round,
        input,
        this.#leavesOf(round),
        this.#masked.get(round),
      );
      const evicted = this.#addParticipant(round, participant);
      this.#newestRound = Math.max(this.#newestRound, round);
      const start = Math.max(view, this.#withdrawn.get(round) ?? 0);
      return await this.#deliverLocal([...evicted, ...await participant.start(now, start)], now);
    });
  }

  /**
   * Refuses (CallerError) a submission to `round` exactly as {@link submit} would now —
   * `invalid-input`, `decided`, `already-submitted`, `committed-before-restart` or
   * `round-too-far-ahead` — without
   * changing anything; returns when `submit` would take it (given a valid input). A driver asks before it journals an update, so that it never keeps an
   * update the endpoint would refuse (a certificate may still decide the round in between:
   * `submit` checks again).
   */
  checkSubmit(round: number): void {
    checkNumber("round", round);
    const existing = this.#participants.get(round);
    if (existing !== undefined) {
      throw existing.decided
        ? new CallerError(
          "decided",
          `round ${round} is already decided here (its aggregate was published)`,
        )
        : new CallerError(
          "already-submitted",
          `round ${round} already has an update from this member`,
        );
    }
    if (this.#committed.has(round)) {
      throw new CallerError(
        "committed-before-restart",
        `this member committed to view ${this.#committed.get(round)} of round ${round} before ` +
          `a restart and cannot take part in it again`,
      );
    }
    const current = this.currentRound;
    if (round > current + ROUND_WINDOW) {
      throw new CallerError(
        "round-too-far-ahead",
        `round ${round} is too far ahead: the federation's current round is ${current} (as this ` +
          `member knows it), and an update is taken for rounds up to ${current + ROUND_WINDOW}`,
      );
    }
  }

  /**
   * Withdraws this member's update for `round` before it can be in any aggregate: the
   * participant wipes its secrets and input and sends nothing more for the round (frames already
   * handed to the driver may still leave; none carries the masked input). Returns one
   * `withdrawn` event naming the view a new update for the round would start in (the driver
   * persists it, and deletes the journaled update); this member may submit to the round again.
   * Refuses with a {@link CallerError}: `invalid-input` for a round outside [0, 2^48);
   * `nothing-to-withdraw` when this member has no update in progress in the round (none, or its
   * round already ended for it: failed or withdrawn); `decided` when the round's certificate
   * checked out here; `committed` once it sent a masked input in any view of the round (a leader
   * may still include it in an aggregate, so it can no longer be taken back).
   */
  withdraw(round: number): Promise<Output[]> {
    return this.#serialized(() => {
      checkNumber("round", round);
      const seat = this.#participants.get(round);
      if (seat?.decided) {
        throw new CallerError(
          "decided",
          `round ${round} is already decided here (its aggregate was published)`,
        );
      }
      const ownObserved = seat instanceof Observer && seat.ownUpdate;
      if (ownObserved || (seat === undefined && this.#committed.has(round))) {
        throw new CallerError(
          "committed",
          `this member committed to view ${this.#committed.get(round) ?? seat?.committedView} of ` +
            `round ${round}: a leader may count its update in the aggregate, so it can no ` +
            `longer be withdrawn`,
        );
      }
      if (!(seat instanceof Participant) || seat.stage === "failed") {
        throw new CallerError(
          "nothing-to-withdraw",
          `this member has no update in progress in round ${round} (none was submitted, it was ` +
            `withdrawn, or the round already failed for it)`,
        );
      }
      if (seat.sentMaskedInput || seat.committedView !== undefined) {
        throw new CallerError(
          "committed",
          `this member already sent its masked input in round ${round} (view ${seat.view}): a ` +
            `leader may still count it in the aggregate, so it can no longer be withdrawn`,
        );
      }
      const view = seat.view;
      seat.wipe();
      this.#participants.delete(round);
      this.#leaveAnswered.delete(round);
      const nextView = view + 1;
      this.#withdrawn.set(round, Math.max(this.#withdrawn.get(round) ?? 0, nextView));
      return Promise.resolve([event({ type: "withdrawn", round, view, nextView })]);
    });
  }

  /**
   * Restores what a restarted node's journal knows and decides what becomes of its pending
   * updates. Call before anything else. `decided` is the newest round decided here (final or
   * published) and `failed` the rounds that failed for this member's update: together they give
   * {@link currentRound} (a failed round counts only within {@link ROUND_WINDOW} of the current
   * round then, so a mistyped round given up never moves it). `withdrawn` maps each round whose
   * update was withdrawn (and not resubmitted) to the view a new update would start in.
   * `newestRound` is the newest round it took part in (counted no further ahead than
   * {@link ROUND_WINDOW} past the current round);
   * `committed` the views it committed to (it will never act in another view of those rounds,
   * nor submit to them again); `advertised` the last view it advertised keys in or signed a
   * Leave for, by round (the `advertised` and `left` events it persisted: it resumes after it,
   * so it never commits in a view it promised to leave); `masked` the highest view it sent its
   * masked input in, by round (the `masked` events it persisted: a resumed round keeps it, so
   * its update is never withdrawn and a give-up asks how that view ended); `renounced` the rounds
   * whose `renounced` event it persisted (it co-signs no certificate of them, ever: its observer
   * sends its renouncement again when it asks); `unmasked` the rounds in which it journaled an
   * unmask record as a session's leader (the `unmasking` events it persisted, `unmask_record.ts`);
   * `published` the rounds whose certificate it checked and whose aggregate it journaled (final
   * or not); `roundFailed` the rounds whose end for this member it journaled (the `round-failed`
   * events of role participant it persisted, whatever else the journal holds of the round: unlike
   * `failed`, they need not still count for the current round); `pending` the rounds with an
   * update the trainer was told was accepted and no aggregate; `damaged` the rounds with an update whose journal could not be
   * trusted (moved aside), each given up with `round-failed` naming why — an explicit end, so the
   * update is never silently lost. (Such a round's update may have been committed and certified
   * elsewhere; the journal no longer says, see `docs/protocol.md` §4.)
   *
   * A pending round this member committed to before the restart is neither resumed (it may act
   * in no other view) nor given up on a guess (the round may have been certified with its
   * update): it is observed in the committed view and its outcome asked for (`ask`). Every other
   * pending round is either resumed — in the view after the last one it advertised in (never
   * twice in one session, so no leader holds two adverts from it), else view 0 — or given up
   * with a reason: it is more than {@link ROUND_WINDOW} rounds ahead of the current round
   * (accepted before that was refused: no member leads it), more than {@link ROUND_WINDOW}
   * rounds behind the newest (no member would lead it), or its views are exhausted
   * (`viewLimit`).
   *
   * A round it led into its unmask stage ({@link RestorePlan.lead}) has its leader resumed from
   * the journaled unmask record unless the round was published here or failed for this member.
   */
  restore(state: {
    newestRound?: number;
    decided?: number;
    failed?: readonly number[];
    withdrawn?: ReadonlyMap<number, number>;
    committed?: ReadonlyMap<number, number>;
    advertised?: ReadonlyMap<number, number>;
    masked?: ReadonlyMap<number, number>;
    renounced?: Iterable<number>;
    unmasked?: readonly number[];
    published?: readonly number[];
    roundFailed?: readonly number[];
    pending?: readonly number[];
    damaged?: readonly { readonly round: number; readonly reason: string }[];
  }): RestorePlan {
    if (state.decided !== undefined) this.#learnDecided(state.decided);
    for (const round of [...state.failed ?? []].sort((a, b) => a - b)) {
      if (round <= this.currentRound + ROUND_WINDOW) this.#ended = Math.max(this.#ended, round);
    }
    const ahead = this.currentRound + ROUND_WINDOW;
    if (state.newestRound !== undefined) {
      this.#newestRound = Math.max(this.#newestRound, Math.min(state.newestRound, ahead));
    }
    for (const [round, view] of state.withdrawn ?? []) {
      this.#withdrawn.set(round, Math.max(this.#withdrawn.get(round) ?? 0, view));
    }
    for (const [round, view] of state.committed ?? []) this.#committed.set(round, view);
    for (const [round, view] of state.masked ?? []) this.#masked.set(round, view);
    for (const round of state.renounced ?? []) this.#renounced.add(round);
    const resume: Resumption[] = [];
    const givenUp: Output[] = [];
    const ask: number[] = [];
    const giveUp = (round: number, view: number, reason: string) =>
      givenUp.push(event({ type: "round-failed", role: "participant", round, view, reason }));
    const limit = viewLimit(this.#config.roster.members.length);
    for (const { round, reason } of state.damaged ?? []) {
      giveUp(round, 0, `journal damaged: ${reason}`);
    }
    for (const round of [...new Set(state.pending ?? [])].sort((a, b) => a - b)) {
      const advertised = state.advertised?.get(round);
      const view = advertised === undefined ? 0 : advertised + 1;
      // A masked input already sent with no view left to act in: given up after it left, so
      // its outcome is unknown (that view may complete with it), as for a committed round.
      const masked = view >= limit ? this.#masked.get(round) : undefined;
      const committed = this.#committed.get(round) ?? masked;
      if (committed !== undefined) {
        // Given up after its masked input left (a Leave of the last view, committed nowhere): it
        // co-signs nothing of the round, as before the restart.
        if (!this.#committed.has(round)) this.#renounced.add(round);
        const observer = new Observer(this.#config, round, {
          committedView: committed,
          ownUpdate: true,
          renounced: this.#renounced.has(round),
          leaves: this.#leavesOf(round),
        });
        givenUp.push(...this.#addParticipant(round, observer));
        ask.push(round);
      } else if (round > ahead) {
        giveUp(
          round,
          advertised ?? 0,
          `more than ${ROUND_WINDOW} rounds ahead of the federation's current round ` +
            `${this.currentRound} at a restart (a mistyped round number?): no member leads it`,
        );
      } else if (round < this.#newestRound - ROUND_WINDOW) {
        giveUp(
          round,
          advertised ?? 0,
          `more than ${ROUND_WINDOW} rounds behind the newest round ${this.#newestRound} at a ` +
            `restart: no member leads it any more`,
        );
      } else if (view >= limit) {
        giveUp(
          round,
          advertised ?? 0,
          `this member advertised in or left view ${advertised} before a restart, the last ` +
            `view of a ` +
            `round (every member led once)`,
        );
      } else resume.push({ round, view });
    }
    // Against the window as it stood before these rounds: a round given up as too far ahead
    // never moves the current round, whatever the others given up did to it.
    this.#learn(givenUp, ahead);
    // A leader has nothing left to collect in a round decided here, nor in one that ended for
    // this member (an abandoned round can never be final).
    const over = new Set([...state.published ?? [], ...state.roundFailed ?? []]);
    const lead = [...new Set(state.unmasked ?? [])].filter((round) => !over.has(round))
      .sort((a, b) => a - b);
    return { resume, givenUp, ask, lead };
  }

  /**
   * Takes up again, after a restart, a round whose certificate this member had checked but whose
   * final certificate it had not recorded: `certificate` is the leader's certificate frame
   * without its body, `body` the aggregate, both as journaled. Its observer checks the
   * certificate again (and co-signs it again: the same statement); a certificate this member
   * sealed itself (it led the view) is broadcast again, since it may have been killed before any
   * member fetched the aggregate from it; and it asks every other member
   * for the round's Outcome (an OutcomeRequest); a member holding the final certificate answers
   * with it, which makes the round final here. Refuses (CallerError `invalid-input`) a
   * certificate that does not open; a certificate that fails a check comes back as `refused`.
   */
  recover(
    certificate: Uint8Array,
    body: Uint8Array,
    now: number,
    ownUpdate = false,
  ): Promise<Output[]> {
    return this.#serialized(async () => {
      const { roster } = this.#config;
      let env: Envelope;
      try {
        env = openFrame(withBody(openFrame(certificate, roster), body), roster);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        throw new CallerError("invalid-input", `not a certificate frame: ${err.message}`);
      }
      const { round } = env.session;
      if (this.#participants.has(round)) return [];
      const observer = new Observer(this.#config, round, {
        committedView: this.#committed.get(round),
        ownUpdate,
        renounced: this.#renounced.has(round),
      });
      const out = await observer.handle(env, now);
      if (!observer.decided) return out;
      out.push(...this.#addParticipant(round, observer));
      if (env.sender === this.#config.self) {
        // Its own certificate: it may have been killed as the certificate went out, before any
        // member could fetch the aggregate from it. It goes out again (the same signed frame;
        // a member that has it ignores the repeat).
        const published = out.find((o) => o.kind === "event" && o.event.type === "published");
        if (published?.kind === "event" && published.event.type === "published") {
          const e = published.event;
          out.push({
            kind: "broadcast",
            frame: withBody(env, body),
            published: {
              round,
              view: env.session.view,
              certificate,
              aggregateHash: e.aggregateHash,
              body,
            },
          });
        }
      }
      out.push(...await observer.ask(now, env.session.view));
      return await this.#deliverLocal(out, now);
    });
  }

  /**
   * After a restart, asks the other members how `round` ended — a round this member committed
   * to before the restart ({@link RestorePlan.ask}): its observer reports `outcome-unknown` and
   * sends OutcomeRequests of the committed session with backoff until the round is final here or
   * the attempts run out. A certificate or Outcome that contains this member ends the update as
   * `final`; one that does not, as `round-failed` (`excluded`). Without an answer the round stays
   * open: never a `round-failed` on a guess. Does nothing for a round restore did not plan so.
   */
  ask(round: number, now: number): Promise<Output[]> {
    return this.#serialized(async () => {
      const seat = this.#participants.get(round);
      const view = this.#committed.get(round);
      if (!(seat instanceof Observer) || seat.decided || view === undefined) return [];
      return await this.#deliverLocal(
        await seat.ask(
          now,
          view,
          `this member committed to view ${view} before a restart: it asks the members how ` +
            `the round ended`,
        ),
        now,
      );
    });
  }

  /**
   * After a restart, resumes the leader of the session a journaled unmask record names (the
   * `unmasking` event this member reported as leader, `unmask_record.ts`): in the unmask stage,
   * with no reveal yet, sending its UnmaskRequest again to its approvers so that their reveals,
   * lost with the old process, come back (`Leader.resume`). Nothing when this member already
   * runs that session, when the round is decided here, or when it is more than
   * {@link ROUND_WINDOW} rounds behind the newest round. Refuses (CallerError `invalid-input`) a
   * record that does not read or is not of a session this member leads.
   */
  resumeLeader(record: Uint8Array, now: number): Promise<Output[]> {
    return this.#serialized(async () => {
      let resumed;
      try {
        resumed = Leader.resume(this.#config, record, now, this.#lost);
      } catch (err) {
        if (!(err instanceof ProtocolError) && !(err instanceof RangeError)) throw err;
        throw new CallerError("invalid-input", `not an unmask record to resume: ${err.message}`);
      }
      const { round, view } = resumed.leader.session;
      const key = `${round}/${view}`;
      if (
        this.#leaders.has(key) || this.#participants.get(round)?.decided ||
        round < this.#newestRound - ROUND_WINDOW
      ) {
        resumed.leader.wipe();
        return [];
      }
      if (this.#leaders.size >= MAX_LEADERS) {
        const victim = this.#evictable(this.syncedView(round));
        if (victim === undefined) {
          resumed.leader.wipe();
          return [];
        }
        this.#leaders.get(victim)!.wipe();
        this.#leaders.delete(victim);
      }
      this.#leaders.set(key, resumed.leader);
      this.#newestRound = Math.max(this.#newestRound, round);
      return await this.#deliverLocal(resumed.outputs, now);
    });
  }

  /** Handles a frame that arrived from roster member `from`. Never throws on bad input. */
  receive(frame: Uint8Array, from: number, now: number): Promise<Output[]> {
    return this.#serialized(async () =>
      await this.#deliverLocal(await this.#route(frame, from, now), now)
    );
  }

  /**
   * Decides whether a certificate frame that arrived from member `from` without its aggregate
   * body (gossiped alone; the body is fetched by hash) is worth fetching the body for. `fetch`
   * only when the round is one this member would check it in — it has an undecided participant
   * there that did not commit to another view, or, with none, the round is within
   * {@link ROUND_WINDOW} of its newest — and the frame is signed by its session's scheduled
   * leader and carries ≥ t valid approvals of that session: one member alone cannot make this
   * member fetch anything, however many views of however many rounds it leads. `ignore` for a
   * certificate this member has no use for, `refused` for one that fails a check.
   *
   * A certificate of a round beyond the window ahead that passes the same checks (leader's
   * signature, ≥ t approvals of its session) is evidence that the round was decided: the member
   * learns from it that the federation moved on ({@link currentRound}) and ignores it. Changes no
   * other state and does not wait for earlier calls: its answer is advice, and
   * {@link receive} checks the frame with its body in full. Never throws on bad input.
   */
  async wantsCertificate(frame: Uint8Array, from: number): Promise<CertificateInterest> {
    const { roster } = this.#config;
    try {
      const env = openFrame(frame, roster, from);
      const { certificate } = readLeaderCertificate(roster, env);
      const { round, view } = env.session;
      const participant = this.#participants.get(round);
      if (participant === undefined && Math.abs(round - this.#newestRound) > ROUND_WINDOW) {
        if (round > this.#newestRound && round > this.#ended) {
          await verifyCertificateSignatures(roster, env, certificate);
          this.#learnDecided(round);
          return {
            kind: "ignore",
            reason: `round ${round} is beyond this member's window: learnt that it was decided`,
          };
        }
        return {
          kind: "ignore",
          reason: `round ${round} is outside this member's window (newest ${this.#newestRound})`,
        };
      }
      if (participant?.decided) {
        return { kind: "ignore", reason: `round ${round} is already decided here` };
      }
      const committed = participant?.committedView ?? this.#committed.get(round);
      if (committed !== undefined && committed !== view) {
        return {
          kind: "ignore",
          reason: `view ${view} of round ${round}: this member committed to view ${committed}`,
        };
      }
      await verifyCertificateSignatures(roster, env, certificate);
      const hash = certificate.aggregateHash;
      return {
        kind: "fetch",
        round,
        view,
        aggregateHash: hash,
        bodyLength: certificateBodyLength(roster, certificate),
        isBody: (body) => equalBytes(aggregateHash(env.session, body), hash),
        withBody: (body) => withBody(env, body),
      };
    } catch (err) {
      if (err instanceof ProtocolError) return { kind: "refused", error: err };
      throw err;
    }
  }

  /**
   * The driver's failure detector reports that the connection to member `member` was lost and
   * not re-established within its grace. From now until {@link memberBack}: a participant of this
   * member whose current view is led by a lost member leaves that view at once, by the same path
   * as its view timeout (not when it committed, not from a round's last view, and only while at
   * least t members, this one included, are not lost: when this member is the one cut off,
   * hurrying through views would only burn them); and every leader here closes its stage with
   * ≥ t answers once the members still missing are all lost. Refuses (CallerError
   * `invalid-input`) a member outside the roster or this member itself. Reporting a member
   * already lost changes nothing.
   */
  memberLost(member: number, now: number): Promise<Output[]> {
    return this.#serialized(async () => {
      this.#checkPeer(member);
      if (this.#lost.has(member)) return [];
      this.#lost.add(member);
      const out: Output[] = [];
      for (const l of this.#leaders.values()) out.push(...await l.recheck(now));
      return await this.#deliverLocal(out, now);
    });
  }

  /**
   * The driver reports that member `member`, reported lost before, is connected again: it is no
   * longer treated as absent. Nothing already decided is undone (a view left stays left, a stage
   * closed stays closed). Refuses like {@link memberLost}.
   */
  memberBack(member: number, _now: number): Promise<Output[]> {
    return this.#serialized(() => {
      this.#checkPeer(member);
      this.#lost.delete(member);
      return Promise.resolve([]);
    });
  }

  /** The members currently reported lost, ascending (for inspection). */
  get lostMembers(): number[] {
    return [...this.#lost].sort((a, b) => a - b);
  }

  /** Runs every machine whose timeout has passed. */
  tick(now: number): Promise<Output[]> {
    return this.#serialized(async () => {
      const out: Output[] = [];
      for (const p of this.#participants.values()) out.push(...await p.handleTimeout(now));
      for (const l of this.#leaders.values()) out.push(...await l.handleTimeout(now));
      return await this.#deliverLocal(out, now);
    });
  }

  /** The earliest time {@link tick} needs to run, or undefined. */
  nextTimeout(): number | undefined {
    let next: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    };
    for (const p of this.#participants.values()) consider(p.nextTimeout());
    for (const l of this.#leaders.values()) consider(l.nextTimeout());
    return next;
  }

  /** Wipes every participant's and leader's secrets. */
  close(): void {
    for (const p of this.#participants.values()) p.wipe();
    for (const l of this.#leaders.values()) l.wipe();
    this.#participants.clear();
    this.#leaders.clear();
    this.#answered.clear();
    this.#cosignSent.clear();
    this.#leaves.clear();
    this.#leaveAnswered.clear();
  }

  /**
   * The view this member is at in `round` after view synchronisation: its participant's view (0
   * without one), or the later view the round's Leave evidence justifies (for inspection, and
   * for how far ahead it leads).
   */
  syncedView(round: number): number {
    const seat = this.#participants.get(round);
    const own = seat?.view ?? 0;
    const justified = this.#leaves.get(round)?.justifiedView(
      own,
      this.#config.self,
      syncThreshold(this.#config.roster),
    );
    return Math.max(own, justified ?? own);
  }

  // ------------------------------------------------------------------------------------------

  /**
   * Runs `fn` after every earlier call has finished. A {@link CallerError} goes back to the
   * caller; any other exception (never bad input, which machines report as `refused`) is a bug
   * and becomes an `internal-error` event: the node keeps running.
   */
  #serialized(fn: () => Promise<Output[]>): Promise<Output[]> {
    const guarded = async (): Promise<Output[]> => {
      try {
        return this.#learn(await fn());
      } catch (err) {
        if (err instanceof CallerError) throw err;
        const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        return [event({ type: "internal-error", message })];
      }
    };
    const run = this.#queue.then(guarded, guarded);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Notes the rounds `outputs` end: a decided round (published or final, any role) and a round
   * failed for this member's update, if within {@link ROUND_WINDOW} of the current round (or at
   * most `ahead`, when given: the window before a batch of rounds given up at a restart).
   * Returns `outputs`.
   */
  #learn(outputs: Output[], ahead?: number): Output[] {
    for (const o of outputs) {
      if (o.kind !== "event") continue;
      const e = o.event;
      if (e.type === "published" || e.type === "final") this.#learnDecided(e.round);
      else if (
        e.type === "round-failed" && e.role === "participant" &&
        e.round <= (ahead ?? this.currentRound + ROUND_WINDOW)
      ) {
        // Beyond that only a round accepted before such rounds were refused (given up at a
        // restart): it must not move the current round.
        this.#ended = Math.max(this.#ended, e.round);
      }
    }
    return outputs;
  }

  /** `round` was decided: it ended, and the federation's rounds go on from there. */
  #learnDecided(round: number): void {
    this.#ended = Math.max(this.#ended, round);
    this.#newestRound = Math.max(this.#newestRound, round);
  }

  /**
   * Keeps `p` as the seat of `round`. Past {@link MAX_PARTICIPANTS} seats one is dropped: an
   * observer of the oldest round first, else the oldest participant — and a participant (or an
   * observer of this member's own update) whose update has not ended yet is reported, never
   * dropped silently: `round-failed` (this member can no longer follow that round), or, when it
   * committed or its masked input left in some view (the round may be certified with its
   * update), `outcome-unknown` — never a failure on a guess.
   */
  #addParticipant(round: number, p: Seat): Output[] {
    this.#participants.set(round, p);
    if (this.#participants.size <= MAX_PARTICIPANTS) return [];
    const seats = [...this.#participants].filter(([r]) => r !== round).sort(([a], [b]) => a - b);
    const [victim, seat] = seats.find(([, s]) => s instanceof Observer && !s.ownUpdate) ??
      seats.find(([, s]) => s instanceof Observer) ?? seats[0];
    const open = seat instanceof Participant ? seat.open : seat.ownUpdate && !seat.decided;
    // Remembered past the seat: an observer made later for a certificate of the round must not
    // co-sign what this member promised never to co-sign.
    if (seat.renounced) this.#renounced.add(victim);
    seat.wipe();
    this.#participants.delete(victim);
    this.#answered.delete(victim);
    this.#cosignSent.delete(victim);
    this.#leaveAnswered.delete(victim);
    if (!open) return [];
    // A participant still acting may have sent its masked input in an earlier view: that view
    // may complete with its update, so its outcome is unknown, not failed.
    const committed = seat instanceof Participant
      ? seat.committedView ?? seat.maskedView
      : seat.committedView;
    if (committed !== undefined) {
      // Remembered: a later certificate or Outcome of the round is judged against this view,
      // and the update can no longer be withdrawn.
      this.#committed.set(victim, committed);
      // Committed: the round may be certified with this update; failing it would be a guess.
      return [event({
        type: "outcome-unknown",
        round: victim,
        view: committed,
        reason: `evicted while its outcome was unknown: this member follows at most ` +
          `${MAX_PARTICIPANTS} rounds at once and round ${round} took the seat of round ${victim}`,
        asking: false,
      })];
    }
    return [event({
      type: "round-failed",
      role: "participant",
      round: victim,
      view: seat.view,
      reason: `evicted: this member follows at most ${MAX_PARTICIPANTS} rounds at once and round ` +
        `${round} took the seat of round ${victim}, the oldest`,
    })];
  }

  /**
   * Feeds frames addressed to this member back in until only external sends remain; then lets
   * every participant whose view is led by a lost member leave it ({@link #leaveLostViews}),
   * whichever call moved it there.
   */
  async #deliverLocal(outputs: Output[], now: number): Promise<Output[]> {
    const self = this.#config.self;
    const result: Output[] = [];
    const pending = [...outputs];
    const taken = new Set<Output>();
    for (;;) {
      while (pending.length > 0) {
        const o = pending.shift()!;
        if (o.kind === "send" && o.to === self) {
          pending.push(...await this.#route(o.frame, self, now));
        } else if (o.kind === "broadcast" && o.published !== undefined && !taken.has(o)) {
          // This member's own certificate is taken here first, so that its `published` record
          // (certificate and aggregate) is journaled before the certificate leaves: a leader
          // killed as it goes out can serve it again after a restart (`recover`).
          taken.add(o);
          pending.unshift(...await this.#route(o.frame, self, now), o);
        } else if (o.kind === "broadcast") {
          result.push(o);
          if (!taken.has(o)) pending.push(...await this.#route(o.frame, self, now));
        } else {
          result.push(o);
        }
      }
      // Each pass moves a participant one view on (bounded by the view limit), or ends the loop.
      pending.push(...await this.#leaveLostViews(now));
      if (pending.length === 0) return result;
    }
  }

  /**
   * The view changes a lost leader justifies now (see {@link memberLost}): one per participant
   * whose current view's leader is lost, while at least t members are not lost.
   */
  async #leaveLostViews(now: number): Promise<Output[]> {
    const { roster } = this.#config;
    if (this.#lost.size === 0 || roster.members.length - this.#lost.size < roster.threshold) {
      return [];
    }
    const out: Output[] = [];
    for (const [round, seat] of this.#participants) {
      if (!(seat instanceof Participant) || !seat.open) continue;
      if (!this.#lost.has(leaderOf(roster, round, seat.view))) continue;
      out.push(...await seat.leaderLost(now));
    }
    return out;
  }

  /** Refuses (CallerError `invalid-input`) a member that is not another roster member. */
  #checkPeer(member: number): void {
    const { roster, self } = this.#config;
    if (!Number.isSafeInteger(member) || member < 0 || member >= roster.members.length) {
      throw new CallerError("invalid-input", `no roster member ${member}`);
    }
    if (member === self) {
      throw new CallerError("invalid-input", `member ${member} is this member itself`);
    }
  }

  async #route(frame: Uint8Array, from: number, now: number): Promise<Output[]> {
    let env: Envelope;
    try {
      env = openFrame(frame, this.#config.roster, from);
    } catch (err) {
      if (err instanceof ProtocolError) return [refused(err)];
      throw err;
    }
    // A member behind this one learns where the round went; then the frame goes its way.
    const behind = this.#answerBehind(env, from);
    const out = env.type === "leave"
      ? await this.#onLeave(env, from, now)
      : await this.#routeOpened(env, from, now);
    return behind.length === 0 ? out : [...behind, ...out];
  }

  /** Routes an opened frame other than a Leave (see the module doc). */
  async #routeOpened(env: Envelope, from: number, now: number): Promise<Output[]> {
    const { roster, self } = this.#config;
    const { round, view } = env.session;
    if (env.type === "outcomeRequest") {
      try {
        readOutcomeRequest(env);
      } catch (err) {
        if (err instanceof ProtocolError) return [refused(err)];
        throw err;
      }
      // A member bound to a view may let this one rescue it (`Participant.peerBound`).
      const rescue = await this.participant(round)?.peerBound(env, now) ?? [];
      return [
        ...rescue,
        ...await this.#answer(env, from),
        ...await this.#resendCosign(env, from, now),
      ];
    }
    if (TO_LEADER.has(env.type)) {
      const scheduled = leaderOf(roster, round, view);
      if (scheduled === self && this.#participants.get(round)?.outcomeFrame() !== undefined) {
        // The round is final here: a member still working on it learns how it ended (once). A
        // session this member led still refuses what it no longer takes; no other is created.
        const answer = await this.#answer(env, from);
        const leader = this.#leaders.get(`${round}/${view}`);
        return leader === undefined ? answer : [...await leader.handle(env, now), ...answer];
      }
      if (scheduled !== self) {
        return [refused(
          new ProtocolError(
            "not-leader",
            `${env.type} for round ${round} view ${view}, whose leader is member ${scheduled}`,
            from,
          ),
        )];
      }
      const leader = this.#leaderFor(env);
      if (!(leader instanceof Leader)) {
        return [refused(new ProtocolError(leader.code, leader.detail, from))];
      }
      return await leader.handle(env, now);
    }
    const participant = this.#participants.get(round);
    if (participant === undefined) {
      const decision = env.type === "certificate" || env.type === "outcome";
      if (!decision || Math.abs(round - this.#newestRound) > ROUND_WINDOW) {
        if (env.type === "cosign") return []; // co-signatures of rounds we do not follow
        return [refused(
          new ProtocolError(
            "wrong-stage",
            `${env.type} for round ${round}, in which this member takes no part`,
            from,
          ),
        )];
      }
      // Not a participant of this round: follow it as an observer that checks and co-signs,
      // kept only once a certificate checked out (so junk cannot occupy the round).
      const observer = new Observer(this.#config, round, {
        committedView: this.#committed.get(round),
        renounced: this.#renounced.has(round),
      });
      const out = await observer.handle(env, now);
      if (observer.decided) out.push(...this.#addParticipant(round, observer));
      else observer.wipe();
      return out;
    }
    return await participant.handle(env, now);
  }

  /**
   * This member's Outcome of the envelope's round for member `from`, when the round is final
   * here: sent at most once per (round, asker), whatever the view the asker names — an Outcome
   * carries the whole aggregate, so a member cannot make this one send it again and again by
   * naming other views — else nothing. Refuses (naming `from`) a view at or past the view limit
   * (no member ever works in one) and, before an Outcome is sent, a frame whose signature does not
   * verify. Nobody is blamed otherwise: the asker may simply have restarted, or missed the end of
   * the round. What was answered is kept only while this member holds the round.
   */
  async #answer(env: Envelope, from: number): Promise<Output[]> {
    const { roster, self } = this.#config;
    const { round, view } = env.session;
    const outcome = this.#participants.get(round)?.outcomeFrame();
    if (outcome === undefined || from === self) return [];
    const limit = viewLimit(roster.members.length);
    if (view >= limit) {
      return [refused(
        new ProtocolError(
          "wrong-session",
          `${env.type} for view ${view} of round ${round}: past the last view ${limit - 1}`,
          from,
        ),
      )];
    }
    const answered = this.#answered.get(round) ?? new Set<number>();
    if (answered.has(from)) return [];
    if (!await verifyEnvelope(roster, env)) {
      return [refused(new ProtocolError("bad-signature", env.type, from))];
    }
    answered.add(from);
    this.#answered.set(round, answered);
    return [{ kind: "send", to: from, frame: await outcome }];
  }

  /**
   * This member's Cosign of the certificate of the envelope's session, for member `from` that
   * asked for the final certificate (an OutcomeRequest) while this member took that certificate
   * but is not final itself: the asker may have missed it, and with no member final, resent
   * co-signatures are what make one final (`finality_watch.ts`). At most once per asker and
   * round in any view timeout (a watch asks one member at most once per turn of n − 1 view
   * timeouts), and only for a request whose signature verifies: a Cosign is larger than the
   * request (24× in post-quantum mode), so it is no free amplifier. Else nothing, nobody blamed
   * (the Outcome path refuses a bad signature when it would answer).
   */
  async #resendCosign(env: Envelope, from: number, now: number): Promise<Output[]> {
    const { round, view } = env.session;
    const cosign = from === this.#config.self
      ? undefined
      : this.#participants.get(round)?.cosignFor(view);
    if (cosign === undefined) return [];
    const sent = this.#cosignSent.get(round) ?? new Map<number, number>();
    const last = sent.get(from);
    if (last !== undefined && now - last < this.#config.roster.viewTimeoutMs) return [];
    if (!await verifyEnvelope(this.#config.roster, env)) return [];
    sent.set(from, now);
    this.#cosignSent.set(round, sent);
    return [{ kind: "send", to: from, frame: cosign }];
  }

  /**
   * The Leave evidence of `round`, created if missing. At most {@link MAX_LEAVE_ROUNDS} rounds
   * without a seat are kept: creating one drops those no longer near the rounds this member
   * works on, then the oldest.
   */
  #leavesOf(round: number): RoundLeaves {
    let leaves = this.#leaves.get(round);
    if (leaves !== undefined) return leaves;
    leaves = new RoundLeaves(round);
    this.#leaves.set(round, leaves);
    const seatless = () => [...this.#leaves.keys()].filter((r) => !this.#participants.has(r));
    for (const r of seatless()) {
      if (r !== round && !nearRound(r, this.#newestRound, this.currentRound)) {
        this.#leaves.delete(r);
      }
    }
    const rest = seatless().sort((a, b) => a - b);
    while (rest.length > MAX_LEAVE_ROUNDS) {
      const r = rest.shift()!;
      if (r !== round) this.#leaves.delete(r);
    }
    return leaves;
  }

  /**
   * A Leave(round, w) from member `from`: refused when w is at or past the view limit or its
   * signature does not verify; ignored (nobody blamed) for a round this member neither holds a
   * seat in nor works near, and when it does not raise the w held from `from` (a replay, or
   * overtaken). Kept otherwise, and acted on: this member's participant of the round synchronises
   * (`Participant.sync`), and an observer of its own committed update checks for abandonment.
   */
  async #onLeave(env: Envelope, from: number, now: number): Promise<Output[]> {
    const { roster, self } = this.#config;
    const { round, view: w } = env.session;
    let promised: number;
    try {
      ({ promised } = readLeave(env, roster.members.length));
    } catch (err) {
      if (err instanceof ProtocolError) return [refused(err)];
      throw err;
    }
    const limit = viewLimit(roster.members.length);
    if (w >= limit) {
      return [refused(
        new ProtocolError(
          "wrong-session",
          `leave for view ${w} of round ${round}: past the last view ${limit - 1}`,
          from,
        ),
      )];
    }
    const seat = this.#participants.get(round);
    if (from === self || seat?.decided) return [];
    if (seat === undefined && !nearRound(round, this.#newestRound, this.currentRound)) return [];
    const leaves = this.#leaves.get(round);
    if (leaves !== undefined && !leaves.raises(from, w, promised)) return [];
    if (!await verifyEnvelope(roster, env)) {
      return [refused(new ProtocolError("bad-signature", env.type, from))];
    }
    const kept = leaves ?? this.#leavesOf(round);
    kept.record(from, w, promised);
    if (seat instanceof Participant) return await seat.sync(now);
    if (seat instanceof Observer) return seat.abandon(kept);
    return [];
  }

  /**
   * This member's newest Leave of the envelope's round, for a member `from` that is behind it —
   * it sent a frame of a view this member has left (for a Leave: it is in the view after) — so
   * that a member that missed the broadcasts catches up (a restarted committed member asking how
   * its view ended learns the Leaves that may prove it abandoned); at most once per (round,
   * member, w), and never for decisions (certificates, co-signatures, Outcomes).
   */
  #answerBehind(env: Envelope, from: number): Output[] {
    const { round, view } = env.session;
    if (from === this.#config.self || DECISION_TYPES.has(env.type)) return [];
    const seat = this.#participants.get(round);
    const w = seat?.leftView;
    const frame = seat?.leaveFrame;
    if (w === undefined || frame === undefined) return [];
    const senderView = env.type === "leave" ? view + 1 : view;
    if (senderView > w) return [];
    const answered = this.#leaveAnswered.get(round) ?? new Map<number, number>();
    if (answered.get(from) === w) return [];
    answered.set(from, w);
    this.#leaveAnswered.set(round, answered);
    return [{ kind: "send", to: from, frame }];
  }

  /**
   * The leader for the envelope's session, creating it for an AdvertiseKeys within the windows;
   * otherwise the refusal saying why there is none. A flooding member cannot push out a leader
   * that is past its first stage: eviction takes finished leaders first, then the collecting
   * leader with the fewest adverts (farthest view first), and creation is refused when every
   * slot holds a leader in progress.
   */
  #leaderFor(env: Envelope): Leader | { code: RefusalCode; detail: string } {
    const { round, view } = env.session;
    const key = `${round}/${view}`;
    const existing = this.#leaders.get(key);
    if (existing !== undefined) return existing;
    if (env.type !== "advertiseKeys") {
      return {
        code: "wrong-stage",
        detail: `no leader runs round ${round} view ${view} here (it never received an ` +
          `advertisement, finished, or was evicted)`,
      };
    }
    if (this.#newestRound >= 0 && Math.abs(round - this.#newestRound) > ROUND_WINDOW) {
      return {
        code: "wrong-session",
        detail:
          `round ${round} is outside this member's window (newest round ${this.#newestRound})`,
      };
    }
    const ownView = this.syncedView(round);
    if (view > ownView + VIEW_WINDOW) {
      return {
        code: "wrong-session",
        detail: `view ${view} of round ${round} is more than ${VIEW_WINDOW} views ahead of ` +
          `this member's view ${ownView}`,
      };
    }
    if (this.#leaders.size >= MAX_LEADERS) {
      const victim = this.#evictable(ownView);
      if (victim === undefined) {
        return {
          code: "wrong-stage",
          detail: `already leading ${MAX_LEADERS} sessions in progress`,
        };
      }
      this.#leaders.get(victim)!.wipe();
      this.#leaders.delete(victim);
    }
    const leader = new Leader(this.#config, env.session, this.#lost);
    this.#leaders.set(key, leader);
    return leader;
  }

  #evictable(ownView: number): string | undefined {
    const entries = [...this.#leaders];
    const finished = entries.find(([, l]) => l.stage === "publish" || l.stage === "failed");
    if (finished !== undefined) return finished[0];
    const collecting = entries.filter(([, l]) => l.stage === "advertise");
    collecting.sort(([, a], [, b]) =>
      a.advertCount - b.advertCount ||
      Math.abs(b.session.view - ownView) - Math.abs(a.session.view - ownView)
    );
    return collecting[0]?.[0];
  }
}

/**
 * True when `round` is near enough the rounds this member works on for its Leave evidence to be
 * kept: within {@link ROUND_WINDOW} of the newer of its newest and its current round.
 */
function nearRound(round: number, newest: number, current: number): boolean {
  return Math.abs(round - Math.max(newest, current)) <= ROUND_WINDOW;
}

/** Refuses (CallerError `invalid-input`) a round or view number outside [0, 2^48). */
function checkNumber(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= MAX_ROUND) {
    throw new CallerError("invalid-input", `${name} must be an integer in [0, 2^48), got ${value}`);
  }
}

/**
 * The types that carry a round's decision: never answered with a Leave. (An OutcomeRequest is: a
 * member asking how a view ended that this member left learns that it did not end here.)
 */
const DECISION_TYPES: ReadonlySet<string> = new Set(["certificate", "cosign", "outcome"]);

function refused(error: ProtocolError): Output {
  return event({ type: "refused", error } satisfies ProtocolEvent);
}
