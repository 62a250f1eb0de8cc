/**
 * Multi-process tests: four real `fedagg run` processes on loopback (the entry point under
 * `deno run` with the compiled binary's permissions), driven through their HTTP APIs. One
 * federation runs a normal round, a round where a member crashes mid-round (restarted, it learns
 * the round ended without it and reports it), a round after that member restarts, a restart
 * after a crash between the published and final records (recovered), and a round where the
 * leader crashes mid-round; the CLI refuses a tampered
 * certificate and aggregate, and non-members are refused at the roster and at the connection.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import "../../node/shims.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";
import { createIdentity } from "../../node/identity.ts";
import { Journal } from "../../node/journal.ts";
import { exists } from "./_helpers.ts";
import { encodeRaw } from "../../node/tensor_formats/mod.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { LocalNet, type LocalNode, waitFor } from "../../scripts/testnet/local_net.ts";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";

const DIM = 257; // not a multiple of the 16-word PRG block

function update(member: number, round: number): Float32Array {
  return new Float32Array(DIM).map((_, j) => Math.sin(member * 7 + round * 3 + j) * 0.9);
}

async function submitAll(net: LocalNet, round: number, members: readonly number[]): Promise<void> {
  await Promise.all(members.map(async (i) => {
    const res = await net.api(net.node(i), `/v1/rounds/${round}/update?num_samples=${i + 1}`, {
      method: "POST",
      body: encodeRaw(update(i, round)),
      headers: { "content-type": "application/octet-stream" },
    });
    assertEquals(res.status, 202, await res.text());
  }));
}

async function finalAt(net: LocalNet, node: LocalNode, round: number): Promise<void> {
  await waitFor(`round ${round} final at ${node.name}`, async () => {
    const s = await net.status(node);
    return s?.lastFinalRound !== null && s !== undefined && s.lastFinalRound >= round
      ? true
      : undefined;
  }, 60_000);
}

async function download(net: LocalNet, node: LocalNode, round: number) {
  const dir = `${net.out}/results-${round}`;
  await Deno.mkdir(dir, { recursive: true });
  const sum = await net.api(node, `/v1/rounds/${round}/aggregate?format=sum`);
  assertEquals(sum.status, 200);
  const members = (sum.headers.get("x-fedagg-members") ?? "").split(",");
  const view = Number(sum.headers.get("x-fedagg-view"));
  await Deno.writeFile(`${dir}/sum`, new Uint8Array(await sum.arrayBuffer()));
  const cert = await net.api(node, `/v1/rounds/${round}/certificate`);
  assertEquals(cert.status, 200);
  await Deno.writeFile(`${dir}/cert`, new Uint8Array(await cert.arrayBuffer()));
  const mean = await net.api(node, `/v1/rounds/${round}/aggregate?format=npy`);
  assertEquals(mean.status, 200);
  await Deno.writeFile(`${dir}/mean.npy`, new Uint8Array(await mean.arrayBuffer()));
  return { dir, members, view };
}

async function metricsOf(net: LocalNet, node: LocalNode): Promise<string> {
  return await (await net.api(node, "/metrics")).text();
}

/** The value of the sample `name` (with its labels) in Prometheus text; 0 when absent. */
function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

async function verify(net: LocalNet, dir: string, certificate = "cert", aggregate = "sum") {
  return await net.cli([
    "verify",
    "--certificate",
    `${dir}/${certificate}`,
    "--aggregate",
    `${dir}/${aggregate}`,
    "--mean",
    `${dir}/mean.npy`,
    "--roster",
    `${net.out}/roster.json`,
    "--json",
  ]);
}

