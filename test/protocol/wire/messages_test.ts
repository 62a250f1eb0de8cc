/**
 * Wire messages (protocol/messages.ts): every message type round-trips through `sealFrame`,
 * `openFrame` and its `read*` parser in both modes; real frames of the largest size a roster
 * allows stay within `frameLimit`; and `openFrame` refuses bad headers with the documented
 * codes. (Forgeries and replays across sessions are the adversary suite's.)
 */
import { assert, assertEquals } from "../../_assert.ts";
import { encode, type Value } from "../../../protocol/encoding/codec.ts";
import {
  ED25519_SIGNATURE_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
  type Rng,
} from "../../../protocol/crypto/mod.ts";
import type { RefusalCode } from "../../../protocol/errors.ts";
import {
  type AdvertiseKeys,
  advertiseKeysFields,
  approvalFields,
  certificateFields,
  consistencyRequestFields,
  cosignFields,
  maskedInputFields,
  readAdvertiseKeys,
  readApproval,
  readCertificate,
  readConsistencyRequest,
  readCosign,
  readKeyList,
  readMaskedInput,
  readShareDelivery,
  readShareKeys,
  readUnmask,
  readUnmaskRequest,
  shareDeliveryFields,
  shareKeysFields,
  unmaskFields,
  unmaskRequestFields,
} from "../../../protocol/wire/messages.ts";
import {
  entryLengths,
  SEALED_SHARES_LENGTH,
  SHARE_LENGTH,
  type ShareEntry,
  shareEntryPayload,
  verifyShareEntry,
} from "../../../protocol/wire/share_entry.ts";
import {
  type Envelope,
  expectType,
  frameLimit,
  hybridSigned,
  maxFrameSize,
  type MessageType,
  openFrame,
  sealFrame,
  TAG,
  TO_LEADER,
  verifyEnvelope,
} from "../../../protocol/wire/frame.ts";
import type { Roster } from "../../../protocol/federation/roster.ts";
import { RoundKeys } from "../../../protocol/round/keys.ts";
import {
  MAX_ROUND,
  type Session,
  sessionHash,
  sessionOf,
} from "../../../protocol/federation/session.ts";
import { all, assertThrowsRefusal, type Federation, federation, rngFor } from "../_fixtures.ts";
import { craftFrame, header } from "../_frames.ts";
import { flipBit } from "../crypto/_helpers.ts";

const TYPES = Object.keys(TAG) as MessageType[];

/** Everything needed to build messages of every type for one session. */
interface Fixture {
  readonly fed: Federation;
  readonly roster: Roster;
  readonly session: Session;
  readonly adverts: AdvertiseKeys[];
  readonly advertFrames: Uint8Array[];
  readonly approvalFrames: Uint8Array[];
  readonly rng: Rng;
}

async function fixture(fed: Federation, round = MAX_ROUND - 1, view = MAX_ROUND - 1) {
  const { roster, signers } = fed;
  const session = sessionOf(roster, round, view);
  const hash = sessionHash(session);
  const rng = rngFor("messages", roster.mode, roster.members.length);
  const adverts: AdvertiseKeys[] = [];
  const advertFrames: Uint8Array[] = [];
  const approvalFrames: Uint8Array[] = [];
  for (const [i, signer] of signers.entries()) {
    const keys = await RoundKeys.generate(roster.mode, hash, i, rng);
    adverts.push(keys.advertise);
    advertFrames.push(
      await sealFrame(
        "advertiseKeys",
        session,
        i,
        advertiseKeysFields(keys.advertise),
        signer,
        roster.mode,
      ),
    );
    approvalFrames.push(
      await sealFrame(
        "approval",
        session,
        i,
        approvalFields({ u2Hash: rng(32), u3Hash: rng(32) }),
        signer,
        roster.mode,
      ),
    );
  }
  return { fed, roster, session, adverts, advertFrames, approvalFrames, rng } satisfies Fixture;
}

/** A share entry between `sender` and `recipient` with every attachment its direction has. */
function entry(f: Fixture, sender: number, recipient: number, peer: number, wrap: boolean) {
  const len = entryLengths(f.roster.mode, sender, recipient);
  return {
    peer,
    sealed: f.rng(SEALED_SHARES_LENGTH),
    shareKemCt: f.rng(len.shareKemCt),
    maskKemCt: f.rng(len.maskKemCt),
    wrap: wrap ? f.rng(len.wrap) : new Uint8Array(0),
    signature: f.rng(len.signature),
  } satisfies ShareEntry;
}

/**
 * The sender, fields and body of the largest message of `type` the roster allows: every list
 * as long as it can be, every optional attachment present, the highest indices.
 */
