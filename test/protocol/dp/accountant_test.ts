/**
 * The accountant (protocol/dp/accountant.ts) and the planner (protocol/dp/plan.ts) against
 * independent SciPy computations (`reference.py`: τ and ρ of DDGauss Proposition 14 re-typed
 * from the paper; the CKS conversion solved in its δ form with brentq, where the TypeScript
 * minimizes the ε form), to 1e-6 relative; the conversion never worse than the classical
 * ρ + 2√(ρ ln(1/δ)) (Bun–Steinke 2016, Proposition 1.3); the plan's privacy recomputed from its σ.
 */
import {
  composeRho,
  ddgaussRho,
  type DdgaussRound,
  epsilonToRho,
  sumTau,
  zcdpToEpsilon,
} from "../../../protocol/dp/accountant.ts";
import {
  type DpPlanSettings,
  MAX_CLIP_STEPS,
  planDistributedDp,
  WRAP_WARNING_LEVEL,
} from "../../../protocol/dp/plan.ts";
import { ConfigError } from "../../../protocol/errors.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "../../_assert.ts";
import { Batch, SCIPY } from "./_python.ts";

const REL = 1e-6;

function relClose(actual: number, expected: number, what: string, rel = REL) {
  assert(
    Math.abs(actual - expected) <= rel * Math.abs(expected),
    `${what}: ${actual} vs ${expected} (relative ${Math.abs(actual - expected) / expected})`,
  );
}

const batch = new Batch();

const ROUNDS: DdgaussRound[] = [
  { l2Bound: 428.7, localStd: 2663.4, noisyMembers: 7, dim: 131072 }, // τ ≈ 0
  { l2Bound: 10, localStd: 0.5, noisyMembers: 5, dim: 100 }, // σ = ½: τ large, second term
  { l2Bound: 3, localStd: 0.6, noisyMembers: 50, dim: 16 },
  { l2Bound: 30, localStd: 0.8, noisyMembers: 10, dim: 1000 },
  { l2Bound: 1, localStd: 1, noisyMembers: 1, dim: 1 }, // one member: τ = 0, plain dgauss
  { l2Bound: 5, localStd: 0.55, noisyMembers: 1000, dim: 2 },
  // Many members at small σ: τ's tail is bounded in closed form past 2^16 terms.
  { l2Bound: 5, localStd: 0.5, noisyMembers: 3_000_000, dim: 4 },
  { l2Bound: 40, localStd: 1.1, noisyMembers: 200_000, dim: 64 },
  { l2Bound: 40, localStd: 2.3, noisyMembers: 70_000, dim: 1 << 17 },
];
const rhoIndex = batch.add({
  op: "ddgauss_rho",
  cases: ROUNDS.map((r) => [r.l2Bound, r.localStd, r.noisyMembers, r.dim]),
});

Deno.test({
  name: "ddgaussRho and τ match DDGauss Proposition 14 computed in NumPy, to 1e-6",
  ignore: !SCIPY.available,
  fn: async () => {
    const r = await batch.result<{ tau: number; rho: number }[]>(rhoIndex);
    ROUNDS.forEach((round, i) => {
      const ours = ddgaussRho(round);
      if (r[i].tau === 0) assertEquals(ours.tau, 0);
      else relClose(ours.tau, r[i].tau, `τ ${JSON.stringify(round)}`);
      relClose(ours.rho, r[i].rho, `ρ ${JSON.stringify(round)}`);
    });
  },
});

