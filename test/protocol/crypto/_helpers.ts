/**
 * Small helpers shared by the crypto wrapper tests. Test inputs that only need to be
 * "arbitrary" come from {@link testBytes}: a ChaCha20 stream of the reference implementation
 * (`@noble/ciphers`) keyed by a label, so every run uses the same bytes and a failure is
 * reproducible.
 *
 * @module
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromHex, toHex, utf8 } from "../../../protocol/encoding/bytes.ts";

export { fromHex, toHex, utf8 };

/** Deterministic pseudo-random bytes for `label` (reference ChaCha20, not the code under test). */
export function testBytes(label: string, length: number): Uint8Array<ArrayBuffer> {
  const key = sha256(utf8(`fedagg-test/${label}`));
  return new Uint8Array(chacha20(key, new Uint8Array(12), new Uint8Array(length)));
}

/** A copy of `bytes` with bit `bit` (0 = least significant bit of byte 0) inverted. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array<ArrayBuffer> {
  if (bit < 0 || bit >= bytes.length * 8) throw new RangeError(`bit ${bit} out of range`);
  const out = new Uint8Array(bytes);
  out[bit >>> 3] ^= 1 << (bit & 7);
  return out;
}

/** Joins hex pieces (vectors are stored line by line, as they are printed in their source). */
export function hexJoin(pieces: string | readonly string[]): Uint8Array<ArrayBuffer> {
  return fromHex(typeof pieces === "string" ? pieces : pieces.join(""));
}

/** The reference ChaCha20 keystream (RFC 8439, 96-bit zero nonce) from `counter`, `length` bytes. */
export function referenceKeystream(
  key: Uint8Array,
  length: number,
  counter = 0,
): Uint8Array<ArrayBuffer> {
  return new Uint8Array(
    chacha20(key, new Uint8Array(12), new Uint8Array(length), undefined, counter),
  );
}

/** Little-endian bytes of a word array (a copy). */
export function wordBytes(words: Uint32Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new Uint8Array(words.buffer, words.byteOffset, words.byteLength));
}
