/**
 * Hand-worked examples of each robust rule (protocol/robust/), the tie rules and float-order
 * choices docs/protocol.md fixes (the even median is (a + b)/2, the trim count is the float
 * product β·g floored, Krum ties go to the lower index, ±0 order by index), the norm filter and
 * its floor, the geometric median's optimality, and combine's refusals. The expected values
 * are worked out in the comments.
 */
import { CallerError, ConfigError } from "../../../protocol/errors.ts";
import { labelledRng } from "../../../protocol/crypto/random.ts";
import {
  bulyan,
  bulyanSelection,
  combine,
  coordinateMedian,
  geometricMedian,
  multiKrum,
  normFilter,
  type RobustRule,
  trimmedMean,
} from "../../../protocol/robust/mod.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";

const vecs = (...rows: number[][]) => rows.map((r) => Float64Array.from(r));
const arr = (v: Float64Array) => Array.from(v);

// Five 2-D means, group 3 poisoned: (1,10), (2,20), (3,30), (100,−100), (4,40).
const FIVE = vecs([1, 10], [2, 20], [3, 30], [100, -100], [4, 40]);

Deno.test("median: the middle value per coordinate, weights count where each group is it", () => {
  // coordinate 0: 1 2 3 4 100 → 3 (group 2); coordinate 1: −100 10 20 30 40 → 20 (group 1)
  const out = coordinateMedian(FIVE);
  assertEquals(arr(out.result), [3, 20]);
  assertEquals(arr(out.weights), [0, 0.5, 0.5, 0, 0]);
  const c = combine({ kind: "median" }, FIVE);
  assertEquals(c.kept, [1, 2]);
  assertEquals(c.discarded, [0, 3, 4]);
});

Deno.test("median: even g is (a + b)/2 of the two middle values, not a + (b − a)/2", () => {
  // sorted 1, 3, 5, 100 → (3 + 5)/2 = 4, groups 2 and 1 each half of the one coordinate
  const out = coordinateMedian(vecs([1], [5], [3], [100]));
  assertEquals(arr(out.result), [4]);
  assertEquals(arr(out.weights), [0, 0.5, 0.5, 0]);
  // (0.1 + 0.7)/2 = 0.39999999999999997 in float64, whereas 0.1 + (0.7 − 0.1)/2 = 0.4
  const r = coordinateMedian(vecs([0.7], [0.1], [-5], [9])).result[0];
  assertEquals(r, 0.39999999999999997);
  assert(r !== 0.1 + (0.7 - 0.1) / 2);
});

Deno.test("median: ties by the lower group index, also between −0 and +0", () => {
  // 2 (group 0), 2 (group 1), 1 (group 2): sorted (1,g2) (2,g0) (2,g1), the middle is group 0
  assertEquals(arr(coordinateMedian(vecs([2], [2], [1])).weights), [1, 0, 0]);
  // −0 and +0 compare equal: the middle of (−0 g0, +0 g1, 5 g2) is group 1's +0, and of
  // (+0 g0, −0 g1, 5 g2) group 1's −0: the sign of the result follows the index rule
  assert(Object.is(coordinateMedian(vecs([-0], [0], [5])).result[0], 0));
  assert(Object.is(coordinateMedian(vecs([0], [-0], [5])).result[0], -0));
});

Deno.test("trimmed mean: k = ⌊β·g⌋ from each end, the rest summed in sorted order", () => {
  // β = 0.2, g = 5 → k = 1. coordinate 0: 1 [2 3 4] 100 → 3; coordinate 1: −100 [10 20 30] 40
  // → 20. Group 0 kept in coordinate 1 only (1 of 3·2), group 4 in coordinate 0 only.
  const out = trimmedMean(FIVE, 0.2);
  assertEquals(arr(out.result), [3, 20]);
  assertEquals(arr(out.weights), [1 / 6, 2 / 6, 2 / 6, 0, 1 / 6]);
  // β = 0.1, g = 5 → k = ⌊0.5⌋ = 0: the plain mean (1 + 2 + 3 + 100 + 4)/5 = 22
  assertEquals(trimmedMean(FIVE, 0.1).result[0], 22);
  // β = 0.29, g = 100: the float product is 28.999999999999996, so k = 28, not 29: the values
  // 0..99 keep 28..71, mean (28 + 71)/2 = 49.5, with 44 kept values weighing 1/44 each
  const hundred = [...Array(100).keys()].map((i) => Float64Array.of(i));
  const t = trimmedMean(hundred, 0.29);
  assertEquals(t.result[0], 49.5);
  assertEquals(t.weights[28], 1 / 44);
  assertEquals(t.weights[27], 0);
});

