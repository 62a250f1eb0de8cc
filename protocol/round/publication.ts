/**
 * Publication (stage 6, `docs/protocol.md` §3): one member's handling of its round's certificate
 * and co-signatures. It checks the leader's certificate with the aggregate body, co-signs it
 * (broadcast), reports the aggregate (`published`), gathers the other members' co-signatures and,
 * once ≥ t of them check out, reports the final certificate (`final`). Short of t co-signatures
 * two view timeouts after the certificate, it asks the other members in turn for the final
 * certificate (`finality_watch.ts`). On a roster with an
 * approval committee (`graph/committee.ts`) only the round's committee members co-sign, and t_C
 * of their co-signatures make it final; a co-signature from a member off the committee is
 * refused (`inconsistent-lists`).
 *
 * A participant delegates its round's certificate and co-signatures here; a member that took no
 * part in a round (no update, or a restart) follows the round with a publication alone, an
 * observer: it checks and co-signs the certificate like everyone else.
 *
 * Co-signatures can overtake the certificate: one per member is kept unchecked until it arrives,
 * and they are checked in one batch once they could reach the threshold. A co-signature counts
 * only with a valid signature on this certificate's hash in its session.
 *
 * @module
 */
import { equalBytes, u32Bytes } from "../encoding/bytes.ts";
import {
  aggregateHash,
  certificateHash,
  checkCertificate,
  checkCosignFields,
} from "../certificate/certificate.ts";
import {
  encodeFinalCertificate,
  splitFinalCertificate,
  verifyFinalCertificate,
} from "../certificate/final.ts";
import { ensure, ProtocolError } from "../errors.ts";
import type { Roster } from "../federation/roster.ts";
import { approvalQuorum } from "../graph/committee.ts";
import type { Session } from "../federation/session.ts";
import type { MemberSigner } from "../federation/signer.ts";
import { type MemberSet, sameMembers } from "../math/member_set.ts";
import {
  type Envelope,
  expectRound,
  openFrame,
  sealFrame,
  verifyEnvelope,
  withoutBody,
} from "../wire/frame.ts";
import { cosignFields, outcomeFields, readOutcome } from "../wire/messages.ts";
import { event, type Output } from "./events.ts";
import { FinalityWatch } from "./finality_watch.ts";

/** What a publication needs: the roster, this member's index and its signing keys. */
export interface PublicationConfig {
  /** The validated roster. */
  readonly roster: Roster;
  /** This member's roster index. */
  readonly self: number;
  /** This member's long-term keys, which sign its co-signature. */
  readonly signer: MemberSigner;
}

/** What this member's own part in the round says about a certificate it may take. */
export interface Commitment {
  /** The view this member committed to, if any: a certificate of another view is refused. */
  readonly view: number | undefined;
  /** The U3 this member approved in that view, if any: a certificate of another U3 is refused. */
  readonly approvedU3?: MemberSet;
  /**
   * The highest w this member signed Leave(round, w) for, if any: it never co-signs a
   * certificate of a view ≤ w other than the one it committed to (it left those views; it may
   * have come back to one only to reveal there, a rescue, which commits it). A member that gave
   * the round up signed w = n − 1 and committed nowhere, so it co-signs nothing: once the abandon
   * quorum's t give-ups hold, no certificate gathers t co-signatures, whatever its leader does,
   * and the quorum's `round-failed` is never contradicted by a `final`.
   */
  readonly left?: number;
}

/** The certificate this member checked and co-signed. */
interface Taken {
  readonly session: Session;
  /** The hash co-signers sign. */
  readonly hash: Uint8Array;
  /** The certificate frame without its body. */
  readonly frame: Uint8Array;
  readonly members: MemberSet;
  readonly aggregate: Uint32Array;
}

