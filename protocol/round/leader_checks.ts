/**
 * What a leader checks of each member message beyond its frame and signature, before it counts
 * it (`docs/protocol.md` §3): that it fits the lists the leader announced (U1, U2, U3) and the
 * sender's neighbourhood, and what the leader can check of its content. Each refuses with a
 * {@link ProtocolError} naming the sender. The member-side counterparts are `member_checks.ts`.
 *
 * @module
 */
import { equalBytes } from "../encoding/bytes.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import { ensure } from "../errors.ts";
import type { NeighbourGraph } from "../graph/graphs.ts";
import { difference, intersection, type MemberSet, toMemberSet } from "../math/member_set.ts";
import type { Approval, MaskedInput, Unmask } from "../wire/messages.ts";
import type { ShareEntry } from "../wire/share_entry.ts";
import { checkX25519Point } from "./keys.ts";

/**
 * The entries of `sender`'s ShareKeys: exactly one for each of its neighbours in U1, in order,
 * and no X-Wing ciphertext whose X25519 half is low-order (it would only fail at unmasking). The
 * entries' own signatures (post-quantum mode) are left to their holders, who must check them
 * anyway: a bad one costs its holder the view and names this leader, as does an entry that does
 * not open, which no leader can check.
 */
export function checkShareKeys(
  graph: NeighbourGraph,
  u1: MemberSet,
  sender: number,
  entries: readonly ShareEntry[],
): void {
  const expected = intersection(graph.neighbours(sender), u1);
  ensure(
    entries.length === expected.length && entries.every((e, i) => e.peer === expected[i]),
    "inconsistent-lists",
    "share-keys must hold one entry for each neighbour in U1",
    sender,
  );
  for (const e of entries) {
    for (const ct of [e.shareKemCt, e.maskKemCt]) {
      if (ct.length > 0) {
        checkX25519Point(ct.subarray(ct.length - 32), "an X-Wing ciphertext", sender);
      }
    }
  }
}

/**
 * `sender`'s MaskedInput commits to the U2 of hash `u2Hash` and its signed vector hash is the
 * hash of the body it carries, in the session of `sessionHash`.
 */
export function checkMaskedInput(
  sessionHash: Uint8Array,
  u2Hash: Uint8Array,
  sender: number,
  input: MaskedInput & { readonly body: Uint8Array },
): void {
  ensure(
    equalBytes(input.u2Hash, u2Hash),
    "inconsistent-lists",
    "masked input commits to another U2",
    sender,
  );
  ensure(
    equalBytes(taggedHash(HASH.maskedVector, sessionHash, input.body), input.vectorHash),
    "commitment-mismatch",
    "masked vector does not match its signed hash",
    sender,
  );
}

/**
 * `sender`'s Approval approves the lists of hashes `u2Hash` and `u3Hash` (the caller hashes U3
 * once per stage, not once per approval: that was O(n) per approval, O(n²) per round).
 */
export function checkApproval(
  u2Hash: Uint8Array,
  u3Hash: Uint8Array,
  sender: number,
  approval: Approval,
): void {
  ensure(
    equalBytes(approval.u2Hash, u2Hash) && equalBytes(approval.u3Hash, u3Hash),
    "inconsistent-lists",
    "approval of other survivor lists",
    sender,
  );
}

/**
 * `holder`'s Unmask reveals, for every owner in its closed neighbourhood, the share of its
 * self-mask seed if the owner is in U3, of its mask seed if it is in U2 \ U3 — exactly those, and
 * never both for one owner. With `reveals` false (a holder whose group is too small to be
 * unmasked, `round_groups.ts`) it must reveal nothing.
 */
export function checkUnmask(
  graph: NeighbourGraph,
  u2: MemberSet,
  u3: MemberSet,
  holder: number,
  unmask: Unmask,
  reveals = true,
): void {
  const closed = reveals ? toMemberSet([holder, ...graph.neighbours(holder)]) : [];
  const expectedSelf = intersection(closed, u3);
  const expectedMask = intersection(closed, difference(u2, u3));
  const selfOwners = unmask.selfShares.map(([o]) => o);
  const maskOwners = unmask.maskShares.map(([o]) => o);
  const both = intersection(selfOwners, maskOwners);
  ensure(
    both.length === 0,
    "inconsistent-lists",
    `revealed both secrets of member ${both[0]}`,
    holder,
  );
  ensure(
    selfOwners.length === expectedSelf.length &&
      selfOwners.every((o, i) => o === expectedSelf[i]) &&
      maskOwners.length === expectedMask.length &&
      maskOwners.every((o, i) => o === expectedMask[i]),
    "inconsistent-lists",
    "unmask shares do not match the holder's neighbours in U3 and U2 \\ U3",
    holder,
  );
}
