/**
 * Wire messages (protocol/wire/messages.ts): every message type round-trips through its field
 * builder, `sealFrame`, `openFrame` and its `read*` reader in both modes, and its signature is bound
 * to its sender; the readers refuse fields of the wrong type, count or shape (keys of the other
 * mode's lengths, share entries out of order, to the sender itself or with the wrong direction's
 * attachments, unsorted or foreign member lists, bad unmask shares, a total weight beyond 32 bits,
 * lists of frames that are not byte strings).
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import type { Value } from "../../../protocol/encoding/codec.ts";
import {
  ED25519_SIGNATURE_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
} from "../../../protocol/crypto/mod.ts";
import {
  advertiseKeysFields,
  cosignFields,
  readAdvertiseKeys,
  readApproval,
  readCertificate,
  readConsistencyRequest,
  readCosign,
  readKeyList,
  readMaskedInput,
  readOutcome,
  readOutcomeRequest,
  readShareDelivery,
  readShareKeys,
  readUnmask,
  readUnmaskRequest,
  shareDeliveryFields,
  shareKeysFields,
} from "../../../protocol/wire/messages.ts";
import { SHARE_LENGTH, type ShareEntry } from "../../../protocol/wire/share_entry.ts";
import {
  type Envelope,
  expectType,
  hybridSigned,
  type MessageType,
  openFrame,
  sealFrame,
  verifyEnvelope,
} from "../../../protocol/wire/frame.ts";
import type { Roster } from "../../../protocol/federation/roster.ts";
import { assertThrowsRefusal } from "../_fixtures.ts";
import { classical, entry, fixture, postQuantum, seal, TYPES } from "./_helpers.ts";

/** Parses an envelope with its type's reader (for the recipient `recipient` where it matters). */
function read(env: Envelope, roster: Roster, recipient: number): unknown {
  switch (env.type) {
    case "advertiseKeys":
      return readAdvertiseKeys(env, roster);
    case "keyList":
      return readKeyList(env, roster);
    case "shareKeys":
      return readShareKeys(env, roster);
    case "shareDelivery":
      return readShareDelivery(env, roster, recipient);
    case "maskedInput":
      return readMaskedInput(env, roster);
    case "consistencyRequest":
      return readConsistencyRequest(env, roster);
    case "approval":
      return readApproval(env);
    case "unmaskRequest":
      return readUnmaskRequest(env, roster);
    case "unmask":
      return readUnmask(env, roster);
    case "certificate":
      return readCertificate(env, roster);
    case "cosign":
      return readCosign(env);
    case "outcome":
      return readOutcome(env);
    case "outcomeRequest":
      return readOutcomeRequest(env);
  }
}

for (
  const [name, fedPromise] of [["classical", classical], ["post-quantum", postQuantum]] as const
) {
  Deno.test(`messages (${name}): every type round-trips through seal, open and read`, async () => {
    const f = await fixture(await fedPromise, 5, 2);
    const { roster } = f;
    for (const type of TYPES) {
      const { sender, fields, body, frame } = await seal(f, type);
      const env = openFrame(frame, roster, sender);
      assertEquals(env.type, type);
      assertEquals(env.sender, sender);
      assertEquals(env.session, { ...f.session });
      assertEquals(env.frame, frame);
      assertEquals(env.body, body ?? null);
      assertEquals(env.signature.ed25519.length, ED25519_SIGNATURE_LENGTH);
      assertEquals(
        env.signature.mlDsa65?.length ?? 0,
        hybridSigned(roster, type) ? ML_DSA65_SIGNATURE_LENGTH : 0,
        type,
      );
      assert(await verifyEnvelope(roster, env), `${type} verifies`);
      // The parser returns exactly what was built.
      const recipient = type === "shareDelivery" ? roster.members.length - 1 : sender;
      const parsed = read(env, roster, recipient);
      const expected = expectedRead(type, fields, body);
      assertEquals(parsed, expected, type);
      // Another sender's signature on the same payload does not verify.
      const other = (sender + 1) % roster.members.length;
      assert(!await verifyEnvelope(roster, { ...env, sender: other }), `${type} sender-bound`);
    }
  });
}