Deno.test({
  name: "multi-process: normal round, member crash, restart, leader crash, refusals",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const out = await Deno.makeTempDir({ prefix: "fedagg-network-test-" });
    const net = await LocalNet.create(out, 4, {
      dim: DIM,
      maxWeight: 10,
      stageTimeoutMs: 800,
      advertiseTimeoutMs: 1000,
      viewTimeoutMs: 2000,
    });
    const all = [0, 1, 2, 3];
    try {
      await Promise.all(net.nodes.map((n) => net.start(n)));
      await Promise.all(net.nodes.map((n) => net.connected(n)));

      await t.step("a normal round is final everywhere and verifies offline", async () => {
        await submitAll(net, 0, all);
        for (const i of all) await finalAt(net, net.node(i), 0);
        const { dir, members, view } = await download(net, net.node(0), 0);
        assertEquals([members.length, view], [4, 0]);
        const ok = await verify(net, dir);
        assertEquals(ok.code, 0, ok.stdout + ok.stderr);
        assertEquals(JSON.parse(ok.stdout).valid, true);
        assertEquals(JSON.parse(ok.stdout).meanMatches, true);
        // Final: every member deleted its raw update and kept its weight and layout.
        for (const i of all) {
          const names: string[] = [];
          for await (const e of Deno.readDir(`${net.node(i).dir}/journal/round-0`)) {
            names.push(e.name);
          }
          assert(!names.includes("update.f32"), `${net.node(i).name} kept ${names}`);
          assert(names.includes("update.json"), `${net.node(i).name} has ${names}`);
        }
      });

      await t.step("a tampered certificate or aggregate is refused by fedagg verify", async () => {
        const dir = `${out}/results-0`;
        const cert = await Deno.readFile(`${dir}/cert`);
        cert[cert.length - 10] ^= 1;
        await Deno.writeFile(`${dir}/cert.bad`, cert);
        const badCert = await verify(net, dir, "cert.bad");
        assertEquals(badCert.code, 1);
        assertEquals(JSON.parse(badCert.stdout).valid, false);
        const sum = await Deno.readFile(`${dir}/sum`);
        sum[0] ^= 1;
        await Deno.writeFile(`${dir}/sum.bad`, sum);
        const badSum = await verify(net, dir, "cert", "sum.bad");
        assertEquals(badSum.code, 1);
        assertMatch(JSON.parse(badSum.stdout).reason, /aggregate/);
      });

      const crashed = all.find((i) => i !== leaderOf(net.roster, 1, 0))!;
      await t.step("a member crashing mid-round does not stop the round", async () => {
        await net.submitAndKill(1, [crashed], (members) => submitAll(net, 1, members));
        const survivors = all.filter((i) => i !== crashed);
        for (const i of survivors) await finalAt(net, net.node(i), 1);
        const { dir } = await download(net, net.node(survivors[0]), 1);
        assertEquals((await verify(net, dir)).code, 0);
      });

      await t.step(
        "the crashed member restarts, learns round 1 ended without it, and stops",
        async () => {
          const node = net.node(crashed);
          await net.start(node);
          await Promise.all(net.nodes.map((n) => net.connected(n)));
          // It resumed its acknowledged round 1 after the restart (in the view after its advert);
          // the leader it advertised to holds round 1 final and answers with the Outcome: the
          // member reports round-failed (excluded), deletes its raw update and stops.
          // (Its node.log is written only as the pipe drains: the API is what is polled.)
          const journal = new Journal(node.dir, net.roster);
          const status = await waitFor("the restarted member to end round 1", async () => {
            const s = await net.status(node);
            const failed = metric(await metricsOf(net, node), "fedagg_rounds_failed_total");
            return s?.lastFinalRound === 1 && failed === 1 &&
                !await exists(journal.path(1, "update.f32"))
              ? s
              : undefined;
          }, 60_000);
          assertMatch(status.lastError ?? "", /^excluded/);
          assertEquals(status.stage, "failed", "its update's round is over for it");
          // Nobody was blamed for equivocation: it never advertised twice in one session.
          for (const n of net.nodes) {
            const text = await metricsOf(net, n);
            assertEquals(metric(text, 'fedagg_refusals_total{code="equivocation"}'), 0, n.name);
          }
        },
      );

      await t.step("the restarted member takes part again", async () => {
        await submitAll(net, 2, all);
        for (const i of all) await finalAt(net, net.node(i), 2);
        const { dir, members } = await download(net, net.node(crashed), 2);
        assert(members.includes(net.roster.members[crashed].id), "the restarted member's input");
        assertEquals((await verify(net, dir)).code, 0);
      });

      await t.step("a crash between the published and final records is recovered", async () => {
        // Kill a member once round 2 is final, and take its final record away: its journal is
        // exactly that of a crash between the two writes. Restarted, it asks the members.
        const node = net.node(crashed);
        const path = new Journal(node.dir, net.roster).path(2, "final.cbor");
        await net.stop(node, "SIGKILL");
        await Deno.remove(path);
        await net.start(node);
        await net.connected(node);
        const cert = await waitFor("round 2's certificate to be served again", async () => {
          const res = await net.api(node, "/v1/rounds/2/certificate");
          if (res.status === 200) return new Uint8Array(await res.arrayBuffer());
          await res.body?.cancel();
          return undefined;
        }, 60_000);
        const dir = `${out}/results-2`;
        await Deno.writeFile(`${dir}/cert.recovered`, cert);
        const ok = await verify(net, dir, "cert.recovered");
        assertEquals(ok.code, 0, ok.stdout + ok.stderr);
      });

      await t.step(
        "the leader crashing mid-round causes a view change; the round completes",
        async () => {
          const leader = leaderOf(net.roster, 3, 0);
          await net.submitAndKill(3, [leader], (members) => submitAll(net, 3, members));
          const survivors = all.filter((i) => i !== leader);
          for (const i of survivors) await finalAt(net, net.node(i), 3);
          const { dir, view } = await download(net, net.node(survivors[0]), 3);
          assert(view >= 1, `completed in view ${view}`);
          assertEquals((await verify(net, dir)).code, 0);
          await net.start(net.node(leader));
        },
      );

      await t.step(
        "a non-member is refused: by the roster check and at the connection",
        async () => {
          const outsider = `${out}/outsider`;
          const identity = await createIdentity(outsider);
          await Deno.writeTextFile(`${outsider}/api.token`, "x".repeat(32));
          const run = await net.cli(["run", "--dir", outsider, "--roster", net.rosterPath]);
          assertEquals(run.code, 2);
          assertMatch(run.stderr, /not in the roster/);
          // Dial a member with a valid libp2p identity that is not in the roster.
          const node = net.node(0);
          await net.connected(node);
          const refusedPeers = async () => {
            const metrics = await (await net.api(node, "/metrics")).text();
            const match = /^fedagg_refused_peers_total (\d+)$/m.exec(metrics);
            assert(match !== null, "the refused peers metric is exported");
            return Number(match[1]);
          };
          const before = await refusedPeers();
          const card = JSON.parse(await Deno.readTextFile(`${node.dir}/node.json`));
          const stranger = await createLibp2p({
            privateKey: identity.libp2pKey,
            transports: [tcp()],
            connectionEncrypters: [noise()],
            streamMuxers: [yamux()],
          });
          await stranger.start();
          try {
            const target = multiaddr(`${card.listen[0]}/p2p/${node.id}`);
            try {
              // The member refuses after the Noise handshake, when the dial has usually resolved;
              // if it closes first, the dial fails in the upgrade. Any other error is a failure.
              await stranger.dial(target, { signal: AbortSignal.timeout(5000) });
            } catch (err) {
              const name = (err as Error).name;
              if (name !== "EncryptionFailedError" && name !== "MuxerUnavailableError") throw err;
            }
            await waitFor("the member to count the refused stranger", async () => {
              const now = await refusedPeers();
              return now > before ? now : undefined;
            }, 15_000);
            await waitFor(
              "the member to close the stranger's connection",
              () =>
                Promise.resolve(
                  stranger.getConnections().every((c) => c.status !== "open") ? true : undefined,
                ),
              15_000,
            );
          } finally {
            await stranger.stop();
            closeUnrefdChannels();
          }
        },
      );
    } finally {
      await net.stopAll();
      if (Deno.env.get("FEDAGG_KEEP") === undefined) {
        await Deno.remove(out, { recursive: true }).catch(() => {});
      } else console.log("kept", out);
    }
  },
});
