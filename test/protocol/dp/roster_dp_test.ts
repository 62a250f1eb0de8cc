/**
 * A roster's DP settings (protocol/dp/parameters.ts, protocol/federation/roster.ts): the derived
 * parameters are the planner's for the roster's n, t and d; weights are fixed at 1; every
 * setting and the derived γ and variance are bound into the hash; refusals name `dp.<setting>`;
 * amendments keep the DP section (re-planned for the new member count).
 */
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { ConfigError } from "../../../protocol/errors.ts";
import {
  createRoster,
  type Member,
  type RosterSettings,
  vectorLength,
} from "../../../protocol/federation/roster.ts";
import { applyAmendment } from "../../../protocol/federation/amendment.ts";
import { DP_PLAN_DEFAULTS, planDistributedDp } from "../../../protocol/dp/plan.ts";
import type { DpSettings } from "../../../protocol/dp/parameters.ts";
import { labelledRng } from "../../../protocol/crypto/random.ts";

function members(n: number): Member[] {
  const rng = labelledRng("dp-roster-test", "members");
  return Array.from({ length: n }, (_, i) => ({
    id: `m-${String(i).padStart(3, "0")}`,
    signingKey: rng(32),
  }));
}

const DP: DpSettings = { epsilon: 3, delta: 1e-6, rounds: 100, clip: 1, bits: 32, corrupt: 1 };

function settings(dp: Partial<DpSettings> = {}, extra: Partial<RosterSettings> = {}) {
  return { federation: "fed", members: members(10), dim: 1000, ...extra, dp: { ...DP, ...dp } };
}

function setting(fn: () => unknown): string {
  return (assertThrows(fn, ConfigError) as ConfigError).setting;
}

Deno.test("dp roster: the parameters are the planner's for the roster's n, t and d", () => {
  const r = createRoster(settings());
  const plan = planDistributedDp({
    ...DP_PLAN_DEFAULTS,
    ...DP,
    members: 10,
    threshold: r.threshold,
    dim: 1000,
  });
  assert(r.dp !== undefined);
  assertEquals(r.dp.mechanism, "ddgauss");
  assertEquals(r.dp.sigma, plan.sigma);
  assertEquals(r.dp.gamma, plan.gamma);
  assertEquals(r.dp.paddedDim, 1024);
  assertEquals(r.dp.threshold, 7);
  assertEquals(r.dp.beta, DP_PLAN_DEFAULTS.beta);
  assertEquals(r.dp.modclipProb, DP_PLAN_DEFAULTS.modclipProb);
  assertEquals(r.quantization.maxWeight, 1);
  // The sampler's variance is an exact rational at least (σ_ℓ/γ)², within 2^−10 of it.
  const v = Number(r.dp.localVariance.num) / Number(r.dp.localVariance.den);
  assert(v >= plan.localStdSteps ** 2 && v - plan.localStdSteps ** 2 <= 2 ** -10);
  // A member sends D + 1 words (the weight last), d + 1 without DP.
  assertEquals(vectorLength(r), 1025);
  const { dp: _, ...plain } = settings();
  assertEquals(vectorLength(createRoster(plain)), 1001);
});

Deno.test("dp roster: weights other than 1 are refused (maxWeight), with why", () => {
  const err = assertThrows(
    () => createRoster(settings({}, { maxWeight: 10 })),
    ConfigError,
  ) as ConfigError;
  assertEquals(err.setting, "maxWeight");
  assert(err.message.includes("sensitivity"));
});

Deno.test("dp roster: refusals name the DP setting", () => {
  const { corrupt: _, ...noCorrupt } = DP;
  assertEquals(
    setting(() => createRoster({ ...settings(), dp: noCorrupt as DpSettings })),
    "dp.corrupt",
  );
  assertEquals(setting(() => createRoster(settings({ corrupt: 7 }))), "dp.corrupt"); // c ≥ t
  assertEquals(setting(() => createRoster(settings({ epsilon: -1 }))), "dp.epsilon");
  assertEquals(setting(() => createRoster(settings({ delta: 2 }))), "dp.delta");
  assertEquals(setting(() => createRoster(settings({ bits: 40 }))), "dp.bits");
  assertEquals(setting(() => createRoster(settings({ bits: 2 }))), "dp.bits"); // 2^b < n
  assertEquals(
    setting(() => createRoster(settings({ epsilon: "3" as unknown as number }))),
    "dp.epsilon",
  );
  assertEquals(
    setting(() => createRoster({ ...settings(), dp: null as unknown as DpSettings })),
    "dp",
  );
});

Deno.test("dp roster: the hash binds every DP setting; a roster without DP keeps its hash", () => {
  const hash = (s: RosterSettings) => toHex(createRoster(s).hash);
  const base = hash(settings());
  const { dp: _, ...plain } = settings();
  assertNotEquals(hash(plain), base);
  for (
    const change of [
      { epsilon: 3.5 },
      { delta: 1e-7 },
      { rounds: 99 },
      { clip: 2 },
      { bits: 31 },
      { corrupt: 0 },
      { beta: 0.5 },
      { modclipProb: 1e-6 },
    ]
  ) {
    assertNotEquals(hash(settings(change)), base, JSON.stringify(change));
  }
  assertEquals(hash(settings()), base);
  // A DpParameters given back as settings yields the same roster (amendments rely on it).
  const r = createRoster(settings());
  assertEquals(toHex(createRoster({ ...settings(), dp: r.dp }).hash), base);
});

Deno.test("dp roster: an amendment keeps the DP section and re-plans it for the new n", () => {
  const r = createRoster(settings());
  const next = applyAmendment(r, { changes: [{ kind: "remove", id: r.members[0].id }] });
  assert(next.dp !== undefined);
  assertEquals(next.dp.epsilon, 3);
  assertEquals(next.dp.corrupt, 1);
  const again = createRoster({ ...settings(), members: r.members.slice(1) });
  assertEquals(next.dp.sigma, again.dp!.sigma);
  assertEquals(next.dp, again.dp);
});

Deno.test("dp roster: DP together with group-wise aggregation is refused as not supported yet", () => {
  // Each group sum would need the full noise on its own; until that is built the pair is refused,
  // naming `dp`, rather than publishing group sums with a fraction of the planned noise.
  assertEquals(setting(() => createRoster(settings({}, { groups: { count: 2 } }))), "dp");
  assert(createRoster(settings()).dp !== undefined);
});
