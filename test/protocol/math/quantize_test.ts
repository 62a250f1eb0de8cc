import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertLessOrEqual,
  assertThrows,
} from "../../_assert.ts";
import { ConfigError } from "../../../protocol/errors.ts";
import { type Rng, seededRng } from "../../../protocol/crypto/random.ts";
import {
  countClipped,
  dequantizeMean,
  dequantizeSum,
  MAX_RELATIVE_ERROR,
  maxMembersWithinPrecision,
  type QuantizationParameters,
  quantizationParameters,
  quantize,
  quantizeInto,
  withinPrecision,
} from "../../../protocol/math/quantize.ts";

const TWO_POW_32 = 4294967296;

function seed(tag: number): Uint8Array {
  const s = new Uint8Array(32);
  s[0] = tag;
  return s;
}

/** A float64 in [0, 1) from the seeded stream. */
function uniform(rng: Rng): number {
  const b = rng(4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) / TWO_POW_32;
}

function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(uniform(rng) * (hi - lo + 1));
}

function nextUp(x: number): number {
  const f = new Float64Array([x]);
  new BigInt64Array(f.buffer)[0] += 1n;
  return f[0];
}

/** A constant rng: all-zero bytes always round up, all-0xff bytes always round down. */
function constantRng(byte: number): Rng {
  return (length) => new Uint8Array(length).fill(byte);
}

/**
 * Simulates one round: quantizes every member's vector, adds pairwise-cancelling random masks
 * mod 2^32 (so the partial sums really wrap), sums mod 2^32 and returns the unmasked aggregate.
 */
function aggregate(
  xs: Float32Array[],
  weights: number[],
  params: QuantizationParameters,
  rng: Rng,
): Uint32Array {
  const d = xs[0].length;
  const sum = new Uint32Array(d + 1);
  const maskTotal = new Uint32Array(d + 1);
  for (let u = 0; u < xs.length; u++) {
    const y = quantize(xs[u], weights[u], params, rng);
    assertEquals(y.length, d + 1);
    assertEquals(y[d], weights[u]);
    const last = u === xs.length - 1;
    const mask = last ? maskTotal.map((m) => (TWO_POW_32 - m) >>> 0) : quantizeMask(rng, d + 1);
    for (let i = 0; i <= d; i++) {
      if (!last) maskTotal[i] = (maskTotal[i] + mask[i]) >>> 0;
      sum[i] = (sum[i] + ((y[i] + mask[i]) >>> 0)) >>> 0;
    }
  }
  return sum;
}

function quantizeMask(rng: Rng, length: number): Uint32Array {
  const b = rng(4 * length);
  return new Uint32Array(b.slice().buffer);
}

/** Exact-ish float64 weighted mean of the clipped inputs. */
function clippedMean(xs: Float32Array[], weights: number[], c: number): Float64Array {
  const d = xs[0].length;
  const acc = new Float64Array(d);
  let total = 0;
  for (let u = 0; u < xs.length; u++) {
    total += weights[u];
    for (let i = 0; i < d; i++) acc[i] += weights[u] * Math.min(c, Math.max(-c, xs[u][i]));
  }
  return acc.map((a) => a / total);
}

Deno.test("quantize: example parameters", () => {
  const p = quantizationParameters({ members: 100, clip: 1, maxWeight: 1000 });
  assertEquals(p.scale, 21474.5);
  assertEquals(p.levels, 42950);
  assert(100 * 1000 * (p.levels - 1) < TWO_POW_32);
  const q = quantizationParameters({ members: 5, clip: 1, maxWeight: 1 });
  assertEquals(q.scale, 429496729.5);
  assertEquals(q.levels, 858993460);
  assertEquals(5 * (q.levels - 1), TWO_POW_32 - 1);
  assert(Object.isFrozen(p));
});

Deno.test("quantize: default scale is the largest that does not overflow", () => {
  const rng = seededRng(seed(1));
  for (let t = 0; t < 300; t++) {
    const members = int(rng, 1, 2000);
    const maxWeight = int(rng, 1, Math.min(1e6, Math.floor((TWO_POW_32 - 1) / members)));
    const clip = Math.exp((uniform(rng) - 0.5) * 40);
    const p = quantizationParameters({ members, clip, maxWeight });
    assert(members * maxWeight * (p.levels - 1) < TWO_POW_32);
    assertEquals(p.levels - 1, Math.ceil((clip + clip) * p.scale));
    assertEquals(p.levels - 1, Math.floor((TWO_POW_32 - 1) / (members * maxWeight)));
    const up = () => quantizationParameters({ members, clip, maxWeight, scale: nextUp(p.scale) });
    assertEquals((assertThrows(up, ConfigError) as ConfigError).setting, "n*maxWeight*levels");
    // Giving the derived scale explicitly reproduces the same parameters.
    assertEquals(quantizationParameters({ members, clip, maxWeight, scale: p.scale }), p);
  }
});

