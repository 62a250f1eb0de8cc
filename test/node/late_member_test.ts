/**
 * Issue 8's late member on real processes: three `fedagg run` nodes on loopback (t = n = 3), two
 * submit and move past view 0 (no view completes without the third); the third submits after the
 * others' advertise and view timeouts. With view synchronisation it starts in the view the
 * others' signed Leaves justify and the round completes there; before, it started in view 0 and
 * the views cycled out of step until the view limit.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import "../../node/shims.ts";
import { encodeRaw } from "../../node/tensor_formats/mod.ts";
import { LocalNet, type LocalNode, waitFor } from "../../scripts/testnet/local_net.ts";

const DIM = 33;

async function submit(net: LocalNet, i: number, round: number): Promise<void> {
  const values = new Float32Array(DIM).map((_, j) => Math.cos(i * 5 + j) * 0.5);
  const res = await net.api(net.node(i), `/v1/rounds/${round}/update?num_samples=${i + 1}`, {
    method: "POST",
    body: encodeRaw(values),
    headers: { "content-type": "application/octet-stream" },
  });
  assertEquals(res.status, 202, await res.text());
}

async function viewAt(net: LocalNet, node: LocalNode, round: number): Promise<number | null> {
  const s = await net.status(node);
  return s?.round === round ? s.view : null;
}

Deno.test({
  name: "multi-process: a member that submits after the others' view change joins their view",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-late-test-" });
    const net = await LocalNet.create(out, 3, {
      dim: DIM,
      maxWeight: 10,
      stageTimeoutMs: 800,
      advertiseTimeoutMs: 1000,
      viewTimeoutMs: 2000,
    });
    try {
      await Promise.all(net.nodes.map((n) => net.start(n)));
      await Promise.all(net.nodes.map((n) => net.connected(n)));
      const [a, b, late] = [0, 1, 2];
      await submit(net, a, 0);
      await submit(net, b, 0);
      // Both leave view 0 (its leader waits for the third advert in vain).
      for (const i of [a, b]) {
        await waitFor(`member ${i} past view 0`, async () => {
          const v = await viewAt(net, net.node(i), 0);
          return v !== null && v >= 1 ? true : undefined;
        }, 60_000);
      }
      await submit(net, late, 0);
      for (const i of [a, b, late]) {
        await waitFor(`round 0 final at member ${i}`, async () => {
          const s = await net.status(net.node(i));
          return s?.lastFinalRound === 0 ? true : undefined;
        }, 60_000);
      }
      const sum = await net.api(net.node(late), `/v1/rounds/0/aggregate?format=sum`);
      assertEquals(sum.status, 200);
      await sum.arrayBuffer();
      const members = (sum.headers.get("x-fedagg-members") ?? "").split(",");
      assertEquals(members.length, 3, "the late member's update is in the aggregate");
      assert(Number(sum.headers.get("x-fedagg-view")) >= 1);
    } finally {
      await net.stopEverything();
    }
  },
});
