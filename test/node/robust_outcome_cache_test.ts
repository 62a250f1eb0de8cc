/**
 * The node's cache of robust results (`node/robust_outcome_cache.ts`): a round's rule is
 * computed once per certificate, recomputed when the round's certificate changes, an exception
 * caches nothing, and only the most recently used rounds are kept.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import type { RobustOutcome } from "../../protocol/mod.ts";
import { RobustOutcomeCache } from "../../node/robust_outcome_cache.ts";

/** A stand-in outcome: the cache only stores and returns it. */
const outcome = (tag: number) => ({ result: new Float64Array([tag]) }) as unknown as RobustOutcome;

Deno.test("robust cache: one computation per round and certificate", () => {
  const cache = new RobustOutcomeCache(2);
  let computed = 0;
  const compute = (tag: number) => () => (computed++, outcome(tag));
  const cert = new Uint8Array([1, 2, 3]);
  const first = cache.get(5, cert, compute(5));
  assert(cache.get(5, cert.slice(), compute(99)) === first, "same bytes: the cached object");
  assertEquals(computed, 1);
  // Another certificate for the round (another view's aggregate): recomputed, never reused.
  const other = cache.get(5, new Uint8Array([1, 2, 4]), compute(6));
  assertEquals(computed, 2);
  assertEquals(other!.result[0], 6);
  // No rule: undefined is cached as well.
  assertEquals(cache.get(7, cert, () => (computed++, undefined)), undefined);
  assertEquals(cache.get(7, cert, compute(1)), undefined);
  assertEquals(computed, 3);
  // A failed computation caches nothing.
  assertThrows(
    () =>
      cache.get(8, cert, () => {
        throw new Error("mismatch");
      }),
    Error,
    "mismatch",
  );
  assertEquals(cache.get(8, cert, compute(8))!.result[0], 8);
  assertEquals(computed, 4);
});

Deno.test("robust cache: bounded to the most recently used rounds", () => {
  const cache = new RobustOutcomeCache(2);
  const cert = new Uint8Array([9]);
  let computed = 0;
  const get = (r: number) => cache.get(r, cert, () => (computed++, outcome(r)));
  get(1);
  get(2);
  get(1); // 1 is now the most recently used
  get(3); // evicts 2
  assertEquals(cache.rounds(), [1, 3]);
  assertEquals(computed, 3);
  get(2);
  assertEquals(computed, 4, "an evicted round is computed again");
  assertEquals(cache.rounds(), [3, 2]);
  // The certificate is copied: changing the caller's buffer does not change the key.
  const mine = new Uint8Array([4]);
  cache.get(4, mine, () => outcome(4));
  mine[0] = 5;
  assertEquals(cache.get(4, new Uint8Array([4]), () => outcome(40))!.result[0], 4);
  assertThrows(() => new RobustOutcomeCache(0), RangeError);
});