Deno.test("ddgaussRho: the continuous Gaussian's ρ when τ vanishes, more when it does not", () => {
  const plain = ddgaussRho({ l2Bound: 10, localStd: 20, noisyMembers: 4, dim: 1000 });
  assertEquals(plain.tau, 0); // exp(−2π²·400·k/(k+1)) underflows
  relClose(plain.rho, 100 / (2 * 4 * 400), "ρ = Δ²/(2nσ²)", 1e-15);
  const small = ddgaussRho({ l2Bound: 10, localStd: 0.5, noisyMembers: 4, dim: 1000 });
  assert(small.tau > 0 && small.rho > 100 / (2 * 4 * 0.25));
  assertEquals(sumTau(1, 1), 0);
  relClose(
    sumTau(0.25, 3),
    10 * (Math.exp(-(Math.PI ** 2) / 4) + Math.exp(-(Math.PI ** 2) / 3)),
    "τ",
  );
  assertThrows(
    () => ddgaussRho({ l2Bound: 1, localStd: 0.49, noisyMembers: 2, dim: 1 }),
    RangeError,
  );
  assertThrows(() => ddgaussRho({ l2Bound: 0, localStd: 1, noisyMembers: 2, dim: 1 }), RangeError);
  assertThrows(() => ddgaussRho({ l2Bound: 1, localStd: 1, noisyMembers: 0, dim: 1 }), RangeError);
  assertEquals(composeRho(0.25, 8), 2);
  assertThrows(() => composeRho(0.1, 1.5), RangeError);
});

Deno.test("sumTau stops early and bounds its tail: bounded work, never below the full sum", () => {
  // The full sum, term by term (the definition), for comparison.
  const full = (v: number, n: number) => {
    let s = 0;
    for (let k = 1; k < n; k++) s += Math.exp(-2 * Math.PI * Math.PI * v * (k / (k + 1)));
    return 10 * s;
  };
  const exp = Math.exp;
  let calls = 0;
  const counted = (v: number, n: number) => {
    calls = 0;
    Math.exp = (x: number) => {
      calls++;
      return exp(x);
    };
    try {
      return sumTau(v, n);
    } finally {
      Math.exp = exp;
    }
  };
  // Large σ (a plan's σ in steps): the terms underflow at once, whatever n.
  assertEquals(counted(16000, 10_000_000), 0);
  assert(calls <= 4, `${calls} exp calls for σ² = 16000`);
  relClose(counted(9, 10_000_000), full(9, 10_000_000), "τ at σ = 3", 1e-12);
  assert(calls <= 100, `${calls} exp calls for σ = 3`);
  // Small σ: the terms tend to exp(−2π²σ²) > 0; at most 2^16 of them are summed one by one.
  for (const [v, n] of [[0.25, 1_000_000], [1, 3_000_000], [2, 500_000], [4, 200_000]]) {
    const ours = counted(v, n);
    assert(calls <= 2 * 65536 + 4, `${calls} exp calls for σ² = ${v}, n = ${n}`);
    const exact = full(v, n);
    assert(ours >= exact * (1 - 1e-12), `σ² = ${v}, n = ${n}: ${ours} under-counts ${exact}`);
    relClose(ours, exact, `τ(σ² = ${v}, n = ${n})`, 2e-7);
  }
  // Small n: the plain sum.
  assertEquals(sumTau(0.25, 3), full(0.25, 3));
});

// A second, independent opinion on ρ: Google's per-order RDP bound for the distributed discrete
// Gaussian (google-research/federated, distributed_dp/accounting_utils.py, compute_rdp_dgaussian),
// re-typed in reference.py. ρ-zCDP claims D_α ≤ αρ; Google's eps(α) bounds D_α at integer orders,
// so αρ ≥ eps(α) for α = 2..256 must hold for every round we would report (and with τ = 0 the two
// coincide: ratio 1).
const googleCases = () => [
  ...ROUNDS.map((r) => [r.l2Bound, r.localStd, r.noisyMembers, r.dim, ddgaussRho(r).rho]),
  ...planIndexes.map(({ plan, settings }) => [
    plan.l2Bound,
    plan.localStdSteps,
    settings.threshold - settings.corrupt,
    plan.paddedDim,
    plan.rhoPerRound,
  ]),
];

const CONVERSIONS: [number, number][] = [
  [0.1, 1e-6],
  [1, 1e-5],
  [0.001, 1e-10],
  [10, 1e-6],
  [0.185, 1e-6],
  [2, 1e-10],
  [1e-6, 1e-3],
  [50, 0.01],
];
const epsIndex = batch.add({ op: "zcdp_epsilon", cases: CONVERSIONS });
const INVERSES: [number, number][] = [[3, 1e-6], [1, 1e-5], [8, 1e-10], [0.5, 1e-6], [20, 1e-3]];
const rhoFromEpsIndex = batch.add({ op: "epsilon_to_rho", cases: INVERSES });

