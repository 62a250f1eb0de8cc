/**
 * HKDF-SHA256 (RFC 5869) through node:crypto.
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { framed } from "./hash.ts";

/**
 * HKDF-SHA256 extract-and-expand. Refuses `length` outside 1..8160 (RangeError, RFC 5869 limit).
 */
export function hkdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new RangeError(`HKDF output length out of range: ${length}`);
  }
  return new Uint8Array(nodeCrypto.hkdfSync("sha256", ikm, salt, info, length));
}

/**
 * Derives a 32-byte key for one purpose: HKDF-SHA256 with an empty salt and, as `info`, the
 * domain label and context parts framed with length prefixes (see `framed`). Distinct labels or
 * contexts give independent keys. The framed `info` must stay within 1024 bytes (the platform's
 * HKDF limit; RangeError otherwise): bind long values, such as KEM ciphertexts, by their hash.
 */
export function deriveKey(
  ikm: Uint8Array,
  label: string,
  ...context: readonly Uint8Array[]
): Uint8Array<ArrayBuffer> {
  return hkdf(ikm, new Uint8Array(0), framed(label, ...context), 32);
}
