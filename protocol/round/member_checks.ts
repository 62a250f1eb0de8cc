/**
 * What a member checks of the leader's answers before it acts on them (`docs/protocol.md` §3):
 * the survivor lists U1, U2 and U3 and the approvals that bind them. Each check refuses with a
 * {@link ProtocolError} naming the leader — it signed the answer, whoever a bad entry in it
 * claims to be — and returns what the member may then rely on.
 *
 * These checks are the consistency guarantee of the protocol: a member shares only with the
 * members whose keys it verified, masks only with those the leader says survived, approves only
 * a U3 within the U2 it was given, and reveals shares only for the lists t members approved,
 * never both secrets of one member.
 *
 * @module
 */
import { equalBytes } from "../encoding/bytes.ts";
import { checkApprovals } from "../certificate/approvals.ts";
import { ensure, ProtocolError, relayedBy } from "../errors.ts";
import type { Roster } from "../federation/roster.ts";
import { roundGroups } from "../federation/round_groups.ts";
import type { Session } from "../federation/session.ts";
import type { NeighbourGraph } from "../graph/graphs.ts";
import {
  difference,
  intersection,
  isSubset,
  type MemberSet,
  sameMembers,
  toMemberSet,
} from "../math/member_set.ts";
import {
  type Envelope,
  expectSession,
  expectType,
  openFrame,
  verifyEnvelope,
} from "../wire/frame.ts";
import {
  type AdvertiseKeys,
  type ConsistencyRequest,
  readAdvertiseKeys,
  readKeyList,
  type ShareDelivery,
  type UnmaskRequest,
} from "../wire/messages.ts";

/** Who is checking: the member, its view's session and the frames it sent in it. */
export interface MemberView {
  readonly roster: Roster;
  /** This member's roster index. */
  readonly self: number;
  readonly session: Session;
  /** The neighbour graph of the session. */
  readonly graph: NeighbourGraph;
  /** This member's own AdvertiseKeys frame of the view. */
  readonly advertFrame: Uint8Array;
}

/** What a checked KeyList gives a member. */
export interface CheckedKeyList {
  /** U1, as a member set. */
  readonly u1: MemberSet;
  /**
   * The advertised keys this member received, by member: all of U1 on the complete graph, this
   * member's closed neighbourhood in U1 on a sparse graph (every neighbour's signature checked).
   */
  readonly keys: Map<number, AdvertiseKeys>;
}

/**
 * The KeyList `env` (U1): every advert of this session, from a distinct member, this member's own
 * byte-identical, at least t members, and its neighbours' signatures valid (checked at once). On
 * a sparse graph U1 is its own field and the list holds exactly the adverts of this member's
 * closed neighbourhood in U1: a missing neighbour's advert or any other member's advert is
 * refused (`inconsistent-lists`), so a leader can neither hide a neighbour the list names nor
 * make a member handle keys it has no use for. The keys' usability (no low-order X25519 point, a
 * valid ML-KEM part) is checked where they are first used, which costs nothing extra.
 */
export async function checkKeyList(view: MemberView, env: Envelope): Promise<CheckedKeyList> {
  const { roster, self } = view;
  const list = readKeyList(env, roster);
  const adverts = new Map<number, { env: Envelope; keys: AdvertiseKeys }>();
  for (const frame of list.adverts) {
    // The leader signed the list: a bad entry is its fault, whoever the entry claims to be.
    try {
      const a = openFrame(frame, roster);
      expectType(a, "advertiseKeys");
      expectSession(a, view.session);
      ensure(!adverts.has(a.sender), "equivocation", `repeats member ${a.sender}`);
      adverts.set(a.sender, { env: a, keys: readAdvertiseKeys(a, roster) });
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      throw relayedBy(err, "key list entry", env.sender);
    }
  }
  const u1 = list.u1 ?? toMemberSet(adverts.keys());
  if (list.u1 !== undefined) {
    const inU1 = new Set(u1);
    const expected = [self, ...view.graph.neighbours(self)].filter((u) => inU1.has(u));
    const stray = [...adverts.keys()].find((u) => !expected.includes(u));
    ensure(
      stray === undefined,
      "inconsistent-lists",
      `the key list forwards the advert of member ${stray}, not a neighbour in U1`,
      env.sender,
    );
    const missing = expected.find((u) => !adverts.has(u));
    ensure(
      missing === undefined || missing === self,
      "inconsistent-lists",
      `the key list names member ${missing} in U1 without its advert`,
      env.sender,
    );
  }
  const own = adverts.get(self);
  ensure(
    own !== undefined && equalBytes(own.env.frame, view.advertFrame),
    "inconsistent-lists",
    "the key list omits or alters this member's own keys",
    env.sender,
  );
  ensure(
    u1.length >= roster.threshold,
    "inconsistent-lists",
    `key list has ${u1.length} members, threshold ${roster.threshold}`,
    env.sender,
  );
  const neighbours = view.graph.neighbours(self).filter((u) => adverts.has(u));
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
  return { u1, keys: new Map([...adverts].map(([i, a]) => [i, a.keys])) };
}

