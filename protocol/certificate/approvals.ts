/**
 * The consistency check's evidence: a set of Approval frames in which at least t distinct
 * members of U3 signed the same (session, H(U2), H(U3)) — on a roster with an approval committee
 * (`graph/committee.ts`), at least t_C distinct members of U3 on the round's committee. A member
 * reveals nothing before it has seen such a set, and a certificate is only as good as the set it
 * carries, so a leader cannot show different survivor sets to different members.
 *
 * @module
 */
import { equalBytes, toHex } from "../encoding/bytes.ts";
import { sha256 } from "../crypto/mod.ts";
import { ensure, ProtocolError, relayedBy } from "../errors.ts";
import { type MemberSet, memberSetHash } from "../math/member_set.ts";
import { type Envelope, expectSession, openFrame, verifyEnvelope } from "../wire/frame.ts";
import { readApproval } from "../wire/messages.ts";
import type { Roster } from "../federation/roster.ts";
import { type Session, sessionHash } from "../federation/session.ts";
import { approvalQuorum } from "../graph/committee.ts";

/** The outcome of checking a set of approvals. */
export interface CheckedApprovals {
  /** Members whose approval is valid, ascending. */
  readonly approvers: MemberSet;
  /** Refusals of individual approvals (forged, foreign, duplicated, mismatched). */
  readonly refused: readonly ProtocolError[];
}

/**
 * Checks `frames` as approvals of `u3` (and of `u2Hash`) in `session`. Each frame must be an
 * Approval of this session by a distinct member of U3 (`equivocation` for a second one; on a
 * roster with an approval committee, a member of the round's committee, else
 * `inconsistent-lists`), sign `u2Hash` and H(`u3`), and carry a valid signature; invalid frames
 * are reported in `refused` and do not count. Refusals name `relayer` (the leader that chose to
 * relay the frame) as the peer, and the member the frame claims to come from in the detail: a
 * forged or foreign approval says nothing about that member. Refuses with
 * `insufficient-approvals` (naming the counts) when fewer than the quorum remain: the roster
 * threshold t, or with a committee its quorum t_C (`approvalQuorum`).
 *
 * `verified`, when given, holds the SHA-256 (hex) of frames whose signatures this caller has
 * already checked: they are not verified again, and newly verified frames are added.
 */
export async function checkApprovals(
  roster: Roster,
  session: Session,
  frames: readonly Uint8Array[],
  u3: MemberSet,
  u2Hash: Uint8Array,
  relayer: number,
  verified?: Set<string>,
): Promise<CheckedApprovals> {
  const { committee, quorum } = approvalQuorum(roster, session);
  const { candidates, refused } = approvalsOf(
    roster,
    session,
    frames,
    u3,
    u2Hash,
    relayer,
    committee,
  );
  // Digests only serve the cache: without one, nothing is hashed.
  const cache = verified && {
    verified,
    digests: candidates.map((env) => toHex(sha256(env.frame))),
  };
  const valid = await Promise.all(
    candidates.map((env, i) =>
      cache?.verified.has(cache.digests[i]) || verifyEnvelope(roster, env)
    ),
  );
  const approvers: number[] = [];
  candidates.forEach((env, i) => {
    if (valid[i]) {
      approvers.push(env.sender);
      cache?.verified.add(cache.digests[i]);
    } else {
      refused.push(
        new ProtocolError("bad-signature", `approval claiming member ${env.sender}`, relayer),
      );
    }
  });
  approvers.sort((a, b) => a - b);
  if (approvers.length < quorum) {
    // Name what did not count (the first few), so the refusal says why the quorum is missing.
    const why = refused.slice(0, 4).map((e) => e.message.replace(/^[a-z-]+ from member \d+: /, ""));
    const more = refused.length > 4 ? `; ${refused.length - 4} more` : "";
    throw new ProtocolError(
      "insufficient-approvals",
      (committee === undefined
        ? `${approvers.length} valid approvals of ${frames.length} relayed, threshold ${quorum}`
        : `${approvers.length} valid approvals from the ${committee.length}-member approval ` +
          `committee of ${frames.length} relayed, quorum ${quorum}`) +
        (why.length === 0 ? "" : ` (did not count: ${why.join("; ")}${more})`),
      relayer,
    );
  }
  return { approvers, refused };
}

/**
 * The frames that are Approvals of (`u2Hash`, H(`u3`)) in `session` by distinct members of U3
 * (and of `committee`, when given), signatures unchecked; the others refused, naming `relayer`.
 */
function approvalsOf(
  roster: Roster,
  session: Session,
  frames: readonly Uint8Array[],
  u3: MemberSet,
  u2Hash: Uint8Array,
  relayer: number,
  committee: readonly number[] | undefined,
): { candidates: Envelope[]; refused: ProtocolError[] } {
  const u3Hash = memberSetHash(sessionHash(session), u3);
  const inU3 = new Set(u3);
  const onCommittee = committee && new Set(committee);
  const seen = new Set<number>();
  const refused: ProtocolError[] = [];
  const candidates: Envelope[] = [];
  for (const frame of frames) {
    try {
      const env = openFrame(frame, roster);
      expectSession(env, session);
      const approval = readApproval(env);
      ensure(
        inU3.has(env.sender),
        "inconsistent-lists",
        "approval from a member not in U3",
        env.sender,
      );
      ensure(
        onCommittee === undefined || onCommittee.has(env.sender),
        "inconsistent-lists",
        `approval from a member not on round ${session.round}'s approval committee`,
        env.sender,
      );
      ensure(!seen.has(env.sender), "equivocation", "two approvals from one member", env.sender);
      seen.add(env.sender);
      ensure(
        equalBytes(approval.u2Hash, u2Hash) && equalBytes(approval.u3Hash, u3Hash),
        "inconsistent-lists",
        "approval signs different survivor lists",
        env.sender,
      );
      candidates.push(env);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      refused.push(relayedBy(err, "approval", relayer));
    }
  }
  return { candidates, refused };
}
