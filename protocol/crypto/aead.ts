/**
 * ChaCha20-Poly1305 (RFC 8439) through node:crypto. Keys are 32 bytes, nonces 12 bytes, tags 16
 * bytes appended to the ciphertext.
 *
 * @module
 */
import nodeCrypto from "node:crypto";

/** Length of the authentication tag appended by {@link seal}. */
export const AEAD_TAG_LENGTH = 16;

function checkKeyNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== 32) throw new RangeError("AEAD key must be 32 bytes");
  if (nonce.length !== 12) throw new RangeError("AEAD nonce must be 12 bytes");
}

/** Encrypts and authenticates `plaintext` with associated data `ad`; returns ciphertext ‖ tag. */
export function seal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
): Uint8Array<ArrayBuffer> {
  checkKeyNonce(key, nonce);
  const c = nodeCrypto.createCipheriv("chacha20-poly1305", key, nonce, {
    authTagLength: AEAD_TAG_LENGTH,
  });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  const out = new Uint8Array(body.length + AEAD_TAG_LENGTH);
  out.set(body);
  out.set(c.getAuthTag(), body.length);
  return out;
}

/**
 * Authenticates and decrypts `sealed` (ciphertext ‖ tag). Returns `undefined` when the tag does
 * not verify (tampered ciphertext, wrong key, nonce or associated data); never returns
 * unauthenticated plaintext.
 */
export function open(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
): Uint8Array<ArrayBuffer> | undefined {
  checkKeyNonce(key, nonce);
  if (sealed.length < AEAD_TAG_LENGTH) return undefined;
  const body = sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH);
  const tag = sealed.subarray(sealed.length - AEAD_TAG_LENGTH);
  const d = nodeCrypto.createDecipheriv("chacha20-poly1305", key, nonce, {
    authTagLength: AEAD_TAG_LENGTH,
  });
  d.setAAD(ad, { plaintextLength: body.length });
  d.setAuthTag(tag);
  const plain = d.update(body);
  try {
    d.final();
  } catch {
    plain.fill(0);
    return undefined;
  }
  return new Uint8Array(plain);
}
