/**
 * The simulator under attack with a robust rule (`protocol/sim/simulation.ts`, `--byzantine K
 * --attack A --robust RULE`): Byzantine members follow the protocol and sit in distinct groups,
 * every round stays exact and verified (the robust result recomputed offline), and the report
 * gives `plainError`, `robustError` and the groups the rule discarded.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { createRoster } from "../../../protocol/federation/roster.ts";
import { roundGroups } from "../../../protocol/federation/round_groups.ts";
import {
  byzantineMembers,
  defaultAttack,
  simulate,
  simulatedFederation,
} from "../../../protocol/sim/mod.ts";

const OPTIONS = {
  nodes: 20,
  dim: 64,
  dropout: 0,
  dropStage: "share",
  graph: "complete",
  seed: 3,
  pq: false,
  rounds: 2,
  groups: { count: 5, minGroups: 5 },
} as const;

Deno.test("sim: Byzantine members sit in distinct groups of the round's partition", async () => {
  const { roster } = await simulatedFederation({ ...OPTIONS, groups: { count: 5 } });
  for (const round of [0, 1, 2]) {
    const rg = roundGroups(roster, round)!;
    const bad = byzantineMembers(roster, round, 3);
    assertEquals(bad.length, 3);
    assertEquals(new Set(bad.map((i) => rg.partition.groupOf(i))).size, 3);
    // More attackers than groups: a second one per group only after every group has one.
    const many = byzantineMembers(roster, round, 7);
    const perGroup = rg.partition.groups.map((g) => g.filter((i) => many.includes(i)).length);
    assertEquals(perGroup.sort(), [1, 1, 1, 2, 2]);
  }
  const plain = createRoster({ ...roster, clip: 1, maxWeight: 100, groups: undefined });
  assertEquals(byzantineMembers(plain, 0, 2), [0, 1]);
});

Deno.test("sim: under a sign-flip attack the median stays exact, verified and closer to the honest mean", async () => {
  const report = await simulate({
    ...OPTIONS,
    byzantine: 2,
    attack: defaultAttack("signflip"),
    robust: { kind: "median", normFilter: { tau: 2 } },
  });
  for (const r of report.rounds) {
    assert(r.exact && r.verified, `round ${r.round}: ${r.failure} ${r.refusals.join("; ")}`);
    assertEquals(r.byzantine?.length, 2);
    assertEquals(r.robust?.rule, "median after norm filter τ=2");
    assert(r.plainError! > 0 && r.robustError! > 0);
    assert(
      r.robustError! < r.plainError!,
      `round ${r.round}: robust ${r.robustError} vs plain ${r.plainError}`,
    );
    assertEquals(
      [...r.robust!.kept, ...r.robust!.discarded].sort((a, b) => a - b),
      [0, 1, 2, 3, 4],
    );
  }
  // Without an attack nothing is poisoned: the plain mean is the honest mean up to quantization.
  const calm = await simulate({
    ...OPTIONS,
    rounds: 1,
    attack: defaultAttack("scale"),
    robust: { kind: "median" },
  });
  const r = calm.rounds[0];
  assert(r.exact && r.verified);
  assertEquals(r.byzantine, []);
  assert(r.plainError! < 1e-3, `plainError ${r.plainError}`);
});
