/**
 * The key schedule of one session (round, view): a member's fresh ephemeral secrets, the public
 * keys it advertises, and every key derived from them. Each derivation is HKDF-SHA256 under a
 * distinct label (`crypto/domains.ts`) with the session hash and the members involved in its
 * context, so no key is ever reused across sessions, members, directions or purposes.
 *
 * A member has three 32-byte ephemeral seeds per session:
 * - `selfSeed` (b_u): keys its self mask; committed to in AdvertiseKeys and Shamir-shared.
 * - `maskSeed`: its mask-agreement secret, Shamir-shared so that the pair masks of a dropped
 *   member can be removed. Classical: an X25519 key; post-quantum: an X-Wing key plus the key
 *   that wraps the pair secrets this member encapsulated.
 * - `shareSeed`: its share-encryption secret (never shared). Classical: an X25519 key;
 *   post-quantum: an X25519 key (classical authentication) plus an X-Wing key (confidentiality).
 *   Against a quantum computer during the round the shares' sender is authenticated by its
 *   ML-DSA-65 signature on the root of its share tree, which the entry's path leads to
 *   (`wire/share_tree.ts`), not by these keys.
 *
 * @module
 */
import { concat, wipe } from "../encoding/bytes.ts";
import {
  deriveKey,
  framed,
  HASH,
  isLowOrderX25519,
  KDF,
  open,
  type Rng,
  seal,
  sha256,
  taggedHash,
  X25519_LENGTH,
  X25519Key,
  x25519PublicKey,
  XWingDecapsulator,
  xwingPublicKeyValid,
  xwingX25519PublicKey,
} from "../crypto/mod.ts";
import { ProtocolError } from "../errors.ts";
import type { AdvertiseKeys } from "../wire/messages.ts";
import type { Mode } from "../federation/roster.ts";

const NONCE = new Uint8Array(12); // every AEAD key below encrypts exactly one message

/** KDF contexts bind KEM ciphertexts by their SHA-256 (HKDF `info` is capped at 1024 bytes). */
function digest(cipherText: Uint8Array): Uint8Array {
  return cipherText.length === 0 ? cipherText : sha256(cipherText);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** Commitment to a self-mask seed: `taggedHash("self-mask-commitment", session, member, b)`. */
export function selfMaskCommitment(
  sessionHash: Uint8Array,
  member: number,
  selfSeed: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.selfMaskCommitment, sessionHash, u32(member), selfSeed);
}

/** PRG key of a member's self mask. */
export function selfMaskKey(
  sessionHash: Uint8Array,
  member: number,
  selfSeed: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return deriveKey(selfSeed, KDF.selfMaskPrg, sessionHash, u32(member));
}

/**
 * PRG key of the pair mask between members `a` and `b` (order-independent) from their
 * agreement (an X25519 secret, or an X-Wing shared secret together with its ciphertext).
 */
export function pairMaskKey(
  sessionHash: Uint8Array,
  a: number,
  b: number,
  agreement: Uint8Array,
  kemCipherText: Uint8Array = new Uint8Array(0),
): Uint8Array<ArrayBuffer> {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return deriveKey(
    agreement,
    KDF.pairMaskPrg,
    sessionHash,
    u32(lo),
    u32(hi),
    digest(kemCipherText),
  );
}

/**
 * AEAD key for the shares `sender` encrypts to `recipient`: from their static-static X25519
 * agreement (authenticated: both keys are signed) and, in post-quantum mode, the X-Wing secret
 * the sender encapsulated to the recipient (confidentiality against a future quantum attacker).
 * The X-Wing secret is the sender's choice, so the key authenticates the sender only through
 * X25519: post-quantum entries carry the sender's ML-DSA-65 signature as well (`wire/share_entry.ts`).
 */
function shareKey(
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  dh: Uint8Array,
  kemSecret: Uint8Array,
  kemCipherText: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const ikm = concat(dh, kemSecret);
  try {
    return deriveKey(
      ikm,
      KDF.shareEncryption,
      sessionHash,
      u32(sender),
      u32(recipient),
      digest(kemCipherText),
    );
  } finally {
    ikm.fill(0);
  }
}

