/**
 * View synchronisation and Leave evidence (`docs/protocol.md` §4): a late member joins the view
 * the round is in; Leaves that are forged, foreign, replayed, past the view limit or too few move
 * nobody; a committed member never signs a Leave at or past its view; evidence is answered to a
 * member that is behind.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { sealFrame } from "../../../protocol/wire/frame.ts";
import { leaveFields } from "../../../protocol/wire/messages.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { MemberSigner } from "../../../protocol/federation/signer.ts";
import { viewPatienceMs } from "../../../protocol/federation/roster.ts";
import { viewLimit } from "../../../protocol/round/stages.ts";
import {
  abandonQuorum,
  corruptTolerance,
  syncThreshold,
} from "../../../protocol/round/leave_evidence.ts";
import { Federation } from "../_federation.ts";
import { all } from "../_fixtures.ts";
import { forgeSignature, peekSender } from "../_frames.ts";

/** Member `sender`'s Leave(round, w) of the federation's roster. */
function leave(fed: Federation, sender: number, round: number, w: number): Promise<Uint8Array> {
  return sealFrame(
    "leave",
    sessionOf(fed.roster, round, w),
    sender,
    leaveFields(w + 1),
    fed.signers[sender],
    fed.roster.mode,
  );
}

/** The w of every Leave `member` sent (once per w), ascending. */
function leavesSent(fed: Federation, member: number, round = 0): number[] {
  const ws = new Set(
    fed.emitted.filter((w) => w.type === "leave" && w.from === member && w.session.round === round)
      .map((w) => w.session.view),
  );
  return [...ws].sort((a, b) => a - b);
}

Deno.test("leave evidence: thresholds follow n and t", () => {
  const r = (n: number, t: number) => ({ members: new Array(n), threshold: t });
  // n = 3, t = 3: c = 2 corrupt members tolerated, but any one member can stall every view.
  assertEquals([corruptTolerance(r(3, 3)), syncThreshold(r(3, 3)), abandonQuorum(r(3, 3))], [
    2,
    1,
    3,
  ]);
  // n = 5, t = 4: c = 2, e = n − t + 1 = 2; abandon needs t = 4 signers.
  assertEquals([corruptTolerance(r(5, 4)), syncThreshold(r(5, 4)), abandonQuorum(r(5, 4))], [
    2,
    2,
    4,
  ]);
  // n = 12, t = 9: c = 5, e = n − t + 1 = 4.
  assertEquals([syncThreshold(r(12, 9)), abandonQuorum(r(12, 9))], [4, 9]);
  // n = 10, t = 6: c = 1, e = n − t + 1 = 5 (not c + 1 = 2): fewer than 5 Leaves do not prove
  // view w cannot gather t commitments, so they move nobody.
  assertEquals([corruptTolerance(r(10, 6)), syncThreshold(r(10, 6))], [1, 5]);
  // n = 5, t = 3: c = 0, e = 3 (c + 1 would let one member's Leave move everyone).
  assertEquals([corruptTolerance(r(5, 3)), syncThreshold(r(5, 3))], [0, 3]);
});

// The issue's scenario: three members, one submits after the others' advertise + view timeouts.
// Before view synchronisation it started in view 0 while the others were in view 1, and the
// views cycled out of step until the view limit: no result.
for (const lateRank of [0, 1, 2]) {
  Deno.test(`late member (leader of view ${lateRank}) joins the round's view and the round completes`, async () => {
    const fed = await Federation.create({ n: 3, dim: 8, seed: 8 });
    try {
      const late = fed.leader(0, lateRank);
      const early = all(fed, [late]);
      await fed.submitAll(0, early);
      const patience = viewPatienceMs(fed.roster);
      // The early members leave view 0 (nobody can complete it without the late member).
      await fed.run({ maxTime: patience + patience / 4 });
      for (const i of early) assertEquals(fed.endpoints[i].participant(0)!.view, 1);
      assertEquals(fed.now > patience, true);
      await fed.submitAll(0, [late]);
      // The late member starts in view 1 at once: it holds the others' Leave(0, 0).
      assertEquals(fed.endpoints[late].participant(0)!.view, 1);
      await fed.runToFinal(0);
      const final = await fed.assertExact(0, 3);
      assertEquals(final.view, 1);
      assertEquals([...final.members], all(fed));
      assertEquals(
        fed.eventsOf(late).flatMap((e) => e.type === "advertised" ? [e.view] : []),
        [1],
        "the late member never advertised in view 0",
      );
      assertEquals(leavesSent(fed, late), [0]);
      assert(fed.now < patience * 2, `completed at ${fed.now}`);
    } finally {
      fed.close();
    }
  });
}

