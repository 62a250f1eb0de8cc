/**
 * Ed25519 signatures (RFC 8032, pure Ed25519) through node:crypto. Private keys are the 32-byte
 * seed of RFC 8032 (the form libp2p and noble use); public keys and signatures are raw bytes.
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { toHex } from "../encoding/bytes.ts";
import { rawPrivateKey, rawPublicKey, rawPublicOf } from "./raw_keys.ts";

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
    this.#key = rawPrivateKey("ed25519", seed);
    this.publicKey = rawPublicOf(this.#key);
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
    key = rawPublicKey("ed25519", publicKey);
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
