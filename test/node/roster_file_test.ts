/**
 * Roster files (node/roster_file.ts): building a roster from member cards (cards whose PeerId
 * does not derive from their key, malformed cards and duplicates are refused; adding a member
 * drops the signatures), signing by every member (→ complete), everything that makes a roster
 * incomplete (a missing, tampered, foreign or non-hybrid signature, a parameter changed after
 * signing) and how `loadRunnableRoster` reports it (`roster-unsigned` naming the ids,
 * `not-a-member`, `no-roster`, `roster-invalid`), post-quantum rosters with hybrid signatures,
 * the `secagg+` graph resolved from n, `addressesOf` by roster index, a roster hash that covers
 * addresses and names, and strict parsing (unknown keys and wrong types refused by path).
 */
import { publicKeyFromRaw } from "@libp2p/crypto/keys";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { assert, assertEquals, assertNotEquals, assertRejects, assertThrows } from "../_assert.ts";
import { equalBytes, fromBase64, toBase64 } from "../../protocol/encoding/bytes.ts";
import { encode } from "../../protocol/encoding/codec.ts";
import { ed25519Verify } from "../../protocol/crypto/mod.ts";
import { ConfigError } from "../../protocol/errors.ts";
import type { GraphSettings } from "../../protocol/graph/graphs.ts";
import { MemberSigner } from "../../protocol/federation/signer.ts";
import { createIdentity, type MemberCard, type NodeIdentity } from "../../node/identity.ts";
import {
  addMember,
  addressesOf,
  checkRosterFile,
  checkRosterParameters,
  DEFAULT_PARAMETERS,
  loadRunnableRoster,
  newRosterFile,
  parseRosterFile,
  readRosterFile,
  type RosterFile,
  rosterOf,
  type RosterParameters,
  signRoster,
  writeRosterFile,
} from "../../node/roster_file.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { assertNodeError, withTempDir } from "./_helpers.ts";

function parameters(overrides: Partial<RosterParameters> = {}): RosterParameters {
  return { ...DEFAULT_PARAMETERS, federation: "roster-test", dim: 16, maxWeight: 10, ...overrides };
}

/** Four identities (three members and an outsider), created once (the files are not needed). */
const fixture = withTempDir("fedagg-roster-", async (root) => {
  const ids: NodeIdentity[] = [];
  for (let i = 0; i < 4; i++) {
    ids.push(await createIdentity(`${root}/n${i}`, rngFor("roster-file", "id", i)));
  }
  return { members: ids.slice(0, 3), outsider: ids[3] };
});

function cardOf(identity: NodeIdentity, i = 0): MemberCard {
  return identity.card([`/ip4/127.0.0.${i + 1}/tcp/${4001 + i}`]);
}

function build(identities: readonly NodeIdentity[], p = parameters()): RosterFile {
  let file = newRosterFile(p);
  identities.forEach((id, i) => file = addMember(file, cardOf(id, i)));
  return file;
}

async function signAll(file: RosterFile, identities: readonly NodeIdentity[]) {
  for (const id of identities) file = await signRoster(file, id);
  return file;
}

/** A card from seeds, without touching the disk (for rosters with many members). */
async function lightCard(label: string | number): Promise<MemberCard> {
  const r = rngFor("roster-file", "light", label);
  const signer = await MemberSigner.fromSeeds(r(32), r(32));
  return {
    fedagg: "fedagg/member/v1",
    id: peerIdFromPublicKey(publicKeyFromRaw(signer.signingKey)).toString(),
    signingKey: toBase64(signer.signingKey),
    pqSigningKey: toBase64(signer.pqSigningKey!),
    addresses: [`/dns4/m${label}.example/tcp/4001`],
  };
}

/** Runs `fn` with the path of a roster file (not yet written) in a temporary directory. */
function withRosterPath(fn: (path: string) => Promise<void>): Promise<void> {
  return withTempDir("fedagg-roster-file-", (dir) => fn(`${dir}/roster.json`));
}

