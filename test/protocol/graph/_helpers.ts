/**
 * Helpers shared by the graph tests: seeds and crafted rngs that serve chosen 32-bit words,
 * ConfigError settings, and exact big-integer hypergeometric tails for recomputing the bounds
 * independently of the code under test.
 *
 * @module
 */
import { assertEquals, assertThrows } from "../../_assert.ts";
import { ConfigError } from "../../../protocol/errors.ts";
import type { Rng } from "../../../protocol/crypto/random.ts";

/** A 32-byte rng seed numbered `i`. */
export function seed(i: number): Uint8Array {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, i, true);
  s[31] = 0x9a;
  return s;
}

/** An rng that serves the given 32-bit words, little-endian, one per `rng(4)` call. */
export function wordsRng(words: readonly number[]): Rng & { used: () => number } {
  let next = 0;
  const rng = (length: number) => {
    assertEquals(length, 4, "graph code must read one 32-bit word at a time");
    if (next >= words.length) throw new Error("crafted rng exhausted");
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, words[next++], true);
    return out;
  };
  return Object.assign(rng, { used: () => next });
}

/** The words making Fisher–Yates keep the identity: at step i (bound i + 1), j = i. */
export function identityWords(n: number): number[] {
  const words = [];
  for (let i = n - 1; i >= 1; i--) words.push(i);
  return words;
}

/** An rng for calls that must read no randomness: any read throws. */
export const refusingRng: Rng = () => {
  throw new Error("this call must not read randomness");
};

/** Asserts that `fn` throws a ConfigError, and returns the setting it names. */
export function setting(fn: () => unknown): string {
  const e = assertThrows(fn, ConfigError);
  return (e as ConfigError).setting;
}

// Exact rational arithmetic for independent recomputation of the bounds.

/** C(a, b), exactly; 0 outside 0 ≤ b ≤ a. */
function binomial(a: number, b: number): bigint {
  if (b < 0 || b > a) return 0n;
  b = Math.min(b, a - b);
  let r = 1n;
  for (let i = 0; i < b; i++) r = (r * BigInt(a - i)) / BigInt(i + 1);
  return r;
}

/** log2 of a non-negative big integer (−∞ for 0), to double precision. */
export function log2Big(x: bigint): number {
  if (x === 0n) return -Infinity;
  const bits = x.toString(2).length;
  const shift = Math.max(0, bits - 60);
  return shift + Math.log2(Number(x >> BigInt(shift)));
}

/**
 * Exact hypergeometric tails: tail[a] = C(population, draws) · P[X ≥ a] for a in 0..draws+1,
 * as integers, with the denominator C(population, draws).
 */
export function exactTails(population: number, successes: number, draws: number) {
  const numerators: bigint[] = [];
  for (let x = 0; x <= draws; x++) {
    numerators.push(binomial(successes, x) * binomial(population - successes, draws - x));
  }
  const tail = new Array<bigint>(draws + 2).fill(0n);
  for (let x = draws; x >= 0; x--) tail[x] = tail[x + 1] + numerators[x];
  return { tail, denominator: binomial(population, draws) };
}
