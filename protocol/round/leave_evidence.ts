/**
 * Leave evidence (`docs/protocol.md` §4, "View synchronisation" and "Round deadline"): the
 * signed Leave(r, w; promised) statements a member holds for one round — "the signer has left
 * every view ≤ w of round r without committing, and will never commit in a view < promised" —
 * and the two rules that read them:
 *
 * - **sync**: a member at view v that holds Leave(r, w ≥ v) from at least
 *   {@link syncThreshold} other members moves to view w* + 1, w* being the
 *   {@link syncThreshold}-th largest w held ({@link justifiedView});
 * - **abandon**: a member whose update may be in view m or below (the highest view it sent a
 *   masked input in) and that holds Leaves with promised > m from {@link abandonQuorum} members
 *   knows no view containing its update can gather t commitments ({@link abandonSigners}).
 *
 * Only the highest valid w and promise per signer are kept: at most 2n numbers per round.
 * Signatures are checked by whoever records a statement (the endpoint), never here.
 *
 * @module
 */
import type { Roster } from "../federation/roster.ts";
import { sessionOf } from "../federation/session.ts";
import type { MemberSigner } from "../federation/signer.ts";
import { sealFrame } from "../wire/frame.ts";
import { leaveFields, renouncePromise } from "../wire/messages.ts";
import type { Output } from "./events.ts";
import type { MemberSet } from "../math/member_set.ts";

/**
 * c = 2t − n − 1: the most corrupt members the threshold tolerates (two views of a round cannot
 * both complete while fewer than 2t − n members are corrupt, `docs/protocol.md` §4).
 */
export function corruptTolerance(roster: Pick<Roster, "threshold" | "members">): number {
  return Math.max(0, 2 * roster.threshold - roster.members.length - 1);
}

/**
 * e = n − t + 1: how many other members' Leaves move a member to a later view. n − t + 1 members
 * that will never commit in a view prove that view cannot gather t commitments, so moving on
 * loses nothing; and any n − t + 1 members can already stall every view by withholding their
 * messages, so letting that many drag the others forward gives them no power they did not have.
 * Fewer never move anyone: one honest member with a flapping link (whose lost leader makes it
 * leave) cannot drag the others out of a view that is still live.
 */
export function syncThreshold(roster: Pick<Roster, "threshold" | "members">): number {
  return roster.members.length - roster.threshold + 1;
}

/**
 * n − t + c + 1 (which is t when c is the tolerance 2t − n − 1): how many members' promises
 * p > m — never to commit in a view ≤ m, or the renouncement p = n + 1 (never to co-sign a
 * certificate of the round), in any mix — prove that no certificate of a view ≤ m can become
 * final. Of those signers at least n − t + 1 are honest and keep their word, and none of those
 * co-signs such a certificate, so at most t − 1 members can (`docs/protocol.md` §4).
 */
export function abandonQuorum(roster: Pick<Roster, "threshold" | "members">): number {
  return roster.members.length - roster.threshold + corruptTolerance(roster) + 1;
}

/**
 * One round's Leave evidence: per signer, the highest valid w held and the highest `promised`
 * (each Leave's promise is permanent, so the highest one held stands).
 */
export class RoundLeaves {
  /** The round. */
  readonly round: number;
  readonly #highest = new Map<number, number>();
  readonly #promised = new Map<number, number>();

  /** No evidence yet for `round`. */
  constructor(round: number) {
    this.round = round;
  }

  /** The highest w held from `signer`, if any. */
  highest(signer: number): number | undefined {
    return this.#highest.get(signer);
  }

