/**
 * New node directories (node/node_dir.ts): the files `initNodeDir` writes, their modes and
 * contents (the returned token and card are the ones on disk, the identity loads back), the
 * listen and announce defaults, and that a second init is refused before anything is written;
 * init refuses listen addresses the node could not listen on; `readNodeConfig` and
 * `readApiToken` refuse (typed codes, messages without the token) what `fedagg run` could not use.
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../_assert.ts";
import { loadIdentity } from "../../node/identity.ts";
import { DEFAULT_LISTEN, initNodeDir, readApiToken, readNodeConfig } from "../../node/node_dir.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { assertNodeError, exists, modeOf, withTempDir } from "./_helpers.ts";

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

Deno.test("node dir: init refuses listen addresses the node could not listen on", async () => {
  await withTempDir("fedagg-node-dir-", async (root) => {
    for (
      const [listen, message] of [
        [["garbage"], /--listen\[0\] is not a multiaddr/],
        [["/ip4/127.0.0.1/udp/4001"], /--listen\[0\] must be \/ip4\/ADDR\/tcp\/PORT/],
        [["/ip4/127.0.0.1/tcp/1", "/dns4/a.example/tcp/1"], /--listen\[1\] must be/],
      ] as const
    ) {
      const dir = `${root}/${listen.length}-${listen[0].length}`;
      const refused = await assertNodeError(
        () => initNodeDir(dir, { listen }, rngFor("node-dir", "g")),
        "address-invalid",
      );
      assertMatch(refused, message);
      assertEquals(await exists(dir), false, "nothing written");
    }
    const ok = await initNodeDir(`${root}/v6`, { listen: ["/ip6/::1/tcp/0"] }, rngFor("g", "h"));
    assertEquals(ok.card.addresses, ["/ip6/::1/tcp/0"]);
  });
});

Deno.test("node dir: readNodeConfig reads listen back and refuses a node.json run cannot use", async () => {
  await withTempDir("fedagg-node-dir-", async (root) => {
    const dir = `${root}/n`;
    await initNodeDir(dir, { listen: ["/ip4/127.0.0.1/tcp/4999"] }, rngFor("node-dir", "i"));
    assertEquals((await readNodeConfig(dir)).listen, [
      { multiaddr: "/ip4/127.0.0.1/tcp/4999", hostname: "127.0.0.1", port: 4999 },
    ]);
    for (
      const [text, message] of [
        ["garbage {", /node\.json is not valid JSON/],
        ["[1, 2]", /must be a JSON object/],
        ["null", /must be a JSON object/],
        ["{}", /listen must be a non-empty list/],
        ['{"listen": []}', /listen must be a non-empty list/],
        ['{"listen": [4001]}', /listen\[0\] must be a string/],
        ['{"listen": ["/ip4/127.0.0.1/tcp/70000"]}', /listen\[0\]/],
        ['{"listen": ["/ip4/127.0.0.1/tcp/1/p2p-circuit"]}', /listen\[0\] must be/],
      ] as const
    ) {
      await Deno.writeTextFile(`${dir}/node.json`, text);
      const refused = await assertNodeError(() => readNodeConfig(dir), "node-config-invalid");
      assertMatch(refused, message, text);
      assert(refused.startsWith(`${dir}/node.json`), refused);
      assert(!refused.includes("\n"), "one line");
    }
    await Deno.remove(`${dir}/node.json`);
    assertEquals(
      (await readNodeConfig(dir)).listen.map((l) => l.multiaddr),
      [...DEFAULT_LISTEN],
      "no node.json: the default",
    );
  });
});

Deno.test("node dir: readApiToken refuses short, long, malformed and missing tokens without printing them", async () => {
  await withTempDir("fedagg-node-dir-", async (root) => {
    const dir = `${root}/n`;
    const made = await initNodeDir(dir, {}, rngFor("node-dir", "j"));
    assertEquals(await readApiToken(dir), made.token);
    await Deno.writeTextFile(`${dir}/api.token`, "  hex0123456789abcdef0123==\n\n");
    assertEquals(await readApiToken(dir), "hex0123456789abcdef0123==", "trimmed, padding kept");
    for (
      const [token, message] of [
        ["fifteen-chars15", /16 to 1024 characters \(it has 15\)/],
        ["", /\(it has 0\)/],
        ["x".repeat(1025), /\(it has 1025\)/],
        ["sixteen chars ok", /characters A-Z a-z 0-9/],
        ["line-one-secret\nline-two-secret", /characters A-Z a-z 0-9/],
        ['quote"secret"0123456789', /characters A-Z a-z 0-9/],
        ["émoji-secret-0123456789", /characters A-Z a-z 0-9/],
        ["padding=in-the-middle-secret", /characters A-Z a-z 0-9/],
      ] as const
    ) {
      await Deno.writeTextFile(`${dir}/api.token`, token);
      const refused = await assertNodeError(() => readApiToken(dir), "api-token");
      assertMatch(refused, message, JSON.stringify(token));
      if (token.length > 0) {
        for (const part of token.split(/\s+/).filter((p) => p.length >= 4)) {
          assert(!refused.includes(part), `the message does not print the token: ${refused}`);
        }
      }
    }
    await Deno.writeFile(`${dir}/api.token`, new Uint8Array([0xff, 0xfe, ...Array(20).fill(65)]));
    assertMatch(await assertNodeError(() => readApiToken(dir), "api-token"), /characters A-Z/);
    await Deno.remove(`${dir}/api.token`);
    assertMatch(await assertNodeError(() => readApiToken(dir), "no-token"), /api\.token not found/);
  });
});
