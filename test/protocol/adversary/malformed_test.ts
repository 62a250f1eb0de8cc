/**
 * Adversarial tests: oversized and malformed frames (section 10). Frames over the size limit must
 * be refused as `oversized`; random bytes, truncations, non-canonical CBOR, wrong field counts and
 * types, and malformed member lists and entries at every stage (also when validly signed) as
 * `malformed`, `wrong-length`, `not-member` or `inconsistent-lists`. A refused frame causes no
 * sends, and the round completes undisturbed.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { encode, type Value } from "../../../protocol/encoding/codec.ts";
import { sha256 } from "../../../protocol/crypto/mod.ts";
import type { RefusalCode } from "../../../protocol/errors.ts";
import { consistencyRequestFields } from "../../../protocol/wire/messages.ts";
import {
  hybridSigned,
  maxFrameSize,
  type MessageType,
  sealFrame,
  TAG,
} from "../../../protocol/wire/frame.ts";
import { all, assertRefused } from "../_fixtures.ts";
import { fieldsOf, frameOf, rawFrame, rewritePayload } from "../_frames.ts";
import { scenario, SMALL } from "./_attacks.ts";

// =============================================================================================
// 10. Oversized and malformed frames.

/** Hand-written CBOR that the canonical decoder must refuse. */
function nested(depth: number): Uint8Array {
  const out = new Uint8Array(depth + 1).fill(0x81);
  out[depth] = 0x00;
  return out;
}

Deno.test("10. oversized and malformed frames → oversized / malformed, never a crash", () =>
  scenario(SMALL, async (fed) => {
    const L = fed.leader(0);
    const [m, x] = fed.others([L]);
    fed.hold = (w) => w.type === "advertiseKeys";
    await fed.submitAll(0);
    const genuine = fed.held.find((w) => w.from === m)!.frame;
    const session = fed.session(0);
    const signer = fed.signers[m];
    const mode = fed.roster.mode;
    // Frame-level checks happen before routing, so every endpoint refuses alike; message fields
    // are read by the machine the frame is for (the leader, for an advert).
    const check = async (frame: Uint8Array, code: RefusalCode, targets = [L, x]) => {
      for (const target of targets) {
        const sent = fed.emitted.length;
        const events = await fed.inject(target, frame, m);
        assertRefused(events, code, m);
        assertEquals(fed.emitted.length, sent, "a refused frame causes no sends");
      }
    };

    // Size limits.
    const padded = await sealFrame(
      "advertiseKeys",
      session,
      m,
      [...fieldsOf(genuine), new Uint8Array(20_000)],
      signer,
      mode,
    );
    assert(padded.length < maxFrameSize(fed.roster));
    await check(padded, "oversized");
    await check(new Uint8Array(maxFrameSize(fed.roster) + 1), "oversized");

    // Random bytes and truncations.
    for (let i = 0; i < 24; i++) {
      const bytes = sha256(new TextEncoder().encode(`random-${i}`));
      const junk = new Uint8Array(3 + (i * 37) % 500);
      for (let j = 0; j < junk.length; j++) junk[j] = bytes[j % 32] ^ (j * 31);
      await check(junk, "malformed");
    }
    for (const cut of [0, 1, 2, 10, 40, genuine.length >> 1, genuine.length - 1]) {
      await check(genuine.subarray(0, cut), "malformed");
    }

    // Non-canonical CBOR.
    const raw = rawFrame(genuine);
    const withTail = (tail: number[]) => Uint8Array.from([...genuine, ...tail]);
    const cases: [string, Uint8Array][] = [
      ["map", Uint8Array.from([0xa1, 0x01, 0x02])],
      ["float", Uint8Array.from([0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0])],
      ["half float", Uint8Array.from([0xf9, 0x3c, 0x00])],
      ["tag", Uint8Array.from([0xc2, 0x41, 0x01])],
      ["negative integer", Uint8Array.from([0x83, 0x20, 0x20, 0x20])],
      ["undefined", Uint8Array.from([0xf7])],
      ["indefinite array", Uint8Array.from([0x9f, 0x01, 0xff])],
      ["non-minimal integer", Uint8Array.from([0x18, 0x01])],
      ["trailing bytes", withTail([0x00])],
      ["nested arrays", nested(60_000)],
      ["empty", new Uint8Array(0)],
    ];
    for (const [, frame] of cases) await check(frame, "malformed");
    // The same inside a signed payload.
    const payloadCases: Uint8Array[] = [
      Uint8Array.from([0xa1, 0x01, 0x02]),
      nested(20_000),
      encode([TAG.advertiseKeys, session.federation]),
    ];
    for (const payload of payloadCases) {
      const sig = await signer.sign(payload, hybridSigned(fed.roster, "advertiseKeys"));
      await check(frameOf({ payload, ed25519: sig.ed25519, mlDsa65: sig.mlDsa65 }), "malformed");
    }

    // Wrong field counts and types, validly signed.
    const sealed = (fields: Value[]) =>
      sealFrame("advertiseKeys", session, m, fields, signer, mode);
    const f = fieldsOf(genuine);
    await check(encode([raw.payload, raw.ed25519]), "malformed");
    await check(encode([raw.payload, raw.ed25519, null, new Uint8Array(4), 1]), "malformed");
    await check(await sealed(f.slice(0, 2)), "malformed", [L]);
    await check(await sealed([...f, f[0]]), "malformed", [L]);
    await check(await sealed([7, f[1], f[2]]), "malformed", [L]);
    await check(await sealed(["key", f[1], f[2]]), "malformed", [L]);
    await check(await sealed([[f[0]], f[1], f[2]]), "malformed", [L]);
    await check(await sealed([(f[0] as Uint8Array).subarray(1), f[1], f[2]]), "wrong-length", [L]);
    for (const [i, value] of [[3, "zero"], [4, new Uint8Array(1)], [5, [m]], [0, 5]] as const) {
      await check(
        rewritePayload(genuine, (p) => {
          p[i] = value;
          return p;
        }),
        "malformed",
      );
    }
    await check(encode([raw.payload, "signature", null]), "malformed");
    await check(encode([raw.payload, raw.ed25519.subarray(1), null]), "wrong-length");
    await check(encode([raw.payload, raw.ed25519, new Uint8Array(3309)]), "bad-signature");
    await check(encode([raw.payload, raw.ed25519, null, new Uint8Array(8)]), "malformed");

    fed.hold = undefined;
    fed.release();
    await fed.runToFinal(0);
    await fed.assertExact(0, fed.n);
  }));

