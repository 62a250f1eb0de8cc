/**
 * HKDF-SHA256 wrapper (protocol/crypto/hkdf.ts) against RFC 5869 and the reference
 * implementation (`hkdf` of `@noble/hashes`).
 *
 * Vectors: RFC 5869 Appendix A.1, A.2 and A.3 (test cases 1–3, SHA-256).
 * https://www.rfc-editor.org/rfc/rfc5869#appendix-A
 */
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { framed } from "../../../protocol/crypto/hash.ts";
import { deriveKey, hkdf } from "../../../protocol/crypto/hkdf.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";
import { fromHex, hexJoin, testBytes, toHex, utf8 } from "./_helpers.ts";

/** Bytes start, start + 1, …, start + n - 1 (the RFC 5869 inputs are such runs). */
function run(start: number, n: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: n }, (_, i) => start + i);
}

Deno.test("HKDF: RFC 5869 A.1 test case 1 (basic)", () => {
  const ikm = fromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  const salt = fromHex("000102030405060708090a0b0c");
  const info = fromHex("f0f1f2f3f4f5f6f7f8f9");
  assertEquals(
    toHex(hkdf(ikm, salt, info, 42)),
    toHex(hexJoin([
      "3cb25f25faacd57a90434f64d0362f2a",
      "2d2d0a90cf1a5a4c5db02d56ecc4c5bf",
      "34007208d5b887185865",
    ])),
  );
});

Deno.test("HKDF: RFC 5869 A.2 test case 2 (longer inputs and outputs)", () => {
  const ikm = hexJoin([
    "000102030405060708090a0b0c0d0e0f",
    "101112131415161718191a1b1c1d1e1f",
    "202122232425262728292a2b2c2d2e2f",
    "303132333435363738393a3b3c3d3e3f",
    "404142434445464748494a4b4c4d4e4f",
  ]);
  const salt = hexJoin([
    "606162636465666768696a6b6c6d6e6f",
    "707172737475767778797a7b7c7d7e7f",
    "808182838485868788898a8b8c8d8e8f",
    "909192939495969798999a9b9c9d9e9f",
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
  ]);
  const info = hexJoin([
    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
    "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeef",
    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
  ]);
  // The inputs are the byte runs 0x00…0x4f, 0x60…0xaf, 0xb0…0xff.
  assertEquals(toHex(ikm), toHex(run(0x00, 80)));
  assertEquals(toHex(salt), toHex(run(0x60, 80)));
  assertEquals(toHex(info), toHex(run(0xb0, 80)));
  assertEquals(
    toHex(hkdf(ikm, salt, info, 82)),
    toHex(hexJoin([
      "b11e398dc80327a1c8e7f78c596a4934",
      "4f012eda2d4efad8a050cc4c19afa97c",
      "59045a99cac7827271cb41c65e590e09",
      "da3275600c2f09b8367793a9aca3db71",
      "cc30c58179ec3e87c14c01d5c1f3434f",
      "1d87",
    ])),
  );
});

Deno.test("HKDF: RFC 5869 A.3 test case 3 (zero-length salt and info)", () => {
  const ikm = fromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  assertEquals(
    toHex(hkdf(ikm, new Uint8Array(0), new Uint8Array(0), 42)),
    toHex(hexJoin([
      "8da4e775a563c18f715f802a063c5a31",
      "b8a11f5c5ee1879ec3454e5f3c738d2d",
      "9d201395faa4b61a96c8",
    ])),
  );
});

Deno.test("HKDF: output lengths 1 to 8160 are accepted and equal the reference", () => {
  const ikm = testBytes("hkdf/lengths/ikm", 32);
  const salt = testBytes("hkdf/lengths/salt", 16);
  const info = testBytes("hkdf/lengths/info", 20);
  for (const length of [1, 31, 32, 33, 64, 100, 8159, 8160]) {
    const ours = hkdf(ikm, salt, info, length);
    assertEquals(ours.length, length);
    assertEquals(toHex(ours), toHex(nobleHkdf(nobleSha256, ikm, salt, info, length)));
  }
});

Deno.test("HKDF: lengths outside 1..8160 (RFC 5869: L <= 255 * HashLen) are refused", () => {
  const ikm = testBytes("hkdf/refuse", 32);
  const empty = new Uint8Array(0);
  for (const length of [0, -1, 8161, 255 * 32 + 32, 1.5, NaN, Infinity, -Infinity]) {
    assertThrows(() => hkdf(ikm, empty, empty, length), RangeError);
  }
});