Deno.test("leave evidence: bad, foreign, replayed, past-limit and too few Leaves move nobody", async () => {
  // n = 5, t = 4: e = 2 other members' Leaves move a member.
  const fed = await Federation.create({ n: 5, dim: 8, seed: 9 });
  const other = await Federation.create({ n: 5, dim: 8, seed: 9, federation: "other" });
  try {
    assertEquals(syncThreshold(fed.roster), 2);
    const x = fed.others([fed.leader(0, 0)])[0];
    await fed.submitAll(0, [x]);
    const p = fed.endpoints[x].participant(0)!;
    assertEquals(p.view, 0);
    const [a, b, c] = all(fed, [x]);
    const codes = async (frame: Uint8Array, from?: number) =>
      (await fed.inject(x, frame, from)).flatMap((e) => e.type === "refused" ? [e.error.code] : []);
    // A bad signature.
    assertEquals(await codes(forgeSignature(await leave(fed, a, 0, 2))), ["bad-signature"]);
    // Signed by another member than the peer it came from (a relayed Leave).
    assertEquals(await codes(await leave(fed, b, 0, 2), a), ["not-member"]);
    // Another federation's roster.
    assertEquals(await codes(await leave(other, a, 0, 2)), ["wrong-session"]);
    // A key that is not the member's own (a non-member signing as member a).
    const outsider = await MemberSigner.fromSeeds(new Uint8Array(32).fill(7));
    const forged = await sealFrame(
      "leave",
      sessionOf(fed.roster, 0, 2),
      a,
      leaveFields(3),
      outsider,
      fed.roster.mode,
    );
    assertEquals(await codes(forged), ["bad-signature"]);
    // At or past the view limit.
    const limit = viewLimit(fed.n);
    assertEquals(await codes(await leave(fed, a, 0, limit)), ["wrong-session"]);
    assertEquals(p.view, 0, "nothing above counted");
    // One genuine Leave: fewer than e = 2, no move; its replay counts once.
    const genuine = await leave(fed, a, 0, 2);
    assertEquals(await codes(genuine), []);
    assertEquals(await codes(genuine), []);
    assertEquals(p.view, 0, "one member's Leave (and its replay) moves nobody");
    // Another round's Leave from a second member is not evidence for this round.
    assertEquals(await codes(await leave(fed, b, 1, 2)), []);
    assertEquals(p.view, 0, "a Leave of round 1 moves nobody in round 0");
    assertEquals(leavesSent(fed, x), [], "x signed no Leave");
    // The second member's Leave of this round: the 2nd largest w is 1, so x moves to view 2
    // and signs Leave(0, 1) itself.
    await fed.call(b, () => Promise.resolve([]));
    assertEquals(await codes(await leave(fed, b, 0, 1)), []);
    assertEquals(p.view, 2);
    assertEquals(leavesSent(fed, x), [1]);
    assert(fed.eventsOf(x).some((e) => e.type === "view-change" && e.from === 0 && e.to === 2));
    // c's frame of view 0 (it is behind): x answers with its Leave, once per w.
    const before = fed.emitted.filter((w) => w.from === x && w.to === c && w.type === "leave");
    assertEquals(before.length, 1, "the broadcast of x's Leave(0, 1)");
    assertEquals(await codes(await leave(fed, c, 0, 0)), []);
    assertEquals(await codes(await leave(fed, c, 0, 0)), []);
    const after = fed.emitted.filter((w) => w.from === x && w.to === c && w.type === "leave");
    assertEquals(after.length, 2, "answered once");
    assertEquals(peekSender(after[1].frame), x);
  } finally {
    fed.close();
    other.close();
  }
});