// 1-D means 0, 1, 3, 7, 100 with f = 1: c = g − f − 2 = 2 nearest squared distances.
// group 0: {1, 9, 49, 10000} → 1 + 9 = 10; group 1: {1, 4, 36, 9801} → 5; group 2: {9, 4, 16,
// 9409} → 13; group 3: {49, 36, 16, 8649} → 52; group 4: {10000, 9801, 9409, 8649} → 18058.
// Krum order: 1, 0, 2, 3, 4.
const KRUM = vecs([0], [1], [3], [7], [100]);

Deno.test("multi-krum: the m lowest Krum scores, averaged in ascending group index", () => {
  assertEquals(arr(multiKrum(KRUM, 1, 1).result), [1]); // Krum: group 1
  assertEquals(arr(multiKrum(KRUM, 1, 2).result), [0.5]); // groups 0 and 1
  assertEquals(arr(multiKrum(KRUM, 1, 3).result), [4 / 3]); // groups 0, 1, 2: (0 + 1 + 3)/3
  const c = combine({ kind: "multi-krum", f: 1, m: 3 }, KRUM);
  assertEquals(c.kept, [0, 1, 2]);
  assertEquals(c.discarded, [3, 4]);
  assertEquals(arr(c.weights), [1 / 3, 1 / 3, 1 / 3, 0, 0]);
});

Deno.test("multi-krum: equal scores go to the lower index", () => {
  // 0, 2, 4 with f = 0: c = 1; scores min(4, 16) = 4, min(4, 4) = 4, min(16, 4) = 4: group 0
  assertEquals(arr(multiKrum(vecs([0], [2], [4]), 0, 1).result), [0]);
  assertEquals(arr(multiKrum(vecs([4], [2], [0]), 0, 1).result), [4]);
});

// 1-D means 0, 1, 2, 3, 4, 50, −60 with f = 1: θ = 5, β = 3.
// Round 1 (|R| = 7, c = 4): scores 30, 15, 10, 15, 30, 9030, 15134 → group 2.
// Round 2 (|R| = 6, c = 3): group 1 {1, 4, 9} = 14 ties group 3 {9, 4, 1} = 14 → group 1.
// Round 3 (|R| = 5, c = 2): group 0 {9, 16} = 25, group 3 {9, 1} = 10, group 4 {16, 1} = 17 → 3.
// Round 4 (|R| = 4, c = 1): group 0 16, group 4 16 (a tie), group 5 2116 → group 0.
// Round 5 (|R| = 3, c = 0): every score 0 → the lowest index, group 4.
// Coordinate: values 0..4, median 2, deviations 2 1 0 1 2 → (dev, index) order 2, 1, 3, 0, 4;
// the first β = 3 summed in that order: (2 + 1 + 3)/3 = 2.
const BULYAN = vecs([0], [1], [2], [3], [4], [50], [-60]);

Deno.test("bulyan: recursive Krum selection, then the β values closest to the median", () => {
  assertEquals(bulyanSelection(BULYAN, 1), [2, 1, 3, 0, 4]);
  const out = bulyan(BULYAN, 1);
  assertEquals(arr(out.result), [2]);
  assertEquals(arr(out.weights), [0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0]);
  const c = combine({ kind: "bulyan", f: 1 }, BULYAN);
  assertEquals(c.discarded, [0, 4, 5, 6]);
});

Deno.test("geomedian: the iterate on the 1-D median stays there (weights 1, 1/ν, 1/9)", () => {
  // 0, 1, 10: start at the median 1; δ = 1, 0, 9 → w = 1, 1/ν = 1e6, 1/9;
  // (0·1 + 1·1e6 + 10·(1/9)) / (1 + 1e6 + 1/9) rounds to exactly 1, so the loop stops.
  const out = geometricMedian(vecs([0], [1], [10]), 50, 1e-6);
  assertEquals(arr(out.result), [1]);
  const total = 1 + 1e6 + 1 / 9;
  assertEquals(arr(out.weights), [1 / total, 1e6 / total, 1 / 9 / total]);
});

