/**
 * Share entries: one member's sealed share pair for one holder, the unit ShareKeys (sender to
 * leader, one entry per holder) and ShareDelivery (leader to holder, one entry per sender) carry.
 *
 * Classical mode: an entry is `[peer, sealed, shareKemCt, maskKemCt, wrap?]` (the AEAD under the
 * members' signed X25519 keys authenticates the sender). Post-quantum mode: the sender signs the
 * root of its share tree (`share_tree.ts`) once, and each entry carries its authentication path;
 * a ShareKeys entry is `[peer, sealed, shareKemCt, maskKemCt, wrap, path]` (its leaf index is its
 * position; the root signature is the message's), a ShareDelivery entry `[peer, sealed,
 * shareKemCt, maskKemCt, leaf, path, rootSignature]`. `peer` is the recipient in a ShareKeys and
 * the sender in a ShareDelivery; the leader-only `wrap` is in ShareKeys only. Absent attachments
 * are empty byte strings.
 *
 * @module
 */
import { Fields, type Value } from "../encoding/codec.ts";
import { equalBytes } from "../encoding/bytes.ts";
import {
  AEAD_TAG_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
  XWING_CIPHERTEXT_LENGTH,
} from "../crypto/mod.ts";
import { ensure } from "../errors.ts";
import type { Roster } from "../federation/roster.ts";
import { verifyMemberPostQuantumSignature } from "../federation/signer.ts";
import {
  maxPathLength,
  rootFromPath,
  SHARE_NODE_LENGTH,
  shareLeaf,
  shareRootPayload,
} from "./share_tree.ts";

/** Plaintext of an encrypted share pair: share of the self-mask seed ‖ of the mask seed. */
export const SHARE_LENGTH = 32;
/** Sealed share pair: 2 × 32 bytes plus the AEAD tag. */
export const SEALED_SHARES_LENGTH = 2 * SHARE_LENGTH + AEAD_TAG_LENGTH;
/** A wrapped pair secret (post-quantum mode): 32 bytes plus the AEAD tag. */
export const WRAP_LENGTH = 32 + AEAD_TAG_LENGTH;

/**
 * One encrypted share pair with its post-quantum attachments. `peer` is the recipient in a
 * ShareKeys message and the sender in a ShareDelivery. Empty byte strings (an empty path, leaf 0)
 * stand for absent attachments (always absent in classical mode, whose wire entries have none).
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
  /** Post-quantum mode: the entry's index among the leaves of its sender's share tree. */
  readonly leaf: number;
  /** Post-quantum mode: the entry's authentication path in its sender's share tree. */
  readonly path: readonly Uint8Array[];
  /**
   * Post-quantum mode: the sender's ML-DSA-65 signature of its share tree's root
   * (`shareRootPayload`), relayed to the recipient, who checks it with {@link verifyShareEntry}.
   * One signature for all the sender's entries: a ShareKeys carries it once.
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
 * The root of `sender`'s share tree that `entry` (to `recipient`, in the session of
 * `sessionHash`) leads to through its leaf index and path, or null when they do not fit.
 */
export function entryRoot(
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  entry: Pick<ShareEntry, "sealed" | "shareKemCt" | "maskKemCt" | "leaf" | "path">,
): Uint8Array | null {
  return rootFromPath(shareLeaf(sessionHash, sender, recipient, entry), entry.leaf, entry.path);
}

/**
 * Roots already verified as signed, per sender, for one session: a holder that checked a sender's
 * root once (for instance in a delivery it then refused for another entry) need not check its
 * signature again. Keep one per session: the roots are bound to it.
 */
export type VerifiedRoots = Map<number, { root: Uint8Array; signature: Uint8Array }>;

/**
 * True when `entry` (from `sender` to `recipient` in the session of `sessionHash`) carries the
 * authentication the roster's mode requires: in post-quantum mode a path from its leaf to a root
 * that `sender` signed (ML-DSA-65, `shareRootPayload`) with `entry.signature`, in classical mode
 * none (no path, no signature: the AEAD under the members' signed X25519 keys authenticates the
 * sender). A root and signature found in `verified` (this session's, for `sender`) are not
 * checked again; a newly verified one is recorded there. Never rejects.
 */