function largest(
  f: Fixture,
  type: MessageType,
): { sender: number; fields: Value[]; body?: Uint8Array } {
  const { roster } = f;
  const n = roster.members.length;
  const last = n - 1;
  const vector = f.rng(4 * (roster.dim + 1));
  switch (type) {
    case "advertiseKeys":
      return { sender: last, fields: advertiseKeysFields(f.adverts[last]) };
    case "keyList":
      return { sender: last, fields: [f.advertFrames] };
    case "shareKeys":
      // Member 0 encapsulates to every other member: all attachments present.
      return {
        sender: 0,
        fields: shareKeysFields(
          { entries: all(f).slice(1).map((r) => entry(f, 0, r, r, true)) },
          roster.mode,
        ),
      };
    case "shareDelivery":
      // The last member receives a ciphertext from every lower member.
      return {
        sender: 0,
        fields: shareDeliveryFields({
          u2: all(f),
          entries: all(f).slice(0, last).map((s) => entry(f, s, last, s, false)),
        }, roster.mode),
      };
    case "maskedInput":
      return {
        sender: last,
        fields: maskedInputFields({ u2Hash: f.rng(32), vectorHash: f.rng(32) }),
        body: vector,
      };
    case "consistencyRequest":
      return { sender: 0, fields: consistencyRequestFields({ u2: all(f), u3: all(f) }) };
    case "approval":
      return { sender: last, fields: approvalFields({ u2Hash: f.rng(32), u3Hash: f.rng(32) }) };
    case "unmaskRequest":
      return {
        sender: 0,
        fields: unmaskRequestFields({
          alive: all(f).slice(0, n - 1),
          dropped: [last],
          approvals: f.approvalFrames,
        }),
      };
    case "unmask":
      return {
        sender: last,
        fields: unmaskFields({
          selfShares: all(f).slice(0, n - 1).map((o) => [o, f.rng(SHARE_LENGTH)] as const),
          maskShares: [[last, f.rng(SHARE_LENGTH)]],
        }),
      };
    case "certificate":
      return {
        sender: 0,
        fields: certificateFields({
          u2Hash: f.rng(32),
          u3: all(f),
          approvals: f.approvalFrames,
          aggregateHash: f.rng(32),
          totalWeight: 2 ** 32 - 1,
        }),
        body: vector,
      };
    case "cosign":
      return { sender: last, fields: cosignFields({ certificateHash: f.rng(32) }) };
  }
}

async function seal(f: Fixture, type: MessageType) {
  const { sender, fields, body } = largest(f, type);
  const frame = await sealFrame(
    type,
    f.session,
    sender,
    fields,
    f.fed.signers[sender],
    f.roster.mode,
    body,
  );
  return { sender, fields, body, frame };
}

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
  }
}