Deno.test("geomedian: converges to the geometric median (first-order optimality)", () => {
  // The geometric median is the data point x_k when |Σ_{i≠k} (x_k − x_i)/‖x_k − x_i‖| ≤ 1, and
  // otherwise the point where Σ_i (v − x_i)/‖v − x_i‖ = 0. Both cases occur among these seeds.
  const unitSum = (v: Float64Array, means: Float64Array[], skip?: Float64Array) => {
    const s = new Float64Array(v.length);
    for (const x of means) {
      if (x === skip) continue;
      const delta = Math.hypot(...v.map((vj, j) => vj - x[j]));
      v.forEach((vj, j) => s[j] += (vj - x[j]) / delta);
    }
    return Math.hypot(...s);
  };
  const cases = { atPoint: 0, inside: 0 };
  for (let seed = 0; seed < 12; seed++) {
    const g = 4 + (seed % 4);
    const words = new Uint32Array(labelledRng("robust-test", "geomedian", seed)(4 * 3 * g).buffer);
    const means = [...Array(g).keys()].map((i) =>
      Float64Array.from([0, 1, 2], (j) => words[3 * i + j] / 2 ** 32)
    );
    const v = geometricMedian(means, 1000, 1e-12).result;
    const vertex = means.find((x) => unitSum(x, means, x) <= 1);
    if (vertex !== undefined) {
      cases.atPoint++;
      assert(Math.hypot(...v.map((vj, j) => vj - vertex[j])) < 1e-9, `seed ${seed}: ${v}`);
    } else {
      cases.inside++;
      assert(unitSum(v, means) < 1e-9, `seed ${seed}: gradient ${unitSum(v, means)}`);
      const start = coordinateMedian(means).result;
      assert(Math.hypot(...v.map((vj, j) => vj - start[j])) > 1e-6, "it moved from its start");
    }
  }
  assert(cases.atPoint > 0 && cases.inside > 0, JSON.stringify(cases));
});

Deno.test("norm filter: drops means beyond τ × the median distance to the coordinate median", () => {
  // c = (3, 20); δ = √104 ≈ 10.20, 1, 10, √23809 ≈ 154.3, √401 ≈ 20.02; M = √104;
  // τ = 1.5 → threshold ≈ 15.30: groups 3 and 4 go; the median of the rest is (2, 20)
  const f = normFilter(FIVE, 1.5, 1);
  assertEquals(f.kept, [0, 1, 2]);
  assertEquals(f.threshold, 1.5 * Math.sqrt(104));
  const rule: RobustRule = { kind: "median", normFilter: { tau: 1.5 } };
  const c = combine(rule, FIVE);
  assertEquals(arr(c.result), [2, 20]);
  assertEquals(c.filtered, [3, 4]);
  assertEquals(c.kept, [1]);
  assertEquals(c.discarded, [0, 2, 3, 4]);
  // weights are per original group: group 1 is the middle of both coordinates of 3 means
  assertEquals(arr(c.weights), [0, 1, 0, 0, 0]);
});

Deno.test("norm filter: never leaves fewer means than the rule needs (closest kept)", () => {
  // τ = 1 keeps the three within M; multi-krum f = 1 needs 5, so all five stay
  const c = combine({ kind: "multi-krum", f: 1, m: 1, normFilter: { tau: 1 } }, FIVE);
  assertEquals(c.filtered, []);
  // a floor of 4 keeps the 4 closest by (δ, index): groups 1, 2, 0, 4
  assertEquals(normFilter(FIVE, 1, 4).kept, [0, 1, 2, 4]);
});

Deno.test("combine: refuses bad means with CallerError and too few groups with ConfigError", () => {
  const rule: RobustRule = { kind: "median" };
  const bad = (means: Float64Array[], text: string) =>
    assertThrows(() => combine(rule, means), CallerError, text);
  bad([], "0 group means");
  bad(vecs([1, 2], [1]), "group 1's mean is not a Float64Array of length 2");
  bad(vecs([], []), "group 0");
  bad(vecs([1], [NaN]), "group 1's mean has NaN at coordinate 0");
  bad(vecs([1], [1, 2].map(() => Infinity).slice(0, 1)), "Infinity");
  bad(vecs([0, 1e31]), "coordinate 1");
  assertThrows(
    () => combine({ kind: "multi-krum", f: 2, m: 1 }, vecs([1], [2], [3], [4], [5], [6])),
    ConfigError,
    "g > 2f + 2",
  );
  assertThrows(() => combine({ kind: "bulyan", f: 1 }, FIVE), ConfigError, "g ≥ 4f + 3 = 7");
  assertThrows(
    () => combine({ kind: "trimmed-mean", beta: 0.5 }, FIVE),
    ConfigError,
    "robust.beta",
  );
});

Deno.test("combine: leaves the means untouched and gives the same bits twice", () => {
  const means = FIVE.map((m) => m.slice());
  const a = combine({ kind: "geomedian", iterations: 20, nu: 1e-6, normFilter: { tau: 2 } }, means);
  const b = combine({ kind: "geomedian", iterations: 20, nu: 1e-6, normFilter: { tau: 2 } }, means);
  assertEquals(means, FIVE);
  assertEquals(arr(a.result), arr(b.result));
  assertEquals(arr(a.weights), arr(b.weights));
});