Deno.test("quantize: dequantized weighted mean is within errorBound", () => {
  const rng = seededRng(seed(2));
  const settings = [
    { members: 100, clip: 1, maxWeight: 1000 },
    { members: 5, clip: 1, maxWeight: 1 },
    { members: 3, clip: 0.1, maxWeight: 50, scale: 2 ** 10 },
    { members: 20, clip: 10, maxWeight: 7, scale: 3.3 },
    { members: 1, clip: 2.5, maxWeight: 1 },
    { members: 1000, clip: 1e-3, maxWeight: 4 },
    { members: 12, clip: 1e6, maxWeight: 300 },
  ];
  for (const s of settings) {
    const p = quantizationParameters(s);
    for (let trial = 0; trial < 4; trial++) {
      const n = int(rng, 1, Math.min(s.members, 40));
      const d = int(rng, 1, 300);
      const xs: Float32Array[] = [];
      const weights: number[] = [];
      for (let u = 0; u < n; u++) {
        const x = new Float32Array(d);
        for (let i = 0; i < d; i++) x[i] = (2 * uniform(rng) - 1) * s.clip;
        // Exercise the endpoints too.
        x[0] = s.clip;
        if (d > 1) x[1] = -s.clip;
        xs.push(x);
        weights.push(trial === 0 ? s.maxWeight : int(rng, 1, s.maxWeight));
      }
      const sum = aggregate(xs, weights, p, rng);
      const totalWeight = weights.reduce((a, b) => a + b, 0);
      assertEquals(sum[d], totalWeight);
      const mean = dequantizeMean(sum, p, n);
      const exact = clippedMean(xs, weights, s.clip);
      const wsum = dequantizeSum(sum, p, n);
      let worst = 0;
      for (let i = 0; i < d; i++) {
        worst = Math.max(worst, Math.abs(mean[i] - exact[i]));
        const sumErr = Math.abs(wsum[i] - exact[i] * totalWeight);
        assertLessOrEqual(sumErr, totalWeight * p.errorBound, `sum, ${JSON.stringify(s)}`);
      }
      assertLessOrEqual(worst, p.errorBound, `mean, ${JSON.stringify(s)}`);
    }
  }
});

Deno.test("quantize: errorBound is nearly attained when rounding always goes one way", () => {
  const p = quantizationParameters({ members: 4, clip: 1, maxWeight: 3, scale: 8 });
  // v = (x + 1)·8 = k + 0.999..., always rounded down: off by almost a full step 1/8.
  const x = new Float32Array([0.5 - 1e-6 - 0.125, 0.5 - 1e-6]);
  const xs = [x, x, x, x];
  const weights = [1, 2, 3, 3];
  const sum = new Uint32Array(3);
  for (let u = 0; u < 4; u++) {
    const y = quantize(xs[u], weights[u], p, constantRng(0xff));
    for (let i = 0; i < 3; i++) sum[i] = (sum[i] + y[i]) >>> 0;
  }
  const mean = dequantizeMean(sum, p, 4);
  for (let i = 0; i < 2; i++) {
    const err = Math.abs(mean[i] - x[i]);
    assertLessOrEqual(err, p.errorBound);
    assertGreaterOrEqual(err, 0.124);
  }
});

