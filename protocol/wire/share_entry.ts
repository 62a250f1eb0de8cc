/**
 * Share entries: one member's sealed share pair for one holder, the unit ShareKeys (sender to
 * leader, one entry per holder) and ShareDelivery (leader to holder, one entry per sender) carry.
 *
 * An entry is `[peer, sealed, shareKemCt, maskKemCt, wrap?, signature?]`: `peer` is the recipient
 * in a ShareKeys and the sender in a ShareDelivery; the leader-only `wrap` is in ShareKeys only;
 * the `signature` element exists in post-quantum mode only (classical entries are unchanged from
 * before it was added). Absent attachments are empty byte strings.
 *
 * @module
 */
import { encode, Fields, type Value } from "../encoding/codec.ts";
import {
  AEAD_TAG_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
  XWING_CIPHERTEXT_LENGTH,
} from "../crypto/mod.ts";
import { SIGN } from "../crypto/domains.ts";
import { ensure } from "../errors.ts";
import type { Roster } from "../federation/roster.ts";
import { verifyMemberPostQuantumSignature } from "../federation/signer.ts";

/** Plaintext of an encrypted share pair: share of the self-mask seed ‖ of the mask seed. */
export const SHARE_LENGTH = 32;
/** Sealed share pair: 2 × 32 bytes plus the AEAD tag. */
export const SEALED_SHARES_LENGTH = 2 * SHARE_LENGTH + AEAD_TAG_LENGTH;
/** A wrapped pair secret (post-quantum mode): 32 bytes plus the AEAD tag. */
export const WRAP_LENGTH = 32 + AEAD_TAG_LENGTH;

/**
 * One encrypted share pair with its post-quantum attachments. `peer` is the recipient in a
 * ShareKeys message and the sender in a ShareDelivery. Empty byte strings stand for absent
 * attachments (always absent in classical mode, where the wire entry has no signature element).
 */
export interface ShareEntry {
  readonly peer: number;
  readonly sealed: Uint8Array;
  /** X-Wing ciphertext to the recipient's share key. */
  readonly shareKemCt: Uint8Array;
  /** X-Wing ciphertext to the recipient's mask key (only from the lower to the higher index). */
  readonly maskKemCt: Uint8Array;
  /** The encapsulated pair secret wrapped under the sender's mask seed (leader-only). */
  readonly wrap: Uint8Array;
  /**
   * Post-quantum mode: the sender's ML-DSA-65 signature of {@link shareEntryPayload}, relayed to
   * the recipient, who checks it with {@link verifyShareEntry}.
   */
  readonly signature: Uint8Array;
}

/** Lengths an entry from `sender` to `recipient` must have under the roster's mode. */
export function entryLengths(
  mode: Roster["mode"],
  sender: number,
  recipient: number,
): { shareKemCt: number; maskKemCt: number; wrap: number; signature: number } {
  if (mode === "classical") return { shareKemCt: 0, maskKemCt: 0, wrap: 0, signature: 0 };
  const encapsulates = sender < recipient;
  return {
    shareKemCt: XWING_CIPHERTEXT_LENGTH,
    maskKemCt: encapsulates ? XWING_CIPHERTEXT_LENGTH : 0,
    wrap: encapsulates ? WRAP_LENGTH : 0,
    signature: ML_DSA65_SIGNATURE_LENGTH,
  };
}

/**
 * The bytes `sender` signs (ML-DSA-65, post-quantum mode) for its entry to `recipient`: the
 * canonical CBOR array `[SIGN.shareEntry, sessionHash, sender, recipient, sealed, shareKemCt,
 * maskKemCt]` — everything of the entry that reaches the recipient, bound to the session and the
 * direction. The leader relays entries inside its own frame, whose Ed25519 signature vouches for
 * nothing of the sender's; this signature does, also against a quantum computer.
 */
export function shareEntryPayload(
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  entry: Pick<ShareEntry, "sealed" | "shareKemCt" | "maskKemCt">,
): Uint8Array {
  return encode([
    SIGN.shareEntry,
    sessionHash,
    sender,
    recipient,
    entry.sealed,
    entry.shareKemCt,
    entry.maskKemCt,
  ]);
}

/**
 * True when `entry` (from `sender` to `recipient` in the session of `sessionHash`) carries the
 * signature the roster's mode requires: in post-quantum mode `sender`'s valid ML-DSA-65
 * signature of {@link shareEntryPayload}, in classical mode none (the AEAD under the members'
 * signed X25519 keys authenticates the sender). Never rejects.
 */
export async function verifyShareEntry(
  roster: Roster,
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  entry: Pick<ShareEntry, "sealed" | "shareKemCt" | "maskKemCt" | "signature">,
): Promise<boolean> {
  if (roster.mode === "classical") return entry.signature.length === 0;
  return await verifyMemberPostQuantumSignature(
    roster,
    sender,
    shareEntryPayload(sessionHash, sender, recipient, entry),
    entry.signature,
  );
}

/**
 * Reads the entries of a ShareKeys (`selfIsSender`: `self` sent them, `peer` is each recipient)
 * or of a ShareDelivery to `self` (`peer` is each sender): in strictly increasing peer order,
 * none for `self`, lengths per the mode and direction. Refuses naming `peer`, the frame's signer.
 */
export function readEntries(
  list: readonly unknown[],
  mode: Roster["mode"],
  n: number,
  self: number,
  selfIsSender: boolean,
  withWrap: boolean,
  what: string,
  peer: number,
): ShareEntry[] {
  let previous = -1;
  // Classical entries have no signature element (their frames are unchanged from before it).
  const signed = mode === "post-quantum";
  const signatureAt = withWrap ? 5 : 4;
  return list.map((raw, i) => {
    const f = new Fields(raw, signatureAt + (signed ? 1 : 0), `${what} entry ${i}`, peer);
    const other = f.uint(0, "member", n - 1);
    ensure(other > previous, "malformed", `${what} entries are not in increasing order`, peer);
    ensure(other !== self, "inconsistent-lists", `${what} has an entry for its own sender`, peer);
    previous = other;
    const [s, r] = selfIsSender ? [self, other] : [other, self];
    const len = entryLengths(mode, s, r);
    return {
      peer: other,
      sealed: f.bytes(1, "sealed shares", SEALED_SHARES_LENGTH),
      shareKemCt: f.bytes(2, "share ciphertext", len.shareKemCt),
      maskKemCt: f.bytes(3, "mask ciphertext", len.maskKemCt),
      wrap: withWrap ? f.bytes(4, "wrapped pair secret", len.wrap) : new Uint8Array(0),
      signature: signed
        ? f.bytes(signatureAt, "entry signature", len.signature)
        : new Uint8Array(0),
    };
  });
}

/** The wire form of an entry: its signature is an element in post-quantum mode only. */
export function entryFields(e: ShareEntry, mode: Roster["mode"], withWrap: boolean): Value[] {
  const fields: Value[] = [e.peer, e.sealed, e.shareKemCt, e.maskKemCt];
  if (withWrap) fields.push(e.wrap);
  if (mode === "post-quantum") fields.push(e.signature);
  return fields;
}
