/**
 * Roster changes in a running federation (real `fedagg run` processes, `_roster_change.ts`):
 * amendments delivered through `POST /v1/roster/amendments` while rounds run, adopted without
 * restarting any member, every round exact and verified by `fedagg verify` from the genesis
 * roster through the amendments.
 *
 * - In the default suite: a join. Three members run rounds; an amendment that would take
 *   effect too soon is refused (409 `amendment-refused`, naming the rounds), a partly signed
 *   copy is kept as pending, the valid one is adopted; the joiner, started with the genesis
 *   roster and the chain in `DIR/amendments/`, takes part from the amendment's first round
 *   (and is refused an update for a round before it, `not-a-member`).
 * - Behind `deno task test:roster-change` (it runs longer than the default suite's budget):
 *   the whole scenario, a join, a removal and a key rotation while rounds run; the
 *   removed member's connection is closed and refused, the rotated member's old key can no
 *   longer submit; a member restarted afterwards runs the same chain.
 */
import "../../node/shims.ts";
import { assertEquals, assertMatch } from "../_assert.ts";
import { ChangingNet } from "./_roster_change.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";

Deno.test({
  name: "roster change: a member joins a running federation by threshold, no restart",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-roster-join-" });
    const c = await ChangingNet.start(out, 3);
    try {
      const [a, b, m2] = [c.nodes.get("m0")!, c.nodes.get("m1")!, c.nodes.get("m2")!];
      const genesis = [a, b, m2];
      const d = await c.newMember("joiner");
      // Signed before delivery: every genesis member approves, the joiner signs its entry.
      const a1 = await c.propose("a1", 4, ["--add", `${d.dir}/card.json`], [...genesis, d]);
      await c.round(0, 0, genesis, async () => {
        // Current round 0 or 1: a version from round 2 would start within the window.
        const tooSoon = await c.propose("too-soon", 2, ["--add", `${d.dir}/card.json`], []);
        const [soon] = await c.deliver(tooSoon, [a]);
        assertEquals(soon.status, 409, JSON.stringify(soon.body));
        assertEquals(soon.body.reason, "amendment-refused");
        assertMatch(
          soon.body.message ?? "",
          /takes effect at round 2, .* must start after round [23]/,
        );
        // The CLI says why a node refuses (exit 1).
        const late = await c.net.cli(["roster", "adopt", "--dir", b.dir, "--amendment", tooSoon]);
        assertEquals(late.code, 1, late.stdout);
        assertMatch(late.stderr, /amendment refused: HTTP 409: version 1 takes effect at round 2/);
        // Not an amendment file: refused, naming the key.
        const junk = await c.net.api(a, "/v1/roster/amendments", {
          method: "POST",
          body: JSON.stringify({ fedagg: "fedagg/amendment/v1", federation: "testnet" }),
        });
        assertEquals(junk.status, 422);
        const refusal = await junk.json();
        assertEquals(refusal.reason, "amendment-invalid");
        assertMatch(refusal.message, /previous/);
        // An unsigned copy: kept as pending, with what it lacks.
        const unsigned = await c.propose("a1-unsigned", 4, ["--add", `${d.dir}/card.json`], []);
        const [pending] = await c.deliver(unsigned, [a]);
        assertEquals(pending.status, 200, JSON.stringify(pending.body));
        assertEquals(pending.body.status, "pending");
        assertEquals(pending.body.joinersMissing, [d.id]);
        // The amendment, valid: adopted by every member while round 0 runs (from round 4, past
        // the window whether or not round 0 has ended yet).
        c.amendments.push(a1);
        for (const r of await c.deliver(a1, [a, b])) {
          assertEquals(r.status, 200, JSON.stringify(r.body));
          assertEquals([r.body.status, r.body.version, r.body.firstRound], ["adopted", 1, 4]);
        }
        // The third member's operator uses the CLI (the node found through DIR/api.json).
        const cli = await c.net.cli(["roster", "adopt", "--dir", m2.dir, "--amendment", a1]);
        assertEquals(cli.code, 0, cli.stderr);
        assertMatch(cli.stdout, /adopted: the node runs roster version 1 from round 4/);
        // A second delivery changes nothing.
        const [again] = await c.deliver(a1, [a]);
        assertEquals([again.status, again.body.status], [200, "adopted"]);
      });
      await c.handChain(d);
      await c.net.start(d);
      await c.connected(d, 3);
      for (const n of genesis) await c.connected(n, 3);
      // Round 3 still runs under version 0: the joiner takes no update for it.
      const early = await c.net.submitUpdate(d, 3, new Float32Array(33), 1);
      assertEquals(early?.status, 409, early?.text);
      assertMatch(early!.text, /not-a-member/);
      await c.round(1, 0, genesis);
      await c.round(2, 0, genesis);
      await c.round(3, 0, genesis);
      await c.round(4, 1, [...genesis, d]);
      await c.round(5, 1, [...genesis, d]);
      const status = await c.net.status(a) as unknown as Record<string, unknown>;
      assertEquals(status.rosterVersion, 1);
      await c.verifyAll();
    } finally {
      await c.stop();
      closeUnrefdChannels();
    }
    await Deno.remove(out, { recursive: true }).catch(() => {});
  },
});

