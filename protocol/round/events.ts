/**
 * What the state machines return: frames to send and events to report. The caller (simulator
 * or node) performs the sends in order and handles the events; nothing here does I/O.
 *
 * @module
 */
import type { ProtocolError } from "../errors.ts";
import type { Stage } from "./stages.ts";

/** Something the caller should know about. Events never contain secrets. */
export type ProtocolEvent =
  /** An input was refused; the machine carries on. */
  | { readonly type: "refused"; readonly error: ProtocolError }
  /** A machine entered a stage. */
  | {
    readonly type: "stage";
    readonly role: "participant" | "leader";
    readonly round: number;
    readonly view: number;
    readonly stage: Stage;
  }
  /** A member abandoned a stalled leader and moved to the next view. */
  | {
    readonly type: "view-change";
    readonly round: number;
    readonly from: number;
    readonly to: number;
  }
  /**
   * A member is about to advertise keys in (round, view): the AdvertiseKeys follows. A node must
   * persist this before sending it, and after a restart resume the round no earlier than view
   * + 1 (`Endpoint.restore`): a member never advertises twice in one session, so its leader never
   * holds two different adverts from it (`docs/protocol.md` §4).
   */
  | { readonly type: "advertised"; readonly round: number; readonly view: number }
  /**
   * A member is about to sign Leave(round, view) — it has not committed in any view ≤ `view` of
   * the round and never will — and send it to every other member. A node must persist this
   * before sending it, and after a restart resume the round no earlier than view + 1 (it may keep
   * it as the advertised view: a Leave's view is never below the last advertised one), so a
   * restarted member never commits in a view it promised to leave (`docs/protocol.md` §4).
   */
  | { readonly type: "left"; readonly round: number; readonly view: number }
  /**
   * A member is about to approve (round, view): from now on it will never act in another view
   * of this round. A node must persist this before sending the approval that follows. Also
   * reported when a member gives a round up (round deadline, view limit) after its masked input
   * left in `view`: it never acts again, and after a restart its outcome is asked for in `view`.
   */
  | { readonly type: "committed"; readonly round: number; readonly view: number }
  /**
   * A member is about to send its masked input in (round, view): from then on a leader may count
   * its update in an aggregate of that view. A node must persist this before sending the
   * MaskedInput that follows, and give it back after a restart (`Endpoint.restore`, `masked`): a
   * restarted member then never withdraws the update, and a give-up of the round ends in
   * `outcome-unknown` (asking how view `view` ended), never `round-failed` on a guess.
   */
  | { readonly type: "masked"; readonly round: number; readonly view: number }
  /**
   * A member committed to `view` of `round` (or bound there by a give-up after its masked input
   * left) reached its round deadline without a certificate, and is about to sign
   * Leave(round, n − 1; n + 1): it never co-signs a certificate of the round from now on
   * (`docs/protocol.md` §4, "Round deadline"). A node must persist this before sending the Leave
   * that follows, and give it back after a restart (`Endpoint.restore`, `renounced`): a
   * restarted member then still co-signs nothing of the round.
   */
  | { readonly type: "renounced"; readonly round: number; readonly view: number }
  /**
   * This member, leading (round, view), is about to send its UnmaskRequest: `record` is its
   * public unmask state (`unmask_record.ts`: adverts, lists, approvals, masked sum — nothing
   * secret). A node persists it before the UnmaskRequest leaves and, after a restart, resumes the
   * leader from it (`Endpoint.resumeLeader`).
   */
  | {
    readonly type: "unmasking";
    readonly round: number;
    readonly view: number;
    readonly record: Uint8Array;
  }
  /**
   * The trainer withdrew this member's update for `round` (`Endpoint.withdraw`) while it was in
   * `view`, before any masked input left: the update is in no aggregate and never will be. A
   * node deletes the journaled update and persists `nextView`, the first view a new update for
   * the round may start in (a member never advertises twice in one session).
   */
  | {
    readonly type: "withdrawn";
    readonly round: number;
    readonly view: number;
    readonly nextView: number;
  }
  /** The leader published an aggregate (participants: a verified certificate arrived). */
  | {
    readonly type: "published";
    readonly round: number;
    readonly view: number;
    /** The certificate frame without its body. */
    readonly certificate: Uint8Array;
    /** The certified hash of the aggregate body, by which members fetch and serve it. */
    readonly aggregateHash: Uint8Array;
    /** The exact integer aggregate: d sums then the total weight. */
    readonly aggregate: Uint32Array;
    /** Roster indices whose inputs the aggregate contains (U3). */
    readonly members: readonly number[];
  }
  /** A certificate gathered ≥ t co-signatures: the aggregate is final. */
  | {
    readonly type: "final";
    readonly round: number;
    readonly view: number;
    /** The encoded final certificate (certificate + co-signatures), see `final.ts`. */
    readonly certificate: Uint8Array;
    /** The leader's certificate frame without its body (as in `published`). */
    readonly leaderCertificate: Uint8Array;
    /** The exact integer aggregate: d sums then the total weight. */
    readonly aggregate: Uint32Array;
    /** Roster indices whose inputs the aggregate contains (U3). */
    readonly members: readonly number[];
  }
  /**
   * A machine hit an unexpected exception (a bug, not bad input). The endpoint caught it so the
   * node keeps running; the machine may be stuck until its timeout. Always worth a loud log.
   */
  | { readonly type: "internal-error"; readonly message: string }
  /**
   * This member took the round's certificate of `view` (`published`) and is still short of t
   * co-signatures: it asked member `to` (a roster index of the round's roster version, like
   * `published.members`) for the final certificate (an OutcomeRequest;
   * `finality_watch.ts`). Not an end of anything — the update is in the published aggregate or
   * not, as `published` said — only a sign that co-signatures went missing (gossip lost them,
   * or this member was restarting or reconnecting as they went out).
   */
  | {
    readonly type: "final-asked";
    readonly round: number;
    readonly view: number;
    readonly to: number;
  }
  /**
   * This member committed to `view` and cannot tell how the round ended (its leader went quiet
   * after it committed, or it restarted after committing): it asks the other members
   * (OutcomeRequests, `asking`; false once it stopped asking). Not an end of the update: the
   * update may be in a certified aggregate, so it must not be reported failed (the trainer could
   * submit it again and have it counted twice); a later `final` (with or without this member) or
   * `round-failed` (`excluded`) ends it. Its raw values are no longer needed: a committed member
   * never acts in another view, so a node may delete them.
   */
  | {
    readonly type: "outcome-unknown";
    readonly round: number;
    readonly view: number;
    readonly reason: string;
    readonly asking: boolean;
  }
  /**
   * The round cannot complete for this machine (reason names the missing piece). For the
   * `participant` (this member's update), it is the end of the update: it is in no certified
   * aggregate and never will be, and the node may delete it. A `leader`'s says only that its
   * session cannot complete; the member's own participant may go on in another view.
   */
  | {
    readonly type: "round-failed";
    readonly role: "participant" | "leader";
    readonly round: number;
    readonly view: number;
    readonly reason: string;
  };

/** One thing for the caller to do. */
export type Output =
  /** Send `frame` to roster member `to`. */
  | { readonly kind: "send"; readonly to: number; readonly frame: Uint8Array }
  /**
   * Send `frame` to every roster member (including this one): a co-signature, or the leader's
   * certificate with the aggregate as its body, which then comes with `published`.
   */
  | { readonly kind: "broadcast"; readonly frame: Uint8Array; readonly published?: PublishedBody }
  /** Report an event. */
  | { readonly kind: "event"; readonly event: ProtocolEvent };

/**
 * The parts of a certificate broadcast, for a driver that gossips the certificate alone and serves
 * the aggregate body by hash (as the node does).
 */
export interface PublishedBody {
  /** The certified round. */
  readonly round: number;
  /** The view whose leader certified it. */
  readonly view: number;
  /** The certificate frame without its body. */
  readonly certificate: Uint8Array;
  /** The certified hash of `body`. */
  readonly aggregateHash: Uint8Array;
  /** The aggregate body: d + 1 little-endian uint32 words. */
  readonly body: Uint8Array;
}

/** Shorthand for an event output. */
export function event(e: ProtocolEvent): Output {
  return { kind: "event", event: e };
}
