/**
 * The exact sampler (protocol/dp/discrete_gaussian.ts, Canonne–Kamath–Steinke 2020, Algorithms
 * 1–3) against the exact distributions, computed independently by `reference.py` (NumPy/SciPy):
 * Pearson chi-square goodness of fit of fixed-seed samples for several σ, including σ = 0.5 where
 * the discrete Gaussian is far from a rounded continuous one (a test that also shows it has the
 * power to tell those apart), the discrete Laplace, and exact binomial tests of Bernoulli(e^−γ).
 */
import {
  addDiscreteGaussianNoise,
  bernoulli,
  bernoulliExp,
  discreteGaussian,
  discreteLaplace,
  isqrt,
  type Rational,
  rational,
  rationalAtLeast,
  rationalFromNumber,
  UniformSource,
} from "../../../protocol/dp/discrete_gaussian.ts";
import { labelledRng, type Rng } from "../../../protocol/crypto/random.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { Batch, SCIPY } from "./_python.ts";

/** Goodness-of-fit threshold: with fixed seeds the p-values are fixed; a correct sampler's
 * p-value is uniform, so 1e-4 fails a correct sampler for one seed in 10^4. */
const P_MIN = 1e-4;

function histogram(draw: () => bigint, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const k = String(draw());
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

// All samples are drawn when the file loads (about 0.1 s per 20k); the reference runs once, in
// one python3 process, when the first test awaits an answer.
const batch = new Batch();

interface Chi2 {
  p: number;
  stat: number;
  cells: number;
  outside: number;
  variance?: number;
}

const SIGMAS: [string, Rational][] = [
  ["0.5", rational(1, 4)],
  ["1", rational(1)],
  ["3", rational(9)],
  ["20", rational(400)],
  ["√2.7 (σ² = 27/10)", rational(27, 10)],
];

const gaussianCounts = new Map<string, Record<string, number>>();
for (const [name, sigma2] of SIGMAS) {
  const src = new UniformSource(labelledRng("dp-test", "dgauss", name));
  const counts = histogram(() => discreteGaussian(src, sigma2), 20000);
  gaussianCounts.set(name, counts);
  const index = batch.add({
    op: "dgauss_chi2",
    sigma2: [Number(sigma2.num), Number(sigma2.den)],
    counts,
  });
  Deno.test({
    name: `discrete Gaussian σ = ${name}: chi-square against the exact pmf (SciPy)`,
    ignore: !SCIPY.available,
    fn: async () => {
      const r = await batch.result<Chi2>(index);
      assertEquals(r.outside, 0);
      assert(r.cells >= 3, `too few cells (${r.cells})`);
      assert(r.p > P_MIN, `σ = ${name}: chi-square p = ${r.p} (stat ${r.stat}, ${r.cells} cells)`);
    },
  });
}

// Where discreteness matters (σ = 0.5: P[0] ≈ 0.79 versus 0.68 for a rounded N(0, 0.25)), the
// test must tell the two apart, or passing it above would mean nothing.
const roundedIndex = batch.add({
  op: "dgauss_chi2",
  sigma2: [1, 4],
  counts: gaussianCounts.get("0.5"),
  model: "rounded",
});
const wrongSigmaIndex = batch.add({
  op: "dgauss_chi2",
  sigma2: [10, 1],
  counts: gaussianCounts.get("3"),
});

Deno.test({
  name: "discrete Gaussian σ = 0.5: the same test rejects the rounded continuous Gaussian",
  ignore: !SCIPY.available,
  fn: async () => {
    const r = await batch.result<Chi2>(roundedIndex);
    assert(r.p < 1e-12, `the rounded Gaussian was not rejected: p = ${r.p}`);
  },
});

Deno.test({
  name: "discrete Gaussian σ² = 9: chi-square rejects σ² = 10 (the test has power at 20k samples)",
  ignore: !SCIPY.available,
  fn: async () => {
    const r = await batch.result<Chi2>(wrongSigmaIndex);
    assert(r.p < 1e-6, `σ² = 10 not rejected: p = ${r.p}`);
  },
});

for (const [t, s] of [[1, 1], [7, 3], [1, 2], [10, 1]]) {
  const src = new UniformSource(labelledRng("dp-test", "dlap", t, s));
  const counts = histogram(() => discreteLaplace(src, rational(t, s)), 20000);
  const index = batch.add({ op: "dlaplace_chi2", scale: [t, s], counts });
  Deno.test({
    name: `discrete Laplace scale ${t}/${s}: chi-square against the exact pmf (SciPy)`,
    ignore: !SCIPY.available,
    fn: async () => {
      const r = await batch.result<Chi2>(index);
      assertEquals(r.outside, 0);
      assert(r.p > P_MIN, `scale ${t}/${s}: chi-square p = ${r.p} (stat ${r.stat})`);
    },
  });
}

const bernoulliRuns = [[0, 1], [1, 3], [1, 1], [5, 2], [7, 1]].map(([num, den]) => {
  const src = new UniformSource(labelledRng("dp-test", "bexp", num, den));
  const trials = 20000;
  let successes = 0;
  for (let i = 0; i < trials; i++) if (bernoulliExp(src, rational(num, den))) successes++;
  const index = batch.add({ op: "bernoulli_exp", gamma: [num, den], successes, trials });
  return { num, den, trials, successes, index };
});

Deno.test({
  name: "Bernoulli(exp(−γ)) for γ ∈ {0, 1/3, 1, 5/2, 7}: exact binomial tests (SciPy)",
  ignore: !SCIPY.available,
  fn: async () => {
    for (const { num, den, trials, successes, index } of bernoulliRuns) {
      if (num === 0) assertEquals(successes, trials); // exp(0) = 1 exactly
      const r = await batch.result<{ p: number; prob: number }>(index);
      assert(r.p > P_MIN, `γ = ${num}/${den}: ${successes}/${trials} vs ${r.prob}: p = ${r.p}`);
    }
  },
});

// Bernoulli(num/den) by lazy bit comparison, on the number path and on the BigInt path (a
// denominator beyond 2^52), against exact binomial tests.
const BIG = 2n ** 100n;
const bernoulliCases: [bigint, bigint][] = [[1n, 3n], [2n, 7n], [BIG + 1n, 3n * BIG], [
  5n * BIG,
  7n * BIG + 3n,
]];
const plainRuns = bernoulliCases.map(([num, den], i) => {
  const src = new UniformSource(labelledRng("dp-test", "bernoulli", i));
  const trials = 20000;
  let successes = 0;
  for (let t = 0; t < trials; t++) if (bernoulli(src, num, den)) successes++;
  // The reference gets the ratio as two floats: exact enough for a binomial test.
  const index = batch.add({ op: "binomial", p: [Number(num), Number(den)], successes, trials });
  return { num, den, successes, trials, index };
});

Deno.test({
  name: "Bernoulli(num/den) by lazy bits: exact binomial tests, small and BigInt denominators",
  ignore: !SCIPY.available,
  fn: async () => {
    for (const { num, den, successes, trials, index } of plainRuns) {
      const r = await batch.result<{ p: number; prob: number }>(index);
      assert(r.p > P_MIN, `${num}/${den}: ${successes}/${trials} vs ${r.prob}: p = ${r.p}`);
    }
    const src = new UniformSource(labelledRng("dp-test", "bernoulli-edges"));
    for (let i = 0; i < 100; i++) {
      assertEquals(bernoulli(src, 0n, 5n), false);
      assertEquals(bernoulli(src, 5n, 5n), true);
    }
  },
});

Deno.test("the sampler is reproducible from a seed and different across seeds", () => {
  const draw = (label: string) => {
    const src = new UniformSource(labelledRng("dp-test", "repro", label));
    return Array.from({ length: 200 }, () => discreteGaussian(src, rational(9, 4)));
  };
  assertEquals(draw("a"), draw("a"));
  assert(JSON.stringify(draw("a").map(String)) !== JSON.stringify(draw("b").map(String)));
});

Deno.test("UniformSource.below is uniform on small and on BigInt-sized ranges", () => {
  const src = new UniformSource(labelledRng("dp-test", "uniform"));
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) counts[Number(src.below(3n))]++;
  // Each count ~ Binomial(30000, 1/3): sd ≈ 82; 6 sd is a bug, not bad luck.
  for (const c of counts) assert(Math.abs(c - 10000) < 500, `counts ${counts}`);
  const big = (1n << 100n) + 12345n;
  let high = 0;
  for (let i = 0; i < 2000; i++) {
    const v = src.below(big);
    assert(v >= 0n && v < big);
    if (v >= big / 2n) high++;
  }
  assert(Math.abs(high - 1000) < 200, `upper half drawn ${high}/2000 times`);
  assertEquals(src.below(1n), 0n);
  assertThrows(() => src.below(0n), RangeError);
});

