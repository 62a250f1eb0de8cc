/**
 * The masking PRG (protocol/crypto/prg.ts): the ChaCha20 keystream with a 96-bit zero nonce,
 * read as little-endian uint32 words. Checked against RFC 8439 and proven bit-identical to the
 * reference implementation (`chacha20` of `@noble/ciphers`, zero nonce, counter 0).
 *
 * Vectors: RFC 8439 Appendix A.1 "The ChaCha20 Block Functions", test vectors #1 to #4 (all
 * four use the zero nonce the PRG is fixed to; #5 uses nonce …02 and cannot be expressed).
 * https://www.rfc-editor.org/rfc/rfc8439#appendix-A.1
 *
 * RFC 8439 §2.4.2 (the "Ladies and Gentlemen" ChaCha20 example) uses the nonce
 * 00:00:00:00:00:00:00:4a:00:00:00:00, which the PRG cannot take (its nonce is fixed at zero),
 * so that vector is checked against the reference ChaCha20 and the PRG is checked against the
 * same reference for the same key at the same counter.
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { bytesToU32 } from "../../../protocol/encoding/bytes.ts";
import {
  applyMasks,
  type MaskTerm,
  PRG_BLOCK_WORDS,
  prgExpand,
  prgFill,
} from "../../../protocol/crypto/prg.ts";
import { assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { fromHex, hexJoin, referenceKeystream, testBytes, toHex, wordBytes } from "./_helpers.ts";

/** Native chunk size of the implementation (64 KiB of keystream per call). */
const CHUNK_WORDS = 16384;

/** PRG words `[fromWord, fromWord + length)` as little-endian bytes. */
function prgBytes(key: Uint8Array, length: number, fromWord = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint32Array(length);
  prgFill(key, out, fromWord);
  return wordBytes(out);
}

// RFC 8439 Appendix A.1, keystream of one block each.
const A1 = [
  {
    name: "#1",
    key: "0000000000000000000000000000000000000000000000000000000000000000",
    counter: 0,
    keystream: [
      "76b8e0ada0f13d90405d6ae55386bd28",
      "bdd219b8a08ded1aa836efcc8b770dc7",
      "da41597c5157488d7724e03fb8d84a37",
      "6a43b8f41518a11cc387b669b2ee6586",
    ],
  },
  {
    name: "#2",
    key: "0000000000000000000000000000000000000000000000000000000000000000",
    counter: 1,
    keystream: [
      "9f07e7be5551387a98ba977c732d080d",
      "cb0f29a048e3656912c6533e32ee7aed",
      "29b721769ce64e43d57133b074d839d5",
      "31ed1f28510afb45ace10a1f4b794d6f",
    ],
  },
  {
    name: "#3",
    key: "0000000000000000000000000000000000000000000000000000000000000001",
    counter: 1,
    keystream: [
      "3aeb5224ecf849929b9d828db1ced4dd",
      "832025e8018b8160b82284f3c949aa5a",
      "8eca00bbb4a73bdad192b5c42f73f2fd",
      "4e273644c8b36125a64addeb006c13a0",
    ],
  },
  {
    name: "#4",
    key: "00ff000000000000000000000000000000000000000000000000000000000000",
    counter: 2,
    keystream: [
      "72d54dfbf12ec44b362692df94137f32",
      "8fea8da73990265ec1bbbea1ae9af0ca",
      "13b25aa26cb4a648cb9b9d1be65b2c09",
      "24a66c54d545ec1b7374f4872e99f096",
    ],
  },
];

for (const v of A1) {
  Deno.test(`PRG: RFC 8439 A.1 keystream test vector ${v.name} (block counter ${v.counter})`, () => {
    const key = fromHex(v.key);
    const expected = toHex(hexJoin(v.keystream));
    assertEquals(toHex(prgBytes(key, PRG_BLOCK_WORDS, v.counter * PRG_BLOCK_WORDS)), expected);
    // The same block read as part of a longer stream from word 0.
    const all = prgExpand(key, (v.counter + 1) * PRG_BLOCK_WORDS);
    assertEquals(toHex(wordBytes(all.subarray(v.counter * PRG_BLOCK_WORDS))), expected);
  });
}