Deno.test("roster file: new, add, sign by every member → complete and runnable", async () => {
  const { members } = await fixture;
  const empty = newRosterFile(parameters());
  assertEquals(empty.fedagg, "fedagg/roster/v2");
  assertEquals(empty.members, []);
  assertEquals(empty.signatures, {});
  const file = build(members);
  assertEquals(file.members.map((m) => m.id), members.map((m) => m.peerId));
  assertEquals(file.members[0].pqSigningKey, toBase64(members[0].signer.pqSigningKey!));

  const unsigned = await checkRosterFile(file);
  assertEquals(unsigned.complete, false);
  assertEquals(unsigned.signed, []);
  assertEquals([...unsigned.missing].sort(), members.map((m) => m.peerId).sort());
  assertEquals(unsigned.invalid, []);

  let partial = await signRoster(file, members[0]);
  partial = await signRoster(partial, members[1]);
  const two = await checkRosterFile(partial);
  assertEquals(two.complete, false);
  assertEquals([...two.signed].sort(), [members[0].peerId, members[1].peerId].sort());
  assertEquals(two.missing, [members[2].peerId]);

  const signed = await signRoster(partial, members[2]);
  const check = await checkRosterFile(signed);
  assertEquals(check.complete, true);
  assertEquals(check.missing, []);
  assertEquals(check.invalid, []);
  assertEquals([...check.signed].sort(), members.map((m) => m.peerId).sort());
  // Classical rosters carry Ed25519-only signatures.
  for (const s of Object.values(signed.signatures)) {
    assertEquals(fromBase64(s.ed25519).length, 64);
    assertEquals(s.mlDsa65, null);
  }
  // Signing twice is harmless (same signature, still complete).
  const again = await signRoster(signed, members[0]);
  assertEquals(again.signatures[members[0].peerId], signed.signatures[members[0].peerId]);
  assertEquals((await checkRosterFile(again)).complete, true);

  await withRosterPath(async (path) => {
    await writeRosterFile(path, signed);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o644);
    assertEquals(await readRosterFile(path), signed);
    for (const m of members) {
      const { roster, index, file: loaded } = await loadRunnableRoster(path, m.peerId);
      assertEquals(roster.members[index!].id, m.peerId);
      assertEquals(roster.hash, check.roster.hash);
      assertEquals(loaded, signed);
    }
  });
});

Deno.test("roster file: the signature is the member's Ed25519 signature of the roster hash", async () => {
  const { members } = await fixture;
  const file = await signAll(build(members), members);
  const roster = rosterOf(file);
  const payload = encode(["fedagg/v1/sig/roster", roster.hash]);
  for (const m of members) {
    const sig = fromBase64(file.signatures[m.peerId].ed25519);
    assert(ed25519Verify(m.signer.signingKey, payload, sig), m.peerId);
  }
});

Deno.test("roster file: cards whose PeerId does not match the key, or malformed, are refused", async () => {
  const { members } = await fixture;
  const file = build(members.slice(0, 2));
  const [a, b] = [cardOf(members[0]), cardOf(members[1])];
  const c = cardOf(members[2]);
  // Another member's key under this id, and this key under another id.
  assertThrows(() => addMember(file, { ...c, signingKey: a.signingKey }), ConfigError, "match");
  assertThrows(() => addMember(file, { ...c, id: b.id.slice(0, -2) + "zz" }), ConfigError);
  assertThrows(
    () => addMember(newRosterFile(parameters()), { ...a, signingKey: b.signingKey }),
    ConfigError,
    "does not match its signing key",
  );
  // Malformed keys and cards.
  assertThrows(() => addMember(file, { ...c, signingKey: "not base64!" }), ConfigError);
  assertThrows(
    () => addMember(file, { ...c, signingKey: toBase64(new Uint8Array(31)) }),
    ConfigError,
  );
  assertThrows(
    () => addMember(file, { ...c, pqSigningKey: toBase64(new Uint8Array(100)) }),
    ConfigError,
    "pqSigningKey",
  );
  assertThrows(
    () => addMember(file, { ...c, fedagg: "fedagg/identity/v1" } as unknown as MemberCard),
    ConfigError,
    "member card",
  );
  assertThrows(() => addMember(file, null as unknown as MemberCard), ConfigError);
  assertThrows(
    () => addMember(file, { ...c, addresses: "not a list" } as unknown as MemberCard),
    ConfigError,
    "addresses",
  );
  assertThrows(
    () => addMember(file, { ...c, addresses: [42] } as unknown as MemberCard),
    ConfigError,
    "addresses",
  );
  // None of those touched the file; the genuine card goes in.
  assertEquals(file.members.length, 2);
  assertEquals(addMember(file, c).members.length, 3);
  // A hand-edited member entry whose id was swapped is refused when the file is checked.
  const swapped: RosterFile = {
    ...build(members),
    members: build(members).members.map((m, i) =>
      i === 0 ? { ...m, signingKey: build(members).members[1].signingKey } : m
    ),
  };
  assertThrows(() => rosterOf(swapped), ConfigError, "does not match");
  await assertRejects(() => checkRosterFile(swapped), ConfigError);
});