const classical = federation({ n: 7, dim: 33, federation: "f".repeat(64) });
const postQuantum = federation({ n: 4, dim: 17, mode: "post-quantum" });

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
    // Entries carry a signature element in post-quantum mode only (else it reads as empty).
    case "shareKeys":
      return {
        entries: (f[0] as Uint8Array[][]).map((
          [peer, sealed, shareKemCt, maskKemCt, wrap, signature],
        ) => ({
          peer,
          sealed,
          shareKemCt,
          maskKemCt,
          wrap,
          signature: signature ?? new Uint8Array(0),
        })),
      };
    case "shareDelivery":
      return {
        u2: f[0],
        entries: (f[1] as Uint8Array[][]).map((
          [peer, sealed, shareKemCt, maskKemCt, signature],
        ) => ({
          peer,
          sealed,
          shareKemCt,
          maskKemCt,
          wrap: new Uint8Array(0),
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
  }
}

Deno.test("messages: hybrid signatures on adverts, approvals, certificates, cosigns", async () => {
  const hybrid = new Set(["advertiseKeys", "approval", "certificate", "cosign"]);
  const c = (await classical).roster;
  const p = (await postQuantum).roster;
  for (const type of TYPES) {
    assertEquals(hybridSigned(c, type), false, type);
    assertEquals(hybridSigned(p, type), hybrid.has(type), type);
  }
  assertEquals(
    [...TO_LEADER].sort(),
    ["advertiseKeys", "approval", "maskedInput", "shareKeys", "unmask"],
  );
});

for (
  const [name, make] of [
    ["classical, n = 7", () => classical],
    ["classical, n = 300", () => federation({ n: 300, dim: 100, seed: "large" })],
    ["post-quantum, n = 4", () => postQuantum],
    ["post-quantum, n = 9", () => federation({ n: 9, dim: 5, mode: "post-quantum", seed: "pq9" })],
    // Indices above 255 take three bytes: the widest entries (all attachments and a signature).
    [
      "post-quantum, n = 300",
      () => federation({ n: 300, dim: 5, mode: "post-quantum", seed: "pq300" }),
    ],
  ] as const
) {
  Deno.test(`messages (${name}): the largest real frames fit their frameLimit`, async () => {
    const f = await fixture(await make());
    const { roster } = f;
    let largestFrame = 0;
    for (const type of TYPES) {
      const { sender, frame } = await seal(f, type);
      assert(
        frame.length <= frameLimit(roster, type),
        `${type}: ${frame.length} > ${frameLimit(roster, type)}`,
      );
      openFrame(frame, roster, sender);
      largestFrame = Math.max(largestFrame, frame.length);
    }
    assertEquals(maxFrameSize(roster), Math.max(...TYPES.map((t) => frameLimit(roster, t))));
    assert(largestFrame <= maxFrameSize(roster));
  });
}

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

Deno.test("messages: a frame over its type's limit is refused as oversized", async () => {
  const f = await fixture(await classical, 1, 0);
  const { roster } = f;
  const signer = f.fed.signers[2];
  // An approval padded with one large extra field: far under maxFrameSize, over its own limit.
  const padding = new Uint8Array(frameLimit(roster, "approval"));
  const padded = await craftFrame(
    [...header("approval", f.session, 2), f.rng(32), f.rng(32), padding],
    signer,
    false,
  );
  assert(padded.length < maxFrameSize(roster));
  assertThrowsRefusal(() => openFrame(padded, roster, 2), "oversized");
  // Anything over the largest limit is refused before it is parsed.
  const huge = new Uint8Array(maxFrameSize(roster) + 1).fill(0xff);
  assertThrowsRefusal(() => openFrame(huge, roster, 2), "oversized");
});

/** A frame signed by member 1 of the fixture's roster, from payload values. */
function crafter(f: Fixture, sender = 1) {
  return (payload: Value[], options?: Parameters<typeof craftFrame>[3]) =>
    craftFrame(payload, f.fed.signers[sender], false, options);
}

Deno.test("messages: openFrame header refusals", async () => {
  const f = await fixture(await classical, 3, 1);
  const { roster } = f;
  const n = roster.members.length;
  const craft = crafter(f);
  const approval = [f.rng(32), f.rng(32)];
  const refused = async (
    payload: Value[],
    code: RefusalCode,
    peer: number | undefined = 1,
    options?: Parameters<typeof craftFrame>[3],
  ) => {
    const frame = await craft(payload, options);
    return assertThrowsRefusal(() => openFrame(frame, roster, peer), code);
  };

  // A well-formed crafted frame is accepted (the crafting itself is sound).
  const ok = await craft([...header("approval", f.session, 1), ...approval]);
  assertEquals(openFrame(ok, roster, 1).type, "approval");
  assertEquals(openFrame(ok, roster).sender, 1, "without a transport peer, any member may relay");

  // Unknown tag, or a tag that is not text.
  const withTag = (tag: Value) => [tag, ...header("approval", f.session, 1).slice(1), ...approval];
  await refused(withTag("fedagg/v1/msg/bogus"), "wrong-type");
  await refused(withTag("fedagg/v1/msg/approvals"), "wrong-type");
  await refused(withTag(""), "wrong-type");
  await refused(withTag(7), "malformed");

  // Another federation, another roster, a session number out of range.
  const session = (change: Partial<Session>) => header("approval", { ...f.session, ...change }, 1);
  await refused([...session({ federation: "other" }), ...approval], "wrong-session");
  await refused([...session({ federation: "" }), ...approval], "wrong-session");
  await refused([...session({ rosterHash: new Uint8Array(32) }), ...approval], "wrong-session");
  await refused([...session({ rosterHash: roster.hash.subarray(1) }), ...approval], "wrong-length");
  const lateRound = session({});
  lateRound[3] = MAX_ROUND;
  await refused([...lateRound, ...approval], "malformed");
  const lateView = session({});
  lateView[4] = MAX_ROUND;
  await refused([...lateView, ...approval], "malformed");

  // Sender out of range, or not the transport peer the frame arrived from.
  await refused([...header("approval", f.session, n), ...approval], "not-member", undefined);
  await refused([...header("approval", f.session, 2 ** 40), ...approval], "not-member", undefined);
  assertThrowsRefusal(() => openFrame(ok, roster, 2), "not-member");
  assertThrowsRefusal(() => openFrame(ok, roster, 0), "not-member");

  // A body on a type without one.
  const body = new Uint8Array(4 * (roster.dim + 1));
  for (const type of TYPES.filter((t) => t !== "maskedInput" && t !== "certificate")) {
    const e = await refused([...header(type, f.session, 1), ...approval], "malformed", 1, { body });
    assert(e.message.includes("must not carry a body"), `${type}: ${e.message}`);
  }
  // Bodies where they belong; a masked input without one, or of the wrong length, fails its reader.
  const maskedHeader = [...header("maskedInput", f.session, 1), f.rng(32), f.rng(32)];
  assertEquals(openFrame(await craft(maskedHeader, { body }), roster, 1).body, body);
  const bodiless = openFrame(await craft(maskedHeader), roster, 1);
  assertEquals(bodiless.body, null);
  assertThrowsRefusal(() => readMaskedInput(bodiless, roster), "malformed");
  const short = openFrame(await craft(maskedHeader, { body: body.subarray(4) }), roster, 1);
  assertThrowsRefusal(() => readMaskedInput(short, roster), "wrong-length");

  // Frame structure.
  const payload = encode([...header("approval", f.session, 1), ...approval]);
  const sig = new Uint8Array(ED25519_SIGNATURE_LENGTH);
  const structural: [string, Uint8Array, RefusalCode][] = [
    ["not an array", encode(payload), "malformed"],
    ["two elements", encode([payload, sig]), "malformed"],
    ["five elements", encode([payload, sig, null, body, body]), "malformed"],
    ["payload not bytes", encode([[1], sig, null]), "malformed"],
    ["empty payload", encode([new Uint8Array(0), sig, null]), "wrong-length"],
    ["short ed25519", encode([payload, sig.subarray(1), null]), "wrong-length"],
    ["ed25519 not bytes", encode([payload, null, null]), "malformed"],
    ["payload not an array", encode([encode(5), sig, null]), "malformed"],
    ["payload too short", encode([encode(["a", "b"]), sig, null]), "malformed"],
    ["payload with a map", encode([new Uint8Array([0xa0]), sig, null]), "malformed"],
    [
      "payload with trailing bytes",
      encode([new Uint8Array([...payload, 0]), sig, null]),
      "malformed",
    ],
    [
      "frame with trailing bytes",
      new Uint8Array([...encode([payload, sig, null]), 0]),
      "malformed",
    ],
  ];
  for (const [what, frame, code] of structural) {
    assert(assertThrowsRefusal(() => openFrame(frame, roster, 1), code).message.length > 0, what);
  }
});

Deno.test("messages: the ML-DSA-65 part is present exactly where it is due", async () => {
  const pqFix = await fixture(await postQuantum, 2, 0);
  const cFix = await fixture(await classical, 2, 0);
  const fake = new Uint8Array(ML_DSA65_SIGNATURE_LENGTH);
  for (const type of TYPES) {
    const withBody = type === "maskedInput" || type === "certificate";
    // Post-quantum roster: hybrid types without their ML-DSA part, the others with one.
    const pqPayload = [...header(type, pqFix.session, 1), new Uint8Array(32)];
    const body = withBody ? new Uint8Array(4 * (pqFix.roster.dim + 1)) : undefined;
    const hybrid = hybridSigned(pqFix.roster, type);
    const signer = pqFix.fed.signers[1];
    const wrongForm = await craftFrame(pqPayload, signer, false, {
      body,
      signature: (s) => [s.ed25519, hybrid ? null : fake],
    });
    assertThrowsRefusal(() => openFrame(wrongForm, pqFix.roster, 1), "bad-signature");
    const rightForm = await craftFrame(pqPayload, signer, hybrid, { body });
    assertEquals(openFrame(rightForm, pqFix.roster, 1).type, type);
    if (hybrid) {
      const truncated = await craftFrame(pqPayload, signer, true, {
        body,
        signature: (s) => [s.ed25519, s.mlDsa65!.subarray(1)],
      });
      assertThrowsRefusal(() => openFrame(truncated, pqFix.roster, 1), "wrong-length");
    }
    // Classical roster: never an ML-DSA part.
    const cPayload = [...header(type, cFix.session, 1), new Uint8Array(32)];
    const cBody = withBody ? new Uint8Array(4 * (cFix.roster.dim + 1)) : undefined;
    const withPq = await craftFrame(cPayload, cFix.fed.signers[1], false, {
      body: cBody,
      signature: (s) => [s.ed25519, fake],
    });
    assertThrowsRefusal(() => openFrame(withPq, cFix.roster, 1), "bad-signature");
  }
});

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
  const shares = (sender: number, entries: ShareEntry[]) =>
    open("shareKeys", sender, shareKeysFields({ entries }, roster.mode));
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
  // Post-quantum entries: without their signature element, or with a short signature.
  const unsigned = await open("shareKeys", 1, shareKeysFields({ entries: [e(1, 2)] }, "classical"));
  assertThrowsRefusal(() => readShareKeys(unsigned, roster), "malformed");
  const shortSignature = await shares(1, [{ ...e(1, 2), signature: f.rng(3308) }]);
  assertThrowsRefusal(() => readShareKeys(shortSignature, roster), "wrong-length");
  const delivered = (entries: ShareEntry[], mode: Roster["mode"]) =>
    open("shareDelivery", 0, shareDeliveryFields({ u2: [0, 1, 2, 3], entries }, mode));
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