Deno.test({
  name: "zCDP → (ε, δ) matches the CKS conversion solved in SciPy, to 1e-6",
  ignore: !SCIPY.available,
  fn: async () => {
    const r = await batch.result<number[]>(epsIndex);
    CONVERSIONS.forEach(([rho, delta], i) => {
      const eps = zcdpToEpsilon(rho, delta);
      relClose(eps, r[i], `ε(ρ = ${rho}, δ = ${delta})`);
      // Never worse than the classical conversion (Bun–Steinke Proposition 1.3).
      assert(eps <= rho + 2 * Math.sqrt(rho * Math.log(1 / delta)) + 1e-12);
    });
  },
});

Deno.test({
  name: "(ε, δ) → ρ, the inverse, matches SciPy's brentq, to 1e-6, and round-trips",
  ignore: !SCIPY.available,
  fn: async () => {
    const r = await batch.result<number[]>(rhoFromEpsIndex);
    INVERSES.forEach(([eps, delta], i) => {
      const rho = epsilonToRho(eps, delta);
      relClose(rho, r[i], `ρ(ε = ${eps}, δ = ${delta})`);
      assert(zcdpToEpsilon(rho, delta) <= eps);
      relClose(zcdpToEpsilon(rho, delta), eps, "round trip", 1e-9);
    });
  },
});

Deno.test("conversion refusals and edges", () => {
  assertEquals(zcdpToEpsilon(0, 1e-6), 0);
  assertThrows(() => zcdpToEpsilon(-1, 1e-6), RangeError);
  assertThrows(() => zcdpToEpsilon(1, 0), RangeError);
  assertThrows(() => zcdpToEpsilon(1, 1), RangeError);
  assertThrows(() => epsilonToRho(0, 1e-6), RangeError);
  assertThrows(() => epsilonToRho(Infinity, 1e-6), RangeError);
  // ε grows with ρ.
  assert(zcdpToEpsilon(0.2, 1e-6) < zcdpToEpsilon(0.21, 1e-6));
});

const PLANS: DpPlanSettings[] = [
  // The example, at 16 bits and at the protocol's 32-bit words.
  {
    epsilon: 3,
    delta: 1e-6,
    rounds: 100,
    clip: 1,
    members: 10,
    threshold: 7,
    corrupt: 0,
    dim: 100000,
    bits: 16,
    beta: Math.exp(-0.5),
    modclipProb: 1e-4,
  },
  {
    epsilon: 3,
    delta: 1e-6,
    rounds: 100,
    clip: 1,
    members: 10,
    threshold: 7,
    corrupt: 2,
    dim: 100000,
    bits: 32,
    beta: 0,
    modclipProb: 1e-4,
  },
  // Few bits and a small dimension: τ and rounding matter.
  {
    epsilon: 8,
    delta: 1e-5,
    rounds: 20,
    clip: 0.5,
    members: 50,
    threshold: 34,
    corrupt: 5,
    dim: 64,
    bits: 10,
    beta: Math.exp(-0.5),
    modclipProb: 1e-3,
  },
];
const planIndexes = PLANS.map((settings) => {
  const plan = planDistributedDp(settings);
  return { settings, plan, index: batch.add({ op: "plan_check", settings, plan }) };
});

const googleIndex = batch.add({ op: "google_rdp_check", cases: googleCases() });

Deno.test({
  name: "αρ covers Google's per-order RDP of the distributed discrete Gaussian, α = 2..256",
  ignore: !SCIPY.available,
  fn: async () => {
    const cases = googleCases();
    const r = await batch.result<{ ratio: number; order: number; tau: number }[]>(googleIndex);
    assertEquals(r.length, cases.length);
    r.forEach(({ ratio, order, tau }, i) => {
      const what = `case ${JSON.stringify(cases[i])}`;
      assert(ratio >= 1 - 1e-12, `${what}: αρ/eps(α) = ${ratio} at α = ${order}`);
      // Where τ vanishes the bounds coincide: ρ is not looser than Google's either.
      if (tau === 0) relClose(ratio, 1, `${what}: ratio with τ = 0`, 1e-12);
    });
    // Both kinds of case are present: τ > 0 (small σ) and τ = 0 (a plan's σ).
    assert(r.some((x) => x.tau > 0) && r.some((x) => x.tau === 0));
  },
});

