/**
 * Pins the wire format and the simulator's behaviour across refactors: fixed-seed rounds must
 * produce exactly the frames recorded in `frames.json` (post-quantum: every deterministic byte,
 * with the platform-randomized ones checked by length and every signature verified), and
 * fixed-seed simulations the reports in `sim.json`, CPU timings aside. `record.ts` rewrites
 * both files; run it only for an intended change.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { verifyFinalCertificate } from "../../mod.ts";
import { fromHex, toHex } from "../../protocol/encoding/bytes.ts";
import { decode, encode, type Value } from "../../protocol/encoding/codec.ts";
import { ed25519Verify, mlDsa65Verify, taggedHash } from "../../protocol/crypto/mod.ts";
import type { Roster } from "../../protocol/federation/roster.ts";
import { finalTree, frameTree, mismatches, recordRound, SCENARIOS, type Tree } from "./_round.ts";
import { simulationGolden, SIMULATIONS } from "./_sim.ts";

interface GoldenOutput {
  readonly from: number;
  readonly to: number | null;
  readonly tag: string;
  readonly frame: string | Tree;
}

interface GoldenRound {
  readonly outputs: readonly GoldenOutput[];
  readonly certificate: string | Tree;
  readonly aggregate: string;
}

const frames: Record<string, GoldenRound> = JSON.parse(
  await Deno.readTextFile(new URL("frames.json", import.meta.url)),
);
const sims: Record<string, unknown> = JSON.parse(
  await Deno.readTextFile(new URL("sim.json", import.meta.url)),
);

/** The tags of the frames that carry a hybrid (Ed25519 + ML-DSA-65) signature in post-quantum mode. */
const HYBRID = new Set([
  "fedagg/v1/msg/advertise-keys",
  "fedagg/v1/msg/approval",
  "fedagg/v1/msg/certificate",
  "fedagg/v1/msg/cosign",
]);

