/**
 * ML-DSA-65 wrapper (protocol/crypto/mldsa.ts, native WebCrypto) against FIPS 204 and the
 * reference implementation (`ml_dsa65` of `@noble/post-quantum`).
 *
 * Vector: NIST ACVP ML-DSA keyGen (FIPS 204), ML-DSA-65 test case tcId 26 (seed → public key),
 * from https://github.com/usnistgov/ACVP-Server, gen-val/json-files/ML-DSA-keyGen-FIPS204
 * (prompt.json and expectedResults.json); kept in vectors/mldsa65_acvp_keygen_tc26.json.
 */
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import {
  ML_DSA65_PUBLIC_KEY_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
  MlDsa65Signer,
  mlDsa65Verify,
} from "../../../protocol/crypto/mldsa.ts";
import { assertEquals, assertRejects } from "../../_assert.ts";
import { flipBit, fromHex, testBytes, toHex, utf8 } from "./_helpers.ts";
import acvp from "./vectors/mldsa65_acvp_keygen_tc26.json" with { type: "json" };

Deno.test("ML-DSA-65: ACVP keyGen tcId 26, seed gives the published public key", async () => {
  const expected = fromHex(acvp.pk);
  assertEquals(expected.length, ML_DSA65_PUBLIC_KEY_LENGTH);
  const signer = await MlDsa65Signer.fromSeed(fromHex(acvp.seed));
  assertEquals(toHex(signer.publicKey), toHex(expected));
  // The reference agrees with the vector too.
  assertEquals(toHex(ml_dsa65.keygen(fromHex(acvp.seed)).publicKey), toHex(expected));
});

Deno.test("ML-DSA-65: public key from a seed equals the reference keygen", async () => {
  const seeds = [
    new Uint8Array(32),
    new Uint8Array(32).fill(0xff),
    ...[0, 1, 2, 3, 4].map((i) => testBytes(`mldsa/keygen/${i}`, 32)),
  ];
  for (const seed of seeds) {
    const signer = await MlDsa65Signer.fromSeed(seed);
    assertEquals(signer.publicKey.length, ML_DSA65_PUBLIC_KEY_LENGTH);
    assertEquals(toHex(signer.publicKey), toHex(ml_dsa65.keygen(seed).publicKey), toHex(seed));
  }
});

Deno.test("ML-DSA-65: wrapper signatures verify under the reference, and the converse", async () => {
  for (let i = 0; i < 3; i++) {
    const seed = testBytes(`mldsa/cross/${i}`, 32);
    const signer = await MlDsa65Signer.fromSeed(seed);
    const { secretKey, publicKey } = ml_dsa65.keygen(seed);
    for (const message of [new Uint8Array(0), utf8("fedagg"), testBytes(`mldsa/msg/${i}`, 5000)]) {
      const ours = await signer.sign(message);
      assertEquals(ours.length, ML_DSA65_SIGNATURE_LENGTH);
      assertEquals(ml_dsa65.verify(ours, message, publicKey), true, "reference verifies ours");
      assertEquals(await mlDsa65Verify(signer.publicKey, message, ours), true, "we verify ours");
      const theirs = ml_dsa65.sign(message, secretKey);
      assertEquals(
        await mlDsa65Verify(signer.publicKey, message, theirs),
        true,
        "we verify theirs",
      );
    }
  }
});