Deno.test("roster file: duplicates are refused", async () => {
  const { members } = await fixture;
  const file = build(members);
  assertThrows(() => addMember(file, cardOf(members[1])), ConfigError, "already in the roster");
  // Same member with other addresses is still a duplicate.
  assertThrows(
    () => addMember(file, members[1].card(["/ip4/9.9.9.9/tcp/1"])),
    ConfigError,
    "already",
  );
});

Deno.test("roster file: adding a member drops every signature", async () => {
  const { members, outsider } = await fixture;
  const signed = await signAll(build(members), members);
  assertEquals((await checkRosterFile(signed)).complete, true);
  const grown = addMember(signed, cardOf(outsider, 3));
  assertEquals(grown.signatures, {});
  assertEquals(grown.members.length, 4);
  const check = await checkRosterFile(grown);
  assertEquals(check.complete, false);
  assertEquals(check.missing.length, 4);
  assertNotEquals(check.roster.hash, rosterOf(signed).hash);
  // Re-signing the old signatures in by hand does not help: they cover the old roster.
  const stale: RosterFile = { ...grown, signatures: signed.signatures };
  const staleCheck = await checkRosterFile(stale);
  assertEquals(staleCheck.complete, false);
  assertEquals([...staleCheck.invalid].sort(), members.map((m) => m.peerId).sort());
  assertEquals(staleCheck.missing.length, 4);
});

Deno.test("roster file: a tampered signature → not complete, refused as roster-unsigned", async () => {
  const { members } = await fixture;
  const signed = await signAll(build(members), members);
  const victim = members[1].peerId;
  const sig = fromBase64(signed.signatures[victim].ed25519);
  sig[10] ^= 1;
  const tampered: RosterFile = {
    ...signed,
    signatures: { ...signed.signatures, [victim]: { ed25519: toBase64(sig), mlDsa65: null } },
  };
  const check = await checkRosterFile(tampered);
  assertEquals(check.complete, false);
  assertEquals(check.invalid, [victim]);
  assertEquals(check.missing, [victim]);
  assertEquals(check.signed.length, 2);
  // Garbage base64, and a signature swapped in from another member, are invalid too.
  for (
    const bad of [
      { ed25519: "%%%", mlDsa65: null },
      { ed25519: signed.signatures[members[0].peerId].ed25519, mlDsa65: null },
      { ed25519: toBase64(new Uint8Array(64)), mlDsa65: null },
    ]
  ) {
    const f: RosterFile = { ...signed, signatures: { ...signed.signatures, [victim]: bad } };
    assertEquals((await checkRosterFile(f)).invalid, [victim]);
  }
  // A classical signature that also claims an ML-DSA part is refused (no ambiguity).
  const extra: RosterFile = {
    ...signed,
    signatures: {
      ...signed.signatures,
      [victim]: { ...signed.signatures[victim], mlDsa65: toBase64(new Uint8Array(3309)) },
    },
  };
  assertEquals((await checkRosterFile(extra)).invalid, [victim]);

  await withRosterPath(async (path) => {
    await writeRosterFile(path, tampered);
    const message = await assertNodeError(
      () => loadRunnableRoster(path, members[0].peerId),
      "roster-unsigned",
    );
    assert(message.includes(`invalid signatures: ${victim}`), message);
    assert(message.includes(`missing signatures: ${victim}`), message);
    assert(message.includes("fedagg roster sign"), message);
  });
});

