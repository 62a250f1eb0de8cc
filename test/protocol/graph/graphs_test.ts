import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertLessOrEqual,
  assertNotEquals,
  assertThrows,
} from "../../_assert.ts";
import { ConfigError } from "../../../protocol/errors.ts";
import { type Rng, seededRng } from "../../../protocol/crypto/random.ts";
import { completeGraph, hararyGraph, type NeighbourGraph } from "../../../protocol/graph/graphs.ts";
import {
  defaultHararyThreshold,
  defaultThreshold,
  secAggPlusGraph,
  secAggPlusParameters,
} from "../../../protocol/graph/secagg_plus.ts";
import { log2HypergeometricTail } from "../../../protocol/graph/hypergeometric.ts";
import { randomPermutation, uniformBelow } from "../../../protocol/graph/sampling.ts";

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

function seed(i: number): Uint8Array {
  const s = new Uint8Array(32);
  new DataView(s.buffer).setUint32(0, i, true);
  s[31] = 0x9a;
  return s;
}

/** An rng that serves the given 32-bit words, little-endian, one per `rng(4)` call. */
function wordsRng(words: readonly number[]): Rng & { used: () => number } {
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
function identityWords(n: number): number[] {
  const words = [];
  for (let i = n - 1; i >= 1; i--) words.push(i);
  return words;
}

const refusingRng: Rng = () => {
  throw new Error("this call must not read randomness");
};

function setting(fn: () => unknown): string {
  const e = assertThrows(fn, ConfigError);
  return (e as ConfigError).setting;
}

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

// Exact rational arithmetic for independent recomputation of the bounds.

function binomial(a: number, b: number): bigint {
  if (b < 0 || b > a) return 0n;
  b = Math.min(b, a - b);
  let r = 1n;
  for (let i = 0; i < b; i++) r = (r * BigInt(a - i)) / BigInt(i + 1);
  return r;
}

function log2Big(x: bigint): number {
  if (x === 0n) return -Infinity;
  const bits = x.toString(2).length;
  const shift = Math.max(0, bits - 60);
  return shift + Math.log2(Number(x >> BigInt(shift)));
}

/**
 * Exact hypergeometric tails: tail[a] = C(population, draws) · P[X ≥ a] for a in 0..draws+1,
 * as integers, with the denominator C(population, draws).
 */
function exactTails(population: number, successes: number, draws: number) {
  const numerators: bigint[] = [];
  for (let x = 0; x <= draws; x++) {
    numerators.push(binomial(successes, x) * binomial(population - successes, draws - x));
  }
  const tail = new Array<bigint>(draws + 2).fill(0n);
  for (let x = draws; x >= 0; x--) tail[x] = tail[x + 1] + numerators[x];
  return { tail, denominator: binomial(population, draws) };
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

Deno.test("secAggPlusParameters refuses impossible settings, naming the setting", () => {
  const ok = { n: 100, corruptFraction: 0.1, dropoutFraction: 0.1 };
  const s = (patch: Record<string, unknown>) =>
    setting(() => secAggPlusParameters({ ...ok, ...patch } as typeof ok));
  assertEquals(s({ n: 2 }), "n");
  assertEquals(s({ n: 50.5 }), "n");
  assertEquals(s({ corruptFraction: -0.01 }), "corruptFraction");
  assertEquals(s({ corruptFraction: 1 }), "corruptFraction");
  assertEquals(s({ corruptFraction: NaN }), "corruptFraction");
  assertEquals(s({ corruptFraction: 1 / 3 }), "corruptFraction");
  assertEquals(s({ corruptFraction: 0.4 }), "corruptFraction");
  assertEquals(s({ dropoutFraction: 1 }), "dropoutFraction");
  assertEquals(s({ dropoutFraction: -0.5 }), "dropoutFraction");
  assertEquals(
    s({ corruptFraction: 0.3, dropoutFraction: 0.7 }),
    "corruptFraction+dropoutFraction",
  );
  assertEquals(s({ securityBits: 0 }), "securityBits");
  assertEquals(s({ correctnessBits: Infinity }), "correctnessBits");
  assertEquals(setting(() => defaultThreshold(0)), "n");
});

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

// ----------------------------------------------------------------------------------------------
// The connectivity criterion behind the union bound
// ----------------------------------------------------------------------------------------------

/** Whether the survivors (not in `removed`) of the graph are connected (BFS). */
function survivorsConnected(g: NeighbourGraph, removed: readonly boolean[]): boolean {
  const start = removed.indexOf(false);
  if (start < 0) return true;
  const seen = new Array<boolean>(g.n).fill(false);
  seen[start] = true;
  const queue = [start];
  let reached = 1;
  while (queue.length > 0) {
    const u = queue.pop()!;
    for (const v of g.neighbours(u)) {
      if (!removed[v] && !seen[v]) {
        seen[v] = true;
        reached++;
        queue.push(v);
      }
    }
  }
  return reached === removed.filter((r) => !r).length;
}

/** Lengths of the maximal cyclic runs of removed positions (none when all are removed). */
function removedRuns(removed: readonly boolean[]): number[] {
  const n = removed.length;
  const start = removed.indexOf(false);
  if (start < 0) return [];
  const runs: number[] = [];
  let run = 0;
  for (let i = 1; i <= n; i++) {
    if (removed[(start + i) % n]) run++;
    else if (run > 0) {
      runs.push(run);
      run = 0;
    }
  }
  return runs;
}

/** Whether two disjoint windows of `w` cyclically consecutive positions are fully removed. */
function twoDisjointRemovedWindows(removed: readonly boolean[], w: number): boolean {
  const n = removed.length;
  const full: number[] = [];
  for (let s = 0; s < n; s++) {
    let all = true;
    for (let d = 0; d < w && all; d++) all = removed[(s + d) % n];
    if (all) full.push(s);
  }
  for (const a of full) {
    for (const b of full) {
      const gap = (b - a + n) % n;
      if (gap >= w && n - gap >= w) return true;
    }
  }
  return false;
}

function checkCriterion(n: number, k: number, removed: boolean[]): void {
  const ring = hararyGraph(n, k, wordsRng(identityWords(n)));
  const disconnected = !survivorsConnected(ring, removed);
  const longRuns = removedRuns(removed).filter((r) => r >= k / 2).length;
  const label = `n=${n} k=${k} removed=${removed.map((r) => (r ? 1 : 0)).join("")}`;
  // Exact: disconnected ⇔ at least two maximal removed runs of length ≥ k/2.
  assertEquals(disconnected, longRuns >= 2, label);
  // The event the union bound counts contains the disconnection event.
  if (disconnected) assert(twoDisjointRemovedWindows(removed, k / 2), label);
}

Deno.test("connectivity: disconnected ⇔ two separate removed runs of ≥ k/2 (exhaustive)", () => {
  for (const [n, k] of [[8, 2], [10, 4], [11, 4], [12, 6], [12, 4]]) {
    for (let mask = 0; mask < 1 << n; mask++) {
      checkCriterion(n, k, Array.from({ length: n }, (_, i) => (mask & (1 << i)) !== 0));
    }
  }
  // The union-bound event is strictly larger: one long run holds two windows but disconnects
  // nothing.
  const oneRun = [true, true, true, true, false, false, false, false, false, false];
  assert(twoDisjointRemovedWindows(oneRun, 2));
  assert(survivorsConnected(hararyGraph(10, 4, wordsRng(identityWords(10))), oneRun));
});

Deno.test("connectivity: the criterion holds on random removal sets of larger rings", () => {
  const rng = seededRng(seed(5));
  for (const [n, k] of [[40, 6], [40, 8], [63, 10]]) {
    for (let trial = 0; trial < 400; trial++) {
      const density = 0.3 + 0.6 * (rng(1)[0] / 256);
      const bytes = rng(n);
      checkCriterion(n, k, Array.from(bytes, (b) => b / 256 < density));
    }
  }
});

// ----------------------------------------------------------------------------------------------
// Parameter selection
// ----------------------------------------------------------------------------------------------

interface Exact {
  privacy: number;
  connectivity: number;
  correctness: number;
  ok: boolean;
}

/** The four conditions for (k, t), recomputed with exact integers. */
function exactConditions(
  n: number,
  c: number,
  dropped: number,
  k: number,
  sigma: number,
  eta: number,
) {
  const corrupt = exactTails(n - 1, c, k);
  const drop = exactTails(n - 1, dropped, k);
  let connectivity = -Infinity;
  let connectivityOk = true;
  const m = c + dropped;
  if (m >= k) {
    let num = BigInt(n) * BigInt(n);
    let den = 2n;
    for (let j = 0; j < k; j++) {
      num *= BigInt(m - j);
      den *= BigInt(n - j);
    }
    connectivity = log2Big(num) - log2Big(den);
    connectivityOk = num * 2n ** BigInt(sigma + 1) <= den;
  }
  return (t: number): Exact => {
    // n · P[X_c ≥ t] ≤ 2^−σ−1
    const privNum = BigInt(n) * corrupt.tail[Math.min(t, k + 1)];
    const privacyOk = privNum * 2n ** BigInt(sigma + 1) <= corrupt.denominator;
    // n · P[X_D ≥ k − t + 1] ≤ 2^−η
    const a = k - t + 1;
    const corrNum = BigInt(n) * (a <= 0 ? drop.denominator : drop.tail[a]);
    const correctnessOk = corrNum * 2n ** BigInt(eta) <= drop.denominator;
    return {
      privacy: log2Big(privNum) - log2Big(corrupt.denominator),
      connectivity,
      correctness: log2Big(corrNum) - log2Big(drop.denominator),
      ok: privacyOk && connectivityOk && correctnessOk && t >= k / 2 + 1,
    };
  };
}

Deno.test("secAggPlusParameters meets the four conditions and is minimal (exact recomputation)", () => {
  // [n, γ, δ, σ, η]; from [300, 0.1, 0, …] on, connectivity is the binding condition (in the
  // last one at k = m = c + D exactly).
  const cases: [number, number, number, number, number][] = [
    [100, 0.1, 0.2, 40, 20],
    [1000, 0.05, 0.1, 40, 20],
    [300, 0.2, 0.1, 40, 20],
    [50, 0.1, 0.2, 40, 20],
    [1000, 0.2, 0.1, 40, 20],
    [20, 0.05, 0.1, 40, 20],
    [10, 0, 0, 40, 20],
    [300, 0.1, 0, 40, 20],
    [300, 0, 0.2, 40, 1],
    [300, 0.05, 0.3, 80, 1],
    [30, 0.2, 0.2, 40, 1],
  ];
  for (const [n, gamma, delta, sigma, eta] of cases) {
    const r = secAggPlusParameters({
      n,
      corruptFraction: gamma,
      dropoutFraction: delta,
      securityBits: sigma,
      correctnessBits: eta,
    });
    const label = `n=${n} γ=${gamma} δ=${delta} σ=${sigma} η=${eta}`;
    const c = Math.floor(gamma * n + 1e-9);
    const dropped = Math.floor(delta * n + 1e-9);
    assertEquals([r.corrupt, r.dropouts], [c, dropped], label);
    assertEquals(r.complete, false, label);
    assert(r.degree % 2 === 0 && r.degree >= 2 && r.degree < n - 1, label);
    assert(r.threshold >= r.degree / 2 + 1 && r.threshold <= r.degree, label);

    const at = exactConditions(n, c, dropped, r.degree, sigma, eta);
    const exact = at(r.threshold);
    assert(exact.ok, `${label}: chosen (k, t) = (${r.degree}, ${r.threshold}) is valid`);
    for (const key of ["privacy", "connectivity", "correctness"] as const) {
      const want = Math.min(0, exact[key]);
      const got = r.log2Failure[key];
      if (want === -Infinity) assertEquals(got, -Infinity, `${label} ${key}`);
      else assert(Math.abs(got - want) < 1e-6, `${label} ${key}: ${got} vs ${want}`);
    }
    // t is the smallest valid threshold for this k.
    if (r.threshold - 1 >= r.degree / 2 + 1) assert(!at(r.threshold - 1).ok, `${label}: t minimal`);
    // No smaller even degree admits any threshold.
    for (let k = 2; k < r.degree; k += 2) {
      const atK = exactConditions(n, c, dropped, k, sigma, eta);
      for (let t = k / 2 + 1; t <= k; t++) assert(!atK(t).ok, `${label}: (${k}, ${t}) invalid`);
    }
  }
});

Deno.test("secAggPlusParameters: sparse graphs at n = 100 and n = 1000", () => {
  const ring = secAggPlusParameters({ n: 10, corruptFraction: 0, dropoutFraction: 0 });
  assertEquals([ring.complete, ring.degree, ring.threshold], [false, 2, 2]);
  const a = secAggPlusParameters({ n: 100, corruptFraction: 0.1, dropoutFraction: 0.2 });
  assert(!a.complete && a.degree < 99);
  const b = secAggPlusParameters({ n: 1000, corruptFraction: 0.05, dropoutFraction: 0.1 });
  assert(!b.complete && b.degree < 999);
  assert(b.degree < 100, "logarithmic-ish degree at n = 1000");
  // The chosen degree builds a graph.
  const g = hararyGraph(1000, b.degree, seededRng(seed(11)));
  assertEquals(g.degree, b.degree);
});

Deno.test("secAggPlusParameters: more dropouts or more security never lowers the degree", () => {
  for (const n of [50, 100, 1000, 5000]) {
    for (const gamma of [0, 0.05, 0.2]) {
      let previous = 0;
      for (let step = 0; step <= 12; step++) {
        const delta = step * 0.05;
        if (gamma + delta >= 1) break;
        const r = secAggPlusParameters({ n, corruptFraction: gamma, dropoutFraction: delta });
        assertGreaterOrEqual(r.degree, previous, `n=${n} γ=${gamma} δ=${delta}`);
        previous = r.degree;
      }
    }
    let previous = 0;
    for (const securityBits of [20, 40, 60, 80, 128]) {
      const r = secAggPlusParameters({
        n,
        corruptFraction: 0.1,
        dropoutFraction: 0.1,
        securityBits,
      });
      assertGreaterOrEqual(r.degree, previous, `n=${n} σ=${securityBits}`);
      previous = r.degree;
    }
  }
});

Deno.test("secAggPlusParameters falls back to the complete graph and its default threshold", () => {
  assertEquals([defaultThreshold(3), defaultThreshold(10), defaultThreshold(100)], [3, 7, 67]);
  const small = secAggPlusParameters({ n: 3, corruptFraction: 0, dropoutFraction: 0 });
  assertEquals([small.complete, small.degree, small.threshold], [true, 2, 3]);
  assertEquals(small.log2Failure.correctness, -Infinity);
  const heavy = secAggPlusParameters({ n: 30, corruptFraction: 0.3, dropoutFraction: 0.6 });
  assertEquals([heavy.complete, heavy.degree, heavy.threshold], [true, 29, 21]);
  assertEquals(heavy.log2Failure.privacy, -Infinity);
  assertEquals(heavy.log2Failure.connectivity, -Infinity);
  assertEquals(heavy.log2Failure.correctness, 0, "12 survivors cannot reach 21 shares");
});

Deno.test("defaultHararyThreshold is the smallest strict majority of the k + 1 holders", () => {
  // k + 1 holders: 3 → 2, 5 → 3, 7 → 4, 11 → 6, 201 → 101.
  assertEquals([2, 4, 6, 10, 200].map(defaultHararyThreshold), [2, 3, 4, 6, 101]);
  for (let k = 2; k <= 64; k += 2) {
    const t = defaultHararyThreshold(k);
    assert(2 * t > k + 1, `k = ${k}: ${t} of ${k + 1} is a strict majority`);
    assert(2 * (t - 1) <= k + 1, `k = ${k}: ${t - 1} of ${k + 1} is not`);
  }
  for (const bad of [0, 1, -2, 2.5, NaN]) {
    assertEquals(setting(() => defaultHararyThreshold(bad)), "degree", String(bad));
  }
});

Deno.test("secAggPlusGraph: the Harary graph the bounds pick, or the complete graph", () => {
  // n = 3: no even k ≤ n − 2 exists.
  assertEquals(secAggPlusGraph({ n: 3, corruptFraction: 0.05, dropoutFraction: 0.1 }), {
    kind: "complete",
  });
  // n = 10, γ = 0.05, δ = 0.1: c = 0, D = 1. k = 2 needs t = 2 and fails correctness (the one
  // dropout is a neighbour with probability 2/9); k = 4, t = 3 leaves one spare share.
  assertEquals(secAggPlusGraph({ n: 10, corruptFraction: 0.05, dropoutFraction: 0.1 }), {
    kind: "harary",
    degree: 4,
    threshold: 3,
  });
  // Too many corrupt and dropped members for any sparse graph.
  assertEquals(secAggPlusGraph({ n: 30, corruptFraction: 0.3, dropoutFraction: 0.6 }), {
    kind: "complete",
  });
  assertEquals(
    setting(() => secAggPlusGraph({ n: 10, corruptFraction: 0.4, dropoutFraction: 0 })),
    "corruptFraction",
  );
});