Deno.test("HKDF: equals the reference on arbitrary inputs", () => {
  for (let i = 0; i < 12; i++) {
    const ikm = testBytes(`hkdf/ref/ikm/${i}`, i * 11);
    const salt = testBytes(`hkdf/ref/salt/${i}`, (i * 29) % 100);
    const info = testBytes(`hkdf/ref/info/${i}`, (i * 7) % 50);
    const length = 1 + ((i * 97) % 300);
    assertEquals(
      toHex(hkdf(ikm, salt, info, length)),
      toHex(nobleHkdf(nobleSha256, ikm, salt, info, length)),
    );
  }
});

Deno.test("deriveKey: HKDF-SHA256, empty salt, framed(label, ...context) as info, 32 bytes", () => {
  const ikm = testBytes("hkdf/derive/ikm", 32);
  const context = [utf8("alice"), testBytes("hkdf/derive/ctx", 40)];
  const key = deriveKey(ikm, "fedagg/v1/kdf/test", ...context);
  assertEquals(key.length, 32);
  assertEquals(
    toHex(key),
    toHex(nobleHkdf(nobleSha256, ikm, undefined, framed("fedagg/v1/kdf/test", ...context), 32)),
  );
  assertEquals(toHex(deriveKey(ikm, "fedagg/v1/kdf/test", ...context)), toHex(key));
});

Deno.test("deriveKey: different labels, contexts or context boundaries give different keys", () => {
  const ikm = testBytes("hkdf/distinct/ikm", 32);
  const keys = [
    deriveKey(ikm, "fedagg/v1/kdf/a"),
    deriveKey(ikm, "fedagg/v1/kdf/b"),
    deriveKey(ikm, "fedagg/v1/kdf/a", new Uint8Array(0)),
    deriveKey(ikm, "fedagg/v1/kdf/a", utf8("x")),
    deriveKey(ikm, "fedagg/v1/kdf/a", utf8("y")),
    deriveKey(ikm, "fedagg/v1/kdf/a", utf8("ab"), utf8("c")),
    deriveKey(ikm, "fedagg/v1/kdf/a", utf8("a"), utf8("bc")),
    deriveKey(ikm, "fedagg/v1/kdf/a", utf8("abc")),
    deriveKey(ikm, "fedagg/v1/kdf/ab", utf8("c")),
    deriveKey(testBytes("hkdf/distinct/other-ikm", 32), "fedagg/v1/kdf/a"),
  ].map(toHex);
  assertEquals(new Set(keys).size, keys.length);
});

Deno.test("HKDF: info up to 1024 bytes equals the reference", () => {
  const ikm = testBytes("hkdf/info/ikm", 32);
  for (const n of [0, 1, 100, 1000, 1024]) {
    const info = testBytes(`hkdf/info/${n}`, n);
    assertEquals(
      toHex(hkdf(ikm, new Uint8Array(0), info, 32)),
      toHex(nobleHkdf(nobleSha256, ikm, undefined, info, 32)),
      `info of ${n} bytes`,
    );
  }
});

// node:crypto's hkdfSync caps `info` at 1024 bytes (RFC 5869 sets no limit). The wrapper
// documents the cap and callers bind long values (KEM ciphertexts) by their hash; here we check
// that the boundary is exact and that an over-long info is refused, never truncated.
Deno.test("HKDF: info up to 1024 bytes matches noble; longer info is refused", () => {
  const ikm = testBytes("hkdf/long-info/ikm", 32);
  const info = testBytes("hkdf/long-info/1024", 1024);
  assertEquals(
    toHex(hkdf(ikm, new Uint8Array(0), info, 32)),
    toHex(nobleHkdf(nobleSha256, ikm, undefined, info, 32)),
  );
  for (const n of [1025, 1207, 5000]) {
    assertThrows(() => hkdf(ikm, new Uint8Array(0), testBytes(`hkdf/long-info/${n}`, n), 32));
  }
  const longContext = testBytes("hkdf/long-info/xwing-ct", 1120);
  assertThrows(() => deriveKey(ikm, "fedagg/v1/kdf/pair-mask-prg", longContext));
  assertEquals(framed("fedagg/v1/kdf/pair-mask-prg", longContext).length > 1024, true);
});
