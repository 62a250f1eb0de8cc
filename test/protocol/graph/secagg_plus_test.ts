/**
 * SecAgg+ parameters (protocol/graph/secagg_plus.ts): `secAggPlusParameters` refuses impossible
 * settings naming the setting; the connectivity criterion behind its union bound holds on Harary
 * rings (exhaustively for small rings, on random removal sets for larger ones); the (k, t) it picks
 * meets the four conditions, recomputed with exact integers, and is minimal; the degree never
 * drops as dropouts or security grow; and it falls back to the complete graph with
 * `defaultThreshold`. `defaultHararyThreshold` is the smallest strict majority of the k + 1
 * holders, and `secAggPlusGraph` names the graph the bounds pick.
 *
 * @module
 */
import { assert, assertEquals, assertGreaterOrEqual } from "../../_assert.ts";
import { seededRng } from "../../../protocol/crypto/random.ts";
import { hararyGraph, type NeighbourGraph } from "../../../protocol/graph/graphs.ts";
import {
  defaultHararyThreshold,
  defaultThreshold,
  secAggPlusGraph,
  secAggPlusParameters,
} from "../../../protocol/graph/secagg_plus.ts";
import { exactTails, identityWords, log2Big, seed, setting, wordsRng } from "./_helpers.ts";

// ----------------------------------------------------------------------------------------------
// Refusals
// ----------------------------------------------------------------------------------------------

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
