/**
 * Node identities (node/identity.ts): create → load round trip (same PeerId, same Ed25519 and
 * ML-DSA-65 keys, and the libp2p key is the protocol's Ed25519 key), the file's mode and exact
 * content (the tag and the two seeds, nothing else), refusal to overwrite, and every refusal of
 * `loadIdentity` with its stable code: missing file, group- or other-accessible file, bad JSON,
 * wrong format tag, seeds that are missing, not base64 or not 32 bytes. Cards: the id derives
 * from the card's signing key and the keys are the signer's. The seeds are wiped once the keys
 * are built, and the keys keep working.
 */
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { assert, assertEquals, assertNotEquals } from "../_assert.ts";
import { fromBase64, toBase64, utf8 } from "../../protocol/encoding/bytes.ts";
import { mlDsa65Verify } from "../../protocol/crypto/mod.ts";
import { createIdentity, identityPath, loadIdentity } from "../../node/identity.ts";
import { NodeError } from "../../node/errors.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { assertNodeError, withTempDir } from "./_helpers.ts";

/** Writes an identity file with the given JSON text, mode 0600. */
async function writeIdentityText(dir: string, text: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(identityPath(dir), text, { mode: 0o600 });
  await Deno.chmod(identityPath(dir), 0o600);
}

const SEED = toBase64(new Uint8Array(32).fill(7));

Deno.test("identity: create then load gives the same PeerId and keys", async () => {
  await withTempDir("fedagg-identity-", async (root) => {
    const dir = `${root}/node`;
    const created = await createIdentity(dir, rngFor("identity", "round-trip"));
    const loaded = await loadIdentity(dir);
    assertEquals(loaded.peerId, created.peerId);
    assert(created.peerId.startsWith("12D3Koo"), created.peerId);
    assertEquals(loaded.signer.signingKey, created.signer.signingKey);
    assertEquals(loaded.signer.pqSigningKey, created.signer.pqSigningKey);
    assertEquals(created.signer.signingKey.length, 32);
    assertEquals(created.signer.pqSigningKey?.length, 1952);
    // The libp2p key is the protocol's Ed25519 key.
    assertEquals(created.libp2pKey.type, "Ed25519");
    assertEquals(created.libp2pKey.publicKey.raw, created.signer.signingKey);
    assertEquals(loaded.libp2pKey.publicKey.raw, created.signer.signingKey);
    assertEquals(loaded.libp2pKey.raw, created.libp2pKey.raw);
    // Ed25519 is deterministic: both sign identically; the hybrid verifies under the same key.
    const payload = utf8("a payload");
    const a = await created.signer.sign(payload, true);
    const b = await loaded.signer.sign(payload, true);
    assertEquals(a.ed25519, b.ed25519);
    assert(b.mlDsa65 !== null && b.mlDsa65.length > 0);
    assert(await loaded.libp2pKey.publicKey.verify(payload, a.ed25519));
    // The same card both ways.
    assertEquals(loaded.card(["/ip4/127.0.0.1/tcp/1"]), created.card(["/ip4/127.0.0.1/tcp/1"]));
  });
});

Deno.test("identity: the seeds are wiped once the keys are built, and the keys still work", async () => {
  await withTempDir("fedagg-identity-", async (root) => {
    // Record what the rng hands out: the two seeds.
    const draws: Uint8Array[] = [];
    const source = rngFor("identity", "wipe");
    const recording = (n: number) => {
      const out = source(n);
      draws.push(out);
      return out;
    };
    const created = await createIdentity(`${root}/node`, recording);
    assertEquals(draws.map((d) => d.length), [32, 32]);
    for (const d of draws) assertEquals(d, new Uint8Array(32), "wiped");
    // The file kept the real seeds, and the keys (their own copies) are intact.
    const again = rngFor("identity", "wipe");
    const parsed = JSON.parse(await Deno.readTextFile(identityPath(`${root}/node`)));
    assertEquals(fromBase64(parsed.ed25519Seed), again(32));
    assertEquals(fromBase64(parsed.mlDsa65Seed), again(32));
    const loaded = await loadIdentity(`${root}/node`);
    assertEquals(created.peerId, loaded.peerId);
    assertEquals(created.signer.pqSigningKey, loaded.signer.pqSigningKey);
    const payload = utf8("signed after the wipe");
    const sig = await created.signer.sign(payload, true);
    assertEquals(sig.ed25519, (await loaded.signer.sign(payload, false)).ed25519);
    assert(await created.libp2pKey.publicKey.verify(payload, sig.ed25519));
    assert(await mlDsa65Verify(loaded.signer.pqSigningKey!, payload, sig.mlDsa65!), "ML-DSA-65");
    assertEquals(new Uint8Array(await created.libp2pKey.sign(payload)), sig.ed25519);
  });
});