Deno.test("roster file: missing signatures are listed by loadRunnableRoster", async () => {
  const { members } = await fixture;
  const partial = await signRoster(build(members), members[2]);
  await withRosterPath(async (path) => {
    await writeRosterFile(path, partial);
    const message = await assertNodeError(
      () => loadRunnableRoster(path, members[2].peerId),
      "roster-unsigned",
    );
    assert(message.includes(members[0].peerId) && message.includes(members[1].peerId), message);
    assert(!message.includes(`: ${members[2].peerId}`), message);
    assert(!message.includes("invalid signatures"), message);
  });
});

Deno.test("roster file: a signature by a non-member makes the roster incomplete", async () => {
  const { members, outsider } = await fixture;
  const signed = await signAll(build(members), members);
  await assertNodeError(() => signRoster(signed, outsider), "not-a-member");
  // A genuine signature of this roster's hash by the outsider, slipped into the file.
  const payload = encode(["fedagg/v1/sig/roster", rosterOf(signed).hash]);
  const sig = await outsider.signer.sign(payload, false);
  const withOutsider: RosterFile = {
    ...signed,
    signatures: {
      ...signed.signatures,
      [outsider.peerId]: { ed25519: toBase64(sig.ed25519), mlDsa65: null },
    },
  };
  const check = await checkRosterFile(withOutsider);
  assertEquals(check.complete, false);
  assertEquals(check.invalid, [outsider.peerId]);
  assertEquals(check.missing, []);
  assertEquals(check.signed.length, 3);
  await withRosterPath(async (path) => {
    await writeRosterFile(path, withOutsider);
    const message = await assertNodeError(
      () => loadRunnableRoster(path, members[0].peerId),
      "roster-unsigned",
    );
    assert(message.includes(outsider.peerId), message);
  });
});

Deno.test("roster file: a parameter changed after signing invalidates every signature", async () => {
  const { members } = await fixture;
  const signed = await signAll(build(members), members);
  const changes: Partial<RosterFile>[] = [
    { dim: 17 },
    { clip: 2 },
    { maxWeight: 11 },
    { threshold: 2 },
    { federation: "another" },
    { stageTimeoutMs: 9_999 },
    { advertiseTimeoutMs: 1 },
    { viewTimeoutMs: 30_001 },
    { scale: 1000 },
  ];
  for (const change of changes) {
    const changed = { ...signed, ...change } as RosterFile;
    const check = await checkRosterFile(changed);
    assertEquals(check.complete, false, JSON.stringify(change));
    assertEquals(
      [...check.invalid].sort(),
      members.map((m) => m.peerId).sort(),
      JSON.stringify(change),
    );
  }
  // Dropping a member's ML-DSA key changes the hash too.
  const noPq: RosterFile = {
    ...signed,
    members: signed.members.map((m, i) => i === 0 ? { ...m, pqSigningKey: null } : m),
  };
  assertEquals((await checkRosterFile(noPq)).complete, false);
  await withRosterPath(async (path) => {
    await writeRosterFile(path, { ...signed, dim: 17 });
    await assertNodeError(() => loadRunnableRoster(path, members[0].peerId), "roster-unsigned");
  });
});

Deno.test("roster file: loadRunnableRoster refuses outsiders, missing and invalid files", async () => {
  const { members, outsider } = await fixture;
  const signed = await signAll(build(members), members);
  await withRosterPath(async (path) => {
    let message = await assertNodeError(
      () => loadRunnableRoster(path, members[0].peerId),
      "no-roster",
    );
    assert(message.includes(path), message);
    await writeRosterFile(path, signed);
    message = await assertNodeError(
      () => loadRunnableRoster(path, outsider.peerId),
      "not-a-member",
    );
    assert(message.includes(outsider.peerId), message);
    await Deno.writeTextFile(path, "{ not json");
    await assertNodeError(() => loadRunnableRoster(path, members[0].peerId), "roster-invalid");
    await assertNodeError(() => readRosterFile(path), "roster-invalid");
    // Valid JSON, invalid roster (two members): roster-invalid naming the field.
    await writeRosterFile(path, build(members.slice(0, 2)));
    message = await assertNodeError(
      () => loadRunnableRoster(path, members[0].peerId),
      "roster-invalid",
    );
    assert(message.includes("members"), message);
    await writeRosterFile(path, { ...signed, fedagg: "fedagg/roster/v0" } as unknown as RosterFile);
    message = await assertNodeError(
      () => loadRunnableRoster(path, members[0].peerId),
      "roster-invalid",
    );
    assert(message.includes("fedagg"), message);
  });
});