/** Associated data of a sealed share pair: session, direction and the attached mask ciphertext. */
function shareAd(
  sessionHash: Uint8Array,
  sender: number,
  recipient: number,
  maskKemCt: Uint8Array,
): Uint8Array {
  return framed("fedagg/v1/ad/shares", sessionHash, u32(sender), u32(recipient), maskKemCt);
}

/** Key wrapping the pair secret `sender` encapsulated to `recipient`, derived from its mask seed. */
function wrapKey(
  sessionHash: Uint8Array,
  maskSeed: Uint8Array,
  sender: number,
  recipient: number,
): Uint8Array<ArrayBuffer> {
  return deriveKey(maskSeed, KDF.maskWrap, sessionHash, u32(sender), u32(recipient));
}

/** Wraps the pair secret `sender` encapsulated to `recipient` under the sender's mask seed. */
export function wrapPairSecret(
  sessionHash: Uint8Array,
  maskSeed: Uint8Array,
  sender: number,
  recipient: number,
  pairSecret: Uint8Array,
  maskKemCt: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const key = wrapKey(sessionHash, maskSeed, sender, recipient);
  try {
    return seal(key, NONCE, pairSecret, shareAd(sessionHash, sender, recipient, maskKemCt));
  } finally {
    key.fill(0);
  }
}

/** Unwraps a pair secret with the (reconstructed) mask seed of its sender; undefined if forged. */
export function unwrapPairSecret(
  sessionHash: Uint8Array,
  maskSeed: Uint8Array,
  sender: number,
  recipient: number,
  wrapped: Uint8Array,
  maskKemCt: Uint8Array,
): Uint8Array<ArrayBuffer> | undefined {
  const key = wrapKey(sessionHash, maskSeed, sender, recipient);
  try {
    return open(key, NONCE, wrapped, shareAd(sessionHash, sender, recipient, maskKemCt));
  } finally {
    key.fill(0);
  }
}

/** The X25519 private key of a mask seed (classical mode). */
export function maskX25519Secret(maskSeed: Uint8Array): Uint8Array<ArrayBuffer> {
  return deriveKey(maskSeed, KDF.maskX25519);
}

/** The X-Wing seed of a mask seed (post-quantum mode). */
export function maskXWingSeed(maskSeed: Uint8Array): Uint8Array<ArrayBuffer> {
  return deriveKey(maskSeed, KDF.maskXWing);
}

/**
 * True when `maskSeed` is the seed behind the advertised mask public key `maskKey` (constant
 * time in the candidate: used by the leader to check a reconstructed seed). In post-quantum
 * mode the X25519 half of the X-Wing key is compared, which binds the whole seed.
 */
export function maskSeedMatches(mode: Mode, maskSeed: Uint8Array, maskKey: Uint8Array): boolean {
  if (mode === "classical") {
    const sk = maskX25519Secret(maskSeed);
    try {
      return equalPublic(x25519PublicKey(sk), maskKey);
    } finally {
      sk.fill(0);
    }
  }
  const seed = maskXWingSeed(maskSeed);
  try {
    return equalPublic(xwingX25519PublicKey(seed), maskKey.subarray(maskKey.length - 32));
  } finally {
    seed.fill(0);
  }
}

function equalPublic(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i] ^ b[i];
  return acc === 0;
}

/**
 * Refuses (`malformed`, naming `member`) an X25519 point that is low-order: any agreement with it
 * would be all zeros. Used on advertised keys and on the X25519 halves of X-Wing ciphertexts.
 */
export function checkX25519Point(point: Uint8Array, what: string, member: number): void {
  if (isLowOrderX25519(point)) {
    throw new ProtocolError("malformed", `${what} is a low-order X25519 point`, member);
  }
}

/**
 * Refuses (`malformed`, naming the member) advertised keys that cannot be used safely: X25519
 * keys (or X25519 halves of X-Wing keys) that are low-order points, and X-Wing keys whose
 * ML-KEM-768 part fails the FIPS 203 encapsulation-key check. Lengths are checked by the codec.
 */
