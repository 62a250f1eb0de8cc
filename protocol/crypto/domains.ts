/**
 * Every domain-separation label of hashes, key derivations and signed statements that are not
 * frames, in one place (the round's message tags are `TAG` in `wire/frame.ts`). Each hash, key
 * derivation, PRG stream and signature purpose has its own label; the test suite checks they are
 * distinct.
 * Changing any of them changes the wire protocol (bump the `v1`).
 *
 * @module
 */

/** Labels for `taggedHash`. */
export const HASH = {
  roster: "fedagg/v1/hash/roster",
  layout: "fedagg/v1/hash/layout",
  /** A roster version after the first: its place in the chain and its roster (`amendment.ts`). */
  rosterVersion: "fedagg/v1/hash/roster-version",
  schedule: "fedagg/v1/hash/schedule",
  session: "fedagg/v1/hash/session",
  graphSeed: "fedagg/v1/hash/graph-seed",
  /** A round's partition into groups (`graph/groups.ts`). */
  groupSeed: "fedagg/v1/hash/group-seed",
  selfMaskCommitment: "fedagg/v1/hash/self-mask-commitment",
  memberList: "fedagg/v1/hash/member-list",
  maskedVector: "fedagg/v1/hash/masked-vector",
  aggregate: "fedagg/v1/hash/aggregate",
  /** One group's certified sum, for display and comparison (`certificate/group_sums.ts`). */
  groupSum: "fedagg/v1/hash/group-sum",
  /** A grouped round's robust result, bound by its certificate (`certificate/robust_result.ts`). */
  robustResult: "fedagg/v1/hash/robust-result",
  certificate: "fedagg/v1/hash/certificate",
  /** A DP round's public rotation key: roster hash and round (`dp/mechanism.ts`). */
  dpRotationKey: "fedagg/v1/hash/dp/rotation-key",
  /**
   * A leaf of a sender's share tree (post-quantum mode): one entry, with the session, the sender
   * and the recipient (`wire/share_tree.ts`).
   */
  shareLeaf: "fedagg/v1/hash/share-leaf",
  /** An inner node of a share tree: its left and right children. */
  shareNode: "fedagg/v1/hash/share-node",
  /** The padding leaf that fills a share tree to a power of two. */
  sharePad: "fedagg/v1/hash/share-pad",
} as const;

/** Labels for `deriveKey` (HKDF-SHA256 info). */
export const KDF = {
  /** Self-mask seed → PRG key. */
  selfMaskPrg: "fedagg/v1/kdf/self-mask-prg",
  /** Pairwise agreement → PRG key. */
  pairMaskPrg: "fedagg/v1/kdf/pair-mask-prg",
  /** Rounding seed → PRG key for stochastic rounding. */
  roundingPrg: "fedagg/v1/kdf/rounding-prg",
  /** Session → PRG key for the neighbour graph. */
  graphPrg: "fedagg/v1/kdf/graph-prg",
  /** A round's graph seed → PRG key for its approval committee (`graph/committee.ts`). */
  committeePrg: "fedagg/v1/kdf/committee-prg",
  /** A round's partition seed → PRG key for the group permutation. */
  groupPrg: "fedagg/v1/kdf/group-prg",
  /** A round's partition seed and a group → PRG key for that group's SecAgg+ relabelling. */
  groupGraphPrg: "fedagg/v1/kdf/group-graph-prg",
  /** Share-encryption agreement → AEAD key, per (sender, recipient). */
  shareEncryption: "fedagg/v1/kdf/share-encryption",
  /** Mask-agreement seed → its X25519 private key. */
  maskX25519: "fedagg/v1/kdf/mask-x25519",
  /** Mask-agreement seed → its X-Wing seed (post-quantum mode). */
  maskXWing: "fedagg/v1/kdf/mask-xwing",
  /** Mask-agreement seed → key wrapping an encapsulated pair secret (post-quantum mode). */
  maskWrap: "fedagg/v1/kdf/mask-wrap",
  /** Share-encryption seed → its X25519 private key. */
  shareX25519: "fedagg/v1/kdf/share-x25519",
  /** Share-encryption seed → its X-Wing seed (post-quantum mode). */
  shareXWing: "fedagg/v1/kdf/share-xwing",
  /** DP rotation key → PRG key for the Hadamard rotation's signs. */
  dpRotation: "fedagg/v1/kdf/dp/rotation",
  /** A DP member's long-term noise key → its seed for one round (roster hash, round). */
  dpMemberSeed: "fedagg/v1/kdf/dp/member-seed",
  /** A DP member's round seed → PRG key for its conditional rounding. */
  dpRounding: "fedagg/v1/kdf/dp/rounding",
  /** A DP member's round seed → PRG key for its discrete Gaussian noise. */
  dpNoise: "fedagg/v1/kdf/dp/noise",
} as const;

/**
 * Tags of signed statements that are not frames (a round's frames carry one tag per message
 * type, `TAG` in `wire/frame.ts`). Each is the first element of the canonical CBOR array that is
 * signed.
 */
export const SIGN = {
  /** A member's approval of a roster: the signed bytes are `[rosterApproval, rosterHash]`. */
  rosterApproval: "fedagg/v1/sig/roster",
  /**
   * A member's approval of a roster amendment: the signed bytes are `[rosterAmendment,
   * previousVersionHash, version, firstRound, nextRosterHash]`.
   */
  rosterAmendment: "fedagg/v1/sig/roster-amendment",
  /**
   * The root of a member's share tree, over all its share entries of a session (post-quantum
   * mode, ML-DSA-65): the signed bytes are `[shareRoot, sessionHash, sender, root]`.
   */
  shareRoot: "fedagg/v1/sig/share-root",
} as const;