/**
 * The lists of a ShareDelivery from `leader`: U2 within U1, with this member, at least t, and
 * exactly one entry from each of this member's neighbours in U2.
 */
export function checkDelivery(
  view: MemberView,
  delivery: ShareDelivery,
  u1: MemberSet,
  leader: number,
): void {
  const { roster, self } = view;
  const u2 = delivery.u2;
  ensure(isSubset(u2, u1), "inconsistent-lists", "U2 is not a subset of U1", leader);
  ensure(u2.includes(self), "inconsistent-lists", "U2 omits this member", leader);
  ensure(
    u2.length >= roster.threshold,
    "inconsistent-lists",
    `|U2| = ${u2.length} < t = ${roster.threshold}`,
    leader,
  );
  ensure(
    sameMembers(delivery.entries.map((e) => e.peer), intersection(view.graph.neighbours(self), u2)),
    "inconsistent-lists",
    "the delivery does not hold exactly one share pair from each neighbour in U2",
    leader,
  );
}

/**
 * The lists of a ConsistencyRequest from `leader`: the U2 this member was delivered, and U3
 * within it, with this member, at least t; with groups, leaving at least `minGroups` groups
 * with enough inputs.
 */
export function checkConsistencyRequest(
  view: MemberView,
  request: ConsistencyRequest,
  u2: MemberSet,
  leader: number,
): void {
  const { roster, self } = view;
  ensure(
    sameMembers(request.u2, u2),
    "inconsistent-lists",
    "U2 differs from the one delivered",
    leader,
  );
  ensure(
    isSubset(request.u3, request.u2),
    "inconsistent-lists",
    "U3 is not a subset of U2",
    leader,
  );
  ensure(request.u3.includes(self), "inconsistent-lists", "U3 omits this member", leader);
  ensure(
    request.u3.length >= roster.threshold,
    "inconsistent-lists",
    `|U3| = ${request.u3.length} < t = ${roster.threshold}`,
    leader,
  );
  const rg = roundGroups(roster, view.session.round);
  if (rg !== undefined) {
    // An honest leader waits for enough groups: a U3 that leaves fewer could never complete.
    const eligible = rg.eligible(request.u3).length;
    ensure(
      eligible >= rg.minGroups,
      "inconsistent-lists",
      `U3 leaves ${eligible} groups with enough inputs, the round needs ${rg.minGroups}`,
      leader,
    );
  }
}

/**
 * Whether this member reveals its shares in the unmask stage for the approved `u3`: always
 * without groups; with groups only when its group's inputs in U3 reach the group's need (its
 * threshold and the roster's `minGroupSize`), so a leader that declares a group's members
 * dropped never gets a sum of fewer inputs (`round_groups.ts`).
 */
export function revealsShares(view: MemberView, u3: MemberSet): boolean {
  const rg = roundGroups(view.roster, view.session.round);
  if (rg === undefined) return true;
  return rg.eligible(u3).includes(rg.partition.groupOf(view.self));
}

/**
 * An UnmaskRequest from `leader`: no member on both lists; `alive` the U3 this member approved;
 * `dropped` exactly U2 \ U3; and ≥ t distinct members of U3 (with an approval committee, t_C of
 * its members) validly approved (U2, U3) in this
 * session (`checkApprovals`, with this member's cache of approvals already verified). Returns
 * the refusals of individual approvals that did not count.
 */
export async function checkUnmaskRequest(
  view: MemberView,
  request: UnmaskRequest,
  approved: { readonly u2: MemberSet; readonly u2Hash: Uint8Array; readonly u3: MemberSet },
  leader: number,
  verifiedApprovals: Set<string>,
): Promise<readonly ProtocolError[]> {
  const both = intersection(request.alive, request.dropped);
  ensure(
    both.length === 0,
    "inconsistent-lists",
    `the request lists member ${both[0]} as both alive and dropped`,
    leader,
  );
  ensure(
    sameMembers(request.alive, approved.u3),
    "inconsistent-lists",
    "the alive list differs from the approved U3",
    leader,
  );
  ensure(
    sameMembers(request.dropped, difference(approved.u2, approved.u3)),
    "inconsistent-lists",
    "the dropped list is not U2 \\ U3",
    leader,
  );
  const { refused } = await checkApprovals(
    view.roster,
    view.session,
    request.approvals,
    approved.u3,
    approved.u2Hash,
    leader,
    verifiedApprovals,
  );
  return refused;
}