export async function validateAdvertiseKeys(
  mode: Mode,
  advertise: AdvertiseKeys,
  member: number,
): Promise<void> {
  checkX25519Point(advertise.shareKey.subarray(0, X25519_LENGTH), "share key", member);
  if (mode === "classical") {
    checkX25519Point(advertise.maskKey, "mask key", member);
    return;
  }
  const shareKem = advertise.shareKey.subarray(X25519_LENGTH);
  checkX25519Point(shareKem.subarray(shareKem.length - 32), "share key (X-Wing)", member);
  checkX25519Point(
    advertise.maskKey.subarray(advertise.maskKey.length - 32),
    "mask key (X-Wing)",
    member,
  );
  for (const [what, key] of [["share key", shareKem], ["mask key", advertise.maskKey]] as const) {
    if (!await xwingPublicKeyValid(key)) {
      throw new ProtocolError("malformed", `${what} has an invalid ML-KEM-768 part`, member);
    }
  }
}

/** A member's ephemeral keys for one session. Call {@link RoundKeys.wipe} when it ends. */
export class RoundKeys {
  /** The public part, as advertised. */
  readonly advertise: AdvertiseKeys;
  readonly #mode: Mode;
  readonly #sessionHash: Uint8Array;
  readonly #self: number;
  readonly #selfSeed: Uint8Array;
  readonly #maskSeed: Uint8Array;
  readonly #shareSecret: Uint8Array;
  readonly #maskSecret: Uint8Array | undefined;
  /**
   * The X25519 share and (classical) mask keys, imported once for the view's agreements;
   * dropped by {@link wipe} (after which agreements use the zeroed bytes, as before the cache).
   */
  #shareX: X25519Key | undefined;
  #maskX: X25519Key | undefined;
  readonly #shareKem: XWingDecapsulator | undefined;
  readonly #maskKem: XWingDecapsulator | undefined;

  private constructor(
    mode: Mode,
    sessionHash: Uint8Array,
    self: number,
    seeds: { selfSeed: Uint8Array; maskSeed: Uint8Array; shareSecret: Uint8Array },
    maskSecret: Uint8Array | undefined,
    shareKem: XWingDecapsulator | undefined,
    maskKem: XWingDecapsulator | undefined,
    advertise: AdvertiseKeys,
  ) {
    this.#mode = mode;
    this.#sessionHash = sessionHash;
    this.#self = self;
    this.#selfSeed = seeds.selfSeed;
    this.#maskSeed = seeds.maskSeed;
    this.#shareSecret = seeds.shareSecret;
    this.#maskSecret = maskSecret;
    this.#shareX = new X25519Key(seeds.shareSecret);
    this.#maskX = maskSecret === undefined ? undefined : new X25519Key(maskSecret);
    this.#shareKem = shareKem;
    this.#maskKem = maskKem;
    this.advertise = advertise;
  }

  /** Draws fresh seeds from `rng` and derives the keys for `self` in the session. */
  static async generate(
    mode: Mode,
    sessionHash: Uint8Array,
    self: number,
    rng: Rng,
  ): Promise<RoundKeys> {
    const selfSeed = rng(32);
    const maskSeed = rng(32);
    const shareSeed = rng(32);
    const shareSecret = deriveKey(shareSeed, KDF.shareX25519);
    const commitment = selfMaskCommitment(sessionHash, self, selfSeed);
    const seeds = { selfSeed, maskSeed, shareSecret };
    try {
      if (mode === "classical") {
        const maskSecret = maskX25519Secret(maskSeed);
        return new RoundKeys(mode, sessionHash, self, seeds, maskSecret, undefined, undefined, {
          shareKey: x25519PublicKey(shareSecret),
          maskKey: x25519PublicKey(maskSecret),
          commitment,
        });
      }
      const shareXWingSeed = deriveKey(shareSeed, KDF.shareXWing);
      const maskXWing = maskXWingSeed(maskSeed);
      const [shareKem, maskKem] = await Promise.all([
        XWingDecapsulator.fromSeed(shareXWingSeed),
        XWingDecapsulator.fromSeed(maskXWing),
      ]);
      wipe(shareXWingSeed, maskXWing);
      return new RoundKeys(mode, sessionHash, self, seeds, undefined, shareKem, maskKem, {
        shareKey: concat(x25519PublicKey(shareSecret), shareKem.publicKey),
        maskKey: maskKem.publicKey,
        commitment,
      });
    } finally {
      shareSeed.fill(0);
    }
  }