Deno.test("ML-DSA-65: tampered message, signature or public key is refused", async () => {
  const signer = await MlDsa65Signer.fromSeed(testBytes("mldsa/tamper", 32));
  const message = utf8("fedagg/v1 signed payload");
  const signature = await signer.sign(message);
  assertEquals(await mlDsa65Verify(signer.publicKey, message, signature), true);
  for (const bit of [0, 7, 8 * 12 + 3, message.length * 8 - 1]) {
    assertEquals(await mlDsa65Verify(signer.publicKey, flipBit(message, bit), signature), false);
  }
  // Bits across the challenge, the response vector and the hint encoding.
  for (const byte of [0, 1, 31, 32, 100, 1000, 2000, 3000, 3250, 3300, 3308]) {
    const bad = flipBit(signature, byte * 8 + (byte % 8));
    assertEquals(await mlDsa65Verify(signer.publicKey, message, bad), false, `sig byte ${byte}`);
  }
  for (const byte of [0, 31, 32, 500, 1951]) {
    const bad = flipBit(signer.publicKey, byte * 8 + 1);
    assertEquals(await mlDsa65Verify(bad, message, signature), false, `pk byte ${byte}`);
  }
  // Another key's signature.
  const other = await MlDsa65Signer.fromSeed(testBytes("mldsa/tamper/other", 32));
  assertEquals(await mlDsa65Verify(other.publicKey, message, signature), false);
  // A signature made with a non-empty context string is not a signature with the empty one.
  const { secretKey } = ml_dsa65.keygen(testBytes("mldsa/tamper", 32));
  const withContext = ml_dsa65.sign(message, secretKey, { context: utf8("ctx") });
  assertEquals(await mlDsa65Verify(signer.publicKey, message, withContext), false);
});

Deno.test("ML-DSA-65: wrong lengths resolve false", async () => {
  const signer = await MlDsa65Signer.fromSeed(testBytes("mldsa/lengths", 32));
  const message = utf8("lengths");
  const signature = await signer.sign(message);
  for (const n of [0, 32, 1951, 1953, 2592]) {
    const pk = new Uint8Array(n);
    pk.set(signer.publicKey.subarray(0, Math.min(n, ML_DSA65_PUBLIC_KEY_LENGTH)));
    assertEquals(await mlDsa65Verify(pk, message, signature), false, `public key of ${n} bytes`);
  }
  for (const n of [0, 64, 2420, 3308, 3310, 4627]) {
    const sig = new Uint8Array(n);
    sig.set(signature.subarray(0, Math.min(n, ML_DSA65_SIGNATURE_LENGTH)));
    assertEquals(await mlDsa65Verify(signer.publicKey, message, sig), false, `sig of ${n} bytes`);
  }
});

Deno.test("ML-DSA-65: seeds that are not 32 bytes are refused", async () => {
  for (const n of [0, 1, 31, 33, 64]) {
    await assertRejects(() => MlDsa65Signer.fromSeed(new Uint8Array(n)), RangeError);
  }
});

Deno.test("ML-DSA-65: signatures are hedged (randomized) yet all verify", async () => {
  const signer = await MlDsa65Signer.fromSeed(testBytes("mldsa/hedged", 32));
  const message = utf8("same message");
  const a = await signer.sign(message);
  const b = await signer.sign(message);
  assertEquals(toHex(a) === toHex(b), false, "two signatures of one message differ");
  assertEquals(await mlDsa65Verify(signer.publicKey, message, a), true);
  assertEquals(await mlDsa65Verify(signer.publicKey, message, b), true);
});

Deno.test(
  "ML-DSA-65: a public-key array reused with other bytes verifies under its new bytes " +
    "(the key cache follows content, not the array)",
  async () => {
    const [a, b] = await Promise.all([
      MlDsa65Signer.fromSeed(testBytes("mldsa-cache-a", 32)),
      MlDsa65Signer.fromSeed(testBytes("mldsa-cache-b", 32)),
    ]);
    const message = utf8("cached key");
    const [sigA, sigB] = await Promise.all([a.sign(message), b.sign(message)]);
    const key = a.publicKey.slice();
    assertEquals(await mlDsa65Verify(key, message, sigA), true);
    assertEquals(await mlDsa65Verify(key, message, sigB), false);
    key.set(b.publicKey); // the same array now holds b's key
    assertEquals(await mlDsa65Verify(key, message, sigB), true);
    assertEquals(await mlDsa65Verify(key, message, sigA), false);
    // A malformed key in a reused array resolves false, then the array verifies again once fixed.
    key[0] ^= 0xff;
    key.set(b.publicKey.subarray(1), 1);
    assertEquals(await mlDsa65Verify(key, message, sigB), false);
    key.set(b.publicKey);
    assertEquals(await mlDsa65Verify(key, message, sigB), true);
  },
);
