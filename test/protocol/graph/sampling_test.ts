/**
 * Unbiased sampling (protocol/graph/sampling.ts): `randomPermutation` is a permutation in which
 * every position takes every label, with plausible frequencies; `uniformBelow` rejects exactly the
 * words at or above the largest multiple of its bound (no modulo bias), reads little-endian words
 * and refuses bad bounds and short reads.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertLessOrEqual,
  assertThrows,
} from "../../_assert.ts";
import { seededRng } from "../../../protocol/crypto/random.ts";
import { randomPermutation, uniformBelow } from "../../../protocol/graph/sampling.ts";
import { refusingRng, seed, wordsRng } from "./_helpers.ts";

// ----------------------------------------------------------------------------------------------
// Permutation and sampler
// ----------------------------------------------------------------------------------------------

Deno.test("randomPermutation: every position takes every label, across many seeds", () => {
  const n = 7;
  const seen = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let s = 0; s < 300; s++) {
    const p = randomPermutation(n, seededRng(seed(1000 + s)));
    assertEquals([...p].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6], "a permutation");
    p.forEach((label, position) => seen[position][label]++);
  }
  for (const row of seen) for (const count of row) assertGreaterOrEqual(count, 1);
});

Deno.test("randomPermutation: all 24 permutations of 4 appear with plausible frequencies", () => {
  const rng = seededRng(seed(99));
  const trials = 2400;
  const byPermutation = new Map<string, number>();
  const cell = Array.from({ length: 4 }, () => new Array<number>(4).fill(0));
  for (let i = 0; i < trials; i++) {
    const p = randomPermutation(4, rng);
    byPermutation.set(p.join(), (byPermutation.get(p.join()) ?? 0) + 1);
    p.forEach((label, position) => cell[position][label]++);
  }
  assertEquals(byPermutation.size, 24);
  // Expected 600 per cell, standard deviation ≈ 21: these are loose, deterministic sanity bounds.
  for (const row of cell) {
    for (const count of row) {
      assertGreaterOrEqual(count, 480);
      assertLessOrEqual(count, 720);
    }
  }
  assertEquals(randomPermutation(1, refusingRng), [0]);
});

Deno.test("uniformBelow rejects exactly the top partial block (no modulo bias)", () => {
  // bound 3: 2^32 mod 3 = 1, so only 0xFFFFFFFF is rejected.
  let rng = wordsRng([0xffffffff, 0xfffffffe]);
  assertEquals(uniformBelow(rng, 3), 0xfffffffe % 3);
  assertEquals(rng.used(), 2);
  // bound 2^31 + 1: almost half the words are rejected; `w % bound` would map them to 0..2^31−2.
  rng = wordsRng([2 ** 31 + 1, 0xffffffff, 2 ** 31]);
  assertEquals(uniformBelow(rng, 2 ** 31 + 1), 2 ** 31);
  assertEquals(rng.used(), 3);
  // bound 2^32 and bound 1 never reject.
  rng = wordsRng([0xffffffff, 12345]);
  assertEquals(uniformBelow(rng, 2 ** 32), 0xffffffff);
  assertEquals(uniformBelow(rng, 1), 0);
  assertEquals(rng.used(), 2);
  // For every bound, the accepted words are [0, limit) with limit a multiple of bound and
  // 2^32 − limit < bound: each residue has exactly limit / bound preimages.
  const bounds = [2, 3, 5, 7, 10, 1000, 10_007, 3 * 2 ** 30, 2 ** 31 - 1, 2 ** 31 + 1, 2 ** 32 - 1];
  for (const bound of bounds) {
    const limit = 2 ** 32 - (2 ** 32 % bound);
    assertEquals(limit % bound, 0);
    assert(2 ** 32 - limit < bound);
    rng = wordsRng([limit - 1]);
    assertEquals(uniformBelow(rng, bound), bound - 1, `largest accepted word, bound ${bound}`);
    rng = wordsRng([0]);
    assertEquals(uniformBelow(rng, bound), 0);
    if (limit < 2 ** 32) {
      rng = wordsRng([limit, 2 ** 32 - 1, 5]);
      assertEquals(uniformBelow(rng, bound), 5 % bound, `limit and above rejected, ${bound}`);
      assertEquals(rng.used(), 3);
    }
  }
  // Words are little-endian.
  assertEquals(uniformBelow(() => new Uint8Array([1, 2, 3, 4]), 2 ** 32), 0x04030201);
  // Refusals.
  for (const bad of [0, 1.5, -3, 2 ** 32 + 1, NaN]) {
    assertThrows(() => uniformBelow(refusingRng, bad), RangeError);
  }
  assertThrows(() => uniformBelow(() => new Uint8Array(3), 10), RangeError);
});
