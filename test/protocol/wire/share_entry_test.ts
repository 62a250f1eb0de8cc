/**
 * Share entries (protocol/wire/share_entry.ts) and share trees (share_tree.ts): in post-quantum
 * mode a sender signs the root of a Merkle tree over its entries once, and an entry verifies only
 * with a path to a root its sender signed for this session, its leaf binding the session, the
 * sender, the recipient and every field that reaches the recipient; a classical entry verifies
 * only without a path or signature. Classical entries keep their wire form, and a classical roster
 * refuses a post-quantum entry's extra elements.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { encode } from "../../../protocol/encoding/codec.ts";
import { ML_DSA65_SIGNATURE_LENGTH } from "../../../protocol/crypto/mod.ts";
import {
  readShareKeys,
  shareDeliveryFields,
  shareKeysFields,
} from "../../../protocol/wire/messages.ts";
import {
  type ShareEntry,
  type VerifiedRoots,
  verifyShareEntry,
} from "../../../protocol/wire/share_entry.ts";
import {
  maxPathLength,
  rootFromPath,
  shareLeaf,
  shareRootPayload,
  shareTree,
} from "../../../protocol/wire/share_tree.ts";
import { openFrame, sealFrame } from "../../../protocol/wire/frame.ts";
import { sessionHash } from "../../../protocol/federation/session.ts";
import { assertThrowsRefusal } from "../_fixtures.ts";
import { flipBit } from "../crypto/_helpers.ts";
import { classical, entry, fixture, postQuantum } from "./_helpers.ts";

Deno.test("share trees: every leaf's path leads to the root, for every tree size", () => {
  const leaf = (i: number) => new Uint8Array(32).fill(i + 1);
  for (let count = 0; count <= 9; count++) {
    const leaves = Array.from({ length: count }, (_, i) => leaf(i));
    const tree = shareTree(leaves);
    assertEquals(tree.paths.length, count);
    leaves.forEach((l, i) => {
      assertEquals(tree.paths[i].length, maxPathLength(count + 1), `${count} leaves, leaf ${i}`);
      assertEquals(rootFromPath(l, i, tree.paths[i]), tree.root, `${count} leaves, leaf ${i}`);
      // Another index, a leaf out of the path's range, another leaf: not the root.
      if (count > 1) assert(!equal(rootFromPath(l, i ^ 1, tree.paths[i]), tree.root));
      assertEquals(rootFromPath(l, 2 ** tree.paths[i].length, tree.paths[i]), null);
      assert(!equal(rootFromPath(leaf(99), i, tree.paths[i]), tree.root));
    });
  }
  // One leaf: the root is the leaf, the path empty.
  assertEquals(shareTree([leaf(0)]), { root: leaf(0), paths: [[]] });
  assertEquals(maxPathLength(2), 0);
  assertEquals(maxPathLength(50), 6);
});

function equal(a: Uint8Array | null, b: Uint8Array): boolean {
  return a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}

Deno.test(
  "messages: a share entry's signature binds the session, the sender, the recipient and every " +
    "field that reaches the recipient (one root signature per sender, a path per entry)",
  async () => {
    const f = await fixture(await postQuantum, 3, 1);
    const { roster, session } = f;
    const hash = sessionHash(session);
    const [u, v, w] = [0, 2, 3]; // u < v: u's entry carries a mask ciphertext
    const signed = (by: number, payload: Uint8Array) => f.fed.signers[by].signPostQuantum(payload);
    /** `sender`'s entries to `recipients` in a tree of `by`'s signing for session `h`. */
    const dealt = async (
      sender: number,
      recipients: number[],
      h = hash,
      by = sender,
    ): Promise<ShareEntry[]> => {
      const unsigned = recipients.map((r) => entry(f, sender, r, r, false));
      const tree = shareTree(unsigned.map((e) => shareLeaf(h, sender, e.peer, e)));
      const signature = await signed(by, shareRootPayload(h, sender, tree.root));
      return unsigned.map((e, i) => ({ ...e, leaf: i, path: tree.paths[i], signature }));
    };
    const [toV, toW] = await dealt(u, [v, w]);
    const verify = (e: ShareEntry, sender = u, recipient = v, h = hash) =>
      verifyShareEntry(roster, h, sender, recipient, e);
    assert(await verify(toV), "the genuine entry verifies");
    assert(await verify(toW, u, w), "so does its sibling, under the same signature");

    const refused: [string, Promise<boolean>][] = [
      ["another session", verify(toV, u, v, sessionHash({ ...session, view: 2 }))],
      ["another recipient", verify(toV, u, w)],
      ["an entry moved to another recipient", verify({ ...toW, peer: u }, u, v)],
      ["claimed by another sender", verify(toV, w, v)],
      ["signed by another member for this sender", verify((await dealt(u, [v, w], hash, w))[0])],
      ["signed for another recipient", verify({ ...(await dealt(u, [w, 1]))[0], peer: v })],
      [
        "a root signed for another session",
        verify((await dealt(u, [v, w], sessionHash({ ...session, round: 4 })))[0]),
      ],
      ["no signature", verify({ ...toV, signature: new Uint8Array(0) })],
      ["a tampered path", verify({ ...toV, path: [flipBit(toV.path[0], 9)] })],
      ["no path", verify({ ...toV, path: [] })],
      ["another leaf index", verify({ ...toV, leaf: 1 })],
      ["a leaf index beyond the path", verify({ ...toV, leaf: 2 })],
      ["the sibling's path", verify({ ...toV, leaf: toW.leaf, path: toW.path })],
    ];
    for (const field of ["sealed", "shareKemCt", "maskKemCt"] as const) {
      const changed = { ...toV, [field]: flipBit(toV[field], 9) };
      refused.push([`a modified ${field}`, verify(changed)]);
    }
    // The mask ciphertext of another entry of the same sender (to another recipient).
    refused.push([
      "another entry's mask ciphertext",
      verify({ ...toV, maskKemCt: toW.maskKemCt }),
    ]);
    for (const [what, verdict] of refused) assertEquals(await verdict, false, what);

    // Classical mode: no path or signature, and any is refused (no downgrade or upgrade).
    const c = await fixture(await classical, 3, 1);
    const cHash = sessionHash(c.session);
    const plain = entry(c, 0, 1, 1, true);
    assert(await verifyShareEntry(c.roster, cHash, 0, 1, plain));
    for (
      const extra of [
        { signature: toV.signature },
        { path: toV.path },
        { leaf: 1 },
      ]
    ) {
      assertEquals(await verifyShareEntry(c.roster, cHash, 0, 1, { ...plain, ...extra }), false);
    }
  },
);