Deno.test("identity: two identities differ; the same seeds give the same identity", async () => {
  await withTempDir("fedagg-identity-", async (root) => {
    const a = await createIdentity(`${root}/a`);
    const b = await createIdentity(`${root}/b`);
    assertNotEquals(a.peerId, b.peerId);
    const c = await createIdentity(`${root}/c`, rngFor("identity", "same"));
    const d = await createIdentity(`${root}/d`, rngFor("identity", "same"));
    assertEquals(c.peerId, d.peerId);
    assertEquals(c.signer.pqSigningKey, d.signer.pqSigningKey);
  });
});

Deno.test("identity: the file is mode 0600 in a 0700 directory and holds only tag and seeds", async () => {
  await withTempDir("fedagg-identity-", async (root) => {
    const dir = `${root}/fresh/node`;
    await createIdentity(dir, rngFor("identity", "file"));
    assertEquals((await Deno.stat(identityPath(dir))).mode! & 0o777, 0o600);
    assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
    const parsed = JSON.parse(await Deno.readTextFile(identityPath(dir)));
    assertEquals(Object.keys(parsed).sort(), ["ed25519Seed", "fedagg", "mlDsa65Seed"]);
    assertEquals(parsed.fedagg, "fedagg/identity/v1");
    assertEquals(fromBase64(parsed.ed25519Seed).length, 32);
    assertEquals(fromBase64(parsed.mlDsa65Seed).length, 32);
    // The seeds are the rng's first two 32-byte draws, and nothing else is in the directory.
    const r = rngFor("identity", "file");
    assertEquals(fromBase64(parsed.ed25519Seed), r(32));
    assertEquals(fromBase64(parsed.mlDsa65Seed), r(32));
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    assertEquals(entries, ["identity.json"]);
  });
});

Deno.test("identity: create refuses to overwrite (identity-exists) and leaves the file alone", async () => {
  await withTempDir("fedagg-identity-", async (dir) => {
    const first = await createIdentity(dir, rngFor("identity", "first"));
    const before = await Deno.readFile(identityPath(dir));
    const message = await assertNodeError(
      () => createIdentity(dir, rngFor("identity", "second")),
      "identity-exists",
    );
    assert(message.includes(identityPath(dir)), message);
    assertEquals(await Deno.readFile(identityPath(dir)), before);
    assertEquals((await loadIdentity(dir)).peerId, first.peerId);
  });
});

Deno.test({
  name: "identity: concurrent creates in one directory: exactly one succeeds",
  fn: async () => {
    await withTempDir("fedagg-identity-", async (dir) => {
      const results = await Promise.allSettled([
        createIdentity(dir, rngFor("identity", "race-1")),
        createIdentity(dir, rngFor("identity", "race-2")),
      ]);
      const won = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
      const lost = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
      assertEquals(won.length, 1);
      assert(lost[0] instanceof NodeError && lost[0].code === "identity-exists");
      assertEquals((await loadIdentity(dir)).peerId, won[0].peerId);
    });
  },
});

Deno.test("identity: load refuses a missing identity (no-identity) and says to run init", async () => {
  await withTempDir("fedagg-identity-", async (dir) => {
    const message = await assertNodeError(() => loadIdentity(`${dir}/nowhere`), "no-identity");
    assert(message.includes("fedagg init"), message);
  });
});

Deno.test("identity: load refuses a file others can access (identity-permissions)", async () => {
  await withTempDir("fedagg-identity-", async (dir) => {
    await createIdentity(dir, rngFor("identity", "perm"));
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o606, 0o610]) {
      await Deno.chmod(identityPath(dir), mode);
      const message = await assertNodeError(() => loadIdentity(dir), "identity-permissions");
      assert(message.includes(mode.toString(8)), message);
      assert(message.includes("chmod 600"), message);
    }
    // Stricter than 0600 is fine.
    await Deno.chmod(identityPath(dir), 0o400);
    await loadIdentity(dir);
    await Deno.chmod(identityPath(dir), 0o600);
    await loadIdentity(dir);
  });
});