/** Big-endian 8-byte unsigned integer. */
function u64be(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

/** The session hash as `docs/protocol.md` §1 defines it, written out here. */
function documentedSessionHash(fields: Value[]): Uint8Array {
  const [, federation, rosterHash, round, view] = fields as [
    string,
    string,
    Uint8Array,
    number,
    number,
  ];
  return taggedHash(
    "fedagg/v1/hash/session",
    new TextEncoder().encode(federation),
    rosterHash,
    u64be(round),
    u64be(view),
  );
}

/**
 * The share-tree root (`docs/protocol.md` §2) that entry `e` of `from` to `to` leads to through
 * leaf index `leaf` and path `path`, computed from the spec's definitions alone.
 */
function documentedRoot(
  session: Uint8Array,
  from: number,
  to: number,
  e: Value[],
  leaf: number,
  path: Uint8Array[],
): Uint8Array {
  const [, sealed, shareKemCt, maskKemCt] = e as [number, Uint8Array, Uint8Array, Uint8Array];
  let node = taggedHash(
    "fedagg/v1/hash/share-leaf",
    session,
    u64be(from),
    u64be(to),
    sealed,
    shareKemCt,
    maskKemCt,
  );
  for (const [k, sibling] of path.entries()) {
    const right = Math.floor(leaf / 2 ** k) % 2 === 1;
    node = right
      ? taggedHash("fedagg/v1/hash/share-node", sibling, node)
      : taggedHash("fedagg/v1/hash/share-node", node, sibling);
  }
  return node;
}

/**
 * Checks every signature of a recorded frame against the signed bytes as the spec defines them,
 * with the signature primitives alone (not the code's own verification): the frame's (hybrid
 * exactly for the spec's four types), its nested frames', and its share entries' (a path to a
 * share-tree root, whose ML-DSA-65 signature is over `["fedagg/v1/sig/share-root", session,
 * sender, root]`; a ShareKeys' entries all lead to the one root it signed). `recipient` is where
 * the frame went (for a delivery's entries).
 */
async function assertSigned(roster: Roster, frame: Uint8Array, recipient: number | null) {
  const [payload, ed25519, mlDsa65] = decode(frame, 1 << 28, "frame") as [
    Uint8Array,
    Uint8Array,
    Uint8Array | null,
  ];
  const fields = decode(payload, 1 << 28, "payload") as Value[];
  const [tag, , , , , sender] = fields as [string, string, Uint8Array, number, number, number];
  const member = roster.members[sender];
  assert(ed25519Verify(member.signingKey, payload, ed25519), `${tag} from ${sender}: Ed25519`);
  assertEquals(mlDsa65 !== null, HYBRID.has(tag), `${tag}: hybrid exactly where the spec says`);
  if (mlDsa65 !== null) {
    assert(await mlDsa65Verify(member.pqSigningKey!, payload, mlDsa65), `${tag}: ML-DSA-65`);
  }
  const rest = fields.slice(6);
  const session = documentedSessionHash(fields);
  const rootSigned = async (from: number, root: Uint8Array, signature: Uint8Array) => {
    const statement = encode(["fedagg/v1/sig/share-root", session, from, root]);
    const key = roster.members[from].pqSigningKey!;
    assert(await mlDsa65Verify(key, statement, signature), `${tag}: share-tree root`);
  };
  if (tag === "fedagg/v1/msg/key-list") {
    for (const f of rest[0] as Uint8Array[]) await assertSigned(roster, f, null);
  } else if (tag === "fedagg/v1/msg/unmask-request") {
    for (const f of rest[2] as Uint8Array[]) await assertSigned(roster, f, null);
  } else if (tag === "fedagg/v1/msg/certificate") {
    for (const f of rest[2] as Uint8Array[]) await assertSigned(roster, f, null);
  } else if (tag === "fedagg/v1/msg/share-keys" && rest.length === 2) {
    const roots = (rest[0] as Value[][]).map((e, i) =>
      toHex(documentedRoot(session, sender, e[0] as number, e, i, e[5] as Uint8Array[]))
    );
    assertEquals(new Set(roots).size, 1, `${tag}: every entry leads to one root`);
    await rootSigned(sender, fromHex(roots[0]), rest[1] as Uint8Array);
  } else if (tag === "fedagg/v1/msg/share-delivery" && roster.mode === "post-quantum") {
    for (const e of rest[1] as Value[][]) {
      const from = e[0] as number;
      const root = documentedRoot(
        session,
        from,
        recipient!,
        e,
        e[4] as number,
        e[5] as Uint8Array[],
      );
      await rootSigned(from, root, e[6] as Uint8Array);
    }
  }
}

for (const scenario of SCENARIOS) {
  Deno.test(`golden frames: ${scenario.name} is unchanged on the wire`, async () => {
    const golden = frames[scenario.name];
    const round = await recordRound(scenario);
    assertEquals(
      round.outputs.map((o) => [o.from, o.to, o.tag]),
      golden.outputs.map((o) => [o.from, o.to, o.tag]),
      "the same frames, in the same order, between the same members",
    );
    assertEquals(toHex(new Uint8Array(round.aggregate.buffer)), golden.aggregate);
    assertEquals(round.aggregate, round.expected, "the aggregate is the plaintext sum");
    await verifyFinalCertificate(
      round.roster,
      round.certificate,
      new Uint8Array(round.aggregate.buffer),
    );
    if (scenario.mode === "classical") {
      round.outputs.forEach((o, i) =>
        assertEquals(
          toHex(o.frame),
          golden.outputs[i].frame,
          `frame ${i} (${o.type} from ${o.from})`,
        )
      );
      assertEquals(toHex(round.certificate), golden.certificate, "final certificate");
      return;
    }
    const differences = [
      ...round.outputs.flatMap((o, i) =>
        mismatches(frameTree(o.frame), golden.outputs[i].frame as Tree, `frame ${i} (${o.type})`)
      ),
      ...mismatches(finalTree(round.certificate), golden.certificate as Tree, "certificate"),
    ];
    assertEquals(differences, [], "every deterministic byte is as recorded");
    for (const o of round.outputs) await assertSigned(round.roster, o.frame, o.to);
    const [, certificate, cosigns] = decode(round.certificate, 1 << 28, "final") as [
      string,
      Uint8Array,
      Uint8Array[],
    ];
    for (const f of [certificate, ...cosigns]) await assertSigned(round.roster, f, null);
  });
}

for (const [name, options] of Object.entries(SIMULATIONS)) {
  Deno.test(`golden simulation: ${name} reports as recorded (timings aside)`, async () => {
    assertEquals(await simulationGolden(options), sims[name]);
  });
}

Deno.test("golden: every recorded scenario and simulation is checked, and nothing else", () => {
  assertEquals(Object.keys(frames).sort(), SCENARIOS.map((s) => s.name).sort());
  assertEquals(Object.keys(sims).sort(), Object.keys(SIMULATIONS).sort());
});