/**
 * An Rng whose bytes run through a fixed cycle: every `width`-byte big-endian counter value
 * 0, 1, …, 256^width − 1 in turn, then again. Over one full cycle every byte pattern occurs
 * exactly once, so an exact sampler gives exactly equal counts: a test with no sampling error.
 */
function countingRng(width: number): Rng {
  let counter = 0;
  const pending: number[] = [];
  const period = 256 ** width;
  return (length: number) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      if (pending.length === 0) {
        for (let b = width - 1; b >= 0; b--) pending.push(Math.floor(counter / 256 ** b) % 256);
        counter = (counter + 1) % period;
      }
      out[i] = pending.shift()!;
    }
    return out;
  };
}

Deno.test("UniformSource.below is exactly uniform over a full cycle of byte patterns", () => {
  // m = 171: one byte, 171 of the 256 values accepted. `byte % 171` would draw 0..84 twice as
  // often as 85..170; rejection draws each exactly once per cycle of 256 bytes.
  const one = new UniformSource(countingRng(1));
  const small = new Array(171).fill(0);
  for (let i = 0; i < 171 * 4; i++) small[Number(one.below(171n))]++;
  assertEquals(small, new Array(171).fill(4));
  // m = 1000: two bytes, the top one masked to 2 bits; each of the 1024 masked values occurs 64
  // times per cycle of 65536 pairs, and the 1000 below m are accepted.
  const two = new UniformSource(countingRng(2));
  const wide = new Array(1000).fill(0);
  for (let i = 0; i < 1000 * 64; i++) wide[Number(two.below(1000n))]++;
  assertEquals(wide, new Array(1000).fill(64));
});

