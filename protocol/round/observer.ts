/**
 * An observer: one member's seat in a round it follows without a participant — a round it took no
 * part in (it checks and co-signs the certificate like everyone else), or, after a restart, a
 * round it had an update in but can no longer act in: it committed before the restart, or the
 * round was published and not yet final. It wraps the round's {@link Publication} and adds:
 *
 * - the exclusion rule for a member with an update (`ownUpdate`): a certificate or Outcome whose
 *   U3 does not contain it ends its update with `round-failed` (`excluded`); one that contains
 *   it ends it with `published` / `final`;
 * - an optional {@link OutcomeInquiry}: OutcomeRequests to every other member, with backoff,
 *   until the round is final here (it never stops by itself); while it does not run, the
 *   publication's watch for missing co-signatures asks one member at a time instead
 *   (`finality_watch.ts`);
 * - for its own committed update, the round deadline (from when it started asking): reached
 *   without a certificate, it renounces co-signing the round, like a participant
 *   (`docs/protocol.md` §4), and a member that renounced before a restart renounces again at
 *   once (`renounced`), before any certificate reaches it.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { event, type Output } from "./events.ts";
import type { Envelope } from "../wire/frame.ts";
import { OutcomeInquiry } from "./outcome_inquiry.ts";
import { Publication, type PublicationConfig } from "./publication.ts";
import { approvalQuorum } from "../graph/committee.ts";
import { abandonSigners, renouncement, RoundLeaves } from "./leave_evidence.ts";

/** How an observer follows its round. */
export interface ObserverOptions {
  /** The view this member committed to before a restart, if any (only its certificate counts). */
  readonly committedView?: number;
  /** This member has an acknowledged update in the round: the exclusion rule applies. */
  readonly ownUpdate?: boolean;
  /**
   * This member promised before a restart never to co-sign a certificate of the round (a
   * journaled `renounced` event, or a give-up after its masked input left): it co-signs nothing.
   */
  readonly renounced?: boolean;
  /** The round's Leave evidence (kept up to date by the endpoint), for the abandon check. */
  readonly leaves?: RoundLeaves;
}

/** One member's observer of one round. */
export class Observer {
  readonly #config: PublicationConfig;
  /** The round observed. */
  readonly round: number;
  readonly #publication: Publication;
  readonly #ownUpdate: boolean;
  #inquiry: OutcomeInquiry | undefined;
  #excluded = false;
  readonly #leaves: RoundLeaves;
  /** When this member renounces co-signing, for its own committed update (set by `ask`). */
  #roundDeadline: number | undefined;
  /** Its renouncement Leave(round, n − 1; n + 1), once signed. */
  #leaveFrame: Uint8Array | undefined;

  /** An observer of `round` (see {@link ObserverOptions}). */
  constructor(config: PublicationConfig, round: number, options: ObserverOptions = {}) {
    this.#config = config;
    this.round = round;
    this.#ownUpdate = options.ownUpdate ?? false;
    this.#publication = new Publication(config, round, options.committedView);
    this.#leaves = options.leaves ?? new RoundLeaves(round);
    if (options.renounced === true) this.#publication.renounce();
  }

  /** True once this member renounced co-signing any certificate of the round. */
  get renounced(): boolean {
    return this.#publication.renounced;
  }

  /** n − 1 once this member signed its renouncement here (its newest Leave's w), else undefined. */
  get leftView(): number | undefined {
    return this.#leaveFrame === undefined ? undefined : this.#config.roster.members.length - 1;
  }

  /** Its renouncement Leave frame (public), once signed here, for members that are behind. */
  get leaveFrame(): Uint8Array | undefined {
    return this.#leaveFrame;
  }

  /** True once a certificate of this round checked out here. */
  get decided(): boolean {
    return this.#publication.decided;
  }

  /** `publish` once decided, `final` with the final certificate, else undefined. */
  get stage(): "publish" | "final" | undefined {
    return this.#publication.stage;
  }

  /** The view of the certificate taken, else the committed view, else 0. */
  get view(): number {
    return this.#publication.view;
  }

  /** True when this member has an acknowledged update in the round (see {@link ObserverOptions}). */
  get ownUpdate(): boolean {
    return this.#ownUpdate;
  }

  /** The view this member committed to before a restart, if any. */
  get committedView(): number | undefined {
    return this.#publication.committedView;
  }