Deno.test("quantize: the sum never wraps at the extremes", () => {
  const cases = [
    { members: 100, clip: 1, maxWeight: 1000 },
    { members: 5, clip: 1, maxWeight: 1 },
    { members: 7, clip: 0.1, maxWeight: 13 },
    { members: 65535, clip: 3, maxWeight: 65537 },
    { members: 9, clip: 0.3, maxWeight: 2, scale: 1000.7 },
  ];
  for (const s of cases) {
    const p = quantizationParameters(s);
    const d = 3;
    const n = s.members;
    for (const sign of [1, -1]) {
      const x = new Float32Array(d).fill(sign * s.clip);
      // All-zero randomness rounds every fractional value up: the largest possible q.
      const y = quantize(x, s.maxWeight, p, constantRng(0));
      const sum = new Uint32Array(d + 1);
      let exactTop = 0n;
      for (let u = 0; u < n; u++) {
        for (let i = 0; i <= d; i++) sum[i] = (sum[i] + y[i]) >>> 0;
      }
      exactTop = BigInt(n) * BigInt(s.maxWeight) * BigInt(p.levels - 1);
      assert(exactTop < BigInt(TWO_POW_32));
      const expected = sign > 0 ? Number(exactTop) : 0;
      for (let i = 0; i < d; i++) assertEquals(sum[i], expected);
      assertEquals(sum[d], n * s.maxWeight);
      const mean = dequantizeMean(sum, p, n);
      for (let i = 0; i < d; i++) {
        assertLessOrEqual(Math.abs(mean[i] - sign * s.clip), p.errorBound, JSON.stringify(s));
      }
    }
  }
});

Deno.test("quantize: stochastic rounding is unbiased", () => {
  const rng = seededRng(seed(3));
  const p = quantizationParameters({ members: 1, clip: 1, maxWeight: 1, scale: 4 });
  // (x + 1)·4 has fractional parts 0.2, 0.5, 0.9, 0.01, 0 and the endpoints.
  const values = [0.3, -0.875, 0.975, -0.9975, 0.5, 1, -1];
  const copies = 1000;
  const x = new Float32Array(values.length * copies);
  for (let k = 0; k < values.length; k++) x.fill(values[k], k * copies, (k + 1) * copies);
  const sums = new Float64Array(values.length);
  const rounds = 100;
  for (let r = 0; r < rounds; r++) {
    const y = quantize(x, 1, p, rng);
    for (let i = 0; i < x.length; i++) sums[Math.floor(i / copies)] += y[i];
  }
  for (let k = 0; k < values.length; k++) {
    const v = (Math.fround(values[k]) + 1) * 4;
    const avg = sums[k] / (rounds * copies);
    // 1e5 Bernoulli draws: standard deviation ≤ 0.0016 steps; allow 0.01 (> 6 sigma).
    assertLessOrEqual(Math.abs(avg - v), 0.01, `value ${values[k]}: ${avg} vs ${v}`);
    // Each individual q is ⌊v⌋ or ⌈v⌉.
  }
  const y = quantize(x, 1, p, rng);
  for (let i = 0; i < x.length; i++) {
    const v = (x[i] + 1) * 4;
    assert(y[i] === Math.floor(v) || y[i] === Math.ceil(v));
  }
});

Deno.test("quantize: rounds up exactly when u < frac(v)·2^32", () => {
  const p = quantizationParameters({ members: 1, clip: 1, maxWeight: 1, scale: 2 });
  const words = (...u: number[]): Rng => () => new Uint8Array(new Uint32Array(u).buffer);
  // v = 2.5 (frac 2^31/2^32), 2, 4 (top), 0, and 2 + 2^-22 (frac·2^32 = 1024).
  const x = new Float32Array([0.25, 0, 1, -1, 2 ** -23]);
  const up = quantize(x, 1, p, words(2 ** 31 - 1, 0, 0, 0, 1023));
  assertEquals(Array.from(up), [3, 2, 4, 0, 3, 1]);
  const down = quantize(x, 1, p, words(2 ** 31, 0, 0, 0, 1024));
  assertEquals(Array.from(down), [2, 2, 4, 0, 2, 1]);
  const max = quantize(x, 1, p, words(...new Array(5).fill(2 ** 32 - 1)));
  assertEquals(Array.from(max), [2, 2, 4, 0, 2, 1]);
});

Deno.test("quantize: inputs outside [-clip, clip] are clipped", () => {
  const p = quantizationParameters({ members: 3, clip: 0.5, maxWeight: 10 });
  const x = new Float32Array([5, -7, 3e38, -3e38, 0.5, -0.5, 0.25, 0.5000001]);
  const a = quantize(x, 3, p, constantRng(0));
  const b = quantize(x.map((v) => Math.min(0.5, Math.max(-0.5, v))), 3, p, constantRng(0));
  assertEquals(a, b);
  const mean = dequantizeMean(a, p, 1);
  const expected = [0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.25, 0.5];
  for (let i = 0; i < x.length; i++) {
    assertLessOrEqual(Math.abs(mean[i] - expected[i]), p.errorBound);
  }
});