// The operating range: a 32-bit plan's member noise is σ ≈ 10^8 steps (the chi-square tests
// above stop at σ = 20, all on the sampler's small-number paths). Here the rationals are far
// beyond 2^53, so every Bernoulli runs on the BigInt path. Moments of N fixed-seed samples: the
// sample variance has relative sd √(2/N) ≈ 0.55 %, the excess kurtosis sd √(24/N) ≈ 0.02, the
// mean sd σ/√N; the bounds are 5 sd. The Laplace proposal alone (variance 2σ², excess kurtosis
// 3) or a σ² wrong by 3 % fails them.
const MOMENT_SAMPLES = 65536;
const OPERATING: [string, Rational][] = [
  // σ² = a/1024 with a odd: the fraction rationalAtLeast produces below 2^43, at σ ≈ 0.99·10^8.
  ["(10^19 + 1)/1024", rational(10n ** 19n + 1n, 1024n)],
  // What rationalAtLeast makes of a 32-bit plan's σ² ≈ 1.08·10^16 (an integer at that size).
  ["rationalAtLeast(1.0816e16)", rationalAtLeast(1.0816e16)],
];
for (const [name, sigma2] of OPERATING) {
  Deno.test(`discrete Gaussian σ² = ${name}: mean, variance and kurtosis at σ ≈ 10^8`, () => {
    const src = new UniformSource(labelledRng("dp-test", "moments", name));
    const variance = Number(sigma2.num) / Number(sigma2.den);
    let m1 = 0, m2 = 0, m4 = 0;
    for (let i = 0; i < MOMENT_SAMPLES; i++) {
      const x = Number(discreteGaussian(src, sigma2)) / Math.sqrt(variance);
      m1 += x;
      m2 += x * x;
      m4 += x ** 4;
    }
    const n = MOMENT_SAMPLES;
    const mean = m1 / n, v = m2 / n, kurtosis = m4 / n / (v * v) - 3;
    assert(Math.abs(mean) < 5 / Math.sqrt(n), `mean ${mean} σ`);
    assert(Math.abs(v - 1) < 5 * Math.sqrt(2 / n), `variance ${v} σ²`);
    assert(Math.abs(kurtosis) < 5 * Math.sqrt(24 / n), `excess kurtosis ${kurtosis}`);
  });
}

Deno.test("rationals: lowest terms, exact float64 values, refusals", () => {
  assertEquals(rational(6, 4), { num: 3n, den: 2n });
  assertEquals(rationalFromNumber(0.75), { num: 3n, den: 4n });
  assertEquals(rationalFromNumber(0.1), { num: 3602879701896397n, den: 36028797018963968n });
  assertEquals(rationalFromNumber(0), { num: 0n, den: 1n });
  assertThrows(() => rational(-1, 2), RangeError);
  assertThrows(() => rational(1, 0), RangeError);
  assertThrows(() => rationalFromNumber(-1), RangeError);
  assertThrows(() => rationalFromNumber(NaN), RangeError);
  assertThrows(
    () => discreteGaussian(new UniformSource(labelledRng("x")), rational(0)),
    RangeError,
  );
  assertThrows(() => discreteLaplace(new UniformSource(labelledRng("x")), rational(0)), RangeError);
});

Deno.test("isqrt is the exact integer square root, also beyond 2^53", () => {
  for (const n of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, 99n, 100n]) {
    const r = isqrt(n);
    assert(r * r <= n && (r + 1n) * (r + 1n) > n, `isqrt(${n}) = ${r}`);
  }
  const big = (1n << 200n) + 7n;
  const r = isqrt(big);
  assert(r * r <= big && (r + 1n) * (r + 1n) > big);
  assertEquals(isqrt((10n ** 30n) ** 2n), 10n ** 30n);
  assertEquals(isqrt((10n ** 30n) ** 2n - 1n), 10n ** 30n - 1n);
});

Deno.test("addDiscreteGaussianNoise adds the sampler's draws modulo 2^32", () => {
  const out = new Uint32Array([0, 5, 0xffffffff, 7]);
  const before = Array.from(out);
  addDiscreteGaussianNoise(out, rational(4), labelledRng("dp-test", "add"));
  const src = new UniformSource(labelledRng("dp-test", "add"));
  for (let i = 0; i < out.length; i++) {
    const noise = discreteGaussian(src, rational(4));
    assertEquals(out[i], Number(BigInt.asUintN(32, BigInt(before[i]) + noise)));
  }
});
