/**
 * A member's approval of a roster: its signature over the roster hash, which covers the
 * parameters and every member's keys. A federation runs only a roster every member approved, so
 * nobody can be enrolled, dropped or have a key swapped without all members agreeing.
 *
 * The signed bytes are the canonical CBOR array `[SIGN.rosterApproval, rosterHash]`
 * (`"fedagg/v1/sig/roster"`, see `crypto/domains.ts`), a tag no round message uses, so an
 * approval can never pass for a message and no message for an approval. In post-quantum mode
 * the approval is a hybrid signature (Ed25519 and ML-DSA-65), in classical mode Ed25519 alone.
 *
 * @module
 */
import { encode } from "../encoding/codec.ts";
import { SIGN } from "../crypto/domains.ts";
import type { Roster } from "./roster.ts";
import { type MemberSigner, type Signature, verifyMemberSignature } from "./signer.ts";

/** The bytes a member signs to approve the roster whose hash is `roster.hash`. */
export function rosterApprovalPayload(roster: Pick<Roster, "hash">): Uint8Array {
  return encode([SIGN.rosterApproval, roster.hash]);
}

/**
 * `signer`'s approval of `roster`: hybrid in post-quantum mode. Throws (Error) in post-quantum
 * mode when `signer` has no ML-DSA-65 key. Does not check that `signer` is a member.
 */
export async function approveRoster(roster: Roster, signer: MemberSigner): Promise<Signature> {
  return await signer.sign(rosterApprovalPayload(roster), roster.mode === "post-quantum");
}

/**
 * True when `signature` is roster member `index`'s valid approval of `roster`, in the form the
 * roster's mode requires (hybrid in post-quantum mode, Ed25519 alone in classical mode; see
 * `verifyMemberSignature`). False for an index outside the roster.
 */
export async function verifyRosterApproval(
  roster: Roster,
  index: number,
  signature: Signature,
): Promise<boolean> {
  return await verifyMemberSignature(
    roster,
    index,
    rosterApprovalPayload(roster),
    signature,
    roster.mode === "post-quantum",
  );
}
