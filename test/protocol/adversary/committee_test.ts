/**
 * Adversarial tests of the approval committee (`docs/protocol.md` §3, sparse traffic): on a
 * roster whose graph has a committee, an UnmaskRequest and a certificate carry exactly t_C
 * approvals of the round's committee, in the compact form; a member reveals nothing, and no
 * member takes a certificate, on fewer than t_C committee approvals — a set short of the quorum,
 * approvals of members off the committee, the committee of another round's seed, a duplicated
 * approval — each refused `insufficient-approvals` naming the leader and saying what did not
 * count; and a list longer than the committee is `malformed`. The same request with the genuine
 * quorum then makes the member reveal. The abandon rule needs t_C committee Leaves besides its
 * roster-wide count.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../../_assert.ts";
import { decode } from "../../../protocol/encoding/codec.ts";
import { approvalCommittee } from "../../../protocol/graph/committee.ts";
import { checkCertificate, sealCertificate } from "../../../protocol/certificate/certificate.ts";
import {
  encodeFinalCertificate,
  verifyFinalCertificate,
} from "../../../protocol/certificate/final.ts";
import { ProtocolError, type RefusalCode } from "../../../protocol/errors.ts";
import { abandonSigners, RoundLeaves } from "../../../protocol/round/leave_evidence.ts";
import { openFrame, sealFrame } from "../../../protocol/wire/frame.ts";
import { memberBitmap } from "../../../protocol/encoding/member_bitmap.ts";
import { fieldsOf } from "../_frames.ts";
import { cosignFields, unmaskRequestFields } from "../../../protocol/wire/messages.ts";
import { all, assertRefused } from "../_fixtures.ts";
import type { Federation } from "../_federation.ts";
import { approversOf, assertRevealedNothing, certificateOf, MODES, scenario } from "./_attacks.ts";

/** Ten members, k = 4, t = 7; a committee of 5 with quorum 4 (5 members are off it). */
const COMMITTEE = { n: 10, dim: 16, degree: 4, committee: { size: 5, quorum: 4 } } as const;
const QUORUM = COMMITTEE.committee.quorum;

/**
 * The round-0 committee, the members off it — the leader left out of both (its own approval
 * never crosses the network) — and each member's round-0 approval frame.
 */
function parts(fed: Federation) {
  const L = fed.leader(0);
  const committee = approvalCommittee(fed.roster, fed.session(0))!.filter((m) => m !== L);
  const off = all(fed, [L]).filter((m) => !committee.includes(m));
  const approval = (m: number) => fed.sent("approval", m, 0)[0].frame;
  return { committee, off, approval };
}

/**
 * The committee of a round whose committee shares fewer than t_C members with round 0's (the
 * leader of round 0 left out), when it still has t_C members.
 */
function otherSeedCommittee(fed: Federation, committee: readonly number[]): readonly number[] {
  for (let r = 1; r < 100; r++) {
    const other = approvalCommittee(fed.roster, fed.session(r))!.filter((m) => m !== fed.leader(0));
    const shared = other.filter((m) => committee.includes(m)).length;
    if (shared < QUORUM - 1 && other.length >= QUORUM) return other;
  }
  throw new Error("no round with a different enough committee");
}

