/**
 * ChaCha20-Poly1305 wrapper (protocol/crypto/aead.ts) against RFC 8439 and the reference
 * implementation (`chacha20poly1305` of `@noble/ciphers`).
 *
 * Vector: RFC 8439 §2.8.2, "Example and Test Vector for AEAD_CHACHA20_POLY1305".
 * https://www.rfc-editor.org/rfc/rfc8439#section-2.8.2
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { AEAD_TAG_LENGTH, open, seal } from "../../../protocol/crypto/aead.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { flipBit, fromHex, hexJoin, testBytes, toHex, utf8 } from "./_helpers.ts";

// RFC 8439 §2.8.2, as printed (hex dump rows of 16 bytes).
const RFC_PLAINTEXT = hexJoin([
  "4c616469657320616e642047656e746c",
  "656d656e206f662074686520636c6173",
  "73206f66202739393a20496620492063",
  "6f756c64206f6666657220796f75206f",
  "6e6c79206f6e652074697020666f7220",
  "746865206675747572652c2073756e73",
  "637265656e20776f756c642062652069",
  "742e",
]);
const RFC_AAD = fromHex("50515253c0c1c2c3c4c5c6c7");
const RFC_KEY = hexJoin([
  "808182838485868788898a8b8c8d8e8f",
  "909192939495969798999a9b9c9d9e9f",
]);
// 32-bit fixed-common part 07 00 00 00 ‖ IV 40 41 42 43 44 45 46 47.
const RFC_NONCE = fromHex("070000004041424344454647");
const RFC_CIPHERTEXT = hexJoin([
  "d31a8d34648e60db7b86afbc53ef7ec2",
  "a4aded51296e08fea9e2b5a736ee62d6",
  "3dbea45e8ca9671282fafb69da92728b",
  "1a71de0a9e060b2905d6a5b67ecd3b36",
  "92ddbd7f2d778b8c9803aee328091b58",
  "fab324e4fad675945585808b4831d7bc",
  "3ff4def08e4b7a9de576d26586cec64b",
  "6116",
]);
const RFC_TAG = fromHex("1ae10b594f09e26a7e902ecbd0600691");

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

Deno.test("AEAD: the RFC 8439 §2.8.2 plaintext is the sunscreen sentence", () => {
  assertEquals(
    toHex(RFC_PLAINTEXT),
    toHex(
      utf8(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the " +
          "future, sunscreen would be it.",
      ),
    ),
  );
  assertEquals(RFC_PLAINTEXT.length, 114);
  assertEquals(RFC_CIPHERTEXT.length, 114);
});

Deno.test("AEAD: RFC 8439 §2.8.2 seal gives the published ciphertext and tag", () => {
  const sealed = seal(RFC_KEY, RFC_NONCE, RFC_PLAINTEXT, RFC_AAD);
  assertEquals(sealed.length, RFC_PLAINTEXT.length + AEAD_TAG_LENGTH);
  assertEquals(toHex(sealed.subarray(0, RFC_PLAINTEXT.length)), toHex(RFC_CIPHERTEXT));
  assertEquals(toHex(sealed.subarray(RFC_PLAINTEXT.length)), toHex(RFC_TAG));
});

Deno.test("AEAD: RFC 8439 §2.8.2 open recovers the plaintext", () => {
  const plain = open(RFC_KEY, RFC_NONCE, concat(RFC_CIPHERTEXT, RFC_TAG), RFC_AAD);
  assert(plain !== undefined);
  assertEquals(toHex(plain), toHex(RFC_PLAINTEXT));
});

Deno.test("AEAD: a flipped bit in ciphertext, tag, AAD, nonce or key is refused", () => {
  const sealed = concat(RFC_CIPHERTEXT, RFC_TAG);
  for (let bit = 0; bit < sealed.length * 8; bit++) {
    assertEquals(open(RFC_KEY, RFC_NONCE, flipBit(sealed, bit), RFC_AAD), undefined, `ct ${bit}`);
  }
  for (let bit = 0; bit < RFC_AAD.length * 8; bit++) {
    assertEquals(open(RFC_KEY, RFC_NONCE, sealed, flipBit(RFC_AAD, bit)), undefined, `ad ${bit}`);
  }
  for (let bit = 0; bit < RFC_NONCE.length * 8; bit++) {
    assertEquals(open(RFC_KEY, flipBit(RFC_NONCE, bit), sealed, RFC_AAD), undefined, `n ${bit}`);
  }
  for (let bit = 0; bit < RFC_KEY.length * 8; bit += 7) {
    assertEquals(open(flipBit(RFC_KEY, bit), RFC_NONCE, sealed, RFC_AAD), undefined, `k ${bit}`);
  }
});

Deno.test("AEAD: truncated, extended or tag-only inputs are refused", () => {
  const sealed = concat(RFC_CIPHERTEXT, RFC_TAG);
  // Dropping the last byte, or the first, or appending one.
  assertEquals(open(RFC_KEY, RFC_NONCE, sealed.subarray(0, sealed.length - 1), RFC_AAD), undefined);
  assertEquals(open(RFC_KEY, RFC_NONCE, sealed.subarray(1), RFC_AAD), undefined);
  assertEquals(open(RFC_KEY, RFC_NONCE, concat(sealed, new Uint8Array(1)), RFC_AAD), undefined);
  // Shorter than a tag.
  for (const n of [0, 1, 15]) {
    assertEquals(open(RFC_KEY, RFC_NONCE, sealed.subarray(0, n), RFC_AAD), undefined);
  }
  // The tag alone (an empty ciphertext) is only valid for an empty plaintext.
  assertEquals(open(RFC_KEY, RFC_NONCE, RFC_TAG, RFC_AAD), undefined);
  // Additional data moved into the plaintext position, or dropped.
  assertEquals(open(RFC_KEY, RFC_NONCE, sealed, new Uint8Array(0)), undefined);
});

Deno.test("AEAD: empty plaintext and empty associated data round-trip", () => {
  const key = testBytes("aead/empty/key", 32);
  const nonce = testBytes("aead/empty/nonce", 12);
  const empty = new Uint8Array(0);
  const sealed = seal(key, nonce, empty, empty);
  assertEquals(sealed.length, AEAD_TAG_LENGTH);
  assertEquals(toHex(sealed), toHex(chacha20poly1305(key, nonce, empty).encrypt(empty)));
  const plain = open(key, nonce, sealed, empty);
  assert(plain !== undefined);
  assertEquals(plain.length, 0);
  assertEquals(open(key, nonce, flipBit(sealed, 0), empty), undefined);
});

Deno.test("AEAD: keys that are not 32 bytes and nonces that are not 12 are refused", () => {
  const key = testBytes("aead/lengths/key", 32);
  const nonce = testBytes("aead/lengths/nonce", 12);
  const pt = utf8("x");
  const sealed = seal(key, nonce, pt, pt);
  for (const n of [0, 16, 31, 33]) {
    assertThrows(() => seal(new Uint8Array(n), nonce, pt, pt), RangeError);
    assertThrows(() => open(new Uint8Array(n), nonce, sealed, pt), RangeError);
  }
  for (const n of [0, 8, 11, 13, 24]) {
    assertThrows(() => seal(key, new Uint8Array(n), pt, pt), RangeError);
    assertThrows(() => open(key, new Uint8Array(n), sealed, pt), RangeError);
  }
});

Deno.test("AEAD: equals the reference implementation on arbitrary inputs", () => {
  for (const [i, length] of [0, 1, 15, 16, 17, 63, 64, 65, 1000, 70000].entries()) {
    const key = testBytes(`aead/ref/key/${i}`, 32);
    const nonce = testBytes(`aead/ref/nonce/${i}`, 12);
    const pt = testBytes(`aead/ref/pt/${i}`, length);
    const ad = testBytes(`aead/ref/ad/${i}`, (i * 13) % 40);
    const ours = seal(key, nonce, pt, ad);
    const theirs = chacha20poly1305(key, nonce, ad).encrypt(pt);
    assertEquals(toHex(ours), toHex(theirs), `length ${length}`);
    const plain = open(key, nonce, theirs, ad);
    assert(plain !== undefined);
    assertEquals(toHex(plain), toHex(pt));
    assertEquals(toHex(chacha20poly1305(key, nonce, ad).decrypt(ours)), toHex(pt));
  }
});

Deno.test("AEAD: inputs are not modified by seal or by a failed open", () => {
  const key = testBytes("aead/immutable/key", 32);
  const nonce = testBytes("aead/immutable/nonce", 12);
  const pt = testBytes("aead/immutable/pt", 100);
  const ad = testBytes("aead/immutable/ad", 10);
  const before = [key, nonce, pt, ad].map(toHex);
  const sealed = seal(key, nonce, pt, ad);
  const tampered = flipBit(sealed, 3);
  const tamperedHex = toHex(tampered);
  assertEquals(open(key, nonce, tampered, ad), undefined);
  assertEquals([key, nonce, pt, ad].map(toHex), before);
  assertEquals(toHex(tampered), tamperedHex);
});
