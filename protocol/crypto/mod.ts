/**
 * The one module through which the protocol touches cryptography. No other file imports a
 * curve, a cipher or a hash library: they import from here. Each primitive wraps a well-kept
 * implementation (node:crypto / OpenSSL-class native code, the runtime's WebCrypto for
 * ML-KEM-768 and ML-DSA-65, `@noble/*` as the reference the tests compare against) and is
 * tested against published vectors in `test/protocol/crypto/`.
 *
 * @module
 */
export { AEAD_TAG_LENGTH, open, seal } from "./aead.ts";
export { HASH, KDF } from "./domains.ts";
export { ED25519_SIGNATURE_LENGTH, Ed25519Signer, ed25519Verify } from "./ed25519.ts";
export { constantTimeEqual } from "./equal.ts";
export { framed, sha256, sha3_256, taggedHash } from "./hash.ts";
export { deriveKey, hkdf } from "./hkdf.ts";
export {
  ML_DSA65_PUBLIC_KEY_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
  MlDsa65Signer,
  mlDsa65Verify,
} from "./mldsa.ts";
export { applyMasks, type MaskTerm, PRG_BLOCK_WORDS, prgExpand, prgFill } from "./prg.ts";
export { labelledRng, type Rng, seededRng, systemRng } from "./random.ts";
export { isLowOrderX25519, x25519, X25519_LENGTH, X25519Key, x25519PublicKey } from "./x25519.ts";
export {
  XWING_CIPHERTEXT_LENGTH,
  XWING_PUBLIC_KEY_LENGTH,
  XWING_SEED_LENGTH,
  XWingDecapsulator,
  xwingEncapsulate,
  xwingPublicKeyValid,
  xwingX25519PublicKey,
} from "./xwing.ts";