Deno.test("roster file: JSON that is not a roster is roster-invalid, not a crash", async () => {
  const { members } = await fixture;
  await withRosterPath(async (path) => {
    for (
      const text of [
        "[]",
        "42",
        '"fedagg/roster/v1"',
        '{"fedagg":"fedagg/roster/v1"}',
        '{"fedagg":"fedagg/roster/v1","members":[null]}',
        '{"fedagg":"fedagg/roster/v1","members":[{"id":1}]}',
      ]
    ) {
      await Deno.writeTextFile(path, text);
      await assertNodeError(() => loadRunnableRoster(path, members[0].peerId), "roster-invalid");
    }
  });
});

Deno.test({
  name: "roster file: a roster file holding JSON null is roster-invalid",
  fn: async () => {
    const { members } = await fixture;
    await withRosterPath(async (path) => {
      await Deno.writeTextFile(path, "null");
      await assertNodeError(() => loadRunnableRoster(path, members[0].peerId), "roster-invalid");
    });
  },
});

Deno.test("roster file: post-quantum rosters get hybrid signatures that verify", async () => {
  const { members } = await fixture;
  const file = build(members, parameters({ mode: "post-quantum" }));
  const signed = await signAll(file, members);
  for (const m of members) {
    const s = signed.signatures[m.peerId];
    assertEquals(fromBase64(s.ed25519).length, 64);
    assert(s.mlDsa65 !== null, "hybrid signature");
    assertEquals(fromBase64(s.mlDsa65).length, 3309);
  }
  const check = await checkRosterFile(signed);
  assertEquals(check.roster.mode, "post-quantum");
  assertEquals(check.complete, true);
  // Stripping or corrupting the ML-DSA half makes the signature invalid (no downgrade).
  const victim = members[0].peerId;
  const stripped: RosterFile = {
    ...signed,
    signatures: { ...signed.signatures, [victim]: { ...signed.signatures[victim], mlDsa65: null } },
  };
  assertEquals((await checkRosterFile(stripped)).invalid, [victim]);
  const pq = fromBase64(signed.signatures[victim].mlDsa65!);
  pq[100] ^= 0x40;
  const corrupted: RosterFile = {
    ...signed,
    signatures: {
      ...signed.signatures,
      [victim]: { ...signed.signatures[victim], mlDsa65: toBase64(pq) },
    },
  };
  assertEquals((await checkRosterFile(corrupted)).invalid, [victim]);
  // A post-quantum roster needs every member's ML-DSA key.
  const missingPq: RosterFile = {
    ...file,
    members: file.members.map((m, i) => i === 1 ? { ...m, pqSigningKey: null } : m),
  };
  assertThrows(() => rosterOf(missingPq), ConfigError, "ML-DSA");
  // The same members under a classical roster: a different hash, Ed25519-only signatures.
  assertNotEquals(rosterOf(build(members)).hash, check.roster.hash);
});

Deno.test("roster file: secagg+ resolves deterministically from n to Harary or complete", async () => {
  const { members } = await fixture;
  const graph = { kind: "secagg+", corruptFraction: 0.05, dropoutFraction: 0.1 } as const;
  // n = 3: only the complete graph works.
  const small = rosterOf(build(members, parameters({ graph })));
  assertEquals(small.graph, { kind: "complete" });
  const cards: MemberCard[] = [];
  for (let i = 0; i < 12; i++) cards.push(await lightCard(i));
  // Expected by hand from Bell et al.'s conditions, with c = ⌊0.05n⌋ and D = ⌊0.1n⌋:
  // n = 3: no even degree k ≤ n − 2 exists, so the complete graph.
  // n = 5: c = D = 0, so k = 2 with the majority threshold t = 2 fails nothing.
  // n = 10, 12: c = 0, D = 1. k = 2 forces t = 2, and the one dropout is a neighbour with
  // probability 2/(n − 1), far above 2^−20/n; k = 4, t = 3 survives a dropped neighbour.
  const expected: Record<number, GraphSettings> = {
    3: { kind: "complete" },
    5: { kind: "harary", degree: 2, threshold: 2 },
    10: { kind: "harary", degree: 4, threshold: 3 },
    12: { kind: "harary", degree: 4, threshold: 3 },
  };
  for (const n of [3, 5, 10, 12]) {
    let file = newRosterFile(parameters({ graph }));
    for (const c of cards.slice(0, n)) file = addMember(file, c);
    const roster = rosterOf(file);
    assertEquals(roster.graph, expected[n], `n = ${n}`);
    // Deterministic: resolved again, or from the members in another order, the same roster.
    assertEquals(rosterOf(file).hash, roster.hash);
    let reversed = newRosterFile(parameters({ graph }));
    for (const c of cards.slice(0, n).reverse()) reversed = addMember(reversed, c);
    assertEquals(rosterOf(reversed).hash, roster.hash);
    assertEquals(rosterOf(reversed).graph, roster.graph);
    // And the same as a roster that states the resolved graph explicitly.
    const explicit = { ...file, graph: roster.graph } as RosterFile;
    assertEquals(rosterOf(explicit).hash, roster.hash);
  }
  // Fractions the bounds refuse are a ConfigError.
  let bad = newRosterFile(parameters({ graph: { ...graph, corruptFraction: 0.4 } }));
  for (const c of cards.slice(0, 5)) bad = addMember(bad, c);
  assertThrows(() => rosterOf(bad), ConfigError, "corruptFraction");
});

