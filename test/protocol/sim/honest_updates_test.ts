/**
 * The honest-update model of simulations under attack (`protocol/sim/honest_updates.ts`): a
 * shared direction plus per-member heterogeneity of a stated spread H; the default reproduces the
 * simulator's original draws bit for bit; `iid` has no shared direction; and the spread is what
 * moves a robust rule's error while the plain mean's error under a sign flip stays put.
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { labelledRng } from "../../../protocol/crypto/mod.ts";
import {
  DEFAULT_SPREAD,
  defaultAttack,
  GaussianSource,
  honestUpdates,
  simulate,
} from "../../../protocol/sim/mod.ts";

const gauss = () => new GaussianSource(labelledRng("test", "honest-updates"));
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

Deno.test("honest updates: the default spread is the simulator's original model, bit for bit", () => {
  const n = 6, d = 50, clip = 1.5;
  const got = honestUpdates(n, d, clip, DEFAULT_SPREAD, gauss());
  // The original inline model: μ ~ 0.25·c·N(0,1)^d, then u_i = μ + 0.125·c·N(0,1)^d per member.
  const g = gauss();
  const mu = Float64Array.from({ length: d }, () => 0.25 * clip * g.next());
  const want = Array.from({ length: n }, () => mu.map((m) => m + 0.125 * clip * g.next()));
  assertEquals(got, want);
});

Deno.test("honest updates: spread H is the per-member noise over the shared direction", () => {
  const n = 40, d = 4000;
  for (const h of [0, 0.1, 0.5, 2]) {
    const u = honestUpdates(n, d, 1, h, gauss());
    const mean = new Float64Array(d);
    for (const v of u) v.forEach((x, j) => (mean[j] += x / n));
    const spread = u.map((v) => norm(v.map((x, j) => x - mean[j]))).reduce((a, b) => a + b) / n;
    const measured = spread / norm(mean);
    // ‖u_i − ū‖ ≈ H·√(1 − 1/n)·‖μ‖ and ‖ū‖ ≈ ‖μ‖·√(1 + H²/n): within a few percent at d = 4000.
    const expected = h * Math.sqrt(1 - 1 / n) / Math.sqrt(1 + (h * h) / n);
    assert(Math.abs(measured - expected) <= 0.05 * Math.max(expected, 0.02), `H ${h}: ${measured}`);
    // The per-coordinate scale does not depend on H (so clipping bites equally).
    const rms = Math.sqrt(u.flatMap((v) => Array.from(v)).reduce((s, x) => s + x * x, 0) / (n * d));
    assert(Math.abs(rms - 0.25 * Math.sqrt(1.25)) < 0.01, `H ${h}: rms ${rms}`);
  }
  // iid: no shared direction; the mean of n members is noise of size ~1/√n of a member's.
  const u = honestUpdates(n, d, 1, Infinity, gauss());
  const mean = new Float64Array(d);
  for (const v of u) v.forEach((x, j) => (mean[j] += x / n));
  assert(Math.abs(norm(mean) / norm(u[0]) - 1 / Math.sqrt(n)) < 0.02);
  assertThrows(() => honestUpdates(2, 2, 1, -1, gauss()), RangeError);
  assertThrows(() => honestUpdates(2, 2, 1, NaN, gauss()), RangeError);
  assertThrows(() => honestUpdates(2, 2, 0, 0.5, gauss()), RangeError);
});

Deno.test("sim: the spread moves the robust rule's error under a sign flip, not plain averaging's", async () => {
  const run = (spread: number) =>
    simulate({
      nodes: 15,
      dim: 400,
      dropout: 0,
      dropStage: "share",
      graph: "complete",
      seed: 7,
      pq: false,
      rounds: 1,
      groups: { count: 15, minGroups: 15, allowSmallGroups: true },
      robust: { kind: "median", normFilter: { tau: 2 } },
      byzantine: 7,
      attack: defaultAttack("signflip"),
      spread,
    }).then((r) => r.rounds[0]);
  const wide = await run(0.5);
  const narrow = await run(0.05);
  for (const r of [wide, narrow]) assert(r.exact && r.verified, r.failure);
  // The plain mean's error is set by the attackers' weight, not by the spread.
  assert(Math.abs(wide.plainError! - narrow.plainError!) < 0.1 * wide.plainError!);
  // The rule's error is its own estimation error among the honest groups: proportional to H.
  assert(
    narrow.robustError! < wide.robustError! / 5,
    `${narrow.robustError} vs ${wide.robustError}`,
  );
  assert(narrow.robustError! <= narrow.plainError! / 10);
});
