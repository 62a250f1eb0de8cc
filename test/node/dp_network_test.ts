/**
 * Distributed DP end to end with four real `fedagg run` processes on a DP roster (t = 3, c = 1,
 * L2 clip 1): a weight other than 1 is refused (422); each node creates its DP noise key, sends
 * its clipped, rotated, rounded, noised update; the published mean is the members' L2-clipped
 * mean plus noise of the stated std (within 20 % over d = 300 coordinates: the estimate's own
 * error is ≈ 4 %); `fedagg verify` accepts the sum and the mean bit for bit and prints the
 * guarantee. The budget lasts one round: each node charged it at commit (status and metrics
 * show the spend), and an update for round 1 is refused (409 `dp-budget-exhausted`, saying
 * what is left), also after a restart. Also the noise key file: created once (0600), the same key on the next start,
 * refused when damaged.
 *
 * @module
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../_assert.ts";
import "../../node/shims.ts";
import { encodeRaw, parseUpdate } from "../../node/tensor_formats/mod.ts";
import { DP_NOISE_KEY_FILE, loadDpNoiseKey } from "../../node/dp_noise_key.ts";
import { localVarianceSteps } from "../../protocol/dp/parameters.ts";
import { clipL2 } from "../../protocol/dp/rounding.ts";
import { LocalNet, waitFor } from "../../scripts/testnet/local_net.ts";
import { assertNodeError, modeOf, withTempDir } from "./_helpers.ts";

const DIM = 300;

function update(m: number): Float32Array {
  return new Float32Array(DIM).map((_, j) => Math.sin(m * 11 + j * 0.3) * 0.2); // norm ≈ 2.4
}

Deno.test({
  name: "dp network: noisy, clipped mean from four nodes; verify prints the guarantee",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-dp-net-" });
    const net = await LocalNet.create(out, 4, {
      dim: DIM,
      stageTimeoutMs: 800,
      advertiseTimeoutMs: 3000,
      viewTimeoutMs: 4000,
      dp: {
        mechanism: "ddgauss",
        epsilon: 8,
        delta: 1e-5,
        rounds: 1,
        clip: 1,
        bits: 32,
        corrupt: 1,
        beta: null,
        modclipProb: null,
      },
    });
    try {
      const dp = net.roster.dp!;
      assertEquals(net.roster.threshold, 3);
      await Promise.all(net.nodes.map((n) => net.start(n)));
      await Promise.all(net.nodes.map((n) => net.connected(n)));
      const post = (m: number, weight = 1) =>
        net.api(net.node(m), `/v1/rounds/0/update?num_samples=${weight}`, {
          method: "POST",
          body: encodeRaw(update(m)),
          headers: { "content-type": "application/octet-stream" },
        });
      const heavy = await post(0, 2);
      assertEquals(heavy.status, 422);
      const refusal = await heavy.json();
      assertEquals(refusal.reason, "invalid-num-samples");
      assertMatch(refusal.message, /must be 1 on a DP roster/);
      for (const res of await Promise.all([0, 1, 2, 3].map((m) => post(m)))) {
        assertEquals(res.status, 202, await res.text());
      }
      for (const node of net.nodes) {
        assertEquals(await modeOf(`${node.dir}/${DP_NOISE_KEY_FILE}`), 0o600);
        await waitFor(`round 0 final at ${node.name}`, async () => {
          const s = await net.status(node);
          return s?.lastFinalRound === 0 ? true : undefined;
        }, 90_000);
      }
      const dir = `${out}/downloads`;
      await Deno.mkdir(dir);
      const fetchTo = async (path: string, name: string) => {
        const res = await net.api(net.node(1), path);
        assertEquals(res.status, 200, path);
        const bytes = new Uint8Array(await res.arrayBuffer());
        await Deno.writeFile(`${dir}/${name}`, bytes);
        return bytes;
      };
      await fetchTo("/v1/rounds/0/certificate", "certificate.cbor");
      const sum = await fetchTo("/v1/rounds/0/aggregate?format=sum", "aggregate.sum");
      assertEquals(sum.length, 4 * (dp.paddedDim + 1)); // D + 1 words
      const raw = await fetchTo("/v1/rounds/0/aggregate?format=raw", "aggregate.raw");
      const mean = parseUpdate(raw, DIM, { format: "raw", layout: net.roster.layout, flat: true })
        .values;
      // The noise of the mean: four members' σ_ℓ² (plus rounding), over four.
      const clipped = [0, 1, 2, 3].map((m) => clipL2(update(m), 1).clipped);
      let squares = 0;
      for (let j = 0; j < DIM; j++) {
        const plain = clipped.reduce((a, c) => a + c[j], 0) / 4;
        squares += (mean[j] - plain) ** 2;
      }
      const measured = Math.sqrt(squares / DIM);
      const expected = dp.gamma * Math.sqrt(4 * localVarianceSteps(dp) + 1) / 4;
      assert(
        measured > 0.8 * expected && measured < 1.2 * expected,
        `noise std of the mean ${measured}, expected ${expected}`,
      );
      const verify = await net.cli([
        "verify",
        ...["--certificate", `${dir}/certificate.cbor`, "--roster", net.rosterPath],
        ...["--aggregate", `${dir}/aggregate.sum`, "--aggregate", `${dir}/aggregate.raw`],
      ]);
      assertEquals(verify.code, 0, verify.stdout + verify.stderr);
      assertMatch(verify.stdout, /the mean matches/);
      assertMatch(verify.stdout, /differential privacy: ddgauss .* L2 clip C = 1, 32-bit sum/);
      assertMatch(verify.stdout, /assumed from 2 noising members \(t = 3, up to c = 1/);

      // The budget: one round, charged at commit on every node; round 1 is refused.
      for (const node of net.nodes) {
        const status = await net.status(node) as unknown as { dp: Record<string, number> };
        assertEquals(status.dp.roundsCharged, 1, node.name);
        assertEquals(status.dp.roundsLeft, 0);
        assert(Math.abs(status.dp.epsilonSpent - 8) < 1e-6, `ε spent ${status.dp.epsilonSpent}`);
      }
      const statusCli = await net.cli(["status", "--dir", net.node(2).dir]);
      assertEquals(statusCli.code, 0, statusCli.stderr);
      assertMatch(
        statusCli.stdout,
        /privacy {4}ε 8 of 8 spent at δ 0.00001 \(1 rounds charged, 0 left\)/,
      );
      const metrics = await (await net.api(net.node(2), "/metrics")).text();
      assertMatch(metrics, /\nfedagg_dp_rounds_charged 1\n/);
      const refuseRound1 = async () => {
        const res = await net.api(net.node(2), "/v1/rounds/1/update?num_samples=1", {
          method: "POST",
          body: encodeRaw(update(2)),
          headers: { "content-type": "application/octet-stream" },
        });
        assertEquals(res.status, 409);
        const body = await res.json();
        assertEquals(body.reason, "dp-budget-exhausted");
        assertMatch(body.message, /has 0 round\(s\) left.*1 round\(s\) charged/);
      };
      await refuseRound1();
      assertMatch(
        await (await net.api(net.node(2), "/metrics")).text(),
        /\nfedagg_dp_budget_refusals_total 1\n/,
      );
      // The spend survives a restart.
      await net.stop(net.node(2));
      await net.start(net.node(2));
      await waitFor(
        "node 2 back",
        async () => (await net.status(net.node(2))) ? true : undefined,
        60_000,
      );
      await refuseRound1();
    } finally {
      await net.stopAll();
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("dp noise key: created once (0600), the same on the next load, refused when damaged", async () => {
  await withTempDir("fedagg-dp-key-", async (dir) => {
    const first = await loadDpNoiseKey(dir);
    assertEquals(first.length, 32);
    assertEquals(await modeOf(`${dir}/${DP_NOISE_KEY_FILE}`), 0o600);
    assertEquals(await loadDpNoiseKey(dir), first);
    await withTempDir("fedagg-dp-key-", async (other) => {
      assertNotEquals(await loadDpNoiseKey(other), first);
    });
    await Deno.writeFile(`${dir}/${DP_NOISE_KEY_FILE}`, first.subarray(0, 31));
    await assertNodeError(() => loadDpNoiseKey(dir), "dp-key-invalid");
  });
});