Deno.test("roster file: addressesOf maps addresses to roster indices (members sorted by id)", async () => {
  const cards: MemberCard[] = [];
  for (let i = 0; i < 6; i++) cards.push(await lightCard(`addr-${i}`));
  let file = newRosterFile(parameters());
  for (const c of cards) file = addMember(file, c);
  // An entry with several addresses and one with none.
  file = {
    ...file,
    members: file.members.map((m, i) =>
      i === 2
        ? { ...m, addresses: ["/ip4/10.0.0.2/tcp/1", "/ip6/::1/tcp/2"] }
        : i === 4
        ? { ...m, addresses: [] }
        : m
    ),
  };
  const roster = rosterOf(file);
  const ids = roster.members.map((m) => m.id);
  assertEquals(ids, [...ids].sort(), "roster members are sorted by id");
  assertNotEquals(ids, file.members.map((m) => m.id), "the fixture is not already in id order");
  const addresses = addressesOf(file, roster);
  assertEquals(addresses.length, cards.length);
  for (const entry of file.members) {
    const index = roster.indexOf(entry.id)!;
    assertEquals(addresses[index], entry.addresses, entry.id);
  }
});

Deno.test("roster file: addresses and names are signed: editing one invalidates every signature", async () => {
  const { members } = await fixture;
  const signed = await signAll(build(members), members);
  assertEquals((await checkRosterFile(signed)).complete, true);
  const edits: RosterFile[] = [
    {
      ...signed,
      members: signed.members.map((m, i) =>
        i === 1 ? { ...m, addresses: ["/ip4/127.0.0.2/tcp/4003"] } : m
      ),
    },
    { ...signed, members: signed.members.map((m, i) => i === 1 ? { ...m, addresses: [] } : m) },
    { ...signed, members: signed.members.map((m, i) => i === 2 ? { ...m, name: "Lab C" } : m) },
  ];
  for (const edited of edits) {
    const check = await checkRosterFile(edited);
    assertEquals(check.complete, false);
    assertEquals([...check.invalid].sort(), members.map((m) => m.peerId).sort());
    assert(!equalBytes(check.roster.hash, rosterOf(signed).hash));
  }
  // The name travels from the card into the roster the members sign.
  const named = addMember(
    build(members.slice(0, 2)),
    members[2].card(["/ip4/127.0.0.3/tcp/4003"], "Lab C"),
  );
  const roster = rosterOf(named);
  assertEquals(roster.members[roster.indexOf(members[2].peerId)!].name, "Lab C");
  assertEquals(named.members[2].name, "Lab C");
});