  /**
   * True when Leave(round, w; promised) from `signer` would raise what is held — its w or its
   * promise (worth verifying).
   */
  raises(signer: number, w: number, promised = w + 1): boolean {
    return w > (this.#highest.get(signer) ?? -1) || promised > (this.#promised.get(signer) ?? 0);
  }

  /**
   * Keeps Leave(round, w; promised) from `signer` (already verified; `promised` defaults to
   * w + 1, every view ≤ w); returns whether it raised what was held.
   */
  record(signer: number, w: number, promised = w + 1): boolean {
    if (!this.raises(signer, w, promised)) return false;
    this.#highest.set(signer, Math.max(w, this.#highest.get(signer) ?? -1));
    this.#promised.set(signer, Math.max(promised, this.#promised.get(signer) ?? 0));
    return true;
  }

  /**
   * The view the evidence moves a member at view `view` to: w* + 1, where w* is the `e`-th
   * largest w held from members other than `self` — when at least `e` of them hold w ≥ `view`;
   * else undefined (the member stays).
   */
  justifiedView(view: number, self: number, e: number): number | undefined {
    const ws = [...this.#highest].filter(([s, w]) => s !== self && w >= view).map(([, w]) => w);
    if (ws.length < e) return undefined;
    ws.sort((a, b) => b - a);
    return ws[e - 1] + 1;
  }

  /** The members (sorted) whose held Leave has w ≥ `m`, `self` excluded. */
  signersFrom(m: number, self: number): number[] {
    return [...this.#highest].filter(([s, w]) => s !== self && w >= m).map(([s]) => s)
      .sort((a, b) => a - b);
  }

  /**
   * The members (sorted) whose promise exceeds `m`, `self` excluded: they promised never to commit
   * in any view ≤ `m`, or renounced co-signing the round (promise n + 1).
   */
  promisedBeyond(m: number, self: number): number[] {
    return [...this.#promised].filter(([s, p]) => s !== self && p > m).map(([s]) => s)
      .sort((a, b) => a - b);
  }
}

/**
 * The signers that prove no view ≤ `m` can gather t commitments any more, when there are
 * {@link abandonQuorum} of them: the other members whose Leaves promise never to commit in any
 * view ≤ m (`promised` > m; a view a signer approved and left without committing is not
 * promised: it may still come back to reveal there, a rescue), and `self` when `countSelf` (it
 * did not commit, and gave the round up itself); else undefined.
 *
 * With an approval committee (`approval`, from `approvalQuorum`: a view then completes on t_C
 * committee approvals, each a commitment) the signers must also include at least t_C committee
 * members: s − t_C + c_C + 1 = t_C for the committee's tolerance c_C = 2t_C − s − 1, so at least
 * s − t_C + 1 honest committee members never commit in such a view and it never gathers t_C
 * committee approvals (`docs/protocol.md` §4). The count above still applies: it is what keeps
 * a certificate of such a view from gathering t co-signatures.
 */
export function abandonSigners(
  roster: Pick<Roster, "threshold" | "members">,
  leaves: RoundLeaves,
  m: number,
  self: number,
  countSelf: boolean,
  approval?: { readonly committee: MemberSet | undefined; readonly quorum: number },
): number[] | undefined {
  const signers = leaves.promisedBeyond(m, self);
  if (countSelf) signers.push(self);
  signers.sort((a, b) => a - b);
  if (signers.length < abandonQuorum(roster)) return undefined;
  if (approval?.committee !== undefined) {
    const on = new Set(approval.committee);
    if (signers.filter((s) => on.has(s)).length < approval.quorum) return undefined;
  }
  return signers;
}

/**
 * The renouncement `self` signs for `round` — Leave(round, n − 1; n + 1): it will never co-sign
 * any certificate of the round — and its sends to every other member. One frame for all, so it
 * is also this member's newest Leave for members that are behind.
 */
export async function renouncement(
  config: { readonly roster: Roster; readonly self: number; readonly signer: MemberSigner },
  round: number,
): Promise<{ frame: Uint8Array; sends: Output[] }> {
  const { roster, self, signer } = config;
  const n = roster.members.length;
  const frame = await sealFrame(
    "leave",
    sessionOf(roster, round, n - 1),
    self,
    leaveFields(renouncePromise(n)),
    signer,
    roster.mode,
  );
  const sends: Output[] = [];
  for (let to = 0; to < n; to++) if (to !== self) sends.push({ kind: "send", to, frame });
  return { frame, sends };
}