Deno.test("quantize: output layout and rng use", () => {
  const p = quantizationParameters({ members: 2, clip: 1, maxWeight: 9, scale: 2 });
  let calls = 0;
  const counting: Rng = (length) => {
    calls++;
    assertEquals(length, 4 * 3);
    return new Uint8Array(length);
  };
  const out = new Uint32Array(4);
  quantizeInto(new Float32Array([-1, 0, 0.25]), 9, p, counting, out);
  assertEquals(calls, 1);
  // q = 0, 2, ⌈2.5⌉ = 3 (zero randomness rounds up); times weight 9; then the weight.
  assertEquals(Array.from(out), [0, 18, 27, 9]);
  // Empty vector: no randomness, just the weight.
  assertEquals(Array.from(quantize(new Float32Array(0), 4, p, counting)), [4]);
  assertEquals(calls, 1);
  // An rng whose bytes are not 4-aligned still works.
  const unaligned: Rng = (length) => new Uint8Array(length + 1).subarray(1);
  assertEquals(Array.from(quantize(new Float32Array([0.25]), 1, p, unaligned)), [3, 1]);
  assertEquals(
    dequantizeMean(new Uint32Array([0, 18, 27, 9]), p, 1),
    new Float32Array([-1, 0, 0.5]),
  );
  assertEquals(
    dequantizeSum(new Uint32Array([0, 18, 27, 9]), p, 2),
    new Float64Array([-9, 0, 4.5]),
  );
});

Deno.test("quantize: refusals of inputs", () => {
  const p = quantizationParameters({ members: 4, clip: 1, maxWeight: 10 });
  const rng = seededRng(seed(4));
  const good = new Float32Array([0.1, 0.2, 0.3]);
  const out = new Uint32Array(4);
  for (const [bad, label] of [[NaN, "NaN"], [Infinity, "Infinity"], [-Infinity, "-Infinity"]]) {
    const x = new Float32Array([0.1, 0.2, bad as number, NaN]);
    const o = new Uint32Array(5).fill(7);
    assertThrows(() => quantizeInto(x, 1, p, rng, o), RangeError, `coordinate 2 is ${label}`);
    assertEquals(Array.from(o), [0, 0, 0, 0, 0]);
  }
  for (const w of [0, -1, 11, 1.5, NaN, Infinity]) {
    assertThrows(() => quantizeInto(good, w, p, rng, out), RangeError, "weight");
  }
  assertThrows(() => quantizeInto(good, 1, p, rng, new Uint32Array(3)), RangeError, "length");
  assertThrows(() => quantizeInto(good, 1, p, (n) => new Uint8Array(n - 4), out), RangeError);
  // Hand-edited parameters that would overflow are refused.
  const forged = { ...p, scale: p.scale * 2 };
  assertThrows(() => quantizeInto(good, 1, forged, rng, out), ConfigError);
  const forgedLevels = { ...p, levels: p.levels + 1 };
  assertThrows(() => quantizeInto(good, 1, forgedLevels, rng, out), ConfigError);

  const sum = new Uint32Array([100, 200, 300, 20]);
  assertThrows(() => dequantizeMean(sum, p, 0), RangeError, "survivors");
  assertThrows(() => dequantizeMean(sum, p, 5), RangeError, "survivors");
  assertThrows(() => dequantizeMean(sum, p, 1.5), RangeError, "survivors");
  assertThrows(() => dequantizeMean(sum, p, 1), RangeError, "aggregate weight out of range");
  assertThrows(
    () => dequantizeMean(new Uint32Array([5, 0]), p, 4),
    RangeError,
    "aggregate weight out of range",
  );
  assertThrows(() => dequantizeSum(new Uint32Array([5, 41]), p, 4), RangeError, "aggregate weight");
  assertThrows(() => dequantizeMean(new Uint32Array(0), p, 1), RangeError);
  assertEquals(dequantizeMean(sum, p, 2).length, 3);
});