  /**
   * Starts asking the other members for the round's Outcome (in the session of the committed
   * view, else of `view`), until it is final here or the attempts run out. With `reason`, reports
   * `outcome-unknown` first (the update's fate is not known); without, asks quietly.
   */
  async ask(now: number, view: number, reason?: string): Promise<Output[]> {
    if (this.#publication.final) return [];
    const inquiry = new OutcomeInquiry(this.#config, this.round, this.committedView ?? view);
    this.#inquiry = inquiry;
    const started = await inquiry.start(now, reason ?? "");
    const out = reason === undefined
      ? started.filter((o) => o.kind !== "event" || o.event.type !== "outcome-unknown")
      : started;
    if (!this.#bound()) return out;
    if (!this.renounced) {
      // Measured from the restart, as for a resumed participant.
      this.#roundDeadline = now + this.#config.roster.roundDeadlineMs;
      return out;
    }
    // Renounced before the restart: signed again and sent to every member (some may have
    // missed it), then the evidence may already prove the round abandoned.
    return [...out, ...await this.#sendRenouncement(), ...this.abandon(this.#leaves)];
  }

  /**
   * Takes a Certificate, Cosign or Outcome of this round (see {@link Publication.handle}); once
   * one decides the round, applies the exclusion rule for an own update, and stops asking once
   * the round is final. Never throws: refusals come back as `refused` events.
   */
  async handle(env: Envelope, now: number): Promise<Output[]> {
    const committed = this.committedView;
    if (
      env.type === "outcome" && this.#ownUpdate && !this.#excluded && !this.decided &&
      committed !== undefined && env.session.view !== committed
    ) {
      // Signed evidence that the round was certified in another view than the committed one.
      try {
        const { verified } = await this.#publication.checkOutcome(env);
        if (verified.members.includes(this.#config.self)) return [];
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        return [event({ type: "refused", error: err })];
      }
      this.#excluded = true;
      this.#inquiry?.stop();
      return [event({
        type: "round-failed",
        role: "participant",
        round: this.round,
        view: env.session.view,
        reason: `excluded: the round was certified in view ${env.session.view} (final ` +
          `certificate) while this member committed to view ${committed}`,
      })];
    }
    const out = await this.#publication.handle(env, now);
    if (this.#publication.final) this.#inquiry?.stop();
    return [...out, ...this.#exclusion(out, env)];
  }

  /**
   * For this member's own update committed to a view before a restart: `round-failed`
   * (`abandoned`) once `leaves` proves (`abandonSigners`, without this member) that no view
   * with the update can gather t commitments (`leave_evidence.ts`). Nothing
   * otherwise, once decided, or once the update ended here.
   */
  abandon(leaves: RoundLeaves): Output[] {
    const m = this.committedView;
    if (!this.#bound() || m === undefined) return [];
    const { roster, self } = this.#config;
    // It counts itself once it renounced: it co-signs no certificate of the round.
    const signers = abandonSigners(
      roster,
      leaves,
      m,
      self,
      this.renounced,
      approvalQuorum(roster, {
        federation: roster.federation,
        rosterHash: roster.hash,
        round: this.round,
      }),
    );
    if (signers === undefined) return [];
    this.#excluded = true;
    this.#inquiry?.stop();
    return [event({
      type: "round-failed",
      role: "participant",
      round: this.round,
      view: m,
      reason: `abandoned: members ${signers.join(", ")} signed that they never commit in, ` +
        `nor co-sign a certificate of, any view up to ${m}, the view this member committed ` +
        `to, so no certificate with its update can gather t = ${roster.threshold} ` +
        `co-signatures`,
    })];
  }

  /**
   * Re-asks when the inquiry's backoff has passed; at the round deadline (own committed update,
   * no certificate) renounces co-signing: a `renounced` event (journaled first by a node), the
   * renouncement Leave(round, n − 1; n + 1) to every other member, then the abandon check. When
   * no inquiry runs, runs the publication's watch for missing co-signatures instead (a
   * certificate taken, short of t co-signatures: it asks one member at a time for the final
   * certificate).
   */
  async handleTimeout(now: number): Promise<Output[]> {
    const out: Output[] = [];
    if (this.#roundDeadline !== undefined && now >= this.#roundDeadline) {
      this.#roundDeadline = undefined;
      if (this.#bound() && !this.renounced) {
        this.#publication.renounce();
        out.push(
          event({ type: "renounced", round: this.round, view: this.committedView! }),
          ...await this.#sendRenouncement(),
          ...this.abandon(this.#leaves),
        );
      }
    }
    // While its inquiry asks every member, the publication's watch (one at a time) is not needed.
    if (this.#asking()) return [...out, ...await this.#inquiry!.handleTimeout(now)];
    return [...out, ...await this.#publication.handleTimeout(now)];
  }

  /** When {@link handleTimeout} next needs to run, or undefined. */
  nextTimeout(): number | undefined {
    const i = this.#asking() ? this.#inquiry!.nextTimeout() : this.#publication.nextTimeout();
    const d = this.#bound() ? this.#roundDeadline : undefined;
    return i === undefined ? d : d === undefined ? i : Math.min(i, d);
  }

  /** True while its inquiry runs (it asks every other member). */
  #asking(): boolean {
    return this.#inquiry?.nextTimeout() !== undefined;
  }

  /** True while this member's own update is bound to its committed view with no end known here. */
  #bound(): boolean {
    return this.#ownUpdate && !this.#excluded && !this.decided &&
      this.committedView !== undefined;
  }

  /** Signs the renouncement Leave(round, n − 1; n + 1) and sends it to every other member. */
  async #sendRenouncement(): Promise<Output[]> {
    const { frame, sends } = await renouncement(this.#config, this.round);
    this.#leaveFrame = frame;
    return sends;
  }

  /** This member's Outcome frame of the round, once final here. */
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

  /** Stops asking and forgets the unchecked co-signatures (nothing secret is held). */
  wipe(): void {
    this.#inquiry?.stop();
    this.#publication.wipe();
  }

  /** `round-failed` (`excluded`) once, when a decision without this member's update arrived. */
  #exclusion(out: readonly Output[], env: Envelope): Output[] {
    if (!this.#ownUpdate || this.#excluded) return [];
    const published = out.find((o) => o.kind === "event" && o.event.type === "published");
    if (published?.kind !== "event" || published.event.type !== "published") return [];
    if (published.event.members.includes(this.#config.self)) return [];
    this.#excluded = true;
    return [event({
      type: "round-failed",
      role: "participant",
      round: this.round,
      view: env.session.view,
      reason: `excluded: the round was decided in view ${env.session.view} without this ` +
        `member's update`,
    })];
  }
}
