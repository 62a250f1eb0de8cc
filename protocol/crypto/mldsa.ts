/**
 * ML-DSA-65 (FIPS 204) signatures through the runtime's native WebCrypto (Deno ≥ 2.6), keyed by
 * the 32-byte seed of FIPS 204 key generation (the same seed `@noble/post-quantum`'s
 * `ml_dsa65.keygen(seed)` takes; the test suite proves both give the same public key and accept
 * each other's signatures). Signatures use the empty context string: domain separation lives
 * in the signed bytes themselves (every signed payload starts with its domain tag).
 *
 * @module
 */
import { equalBytes, toHex } from "../encoding/bytes.ts";

/** Byte length of an ML-DSA-65 public key. */
export const ML_DSA65_PUBLIC_KEY_LENGTH = 1952;
/** Byte length of an ML-DSA-65 signature. */
export const ML_DSA65_SIGNATURE_LENGTH = 3309;

const ALGORITHM = { name: "ML-DSA-65" };
// The modern-algorithms WebCrypto surface (raw-seed, raw-public, getPublicKey) is not in the
// TypeScript DOM types yet.
// deno-lint-ignore no-explicit-any
const subtle = crypto.subtle as any;

/** An ML-DSA-65 signing key imported once from its seed. */
export class MlDsa65Signer {
  readonly #key: CryptoKey;
  /** The 1952-byte public key. */
  readonly publicKey: Uint8Array<ArrayBuffer>;

  private constructor(key: CryptoKey, publicKey: Uint8Array<ArrayBuffer>) {
    this.#key = key;
    this.publicKey = publicKey;
  }

  /** Imports a 32-byte seed; refuses (RangeError) any other length. */
  static async fromSeed(seed: Uint8Array): Promise<MlDsa65Signer> {
    if (seed.length !== 32) throw new RangeError("ML-DSA-65 seed must be 32 bytes");
    const key: CryptoKey = await subtle.importKey("raw-seed", seed, ALGORITHM, false, ["sign"]);
    const pub: CryptoKey = await subtle.getPublicKey(key, ["verify"]);
    const raw = new Uint8Array(await subtle.exportKey("raw-public", pub));
    return new MlDsa65Signer(key, raw);
  }

  /** A (hedged, randomized) ML-DSA-65 signature of `message`. */
  async sign(message: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await subtle.sign(ALGORITHM, this.#key, message));
  }
}

const verifyKeyCache = new Map<string, Promise<CryptoKey>>();
const VERIFY_KEY_CACHE_LIMIT = 4096;

/**
 * The imported key of each public-key array seen, by identity, with a copy of its bytes: callers
 * pass the same roster key array for every signature of a member, and a 1952-byte key's hex (the
 * content cache's id) costs about as much as the verification itself. The copy is compared before
 * use, so an array whose bytes changed is looked up again by content.
 */
const verifyKeyByArray = new WeakMap<Uint8Array, { bytes: Uint8Array; key: Promise<CryptoKey> }>();

function verifyKey(publicKey: Uint8Array): Promise<CryptoKey> {
  const seen = verifyKeyByArray.get(publicKey);
  if (seen !== undefined && equalBytes(seen.bytes, publicKey)) return seen.key;
  const key = verifyKeyByContent(publicKey);
  verifyKeyByArray.set(publicKey, { bytes: publicKey.slice(), key });
  key.catch(() => verifyKeyByArray.delete(publicKey));
  return key;
}

function verifyKeyByContent(publicKey: Uint8Array): Promise<CryptoKey> {
  const id = toHex(publicKey);
  let key = verifyKeyCache.get(id);
  if (key === undefined) {
    key = subtle.importKey("raw-public", publicKey, ALGORITHM, false, ["verify"]) as Promise<
      CryptoKey
    >;
    key.catch(() => verifyKeyCache.delete(id));
    if (verifyKeyCache.size >= VERIFY_KEY_CACHE_LIMIT) verifyKeyCache.clear();
    verifyKeyCache.set(id, key);
  }
  return key;
}

/**
 * True when `signature` is a valid ML-DSA-65 signature of `message` (empty context) under
 * `publicKey`. Resolves false (never rejects) for malformed keys or signatures.
 */
export async function mlDsa65Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (
    publicKey.length !== ML_DSA65_PUBLIC_KEY_LENGTH ||
    signature.length !== ML_DSA65_SIGNATURE_LENGTH
  ) return false;
  try {
    return await subtle.verify(ALGORITHM, await verifyKey(publicKey), signature, message);
  } catch {
    return false;
  }
}