Deno.test({
  name: "a plan's privacy, recomputed in SciPy from its σ, fits the budget and is tight",
  ignore: !SCIPY.available,
  fn: async () => {
    for (const { settings, plan, index } of planIndexes) {
      const r = await batch.result<Record<string, number>>(index);
      const what = `plan ${JSON.stringify(settings)}`;
      assertEquals(plan.paddedDim, r.paddedDim);
      relClose(plan.localStd, r.localStd, `${what}: σ_ℓ`);
      relClose(plan.gamma, r.gamma, `${what}: γ`);
      relClose(plan.l2Bound, r.l2Bound, `${what}: Δ₂`);
      relClose(plan.rhoPerRound, r.rhoPerRound, `${what}: ρ per round`);
      relClose(plan.rhoBudget, r.rhoBudget, `${what}: ρ budget`);
      relClose(plan.epsilonSpent, r.epsilon, `${what}: ε spent`);
      relClose(plan.bitsCheck.modclipPerCoordinate, r.modclip, `${what}: wrap probability`);
      // It fits, and barely: the smallest σ that fits, so the budget is spent to 1e-6.
      assert(r.rhoPerRound * settings.rounds <= r.rhoBudget * (1 + 1e-9), `${what}: over budget`);
      assert(r.epsilon <= settings.epsilon * (1 + 1e-9));
      relClose(r.epsilon, settings.epsilon, `${what}: budget left unused`);
    }
  },
});

Deno.test("plan: the noise split over t − c members, the error and the word checks", () => {
  const { plan, settings } = planIndexes[1];
  relClose(plan.localStd, plan.sigma / Math.sqrt(settings.threshold - settings.corrupt), "σ_ℓ");
  relClose(plan.noiseStd.max, plan.sigma * Math.sqrt(10 / 5), "all ten noised");
  assert(plan.errorStd >= plan.noiseStd.max && plan.meanErrorStd === plan.errorStd / 10);
  // At 32 bits the heuristic's γ is finer than the cap allows: the wraps are rarer than p.
  assert(plan.gamma === settings.clip / MAX_CLIP_STEPS);
  assert(plan.bitsCheck.modclipPerCoordinate < 1e-4);
  assert(plan.l2Bound ** 2 < 2 ** 53, "the rounding's norm check must stay exact");
  const sixteen = planIndexes[0].plan;
  relClose(sixteen.bitsCheck.modclipPerCoordinate, 1e-4, "at 16 bits the wraps are at p", 1e-9);
  // More withholding members need more noise from each, and more central noise in the worst case.
  const fewer = planDistributedDp({ ...settings, corrupt: 0 });
  assert(plan.localStd > fewer.localStd);
  // A bigger budget needs less noise.
  assert(planDistributedDp({ ...settings, epsilon: 8 }).sigma < plan.sigma);
});

Deno.test("plan refuses bad settings and budgets the bits cannot meet, naming the setting", () => {
  const base = PLANS[0];
  const refused = (patch: Partial<DpPlanSettings>, setting: string) => {
    const err = assertThrows(() => planDistributedDp({ ...base, ...patch }), ConfigError);
    assertEquals((err as ConfigError).setting, setting);
  };
  refused({ epsilon: 0 }, "epsilon");
  refused({ epsilon: NaN }, "epsilon");
  refused({ delta: 1 }, "delta");
  refused({ delta: 0 }, "delta");
  refused({ rounds: 0 }, "rounds");
  refused({ rounds: 2.5 }, "rounds");
  refused({ clip: -1 }, "clip");
  refused({ members: 0 }, "members");
  refused({ threshold: 11 }, "threshold");
  refused({ corrupt: 7 }, "corrupt");
  refused({ dim: 0 }, "dim");
  refused({ bits: 33 }, "bits");
  refused({ bits: 3 }, "bits"); // 2^3 < 10 members
  refused({ bits: 5, modclipProb: 1e-9 }, "bits"); // 4^5 ≤ n·k²
  refused({ beta: 1 }, "beta");
  refused({ modclipProb: 1 }, "modclipProb");
  // A tiny budget over many rounds at 8 bits: the rounding alone costs more than allowed.
  refused({ epsilon: 0.01, rounds: 10000, bits: 8, dim: 1 << 20 }, "bits");
});