/** One member's publication of one round. */
export class Publication {
  readonly #config: PublicationConfig;
  /** The round this publication follows. */
  readonly round: number;
  readonly #committedView: number | undefined;
  readonly #verifiedApprovals: Set<string>;
  #taken: Taken | undefined;
  #final = false;
  /** The encoded final certificate, once final. */
  #finalCertificate: Uint8Array | undefined;
  /** This member's Outcome frame of the final certificate, built on first use. */
  #outcomeFrame: Promise<Uint8Array> | undefined;
  /** Co-signatures of the taken certificate that checked out, by member. */
  readonly #cosigns = new Map<number, Uint8Array>();
  /**
   * Co-signatures not checked yet (one per member): those that overtook the certificate, and
   * those of the taken certificate awaiting a batch signature check in {@link #tryFinal}.
   */
  readonly #unverifiedCosigns = new Map<number, Envelope>();
  /** This member renounced co-signing any certificate of the round (see {@link renounce}). */
  #renounced = false;
  /** Taken and not final yet: asks for the final certificate if co-signatures do not come. */
  #watch: FinalityWatch | undefined;
  /** This member's Cosign frame of the taken certificate, if it co-signed it. */
  #ownCosign: Uint8Array | undefined;

  /**
   * A publication of `round`. `committedView` is the view this member committed to before a
   * restart, if any (an observer then takes only that view's certificate); `verifiedApprovals`
   * is the digest cache of approval frames whose signatures this member already checked (see
   * `checkApprovals`), shared with the member's participant.
   */
  constructor(
    config: PublicationConfig,
    round: number,
    committedView?: number,
    verifiedApprovals: Set<string> = new Set(),
  ) {
    this.#config = config;
    this.round = round;
    this.#committedView = committedView;
    this.#verifiedApprovals = verifiedApprovals;
  }

  /** True once a certificate of this round checked out here (the round is decided). */
  get decided(): boolean {
    return this.#taken !== undefined;
  }

  /** `publish` once decided, `final` with ≥ t valid co-signatures, else undefined. */
  get stage(): "publish" | "final" | undefined {
    return this.#final ? "final" : this.#taken === undefined ? undefined : "publish";
  }

  /** The view of the certificate taken, else the committed view, else 0. */
  get view(): number {
    return this.#taken?.session.view ?? this.#committedView ?? 0;
  }

  /** The view this member committed to before a restart (an observer's), if any. */
  get committedView(): number | undefined {
    return this.#committedView;
  }

  /** True once this member renounced co-signing (see {@link renounce}). */
  get renounced(): boolean {
    return this.#renounced;
  }

  /**
   * From now on this member co-signs no certificate of the round: it signed (or is about to sign)
   * the renouncement Leave(round, n − 1; n + 1) at its round deadline (`docs/protocol.md` §4).
   * A certificate is still checked and taken (`published`), and a final one still makes the
   * round final here; only the Cosign is withheld. Permanent: a node journals it and a restarted
   * member's publication is renounced again before it sees any certificate.
   */
  renounce(): void {
    this.#renounced = true;
  }

