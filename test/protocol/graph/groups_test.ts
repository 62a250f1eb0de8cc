/**
 * Group-wise aggregation's partition and settings (protocol/graph/groups.ts,
 * protocol/federation/round_groups.ts, the roster's `groups`): the partition is a partition of
 * sizes ⌊n/g⌋ / ⌈n/g⌉, a pure function of the seed, which depends on the roster hash and the
 * round but not the view; the group graph keeps every neighbour inside a group; the settings'
 * refusals name their setting; a roster without groups hashes as before; amendments keep the
 * groups.
 */
import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { ConfigError } from "../../../protocol/errors.ts";
import {
  checkedGroupPlan,
  GroupGraph,
  groupSizes,
  groupThreshold,
  partition,
  partitionSeed,
  SAFE_GROUP_SIZE,
} from "../../../protocol/graph/groups.ts";
import { sessionGraph } from "../../../protocol/graph/session_graph.ts";
import { createRoster, type RosterSettings } from "../../../protocol/federation/roster.ts";
import { roundGroups } from "../../../protocol/federation/round_groups.ts";
import { applyAmendment } from "../../../protocol/federation/amendment.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { rngFor } from "../_fixtures.ts";
import { seed } from "./_helpers.ts";

function settings(n: number, groups?: RosterSettings["groups"]): RosterSettings {
  const rng = rngFor("groups", n);
  return {
    federation: "fed",
    members: Array.from({ length: n }, (_, i) => ({
      id: `m-${String(i).padStart(3, "0")}`,
      signingKey: rng(32),
    })),
    dim: 4,
    ...(groups === undefined ? {} : { groups }),
  };
}

function setting(fn: () => unknown): string {
  return (assertThrows(fn, ConfigError) as ConfigError).setting;
}

Deno.test("groups: a partition of the indices into groups of ⌊n/g⌋ or ⌈n/g⌉, from the seed alone", () => {
  for (const [n, g] of [[12, 3], [13, 3], [10, 1], [7, 7], [100, 9]]) {
    const p = partition(n, g, seed(n));
    assertEquals(p.groups.length, g);
    assertEquals(p.groups.map((x) => x.length), groupSizes(n, g));
    assertEquals(p.groups.flat().sort((a, b) => a - b), [...Array(n).keys()]);
    for (const [j, members] of p.groups.entries()) {
      assertEquals([...members], [...members].sort((a, b) => a - b));
      for (const u of members) assertEquals(p.groupOf(u), j);
    }
    // The same seed gives the same partition; another seed (almost surely) another one.
    assertEquals(partition(n, g, seed(n)).groups, p.groups);
    if (g > 1 && g < n) assertNotEquals(partition(n, g, seed(n + 1000)).groups, p.groups);
  }
  assertEquals(setting(() => partition(5, 6, seed(1))), "groups.count");
  assertThrows(() => partition(5, 2, seed(1)).groupOf(5), RangeError);
});

Deno.test("groups: the seed binds the federation, the roster hash and the round, never the view", () => {
  const roster = createRoster(settings(12, { count: 3 }));
  const at = (round: number, view: number) => toHex(partitionSeed(sessionOf(roster, round, view)));
  assertEquals(at(5, 0), at(5, 3));
  assertNotEquals(at(5, 0), at(6, 0));
  const other = createRoster({ ...settings(12, { count: 3 }), federation: "other" });
  assertNotEquals(toHex(partitionSeed(sessionOf(other, 5, 0))), at(5, 0));
  const g0 = sessionGraph(roster, sessionOf(roster, 5, 0)) as GroupGraph;
  const g1 = sessionGraph(roster, sessionOf(roster, 5, 2)) as GroupGraph;
  assert(g0 instanceof GroupGraph);
  assertEquals(g0.partition.groups, g1.partition.groups);
  assertEquals(g0.partition.groups, roundGroups(roster, 5)!.partition.groups);
});