Deno.test("identity: load refuses bad JSON and a wrong format tag (identity-invalid)", async () => {
  await withTempDir("fedagg-identity-", async (dir) => {
    for (
      const text of [
        "",
        "{",
        "not json at all",
        JSON.stringify({ fedagg: "fedagg/identity/v2", ed25519Seed: SEED, mlDsa65Seed: SEED }),
        JSON.stringify({ fedagg: "fedagg/member/v1", ed25519Seed: SEED, mlDsa65Seed: SEED }),
        JSON.stringify({ ed25519Seed: SEED, mlDsa65Seed: SEED }),
      ]
    ) {
      await writeIdentityText(dir, text);
      await assertNodeError(() => loadIdentity(dir), "identity-invalid");
    }
    // JSON that is not an object.
    for (const text of ["42", '"fedagg/identity/v1"', "[]", "true"]) {
      await writeIdentityText(dir, text);
      await assertNodeError(() => loadIdentity(dir), "identity-invalid");
    }
  });
});

Deno.test({
  name: "identity: load refuses an identity file holding JSON null (identity-invalid)",
  fn: async () => {
    await withTempDir("fedagg-identity-", async (dir) => {
      await writeIdentityText(dir, "null");
      await assertNodeError(() => loadIdentity(dir), "identity-invalid");
    });
  },
});

Deno.test("identity: load refuses seeds that are missing, not base64 or not 32 bytes", async () => {
  await withTempDir("fedagg-identity-", async (dir) => {
    const bad: unknown[] = [
      undefined,
      null,
      32,
      "",
      "!!! not base64 !!!",
      toBase64(new Uint8Array(31)),
      toBase64(new Uint8Array(33)),
      toBase64(new Uint8Array(64)),
    ];
    for (const name of ["ed25519Seed", "mlDsa65Seed"]) {
      for (const value of bad) {
        const content: Record<string, unknown> = {
          fedagg: "fedagg/identity/v1",
          ed25519Seed: SEED,
          mlDsa65Seed: SEED,
        };
        content[name] = value;
        await writeIdentityText(dir, JSON.stringify(content));
        const message = await assertNodeError(() => loadIdentity(dir), "identity-invalid");
        assert(message.includes(name), `${name} = ${String(value)}: ${message}`);
      }
    }
    // The well-formed version of the same file loads.
    await writeIdentityText(
      dir,
      JSON.stringify({ fedagg: "fedagg/identity/v1", ed25519Seed: SEED, mlDsa65Seed: SEED }),
    );
    await loadIdentity(dir);
  });
});

Deno.test("identity: the card's id derives from its signing key, and the keys are the signer's", async () => {
  await withTempDir("fedagg-identity-", async (dir) => {
    const identity = await createIdentity(dir, rngFor("identity", "card"));
    const addresses = ["/ip4/10.0.0.1/tcp/4001", "/dns4/node.example/tcp/4001"];
    const card = identity.card(addresses);
    assertEquals(card.fedagg, "fedagg/member/v1");
    assertEquals(card.id, identity.peerId);
    const key = fromBase64(card.signingKey);
    assertEquals(key, identity.signer.signingKey);
    assertEquals(peerIdFromPublicKey(publicKeyFromRaw(key)).toString(), card.id);
    assertEquals(fromBase64(card.pqSigningKey), identity.signer.pqSigningKey);
    assertEquals(card.addresses, addresses);
    assertEquals(Object.keys(card).sort(), [
      "addresses",
      "fedagg",
      "id",
      "pqSigningKey",
      "signingKey",
    ]);
    // The card copies the address list (later changes by the caller do not leak in).
    const mutable = ["/ip4/1.2.3.4/tcp/1"];
    const c2 = identity.card(mutable);
    mutable.push("/ip4/5.6.7.8/tcp/2");
    assertEquals(c2.addresses, ["/ip4/1.2.3.4/tcp/1"]);
    // A card holds no secret: neither seed appears in it.
    const parsed = JSON.parse(await Deno.readTextFile(identityPath(dir)));
    const text = JSON.stringify(card);
    assert(!text.includes(parsed.ed25519Seed) && !text.includes(parsed.mlDsa65Seed));
  });
});