  /**
   * An observer's entry point: takes a Certificate, a Cosign or an Outcome of this round (see
   * {@link certificate}, {@link cosign} and {@link outcome}); refuses anything else as `wrong-stage` (an observer
   * is in no view). Never throws: refusals come back as `refused` events.
   */
  async handle(env: Envelope, now: number): Promise<Output[]> {
    try {
      expectRound(env, this.round);
      if (env.type === "certificate") {
        return await this.certificate(env, { view: this.#committedView }, now);
      }
      if (env.type === "cosign") return await this.cosign(env);
      if (env.type === "outcome") return await this.outcome(env, { view: this.#committedView });
      throw new ProtocolError(
        "wrong-stage",
        `${env.type} but this member is not in a view`,
        env.sender,
      );
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return [event({ type: "refused", error: err })];
    }
  }

  /**
   * Runs the watch for missing co-signatures (`finality_watch.ts`): taken and still short of t
   * co-signatures two view timeouts after the certificate, this member asks one other member at
   * a time for the final certificate (an OutcomeRequest). Nothing before a certificate is taken,
   * nor once final.
   */
  async handleTimeout(now: number): Promise<Output[]> {
    return await this.#watch?.handleTimeout(now) ?? [];
  }

  /** When {@link handleTimeout} next needs to run (the watch's next request), or undefined. */
  nextTimeout(): number | undefined {
    return this.#watch?.nextTimeout();
  }

  /** Nothing secret is held here: forgets the unchecked co-signatures. */
  wipe(): void {
    this.#unverifiedCosigns.clear();
  }

  /**
   * Takes a Certificate envelope of this round: checks it with its aggregate body (scheduled
   * leader, leader signature, ≥ t valid approvals, body hash and length, weight; see
   * `checkCertificate`), and that it is of the view this member committed to and of the U3 it
   * approved there, if any. Then co-signs it: the outputs are the refusals of individual
   * approvals, the `publish` stage event, the `published` event, this member's Cosign broadcast
   * (none for a view ≤ `commitment.left` other than `commitment.view`, a view it left, and none
   * once this member renounced ({@link renounce}): it is taken, never co-signed)
   * and, when the co-signatures already gathered reach t, the `final` stage and event. Short of
   * t, the watch for missing co-signatures starts at `now` (see {@link handleTimeout}). An exact
   * repeat of the certificate taken is ignored. Throws a {@link ProtocolError} for a certificate
   * that fails a check, and (`equivocation`) for a second, different one.
   */
  async certificate(env: Envelope, commitment: Commitment, now: number): Promise<Output[]> {
    const { roster, self, signer } = this.#config;
    const taken = this.#taken;
    if (taken !== undefined) {
      ensure(
        taken.session.view === env.session.view && equalBytes(taken.frame, withoutBody(env)),
        "equivocation",
        `a second, different certificate for round ${this.round}`,
        env.sender,
      );
      return [];
    }
    ensure(
      commitment.view === undefined || commitment.view === env.session.view,
      "wrong-session",
      `certificate for view ${env.session.view}, this member committed to view ${commitment.view}`,
      env.sender,
    );
    ensure(env.body !== null, "malformed", "certificate without its aggregate", env.sender);
    const checked = await checkCertificate(roster, env, env.body, this.#verifiedApprovals);
    if (commitment.view !== undefined) {
      ensure(
        sameMembers(checked.certificate.u3, commitment.approvedU3 ?? checked.certificate.u3),
        "inconsistent-lists",
        "the certificate's U3 differs from the one this member approved",
        env.sender,
      );
    }
    // A view this member left and did not come back to: it lends the certificate no
    // co-signature (see `Commitment.left`).
    const left = commitment.left !== undefined && env.session.view <= commitment.left &&
      env.session.view !== commitment.view;
    const { committee } = approvalQuorum(roster, env.session);
    const cosigns = !left && !this.#renounced &&
      (committee === undefined || committee.includes(self));
    const cosign = !cosigns ? undefined : await sealFrame(
      "cosign",
      env.session,
      self,
      cosignFields({ certificateHash: checked.hash }),
      signer,
      roster.mode,
    );
    // Taken only once everything about it succeeded: a failure leaves this member undecided.
    this.#taken = {
      session: env.session,
      hash: checked.hash,
      frame: withoutBody(env),
      members: checked.members,
      aggregate: checked.aggregate,
    };
    this.#ownCosign = cosign;
    const final = await this.#tryFinal();
    if (!this.#final) {
      this.#watch = new FinalityWatch(this.#config, this.round, env.session.view, now);
    }
    return [
      ...checked.refused.map((error) => event({ type: "refused", error })),
      this.#stageEvent("publish"),
      event({
        type: "published",
        round: this.round,
        view: env.session.view,
        certificate: this.#taken.frame,
        aggregateHash: checked.certificate.aggregateHash,
        aggregate: checked.aggregate,
        members: checked.members,
      }),
      ...(cosign === undefined ? [] : [{ kind: "broadcast", frame: cosign } as const]),
      ...final,
    ];
  }

  /**
   * Takes a Cosign envelope: kept (one per member, unchecked) until the certificate is taken and
   * the co-signatures could reach t (t_C), then checked in a batch (see {@link #tryFinal}).
   * Ignored once final and for a member whose co-signature is already kept; refused
   * (`inconsistent-lists`) from a member off the round's approval committee, when it has one.
   */
  async cosign(env: Envelope): Promise<Output[]> {
    const { committee } = approvalQuorum(this.#config.roster, env.session);
    ensure(
      committee === undefined || committee.includes(env.sender),
      "inconsistent-lists",
      `co-signature from a member not on round ${env.session.round}'s approval committee`,
      env.sender,
    );
    if (this.#final) return [];
    if (this.#cosigns.has(env.sender) || this.#unverifiedCosigns.has(env.sender)) return [];
    this.#unverifiedCosigns.set(env.sender, env);
    return this.#taken === undefined ? [] : await this.#tryFinal();
  }

  /**
   * This member's Cosign frame of the certificate it took, when that certificate is of `view`,
   * it co-signed it, has not renounced and the round is not final here yet; else undefined.
   * Public (it went out by broadcast): a member asking for the final certificate with an
   * OutcomeRequest of that view may have missed it, and with no member final yet, co-signatures
   * sent again are what makes one final (once final, the Outcome answers instead).
   */
  cosignFor(view: number): Uint8Array | undefined {
    const taken = this.#taken?.session.view === view;
    return this.#final || !taken || this.#renounced ? undefined : this.#ownCosign;
  }

  /** True once this member holds the round's final certificate. */
  get final(): boolean {
    return this.#final;
  }

  /**
   * Takes an Outcome envelope of this round: a final certificate with the aggregate as the
   * frame's body, sent by a member that holds it (`docs/protocol.md` §4). It must pass
   * `verifyFinalCertificate` against that body, be of the envelope's session, of the view this
   * member committed to and of the U3 it approved there, if any, and — when this member already
   * took a certificate — be of that certificate. Then the round is final here: the outputs are
   * (unless taken before) the `publish` stage and `published` event, then the `final` stage and
   * event. No co-signature is sent: the round is final without it. Ignored once final. Throws a
   * {@link ProtocolError} naming the sender for an outcome that fails a check (`equivocation`
   * for a certificate other than the one taken).
   */
  async outcome(env: Envelope, commitment: Commitment): Promise<Output[]> {
    if (this.#final) return [];
    const { roster } = this.#config;
    const { verified, finalCertificate } = await this.checkOutcome(env);
    ensure(
      commitment.view === undefined || commitment.view === env.session.view,
      "wrong-session",
      `outcome for view ${env.session.view}, this member committed to view ${commitment.view}`,
      env.sender,
    );
    if (commitment.view !== undefined && commitment.approvedU3 !== undefined) {
      ensure(
        sameMembers(verified.u3, commitment.approvedU3),
        "inconsistent-lists",
        "the outcome's U3 differs from the one this member approved",
        env.sender,
      );
    }
    const certificate = splitFinalCertificate(roster, finalCertificate).certificate;
    const out: Output[] = [];
    const taken = this.#taken;
    if (taken !== undefined) {
      ensure(
        taken.session.view === env.session.view && equalBytes(taken.frame, certificate),
        "equivocation",
        `an outcome of another certificate than the one taken for round ${this.round}`,
        env.sender,
      );
    } else {
      const certEnv = openFrame(certificate, roster);
      this.#taken = {
        session: certEnv.session,
        hash: certificateHash(certEnv),
        frame: certificate,
        members: verified.members,
        aggregate: verified.aggregate,
      };
      out.push(
        this.#stageEvent("publish"),
        event({
          type: "published",
          round: this.round,
          view: env.session.view,
          certificate,
          aggregateHash: aggregateHash(certEnv.session, env.body!),
          aggregate: verified.aggregate,
          members: verified.members,
        }),
      );
    }
    this.#unverifiedCosigns.clear();
    return [...out, ...this.#finish(finalCertificate)];
  }

  /**
   * Checks an Outcome envelope of this round on its own — signed by its sender, a final
   * certificate of this round and of the envelope's view that `verifyFinalCertificate` accepts
   * against the body — and resolves to what it certifies, without taking it. Throws a
   * {@link ProtocolError} naming the sender otherwise. A member committed to another view uses it
   * as signed evidence that the round was decided without it.
   */
  async checkOutcome(
    env: Envelope,
  ): Promise<
    { verified: Awaited<ReturnType<typeof verifyFinalCertificate>>; finalCertificate: Uint8Array }
  > {
    const { roster } = this.#config;
    ensure(env.body !== null, "malformed", "outcome without its aggregate", env.sender);
    const { finalCertificate } = readOutcome(env);
    ensure(await verifyEnvelope(roster, env), "bad-signature", env.type, env.sender);
    let verified;
    try {
      verified = await verifyFinalCertificate(roster, finalCertificate, env.body);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      throw new ProtocolError(err.code, `outcome: ${err.message}`, env.sender);
    }
    ensure(
      verified.round === this.round && verified.view === env.session.view,
      "wrong-session",
      `outcome's final certificate is of round ${verified.round} view ${verified.view}`,
      env.sender,
    );
    return { verified, finalCertificate };
  }

  /**
   * This member's Outcome frame for the round — its final certificate with the aggregate as the
   * body, signed by this member — once final; else undefined. Public data: a driver may send it
   * to any member that needs to learn how the round ended.
   */
  outcomeFrame(): Promise<Uint8Array> | undefined {
    if (!this.#final) return undefined;
    const { roster, self, signer } = this.#config;
    const taken = this.#taken!;
    return this.#outcomeFrame ??= sealFrame(
      "outcome",
      taken.session,
      self,
      outcomeFields({ finalCertificate: this.#finalCertificate! }),
      signer,
      roster.mode,
      u32Bytes(taken.aggregate),
    );
  }

  /** Marks the round final with `finalCertificate`: the `final` stage and event. */
  #finish(finalCertificate: Uint8Array): Output[] {
    const taken = this.#taken!;
    this.#final = true;
    this.#finalCertificate = finalCertificate;
    this.#watch?.stop();
    this.#watch = undefined;
    return [
      this.#stageEvent("final"),
      event({
        type: "final",
        round: this.round,
        view: taken.session.view,
        certificate: finalCertificate,
        leaderCertificate: taken.frame,
        aggregate: taken.aggregate,
        members: taken.members,
      }),
    ];
  }

  #stageEvent(stage: "publish" | "final"): Output {
    return event({
      type: "stage",
      role: "participant",
      round: this.round,
      view: this.#taken!.session.view,
      stage,
    });
  }

  /**
   * Once the unverified co-signatures could reach the threshold, checks them all in one batch —
   * each must sign the taken certificate's hash in its session, with a valid signature (the
   * runtime verifies ML-DSA-65 concurrently) — and reports the final certificate when ≥ t hold.
   */
  async #tryFinal(): Promise<Output[]> {
    const taken = this.#taken!;
    const { roster } = this.#config;
    const { quorum } = approvalQuorum(roster, taken.session);
    if (this.#cosigns.size + this.#unverifiedCosigns.size < quorum) return [];
    const out: Output[] = [];
    const batch = [...this.#unverifiedCosigns.values()].filter((c) => {
      try {
        checkCosignFields(c, taken.session, taken.hash);
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
    if (this.#cosigns.size < quorum) return out;
    const frames = [...this.#cosigns].sort(([a], [b]) => a - b).map(([, f]) => f);
    const certificate = openFrame(taken.frame, roster);
    return [...out, ...this.#finish(encodeFinalCertificate(certificate, frames))];
  }
}