Deno.test("PRG: RFC 8439 §2.4.2 (nonce …4a…): vector holds for ChaCha20, PRG matches the same key", () => {
  const key = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const nonce = fromHex("000000000000004a00000000");
  const plaintext = hexJoin([
    "4c616469657320616e642047656e746c",
    "656d656e206f662074686520636c6173",
    "73206f66202739393a20496620492063",
    "6f756c64206f6666657220796f75206f",
    "6e6c79206f6e652074697020666f7220",
    "746865206675747572652c2073756e73",
    "637265656e20776f756c642062652069",
    "742e",
  ]);
  const ciphertext = hexJoin([
    "6e2e359a2568f98041ba0728dd0d6981",
    "e97e7aec1d4360c20a27afccfd9fae0b",
    "f91b65c5524733ab8f593dabcd62b357",
    "1639d624e65152ab8f530c359f0861d8",
    "07ca0dbf500d6a6156a38e088a22b65e",
    "52bc514d16ccf806818ce91ab7793736",
    "5af90bbf74a35be6b40b8eedf2785e42",
    "874d",
  ]);
  // The published keystream of §2.4.2 (first bytes), equal to ciphertext XOR plaintext.
  const keystream = ciphertext.map((c, i) => c ^ plaintext[i]);
  assertEquals(
    toHex(keystream.subarray(0, 16)),
    "224f51f3401bd9e12fde276fb8631ded",
  );
  // The vector itself, through the reference ChaCha20 with its nonce and initial counter 1.
  assertEquals(toHex(chacha20(key, nonce, plaintext, undefined, 1)), toHex(ciphertext));
  // The PRG is ChaCha20 with the zero nonce: words from block 1 (fromWord = 16) equal the
  // reference keystream of the zero nonce at counter 1, and therefore not the §2.4.2 stream.
  const words = Math.ceil(plaintext.length / 4);
  const prg = prgBytes(key, words, PRG_BLOCK_WORDS).subarray(0, plaintext.length);
  assertEquals(toHex(prg), toHex(referenceKeystream(key, plaintext.length, 1)));
  assertNotEquals(toHex(prg), toHex(keystream));
});

Deno.test("PRG: prgExpand and prgFill equal the reference ChaCha20 for many lengths", () => {
  const lengths = [0, 1, 15, 16, 17, 16383, 16384, 16385, 100003];
  for (const [i, length] of lengths.entries()) {
    const key = testBytes(`prg/lengths/${i}`, 32);
    const expected = toHex(referenceKeystream(key, length * 4));
    const expanded = prgExpand(key, length);
    assertEquals(expanded.length, length);
    assertEquals(toHex(wordBytes(expanded)), expected, `prgExpand, ${length} words`);
    // prgFill into a view that does not start at the beginning of its buffer.
    const backing = new Uint32Array(length + 3);
    const view = backing.subarray(2, 2 + length);
    prgFill(key, view);
    assertEquals(toHex(wordBytes(view)), expected, `prgFill, ${length} words`);
    assertEquals([backing[0], backing[1], backing[length + 2]], [0, 0, 0], "outside the view");
  }
});

Deno.test("PRG: prgFill at block-aligned offsets equals the reference from that block", () => {
  const key = testBytes("prg/offsets", 32);
  const blocks = [1, 2, 3, 1023, 1024, CHUNK_WORDS / PRG_BLOCK_WORDS, CHUNK_WORDS, 65536, 1000003];
  for (const block of blocks) {
    for (const length of [1, 16, 17, 16385]) {
      assertEquals(
        toHex(prgBytes(key, length, block * PRG_BLOCK_WORDS)),
        toHex(referenceKeystream(key, length * 4, block)),
        `block ${block}, ${length} words`,
      );
    }
  }
  // Near the end of the 2^32-block stream (the reference refuses counter 2^32 - 1 itself).
  const last = 2 ** 32 - 2;
  assertEquals(
    toHex(prgBytes(key, 16, last * PRG_BLOCK_WORDS)),
    toHex(referenceKeystream(key, 64, last)),
  );
  // Consistency with one long read.
  const long = prgExpand(key, 40000);
  for (const block of [1, 100, 1024, 1500]) {
    const from = block * PRG_BLOCK_WORDS;
    assertEquals(
      toHex(prgBytes(key, 40000 - from, from)),
      toHex(wordBytes(long.subarray(from))),
      `suffix from block ${block}`,
    );
  }
});

