/**
 * Leave evidence (`docs/protocol.md` §4, "View synchronisation" and "Round deadline"): the
 * signed Leave(r, w) statements a member holds for one round — "the signer has not committed in
 * any view ≤ w of round r and never will" — and the two rules that read them:
 *
 * - **sync**: a member at view v that holds Leave(r, w ≥ v) from at least
 *   {@link syncThreshold} other members moves to view w* + 1, w* being the
 *   {@link syncThreshold}-th largest w held ({@link justifiedView});
 * - **abandon**: a member whose update may be in view m or below (the highest view it sent a
 *   masked input in) and that holds Leave(r, w ≥ m) from {@link abandonQuorum} members knows no
 *   view containing its update can gather t commitments ({@link abandonSigners}).
 *
 * Only the highest valid w per signer is kept, so one round's evidence is at most n numbers.
 * Signatures are checked by whoever records a statement (the endpoint), never here.
 *
 * @module
 */
import type { Roster } from "../federation/roster.ts";

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
 * n − t + c + 1 (which is t when c is the tolerance 2t − n − 1): how many members' Leave(r, w ≥ m)
 * prove that no view ≤ m can still gather t commitments. Of those signers at least
 * n − t + 1 are honest and keep their word, so at most t − 1 members can commit in any such view.
 */
export function abandonQuorum(roster: Pick<Roster, "threshold" | "members">): number {
  return roster.members.length - roster.threshold + corruptTolerance(roster) + 1;
}

/** One round's Leave evidence: the highest valid w held per signer. */
export class RoundLeaves {
  /** The round. */
  readonly round: number;
  readonly #highest = new Map<number, number>();

  /** No evidence yet for `round`. */
  constructor(round: number) {
    this.round = round;
  }

  /** The highest w held from `signer`, if any. */
  highest(signer: number): number | undefined {
    return this.#highest.get(signer);
  }

  /** True when Leave(round, w) from `signer` would raise what is held (worth verifying). */
  raises(signer: number, w: number): boolean {
    return w > (this.#highest.get(signer) ?? -1);
  }

  /** Keeps Leave(round, w) from `signer` (already verified); returns whether it raised the held w. */
  record(signer: number, w: number): boolean {
    if (!this.raises(signer, w)) return false;
    this.#highest.set(signer, w);
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
}

/**
 * The signers that prove no view ≤ `m` can gather t commitments, when there are
 * {@link abandonQuorum} of them: the other members whose Leave has w ≥ m, and `self` when
 * `countSelf` (it did not commit, and has itself promised never to) — else undefined.
 */
export function abandonSigners(
  roster: Pick<Roster, "threshold" | "members">,
  leaves: RoundLeaves,
  m: number,
  self: number,
  countSelf: boolean,
): number[] | undefined {
  const signers = leaves.signersFrom(m, self);
  if (countSelf) signers.push(self);
  signers.sort((a, b) => a - b);
  return signers.length >= abandonQuorum(roster) ? signers : undefined;
}