for (const { name, pq } of MODES) {
  Deno.test(`committee (${name}): requests and the certificate carry t_C compact committee approvals`, () =>
    scenario({ ...COMMITTEE, pq }, async (fed) => {
      await fed.submitAll(0);
      await fed.runToFinal(0);
      const final = await fed.assertExact(0, fed.n);
      const committee = approvalCommittee(fed.roster, fed.session(0))!;
      // The certificate's approvals: exactly t_C, all of the round's committee.
      const approvers = approversOf(fed, final);
      assertEquals(approvers.length, QUORUM);
      assert(approvers.every((m) => committee.includes(m)), `${approvers} ⊄ ${committee}`);
      // On the wire: [signer, ed25519, mlDsa65 | null] entries, not frames.
      const request = fed.sent("unmaskRequest", fed.leader(0), 0)[0];
      const fields = decode(openFrame(request.frame, fed.roster).payload, 1e9, "t") as unknown[];
      const entries = fields[8] as unknown[][];
      assertEquals(entries.map((e) => e[0]), approvers);
      for (const e of entries) {
        assertEquals(e.length, 3);
        assertEquals((e[1] as Uint8Array).length, 64);
        assert(pq ? (e[2] as Uint8Array).length === 3309 : e[2] === null);
      }
      // Every member that approved got the request, committee member or not (the leader's own
      // never crosses the network).
      const to = fed.sent("unmaskRequest", fed.leader(0), 0).map((w) => w.to).sort((a, b) => a - b);
      assertEquals(to, all(fed, [fed.leader(0)]));
    }));
}