Deno.test({
  name: "roster change: a join, a removal and a key rotation while rounds run (issue 10)",
  ignore: Deno.env.get("FEDAGG_ROSTER_CHANGE") !== "full",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-roster-change-" });
    const c = await ChangingNet.start(out, 3);
    try {
      const [a, b, m2] = [c.nodes.get("m0")!, c.nodes.get("m1")!, c.nodes.get("m2")!];
      const genesis = [a, b, m2];
      const d = await c.newMember("joiner");
      const rotated = await c.newMember("m1-rotated");

      // Each amendment is delivered while round r runs, from round r + 4: past the window
      // (the current round + 2) whether or not round r has ended when it arrives.
      // A join (version 1, from round 6), signed by every member and the joiner.
      const a1 = await c.propose("a1", 6, ["--add", `${d.dir}/card.json`], [...genesis, d]);
      await c.round(0, 0, genesis);
      await c.round(1, 0, genesis);
      await c.round(2, 0, genesis, async () => {
        c.amendments.push(a1);
        for (const r of await c.deliver(a1, genesis)) assertEquals(r.status, 200);
      });
      await c.handChain(d);
      await c.net.start(d);
      for (const n of [...genesis, d]) await c.connected(n, 3);
      for (const r of [3, 4, 5]) await c.round(r, 0, genesis);
      const v1 = [...genesis, d];
      await c.round(6, 1, v1);

      // A removal of m2 (version 2, from round 11), approved by three of version 1's four.
      const a2 = await c.propose("a2", 11, ["--remove", m2.id], [a, b, d]);
      await c.round(7, 1, v1, async () => {
        c.amendments.push(a2);
        for (const r of await c.deliver(a2, v1)) assertEquals(r.status, 200);
      });
      for (const r of [8, 9, 10]) await c.round(r, 1, v1);
      const v2 = [a, b, d];
      await c.round(11, 2, v2);
      // The removed member's frames for round 11 on are refused (`not-member`); it takes no update.
      const removed = await c.net.submitUpdate(m2, 12, new Float32Array(33), 1);
      assertEquals(removed?.status, 409, removed?.text);
      assertMatch(removed!.text, /not-a-member/);

      // A key rotation of m1 (version 3, from round 16): the new key is a new node directory.
      const a3 = await c.propose(
        "a3",
        16,
        ["--rotate", `${b.id}=${rotated.dir}/card.json`],
        [a, b, d, rotated],
      );
      await c.round(12, 2, v2, async () => {
        c.amendments.push(a3);
        for (const r of await c.deliver(a3, v2)) assertEquals(r.status, 200);
      });
      // Two rounds after its last one (round 10) ended, the removed member's connections are
      // closed and refused.
      for (const n of v2) await c.notConnected(n, m2);
      await c.net.stop(m2);
      await c.handChain(rotated);
      await c.net.start(rotated);
      await c.connected(rotated, 3); // a, d, and the old key until its last rounds are over
      for (const r of [13, 14, 15]) await c.round(r, 2, v2);
      const v3 = [a, rotated, d];
      // The old key is in no version from round 16 on.
      const old = await c.net.submitUpdate(b, 16, new Float32Array(33), 1);
      assertEquals(old?.status, 409, old?.text);
      assertMatch(old!.text, /not-a-member/);
      await c.round(16, 3, v3);
      await c.round(17, 3, v3);
      for (const n of v3) await c.notConnected(n, b);
      await c.net.stop(b);
      // A restart walks the same chain (the delivered amendments are in DIR/amendments/).
      await c.net.stop(a);
      await c.net.start(a);
      await c.connected(a, 2);
      await c.round(18, 3, v3);
      await c.verifyAll();
    } finally {
      await c.stop();
      closeUnrefdChannels();
    }
    await Deno.remove(out, { recursive: true }).catch(() => {});
  },
});
