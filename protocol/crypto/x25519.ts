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
  const privateKey = rawPrivateKey("x25519", secretKey);
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