Deno.test(
  "10. malformed member lists and entries at every stage (validly signed) → malformed / " +
    "not-member; the round is undisturbed",
  () =>
    scenario(SMALL, async (fed) => {
      const L = fed.leader(0);
      const [m, x] = fed.others([L]);
      const n = fed.n;
      const session = fed.session(0);
      const mode = fed.roster.mode;
      const byLeader = (type: MessageType, fields: Value[]) =>
        sealFrame(type, session, L, fields, fed.signers[L], mode);
      const byMember = (type: MessageType, fields: Value[], body?: Uint8Array) =>
        sealFrame(type, session, m, fields, fed.signers[m], mode, body);
      const expect = async (to: number, frame: Uint8Array, code: RefusalCode, from: number) =>
        assertRefused(await fed.inject(to, frame, from), code, from);
      const stage = async (type: MessageType) => {
        fed.hold = (w) => w.type === type;
        fed.release();
        await fed.deliver();
        fed.hold = undefined;
        assert(fed.held.length > 0, `${type} frames are held`);
      };

      // Key list (participant in stage advertise).
      await fed.submitAll(0);
      await stage("keyList");
      const adverts = fieldsOf(fed.held[0].frame)[0] as Uint8Array[];
      await expect(x, await byLeader("keyList", [[...adverts, ...adverts]]), "malformed", L);
      await expect(x, await byLeader("keyList", [[1, 2, 3]]), "malformed", L);
      await expect(x, await byLeader("keyList", [adverts, adverts]), "malformed", L);
      // ShareKeys (leader in stage share; m's genuine shares not yet accepted).
      fed.release();
      fed.hold = (w) => w.type === "shareKeys" && w.from === m;
      await fed.deliver();
      fed.hold = undefined;
      const shares = fieldsOf(fed.held.find((w) => w.from === m)!.frame)[0] as Value[][];
      await expect(L, await byMember("shareKeys", [[...shares].reverse()]), "malformed", m);
      await expect(L, await byMember("shareKeys", [[shares[0], shares[0]]]), "malformed", m);
      await expect(
        L,
        await byMember("shareKeys", [[[n, ...shares[0].slice(1)]]]),
        "malformed",
        m,
      );
      await expect(
        L,
        await byMember("shareKeys", [[["1", ...shares[0].slice(1)]]]),
        "malformed",
        m,
      );
      // Share delivery (participant in stage share).
      await stage("shareDelivery");
      const delivery = fed.held.find((w) => w.to === x)!.frame;
      const [u2, entries] = fieldsOf(delivery) as [number[], Value[][]];
      await expect(
        x,
        await byLeader("shareDelivery", [[...u2].reverse(), entries]),
        "malformed",
        L,
      );
      await expect(x, await byLeader("shareDelivery", [[u2[0], ...u2], entries]), "malformed", L);
      await expect(
        x,
        await byLeader("shareDelivery", [[...u2.slice(0, -1), n], entries]),
        "not-member",
        L,
      );
      await expect(
        x,
        await byLeader("shareDelivery", [u2, [...entries].reverse()]),
        "malformed",
        L,
      );
      // Consistency request (participant in stage masked).
      fed.release();
      await stage("consistencyRequest");
      const [cu2, cu3] = fieldsOf(fed.held[0].frame) as [number[], number[]];
      const cr = (a: Value, b: Value) => byLeader("consistencyRequest", [a, b]);
      await expect(x, await cr(cu2, [...cu3].reverse()), "malformed", L);
      await expect(x, await cr(cu2, [cu3[0], ...cu3]), "malformed", L);
      await expect(x, await cr(cu2, [...cu3.slice(0, -1), n]), "not-member", L);
      await expect(x, await cr(cu2, [...cu3.slice(0, -1), 2 ** 40]), "not-member", L);
      await expect(x, await cr(cu2, [...cu3.slice(0, -1), "4"]), "malformed", L);
      await expect(x, await cr(cu2, [new Uint8Array(1)]), "malformed", L);
      await expect(x, await cr(cu2, "all"), "malformed", L);
      await expect(
        x,
        await byLeader(
          "consistencyRequest",
          consistencyRequestFields({ u2: cu2, u3: [x] }, fed.roster),
        ),
        "inconsistent-lists",
        L,
      );
      // Unmask request (participant in stage consistency).
      fed.release();
      await stage("unmaskRequest");
      const [alive, dropped, approvals] = fieldsOf(fed.held[0].frame) as [
        number[],
        number[],
        Uint8Array[],
      ];
      const ur = (a: Value, d: Value, p: Value) => byLeader("unmaskRequest", [a, d, p]);
      await expect(x, await ur([...alive].reverse(), dropped, approvals), "malformed", L);
      await expect(x, await ur(alive, [n], approvals), "not-member", L);
      await expect(x, await ur(alive, dropped, [1, 2, 3, 4]), "malformed", L);
      await expect(x, await ur(alive, dropped, [...approvals, ...approvals]), "malformed", L);
      // Unmask (leader in stage unmask; m's genuine unmask not yet accepted).
      fed.release();
      fed.hold = (w) => w.type === "unmask" && w.from === m;
      await fed.deliver();
      fed.hold = undefined;
      const [selfShares, maskShares] = fieldsOf(fed.held[0].frame) as [Value[], Value[]];
      await expect(
        L,
        await byMember("unmask", [[...selfShares].reverse(), maskShares]),
        "malformed",
        m,
      );
      await expect(
        L,
        await byMember("unmask", [[selfShares[0], selfShares[0]], maskShares]),
        "malformed",
        m,
      );
      await expect(
        L,
        await byMember("unmask", [[[0, new Uint8Array(31)]], maskShares]),
        "wrong-length",
        m,
      );
      // Nothing above disturbed the round.
      fed.release();
      await fed.runToFinal(0);
      const final = await fed.assertExact(0, fed.n);
      assertEquals([...final.members], all(fed));
    }),
);
