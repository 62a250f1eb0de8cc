/**
 * Ed25519 signatures (RFC 8032, pure Ed25519) through node:crypto. Private keys are the 32-byte
 * seed of RFC 8032 (the form libp2p and noble use); public keys and signatures are raw bytes.
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { concat, toHex } from "../bytes.ts";

const PKCS8_PREFIX = Uint8Array.from([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);
const SPKI_PREFIX = Uint8Array.from([
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x03,
  0x21,
  0x00,
]);

/** Byte length of an Ed25519 signature. */
export const ED25519_SIGNATURE_LENGTH = 64;

/** An Ed25519 signing key, parsed once and reused for many signatures. */
export class Ed25519Signer {
  readonly #key: nodeCrypto.KeyObject;
  /** The 32-byte public key. */
  readonly publicKey: Uint8Array<ArrayBuffer>;

  /** Parses a 32-byte RFC 8032 seed; refuses (RangeError) any other length. */
  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new RangeError("Ed25519 seed must be 32 bytes");
    const der = concat(PKCS8_PREFIX, seed);
    try {
      this.#key = nodeCrypto.createPrivateKey({
        key: Buffer.from(der.buffer),
        format: "der",
        type: "pkcs8",
      });
    } finally {
      der.fill(0);
    }
    const spki = nodeCrypto.createPublicKey(this.#key).export({ format: "der", type: "spki" });
    this.publicKey = new Uint8Array(spki.subarray(SPKI_PREFIX.length));
  }

  /** The 64-byte deterministic signature of `message`. */
  sign(message: Uint8Array): Uint8Array<ArrayBuffer> {
    return new Uint8Array(nodeCrypto.sign(null, message, this.#key));
  }
}

const publicKeyCache = new Map<string, nodeCrypto.KeyObject>();
const PUBLIC_KEY_CACHE_LIMIT = 4096;

function publicKeyObject(publicKey: Uint8Array): nodeCrypto.KeyObject {
  const id = toHex(publicKey);
  let key = publicKeyCache.get(id);
  if (key === undefined) {
    key = nodeCrypto.createPublicKey({
      key: Buffer.from(concat(SPKI_PREFIX, publicKey).buffer),
      format: "der",
      type: "spki",
    });
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.clear();
    publicKeyCache.set(id, key);
  }
  return key;
}

/**
 * True when `signature` is a valid Ed25519 signature of `message` under `publicKey`. Returns
 * false (never throws) for keys or signatures of the wrong length or that do not parse.
 */
export function ed25519Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  try {
    return nodeCrypto.verify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}
