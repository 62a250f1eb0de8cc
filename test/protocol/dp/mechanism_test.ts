/**
 * The pieces of protocol/dp/ composed as a round will compose them (DDGauss Algorithm 1, with
 * the per-member variance σ²/(t − c) of the plan): members clip, rotate, scale, round and add
 * exact discrete Gaussian noise; their vectors are summed modulo 2^32; the "leader" reads the
 * sum as signed integers, rescales and rotates back. The measured noise of the aggregate
 * (aggregate − plaintext sum of the clipped inputs) has the variance the plan states for the
 * members who noised, within 5 % (4096 coordinates: the std estimate's own error is ≈ 1.1 %).
 */
import { labelledRng } from "../../../protocol/crypto/random.ts";
import {
  addDiscreteGaussianNoise,
  rationalAtLeast,
} from "../../../protocol/dp/discrete_gaussian.ts";
import { planDistributedDp } from "../../../protocol/dp/plan.ts";
import { clipL2, discretize, undiscretize } from "../../../protocol/dp/rounding.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";

function randomVector(d: number, label: string, scale: number): Float64Array {
  const words = new Uint32Array(labelledRng("dp-test", "mech", label)(4 * d).buffer);
  return Float64Array.from(words, (w) => (w / 2 ** 31 - 1) * scale);
}

for (const [name, noising] of [["all five", 5], ["three of five (two withhold)", 3]] as const) {
  Deno.test(`the aggregate's noise has the planned variance when ${name} members noise`, () => {
    const members = 5, d = 4096;
    const plan = planDistributedDp({
      epsilon: 3,
      delta: 1e-6,
      rounds: 10,
      clip: 1,
      members,
      threshold: 4,
      corrupt: 1,
      dim: d,
      bits: 16,
      beta: Math.exp(-0.5),
      modclipProb: 1e-6,
    });
    assertEquals(plan.paddedDim, d);
    const key = labelledRng("dp-test", "mech-rotation")(32);
    const variance = rationalAtLeast(plan.localStdSteps ** 2);
    const sum = new Uint32Array(d);
    const clippedSum = new Float64Array(d);
    for (let m = 0; m < members; m++) {
      const x = randomVector(d, `${name}-${m}`, 0.05); // norm ≈ 1.85: clipped to 1
      const settings = { clip: 1, gamma: plan.gamma, beta: 0.6065306597126334, rotationKey: key };
      const { values } = discretize(x, settings, labelledRng("dp-test", "mech-round", name, m));
      const word = Uint32Array.from(values, (v) => v >>> 0);
      if (m < noising) {
        addDiscreteGaussianNoise(word, variance, labelledRng("dp-test", "mech-noise", name, m));
      }
      for (let i = 0; i < d; i++) sum[i] = sum[i] + word[i];
      clipL2(x, 1).clipped.forEach((v, i) => clippedSum[i] += v);
    }
    const aggregate = undiscretize(Int32Array.from(sum, (w) => w | 0), plan.gamma, key, d);
    let squares = 0;
    for (let i = 0; i < d; i++) squares += (aggregate[i] - clippedSum[i]) ** 2;
    const measured = Math.sqrt(squares / d);
    // Noise of `noising` members, σ²/(t − c) each, plus randomized rounding (≤ γ²/4 each).
    const noiseVar = (noising * plan.sigma ** 2) /
      (plan.settings.threshold - plan.settings.corrupt);
    const expected = Math.sqrt(noiseVar + (members * plan.gamma ** 2) / 4);
    const ratio = measured / expected;
    assert(ratio > 0.95 && ratio < 1.05, `measured ${measured}, expected ${expected}`);
    if (noising === 3) {
      // Exactly t − c noised: the central σ the guarantee assumes.
      assert(Math.abs(measured / plan.sigma - 1) < 0.05);
    }
  });
}

Deno.test("rationalAtLeast rounds up to a short fraction, exactly", () => {
  assertEquals(rationalAtLeast(2.5), { num: 5n, den: 2n });
  const r = rationalAtLeast(1 / 3); // 342/1024 = 171/512
  assertEquals(r, { num: 171n, den: 512n });
  assert(171 / 512 >= 1 / 3 && 341 / 1024 < 1 / 3);
  assertEquals(rationalAtLeast(0.1, 0), { num: 1n, den: 1n });
  assertEquals(rationalAtLeast(2 ** 60, 10).num, 2n ** 60n);
  assertThrows(() => rationalAtLeast(-1), RangeError);
  assertThrows(() => rationalAtLeast(1, 53), RangeError);
});
