/**
 * The share tree (post-quantum mode): a Merkle tree over one sender's share entries, whose root
 * the sender signs once (ML-DSA-65) instead of signing every entry. Each entry travels with its
 * leaf index and authentication path, so its holder checks it against the signed root alone.
 *
 * - A leaf is `taggedHash(HASH.shareLeaf, sessionHash, u64(sender), u64(recipient), sealed,
 *   shareKemCt, maskKemCt)`: everything of the entry that reaches the recipient, bound to the
 *   session and the direction (what the per-entry signature used to cover).
 * - The leaves, in the entries' order, are padded with `taggedHash(HASH.sharePad)` to a power of
 *   two (at least one leaf); an inner node is `taggedHash(HASH.shareNode, left, right)`.
 * - A path lists the siblings from the leaf up; bit k of the leaf index says whether the node at
 *   height k is a right child (1) or a left child (0).
 * - The sender signs `[SIGN.shareRoot, sessionHash, sender, root]` (canonical CBOR).
 *
 * Leaves, padding and inner nodes have distinct labels, so no leaf can pose as a node or as
 * padding, and a path proves that the sender signed exactly this entry for this recipient.
 *
 * @module
 */
import { encode } from "../encoding/codec.ts";
import { u64be } from "../encoding/bytes.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";
import { SIGN } from "../crypto/domains.ts";

/** Length of a tree node (SHA-256). */
export const SHARE_NODE_LENGTH = 32;

/** The fields of an entry that its leaf commits to. */
export interface LeafFields {
  readonly sealed: Uint8Array;
  readonly shareKemCt: Uint8Array;
  readonly maskKemCt: Uint8Array;
}

/** The leaf of `sender`'s entry for `recipient` in the session of `sessionHash`. */
export function shareLeaf(
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  entry: LeafFields,
): Uint8Array {
  return taggedHash(
    HASH.shareLeaf,
    sessionHash,
    u64be(sender),
    u64be(recipient),
    entry.sealed,
    entry.shareKemCt,
    entry.maskKemCt,
  );
}

function node(left: Uint8Array, right: Uint8Array): Uint8Array {
  return taggedHash(HASH.shareNode, left, right);
}

/**
 * The most siblings a path may hold in a federation of `n` members: a sender has at most n − 1
 * entries, so its tree has height ⌈log2(n − 1)⌉ (0 for one entry).
 */
export function maxPathLength(n: number): number {
  let height = 0;
  while ((1 << height) < n - 1) height++;
  return height;
}

/** A share tree: its root and, for each leaf in order, its authentication path. */
export interface ShareTree {
  readonly root: Uint8Array;
  readonly paths: readonly (readonly Uint8Array[])[];
}

/** The share tree over `leaves`, in the entries' order (none: the root is the padding leaf). */
export function shareTree(leaves: readonly Uint8Array[]): ShareTree {
  let width = 1;
  while (width < leaves.length) width *= 2;
  const pad = taggedHash(HASH.sharePad);
  let level: Uint8Array[] = [...leaves];
  while (level.length < width) level.push(pad);
  const paths: Uint8Array[][] = leaves.map(() => []);
  for (let size = 1; level.length > 1; size *= 2) {
    // Leaf i's node at this height is level[i / size]; its sibling is the other child.
    for (let i = 0; i < leaves.length; i++) paths[i].push(level[Math.floor(i / size) ^ 1]);
    const next: Uint8Array[] = [];
    for (let j = 0; j < level.length; j += 2) next.push(node(level[j], level[j + 1]));
    level = next;
  }
  return { root: level[0], paths };
}

/**
 * The root that `leaf` at index `index` with authentication `path` leads to, or null when the
 * index does not fit the path (an index ≥ 2^path.length names no leaf of such a tree).
 */
export function rootFromPath(
  leaf: Uint8Array,
  index: number,
  path: readonly Uint8Array[],
): Uint8Array | null {
  if (!Number.isSafeInteger(index) || index < 0 || index >= 2 ** path.length) return null;
  let current = leaf;
  let i = index;
  for (const sibling of path) {
    current = i % 2 === 0 ? node(current, sibling) : node(sibling, current);
    i = Math.floor(i / 2);
  }
  return current;
}

/** The bytes `sender` signs (ML-DSA-65) for its share tree of root `root`. */
export function shareRootPayload(
  sessionHash: Uint8Array,
  sender: number,
  root: Uint8Array,
): Uint8Array {
  return encode([SIGN.shareRoot, sessionHash, sender, root]);
}
