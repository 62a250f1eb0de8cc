/**
 * X25519 (RFC 7748) through node:crypto. Private keys are 32 raw bytes (clamped by the
 * function, as RFC 7748 specifies); public keys are 32 raw bytes.
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { concat } from "../bytes.ts";

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
  0x6e,
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
  0x6e,
  0x03,
  0x21,
  0x00,
]);

/** Byte length of X25519 private keys, public keys and shared secrets. */
export const X25519_LENGTH = 32;

function privateKeyObject(secretKey: Uint8Array): nodeCrypto.KeyObject {
  if (secretKey.length !== 32) throw new RangeError("X25519 private key must be 32 bytes");
  const der = concat(PKCS8_PREFIX, secretKey);
  try {
    return nodeCrypto.createPrivateKey({
      key: Buffer.from(der.buffer),
      format: "der",
      type: "pkcs8",
    });
  } finally {
    der.fill(0);
  }
}

function publicKeyObject(publicKey: Uint8Array): nodeCrypto.KeyObject {
  if (publicKey.length !== 32) throw new RangeError("X25519 public key must be 32 bytes");
  return nodeCrypto.createPublicKey({
    key: Buffer.from(concat(SPKI_PREFIX, publicKey).buffer),
    format: "der",
    type: "spki",
  });
}

/** The public key of a 32-byte private key. */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array<ArrayBuffer> {
  const spki = nodeCrypto.createPublicKey(privateKeyObject(secretKey)).export({
    format: "der",
    type: "spki",
  });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

/**
 * The X25519 shared secret of `secretKey` and `publicKey`. Refuses (throws RangeError) a result
 * of all zeros, which only a low-order public key can produce (RFC 7748 §6.1).
 */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array<ArrayBuffer> {
  let out: Uint8Array<ArrayBuffer>;
  try {
    out = new Uint8Array(nodeCrypto.diffieHellman({
      privateKey: privateKeyObject(secretKey),
      publicKey: publicKeyObject(publicKey),
    }));
  } catch {
    throw new RangeError("X25519 key agreement failed (invalid or low-order public key)");
  }
  let acc = 0;
  for (const b of out) acc |= b;
  if (acc === 0) throw new RangeError("X25519 produced the all-zero secret (low-order public key)");
  return out;
}