  /** The self-mask seed b_u (to be Shamir-shared). */
  get selfSeed(): Uint8Array {
    return this.#selfSeed;
  }

  /** The mask-agreement seed (to be Shamir-shared). */
  get maskSeed(): Uint8Array {
    return this.#maskSeed;
  }

  /** PRG key of this member's self mask. */
  selfMaskKey(): Uint8Array<ArrayBuffer> {
    return selfMaskKey(this.#sessionHash, this.#self, this.#selfSeed);
  }

  /**
   * Seals this member's share pair for `recipient` (whose advertised share key is `peerShareKey`).
   * In post-quantum mode `encapsulate` supplies the X-Wing ciphertext and secret to the
   * recipient's X-Wing share key. `maskKemCt` is bound as associated data.
   */
  sealShares(
    recipient: number,
    peerShareKey: Uint8Array,
    plaintext: Uint8Array,
    maskKemCt: Uint8Array,
    kem: { cipherText: Uint8Array; sharedSecret: Uint8Array } | undefined,
  ): Uint8Array<ArrayBuffer> {
    const dh = (this.#shareX ?? new X25519Key(this.#shareSecret))
      .agree(peerShareKey.subarray(0, X25519_LENGTH));
    const key = shareKey(
      this.#sessionHash,
      this.#self,
      recipient,
      dh,
      kem?.sharedSecret ?? new Uint8Array(0),
      kem?.cipherText ?? new Uint8Array(0),
    );
    try {
      return seal(
        key,
        NONCE,
        plaintext,
        shareAd(this.#sessionHash, this.#self, recipient, maskKemCt),
      );
    } finally {
      wipe(dh, key);
    }
  }

  /**
   * Opens the share pair `sender` sealed to this member; undefined when it does not
   * authenticate (tampered ciphertext, attachments or keys). Throws RangeError on a malformed
   * X25519 or X-Wing key or ciphertext.
   */
  async openShares(
    sender: number,
    peerShareKey: Uint8Array,
    sealed: Uint8Array,
    shareKemCt: Uint8Array,
    maskKemCt: Uint8Array,
  ): Promise<Uint8Array<ArrayBuffer> | undefined> {
    const dh = (this.#shareX ?? new X25519Key(this.#shareSecret))
      .agree(peerShareKey.subarray(0, X25519_LENGTH));
    const kemSecret = this.#shareKem === undefined
      ? new Uint8Array(0)
      : await this.#shareKem.decapsulate(shareKemCt);
    const key = shareKey(this.#sessionHash, sender, this.#self, dh, kemSecret, shareKemCt);
    try {
      return open(key, NONCE, sealed, shareAd(this.#sessionHash, sender, this.#self, maskKemCt));
    } finally {
      wipe(dh, kemSecret, key);
    }
  }

  /** Classical mode: the pair-mask PRG key with `peer` from its advertised mask key. */
  classicalPairKey(peer: number, peerMaskKey: Uint8Array): Uint8Array<ArrayBuffer> {
    if (this.#maskSecret === undefined) throw new Error("not a classical session");
    const dh = (this.#maskX ?? new X25519Key(this.#maskSecret)).agree(peerMaskKey);
    try {
      return pairMaskKey(this.#sessionHash, this.#self, peer, dh);
    } finally {
      dh.fill(0);
    }
  }

  /** Post-quantum mode: decapsulates the pair secret a lower-indexed peer encapsulated to us. */
  async decapsulatePairSecret(maskKemCt: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#maskKem === undefined) throw new Error("not a post-quantum session");
    return await this.#maskKem.decapsulate(maskKemCt);
  }

  /**
   * Zeroes every secret this object holds and drops the imported key objects (which cannot be
   * zeroed and go to the GC).
   */
  wipe(): void {
    wipe(this.#selfSeed, this.#maskSeed, this.#shareSecret, this.#maskSecret);
    this.#shareX = undefined;
    this.#maskX = undefined;
    this.#shareKem?.wipe();
    this.#maskKem?.wipe();
  }
}
