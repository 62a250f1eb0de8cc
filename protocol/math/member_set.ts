/**
 * Sets of members as strictly increasing arrays of roster indices (the canonical form the wire
 * uses), with the few set operations the stages need and the hash that approvals sign.
 *
 * @module
 */
import { u64be } from "../encoding/bytes.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";

/** A strictly increasing list of roster indices. */
export type MemberSet = readonly number[];

/** Hash of a member set within a session: what approvals and masked inputs commit to. */
export function memberSetHash(sessionHash: Uint8Array, set: MemberSet): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.memberList, sessionHash, ...set.map((i) => u64be(i)));
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
