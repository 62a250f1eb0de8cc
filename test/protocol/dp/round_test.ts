/**
 * Distributed DP wired into rounds (protocol/dp/mechanism.ts, protocol/round/dp_round.ts, the
 * simulator's dp report): a member's DP input is D + 1 words modulo 2^bits with weight 1,
 * deterministic in its round seed (so every view and restart sends the same noisy vector); the
 * decoded noise-free sum is the sum of the clipped updates up to rounding; whole simulated
 * rounds — with dropouts, a withholding member, a killed leader (view change) and post-quantum
 * mode — publish the exact modular sum of the members' words, verify offline, and carry noise
 * whose measured std is the expected one within 5 % (8192 coordinates: the estimate's own error
 * is ≈ 0.8 %); wraps beyond the honest bound are counted; the decoding matches an independent
 * NumPy/SciPy computation (reference.py `dp_decode`); a member's seed is the same for a round
 * and another for another round.
 */
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { labelledRng } from "../../../protocol/crypto/random.ts";
import { createRoster, type Member, vectorLength } from "../../../protocol/federation/roster.ts";
import {
  decodeDpSum,
  dpMemberSeed,
  dpRotationKey,
  encodeDpUpdate,
  wrapEvidence,
} from "../../../protocol/dp/mechanism.ts";
import { clipL2 } from "../../../protocol/dp/rounding.ts";
import { rotationSigns } from "../../../protocol/dp/rotation.ts";
import { reference, SCIPY } from "./_python.ts";
import { aggregateMean, dpRoundUpdate } from "../../../protocol/round/dp_round.ts";
import { CallerError } from "../../../protocol/errors.ts";
import { simulate } from "../../../protocol/sim/mod.ts";

function members(n: number): Member[] {
  const rng = labelledRng("dp-round-test", "members");
  return Array.from({ length: n }, (_, i) => ({ id: `m-${i}`, signingKey: rng(32) }));
}

function dpRoster(bits: number, dim = 1000) {
  return createRoster({
    federation: "dp-round",
    members: members(5),
    dim,
    dp: { epsilon: 3, delta: 1e-6, rounds: 10, clip: 1, bits, corrupt: 0 },
  });
}

function update(label: string | number, d: number, scale = 0.1): Float32Array {
  const w = new Uint32Array(labelledRng("dp-round-test", "x", label)(4 * d).buffer);
  return Float32Array.from(w, (v) => (v / 2 ** 31 - 1) * scale);
}

Deno.test("dp input: D + 1 words below 2^bits, weight 1, the same for the same round seed", () => {
  const roster = dpRoster(16);
  const seed = labelledRng("dp-round-test", "seed")(32);
  const x = update(0, 1000);
  const a = dpRoundUpdate(roster, 4, x, seed);
  assertEquals(a.words.length, vectorLength(roster));
  assertEquals(a.words.length, 1025);
  assertEquals(a.words[1024], 1);
  assert(a.words.subarray(0, 1024).every((w) => w < 2 ** 16));
  // Same seed, same words (a view change or a restart re-sends the same noisy vector) …
  assertEquals(dpRoundUpdate(roster, 4, x, seed).words, a.words);
  // … another seed, other noise; another round, another rotation.
  assertNotEquals(dpRoundUpdate(roster, 4, x, seed.map((b) => b ^ 1)).words, a.words);
  assertNotEquals(dpRoundUpdate(roster, 5, x, seed).rounded, a.rounded);
  assertThrows(() => dpRoundUpdate(roster, 4, x.subarray(1), seed), CallerError);
  const nan = x.slice();
  nan[3] = NaN;
  assertThrows(() => dpRoundUpdate(roster, 4, nan, seed), CallerError);
  const plain = createRoster({ federation: "p", members: members(5), dim: 1000 });
  assertThrows(() => dpRoundUpdate(plain, 0, x, seed), CallerError); // a roster without DP
});

Deno.test("dp decode: the noise-free modular sum decodes to the sum of the clipped updates", () => {
  for (const bits of [16, 32]) {
    const roster = dpRoster(bits);
    const dp = roster.dp!;
    const key = dpRotationKey(roster.hash, 2);
    const sum = new Uint32Array(dp.paddedDim + 1);
    const clipped = new Float64Array(1000);
    for (let m = 0; m < 5; m++) {
      const x = update(`dec-${m}`, 1000); // norm ≈ 1.8: clipped to 1
      const u = encodeDpUpdate(x, dp, key, labelledRng("dp-round-test", "s", m)(32), false);
      for (let i = 0; i < sum.length; i++) sum[i] = sum[i] + u.words[i];
      clipL2(x, 1).clipped.forEach((v, i) => clipped[i] += v);
    }
    const decoded = decodeDpSum(sum, dp, key, 1000);
    assertEquals(decoded.members, 5);
    // Rounding moves each member's rotated vector by < γ per coordinate; its L2 norm by ≤ Δ₂·γ
    // overall, so the sum of five is off by at most 5·γ·Δ₂ in norm (in practice far less).
    let squares = 0;
    for (let i = 0; i < 1000; i++) squares += (decoded.sum[i] - clipped[i]) ** 2;
    const error = Math.sqrt(squares);
    assert(error <= 5 * dp.gamma * Math.sqrt(dp.paddedDim), `${bits} bits: error ${error}`);
    assert(error > 0);
    const mean = aggregateMean(roster, 2, sum, 5);
    assert(Math.abs(mean[7] - decoded.sum[7] / 5) < 1e-6);
    assertThrows(() => aggregateMean(roster, 2, sum, 4), RangeError);
    // Another round's rotation decodes it to something else.
    const wrong = decodeDpSum(sum, dp, dpRotationKey(roster.hash, 3), 1000).sum;
    assert(Math.abs(wrong[0] - clipped[0]) > 10 * Math.abs(decoded.sum[0] - clipped[0]));
  }
});