Deno.test("plan: extreme clips and budgets are planned or refused naming the real cause", () => {
  const base = { ...PLANS[0], bits: 32 };
  const refusal = (patch: Partial<DpPlanSettings>) => {
    const err = assertThrows(() => planDistributedDp({ ...base, ...patch }), ConfigError);
    return err as ConfigError;
  };
  // The plan is homogeneous in the clip: σ and γ scale with it, the steps and ρ do not, even
  // where c² or c·n would overflow (1e160) and where σ nearly does (1e300).
  const unit = planDistributedDp(base);
  for (const clip of [1e-300, 1e-20, 1e160, 1e300]) {
    const p = planDistributedDp({ ...base, clip });
    relClose(p.sigma, unit.sigma * clip, `σ at clip ${clip}`, 1e-12);
    relClose(p.gamma, unit.gamma * clip, `γ at clip ${clip}`, 1e-12);
    assertEquals(p.rhoPerRound, unit.rhoPerRound);
    assert(Number.isFinite(p.errorStd), `error std at clip ${clip}`);
  }
  // The noise itself would overflow: refused naming the clip, not the bits.
  assertEquals(refusal({ clip: 1e308 }).setting, "clip");
  // γ would underflow to 0.
  assertEquals(refusal({ clip: 1e-320 }).setting, "clip");
  // ε near the float64 maximum: the bisection's midpoint must not overflow.
  const loose = planDistributedDp({ ...base, epsilon: 1e308 });
  assert(loose.epsilonSpent <= 1e308 && loose.localStdSteps >= 0.5);
  relClose(epsilonToRho(1.7e308, 0.9), 1.7e308, "ρ(ε = 1.7e308)", 1e-9);
  // δ below 1/MAX_VALUE: ln(1/δ) must not overflow into a zero budget.
  const tiny = planDistributedDp({ ...base, delta: 1e-320 });
  assert(tiny.rhoBudget > 0 && tiny.epsilonSpent <= 3);
  assert(epsilonToRho(3, 5e-324) > 0);
  // A budget whose ρ per round underflows: refused naming ε, not the bits.
  const zero = refusal({ epsilon: 1e-300, delta: 1e-300 });
  assertEquals(zero.setting, "epsilon");
  assertMatch(zero.message, /underflows/);
});

Deno.test("plan: warns when some coordinate of a round's sum is likely to wrap", () => {
  const settings: DpPlanSettings = { ...PLANS[0], bits: 32, epsilon: 1 };
  // γ is not capped here (more noise than the example), so each of the D = 131072
  // coordinates wraps with probability p = 10^−4: about 13 per round.
  const plan = planDistributedDp(settings);
  assert(plan.gamma > settings.clip / MAX_CLIP_STEPS);
  relClose(plan.bitsCheck.modclipPerCoordinate, 1e-4, "per coordinate", 1e-9);
  assertEquals(plan.bitsCheck.modclipAnyCoordinate, 1);
  assertEquals(plan.warnings.length, 1);
  const [w] = plan.warnings;
  assertEquals(w.setting, "modclipProb");
  assert(w.suggested <= WRAP_WARNING_LEVEL / plan.paddedDim && w.suggested > 0.9e-2 / 131072);
  assertMatch(w.message, /about 13\.1 coordinates per round/);
  // The suggestion removes it; the example (γ capped, wraps far below p) has none.
  const fixed = planDistributedDp({ ...settings, modclipProb: w.suggested });
  assert(fixed.bitsCheck.modclipAnyCoordinate <= WRAP_WARNING_LEVEL);
  assertEquals(fixed.warnings, []);
  assertEquals(planDistributedDp({ ...settings, epsilon: 3 }).warnings, []);
});