Deno.test("a committed member never signs a Leave at or past its view, whatever the evidence or the deadline", async () => {
  // Sparse graph: a member commits when it approves. Only `a` gets the consistency request of
  // view 0, then the leader of view 0 goes silent.
  const fed = await Federation.create({ n: 7, dim: 16, degree: 4 });
  try {
    const L0 = fed.leader(0, 0);
    const L1 = fed.leader(0, 1);
    const a = fed.others([L0, L1])[0];
    fed.intercept = (w) => {
      if (w.from === L0 && w.type === "consistencyRequest" && w.to !== a) return [];
      if (w.from === L0 && w.type === "unmaskRequest") return [];
    };
    await fed.submitAll(0);
    await fed.run({ until: () => fed.endpoints[a].participant(0)?.committedView === 0 });
    // Everyone else signs Leave(0, w) for every view up to the limit.
    for (const i of all(fed, [a])) {
      await fed.inject(a, await leave(fed, i, 0, viewLimit(fed.n) - 1));
    }
    // Past the round deadline and every inquiry.
    await fed.run({ maxTime: fed.now + 2 * fed.roster.roundDeadlineMs });
    assertEquals(leavesSent(fed, a), [], "a never signed a Leave");
    assertEquals(fed.endpoints[a].participant(0)!.committedView, 0);
    const failed = fed.eventsOf(a).filter((e) => e.type === "round-failed");
    assertEquals(failed.length, 1);
    assert(failed[0].type === "round-failed" && failed[0].reason.startsWith("abandoned"));
  } finally {
    fed.close();
  }
});

Deno.test("a member leads the views its Leave evidence justifies, beyond its own view + VIEW_WINDOW", async () => {
  // n = 7, t = 5: c = 2, e = 3.
  const fed = await Federation.create({ n: 7, dim: 8, seed: 10 });
  try {
    assertEquals(syncThreshold(fed.roster), 3);
    const x = fed.leader(0, 5);
    const y = fed.others([x])[0];
    // y (resumed, say) advertises in view 5; x, with no update, is at view 0.
    fed.hold = (w) => w.type === "advertiseKeys";
    await fed.submitAll(0, [y], 5);
    const [advert] = fed.held.filter((w) => w.to === x);
    assert(advert !== undefined);
    const refused = (await fed.inject(x, advert.frame)).filter((e) => e.type === "refused");
    assertEquals(refused.length, 1);
    assert(refused[0].type === "refused" && refused[0].error.code === "wrong-session");
    assertEquals(fed.endpoints[x].leader(0, 5), undefined);
    // Three other members left views up to 4: x's synchronised view is 5, and it leads view 5.
    for (const i of fed.others([x, y]).slice(0, 3)) {
      await fed.inject(x, await leave(fed, i, 0, 4));
    }
    assertEquals(fed.endpoints[x].syncedView(0), 5);
    const taken = (await fed.inject(x, advert.frame)).filter((e) => e.type === "refused");
    assertEquals(taken, []);
    assertEquals(fed.endpoints[x].leader(0, 5)?.advertCount, 1);
  } finally {
    fed.close();
  }
});

Deno.test("post-quantum: a Leave must carry both signatures, and a forged ML-DSA-65 part is refused", async () => {
  const fed = await Federation.create({ n: 3, dim: 4, pq: true, seed: 11 });
  try {
    const x = fed.others([fed.leader(0, 0)])[0];
    const a = fed.others([x])[0];
    await fed.submitAll(0, [x]);
    const genuine = await leave(fed, a, 0, 0);
    const codes = async (frame: Uint8Array) =>
      (await fed.inject(x, frame)).flatMap((e) => e.type === "refused" ? [e.error.code] : []);
    assertEquals(await codes(forgeSignature(genuine, "mlDsa65")), ["bad-signature"]);
    assertEquals(fed.endpoints[x].participant(0)!.view, 0);
    // e = 1 here (n = 3, t = 3): the genuine hybrid Leave moves x on.
    assertEquals(await codes(genuine), []);
    assertEquals(fed.endpoints[x].participant(0)!.view, 1);
  } finally {
    fed.close();
  }
});
