/**
 * Hypergeometric tails (protocol/graph/hypergeometric.ts): `log2HypergeometricTail` agrees with a
 * direct enumeration of subsets for small parameters and with exact big-integer tails for larger
 * ones, and refuses impossible parameters with RangeError.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { log2HypergeometricTail } from "../../../protocol/graph/hypergeometric.ts";
import { exactTails, log2Big } from "./_helpers.ts";

// ----------------------------------------------------------------------------------------------
// Probabilities
// ----------------------------------------------------------------------------------------------

Deno.test("log2HypergeometricTail matches a direct enumeration of subsets", () => {
  const population = 10;
  for (let successes = 0; successes <= population; successes++) {
    for (let draws = 0; draws <= population; draws++) {
      // Items 0..successes−1 are marked; enumerate every subset of size `draws`.
      const counts = new Array<number>(population + 1).fill(0);
      let total = 0;
      for (let mask = 0; mask < 1 << population; mask++) {
        let size = 0;
        let marked = 0;
        for (let i = 0; i < population; i++) {
          if (mask & (1 << i)) {
            size++;
            if (i < successes) marked++;
          }
        }
        if (size === draws) {
          counts[marked]++;
          total++;
        }
      }
      for (let a = -1; a <= draws + 2; a++) {
        let hits = 0;
        for (let x = Math.max(0, a); x <= population; x++) hits += counts[x];
        const got = log2HypergeometricTail(population, successes, draws, a);
        if (hits === 0) assertEquals(got, -Infinity, `${successes} ${draws} ${a}`);
        else {
          const want = Math.log2(hits / total);
          assert(Math.abs(got - want) < 1e-9, `${successes} ${draws} ${a}: ${got} vs ${want}`);
        }
      }
    }
  }
  assertThrows(() => log2HypergeometricTail(5, 6, 2, 1), RangeError);
  assertThrows(() => log2HypergeometricTail(5, 2, 6, 1), RangeError);
});

Deno.test("log2HypergeometricTail matches exact big-integer tails for larger parameters", () => {
  const cases: [number, number, number][] = [
    [999, 100, 76],
    [999, 200, 68],
    [4999, 500, 90],
    [1999, 900, 700], // wide: the summation stops early on both sides of the mode
  ];
  for (const [population, successes, draws] of cases) {
    const { tail, denominator } = exactTails(population, successes, draws);
    for (let a = 0; a <= draws + 1; a++) {
      const want = log2Big(tail[a]) - log2Big(denominator);
      const got = log2HypergeometricTail(population, successes, draws, a);
      if (want === -Infinity) assertEquals(got, -Infinity);
      else assert(Math.abs(got - want) < 1e-7 * Math.max(1, -want), `${a}: ${got} vs ${want}`);
    }
  }
});
