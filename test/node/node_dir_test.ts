/**
 * New node directories (node/node_dir.ts): the files `initNodeDir` writes, their modes and
 * contents (the returned token and card are the ones on disk, the identity loads back), the
 * listen and announce defaults, and that a second init is refused before anything is written.
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../_assert.ts";
import { loadIdentity } from "../../node/identity.ts";
import { DEFAULT_LISTEN, initNodeDir } from "../../node/node_dir.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { assertNodeError, modeOf, withTempDir } from "./_helpers.ts";

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

Deno.test("node dir: the files, their modes, and the returned token and card are on disk", async () => {
  await withTempDir("fedagg-node-dir-", async (root) => {
    const dir = `${root}/n`;
    const listen = ["/ip4/127.0.0.1/tcp/4999"];
    const made = await initNodeDir(dir, { listen }, rngFor("node-dir", "a"));
    assertEquals(await modeOf(dir), 0o700);
    assertEquals(await modeOf(`${dir}/identity.json`), 0o600);
    assertEquals(await modeOf(`${dir}/api.token`), 0o600);
    assertEquals(await modeOf(`${dir}/node.json`), 0o600);
    assertEquals(await modeOf(`${dir}/card.json`), 0o644);
    assertEquals(await Deno.readTextFile(`${dir}/api.token`), made.token + "\n");
    assertMatch(made.token, /^[A-Za-z0-9]{32}$/);
    assertEquals(await readJson(`${dir}/node.json`), { listen });
    assertEquals(await readJson(`${dir}/card.json`), made.card);
    assertEquals(made.card, made.identity.card(listen), "announces the listen addresses");
    assertEquals((await loadIdentity(dir)).peerId, made.identity.peerId);
    // Another directory: another identity and another token.
    const other = await initNodeDir(`${root}/m`, { listen }, rngFor("node-dir", "b"));
    assertNotEquals(other.identity.peerId, made.identity.peerId);
    assertNotEquals(other.token, made.token);
  });
});

Deno.test("node dir: listen defaults to DEFAULT_LISTEN; announce replaces the card's addresses", async () => {
  await withTempDir("fedagg-node-dir-", async (root) => {
    const plain = await initNodeDir(`${root}/plain`, { listen: [] }, rngFor("node-dir", "c"));
    assertEquals(await readJson(`${root}/plain/node.json`), { listen: [...DEFAULT_LISTEN] });
    assertEquals(plain.card.addresses, [...DEFAULT_LISTEN]);
    const announce = ["/dns4/a.example/tcp/4001"];
    const listen = ["/ip4/0.0.0.0/tcp/4001"];
    const public_ = await initNodeDir(
      `${root}/public`,
      { listen, announce },
      rngFor("node-dir", "d"),
    );
    assertEquals(await readJson(`${root}/public/node.json`), { listen });
    assertEquals(public_.card.addresses, announce);
    assertEquals(await readJson(`${root}/public/card.json`), public_.card);
  });
});

Deno.test("node dir: a second init is refused before anything is written", async () => {
  await withTempDir("fedagg-node-dir-", async (root) => {
    const dir = `${root}/n`;
    await initNodeDir(dir, {}, rngFor("node-dir", "e"));
    const files = ["identity.json", "api.token", "node.json", "card.json"];
    const before = await Promise.all(files.map((f) => Deno.readFile(`${dir}/${f}`)));
    await assertNodeError(
      () => initNodeDir(dir, { listen: ["/ip4/127.0.0.1/tcp/1"] }, rngFor("node-dir", "f")),
      "identity-exists",
    );
    const after = await Promise.all(files.map((f) => Deno.readFile(`${dir}/${f}`)));
    assertEquals(after, before);
    assert(before.every((b) => b.length > 0));
  });
});