/** What a reader returns for the fields of {@link largest}. */
function expectedRead(type: MessageType, fields: Value[], body?: Uint8Array): unknown {
  const f = fields as never[];
  switch (type) {
    case "advertiseKeys":
      return { shareKey: f[0], maskKey: f[1], commitment: f[2] };
    case "keyList":
      return { adverts: f[0] };
    // Post-quantum: a ShareKeys carries one root signature and each entry its path (its leaf
    // index is its position); a delivered entry its leaf index, path and root signature.
    // Classical entries have none (they read as empty).
    case "shareKeys": {
      const signature = (f[1] as Uint8Array | undefined) ?? new Uint8Array(0);
      return {
        entries: (f[0] as Value[][]).map((
          [peer, sealed, shareKemCt, maskKemCt, wrap, path],
          i,
        ) => ({
          peer,
          sealed,
          shareKemCt,
          maskKemCt,
          wrap,
          leaf: path === undefined ? 0 : i,
          path: path ?? [],
          signature,
        })),
        signature,
      };
    }
    case "shareDelivery":
      return {
        u2: f[0],
        entries: (f[1] as Value[][]).map((
          [peer, sealed, shareKemCt, maskKemCt, leaf, path, signature],
        ) => ({
          peer,
          sealed,
          shareKemCt,
          maskKemCt,
          wrap: new Uint8Array(0),
          leaf: leaf ?? 0,
          path: path ?? [],
          signature: signature ?? new Uint8Array(0),
        })),
      };
    case "maskedInput":
      return { u2Hash: f[0], vectorHash: f[1], body };
    case "consistencyRequest":
      return { u2: f[0], u3: f[1] };
    case "approval":
      return { u2Hash: f[0], u3Hash: f[1] };
    case "unmaskRequest":
      return { alive: f[0], dropped: f[1], approvals: f[2] };
    case "unmask":
      return { selfShares: f[0], maskShares: f[1] };
    case "certificate":
      return { u2Hash: f[0], u3: f[1], approvals: f[2], aggregateHash: f[3], totalWeight: f[4] };
    case "cosign":
      return { certificateHash: f[0] };
    case "outcome":
      return { finalCertificate: f[0] };
    case "outcomeRequest":
      return undefined;
  }
}

