/**
 * Neighbour graphs (protocol/graph/graphs.ts): `completeGraph` and `hararyGraph` keep every
 * `NeighbourGraph` guarantee (regular, symmetric, loop-free, sorted and frozen lists that agree with
 * `isNeighbour`), scale to n = 10 000, follow the documented derivation and byte consumption (the
 * Harary ring relabelled by a Fisher–Yates permutation) exactly, and refuse bad sizes and degrees
 * with ConfigError or RangeError.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { type Rng, seededRng } from "../../../protocol/crypto/random.ts";
import { completeGraph, hararyGraph, type NeighbourGraph } from "../../../protocol/graph/graphs.ts";
import { randomPermutation } from "../../../protocol/graph/sampling.ts";
import { identityWords, refusingRng, seed, setting, wordsRng } from "./_helpers.ts";

/** Checks every NeighbourGraph guarantee; all pairs when n is small. */
function checkGraph(g: NeighbourGraph): void {
  const sets: Set<number>[] = [];
  for (let u = 0; u < g.n; u++) {
    const list = g.neighbours(u);
    assertEquals(list.length, g.degree, `degree of ${u}`);
    assert(Object.isFrozen(list), "neighbour lists are frozen");
    for (let i = 0; i < list.length; i++) {
      assert(Number.isInteger(list[i]) && list[i] >= 0 && list[i] < g.n, "in range");
      assertNotEquals(list[i], u, "no self loop");
      if (i > 0) assert(list[i - 1] < list[i], "strictly ascending");
    }
    sets.push(new Set(list));
  }
  for (let u = 0; u < g.n; u++) {
    for (const v of sets[u]) {
      assert(sets[v].has(u), `symmetric: ${u} ~ ${v}`);
      assert(g.isNeighbour(u, v) && g.isNeighbour(v, u), "isNeighbour agrees with the list");
    }
    assert(!g.isNeighbour(u, u), "not its own neighbour");
  }
  if (g.n <= 200) {
    for (let u = 0; u < g.n; u++) {
      for (let v = 0; v < g.n; v++) assertEquals(g.isNeighbour(u, v), sets[u].has(v));
    }
  }
}

/** Independent Fisher–Yates following the documented byte consumption. */
function referencePermutation(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i >= 1; i--) {
    const bound = i + 1;
    let j: number;
    for (;;) {
      const w = new DataView(rng(4).slice().buffer).getUint32(0, true);
      if (w < 2 ** 32 - (2 ** 32 % bound)) {
        j = w % bound;
        break;
      }
    }
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

function ringNeighbours(n: number, k: number, position: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= k / 2; d++) out.push((position + d) % n, (position - d + n) % n);
  return out;
}

// ----------------------------------------------------------------------------------------------
// Graphs
// ----------------------------------------------------------------------------------------------

Deno.test("completeGraph lists every other member, sorted and symmetric", () => {
  for (const n of [2, 3, 5, 17]) {
    const g = completeGraph(n);
    assertEquals(g.degree, n - 1);
    assert(g.complete);
    checkGraph(g);
  }
  assertEquals(completeGraph(4).neighbours(2), [0, 1, 3]);
});

Deno.test("hararyGraph is k-regular, symmetric, loop-free, with sorted neighbour lists", () => {
  const cases: [number, number][] = [[4, 2], [5, 2], [7, 4], [9, 4], [10, 8], [30, 6], [101, 10]];
  for (const [i, [n, k]] of cases.entries()) {
    const g = hararyGraph(n, k, seededRng(seed(i)));
    assertEquals(g.n, n);
    assertEquals(g.degree, k);
    assertEquals(g.complete, false);
    checkGraph(g);
  }
});

Deno.test("hararyGraph with k = n − 1 is the complete graph and reads no randomness", () => {
  const g = hararyGraph(9, 8, refusingRng);
  assert(g.complete);
  assertEquals(g.degree, 8);
  checkGraph(g);
});

Deno.test("hararyGraph scales to n = 10 000, k = 200", () => {
  const g = hararyGraph(10_000, 200, seededRng(seed(7)));
  checkGraph(g);
  assert(g.neighbours(17) === g.neighbours(17), "neighbour lists are cached");
});

Deno.test("the identity relabelling gives the plain Harary ring", () => {
  for (const [n, k] of [[8, 2], [11, 4], [12, 6], [20, 10]]) {
    const rng = wordsRng(identityWords(n));
    const g = hararyGraph(n, k, rng);
    assertEquals(rng.used(), n - 1, "one word per Fisher–Yates step when nothing is rejected");
    for (let u = 0; u < n; u++) {
      assertEquals([...g.neighbours(u)], ringNeighbours(n, k, u).sort((a, b) => a - b));
    }
  }
});

Deno.test("hararyGraph follows the documented derivation and byte consumption exactly", () => {
  const n = 257;
  const k = 12;
  const rng = seededRng(seed(42));
  const reference = seededRng(seed(42));
  const g = hararyGraph(n, k, rng);
  const label = referencePermutation(n, reference);
  for (let p = 0; p < n; p++) {
    const expected = ringNeighbours(n, k, p).map((q) => label[q]).sort((a, b) => a - b);
    assertEquals([...g.neighbours(label[p])], expected);
  }
  // Both streams are at the same position: nothing beyond the documented words was read.
  assertEquals(rng(16), reference(16));
});

Deno.test("the same seed gives the same graph; different seeds give different graphs", () => {
  const lists = (g: NeighbourGraph) => Array.from({ length: g.n }, (_, u) => [...g.neighbours(u)]);
  const a = lists(hararyGraph(60, 6, seededRng(seed(1))));
  const b = lists(hararyGraph(60, 6, seededRng(seed(1))));
  const c = lists(hararyGraph(60, 6, seededRng(seed(2))));
  assertEquals(a, b);
  assertNotEquals(a, c);
});

// ----------------------------------------------------------------------------------------------
// Refusals
// ----------------------------------------------------------------------------------------------

Deno.test("graph constructors refuse bad sizes and degrees with ConfigError", () => {
  const rng = seededRng(seed(3));
  assertEquals(setting(() => completeGraph(1)), "n");
  assertEquals(setting(() => completeGraph(2.5)), "n");
  assertEquals(setting(() => hararyGraph(1, 2, rng)), "n");
  assertEquals(setting(() => hararyGraph(2, 2, rng)), "k");
  assertEquals(setting(() => hararyGraph(10, 3, rng)), "k");
  assertEquals(setting(() => hararyGraph(10, 0, rng)), "k");
  assertEquals(setting(() => hararyGraph(10, -2, rng)), "k");
  assertEquals(setting(() => hararyGraph(10, 10, rng)), "k");
  assertEquals(setting(() => hararyGraph(10, 12, rng)), "k");
  assertEquals(setting(() => randomPermutation(0, rng)), "n");
  const g = hararyGraph(10, 4, rng);
  assertThrows(() => g.neighbours(10), RangeError);
  assertThrows(() => g.isNeighbour(-1, 0), RangeError);
  assertThrows(() => completeGraph(5).neighbours(0.5), RangeError);
});
