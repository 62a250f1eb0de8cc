/**
 * X-Wing, the ML-KEM-768 + X25519 hybrid KEM (draft-connolly-cfrg-xwing-kem), assembled from
 * native parts: ML-KEM-768 from the runtime's WebCrypto, X25519 and SHA3-256/SHAKE256 from
 * node:crypto. The construction follows the draft step by step; the test suite proves it
 * bit-identical to the reference implementation (`ml_kem768_x25519` of `@noble/post-quantum`):
 * same public key from the same seed, and each side decapsulates the other's ciphertexts to the
 * same shared secret.
 *
 * Private keys are the 32-byte X-Wing seed. Encapsulation draws the X25519 ephemeral key from
 * the caller's `Rng` and the ML-KEM coins from the platform CSPRNG (WebCrypto takes none).
 *
 * @module
 */
import nodeCrypto from "node:crypto";
import { concat } from "../encoding/bytes.ts";
import { sha3_256 } from "./hash.ts";
import type { Rng } from "./random.ts";
import { X25519Key, x25519PublicKey } from "./x25519.ts";

/** Byte length of an X-Wing public key (ML-KEM-768 encapsulation key ‖ X25519 public key). */
export const XWING_PUBLIC_KEY_LENGTH = 1216;
/** Byte length of an X-Wing ciphertext (ML-KEM-768 ciphertext ‖ X25519 ephemeral key). */
export const XWING_CIPHERTEXT_LENGTH = 1120;
/** Byte length of an X-Wing seed (private key) and shared secret. */
export const XWING_SEED_LENGTH = 32;

