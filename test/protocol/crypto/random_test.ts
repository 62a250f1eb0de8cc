/**
 * Randomness (protocol/crypto/random.ts): `seededRng` is the ChaCha20 keystream of its seed
 * (RFC 8439, zero nonce, counter from zero), checked against the reference `chacha20` of
 * `@noble/ciphers`; `systemRng` returns the requested number of bytes beyond the 64 KiB
 * `getRandomValues` limit.
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { seededRng, systemRng } from "../../../protocol/crypto/random.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { fromHex, referenceKeystream, testBytes, toHex } from "./_helpers.ts";

const REQUESTS = [0, 1, 31, 32, 33, 63, 64, 65, 1000, 70000, 3];

function drain(rng: (n: number) => Uint8Array, requests: readonly number[]): Uint8Array[] {
  return requests.map((n) => rng(n));
}

Deno.test("seededRng: the same seed gives the same bytes for the same requests", () => {
  const seed = testBytes("random/same", 32);
  const a = drain(seededRng(seed), REQUESTS);
  const b = drain(seededRng(new Uint8Array(seed)), REQUESTS);
  assertEquals(a.map(toHex), b.map(toHex));
  REQUESTS.forEach((n, i) => assertEquals(a[i].length, n));
});

Deno.test("seededRng: different seeds give different bytes", () => {
  const seed = testBytes("random/different", 32);
  const other = new Uint8Array(seed);
  other[0] ^= 1;
  assertNotEquals(toHex(seededRng(seed)(64)), toHex(seededRng(other)(64)));
  assertNotEquals(toHex(seededRng(seed)(64)), toHex(seededRng(new Uint8Array(32))(64)));
});

Deno.test("seededRng: successive requests continue one ChaCha20 keystream of the seed", () => {
  for (const label of ["a", "b", "c"]) {
    const seed = testBytes(`random/keystream/${label}`, 32);
    const outputs = drain(seededRng(seed), REQUESTS);
    const total = REQUESTS.reduce((s, n) => s + n, 0);
    const joined = new Uint8Array(total);
    let o = 0;
    for (const out of outputs) {
      joined.set(out, o);
      o += out.length;
    }
    assertEquals(toHex(joined), toHex(referenceKeystream(seed, total)));
    assertEquals(
      toHex(joined),
      toHex(chacha20(seed, new Uint8Array(12), new Uint8Array(total), undefined, 0)),
    );
  }
});

Deno.test("seededRng: the all-zero seed gives the RFC 8439 A.1 test vector #1 keystream", () => {
  assertEquals(
    toHex(seededRng(new Uint8Array(32))(64)),
    "76b8e0ada0f13d90405d6ae55386bd28" + "bdd219b8a08ded1aa836efcc8b770dc7" +
      "da41597c5157488d7724e03fb8d84a37" + "6a43b8f41518a11cc387b669b2ee6586",
  );
});

Deno.test("seededRng: outputs are fresh arrays the caller may modify", () => {
  const seed = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const rng = seededRng(seed);
  const first = rng(16);
  first.fill(0);
  const second = rng(16);
  assertEquals(toHex(second), toHex(referenceKeystream(seed, 32).subarray(16)));
  assertEquals(toHex(seed), "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
});

Deno.test("seededRng: seeds that are not 32 bytes are refused", () => {
  for (const n of [0, 1, 16, 31, 33, 64]) {
    assertThrows(() => seededRng(new Uint8Array(n)), RangeError);
  }
});

Deno.test("systemRng: returns the requested lengths, including beyond 65536 bytes", () => {
  for (const n of [0, 1, 32, 65535, 65536, 65537, 200000, 1 << 20]) {
    assertEquals(systemRng(n).length, n, `${n} bytes`);
  }
});

Deno.test("systemRng: every 64 KiB chunk of a long request is filled", () => {
  // 200000 bytes = three full chunks and one of 3392 bytes. A chunk left unfilled would be all
  // zeros; 128 random bytes are all zero with probability 2^-1024.
  const out = systemRng(200000);
  for (const start of [0, 65536 - 128, 65536, 131072, 196608, 200000 - 128]) {
    const window = out.subarray(start, start + 128);
    assert(window.some((b) => b !== 0), `bytes ${start}..${start + 128} are all zero`);
  }
  assertNotEquals(toHex(systemRng(32)), toHex(systemRng(32)));
});
