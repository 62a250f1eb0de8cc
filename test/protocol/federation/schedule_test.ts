/**
 * The rotating leader schedule (protocol/schedule.ts): a per-round permutation of the roster
 * from a keyed hash, deterministic, different across rounds and rosters, wrapping views modulo
 * n, and fair over many rounds.
 */
import { assert, assertEquals, assertGreaterOrEqual, assertLessOrEqual } from "../../_assert.ts";
import { createRoster, type Member, type Roster } from "../../../protocol/federation/roster.ts";
import { leaderOf, leaderOrder } from "../../../protocol/federation/schedule.ts";
import { rngFor } from "../_fixtures.ts";

function roster(n: number, federation = "fed", label = "schedule"): Roster {
  const rng = rngFor(label);
  const members: Member[] = Array.from({ length: n }, (_, i) => ({
    id: `node-${i}`,
    signingKey: rng(32),
  }));
  return createRoster({ federation, members, dim: 4 });
}

function isPermutation(order: readonly number[], n: number): boolean {
  return order.length === n && [...order].sort((a, b) => a - b).every((x, i) => x === i);
}

Deno.test("schedule: leaderOrder is a permutation of the roster indices", () => {
  for (const n of [3, 4, 5, 7, 10, 31, 100]) {
    const r = roster(n);
    for (const round of [0, 1, 2, 17, 2 ** 40, 2 ** 48 - 1]) {
      assert(isPermutation(leaderOrder(r, round), n), `n = ${n}, round = ${round}`);
    }
  }
});

Deno.test("schedule: deterministic, also across equal rosters and after the cache clears", () => {
  const a = roster(9);
  const b = roster(9); // built again from the same settings: another object, the same hash
  const before = Array.from({ length: 10 }, (_, r) => [...leaderOrder(a, r)]);
  // Fill the cache well past its limit so the first entries are recomputed.
  for (let r = 1000; r < 1200; r++) leaderOrder(a, r);
  for (let r = 0; r < 10; r++) {
    assertEquals([...leaderOrder(a, r)], before[r]);
    assertEquals([...leaderOrder(b, r)], before[r]);
  }
  assert(Object.isFrozen(leaderOrder(a, 3)));
});

Deno.test("schedule: the order differs across rounds", () => {
  const r = roster(12);
  const orders = new Set<string>();
  const firsts = new Set<number>();
  for (let round = 0; round < 50; round++) {
    orders.add(leaderOrder(r, round).join(","));
    firsts.add(leaderOf(r, round, 0));
  }
  assertEquals(orders.size, 50, "50 rounds of 12 members: no two orders coincide");
  assertGreaterOrEqual(firsts.size, 6, "the first leader rotates");
});

Deno.test("schedule: the order differs across rosters", () => {
  const a = roster(12, "fed-a");
  const b = roster(12, "fed-b"); // same members, another federation: another roster hash
  const c = roster(12, "fed-a", "other-keys");
  let sameAB = 0;
  let sameAC = 0;
  for (let round = 0; round < 20; round++) {
    if (leaderOrder(a, round).join() === leaderOrder(b, round).join()) sameAB++;
    if (leaderOrder(a, round).join() === leaderOrder(c, round).join()) sameAC++;
  }
  assertEquals(sameAB, 0);
  assertEquals(sameAC, 0);
});

Deno.test("schedule: leaderOf wraps views modulo n", () => {
  for (const n of [3, 5, 8]) {
    const r = roster(n);
    for (const round of [0, 9]) {
      const order = leaderOrder(r, round);
      for (let view = 0; view < 3 * n; view++) {
        assertEquals(leaderOf(r, round, view), order[view % n]);
      }
      assertEquals(leaderOf(r, round, 2 ** 47 + 1), order[(2 ** 47 + 1) % n]);
      // n consecutive views visit every member once.
      for (const start of [0, 4, 2 * n - 1]) {
        const seen = new Set(Array.from({ length: n }, (_, k) => leaderOf(r, round, start + k)));
        assertEquals(seen.size, n);
      }
    }
  }
});

Deno.test("schedule: over many rounds every member leads about 1/n of the time", () => {
  for (const n of [3, 7]) {
    const r = roster(n);
    const rounds = 3000;
    const count = new Array<number>(n).fill(0);
    const position = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let round = 0; round < rounds; round++) {
      const order = leaderOrder(r, round);
      count[order[0]]++;
      order.forEach((m, p) => position[m][p]++);
    }
    const expected = rounds / n;
    for (const [m, c] of count.entries()) {
      // ±25 % is > 5 standard deviations for these sizes: a loose, never-flaky bound.
      assertGreaterOrEqual(c, 0.75 * expected, `n = ${n}: member ${m} led ${c} rounds`);
      assertLessOrEqual(c, 1.25 * expected, `n = ${n}: member ${m} led ${c} rounds`);
    }
    // Every member takes every position of the order about equally often (backup leaders too).
    for (const row of position) {
      for (const c of row) {
        assertGreaterOrEqual(c, 0.75 * expected);
        assertLessOrEqual(c, 1.25 * expected);
      }
    }
  }
});