Deno.test("groups: the group graph is disjoint cliques with per-group thresholds", () => {
  const p = partition(13, 3, seed(7));
  const graph = new GroupGraph(13, p);
  for (let u = 0; u < 13; u++) {
    const group = p.groups[p.groupOf(u)];
    assertEquals([...graph.neighbours(u)], group.filter((v) => v !== u));
    for (let v = 0; v < 13; v++) {
      assertEquals(graph.isNeighbour(u, v), u !== v && group.includes(v));
    }
    assertEquals(graph.thresholdOf(u), groupThreshold(group.length));
  }
  assertEquals(graph.degree, 4); // groups of 5, 4, 4
  assertEquals([1, 2, 3, 4, 5, 6, 9].map(groupThreshold), [1, 2, 3, 3, 4, 5, 7]);
});

Deno.test("groups: a Harary graph applies inside groups larger than its degree + 1", () => {
  const p = partition(30, 3, seed(9)); // groups of 10
  const harary = { kind: "harary", degree: 4, threshold: 3 } as const;
  const graph = new GroupGraph(30, p, harary);
  assertEquals(graph.degree, 4);
  for (let u = 0; u < 30; u++) {
    const group = p.groups[p.groupOf(u)];
    const nb = graph.neighbours(u);
    assertEquals(nb.length, 4);
    assertEquals([...nb], [...nb].sort((a, b) => a - b));
    for (const v of nb) {
      assert(group.includes(v) && v !== u);
      assert(graph.isNeighbour(v, u) && graph.neighbours(v).includes(u));
    }
    assertEquals(graph.thresholdOf(u), 3);
  }
  // Same seed, same graph; groups of at most k + 1 stay cliques with their own threshold.
  assertEquals(new GroupGraph(30, p, harary).neighbours(7), graph.neighbours(7));
  const small = new GroupGraph(15, partition(15, 3, seed(9)), harary); // groups of 5 = k + 1
  for (let u = 0; u < 15; u++) {
    assertEquals(small.neighbours(u).length, 4);
    assertEquals(small.thresholdOf(u), groupThreshold(5));
  }
});

Deno.test("groups: settings resolve their defaults and refuse by name", () => {
  const plan = checkedGroupPlan({ count: 3 }, 12);
  assertEquals(plan, {
    by: "count",
    value: 3,
    count: 3,
    minGroupSize: SAFE_GROUP_SIZE,
    minGroups: 2,
    allowSmallGroups: false,
  });
  assertEquals(checkedGroupPlan({ size: 5 }, 23).count, 4); // groups of 6, 6, 6, 5
  assertEquals(checkedGroupPlan({ size: 6, minGroups: 4 }, 30).minGroupSize, 5);
  assertEquals(checkedGroupPlan({ size: 1, allowSmallGroups: true }, 9).minGroupSize, 1);
  assertEquals(setting(() => checkedGroupPlan({}, 12)), "groups");
  assertEquals(setting(() => checkedGroupPlan({ count: 2, size: 6 }, 12)), "groups");
  assertEquals(setting(() => checkedGroupPlan({ count: 13 }, 12)), "groups.count");
  assertEquals(setting(() => checkedGroupPlan({ size: 0 }, 12)), "groups.size");
  // Groups below the safe size need the explicit override.
  assertEquals(setting(() => checkedGroupPlan({ count: 4 }, 12)), "groups.count");
  assertEquals(setting(() => checkedGroupPlan({ size: 1 }, 12)), "groups.size");
  assertEquals(checkedGroupPlan({ count: 4, allowSmallGroups: true }, 12).minGroupSize, 3);
  assertEquals(
    setting(() => checkedGroupPlan({ count: 3, minGroupSize: 2 }, 12)),
    "groups.minGroupSize",
  );
  assertEquals(
    setting(() => checkedGroupPlan({ count: 3, minGroupSize: 5 }, 12)),
    "groups.minGroupSize",
  );
  assertEquals(setting(() => checkedGroupPlan({ count: 3, minGroups: 4 }, 12)), "groups.minGroups");
  assertEquals(setting(() => checkedGroupPlan({ count: 3, minGroups: 0 }, 12)), "groups.minGroups");
});