export async function verifyShareEntry(
  roster: Roster,
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  entry: Pick<ShareEntry, "sealed" | "shareKemCt" | "maskKemCt" | "leaf" | "path" | "signature">,
  verified?: VerifiedRoots,
): Promise<boolean> {
  if (roster.mode === "classical") {
    return entry.signature.length === 0 && entry.path.length === 0 && entry.leaf === 0;
  }
  const root = entryRoot(sessionHash, sender, recipient, entry);
  if (root === null) return false;
  const known = verified?.get(sender);
  if (
    known !== undefined && equalBytes(known.root, root) &&
    equalBytes(known.signature, entry.signature)
  ) {
    return true;
  }
  const ok = await verifyMemberPostQuantumSignature(
    roster,
    sender,
    shareRootPayload(sessionHash, sender, root),
    entry.signature,
  );
  if (ok) verified?.set(sender, { root, signature: entry.signature });
  return ok;
}

/**
 * Reads the entries of a ShareKeys (`selfIsSender`: `self` sent them, `peer` is each recipient,
 * `withWrap`; post-quantum: each with a path, its leaf index its position and `signature` the
 * message's root signature) or of a ShareDelivery to `self` (`peer` is each sender; post-quantum:
 * each with its leaf index, path and its sender's root signature): in strictly increasing peer
 * order, none for `self`, lengths per the mode and direction, paths no longer than the
 * federation's largest tree needs. Refuses naming `peer`, the frame's signer.
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
  rootSignature?: Uint8Array,
): ShareEntry[] {
  let previous = -1;
  // Classical entries have no path or signature (their frames are unchanged from before them).
  const pq = mode === "post-quantum";
  const fields = 4 + (withWrap ? 1 : 0) + (pq ? (selfIsSender ? 1 : 3) : 0);
  const height = maxPathLength(n);
  return list.map((raw, i) => {
    const f = new Fields(raw, fields, `${what} entry ${i}`, peer);
    const other = f.uint(0, "member", n - 1);
    ensure(other > previous, "malformed", `${what} entries are not in increasing order`, peer);
    ensure(other !== self, "inconsistent-lists", `${what} has an entry for its own sender`, peer);
    previous = other;
    const [s, r] = selfIsSender ? [self, other] : [other, self];
    const len = entryLengths(mode, s, r);
    let at = withWrap ? 5 : 4;
    const entry = {
      peer: other,
      sealed: f.bytes(1, "sealed shares", SEALED_SHARES_LENGTH),
      shareKemCt: f.bytes(2, "share ciphertext", len.shareKemCt),
      maskKemCt: f.bytes(3, "mask ciphertext", len.maskKemCt),
      wrap: withWrap ? f.bytes(4, "wrapped pair secret", len.wrap) : new Uint8Array(0),
      leaf: 0,
      path: [] as readonly Uint8Array[],
      signature: new Uint8Array(0),
    };
    if (!pq) return entry;
    const leaf = selfIsSender ? i : f.uint(at++, "leaf index", 2 ** height - 1);
    const path = readPath(f.list(at++, "path", height), `${what} entry ${i} path`, peer);
    const signature = selfIsSender
      ? rootSignature ?? new Uint8Array(0)
      : f.bytes(at, "root signature", len.signature);
    return { ...entry, leaf, path, signature };
  });
}

/** A path's nodes: each a byte string of a node's length. */
function readPath(list: readonly unknown[], what: string, peer: number): Uint8Array[] {
  const f = new Fields(list, list.length, what, peer);
  return list.map((_, k) => f.bytes(k, `node ${k}`, SHARE_NODE_LENGTH));
}

/**
 * The wire form of an entry: classical `[peer, sealed, shareKemCt, maskKemCt, wrap?]`;
 * post-quantum, in a ShareKeys (`withWrap`) with its path appended, in a ShareDelivery with its
 * leaf index, path and root signature.
 */
export function entryFields(e: ShareEntry, mode: Roster["mode"], withWrap: boolean): Value[] {
  const fields: Value[] = [e.peer, e.sealed, e.shareKemCt, e.maskKemCt];
  if (withWrap) fields.push(e.wrap);
  if (mode === "classical") return fields;
  if (withWrap) fields.push(e.path);
  else fields.push(e.leaf, e.path, e.signature);
  return fields;
}
