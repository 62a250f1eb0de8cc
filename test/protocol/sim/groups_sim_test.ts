/**
 * The simulator with group-wise aggregation (`protocol/sim/simulation.ts`, `--groups`): every
 * round exact per group and verified, a group whose survivors fall below its minimum reported
 * as left out, and the `onGroups` hook handed each round's verified group sums (where a robust
 * rule is wired in).
 */
import { assert, assertEquals } from "../../_assert.ts";
import type { CertifiedGroupSums } from "../../../protocol/certificate/group_sums.ts";
import { simulate } from "../../../protocol/sim/mod.ts";

Deno.test("sim: groups are exact per group, left-out groups are named, the hook gets the sums", async () => {
  const seen: [number, CertifiedGroupSums][] = [];
  const report = await simulate({
    nodes: 12,
    dim: 40,
    dropout: 0.25,
    dropStage: "share",
    graph: "complete",
    seed: 5,
    pq: false,
    rounds: 3,
    groups: { count: 3, minGroupSize: 3, allowSmallGroups: true },
    onGroups: (round, groups) => seen.push([round, groups]),
  });
  assertEquals(report.graph, "groups(g=3, minGroupSize=3, minGroups=2)");
  assertEquals(seen.map(([r]) => r), [0, 1, 2]);
  let leftOut = 0;
  for (const [i, r] of report.rounds.entries()) {
    assert(r.exact && r.verified, `round ${r.round}: ${r.failure}`);
    const groups = r.groups!;
    assertEquals(groups.length, 3);
    const included = groups.filter((g) => g.included);
    assertEquals(r.bodyBytes, 4 * 41 * (1 + included.length));
    assertEquals(included.flatMap((g) => g.members).sort(), [...r.members].sort());
    assertEquals(
      seen[i][1].included.map((g) => [g.group, g.weight]),
      included.map((g) => [g.group, g.weight]),
    );
    leftOut += groups.length - included.length;
  }
  // With 3 of 12 members dropped each round, some group falls below 3 inputs in some round.
  assert(leftOut > 0, "no group was left out in any round: the test does not exercise it");
});