Deno.test("messages: readers refuse fields of the wrong shape", async () => {
  const f = await fixture(await postQuantum, 1, 0);
  const { roster, session } = f;
  const open = async (type: MessageType, sender: number, fields: Value[], body?: Uint8Array) =>
    openFrame(
      await sealFrame(type, session, sender, fields, f.fed.signers[sender], roster.mode, body),
      roster,
      sender,
    );

  // Every reader checks the type; every reader checks the field count.
  const cosign = await open("cosign", 1, cosignFields({ certificateHash: f.rng(32) }));
  assertThrowsRefusal(() => readApproval(cosign), "wrong-type");
  assertThrowsRefusal(() => readCertificate(cosign, roster), "wrong-type");
  assertThrowsRefusal(() => readUnmask(cosign, roster), "wrong-type");
  assertThrowsRefusal(() => expectType(cosign, "approval"), "wrong-type");
  const extra = await open("cosign", 1, [...cosignFields({ certificateHash: f.rng(32) }), 1]);
  assertThrowsRefusal(() => readCosign(extra), "malformed");

  // Advertised keys with the other mode's lengths.
  const classicalKeys = { shareKey: f.rng(32), maskKey: f.rng(32), commitment: f.rng(32) };
  const adv = await open("advertiseKeys", 2, advertiseKeysFields(classicalKeys));
  assertThrowsRefusal(() => readAdvertiseKeys(adv, roster), "wrong-length");

  // Share entries: out of order, for the sender itself, attachments of the wrong direction.
  const e = (sender: number, recipient: number) => entry(f, sender, recipient, recipient, true);
  const shares = (sender: number, entries: ShareEntry[], signature = f.rng(3309)) =>
    open("shareKeys", sender, shareKeysFields({ entries, signature }, roster.mode));
  const unordered = await shares(1, [e(1, 3), e(1, 2)]);
  assertThrowsRefusal(() => readShareKeys(unordered, roster), "malformed");
  const self = await shares(1, [e(1, 1)]);
  assertThrowsRefusal(() => readShareKeys(self, roster), "inconsistent-lists");
  // Member 2 sends to lower member 0: it must not attach a mask ciphertext or a wrap.
  const wrongDirection = await shares(2, [{ ...e(2, 0), maskKemCt: f.rng(1120) }]);
  assertThrowsRefusal(() => readShareKeys(wrongDirection, roster), "wrong-length");
  const duplicate = await shares(1, [e(1, 2), e(1, 2)]);
  assertThrowsRefusal(() => readShareKeys(duplicate, roster), "malformed");
  const outside = await shares(1, [{ ...e(1, 3), peer: 4 }]);
  assertThrowsRefusal(() => readShareKeys(outside, roster), "malformed");
  // Post-quantum ShareKeys: without their root signature and paths, or with a short signature.
  const unsigned = await open(
    "shareKeys",
    1,
    shareKeysFields({ entries: [e(1, 2)], signature: new Uint8Array(0) }, "classical"),
  );
  assertThrowsRefusal(() => readShareKeys(unsigned, roster), "malformed");
  const shortSignature = await shares(1, [e(1, 2)], f.rng(3308));
  assertThrowsRefusal(() => readShareKeys(shortSignature, roster), "wrong-length");
  // Paths: longer than the roster's largest tree needs, or with a node of the wrong length.
  const longPath = await shares(1, [{ ...e(1, 2), path: [...e(1, 2).path, f.rng(32)] }]);
  assertThrowsRefusal(() => readShareKeys(longPath, roster), "malformed");
  const shortNode = await shares(1, [{ ...e(1, 2), path: [f.rng(31)] }]);
  assertThrowsRefusal(() => readShareKeys(shortNode, roster), "wrong-length");
  const read = readShareKeys(await shares(1, [e(1, 2), e(1, 3)]), roster);
  assertEquals(read.entries.map((x) => x.leaf), [0, 1], "a ShareKeys leaf index is its position");
  const delivered = (entries: ShareEntry[], mode: Roster["mode"]) =>
    open(
      "shareDelivery",
      0,
      shareDeliveryFields({ u2: [0, 1, 2, 3], entries }, { ...roster, mode }),
    );
  const d = (sender: number) => entry(f, sender, 3, sender, false);
  assertEquals(
    readShareDelivery(await delivered([d(1)], roster.mode), roster, 3).entries[0].signature
      .length,
    ML_DSA65_SIGNATURE_LENGTH,
  );
  const unsignedDelivery = await delivered([d(1)], "classical");
  assertThrowsRefusal(() => readShareDelivery(unsignedDelivery, roster, 3), "malformed");
  const emptySignature = await delivered([{ ...d(1), signature: new Uint8Array(0) }], roster.mode);
  assertThrowsRefusal(() => readShareDelivery(emptySignature, roster, 3), "wrong-length");
  // A leaf index no tree of this roster has.
  const farLeaf = await delivered([{ ...d(1), leaf: 2 ** d(1).path.length }], roster.mode);
  assertThrowsRefusal(() => readShareDelivery(farLeaf, roster, 3), "malformed");

  // Member lists: unsorted, outside the roster.
  const request = await open("consistencyRequest", 0, [[0, 2, 1], [0]]);
  assertThrowsRefusal(() => readConsistencyRequest(request, roster), "malformed");
  const foreign = await open("consistencyRequest", 0, [[0, 1, 2], [0, 4]]);
  assertThrowsRefusal(() => readConsistencyRequest(foreign, roster), "not-member");

  // Unmask shares: owners out of order, shares of the wrong length.
  const share = () => f.rng(SHARE_LENGTH);
  const unsorted = await open("unmask", 1, [[[2, share()], [1, share()]], []]);
  assertThrowsRefusal(() => readUnmask(unsorted, roster), "malformed");
  const shortShare = await open("unmask", 1, [[[2, share().subarray(1)]], []]);
  assertThrowsRefusal(() => readUnmask(shortShare, roster), "wrong-length");

  // Certificates: a total weight beyond 32 bits.
  const heavy = await open(
    "certificate",
    0,
    [f.rng(32), [0, 1, 2], [], f.rng(32), 2 ** 32],
    f.rng(4 * (roster.dim + 1)),
  );
  assertThrowsRefusal(() => readCertificate(heavy, roster), "malformed");

  // Lists of frames that are not byte strings.
  const list = await open("keyList", 0, [[f.advertFrames[0], 5]]);
  assertThrowsRefusal(() => readKeyList(list, roster), "malformed");
  const approvals = await open("unmaskRequest", 0, [[0, 1, 2], [], ["x"]]);
  assertThrowsRefusal(() => readUnmaskRequest(approvals, roster), "malformed");
});
