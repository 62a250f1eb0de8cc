/**
 * A damaged journal under real `fedagg run` processes (three members on loopback, driven through
 * their HTTP APIs; issue 7, section 3):
 *
 * - `journal/` being a file: `fedagg run` exits 2 with one line naming the path and the fix,
 *   before it joins the mesh (no stack trace);
 * - a damaged round (non-JSON `update.json`, garbage `update.f32`) is moved to
 *   `journal/quarantine/`, logged with its path and counted, and the node runs the next round;
 * - a broken `published.json` of a final round is rebuilt from the certificate at the next
 *   start and the aggregate is served (200, the same bytes as another member's), not a 500;
 * - random bytes in `final.cbor` are never served as a certificate: the round is quarantined
 *   at the next start and the certificate and aggregate are 404.
 *
 * @module
 */
import { assertEquals, assertMatch } from "../_assert.ts";
import "../../node/shims.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";
import { encodeRaw } from "../../node/tensor_formats/mod.ts";
import { LocalNet, type LocalNode, waitFor } from "../../scripts/testnet/local_net.ts";

const DIM = 8;

async function submitAll(net: LocalNet, round: number): Promise<void> {
  await Promise.all(net.nodes.map(async (node, i) => {
    const values = new Float32Array(DIM).map((_, j) => Math.cos(i + round + j) * 0.5);
    const res = await net.api(node, `/v1/rounds/${round}/update?num_samples=${i + 1}`, {
      method: "POST",
      body: encodeRaw(values),
      headers: { "content-type": "application/octet-stream" },
    });
    assertEquals(res.status, 202, await res.text());
  }));
}

async function finalAt(net: LocalNet, node: LocalNode, round: number): Promise<void> {
  await waitFor(`round ${round} final at ${node.name}`, async () => {
    const s = await net.status(node);
    return s !== undefined && s.lastFinalRound !== null && s.lastFinalRound >= round
      ? true
      : undefined;
  }, 90_000);
}

/** Status and body of an API GET. */
async function get(net: LocalNet, node: LocalNode, path: string) {
  const res = await net.api(node, path);
  return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
}

async function restart(net: LocalNet, node: LocalNode): Promise<void> {
  await net.stop(node);
  await net.start(node);
  await waitFor(`${node.name} to answer`, async () => (await net.status(node)) && true, 60_000);
}

async function quarantined(net: LocalNet, node: LocalNode): Promise<string> {
  const res = await net.api(node, "/metrics");
  return /fedagg_journal_quarantined_total (\d+)/.exec(await res.text())?.[1] ?? "0";
}

/**
 * Asserts the `path` fields of `node`'s log lines with message `msg` are `paths`, in order. The
 * log reaches node.log through a pipe that may still be draining after the process ended: the
 * check waits up to 20 s for it.
 */
async function assertLogged(node: LocalNode, msg: string, paths: string[]): Promise<void> {
  const read = async () =>
    (await Deno.readTextFile(`${node.dir}/node.log`)).split("\n")
      .filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l).path as string);
  const deadline = Date.now() + 20_000;
  while (JSON.stringify(await read()) !== JSON.stringify(paths) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assertEquals(await read(), paths, msg);
}

async function entries(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test({
  name: "journal recovery: refused, quarantined or repaired at start-up; the node runs rounds",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-journal-recovery-" });
    const net = await LocalNet.create(out, 3, {
      dim: DIM,
      maxWeight: 10,
      stageTimeoutMs: 1000,
      advertiseTimeoutMs: 2000,
      viewTimeoutMs: 5000,
    });
    const [a, b] = [net.nodes[0], net.nodes[1]];
    const journal = `${a.dir}/journal`;
    try {
      // journal/ is a file: exit 2, one line, the path and the fix, before the mesh starts.
      await Deno.writeTextFile(journal, "not a directory");
      const refused = await net.cli([
        "run",
        "--dir",
        a.dir,
        "--roster",
        net.rosterPath,
        "--api",
        `127.0.0.1:${a.apiPort}`,
      ]);
      assertEquals(refused.code, 2, refused.stderr);
      assertEquals(
        refused.stderr.trim(),
        `fedagg run: ${journal} is not a directory: move it aside (mv ${journal} ` +
          `${journal}.broken) and start again`,
      );
      await Deno.remove(journal);

      // A damaged round as the issue found it: non-JSON metadata and garbage values.
      await Deno.mkdir(`${journal}/round-1`, { recursive: true });
      await Deno.writeTextFile(`${journal}/round-1/update.json`, "{ not json");
      await Deno.writeFile(`${journal}/round-1/update.f32`, new Uint8Array(13).fill(0xff));
      await Promise.all(net.nodes.map((n) => net.start(n)));
      await Promise.all(net.nodes.map((n) => net.connected(n)));
      assertEquals(await quarantined(net, a), "1");
      const moved = await entries(`${journal}/quarantine`);
      assertEquals(moved.length, 1);
      assertMatch(moved[0], /^round-1\.\d{8}T\d{6}Z$/);
      assertEquals((await get(net, a, "/v1/rounds/1/aggregate")).status, 404);

      // The node runs the next round with the others.
      await submitAll(net, 2);
      for (const n of net.nodes) await finalAt(net, n, 2);
      const sum = await get(net, b, "/v1/rounds/2/aggregate?format=sum");
      assertEquals(sum.status, 200);

      // A broken published.json of the final round: rebuilt from the certificate, served.
      await net.stop(a);
      // The quarantine was logged with the path (node.log is complete once the process ended).
      await assertLogged(a, "journal round quarantined", [`${journal}/round-1`]);
      await Deno.writeTextFile(`${journal}/round-2/published.json`, "}{");
      await restart(net, a);
      const served = await get(net, a, "/v1/rounds/2/aggregate?format=sum");
      assertEquals(served.status, 200);
      assertEquals(served.body, sum.body, "the certified aggregate, as another member serves it");
      assertEquals((await get(net, a, "/v1/rounds/2/certificate")).status, 200);
      assertEquals(await quarantined(net, a), "0");

      // Random bytes as final.cbor: never served; the round is moved aside at the next start.
      await net.stop(a);
      const published = `${journal}/round-2/published.json`;
      await assertLogged(a, "journal repaired", [published]);
      await Deno.writeFile(
        `${journal}/round-2/final.cbor`,
        crypto.getRandomValues(new Uint8Array(600)),
      );
      await restart(net, a);
      assertEquals((await get(net, a, "/v1/rounds/2/certificate")).status, 404);
      assertEquals((await get(net, a, "/v1/rounds/2/aggregate")).status, 404);
      assertEquals(await quarantined(net, a), "1");
      assertEquals((await entries(`${journal}/quarantine`)).length, 2);
      await net.stop(a);
      await assertLogged(a, "journal round quarantined", [
        `${journal}/round-1`,
        `${journal}/round-2`,
      ]);
      const log = await Deno.readTextFile(`${a.dir}/node.log`);
      for (const line of log.trimEnd().split("\n")) JSON.parse(line); // JSON lines only: no trace
    } finally {
      await net.stopAll();
      closeUnrefdChannels();
      await Deno.remove(out, { recursive: true });
    }
  },
});