Deno.test(
  "messages: a sender's root is verified once per session: a verified root and signature are " +
    "recorded, and only an identical pair is taken from the record",
  async () => {
    const f = await fixture(await postQuantum, 3, 1);
    const { roster } = f;
    const hash = sessionHash(f.session);
    const [u, v] = [0, 2];
    const unsigned = entry(f, u, v, v, false);
    const tree = shareTree([shareLeaf(hash, u, v, unsigned)]);
    const signature = await f.fed.signers[u].signPostQuantum(shareRootPayload(hash, u, tree.root));
    const genuine = { ...unsigned, leaf: 0, path: tree.paths[0], signature };
    const verified: VerifiedRoots = new Map();
    assert(await verifyShareEntry(roster, hash, u, v, genuine, verified));
    assertEquals(verified.get(u), { root: tree.root, signature });
    // A record is trusted as is (that is the saving): one planted for a root never signed is
    // taken for exactly that root and signature, never for another signature or another sender.
    const forged = { ...unsigned, sealed: flipBit(unsigned.sealed, 1), leaf: 0, path: [] };
    const forgedRoot = shareLeaf(hash, u, v, forged);
    const planted: VerifiedRoots = new Map([[u, { root: forgedRoot, signature }]]);
    assert(await verifyShareEntry(roster, hash, u, v, { ...forged, signature }, planted));
    const otherSignature = flipBit(signature, 7);
    assertEquals(
      await verifyShareEntry(roster, hash, u, v, { ...forged, signature: otherSignature }, planted),
      false,
    );
    assertEquals(
      await verifyShareEntry(roster, hash, 1, v, { ...forged, signature }, planted),
      false,
    );
    // A failed verification records nothing.
    const none: VerifiedRoots = new Map();
    assertEquals(await verifyShareEntry(roster, hash, u, v, { ...forged, signature }, none), false);
    assertEquals(none.size, 0);
  },
);

Deno.test("messages: classical share entries keep their wire form (no signature element)", async () => {
  const f = await fixture(await classical, 3, 1);
  const { roster } = f;
  const entries = [entry(f, 0, 1, 1, true), entry(f, 0, 2, 2, true)];
  // The layout before entries were signed, byte for byte.
  assertEquals(
    encode(shareKeysFields({ entries, signature: new Uint8Array(0) }, roster.mode)),
    encode([entries.map((e) => [e.peer, e.sealed, e.shareKemCt, e.maskKemCt, e.wrap])]),
  );
  const delivery = { u2: [0, 1, 2], entries: [entry(f, 0, 2, 0, false), entry(f, 1, 2, 1, false)] };
  assertEquals(
    encode(shareDeliveryFields(delivery, roster)),
    encode([
      delivery.u2,
      delivery.entries.map((e) => [e.peer, e.sealed, e.shareKemCt, e.maskKemCt]),
    ]),
  );
  // A classical roster refuses a post-quantum ShareKeys' root signature and paths.
  const withSignature = shareKeysFields(
    { entries, signature: f.rng(ML_DSA65_SIGNATURE_LENGTH) },
    "post-quantum",
  );
  const frame = await sealFrame(
    "shareKeys",
    f.session,
    0,
    withSignature,
    f.fed.signers[0],
    roster.mode,
  );
  assertThrowsRefusal(() => readShareKeys(openFrame(frame, roster, 0), roster), "malformed");
});
