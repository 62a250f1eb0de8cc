/**
 * Fast failover with real processes and sockets: four `fedagg run` processes on loopback whose
 * stage, advertise and view timeouts are all ten minutes or more. The leader of round 0 is
 * SIGKILLed mid-round; its members' connections to it close, each node's failure detector reports
 * it lost after the grace, and the round completes in view 1 — which no timer could have caused
 * before the test's own deadline. Asserted on what happened and in which order (each survivor
 * logged the leader unreachable before its view change), never on how fast.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import "../../node/shims.ts";
import { encodeRaw } from "../../node/tensor_formats/mod.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { LocalNet, type LocalNode, waitFor } from "../../scripts/testnet/local_net.ts";

const DIM = 64;
/** Every protocol timer is at least this long: none can fire within the test's deadlines. */
const TIMER_MS = 600_000;
/** How long the test waits for the round: well below every timer. */
const DEADLINE_MS = 240_000;

function update(member: number): Float32Array {
  return new Float32Array(DIM).map((_, j) => Math.cos(member * 5 + j) * 0.5);
}

async function submit(net: LocalNet, members: readonly number[]): Promise<void> {
  await Promise.all(members.map(async (i) => {
    const res = await net.api(net.node(i), `/v1/rounds/0/update?num_samples=${i + 1}`, {
      method: "POST",
      body: encodeRaw(update(i)),
      headers: { "content-type": "application/octet-stream" },
    });
    assertEquals(res.status, 202, await res.text());
  }));
}

/** The JSON log lines of a node, in order. */
async function logOf(node: LocalNode): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(`${node.dir}/node.log`);
  return text.split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return [];
    }
  });
}

Deno.test({
  name: "failover: a killed leader's members move on when its connection is lost, not by a timer",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-failover-test-" });
    const net = await LocalNet.create(out, 4, {
      dim: DIM,
      maxWeight: 10,
      stageTimeoutMs: TIMER_MS,
      advertiseTimeoutMs: TIMER_MS,
      viewTimeoutMs: 2 * TIMER_MS,
    });
    try {
      await Promise.all(net.nodes.map((n) => net.start(n)));
      await Promise.all(net.nodes.map((n) => net.connected(n)));
      const leader = leaderOf(net.roster, 0, 0);
      const alive = [0, 1, 2, 3].filter((i) => i !== leader);
      assertEquals(net.roster.threshold, 3);
      // Kills the leader while it waits in its first stage for the last member's advert.
      await net.submitAndKill(0, [leader], (members) => submit(net, members));
      for (const i of alive) {
        await waitFor(`round 0 final at ${net.node(i).name}`, async () => {
          const s = await net.status(net.node(i));
          return s?.lastFinalRound === 0 ? true : undefined;
        }, DEADLINE_MS);
      }
      const sum = await net.api(net.node(alive[0]), "/v1/rounds/0/aggregate?format=sum");
      assertEquals(sum.status, 200);
      await sum.body?.cancel();
      assertEquals(Number(sum.headers.get("x-fedagg-view")), 1, "certified in the next view");
      assertEquals(
        (sum.headers.get("x-fedagg-members") ?? "").split(",").sort(),
        alive.map((i) => net.roster.members[i].id).sort(),
      );
      for (const i of alive) {
        const lines = await logOf(net.node(i));
        const lost = lines.findIndex((l) =>
          l.msg === "member unreachable past the grace" && l.member === leader
        );
        const change = lines.findIndex((l) => l.msg === "view change" && l.from === 0);
        assert(lost >= 0, `${net.node(i).name} never reported the leader lost`);
        assert(change > lost, `${net.node(i).name} changed view (line ${change}) before ${lost}`);
        assertEquals(lines[change].to, 1);
        const metrics = await (await net.api(net.node(i), "/metrics")).text();
        assert(/^fedagg_members_lost_total [1-9]/m.test(metrics), "the loss is counted");
      }
    } finally {
      await net.stopAll();
      if (Deno.env.get("FEDAGG_KEEP") === undefined) {
        await Deno.remove(out, { recursive: true }).catch(() => {});
      } else console.log("kept", out);
    }
  },
});
