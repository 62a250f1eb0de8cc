/**
 * X25519 (RFC 7748) through node:crypto. Private keys are 32 raw bytes (clamped by the
 * function, as RFC 7748 specifies); public keys are 32 raw bytes.
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { rawPrivateKey, rawPublicKey, rawPublicOf } from "./raw_keys.ts";

/** Byte length of X25519 private keys, public keys and shared secrets. */
export const X25519_LENGTH = 32;

/** The public key of a 32-byte private key. */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array<ArrayBuffer> {
  return rawPublicOf(rawPrivateKey("x25519", secretKey));
}

/**
 * The X25519 shared secret of `secretKey` and `publicKey`. Refuses (throws RangeError) a result
 * of all zeros, which only a low-order public key can produce (RFC 7748 §6.1).
 */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array<ArrayBuffer> {
  return x25519With(rawPrivateKey("x25519", secretKey), publicKey);
}

/**
 * A 32-byte X25519 private key imported once, for a key used in many agreements (a round's
 * decapsulation and share keys): importing costs a fair part of an agreement. The key object
 * holds a copy of the secret that cannot be zeroed; it is released to the GC with this object.
 */
export class X25519Key {
  readonly #key: nodeCrypto.KeyObject;

  /** Imports `secretKey` (32 bytes, else RangeError); the caller keeps and wipes its bytes. */
  constructor(secretKey: Uint8Array) {
    this.#key = rawPrivateKey("x25519", secretKey);
  }

  /** The raw 32-byte public key. */
  publicKey(): Uint8Array<ArrayBuffer> {
    return rawPublicOf(this.#key);
  }

  /** The shared secret with `publicKey`, refused as {@link x25519} refuses. */
  agree(publicKey: Uint8Array): Uint8Array<ArrayBuffer> {
    return x25519With(this.#key, publicKey);
  }
}

function x25519With(
  privateKey: nodeCrypto.KeyObject,
  publicKey: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const peer = rawPublicKey("x25519", publicKey);
  let out: Uint8Array<ArrayBuffer>;
  try {
    out = new Uint8Array(nodeCrypto.diffieHellman({ privateKey, publicKey: peer }));
  } catch {
    throw new RangeError("X25519 key agreement failed (invalid or low-order public key)");
  }
  let acc = 0;
  for (const b of out) acc |= b;
  if (acc === 0) throw new RangeError("X25519 produced the all-zero secret (low-order public key)");
  return out;
}

/**
 * The u-coordinates of the low-order points of Curve25519 as X25519 public keys can encode them
 * (with the top bit ignored, RFC 7748): 0, 1 and p − 1, the two points of order 8, and the
 * non-canonical encodings p and p + 1 of 0 and 1 — the list libsodium's `has_small_order`
 * uses. Derived here from their values, not typed in as bytes.
 */
const LOW_ORDER: readonly Uint8Array[] = (() => {
  const p = 2n ** 255n - 19n;
  const values = [
    0n,
    1n,
    p - 1n,
    p,
    p + 1n,
    325606250916557431795983626356110631294008115727848805560023387167927233504n,
    39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  ];
  return values.map((v) => {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
    return out;
  });
})();

/**
 * True when `publicKey` (32 bytes) is a low-order point: every X25519 agreement with it is all
 * zeros. A table comparison (microseconds), for validating many peer keys and ciphertexts
 * cheaply; the test suite checks it against the agreement itself. Refuses (RangeError) another
 * length.
 */
export function isLowOrderX25519(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) throw new RangeError("X25519 public key must be 32 bytes");
  return LOW_ORDER.some((bad) => {
    let diff = (publicKey[31] & 0x7f) ^ bad[31];
    for (let i = 0; i < 31; i++) diff |= publicKey[i] ^ bad[i];
    return diff === 0;
  });
}
