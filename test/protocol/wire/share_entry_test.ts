/**
 * Share entries (protocol/wire/share_entry.ts): a post-quantum entry's ML-DSA-65 signature binds
 * the session, the sender, the recipient and every field that reaches the recipient, and a
 * classical entry verifies only without one; classical entries keep their wire form (no signature
 * element), and a classical roster refuses a post-quantum entry's extra element.
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
import { shareEntryPayload, verifyShareEntry } from "../../../protocol/wire/share_entry.ts";
import { openFrame, sealFrame } from "../../../protocol/wire/frame.ts";
import { sessionHash } from "../../../protocol/federation/session.ts";
import { assertThrowsRefusal } from "../_fixtures.ts";
import { flipBit } from "../crypto/_helpers.ts";
import { classical, entry, fixture, postQuantum } from "./_helpers.ts";

Deno.test(
  "messages: a share entry's signature binds the session, the sender, the recipient and every " +
    "field that reaches the recipient",
  async () => {
    const f = await fixture(await postQuantum, 3, 1);
    const { roster, session } = f;
    const hash = sessionHash(session);
    const [u, v, w] = [0, 2, 3]; // u < v: u's entry carries a mask ciphertext
    const unsigned = entry(f, u, v, v, true);
    const signed = (by: number, payload: Uint8Array) => f.fed.signers[by].signPostQuantum(payload);
    const genuine = {
      ...unsigned,
      signature: await signed(u, shareEntryPayload(hash, u, v, unsigned)),
    };
    assert(await verifyShareEntry(roster, hash, u, v, genuine), "the genuine entry verifies");

    const refused: [string, Promise<boolean>][] = [
      [
        "another session",
        verifyShareEntry(roster, sessionHash({ ...session, view: 2 }), u, v, genuine),
      ],
      ["another recipient", verifyShareEntry(roster, hash, u, w, genuine)],
      ["claimed by another sender", verifyShareEntry(roster, hash, w, v, genuine)],
      [
        "signed by another member for this sender",
        verifyShareEntry(roster, hash, u, v, {
          ...genuine,
          signature: await signed(w, shareEntryPayload(hash, u, v, genuine)),
        }),
      ],
      [
        "signed for another recipient",
        verifyShareEntry(roster, hash, u, v, {
          ...genuine,
          signature: await signed(u, shareEntryPayload(hash, u, w, genuine)),
        }),
      ],
      [
        "signed in another session",
        verifyShareEntry(roster, hash, u, v, {
          ...genuine,
          signature: await signed(
            u,
            shareEntryPayload(sessionHash({ ...session, round: 4 }), u, v, genuine),
          ),
        }),
      ],
      [
        "no signature",
        verifyShareEntry(roster, hash, u, v, { ...genuine, signature: new Uint8Array(0) }),
      ],
    ];
    for (const field of ["sealed", "shareKemCt", "maskKemCt"] as const) {
      const changed = { ...genuine, [field]: flipBit(genuine[field], 9) };
      refused.push([`a modified ${field}`, verifyShareEntry(roster, hash, u, v, changed)]);
    }
    // The mask ciphertext of another entry of the same sender (to another recipient).
    const other = entry(f, u, w, w, true);
    refused.push([
      "another entry's mask ciphertext",
      verifyShareEntry(roster, hash, u, v, { ...genuine, maskKemCt: other.maskKemCt }),
    ]);
    for (const [what, verdict] of refused) assertEquals(await verdict, false, what);

    // Classical mode: no signature, and any signature is refused (no downgrade or upgrade).
    const c = await fixture(await classical, 3, 1);
    const cHash = sessionHash(c.session);
    const plain = entry(c, 0, 1, 1, true);
    assert(await verifyShareEntry(c.roster, cHash, 0, 1, plain));
    assertEquals(
      await verifyShareEntry(c.roster, cHash, 0, 1, { ...plain, signature: genuine.signature }),
      false,
    );
  },
);

Deno.test("messages: classical share entries keep their wire form (no signature element)", async () => {
  const f = await fixture(await classical, 3, 1);
  const { roster } = f;
  const entries = [entry(f, 0, 1, 1, true), entry(f, 0, 2, 2, true)];
  // The layout before entries were signed, byte for byte.
  assertEquals(
    encode(shareKeysFields({ entries }, roster.mode)),
    encode([entries.map((e) => [e.peer, e.sealed, e.shareKemCt, e.maskKemCt, e.wrap])]),
  );
  const delivery = { u2: [0, 1, 2], entries: [entry(f, 0, 2, 0, false), entry(f, 1, 2, 1, false)] };
  assertEquals(
    encode(shareDeliveryFields(delivery, roster.mode)),
    encode([
      delivery.u2,
      delivery.entries.map((e) => [e.peer, e.sealed, e.shareKemCt, e.maskKemCt]),
    ]),
  );
  // A classical roster refuses a post-quantum entry's extra element.
  const withSignature = shareKeysFields(
    { entries: entries.map((e) => ({ ...e, signature: f.rng(ML_DSA65_SIGNATURE_LENGTH) })) },
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