Deno.test("dp wraps: a coordinate beyond the honest bound is counted; at 16 bits none is detectable", () => {
  const roster = dpRoster(32);
  const dp = roster.dp!;
  const steps = new Float64Array(dp.paddedDim);
  const honest = wrapEvidence(steps, dp, 5);
  assert(honest.detectable);
  assertEquals(honest.beyond, 0);
  steps[9] = -(2 ** 31) + 5; // a sum that went past +2^31 and came back from the other side
  const wrapped = wrapEvidence(steps, dp, 5);
  assert(wrapped.detectable && wrapped.beyond === 1);
  assertEquals(wrapEvidence(steps, dpRoster(16).dp!, 5).detectable, false);
});

for (
  const [name, options] of [
    ["dropouts, one withholding member", { dropout: 0.15, withhold: 1, pq: false, kill: false }],
    ["a killed leader (view change)", { dropout: 0, withhold: 0, pq: false, kill: true }],
    ["post-quantum mode and dropouts", { dropout: 0.3, withhold: 0, pq: true, kill: false }],
  ] as const
) {
  Deno.test(`dp sim: ${name}: exact, verified, the noise as stated`, async () => {
    const report = await simulate({
      nodes: 7,
      dim: 8000,
      dropout: options.dropout,
      dropStage: "mixed",
      graph: "complete",
      seed: 11,
      pq: options.pq,
      rounds: 1,
      killLeaderAt: options.kill ? "masked" : undefined,
      dp: { epsilon: 3, delta: 1e-6, bits: 16, withhold: options.withhold },
    });
    const r = report.rounds[0];
    assert(r.exact && r.verified, r.failure ?? r.refusals.join("; "));
    if (options.kill) assert(r.view > 0);
    if (options.dropout > 0) assert(r.survivors < 7);
    const dp = r.dp!;
    const members = r.members.map((id) => Number(id.slice(5)));
    assertEquals(dp.noisers, members.filter((m) => m >= options.withhold).length);
    const ratio = dp.noiseStd / dp.expectedStd;
    assert(ratio > 0.95 && ratio < 1.05, `noiseStd ${dp.noiseStd}, expected ${dp.expectedStd}`);
    // The noisers are at least t − c, so the noise is at least the central σ.
    assert(dp.expectedStd >= dp.sigma * (1 - 1e-9), `${dp.expectedStd} < σ = ${dp.sigma}`);
    assert(dp.epsilonSpent > 0 && dp.epsilonSpent <= 3);
  });
}

Deno.test({
  name: "dp decode: signed wrap, rescale and inverse rotation match NumPy/SciPy (reference.py)",
  ignore: !SCIPY.available,
  fn: async () => {
    for (const bits of [16, 32]) {
      const roster = dpRoster(bits, 200);
      const dp = roster.dp!;
      const key = dpRotationKey(roster.hash, 9);
      const words = new Uint32Array(labelledRng("dp-round-test", "sum", bits)(4 * 257).buffer);
      words[0] = 2 ** (bits - 1); // the most negative value
      words[1] = 2 ** (bits - 1) - 1; // the most positive
      words[256] = 5; // the weight word
      const expected = await reference<{ signed: number[]; x: number[] }>({
        op: "dp_decode",
        words: Array.from(words.subarray(0, 256)),
        bits,
        gamma: dp.gamma,
        signs: Array.from(rotationSigns(key, 200)),
        d: 200,
      });
      const decoded = decodeDpSum(words, dp, key, 200);
      assertEquals(Array.from(decoded.steps), expected.signed);
      assertEquals(decoded.members, 5);
      const scale = Math.max(...expected.x.map(Math.abs));
      for (let i = 0; i < 200; i++) {
        assert(Math.abs(decoded.sum[i] - expected.x[i]) <= 1e-12 * scale, `${bits} bits, ${i}`);
      }
    }
  },
});

Deno.test("dp member seed: the same for a round (views, restarts), another for another round or key", () => {
  const roster = dpRoster(16);
  const key = labelledRng("dp-round-test", "noise-key")(32);
  const x = update("seed", 1000);
  const a = dpRoundUpdate(roster, 3, x, dpMemberSeed(key, roster.hash, 3)).words;
  assertEquals(dpRoundUpdate(roster, 3, x, dpMemberSeed(key, roster.hash, 3)).words, a);
  assertNotEquals(dpMemberSeed(key, roster.hash, 4), dpMemberSeed(key, roster.hash, 3));
  assertNotEquals(
    dpMemberSeed(key.map((b) => b ^ 1), roster.hash, 3),
    dpMemberSeed(key, roster.hash, 3),
  );
  assertThrows(() => dpMemberSeed(key.subarray(1), roster.hash, 3), RangeError);
});