Deno.test("groups: the roster's groups, its hash, the robust slot and amendments", () => {
  const plain = createRoster(settings(12));
  assertEquals(plain.groups, undefined);
  const grouped = createRoster(settings(12, { count: 3 }));
  assertEquals(grouped.groups?.count, 3);
  assertNotEquals(toHex(grouped.hash), toHex(plain.hash));
  assertNotEquals(
    toHex(createRoster(settings(12, { count: 3, minGroups: 3 })).hash),
    toHex(grouped.hash),
  );
  // A Harary graph is used inside the groups (SecAgg+ within large groups).
  const sparse = createRoster({
    ...settings(12, { count: 1 }),
    graph: { kind: "harary", degree: 4, threshold: 3 },
  });
  assertEquals(roundGroups(sparse, 0)!.need(0), 4); // max(t_k = 3, the safe size 4)
  // The robust slot: a rule bound into the hash, needing groups that can run it and tolerate one.
  const robust = createRoster({
    ...settings(12, { count: 3, minGroups: 3 }),
    robust: { kind: "median" },
  });
  assertEquals(robust.robust, { kind: "median" });
  const same = createRoster(settings(12, { count: 3, minGroups: 3 }));
  assertEquals(same.robust, undefined);
  assertNotEquals(toHex(robust.hash), toHex(same.hash));
  assertNotEquals(
    toHex(
      createRoster({
        ...settings(12, { count: 3, minGroups: 3 }),
        robust: { kind: "median", normFilter: { tau: 2 } },
      }).hash,
    ),
    toHex(robust.hash),
  );
  assertEquals(
    setting(() => createRoster({ ...settings(12), robust: { kind: "median" } })),
    "robust",
  );
  assertEquals(
    setting(() => createRoster({ ...settings(12, { count: 3 }), robust: { rule: "median" } })),
    "robust.kind",
  );
  // Three groups, of which a round may keep two: a median over two tolerates no poisoned group.
  assertEquals(
    setting(() => createRoster({ ...settings(12, { count: 3 }), robust: { kind: "median" } })),
    "robust",
  );
  // Multi-Krum with f = 1 needs g > 2f + 2 = 4 group means.
  assertEquals(
    setting(() =>
      createRoster({
        ...settings(12, { count: 3, minGroups: 3 }),
        robust: { kind: "multi-krum", f: 1, m: 1 },
      })
    ),
    "robust",
  );
  assertEquals(
    applyAmendment(robust, {
      changes: [{ kind: "add", member: { id: "m-995", signingKey: rngFor("groups", "x5")(32) } }],
    }).robust,
    { kind: "median" },
  );
  // An amendment keeps the groups: by count the count stays, by size it follows n.
  const bySize = createRoster(settings(12, { size: 4 }));
  const extra = { id: "m-999", signingKey: rngFor("groups", "extra")(32) };
  const grown = applyAmendment(bySize, {
    changes: [
      { kind: "add", member: extra },
      {
        kind: "add",
        member: { id: "m-998", signingKey: rngFor("groups", "extra2")(32) },
      },
      { kind: "add", member: { id: "m-997", signingKey: rngFor("groups", "extra3")(32) } },
      {
        kind: "add",
        member: { id: "m-996", signingKey: rngFor("groups", "extra4")(32) },
      },
    ],
  });
  assertEquals(grown.groups?.count, 4);
  const kept = applyAmendment(grouped, { changes: [{ kind: "add", member: extra }] });
  assertEquals(kept.groups?.count, 3);
  assertEquals(kept.groups?.minGroups, grouped.groups?.minGroups);
});
