/**
 * The budget (protocol/dp/budget.ts): R rounds of a plan made for R rounds spend the roster's ε
 * (the planner's own figure, itself checked against SciPy in accountant_test.ts) and fit, the
 * R + 1st does not; updates in flight count against what is left; the refusal says what is left.
 */
import { assert, assertEquals, assertMatch } from "../../_assert.ts";
import { createRoster } from "../../../protocol/federation/roster.ts";
import { budgetRefusal, dpSpend } from "../../../protocol/dp/budget.ts";
import { zcdpToEpsilon } from "../../../protocol/dp/accountant.ts";
import { labelledRng } from "../../../protocol/crypto/random.ts";

function dpOf(rounds: number) {
  const rng = labelledRng("dp-budget-test");
  return createRoster({
    federation: "b",
    members: Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, signingKey: rng(32) })),
    dim: 100,
    dp: { epsilon: 2, delta: 1e-6, rounds, clip: 1, bits: 32, corrupt: 0 },
  }).dp!;
}

Deno.test("dp budget: R rounds fit and spend ε, round R + 1 does not", () => {
  for (const rounds of [1, 7, 100]) {
    const dp = dpOf(rounds);
    let rho = 0;
    for (let k = 0; k < rounds; k++) {
      assertEquals(budgetRefusal(dp, rho, k, 0), undefined, `round ${k + 1} of ${rounds}`);
      rho += dp.rhoPerRound;
    }
    const spend = dpSpend(dp, rho, rounds);
    assertEquals(spend.roundsLeft, 0);
    assert(spend.epsilonSpent <= 2 * (1 + 1e-9) && spend.epsilonSpent > 2 * (1 - 1e-6));
    assertEquals(spend.epsilonSpent, zcdpToEpsilon(rho, 1e-6));
    const why = budgetRefusal(dp, rho, rounds, 0);
    assert(why !== undefined);
    assertMatch(why, new RegExp(`has 0 round\\(s\\) left.*${rounds} round\\(s\\) charged`));
  }
  assertEquals(dpSpend(dpOf(3), 0, 0).epsilonSpent, 0);
  assertEquals(dpSpend(dpOf(3), 0, 0).roundsLeft, 3);
});

Deno.test("dp budget: updates in flight take their rounds from what is left", () => {
  const dp = dpOf(3);
  assertEquals(budgetRefusal(dp, dp.rhoPerRound, 1, 1), undefined); // 1 charged, 1 in flight
  const why = budgetRefusal(dp, dp.rhoPerRound, 1, 2);
  assert(why !== undefined);
  assertMatch(why, /has 2 round\(s\) left, 2 of them taken by updates in flight/);
});
