/**
 * The member's discretization (protocol/dp/rounding.ts, DDGauss Algorithm 1): clipping, the
 * norm bound of conditional randomized rounding (against SciPy, and its tail claim checked
 * empirically), unbiased rounding, the round trip through rotation and scaling, the granularity
 * heuristic and the modular-clipping probability (against SciPy, which solves the heuristic's
 * equation numerically instead of using the closed form), and erfc (against scipy.special).
 */
import { labelledRng } from "../../../protocol/crypto/random.ts";
import { erfc, erfcInverse } from "../../../protocol/dp/normal.ts";
import { paddedLength, rotate } from "../../../protocol/dp/rotation.ts";
import {
  clipL2,
  conditionalRound,
  discretize,
  granularity,
  type GranularitySettings,
  inflatedNormBound,
  modularClipProbability,
  undiscretize,
} from "../../../protocol/dp/rounding.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { Batch, SCIPY } from "./_python.ts";

function randomVector(d: number, label: string, scale = 1): Float64Array {
  const words = new Uint32Array(labelledRng("dp-test", "rvec", label)(4 * d).buffer);
  return Float64Array.from(words, (w) => (w / 2 ** 31 - 1) * scale);
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

function relClose(actual: number, expected: number, rel: number, what: string) {
  assert(
    Math.abs(actual - expected) <= rel * Math.abs(expected),
    `${what}: ${actual} vs ${expected} (relative ${Math.abs(actual - expected) / expected})`,
  );
}

const batch = new Batch();

const ERFC_X = [-3, -0.5, 0, 1e-8, 0.1, 0.5, 1, 1.5, 1.999, 2, 2.5, 3, 4, 6, 10, 20, 26];
const ERFC_P = [1e-12, 1e-6, 1e-4, 0.01, 0.3, 0.5, 0.9, 1];
const erfcIndex = batch.add({ op: "erfc", x: ERFC_X, p: ERFC_P });

Deno.test({
  name: "erfc and its inverse match scipy.special to 1e-12 relative",
  ignore: !SCIPY.available,
  fn: async () => {
    const r = await batch.result<{ erfc: number[]; erfcinv: number[] }>(erfcIndex);
    ERFC_X.forEach((x, i) => relClose(erfc(x), r.erfc[i], 1e-12, `erfc(${x})`));
    ERFC_P.forEach((p, i) => {
      if (p === 1) assert(Math.abs(erfcInverse(p)) < 1e-15);
      else relClose(erfcInverse(p), r.erfcinv[i], 1e-12, `erfcinv(${p})`);
    });
  },
});

const BOUND_CASES: [number, number, number][] = [
  [387.9, 131072, Math.exp(-0.5)],
  [10, 64, 0.1],
  [1000, 16, 1e-9],
  [3, 1024, 0],
  [0.5, 4096, 0.5],
];
const boundIndex = batch.add({ op: "norm_bound", cases: BOUND_CASES });

Deno.test({
  name: "inflatedNormBound matches DDGauss Theorem 1's Δ₂ computed in Python",
  ignore: !SCIPY.available,
  fn: async () => {
    const r = await batch.result<number[]>(boundIndex);
    BOUND_CASES.forEach(([c, d, b], i) => {
      relClose(inflatedNormBound(c, d, b), r[i], 1e-12, `Δ₂(${c}, ${d}, ${b})`);
    });
  },
});

Deno.test("unconditional rounding exceeds the β bound with probability at most β", () => {
  // The bound's claim: for any ‖z‖ ≤ c', P[‖round(z)‖² > Δ₂(β)²] ≤ β. Measured on a vector
  // whose fractional parts are all ½ (the most rounding variance: ‖round(z)‖² is the number of
  // coordinates rounded up, Binomial(256, ½)), rounded with a bound that never binds.
  const d = 256, trials = 4000;
  const z = new Float64Array(d).fill(0.5);
  const c = norm(z);
  const rng = labelledRng("dp-test", "tail");
  const squares = Array.from({ length: trials }, () => {
    const r = conditionalRound(z, c + Math.sqrt(d), rng); // (c' + √D) always holds
    assertEquals(r.attempts, 1);
    return r.values.reduce((a, v) => a + v * v, 0);
  });
  for (const beta of [0.9, 0.5, 0.2]) {
    const bound = inflatedNormBound(c, d, beta);
    assert(bound < c + Math.sqrt(d), "the β bound must be the tighter one here");
    const over = squares.filter((s) => s > bound * bound).length;
    assert(over / trials <= beta, `β = ${beta}: exceeded ${over}/${trials} times`);
    // Not vacuous: at β = 0.9 the bound sits about one standard deviation above the mean.
    if (beta === 0.9) assert(over > trials / 20, `β = 0.9: exceeded only ${over} times`);
  }
});

Deno.test("conditional rounding: within the bound, unbiased, retried, and refused when impossible", () => {
  const z = Float64Array.from([0.25, -1.75, 3.5, 10, -0.1]);
  const rng = labelledRng("dp-test", "unbiased");
  const sums = new Float64Array(z.length);
  const trials = 20000;
  const bound = inflatedNormBound(norm(z), z.length, Math.exp(-0.5));
  let attempts = 0;
  for (let t = 0; t < trials; t++) {
    const r = conditionalRound(z, bound, rng);
    attempts += r.attempts;
    assert(norm(r.values) <= bound);
    r.values.forEach((v, i) => {
      assert(v === Math.floor(z[i]) || v === Math.ceil(z[i]), `rounded ${z[i]} to ${v}`);
      sums[i] += v;
    });
  }
  // Plain rounding (no conditioning binds here) is unbiased: the mean is within 5 standard
  // errors (≤ 0.5/√trials each).
  sums.forEach((s, i) => assert(Math.abs(s / trials - z[i]) < 5 * 0.5 / Math.sqrt(trials)));
  assert(attempts >= trials && attempts < 2 * trials, `${attempts} attempts`);
  // A bound below the vector's own norm cannot be met.
  assertThrows(() => conditionalRound(z, 1, rng, 50), RangeError, "no rounding within");
  // A tight bound forces retries: z = (½, ½, ½, ½) with bound √2 accepts only ≤ 2 ones.
  const half = new Float64Array(4).fill(0.5);
  let tries = 0;
  for (let t = 0; t < 500; t++) {
    const r = conditionalRound(half, Math.SQRT2, rng);
    tries += r.attempts;
    assert(r.values.reduce((a, v) => a + v, 0) <= 2);
  }
  assert(tries > 600, `the tight bound never made it retry (${tries} attempts for 500)`);
  assertThrows(() => conditionalRound(Float64Array.from([2 ** 31]), 10, rng), RangeError);
  assertThrows(() => conditionalRound(Float64Array.from([NaN]), 10, rng), RangeError);
  assertThrows(() => conditionalRound(Float64Array.from([1]), 2 ** 27, rng), RangeError);
});

Deno.test("clipL2 scales long vectors onto the ball and leaves short ones alone", () => {
  const long = randomVector(1000, "clip", 10);
  const { clipped, norm: before } = clipL2(long, 1);
  assert(Math.abs(before - norm(long)) < 1e-9 * before);
  assert(norm(clipped) <= 1 && norm(clipped) > 1 - 1e-9);
  // Same direction: clipped = long · (1/‖long‖).
  clipped.forEach((v, i) => assert(Math.abs(v - long[i] / before) < 1e-12));
  const short = Float32Array.from([0.1, -0.2]);
  assertEquals(Array.from(clipL2(short, 1).clipped), Array.from(short, Number));
  // Huge coordinates do not overflow the norm.
  const huge = clipL2(Float64Array.from([1e200, 1e200]), 2);
  assert(Math.abs(norm(huge.clipped) - 2) < 1e-12 && huge.norm > 1e200);
  assertThrows(() => clipL2(short, 0), RangeError);
  assertThrows(() => clipL2(Float64Array.from([Infinity]), 1), RangeError);
});

Deno.test("discretize then undiscretize recovers the sum of clipped inputs within the rounding error", () => {
  const d = 1000, members = 8, clip = 1;
  const key = labelledRng("dp-test", "rotation")(32);
  const gamma = 1e-3, beta = Math.exp(-0.5);
  const D = paddedLength(d);
  const sum = new Float64Array(D);
  const clippedSum = new Float64Array(d);
  for (let m = 0; m < members; m++) {
    const x = randomVector(d, `member-${m}`, 0.2); // norm ≈ 3.6: clipped to 1
    const r = discretize(x, { clip, gamma, beta, rotationKey: key }, labelledRng("r", m));
    assertEquals(r.values.length, D);
    assert(norm(r.values) <= r.bound);
    assertEquals(r.bound, inflatedNormBound(clip / gamma, D, beta));
    r.values.forEach((v, i) => sum[i] += v);
    clipL2(x, clip).clipped.forEach((v, i) => clippedSum[i] += v);
  }
  const back = undiscretize(sum, gamma, key, d);
  // Error per coordinate: rounding of 8 members, each ≤ γ/2 in std per rotated coordinate;
  // the L2 error over all coordinates is ≤ γ·√(members·D)/2 in expectation.
  const err = norm(back.map((v, i) => v - clippedSum[i]));
  assert(err < 2 * gamma * Math.sqrt(members * D) / 2, `L2 error ${err}`);
  assert(err > 0.1 * gamma, "no rounding error at all: the test checks nothing");
  // The rotation made each scaled coordinate small: |values| ≲ clip/γ·(few)/√D.
  const rotated = rotate(clipL2(randomVector(d, "member-0", 0.2), clip).clipped, key);
  assert(Math.max(...rotated.map(Math.abs)) < 6 * clip / Math.sqrt(D));
  assertThrows(() => undiscretize(sum.subarray(1), gamma, key, d), RangeError);
  assertThrows(
    () =>
      discretize(new Float64Array(4), { clip, gamma: 0, beta, rotationKey: key }, labelledRng("x")),
    RangeError,
  );
});

const GRANULARITY: GranularitySettings[] = [
  { bits: 16, modclipProb: 1e-4, clip: 1, members: 10, dim: 131072, localStd: 6.87 },
  { bits: 20, modclipProb: 1e-4, clip: 0.3, members: 100, dim: 1024, localStd: 0.1 },
  { bits: 12, modclipProb: 1e-2, clip: 5, members: 3, dim: 8, localStd: 0 },
  { bits: 32, modclipProb: 1e-6, clip: 1, members: 1000, dim: 2 ** 20, localStd: 2 },
];
const granularityIndex = batch.add({
  op: "granularity",
  cases: GRANULARITY.map((g) => [g.bits, g.modclipProb, g.clip, g.members, g.dim, g.localStd]),
});

Deno.test({
  name: "granularity solves DDGauss §4.4's equation as SciPy does; the wrap probability is p there",
  ignore: !SCIPY.available,
  fn: async () => {
    const r = await batch.result<{ gamma: number; modclip: number }[]>(granularityIndex);
    GRANULARITY.forEach((g, i) => {
      const gamma = granularity(g);
      relClose(gamma, r[i].gamma, 1e-9, `γ for ${JSON.stringify(g)}`);
      relClose(modularClipProbability(g, gamma), r[i].modclip, 1e-9, "wrap probability");
      relClose(modularClipProbability(g, gamma), g.modclipProb, 1e-9, "wrap probability = p");
    });
  },
});

Deno.test("granularity refuses words too narrow for the members' rounding noise", () => {
  const g = { bits: 3, modclipProb: 1e-4, clip: 1, members: 10, dim: 8, localStd: 1 };
  assertThrows(() => granularity(g), RangeError, "cannot hold");
  assertThrows(() => granularity({ ...g, bits: 33 }), RangeError);
  assertThrows(() => granularity({ ...g, bits: 16, modclipProb: 0 }), RangeError);
  assertThrows(() => granularity({ ...g, bits: 16, members: 0 }), RangeError);
});