Deno.test("quantize: refusals of settings", () => {
  const setting = (fn: () => unknown) => (assertThrows(fn, ConfigError) as ConfigError).setting;
  const base = { members: 10, clip: 1, maxWeight: 100 };
  for (const clip of [0, -1, NaN, Infinity, -Infinity, 2 ** -101, 2 ** 101]) {
    assertEquals(setting(() => quantizationParameters({ ...base, clip })), "clip");
  }
  for (const scale of [0, -3, NaN, Infinity, 2 ** -101]) {
    assertEquals(setting(() => quantizationParameters({ ...base, scale })), "scale");
  }
  for (const members of [0, -1, 2.5, NaN, Infinity]) {
    assertEquals(setting(() => quantizationParameters({ ...base, members })), "members");
  }
  for (const maxWeight of [0, 1.5, NaN, 2 ** 60]) {
    const s = setting(() => quantizationParameters({ ...base, maxWeight }));
    assert(s === "maxWeight" || s === "n*maxWeight", s);
  }
  // Weight coordinate overflow: 65536 · 65536 = 2^32.
  const e1 = assertThrows(
    () => quantizationParameters({ members: 65536, clip: 1, maxWeight: 65536 }),
    ConfigError,
  ) as ConfigError;
  assertEquals(e1.setting, "n*maxWeight");
  for (const part of ["4294967296", "maxWeight", "members"]) assert(e1.message.includes(part));
  // Value overflow with a given scale: 100·1000·⌈2·21475⌉ = 100·1000·42950 = 4295000000.
  const e2 = assertThrows(
    () => quantizationParameters({ members: 100, clip: 1, maxWeight: 1000, scale: 21475 }),
    ConfigError,
  ) as ConfigError;
  assertEquals(e2.setting, "n*maxWeight*levels");
  for (const part of ["42950", "4295000000", "4294967296", "reduce scale"]) {
    assert(e2.message.includes(part), e2.message);
  }
  // A scale so large that levels alone exceed 2^32.
  assertEquals(
    setting(() => quantizationParameters({ ...base, scale: 1e300 })),
    "n*maxWeight*levels",
  );
  // The boundary itself is accepted: 100·1000·42949 < 2^32.
  assertEquals(
    quantizationParameters({ members: 100, clip: 1, maxWeight: 1000, scale: 21474.5 }).levels,
    42950,
  );
});

Deno.test("quantize: countClipped counts the values quantization clips, not ±clip itself", () => {
  const x = new Float32Array([3, -3, 1, -1, 0.5, 1.0000001, -8, 8, 9]);
  assertEquals(countClipped(x, 1), 6); // 3, -3, 1.0000001, -8, 8 and 9: |x| > 1 ...
  assertEquals(countClipped(x, 8), 1); // ... only 9 beyond 8
  assertEquals(countClipped(new Float32Array(0), 1), 0);
  // It is what quantization does: a clipped value quantizes like ±clip.
  const p = quantizationParameters({ members: 3, clip: 1, maxWeight: 1 });
  const rng = () => new Uint8Array(4 * 2);
  assertEquals(
    quantize(new Float32Array([3, -3]), 1, p, rng).slice(0, 2),
    quantize(
      new Float32Array([1, -1]),
      1,
      p,
      rng,
    ).slice(0, 2),
  );
});

Deno.test("quantize: the precision limit refuses what the issue found (n = 3, maxWeight 1e8)", () => {
  assertEquals(MAX_RELATIVE_ERROR, 0.001);
  const coarse = quantizationParameters({ members: 3, clip: 1, maxWeight: 100_000_000 });
  assertGreaterOrEqual(coarse.errorBound, 0.14);
  assert(!withinPrecision(coarse));
  const fine = quantizationParameters({ members: 3, clip: 8, maxWeight: 1000 });
  assert(withinPrecision(fine));
  assertLessOrEqual(fine.errorBound, 0.001 * 8);
  // The most members within the limit: the bound grows with n, n + 1 is beyond it.
  const settings = { clip: 8, maxWeight: 1000 };
  const most = maxMembersWithinPrecision(settings, 65535);
  assert(most > 3 && most < 65535, `${most}`);
  assert(withinPrecision(quantizationParameters({ ...settings, members: most })));
  assert(!withinPrecision(quantizationParameters({ ...settings, members: most + 1 })));
  // Defaults (clip 8, maxWeight 1): the largest roster is well within it.
  assertEquals(maxMembersWithinPrecision({ clip: 8, maxWeight: 1 }, 65535), 65535);
  // Not even one member: 0. A given scale too small for the limit.
  assertEquals(maxMembersWithinPrecision({ clip: 1, maxWeight: 1, scale: 10 }, 100), 0);
  assertEquals(maxMembersWithinPrecision({ clip: 1, maxWeight: 2 ** 31 }, 100), 0);
});