Deno.test("committee: an UnmaskRequest short of t_C committee approvals reveals nothing", () =>
  scenario(COMMITTEE, async (fed) => {
    const L = fed.leader(0);
    const x = fed.others([L, fed.leader(0, 1)])[0];
    // x never gets the leader's own request: it sees only the ones injected below.
    fed.intercept = (w) =>
      Promise.resolve(w.from === L && w.to === x && w.type === "unmaskRequest" ? [] : undefined);
    await fed.submitAll(0);
    await fed.deliver();
    const { committee, off, approval } = parts(fed);
    assert(off.length >= QUORUM, "enough members off the committee for the attack");
    assert(committee.length >= QUORUM, "the committee's quorum without the leader");
    const u3 = all(fed);
    const request = (approvals: Uint8Array[]) =>
      sealFrame(
        "unmaskRequest",
        fed.session(0),
        L,
        unmaskRequestFields({ alive: u3, dropped: [], approvals }, fed.roster),
        fed.signers[L],
        fed.roster.mode,
      );
    const refusedWith = async (approvals: Uint8Array[], detail: RegExp) => {
      const error = assertRefused(
        await fed.inject(x, await request(approvals), L),
        "insufficient-approvals",
        L,
      );
      assertMatch(error.message, detail);
    };
    // Short of the quorum.
    await refusedWith(
      committee.slice(0, QUORUM - 1).map(approval),
      /3 valid approvals from the 5-member approval committee of 3 relayed, quorum 4/,
    );
    // t_C approvals, all of members off the committee (each a genuine approval of these lists).
    await refusedWith(
      off.slice(0, QUORUM).map(approval),
      /0 valid approvals .*not on round 0's approval committee/,
    );
    // t_C − 1 committee approvals and one off it.
    await refusedWith(
      [...committee.slice(0, QUORUM - 1), off[0]].map(approval),
      /3 valid approvals .*claiming member \d+: .*not on round 0's approval committee/,
    );
    // The committee another round's seed draws.
    const other = otherSeedCommittee(fed, committee);
    await refusedWith(other.slice(0, QUORUM).map(approval), /not on round 0's approval committee/);
    // A duplicate standing in for the missing approval.
    await refusedWith(
      [...committee.slice(0, QUORUM - 1), committee[0]].map(approval),
      /3 valid approvals .*two approvals from one member/,
    );
    // More entries than the committee has seats.
    assertRefused(
      await fed.inject(x, await request([...committee, ...off].slice(0, 6).map(approval)), L),
      "malformed",
      L,
    );
    assertRevealedNothing(fed, [x]);
    // The genuine quorum: x reveals.
    const events = await fed.inject(x, await request(committee.slice(0, QUORUM).map(approval)), L);
    assertEquals(events.filter((e) => e.type === "refused"), []);
    assertEquals(fed.sent("unmask", x, 0).length, 1);
  }));

Deno.test("committee: a certificate short of t_C committee approvals is refused", () =>
  scenario(COMMITTEE, async (fed) => {
    await fed.submitAll(0);
    await fed.runToFinal(0);
    const final = await fed.assertExact(0, fed.n);
    const { env, certificate } = certificateOf(fed, final);
    const body = new Uint8Array(final.aggregate.buffer);
    const L = fed.leader(0);
    const { committee, off, approval } = parts(fed);
    // The genuine certificate checks out with the committee's quorum.
    const genuine = await checkCertificate(fed.roster, env, body);
    assertEquals(genuine.approvers.length, QUORUM);
    const resealed = async (approvals: Uint8Array[]) => {
      const { frame } = await sealCertificate(fed.roster, fed.session(0), L, fed.signers[L], {
        ...certificate,
        approvals,
      }, body);
      return openFrame(frame, fed.roster);
    };
    const refusedWith = async (approvals: Uint8Array[], detail: RegExp) => {
      const error = await checkCertificate(fed.roster, await resealed(approvals), body)
        .then(() => undefined, (e) => e);
      assert(error instanceof ProtocolError, "refused");
      assertEquals([error.code, error.peer], ["insufficient-approvals", L]);
      assertMatch(error.message, detail);
    };
    await refusedWith(committee.slice(0, QUORUM - 1).map(approval), /quorum 4/);
    await refusedWith(off.slice(0, QUORUM).map(approval), /not on round 0's approval committee/);
    await refusedWith(
      otherSeedCommittee(fed, committee).slice(0, QUORUM).map(approval),
      /not on round 0's approval committee/,
    );
    await refusedWith(
      [...committee.slice(0, QUORUM - 1), committee[1]].map(approval),
      /two approvals from one member/,
    );
    // The positive control: re-sealed with the genuine quorum it checks out.
    const again = await checkCertificate(
      fed.roster,
      await resealed(committee.slice(0, QUORUM).map(approval)),
      body,
    );
    assertEquals(again.approvers, committee.slice(0, QUORUM));
  }));

Deno.test("committee: a leader short of t_C committee approvals sends no UnmaskRequest", () =>
  scenario(COMMITTEE, async (fed) => {
    const L = fed.leader(0);
    const { committee } = parts(fed);
    // Two committee members' approvals never reach the leader: at most 3 of the 5 arrive (the
    // leader's own included), while 8 ≥ t = 7 approvals do.
    const silent = committee.slice(0, 2);
    fed.intercept = (w) =>
      Promise.resolve(
        w.to === L && w.type === "approval" && silent.includes(w.from) ? [] : undefined,
      );
    await fed.submitAll(0);
    await fed.run({ maxTime: fed.now + 2 * fed.roster.viewTimeoutMs });
    assert(fed.sent("approval", undefined, 0).length >= fed.roster.threshold);
    // Past its stage timeout with ≥ t approvals, it still waits: members would refuse t_C − 1.
    assertEquals(fed.sent("unmaskRequest", L, 0), []);
    assertRevealedNothing(fed, all(fed));
  }));

Deno.test("committee: only committee members co-sign; t_C of them make it final", () =>
  scenario(COMMITTEE, async (fed) => {
    await fed.submitAll(0);
    await fed.runToFinal(0);
    const final = await fed.assertExact(0, fed.n);
    const committee = approvalCommittee(fed.roster, fed.session(0))!;
    for (const m of all(fed)) {
      const cosigned = fed.sent("cosign", m, 0).length > 0; // a broadcast: one wire a member
      assertEquals(cosigned, committee.includes(m), `member ${m}`);
    }
    const body = new Uint8Array(final.aggregate.buffer);
    const verified = await verifyFinalCertificate(fed.roster, final.certificate, body);
    assert(verified.cosigners.length >= QUORUM);
    assert(verified.cosigners.every((m) => committee.includes(m)));
    // A co-signature by a member off the committee: refused by members and in a final certificate.
    const { env, cosigns } = certificateOf(fed, final);
    const hash = (await checkCertificate(fed.roster, env, body)).hash;
    const outsider = all(fed).find((m) => !committee.includes(m))!;
    const forged = await sealFrame(
      "cosign",
      fed.session(0),
      outsider,
      cosignFields({ certificateHash: hash }),
      fed.signers[outsider],
      fed.roster.mode,
    );
    const member = committee[0];
    assertRefused(await fed.inject(member, forged, outsider), "inconsistent-lists", outsider);
    const refusal = (frames: Uint8Array[]) =>
      verifyFinalCertificate(fed.roster, encodeFinalCertificate(env, frames), body).then(
        () => undefined,
        (e) => e,
      );
    const withOutsider = await refusal([...cosigns, forged]);
    assert(withOutsider instanceof ProtocolError);
    assertEquals([withOutsider.code, withOutsider.peer], ["inconsistent-lists", outsider]);
    const short = await refusal(cosigns.slice(0, QUORUM - 1));
    assert(short instanceof ProtocolError);
    assertEquals(short.code, "insufficient-approvals");
    assertMatch(short.message, /3 co-signatures of the 5-member approval committee, quorum 4/);
  }));

Deno.test("committee: abandoning needs t_C committee Leaves besides the roster-wide count", async () => {
  const fedLike = { threshold: 7, members: new Array(9) };
  const committee = [1, 3, 4, 6, 8];
  const leaves = new RoundLeaves(0);
  // Seven signers (the roster-wide count, n − t + c + 1 = 7), only three of them on the committee.
  for (const s of [0, 1, 2, 3, 4, 5, 7]) leaves.record(s, 8, 9);
  assertEquals(abandonSigners(fedLike, leaves, 0, 99, false)?.length, 7);
  assertEquals(abandonSigners(fedLike, leaves, 0, 99, false, { committee, quorum: 4 }), undefined);
  // A fourth committee member's Leave completes the committee count.
  leaves.record(6, 8, 9);
  assertEquals(
    abandonSigners(fedLike, leaves, 0, 99, false, { committee, quorum: 4 }),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  await Promise.resolve();
});

for (const { name, pq } of MODES) {
  Deno.test(`committee (${name}): member sets travel as ⌈n/8⌉-byte bitmaps; a bitmap too long or short, naming a member past n, or a list of indices is refused naming the leader`, () =>
    scenario({ ...COMMITTEE, pq }, async (fed) => {
      const L = fed.leader(0);
      const [x] = fed.others([L]);
      await fed.submitAll(0);
      fed.hold = (w) => w.type === "consistencyRequest";
      await fed.deliver();
      fed.hold = undefined;
      const genuine = fed.held.find((w) => w.to === x)!;
      const [u2, u3] = fieldsOf(genuine.frame) as [Uint8Array, Uint8Array];
      // n = 10: two bytes each, the genuine sets (every member submitted and masked).
      assertEquals([u2, u3], [memberBitmap(all(fed), 10), memberBitmap(all(fed), 10)]);
      const request = (a: unknown, b: unknown) =>
        sealFrame(
          "consistencyRequest",
          fed.session(0),
          L,
          [a, b] as never,
          fed.signers[L],
          fed.roster.mode,
        );
      const expect = async (frame: Uint8Array, code: RefusalCode) =>
        assertRefused(await fed.inject(x, frame, L), code, L);
      await expect(await request(u2, new Uint8Array([...u3, 0])), "wrong-length");
      await expect(await request(u2, u3.subarray(0, 1)), "wrong-length");
      // Bit 10 (byte 1, bit 2) names member 10 of a 10-member roster.
      await expect(await request(u2, new Uint8Array([u3[0], u3[1] | 0b100])), "not-member");
      await expect(await request(all(fed), u3), "malformed");
      // The genuine request is then taken: x approves.
      fed.release();
      await fed.deliver();
      assert(fed.sent("approval", x, 0).length > 0, "x approved the genuine request");
    }));
}
