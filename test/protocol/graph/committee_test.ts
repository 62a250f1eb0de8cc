/**
 * The approval committee (protocol/graph/committee.ts): `committeeParameters` agrees with an
 * independent SciPy computation of the same bounds (`committee_reference.py`), gives the sizes
 * `docs/scale.md` states (76 / 49 at n = 10³, 88 / 57 at 10⁴) and refuses impossible settings;
 * `secAggPlusParameters` carries it for sparse graphs only; `approvalCommittee` is a function of
 * the roster and the round alone (every view the same, another round or roster another draw),
 * of the committee's size, and absent without a committee; rosters check and hash it.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../../_assert.ts";
import { pythonReference } from "../../_python_reference.ts";
import {
  approvalCommittee,
  approvalQuorum,
  committeeParameters,
} from "../../../protocol/graph/committee.ts";
import { secAggPlusGraph, secAggPlusParameters } from "../../../protocol/graph/secagg_plus.ts";
import { createRoster } from "../../../protocol/federation/roster.ts";
import { simulatedFederation } from "../../../protocol/sim/mod.ts";
import { setting } from "./_helpers.ts";

const REFERENCE = pythonReference(
  new URL("./committee_reference.py", import.meta.url),
  "protocol/graph",
);

/** Bound settings: n with ⌊γn⌋ corrupt and ⌊δn⌋ dropped members. */
function counts(n: number, gamma: number, delta: number) {
  return {
    n,
    corrupt: Math.floor(gamma * n + 1e-9),
    dropouts: Math.floor(delta * n + 1e-9),
    sigma: 40,
    eta: 20,
  };
}

Deno.test({
  name: "committeeParameters agrees with SciPy's hypergeometric tails (size, quorum, bounds)",
  ignore: !REFERENCE.available,
  fn: async () => {
    const cases = [
      ...[20, 100, 300, 1000, 10_000].map((n) => counts(n, 0.05, 0.1)),
      ...[100, 1000].map((n) => counts(n, 0.1, 0.2)),
      { ...counts(1000, 0.05, 0.1), sigma: 60, eta: 30 },
      { ...counts(500, 0.2, 0.1) },
      { ...counts(64, 0.3, 0.3) }, // no committee below n works
    ];
    const expected = await REFERENCE.run<
      ({ size: number; quorum: number; log2Intersection: number | null; log2Liveness: number })[]
    >({ cases });
    assertEquals(expected.length, cases.length);
    let some = 0;
    cases.forEach((c, i) => {
      const got = committeeParameters({
        n: c.n,
        corrupt: c.corrupt,
        dropouts: c.dropouts,
        securityBits: c.sigma,
        correctnessBits: c.eta,
      });
      const want = expected[i];
      const label = JSON.stringify(c);
      if (want === null) {
        assertEquals(got, undefined, label);
        return;
      }
      some++;
      assert(got !== undefined, label);
      assertEquals([got.size, got.quorum], [want.size, want.quorum], label);
      assert(got.log2Liveness <= -c.eta && got.log2Intersection <= -c.sigma, label);
      const near = (a: number, b: number | null) =>
        b === null ? a === -Infinity : Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
      assert(near(got.log2Liveness, want.log2Liveness), `${label}: liveness`);
      assert(near(got.log2Intersection, want.log2Intersection), `${label}: intersection`);
    });
    assert(some >= cases.length - 1, "every case but the last has a committee");
  },
});

Deno.test("committeeParameters: the sizes docs/scale.md states, and its refusals", () => {
  const at = (n: number) => committeeParameters(counts(n, 0.05, 0.1));
  assertEquals([at(1000)?.size, at(1000)?.quorum], [76, 49]);
  assertEquals([at(10_000)?.size, at(10_000)?.quorum], [88, 57]);
  assertEquals([at(1_000_000)?.size, at(1_000_000)?.quorum], [88, 57]);
  assertEquals(committeeParameters({ n: 16, corrupt: 0, dropouts: 0 }), undefined);
  const ok = { n: 100, corrupt: 5, dropouts: 10 };
  assertEquals(setting(() => committeeParameters({ ...ok, n: 0 })), "n");
  assertEquals(setting(() => committeeParameters({ ...ok, corrupt: -1 })), "corrupt");
  assertEquals(setting(() => committeeParameters({ ...ok, dropouts: 1.5 })), "dropouts");
  assertEquals(
    setting(() => committeeParameters({ ...ok, corrupt: 60, dropouts: 50 })),
    "corrupt+dropouts",
  );
  assertEquals(setting(() => committeeParameters({ ...ok, securityBits: 0 })), "securityBits");
});

