/**
 * The robust table's oracle (scripts/robust_oracle.ts): hand-worked means, the unpoisoned members,
 * refusals, and the redraw of a simulated round's honest inputs against the simulator's own
 * robustError (which catches any drift between the redraw and `protocol/sim/simulation.ts`).
 */
import {
  oracleReference,
  relativeError,
  simulatedHonestInputs,
  unpoisonedMembers,
  weightBlindOracle,
  weightedClippedMean,
} from "../../scripts/robust_oracle.ts";
import { simulate } from "../../protocol/sim/mod.ts";
import type { CertifiedGroupSums } from "../../protocol/certificate/group_sums.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";

Deno.test("weightedClippedMean: clips each coordinate, then weighs (hand-worked)", () => {
  const updates = [[2, -0.5], [0.5, 0.5], [-3, 1]];
  // member 0 clipped to [1, −0.5] with weight 1, member 1 [0.5, 0.5] with weight 3:
  // ([1, −0.5] + [1.5, 1.5]) / 4 = [0.625, 0.25]; member 2 is not asked for
  assertEquals([...weightedClippedMean(updates, [1, 3, 2], [1, 0], 1)], [0.625, 0.25]);
  assertEquals([...weightedClippedMean(updates, [1, 3, 2], [2], 1)], [-1, 1]);
});

Deno.test("weightedClippedMean: refuses no members, bad weights, ragged updates, bad clip", () => {
  const updates = [[1, 2], [3, 4], [5]];
  assertThrows(() => weightedClippedMean(updates, [1, 1, 1], [], 1), RangeError, "no members");
  assertThrows(() => weightedClippedMean(updates, [1, 0, 1], [0, 1], 1), RangeError, "weight");
  assertThrows(() => weightedClippedMean(updates, [1, 1, 1], [0, 2], 1), RangeError, "length");
  assertThrows(() => weightedClippedMean(updates, [1, 1, 1], [0, 7], 1), RangeError, "member 7");
  assertThrows(() => weightedClippedMean(updates, [1, 1, 1], [0], 0), RangeError, "clip");
});

Deno.test("unpoisonedMembers: the members of the groups without an attacker", () => {
  assertEquals(unpoisonedMembers([[0, 3], [1, 4], [2, 5]], [4]), [0, 2, 3, 5]);
  assertEquals(unpoisonedMembers([[0, 3], [1, 4], [2, 5]], [0, 3, 1]), [2, 5]);
  assertThrows(() => unpoisonedMembers([[0, 1], [2, 3]], [1, 2]), RangeError, "every group");
});

Deno.test("oracleReference: h over the honest survivors, the oracle over clean groups (hand-worked)", () => {
  const inputs = {
    updates: [[1, 0], [0, 1], [-1, -1], [1, 1]].map((u) => Float32Array.from(u)),
    weights: [1, 1, 1, 2],
  };
  // groups {0, 1} and {2, 3}, member 2 attacks: h = ([1, 0] + [0, 1] + 2·[1, 1]) / 4 = [¾, ¾],
  // the oracle = ([1, 0] + [0, 1]) / 2 = [½, ½], its error ‖[−¼, −¼]‖ / ‖[¾, ¾]‖ = 1/3
  const ref = oracleReference(inputs, [[0, 1], [2, 3]], [0, 1, 2, 3], [2], 1);
  assertEquals([...ref.honest], [0.75, 0.75]);
  assertEquals([...ref.oracle], [0.5, 0.5]);
  assert(Math.abs(ref.oracleError - 1 / 3) < 1e-15, `${ref.oracleError}`);
  // member 1 did not survive: h = ([1, 0] + 2·[1, 1]) / 3, the oracle is member 0 alone
  const short = oracleReference(inputs, [[0, 1], [2, 3]], [0, 2, 3], [2], 1);
  assertEquals([...short.honest], [1, 2 / 3]);
  assertEquals([...short.oracle], [1, 0]);
  assertEquals(relativeError([1, 0], [1, 2 / 3]), short.oracleError);
});

Deno.test("weightBlindOracle: clean groups' means counted alike (hand-worked)", () => {
  const inputs = {
    updates: [[1], [3], [9], [0], [-1]].map((u) => Float32Array.from(u)),
    weights: [1, 3, 1, 1, 2],
  };
  const partition = [[0, 1], [2, 3], [4]];
  // group {0, 1}: (1·1 + 3·3) / 4 = 2.5, group {4}: −1, group {2, 3} holds the attacker 2:
  // (2.5 + (−1)) / 2 = 0.75, where the weighted oracle is (1 + 9 − 2) / 6 = 4/3
  assertEquals([...weightBlindOracle(inputs, partition, [0, 1, 2, 3, 4], [2], 5)], [0.75]);
  const ref = oracleReference(inputs, partition, [0, 1, 2, 3, 4], [2], 5);
  assertEquals([...ref.oracle], [8 / 6]);
  assertEquals([...ref.weightBlind], [0.75]);
  assertEquals(ref.weightBlindError, relativeError([0.75], ref.honest));
  // member 4 did not survive: its group is skipped, not averaged in as empty
  assertEquals([...weightBlindOracle(inputs, partition, [0, 1, 2, 3], [2], 5)], [2.5]);
  assertThrows(
    () => weightBlindOracle(inputs, partition, [2, 3, 4], [2, 4], 5),
    RangeError,
    "no unpoisoned group",
  );
});

Deno.test("simulatedHonestInputs: redraws the simulator's honest inputs (its robustError agrees)", async () => {
  for (const spread of [0.5, 2]) {
    let certified: CertifiedGroupSums | undefined;
    const report = await simulate({
      nodes: 12,
      dim: 16,
      dropout: 0,
      dropStage: "masked",
      graph: "complete",
      seed: 3,
      pq: false,
      rounds: 1,
      groups: { count: 3, minGroups: 3 },
      robust: { kind: "median" },
      byzantine: 1,
      attack: { kind: "signflip" },
      spread,
      onGroups: (_, groups) => (certified = groups),
    });
    const r = report.rounds[0];
    assert(r.exact && r.verified && certified !== undefined && r.groups !== undefined);
    const index = new Map<string, number>();
    for (const g of certified.included) {
      g.members.forEach((i, k) => index.set(r.groups![g.group].members[k], i));
    }
    const inputs = simulatedHonestInputs({
      nodes: 12,
      dim: 16,
      clip: 1,
      maxWeight: 100,
      spread,
      seed: 3,
      round: 0,
    });
    const ref = oracleReference(
      inputs,
      certified.partition,
      [...index.values()],
      r.byzantine!.map((id) => index.get(id)!),
      1,
    );
    const check = relativeError(certified.robust!.result, ref.honest);
    assert(Math.abs(check - r.robustError!) <= 1e-12, `${check} vs ${r.robustError}`);
    assert(ref.oracleError > 0 && ref.oracleError < 1, `${ref.oracleError}`);
  }
});

Deno.test("simulatedHonestInputs: refuses a member count, length or maxWeight below 1", () => {
  const s = { nodes: 3, dim: 4, clip: 1, maxWeight: 10, spread: 0.5, seed: 1, round: 0 };
  assertEquals(simulatedHonestInputs(s).updates.length, 3);
  assertThrows(() => simulatedHonestInputs({ ...s, nodes: 0 }), RangeError, "nodes");
  assertThrows(() => simulatedHonestInputs({ ...s, dim: 0 }), RangeError, "dim");
  assertThrows(() => simulatedHonestInputs({ ...s, maxWeight: 0.5 }), RangeError, "maxWeight");
});
