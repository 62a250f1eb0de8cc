/**
 * Sets of members as strictly increasing arrays of roster indices (the canonical form the wire
 * uses), with the few set operations the stages need and the hash that approvals sign.
 *
 * @module
 */
import { framed, HASH, sha256 } from "../crypto/mod.ts";

/** A strictly increasing list of roster indices. */
export type MemberSet = readonly number[];

/**
 * Hash of a member set within a session: what approvals and masked inputs commit to,
 * `taggedHash("member-list", sessionHash, u64be(i) for each member i)`. Computed in one pass over
 * one buffer (the same bytes `taggedHash` frames), so hashing a set of n members costs O(n) time
 * and two allocations, not n of each.
 */
export function memberSetHash(sessionHash: Uint8Array, set: MemberSet): Uint8Array<ArrayBuffer> {
  const body = new Uint8Array(12 * set.length);
  const view = new DataView(body.buffer);
  set.forEach((i, j) => {
    if (!Number.isSafeInteger(i) || i < 0) throw new RangeError(`not a member index: ${i}`);
    view.setUint32(12 * j, 8); // taggedHash's length prefix of a u64be part
    view.setUint32(12 * j + 4, Math.floor(i / 2 ** 32));
    view.setUint32(12 * j + 8, i >>> 0);
  });
  return sha256(framed(HASH.memberList, sessionHash), body);
}

/** The sorted members of an iterable of indices (duplicates removed). */
export function toMemberSet(indices: Iterable<number>): MemberSet {
  return [...new Set(indices)].sort((a, b) => a - b);
}

/** True when every member of `a` is in `b`. */
export function isSubset(a: MemberSet, b: MemberSet): boolean {
  const inB = new Set(b);
  return a.every((x) => inB.has(x));
}

/** Members of `a` not in `b`, in order. */
export function difference(a: MemberSet, b: MemberSet): MemberSet {
  const inB = new Set(b);
  return a.filter((x) => !inB.has(x));
}

/** Members in both `a` and `b`, in order. */
export function intersection(a: MemberSet, b: MemberSet): MemberSet {
  const inB = new Set(b);
  return a.filter((x) => inB.has(x));
}

/** True when the two sets have the same members. */
export function sameMembers(a: MemberSet, b: MemberSet): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