const ML_KEM_PK = 1184;
const ML_KEM_CT = 1088;
const ALGORITHM = { name: "ML-KEM-768" };
/** The X-Wing label `\.//^\`. */
const XWING_LABEL = Uint8Array.from([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);
// deno-lint-ignore no-explicit-any
const subtle = crypto.subtle as any;

function combiner(
  ssM: Uint8Array,
  ssX: Uint8Array,
  ctX: Uint8Array,
  pkX: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return sha3_256(ssM, ssX, ctX, pkX, XWING_LABEL);
}

/** An X-Wing decapsulation key expanded and imported once, for many decapsulations. */
export class XWingDecapsulator {
  readonly #mlKem: CryptoKey;
  readonly #skX: Uint8Array;
  /** The X25519 half, imported once for all decapsulations (dropped by {@link wipe}). */
  #keyX: X25519Key | undefined;
  /** The 1216-byte public key. */
  readonly publicKey: Uint8Array<ArrayBuffer>;

  private constructor(
    mlKem: CryptoKey,
    skX: Uint8Array,
    keyX: X25519Key,
    publicKey: Uint8Array<ArrayBuffer>,
  ) {
    this.#mlKem = mlKem;
    this.#skX = skX;
    this.#keyX = keyX;
    this.publicKey = publicKey;
  }

  /** Expands a 32-byte X-Wing seed; refuses (RangeError) any other length. */
  static async fromSeed(seed: Uint8Array): Promise<XWingDecapsulator> {
    if (seed.length !== XWING_SEED_LENGTH) throw new RangeError("X-Wing seed must be 32 bytes");
    const expanded = new Uint8Array(
      nodeCrypto.createHash("shake256", { outputLength: 96 }).update(seed).digest(),
    );
    try {
      const mlKem: CryptoKey = await subtle.importKey(
        "raw-seed",
        expanded.subarray(0, 64),
        ALGORITHM,
        false,
        ["decapsulateBits"],
      );
      const pub: CryptoKey = await subtle.getPublicKey(mlKem, ["encapsulateBits"]);
      const pkM = new Uint8Array(await subtle.exportKey("raw-public", pub));
      const skX = expanded.slice(64, 96);
      const keyX = new X25519Key(skX);
      return new XWingDecapsulator(mlKem, skX, keyX, concat(pkM, keyX.publicKey()));
    } finally {
      expanded.fill(0);
    }
  }

  /**
   * The shared secret of `cipherText`. Refuses (RangeError) a ciphertext of the wrong length or
   * with a low-order X25519 part. A tampered ML-KEM part yields an unrelated secret (implicit
   * rejection), which the caller's AEAD then refuses.
   */
  async decapsulate(cipherText: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (cipherText.length !== XWING_CIPHERTEXT_LENGTH) {
      throw new RangeError("X-Wing ciphertext must be 1120 bytes");
    }
    const ctM = cipherText.subarray(0, ML_KEM_CT);
    const ctX = cipherText.subarray(ML_KEM_CT);
    const ssM = new Uint8Array(await subtle.decapsulateBits(ALGORITHM, this.#mlKem, ctM));
    let ssX: Uint8Array | undefined;
    try {
      ssX = (this.#keyX ?? new X25519Key(this.#skX)).agree(ctX);
      return combiner(ssM, ssX, ctX, this.publicKey.subarray(ML_KEM_PK));
    } finally {
      ssM.fill(0);
      ssX?.fill(0);
    }
  }

  /**
   * Zeroes the X25519 part held in memory and drops its imported key object (which, like the
   * WebCrypto key, cannot be zeroed and is released to the GC).
   */
  wipe(): void {
    this.#skX.fill(0);
    this.#keyX = undefined;
  }
}

/**
 * Imports the ML-KEM-768 part of an X-Wing public key and encapsulates to it (coins from the
 * platform CSPRNG: WebCrypto takes none). Refuses (RangeError) a public key of the wrong length
 * or an ML-KEM part that fails the FIPS 203 input check, which the runtime only detects here.
 */
async function encapsulateMlKem(
  publicKey: Uint8Array,
): Promise<{ ctM: Uint8Array<ArrayBuffer>; ssM: Uint8Array<ArrayBuffer> }> {
  if (publicKey.length !== XWING_PUBLIC_KEY_LENGTH) {
    throw new RangeError("X-Wing public key must be 1216 bytes");
  }
  let encapsulated: { ciphertext: ArrayBuffer; sharedKey: ArrayBuffer };
  try {
    const key: CryptoKey = await subtle.importKey(
      "raw-public",
      publicKey.subarray(0, ML_KEM_PK),
      ALGORITHM,
      false,
      ["encapsulateBits"],
    );
    encapsulated = await subtle.encapsulateBits(ALGORITHM, key);
  } catch {
    throw new RangeError("X-Wing public key: the ML-KEM-768 part is invalid");
  }
  return {
    ctM: new Uint8Array(encapsulated.ciphertext),
    ssM: new Uint8Array(encapsulated.sharedKey),
  };
}

/**
 * Encapsulates a fresh shared secret to an X-Wing public key. Refuses (RangeError) a public key
 * of the wrong length, an ML-KEM part that fails the FIPS 203 input check, or a low-order X25519
 * part.
 */
export async function xwingEncapsulate(
  publicKey: Uint8Array,
  rng: Rng,
): Promise<{ cipherText: Uint8Array<ArrayBuffer>; sharedSecret: Uint8Array<ArrayBuffer> }> {
  const { ctM, ssM } = await encapsulateMlKem(publicKey);
  const pkX = publicKey.subarray(ML_KEM_PK);
  const ekX = rng(32);
  let ssX: Uint8Array | undefined;
  try {
    const ephemeral = new X25519Key(ekX); // imported once for both uses
    const ctX = ephemeral.publicKey();
    ssX = ephemeral.agree(pkX);
    return {
      cipherText: concat(ctM, ctX),
      sharedSecret: combiner(ssM, ssX, ctX, pkX),
    };
  } finally {
    ekX.fill(0);
    ssX?.fill(0);
    ssM.fill(0);
  }
}

/**
 * True when the length is right and the ML-KEM-768 part of an X-Wing public key passes the
 * FIPS 203 encapsulation-key (modulus) check. The runtime imports such a key without checking
 * and refuses only when encapsulating, so this performs one trial encapsulation and discards
 * (zeroes) its result. Its coins come from the platform CSPRNG, not from an injected `Rng`:
 * WebCrypto takes none, and nothing about the result is kept, so the check stays deterministic.
 */
export async function xwingPublicKeyValid(publicKey: Uint8Array): Promise<boolean> {
  try {
    const { ssM } = await encapsulateMlKem(publicKey);
    ssM.fill(0);
    return true;
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

/**
 * The X25519 half of the X-Wing public key of `seed`, computed synchronously. It is a function
 * of SHAKE256(seed), so a candidate seed whose X25519 half matches an advertised public key is
 * that key's seed except with probability ≈ 2^-250; the leader uses it to check reconstructed
 * seeds before expanding them.
 */
export function xwingX25519PublicKey(seed: Uint8Array): Uint8Array<ArrayBuffer> {
  if (seed.length !== XWING_SEED_LENGTH) throw new RangeError("X-Wing seed must be 32 bytes");
  const expanded = new Uint8Array(
    nodeCrypto.createHash("shake256", { outputLength: 96 }).update(seed).digest(),
  );
  try {
    return x25519PublicKey(expanded.subarray(64, 96));
  } finally {
    expanded.fill(0);
  }
}