Deno.test("PRG: words are the little-endian reading of the keystream", () => {
  const key = testBytes("prg/endianness", 32);
  const bytes = referenceKeystream(key, 64);
  const words = prgExpand(key, 16);
  for (let i = 0; i < 16; i++) {
    const expected = (bytes[4 * i] | (bytes[4 * i + 1] << 8) | (bytes[4 * i + 2] << 16) |
      (bytes[4 * i + 3] << 24)) >>> 0;
    assertEquals(words[i], expected);
  }
  assertEquals(Array.from(words), Array.from(bytesToU32(bytes)));
});

Deno.test("PRG: distinct keys give distinct streams, a key always the same stream", () => {
  const a = testBytes("prg/distinct/a", 32);
  const b = new Uint8Array(a);
  b[31] ^= 0x80;
  assertNotEquals(toHex(wordBytes(prgExpand(a, 64))), toHex(wordBytes(prgExpand(b, 64))));
  assertEquals(toHex(wordBytes(prgExpand(a, 64))), toHex(wordBytes(prgExpand(a, 64))));
});

/** Word-by-word equality that reports the first differing index (fast on long vectors). */
function assertWordsEqual(actual: Uint32Array, expected: Uint32Array, msg = ""): void {
  assertEquals(actual.length, expected.length, `${msg}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) assertEquals(actual[i], expected[i], `${msg}: word ${i}`);
  }
}

/** The specification of applyMasks, written the slow way. */
function naiveMasks(target: Uint32Array, terms: readonly MaskTerm[], fromWord: number): void {
  for (const term of terms) {
    const stream = new Uint32Array(target.length);
    prgFill(term.key, stream, fromWord);
    for (let i = 0; i < target.length; i++) {
      target[i] = term.negate ? (target[i] - stream[i]) >>> 0 : (target[i] + stream[i]) >>> 0;
    }
  }
}

function maskTerms(count: number): MaskTerm[] {
  return Array.from({ length: count }, (_, j) => ({
    key: testBytes(`prg/masks/key/${j}`, 32),
    negate: (j * 5 + count) % 3 === 0,
  }));
}

Deno.test("PRG: applyMasks equals the naive sum and difference of keystreams mod 2^32", () => {
  // Lengths below, at, between and above multiples of the 64 KiB chunk.
  const lengths = [0, 1, 17, 16383, CHUNK_WORDS, 16385, 2 * CHUNK_WORDS, 40000];
  const offsets = [0, 7 * PRG_BLOCK_WORDS, CHUNK_WORDS * PRG_BLOCK_WORDS];
  for (const length of lengths) {
    const initial = bytesToU32(testBytes(`prg/masks/initial/${length}`, length * 4));
    for (const fromWord of offsets) {
      for (let count = 0; count <= 9; count++) {
        const terms = maskTerms(count);
        const expected = new Uint32Array(initial);
        naiveMasks(expected, terms, fromWord);
        const actual = new Uint32Array(initial);
        if (fromWord === 0 && count % 2 === 0) applyMasks(actual, terms); // default offset
        else applyMasks(actual, terms, fromWord);
        assertWordsEqual(
          actual,
          expected,
          `length ${length}, fromWord ${fromWord}, ${count} terms`,
        );
      }
    }
  }
});

Deno.test("PRG: applyMasks with every term negated, and with no terms", () => {
  const length = 20000;
  const initial = bytesToU32(testBytes("prg/masks/all-negated", length * 4));
  for (let count = 1; count <= 9; count++) {
    const terms = maskTerms(count).map((t) => ({ key: t.key, negate: true }));
    const expected = new Uint32Array(initial);
    naiveMasks(expected, terms, 0);
    const actual = new Uint32Array(initial);
    applyMasks(actual, terms);
    assertWordsEqual(actual, expected, `${count} terms`);
  }
  const untouched = new Uint32Array(initial);
  applyMasks(untouched, []);
  assertWordsEqual(untouched, initial, "no terms");
});

Deno.test("PRG: a mask added and subtracted cancels exactly", () => {
  const length = 3 * CHUNK_WORDS + 5;
  const initial = bytesToU32(testBytes("prg/masks/cancel", length * 4));
  const keys = [0, 1, 2, 3, 4].map((i) => testBytes(`prg/masks/cancel/${i}`, 32));
  const terms: MaskTerm[] = [
    ...keys.map((key) => ({ key, negate: false })),
    ...keys.map((key) => ({ key, negate: true })).reverse(),
  ];
  const target = new Uint32Array(initial);
  applyMasks(target, terms, 32);
  assertWordsEqual(target, initial, "cancelled");
});

Deno.test("PRG: applyMasks on a view changes only the view", () => {
  const backing = bytesToU32(testBytes("prg/masks/view", 4 * 1000));
  const before = new Uint32Array(backing);
  const view = backing.subarray(100, 900);
  const terms = maskTerms(3);
  const expected = new Uint32Array(view);
  naiveMasks(expected, terms, 48);
  applyMasks(view, terms, 48);
  assertWordsEqual(view, expected, "view");
  assertEquals(Array.from(backing.subarray(0, 100)), Array.from(before.subarray(0, 100)));
  assertEquals(Array.from(backing.subarray(900)), Array.from(before.subarray(900)));
});

Deno.test("PRG: misaligned or out-of-range offsets are refused with RangeError", () => {
  const key = testBytes("prg/refuse/offset", 32);
  const bad = [1, 8, 15, 17, 31, -16, -1, 0.5, 16.5, NaN, Infinity, -Infinity, 16 * 2 ** 32];
  for (const fromWord of bad) {
    assertThrows(() => prgFill(key, new Uint32Array(16), fromWord), RangeError);
    assertThrows(() => prgFill(key, new Uint32Array(0), fromWord), RangeError);
    const target = new Uint32Array(16);
    assertThrows(() => applyMasks(target, [{ key, negate: false }], fromWord), RangeError);
    assertThrows(() => applyMasks(target, [{ key, negate: true }], fromWord), RangeError);
    assertEquals(Array.from(target), new Array(16).fill(0), "target untouched");
  }
});

Deno.test("PRG: keys that are not 32 bytes are refused with RangeError", () => {
  const good = testBytes("prg/refuse/key", 32);
  for (const n of [0, 1, 16, 31, 33, 64]) {
    const key = new Uint8Array(n);
    assertThrows(() => prgExpand(key, 4), RangeError);
    assertThrows(() => prgExpand(key, 0), RangeError);
    assertThrows(() => prgFill(key, new Uint32Array(4)), RangeError);
    // A bad key anywhere among the terms refuses the whole call before the target changes.
    const target = new Uint32Array(40);
    const terms: MaskTerm[] = [
      { key: good, negate: false },
      { key: good, negate: true },
      { key, negate: n % 2 === 0 },
    ];
    assertThrows(() => applyMasks(target, terms), RangeError);
    assertEquals(Array.from(target), new Array(40).fill(0), "target untouched");
  }
});

// A read that crossed block 2^32 − 1 would wrap the 32-bit block counter to block 0
// (keystream reuse): both entry points refuse it, and check offsets even without terms.
Deno.test({
  name: "PRG: reads past the end of the 2^32-block stream are refused",
  fn() {
    const key = testBytes("prg/bug/end-of-stream", 32);
    const lastBlock = (2 ** 32 - 1) * PRG_BLOCK_WORDS;
    // The last block alone is fine; two blocks from there would need block 2^32.
    prgFill(key, new Uint32Array(16), lastBlock);
    assertThrows(() => prgFill(key, new Uint32Array(32), lastBlock), RangeError);
    assertThrows(
      () => applyMasks(new Uint32Array(17), [{ key, negate: false }], lastBlock),
      RangeError,
    );
  },
});

Deno.test({
  name: "PRG: applyMasks without terms refuses misaligned offsets like prgFill",
  fn() {
    assertThrows(() => applyMasks(new Uint32Array(4), [], 1), RangeError);
  },
});
