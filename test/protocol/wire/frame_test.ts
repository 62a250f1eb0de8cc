/**
 * The frame envelope (protocol/wire/frame.ts): which types carry the hybrid signature and which
 * go to the leader; real frames of the largest size a roster allows stay within `frameLimit` and
 * `maxFrameSize`, and a frame over its type's limit is refused as oversized; `openFrame` refuses
 * bad tags, sessions, senders, bodies and frame structures with the documented codes; the
 * ML-DSA-65 part is present exactly where it is due. (Forgeries and replays across sessions are
 * the adversary suite's.)
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { encode, type Value } from "../../../protocol/encoding/codec.ts";
import {
  ED25519_SIGNATURE_LENGTH,
  ML_DSA65_SIGNATURE_LENGTH,
} from "../../../protocol/crypto/mod.ts";
import type { RefusalCode } from "../../../protocol/errors.ts";
import { readMaskedInput } from "../../../protocol/wire/messages.ts";
import {
  frameHeader,
  frameLimit,
  frameRound,
  hybridSigned,
  maxFrameSize,
  openFrame,
  TO_LEADER,
} from "../../../protocol/wire/frame.ts";
import { MAX_ROUND, type Session } from "../../../protocol/federation/session.ts";
import { assertThrowsRefusal, federation } from "../_fixtures.ts";
import { craftFrame, header } from "../_frames.ts";
import { classical, type Fixture, fixture, postQuantum, seal, TYPES } from "./_helpers.ts";

Deno.test("messages: hybrid signatures on adverts, approvals, certificates, cosigns, leaves", async () => {
  const hybrid = new Set(["advertiseKeys", "approval", "certificate", "cosign", "leave"]);
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

Deno.test("messages: frameHeader reads what openFrame finds, in place, and never throws", async () => {
  for (const fed of [await classical, await postQuantum]) {
    const f = await fixture(fed);
    for (const type of TYPES) {
      const { frame } = await seal(f, type);
      const env = openFrame(frame, f.roster);
      const header = frameHeader(frame);
      assert(header !== undefined, type);
      assertEquals(header.type, env.type);
      assertEquals(header.sender, env.sender);
      assertEquals(header.session, env.session);
      // Truncated frames: the header reads until the bytes it needs are cut off, then not at all.
      const cut = frame.subarray(0, 40);
      assertEquals(frameHeader(cut), undefined, `${type} cut to 40 bytes`);
      for (let len = 0; len < Math.min(frame.length, 300); len++) {
        const h = frameHeader(frame.subarray(0, len));
        if (h !== undefined) assertEquals(h, header, `${type} cut to ${len} bytes`);
      }
    }
  }
  const f = await fixture(await classical, 3, 1);
  const sig = new Uint8Array(ED25519_SIGNATURE_LENGTH);
  const payload = (...p: Value[]) => encode([encode(p), sig, null]);
  const h = header("approval", f.session, 1);
  for (
    const [what, frame] of [
      ["empty", new Uint8Array(0)],
      ["not an array", encode(encode(h))],
      ["two elements", encode([encode(h), sig])],
      ["payload not bytes", encode([h, sig, null])],
      ["payload too short", payload(...h.slice(0, 5))],
      ["unknown tag", payload("fedagg/v1/msg/bogus", ...h.slice(1))],
      ["tag not text", payload(7, ...h.slice(1))],
      ["round not a number", payload(...h.slice(0, 3), "3", ...h.slice(4))],
      ["sender not a number", payload(...h.slice(0, 5), new Uint8Array(1))],
      ["invalid UTF-8 tag", encode([new Uint8Array([0x86, 0x61, 0xff]), sig, null])],
    ] as const
  ) {
    assertEquals(frameHeader(frame), undefined, what);
  }
  assertEquals(frameHeader(payload(...h))?.sender, 1, "the well-formed variant reads");
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
  for (const type of TYPES.filter((t) => !["maskedInput", "certificate", "outcome"].includes(t))) {
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

Deno.test("messages: openFrame reads the envelope in place and refuses non-canonical envelopes", async () => {
  const f = await fixture(await classical, 3, 1);
  const { roster } = f;
  const craft = crafter(f);
  const approval = [f.rng(32), f.rng(32)];
  const frame = await craft([...header("approval", f.session, 1), ...approval]);
  const env = openFrame(frame, roster, 1);
  // The payload and signature are views into the frame, at the offsets the encoding puts them.
  assertEquals(env.payload.buffer, frame.buffer);
  assertEquals(env.signature.ed25519.buffer, frame.buffer);
  assertEquals(toHex(encode([env.payload, env.signature.ed25519, null])), toHex(frame));
  const body = new Uint8Array(4 * (roster.dim + 1)).fill(7);
  const masked = await craft([...header("maskedInput", f.session, 1), f.rng(32), f.rng(32)], {
    body,
  });
  const withBody = openFrame(masked, roster, 1);
  assertEquals(withBody.body, body);
  assertEquals(withBody.body!.buffer, masked.buffer);

  // The same items with a head longer than needed (the strict decoder's refusal), or a byte
  // string running past the end: refused as malformed, as before the in-place reading.
  const [payload, ed25519] = [env.payload, env.signature.ed25519];
  const bytesHead = (n: number, wide: boolean) =>
    wide ? [0x59, n >> 8, n & 0xff] : n < 256 ? [0x58, n] : [0x59, n >> 8, n & 0xff];
  const envelope = (arrayHead: number[], payloadWide: boolean, edWide: boolean) =>
    new Uint8Array([
      ...arrayHead,
      ...bytesHead(payload.length, payloadWide),
      ...payload,
      ...bytesHead(64, edWide),
      ...ed25519,
      0xf6,
    ]);
  const wide = payload.length >= 256; // its own head is already the 2-byte length form
  assertEquals(toHex(envelope([0x83], wide, false)), toHex(frame), "the canonical form");
  for (
    const [what, bad] of [
      ["array head in two bytes", envelope([0x98, 0x03], wide, false)],
      ["signature length in three bytes", envelope([0x83], wide, true)],
      ["truncated", frame.subarray(0, frame.length - 1)],
      ["a byte past the end", new Uint8Array([...frame, 0xf6])],
    ] as const
  ) {
    const e = assertThrowsRefusal(() => openFrame(bad, roster, 1), "malformed");
    assert(e.message.length > 0, what);
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

Deno.test("messages: frameRound reads the round from the payload alone", async () => {
  const f = await fixture(await classical, 5, 2);
  for (const type of TYPES) {
    const { frame } = await seal(f, type);
    assertEquals(frameRound(frame), 5, type);
  }
  // A masked input's body is not parsed: a frame whose body is cut short still names its round
  // (openFrame refuses it).
  const { frame } = await seal(f, "maskedInput");
  assertEquals(frameRound(frame.subarray(0, frame.length - 3)), 5);
  assertThrowsRefusal(() => openFrame(frame.subarray(0, frame.length - 3), f.roster), "malformed");
  // An unknown tag still names its round: refusing it (wrong-type) is openFrame's, after routing.
  const unknown = encode([
    encode(["no-such-tag", "fed", new Uint8Array(32), 5, 0, 1]),
    new Uint8Array(64),
    null,
  ]);
  assertEquals(frameRound(unknown), 5);
  assertEquals(frameHeader(unknown), undefined);
  // Bytes that do not decode as far as the round.
  for (
    const bad of [
      new Uint8Array(0),
      encode(7),
      encode([7, new Uint8Array(3)]),
      encode([new Uint8Array(3)]),
      encode([encode(["tag", 1, 2])]),
      encode([encode(["tag", 1, 2, "round"])]),
      frame.subarray(0, 10),
    ]
  ) {
    assertEquals(frameRound(bad), undefined);
  }
});

Deno.test("messages: openFrame reads a masked input's body in place, not as a copy", async () => {
  const f = await fixture(await classical, 5, 2);
  const { frame, sender } = await seal(f, "maskedInput");
  const env = openFrame(frame, f.roster, sender);
  assert(env.body !== null && env.body.length > 0);
  assertEquals(env.body.buffer, frame.buffer);
  assertEquals(env.payload.buffer, frame.buffer);
});