Deno.test("roster file: checkRosterParameters refuses what no member list can run, at create and add", async () => {
  const { members } = await fixture;
  const refuses = (file: RosterFile, setting: string, message: RegExp) => {
    const err = assertThrows(() => checkRosterParameters(file), ConfigError);
    assertEquals((err as ConfigError).setting, setting, err.message);
    assert(message.test(err.message), err.message);
  };
  // No members yet (`roster create`): checked for the smallest roster the parameters allow.
  checkRosterParameters(newRosterFile(parameters()));
  checkRosterParameters(newRosterFile(parameters({ threshold: 100 })));
  checkRosterParameters(newRosterFile(parameters({ threshold: 2 })));
  refuses(newRosterFile(parameters({ threshold: 1 })), "threshold", /\(1\.5, 3\].*n = 3\)/);
  refuses(newRosterFile(parameters({ threshold: 0 })), "threshold", /got 0/);
  refuses(newRosterFile(parameters({ threshold: 70000 })), "threshold", /n = 65535/);
  refuses(
    newRosterFile(parameters({ stageTimeoutMs: 10_000, viewTimeoutMs: 5_000 })),
    "viewTimeoutMs",
    /must exceed stageTimeoutMs/,
  );
  refuses(newRosterFile(parameters({ dim: 0 })), "dim", /\[1, /);
  // A Harary graph of degree 6 needs n ≥ 8, where t = 3 is at most half.
  refuses(
    newRosterFile(parameters({ threshold: 3, graph: { kind: "harary", degree: 6, threshold: 5 } })),
    "threshold",
    /n = 8\)/,
  );
  // With members (`roster add`): a threshold above n is refused with the member count…
  refuses(
    build(members, parameters({ threshold: 100 })),
    "threshold",
    /100 is more than the roster's 3 members/,
  );
  refuses(
    build(members.slice(0, 1), parameters({ threshold: 2 })),
    "threshold",
    /2 is more than the roster's 1 members/,
  );
  // …and one at most n/2 by the protocol's own check.
  const more = await Promise.all([0, 1, 2, 3].map((i) => lightCard(`t${i}`)));
  let four = newRosterFile(parameters({ threshold: 2 }));
  for (const c of more) four = addMember(four, c);
  refuses(four, "threshold", /\(2, 4\].*got 2$/);
  // What only lacks members is accepted; a valid roster too.
  checkRosterParameters(build(members.slice(0, 1)));
  checkRosterParameters(build(members.slice(0, 2), parameters({ threshold: 2 })));
  checkRosterParameters(build(members, parameters({ threshold: 3 })));
  checkRosterParameters(build(members));
  // Placeholders fill post-quantum rosters with keys of the right length.
  checkRosterParameters(build(members.slice(0, 1), parameters({ mode: "post-quantum" })));
});

Deno.test("roster file: parseRosterFile and cards refuse unknown keys and wrong types by path", async () => {
  const { members } = await fixture;
  const good = JSON.parse(JSON.stringify(build(members)));
  assertEquals(parseRosterFile(good), good);
  const refused = (value: unknown, setting: string, message: RegExp) => {
    const err = assertThrows(() => parseRosterFile(value), ConfigError) as ConfigError;
    assertEquals(err.setting, setting, err.message);
    assert(message.test(err.message), err.message);
  };
  const member = (change: Record<string, unknown>) => ({
    ...good,
    members: good.members.map((m: object, i: number) => (i === 1 ? { ...m, ...change } : m)),
  });
  refused({ ...good, treshold: 2 }, "treshold", /did you mean "threshold"/);
  refused({ ...good, threshold: "2" }, "threshold", /must be a number, got a string/);
  refused({ ...good, dim: null }, "dim", /must be a number, got null/);
  refused(member({ name: 5 }), "members[1].name", /must be a string, got a number/);
  refused(member({ adresses: [] }), "members[1].adresses", /did you mean "addresses"/);
  refused(member({ addresses: [1] }), "members[1].addresses[0]", /must be a string/);
  refused({ ...good, signatures: { x: { ed25519: "" } } }, "signatures.x.mlDsa65", /is missing/);
  refused([], "the file", /must be an object, got a list/);
  // Cards are read as strictly.
  const card = cardOf(members[0]);
  assertThrows(
    () => addMember(newRosterFile(parameters()), { ...card, nmae: "A" } as unknown as MemberCard),
    ConfigError,
    'card.nmae: unknown key (did you mean "name"?)',
  );
  await withRosterPath(async (path) => {
    await Deno.writeTextFile(path, JSON.stringify({ ...good, treshold: 2 }));
    const message = await assertNodeError(() => readRosterFile(path), "roster-invalid");
    assert(message.startsWith(`${path}: treshold: unknown key`), message);
  });
});
