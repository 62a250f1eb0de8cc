/**
 * Hash wrappers (protocol/crypto/hash.ts): SHA-256, SHA3-256, the domain-separated
 * `taggedHash` and its framing `framed`.
 *
 * Vectors: SHA-256("abc"), SHA-256("") and the two-block message
 * "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" (FIPS 180-4 examples, NIST CSRC
 * "Examples with intermediate values"); SHA3-256("abc") and SHA3-256("") (FIPS 202 examples).
 * https://csrc.nist.gov/projects/cryptographic-standards-and-guidelines/example-values
 */
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { sha3_256 as nobleSha3 } from "@noble/hashes/sha3.js";
import { framed, sha256, sha3_256, taggedHash } from "../../../protocol/crypto/hash.ts";
import { assertEquals, assertNotEquals } from "../../_assert.ts";
import { fromHex, testBytes, toHex, utf8 } from "./_helpers.ts";

Deno.test("SHA-256: FIPS 180 example vectors", () => {
  assertEquals(
    toHex(sha256(utf8("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assertEquals(
    toHex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assertEquals(toHex(sha256()), toHex(sha256(new Uint8Array(0))), "no parts = empty message");
  assertEquals(
    toHex(sha256(utf8("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("SHA3-256: FIPS 202 example vectors", () => {
  assertEquals(
    toHex(sha3_256(utf8("abc"))),
    "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
  );
  assertEquals(
    toHex(sha3_256(new Uint8Array(0))),
    "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
  );
});

Deno.test("SHA-256 / SHA3-256: several parts hash as their concatenation", () => {
  const whole = testBytes("hash/parts", 300);
  const cuts = [[0, 300], [0, 1, 300], [0, 64, 65, 200, 300], [0, 0, 150, 150, 300]];
  for (const cut of cuts) {
    const parts: Uint8Array[] = [];
    for (let i = 0; i + 1 < cut.length; i++) parts.push(whole.subarray(cut[i], cut[i + 1]));
    assertEquals(toHex(sha256(...parts)), toHex(nobleSha256(whole)));
    assertEquals(toHex(sha3_256(...parts)), toHex(nobleSha3(whole)));
  }
});

Deno.test("SHA-256 / SHA3-256: equal the reference implementation on arbitrary inputs", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 135, 136, 137, 1000, 100000]) {
    const data = testBytes(`hash/ref/${n}`, n);
    assertEquals(toHex(sha256(data)), toHex(nobleSha256(data)), `sha256 ${n}`);
    assertEquals(toHex(sha3_256(data)), toHex(nobleSha3(data)), `sha3 ${n}`);
  }
});

Deno.test("framed: layout is len(label) ‖ label ‖ len(p1) ‖ p1 ‖ … with 4-byte big-endian lengths", () => {
  assertEquals(toHex(framed("")), "00000000");
  assertEquals(toHex(framed("ab")), "00000002" + "6162");
  assertEquals(
    toHex(framed("ab", fromHex("010203"), new Uint8Array(0), fromHex("ff"))),
    "00000002" + "6162" + "00000003" + "010203" + "00000000" + "00000001" + "ff",
  );
  // Lengths count UTF-8 bytes, not UTF-16 code units ("é" is two bytes).
  assertEquals(toHex(framed("é")), "00000002" + "c3a9");
  // A part longer than 255 bytes shows the big-endian order of the length.
  const long = testBytes("hash/framed/long", 0x1234);
  const f = framed("L", long);
  assertEquals(toHex(f.subarray(0, 9)), "00000001" + "4c" + "00001234");
  assertEquals(toHex(f.subarray(9)), toHex(long));
  assertEquals(f.length, 4 + 1 + 4 + 0x1234);
});

Deno.test("taggedHash: equals SHA-256 of the framed label and parts", () => {
  const cases: [string, Uint8Array[]][] = [
    ["", []],
    ["fedagg/v1/hash/roster", []],
    ["fedagg/v1/hash/roster", [new Uint8Array(0)]],
    ["label", [utf8("a"), utf8("bc"), testBytes("hash/tagged/1", 1000)]],
    ["ünïcödé", [testBytes("hash/tagged/2", 64)]],
  ];
  for (const [label, parts] of cases) {
    const expected = toHex(nobleSha256(framed(label, ...parts)));
    assertEquals(toHex(taggedHash(label, ...parts)), expected);
  }
  // The same, with the framing written out by hand.
  assertEquals(
    toHex(taggedHash("ab", fromHex("0102"))),
    toHex(nobleSha256(fromHex("00000002" + "6162" + "00000002" + "0102"))),
  );
});

Deno.test("taggedHash: inputs past the one-shot size stream to the same hash", () => {
  // Small inputs are framed into one buffer, large ones streamed part by part with a reused
  // length prefix: both must hash the framing, whatever the parts' sizes and the label's reuse.
  const cases: Uint8Array[][] = [
    [testBytes("hash/stream/1", 5000)],
    [utf8("a"), testBytes("hash/stream/2", 4090), utf8("bcd")],
    [testBytes("hash/stream/3", 300), testBytes("hash/stream/4", 100000), new Uint8Array(0)],
    [testBytes("hash/stream/5", 4096 - 4 - 5 - 4)], // exactly at the one-shot size
    [testBytes("hash/stream/6", 4096 - 4 - 5 - 3)], // one byte past it
  ];
  for (const parts of cases) {
    for (let repeat = 0; repeat < 2; repeat++) {
      assertEquals(
        toHex(taggedHash("label", ...parts)),
        toHex(nobleSha256(framed("label", ...parts))),
        `${parts.map((p) => p.length)} (${repeat})`,
      );
    }
  }
});

Deno.test("taggedHash: label and part boundaries are part of the hash", () => {
  const h = (label: string, ...parts: string[]) => toHex(taggedHash(label, ...parts.map(utf8)));
  const distinct = [
    h("ab", "c"),
    h("a", "bc"),
    h("abc"),
    h("abc", ""),
    h("abc", "", ""),
    h("", "abc"),
    h("x", "ab", "c"),
    h("x", "a", "bc"),
    h("x", "abc"),
    h("x", "abc", ""),
    h("x", "", "abc"),
  ];
  assertEquals(new Set(distinct).size, distinct.length, "every framing hashes differently");
  // No collision with the plain hash of the concatenation either.
  assertNotEquals(h("ab", "c"), toHex(sha256(utf8("abc"))));
  // And the framing is the documented one: a fixed vector (SHA-256 of
  // 00000001 78 | 00000001 61 | 00000002 6263, computed with Python's hashlib).
  assertEquals(
    h("x", "a", "bc"),
    "7d4cabb8470213911943e34989befddc20bd70581dccb3fe02fdd1d8e9471b7b",
  );
});