Deno.test("secAggPlusParameters carries the committee for a sparse graph only", () => {
  const sparse = secAggPlusParameters({ n: 1000, corruptFraction: 0.05, dropoutFraction: 0.1 });
  assertEquals([sparse.committee?.size, sparse.committee?.quorum], [76, 49]);
  assertEquals(
    secAggPlusGraph({ n: 1000, corruptFraction: 0.05, dropoutFraction: 0.1 }),
    { kind: "harary", degree: 36, threshold: 19, committee: { size: 76, quorum: 49 } },
  );
  assertEquals(
    secAggPlusGraph({ n: 1000, corruptFraction: 0.05, dropoutFraction: 0.1, committee: false }),
    { kind: "harary", degree: 36, threshold: 19 },
  );
  const complete = secAggPlusParameters({ n: 5, corruptFraction: 0, dropoutFraction: 0.2 });
  assert(complete.complete && complete.committee === undefined);
});

Deno.test("approvalCommittee: a function of roster and round, the same in every view", async () => {
  const { roster } = await simulatedFederation({
    nodes: 300,
    dim: 1,
    seed: 3,
    graph: "sparse",
    dropout: 0.1,
  });
  assert(roster.graph.kind === "harary" && roster.graph.committee !== undefined);
  const { size, quorum } = roster.graph.committee;
  const round = (r: number) => ({
    federation: roster.federation,
    rosterHash: roster.hash,
    round: r,
  });
  const c0 = approvalCommittee(roster, round(0))!;
  assertEquals(c0.length, size);
  assert(
    c0.every((m, i) => Number.isInteger(m) && m >= 0 && m < 300 && (i === 0 || m > c0[i - 1])),
  );
  // Every view of round 0 (a session names a view; the committee ignores it) draws the same.
  assertEquals(approvalCommittee(roster, { ...round(0), view: 7 } as never), c0);
  assertEquals(approvalQuorum(roster, round(0)), { committee: c0, quorum });
  // Another round, or another roster, draws another committee.
  assertNotEquals(approvalCommittee(roster, round(1)), c0);
  assertNotEquals(
    approvalCommittee(roster, { ...round(0), rosterHash: new Uint8Array(32) }),
    c0,
  );
  // Over many rounds each member sits on about size / n of them (a crude uniformity check:
  // 400 rounds × 60 seats over 300 members is 80 seats a member; 5 σ ≈ 40).
  const seats = new Array<number>(300).fill(0);
  for (let r = 0; r < 400; r++) for (const m of approvalCommittee(roster, round(r))!) seats[m]++;
  const mean = (400 * size) / 300;
  assert(seats.every((x) => Math.abs(x - mean) < 5 * Math.sqrt(mean)), `seats ${seats}`);
});

Deno.test("approvalCommittee: none without one; rosters check and hash the committee", async () => {
  const { roster } = await simulatedFederation({ nodes: 40, dim: 1, seed: 1, graph: "sparse" });
  assert(roster.graph.kind === "harary" && roster.graph.committee !== undefined);
  const round = { federation: roster.federation, rosterHash: roster.hash, round: 0 };
  const base = {
    federation: roster.federation,
    members: roster.members,
    mode: roster.mode,
    dim: roster.dim,
  } as const;
  const plain = createRoster({ ...base, graph: { kind: "harary", degree: 10, threshold: 6 } });
  assertEquals(approvalCommittee(plain, round), undefined);
  assertEquals(approvalQuorum(plain, round), { committee: undefined, quorum: plain.threshold });
  const complete = createRoster(base);
  assertEquals(approvalCommittee(complete, round), undefined);
  const withCommittee = (committee: { size: number; quorum: number }) =>
    createRoster({ ...base, graph: { kind: "harary", degree: 10, threshold: 6, committee } });
  const a = withCommittee({ size: 20, quorum: 11 });
  assertNotEquals(a.hash, plain.hash);
  assertNotEquals(withCommittee({ size: 20, quorum: 12 }).hash, a.hash);
  assertEquals(approvalCommittee(a, round)?.length, 20);
  assertEquals(setting(() => withCommittee({ size: 41, quorum: 30 })), "graph.committee.size");
  assertEquals(setting(() => withCommittee({ size: 0, quorum: 0 })), "graph.committee.size");
  assertEquals(setting(() => withCommittee({ size: 20, quorum: 10 })), "graph.committee.quorum");
  assertEquals(setting(() => withCommittee({ size: 20, quorum: 21 })), "graph.committee.quorum");
  assertEquals(
    setting(() =>
      createRoster({
        ...base,
        graph: { kind: "harary", degree: 10, threshold: 6, committee: { size: 20, quorum: 11 } },
        groups: { count: 2 },
      })
    ),
    "graph.committee",
  );
});
