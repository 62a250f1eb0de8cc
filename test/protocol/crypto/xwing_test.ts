/**
 * X-Wing wrapper (protocol/crypto/xwing.ts, ML-KEM-768 from WebCrypto + X25519 + SHA3-256)
 * against the X-Wing draft and the reference implementation (`ml_kem768_x25519` of
 * `@noble/post-quantum`).
 *
 * Vector: draft-connolly-cfrg-xwing-kem, Appendix C "Test vectors", first vector (seed, pk,
 * eseed, ct, ss), https://github.com/dconnolly/draft-connolly-cfrg-xwing-kem (revision -10
 * text); kept in vectors/xwing_draft_vector1.json. The wrapper's encapsulation cannot be
 * derandomized (WebCrypto draws the ML-KEM coins itself), so the vector checks key generation
 * and decapsulation, and the X25519 half of encapsulation (its ephemeral key comes from the
 * caller's Rng).
 */
import { ml_kem768_x25519 } from "@noble/post-quantum/hybrid.js";
import { seededRng } from "../../../protocol/crypto/random.ts";
import { x25519PublicKey } from "../../../protocol/crypto/x25519.ts";
import {
  XWING_CIPHERTEXT_LENGTH,
  XWING_PUBLIC_KEY_LENGTH,
  XWING_SEED_LENGTH,
  XWingDecapsulator,
  xwingEncapsulate,
  xwingX25519PublicKey,
} from "../../../protocol/crypto/xwing.ts";
import { assertEquals, assertNotEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { flipBit, fromHex, hexJoin, testBytes, toHex } from "./_helpers.ts";
import vector from "./vectors/xwing_draft_vector1.json" with { type: "json" };

const ML_KEM_CT = 1088;
const ML_KEM_PK = 1184;

/** An Rng that returns copies of the given bytes, in order (the wrapper wipes what it gets). */
function fixedRng(...outputs: Uint8Array[]): (n: number) => Uint8Array {
  let i = 0;
  return (n) => {
    const out = outputs[i++];
    if (out === undefined || out.length !== n) throw new Error(`unexpected request for ${n}`);
    return new Uint8Array(out);
  };
}

Deno.test("X-Wing: draft test vector, key generation and decapsulation", async () => {
  const seed = fromHex(vector.seed);
  const pk = hexJoin(vector.pk);
  const ct = hexJoin(vector.ct);
  assertEquals([seed.length, pk.length, ct.length], [32, 1216, 1120]);
  const dk = await XWingDecapsulator.fromSeed(seed);
  assertEquals(toHex(dk.publicKey), toHex(pk));
  assertEquals(toHex(await dk.decapsulate(ct)), vector.ss);
});

Deno.test("X-Wing: draft test vector, reference implementation agrees with it", () => {
  const seed = fromHex(vector.seed);
  const { publicKey, secretKey } = ml_kem768_x25519.keygen(seed);
  assertEquals(toHex(publicKey), toHex(hexJoin(vector.pk)));
  assertEquals(toHex(ml_kem768_x25519.decapsulate(hexJoin(vector.ct), secretKey)), vector.ss);
  const { cipherText, sharedSecret } = ml_kem768_x25519.encapsulate(
    publicKey,
    hexJoin(vector.eseed),
  );
  assertEquals(toHex(cipherText), toHex(hexJoin(vector.ct)));
  assertEquals(toHex(sharedSecret), vector.ss);
});

Deno.test("X-Wing: draft test vector, X25519 half of encapsulation from eseed[32:64]", async () => {
  const pk = hexJoin(vector.pk);
  const eseed = hexJoin(vector.eseed);
  const { cipherText, sharedSecret } = await xwingEncapsulate(pk, fixedRng(eseed.subarray(32)));
  assertEquals(cipherText.length, XWING_CIPHERTEXT_LENGTH);
  assertEquals(
    toHex(cipherText.subarray(ML_KEM_CT)),
    toHex(hexJoin(vector.ct).subarray(ML_KEM_CT)),
  );
  // The ML-KEM half is fresh, yet the decapsulator recovers the secret.
  const dk = await XWingDecapsulator.fromSeed(fromHex(vector.seed));
  assertEquals(toHex(await dk.decapsulate(cipherText)), toHex(sharedSecret));
});

Deno.test("X-Wing: public key from a seed equals the reference keygen", async () => {
  const seeds = [
    new Uint8Array(32),
    new Uint8Array(32).fill(0xff),
    ...[0, 1, 2, 3, 4, 5].map((i) => testBytes(`xwing/keygen/${i}`, 32)),
  ];
  for (const seed of seeds) {
    const dk = await XWingDecapsulator.fromSeed(seed);
    assertEquals(dk.publicKey.length, XWING_PUBLIC_KEY_LENGTH);
    assertEquals(toHex(dk.publicKey), toHex(ml_kem768_x25519.keygen(seed).publicKey));
  }
});

Deno.test("X-Wing: xwingX25519PublicKey is the X25519 half of the public key of a seed", async () => {
  const seeds = [fromHex(vector.seed), ...[0, 1, 2].map((i) => testBytes(`xwing/x-half/${i}`, 32))];
  for (const seed of seeds) {
    const half = xwingX25519PublicKey(seed);
    const dk = await XWingDecapsulator.fromSeed(seed);
    assertEquals(toHex(half), toHex(dk.publicKey.subarray(ML_KEM_PK)));
    assertEquals(toHex(half), toHex(ml_kem768_x25519.keygen(seed).publicKey.subarray(ML_KEM_PK)));
  }
  assertEquals(
    toHex(xwingX25519PublicKey(fromHex(vector.seed))),
    toHex(hexJoin(vector.pk).subarray(ML_KEM_PK)),
  );
  for (const n of [0, 1, 31, 33, 64]) {
    assertThrows(() => xwingX25519PublicKey(new Uint8Array(n)), RangeError);
  }
});

Deno.test("X-Wing: the reference decapsulates wrapper ciphertexts to the wrapper's secret", async () => {
  for (let i = 0; i < 4; i++) {
    const seed = testBytes(`xwing/ours/${i}`, 32);
    const dk = await XWingDecapsulator.fromSeed(seed);
    const { secretKey } = ml_kem768_x25519.keygen(seed);
    const rng = seededRng(testBytes(`xwing/ours/rng/${i}`, 32));
    const { cipherText, sharedSecret } = await xwingEncapsulate(dk.publicKey, rng);
    assertEquals(cipherText.length, XWING_CIPHERTEXT_LENGTH);
    assertEquals(sharedSecret.length, XWING_SEED_LENGTH);
    assertEquals(toHex(ml_kem768_x25519.decapsulate(cipherText, secretKey)), toHex(sharedSecret));
    assertEquals(toHex(await dk.decapsulate(cipherText)), toHex(sharedSecret));
  }
});

Deno.test("X-Wing: the wrapper decapsulates reference ciphertexts to the reference secret", async () => {
  for (let i = 0; i < 4; i++) {
    const seed = testBytes(`xwing/theirs/${i}`, 32);
    const dk = await XWingDecapsulator.fromSeed(seed);
    const { cipherText, sharedSecret } = ml_kem768_x25519.encapsulate(
      dk.publicKey,
      testBytes(`xwing/theirs/eseed/${i}`, 64),
    );
    assertEquals(toHex(await dk.decapsulate(cipherText)), toHex(sharedSecret));
  }
});

Deno.test("X-Wing: the X25519 ephemeral key comes from the caller's Rng", async () => {
  const dk = await XWingDecapsulator.fromSeed(testBytes("xwing/rng", 32));
  const ek = testBytes("xwing/rng/ek", 32);
  const { cipherText } = await xwingEncapsulate(dk.publicKey, fixedRng(ek));
  assertEquals(toHex(cipherText.subarray(ML_KEM_CT)), toHex(x25519PublicKey(ek)));
});

Deno.test("X-Wing: a tampered ciphertext gives another secret (implicit rejection)", async () => {
  const seed = testBytes("xwing/tamper", 32);
  const dk = await XWingDecapsulator.fromSeed(seed);
  const { secretKey } = ml_kem768_x25519.keygen(seed);
  const { cipherText, sharedSecret } = await xwingEncapsulate(
    dk.publicKey,
    seededRng(testBytes("xwing/tamper/rng", 32)),
  );
  // ML-KEM part: bits at the start, middle and end; X25519 part: a few bits.
  for (const bit of [0, 9, 4000, ML_KEM_CT * 8 - 1, ML_KEM_CT * 8 + 3, ML_KEM_CT * 8 + 200]) {
    const tampered = flipBit(cipherText, bit);
    const secret = await dk.decapsulate(tampered);
    assertNotEquals(toHex(secret), toHex(sharedSecret), `bit ${bit}`);
    // FIPS 203 implicit rejection is deterministic: the reference gives the same value.
    assertEquals(
      toHex(secret),
      toHex(ml_kem768_x25519.decapsulate(tampered, secretKey)),
      `bit ${bit}`,
    );
  }
});

Deno.test("X-Wing: wrong lengths are refused with RangeError", async () => {
  const dk = await XWingDecapsulator.fromSeed(testBytes("xwing/lengths", 32));
  const rng = seededRng(testBytes("xwing/lengths/rng", 32));
  for (const n of [0, 1, 31, 33, 64]) {
    await assertRejects(() => XWingDecapsulator.fromSeed(new Uint8Array(n)), RangeError);
  }
  for (const n of [0, 32, 1088, 1119, 1121, 2240]) {
    await assertRejects(() => dk.decapsulate(new Uint8Array(n)), RangeError);
  }
  for (const n of [0, 32, 1184, 1215, 1217, 2432]) {
    const pk = new Uint8Array(n);
    pk.set(dk.publicKey.subarray(0, Math.min(n, XWING_PUBLIC_KEY_LENGTH)));
    await assertRejects(() => xwingEncapsulate(pk, rng), RangeError);
  }
});

Deno.test("X-Wing: invalid public keys and low-order X25519 parts are refused", async () => {
  const dk = await XWingDecapsulator.fromSeed(testBytes("xwing/invalid", 32));
  const rng = seededRng(testBytes("xwing/invalid/rng", 32));
  // An ML-KEM encapsulation key whose first coefficient is 0xfff >= q fails the FIPS 203
  // §7.2 modulus check.
  const badMlKem = new Uint8Array(dk.publicKey);
  badMlKem[0] = 0xff;
  badMlKem[1] |= 0x0f;
  assertThrows(() => ml_kem768_x25519.encapsulate(badMlKem), Error);
  await assertRejects(() => xwingEncapsulate(badMlKem, rng), RangeError);
  // A low-order X25519 part (u = 0, u = 1) gives an all-zero X25519 secret.
  for (const u of [0, 1]) {
    const lowOrder = new Uint8Array(dk.publicKey);
    lowOrder.fill(0, ML_KEM_PK);
    lowOrder[ML_KEM_PK] = u;
    await assertRejects(() => xwingEncapsulate(lowOrder, rng), RangeError);
  }
  // A ciphertext whose X25519 part is a low-order point.
  const { cipherText } = await xwingEncapsulate(dk.publicKey, rng);
  const lowCt = new Uint8Array(cipherText);
  lowCt.fill(0, ML_KEM_CT);
  await assertRejects(() => dk.decapsulate(lowCt), RangeError);
});

Deno.test("X-Wing: wipe zeroes the X25519 secret used by decapsulation", async () => {
  const dk = await XWingDecapsulator.fromSeed(testBytes("xwing/wipe", 32));
  const { cipherText, sharedSecret } = await xwingEncapsulate(
    dk.publicKey,
    seededRng(testBytes("xwing/wipe/rng", 32)),
  );
  assertEquals(toHex(await dk.decapsulate(cipherText)), toHex(sharedSecret));
  dk.wipe();
  assertNotEquals(toHex(await dk.decapsulate(cipherText)), toHex(sharedSecret));
});
