/**
 * Rescue (`docs/protocol.md` §4): a member that approved a view and left it without committing
 * keeps that view's shares (in memory) and, committed nowhere, reveals there on the view's
 * UnmaskRequest — so a view split between members that committed (revealed) and members that
 * left completes instead of stalling every member that committed; the shares kept go once the
 * member commits or gives up, and a Leave that keeps a view for a rescue is no promise for that
 * view, so it never counts towards its abandonment.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { RoundLeaves } from "../../../protocol/round/leave_evidence.ts";
import { sealFrame } from "../../../protocol/wire/frame.ts";
import { leaveFields } from "../../../protocol/wire/messages.ts";
import { all, federation, follower, inputsFor } from "../_fixtures.ts";
import { EndpointNet } from "../_harness.ts";

const ROUND = 0;

/**
 * n = 6, t = 5, complete graph. The leader x of view 0 gets every approval; its UnmaskRequest
 * reaches a and b only after their view timeout, so they leave view 0 (a plain view change)
 * while the other four reveal there: view 0 holds 4 < t reveals, and view 1 can gather at most
 * the 2 members that did not commit.
 */
async function split(seed: string) {
  const fed = await federation({ n: 6, seed });
  assertEquals(fed.roster.threshold, 5);
  assertEquals(fed.roster.graph.kind, "complete");
  const net = new EndpointNet(fed, undefined, seed);
  const x = leaderOf(fed.roster, ROUND, 0);
  const a = follower(fed.roster, ROUND, [0, 1]);
  const b = follower(fed.roster, ROUND, [0, 1], [a]);
  net.hold = (w) => w.from === x && w.type === "unmaskRequest" && (w.to === a || w.to === b);
  await net.submit(ROUND, inputsFor(fed.roster, ROUND));
  await net.run({
    until: () => [a, b].every((i) => net.events("view-change", i).some((e) => e.from === 0)),
    maxTime: 60_000,
  });
  const committed = all(fed, [a, b]);
  for (const i of committed) {
    assertEquals(net.endpoints[i].participant(ROUND)?.committedView, 0, `member ${i}`);
  }
  for (const i of [a, b]) {
    const p = net.endpoints[i].participant(ROUND)!;
    assertEquals([p.view, p.committedView, p.leftView], [1, undefined, 0], `member ${i}`);
  }
  net.hold = undefined;
  return { fed, net, x, a, b, committed };
}

Deno.test("rescue: members that left a split view reveal there on its UnmaskRequest, and the round completes exactly", async () => {
  const { fed, net, a, b } = await split("rescue-split");
  // The leader's UnmaskRequest of view 0 now reaches a and b, in view 1.
  assertEquals(net.release().length, 2);
  await net.run({ until: () => net.events("final").length === fed.roster.members.length });
  const finals = net.events("final");
  assertEquals(finals.length, 6, "every member final");
  const inputs = inputsFor(fed.roster, ROUND);
  const expected = inputs.reduce((sum, v) => sum.map((s, k) => (s + v[k]) >>> 0));
  for (const f of finals) {
    assertEquals(f.view, 0);
    assertEquals([...f.members], all(fed));
    assertEquals([...f.aggregate], [...expected]);
  }
  for (const i of [a, b]) {
    // Back to view 0, committed there only; never a second view's reveal.
    assert(
      net.events("view-change", i).some((e) => e.from === 1 && e.to === 0),
      `member ${i} went back to view 0`,
    );
    assertEquals(net.events("committed", i).map((e) => e.view), [0], `member ${i}`);
    assertEquals(net.sent("unmask", i).map((w) => w.session.view), [0], `member ${i}`);
  }
  assertEquals(net.events("round-failed"), [], "nobody failed");
  net.close();
});

Deno.test("rescue: a member that gave the round up has wiped what a rescue needs and never reveals", async () => {
  const { fed, net, a } = await split("rescue-gave-up");
  const p = net.endpoints[a].participant(ROUND)!;
  // a reaches its round deadline in view 1: it gives up (outcome-unknown: its masked input left
  // in view 0) and signs the give-up Leave(0, n − 1).
  await net.run({
    until: () => net.events("outcome-unknown", a).length > 0,
    maxTime: net.now + fed.roster.roundDeadlineMs + 1,
  });
  assertEquals(p.leftView, fed.roster.members.length - 1, "a signed the give-up Leave");
  // The view-0 UnmaskRequest reaches it only now: no reveal.
  assertEquals(net.release((w) => w.to === a).length, 1);
  await net.deliver();
  assertEquals(net.sent("unmask", a), [], "no reveal after giving up");
  assertEquals(net.events("committed", a).map((e) => e.view), [0], "journaled as view 0");
  net.close();
});

Deno.test("abandon: Leaves that keep view 0 for a rescue prove nothing — a committed member is not failed while the leavers can still rescue its view", async () => {
  // n = 6, t = 4 (c = 1): the abandon quorum is 4. x, the leader of view 0, commits alone: its
  // UnmaskRequest reaches the others only after they left view 0 (five Leave(0, 0)).
  const fed = await federation({ n: 6, threshold: 4, seed: "rescue-abandon" });
  const net = new EndpointNet(fed, undefined, "rescue-abandon");
  const x = leaderOf(fed.roster, ROUND, 0);
  const others = all(fed, [x]);
  net.hold = (w) => w.from === x && w.type === "unmaskRequest";
  await net.submit(ROUND, inputsFor(fed.roster, ROUND));
  await net.run({
    until: () => others.every((i) => net.events("left", i).some((e) => e.view === 0)),
    maxTime: 60_000,
  });
  assertEquals(net.endpoints[x].participant(ROUND)?.committedView, 0);
  net.hold = undefined;
  // x asks how view 0 ended; the five Leave(0, 0; 0) it holds prove nothing (they may rescue).
  await net.run({ until: () => net.events("outcome-unknown", x).length > 0, maxTime: 60_000 });
  assertEquals(net.events("round-failed", x), [], "x is not failed on view changes");
  // The UnmaskRequest arrives: the leavers rescue view 0, which completes with x's update.
  net.release();
  await net.run({ until: () => net.events("final").length === fed.roster.members.length });
  for (const f of net.events("final")) {
    assertEquals(f.view, 0);
    assertEquals([...f.members], all(fed));
  }
  assertEquals(net.events("round-failed"), [], "nobody failed, so nothing is counted twice");
  net.close();
});

Deno.test("leave evidence: a promise past w + 1 is refused; a Leave that keeps a view is no promise for it", async () => {
  const fed = await federation({ n: 5, seed: "rescue-promise" });
  const net = new EndpointNet(fed, undefined, "rescue-promise");
  const x = leaderOf(fed.roster, ROUND, 0);
  const [a, b] = all(fed, [x]);
  await net.submit(ROUND, inputsFor(fed.roster, ROUND), [x]);
  const leave = (sender: number, w: number, promised: number) =>
    sealFrame(
      "leave",
      sessionOf(fed.roster, ROUND, w),
      sender,
      leaveFields(promised),
      fed.signers[sender],
      fed.roster.mode,
    );
  const codes = async (frame: Uint8Array) =>
    (await net.inject(x, frame)).flatMap((e) => e.type === "refused" ? [e.error.code] : []);
  assertEquals(await codes(await leave(a, 2, 4)), ["malformed"]);
  // a left views ≤ 2 but kept view 1 (promise 1); b promised every view ≤ 2.
  assertEquals(await codes(await leave(a, 2, 1)), []);
  assertEquals(await codes(await leave(b, 2, 3)), []);
  const leaves = new RoundLeaves(ROUND);
  leaves.record(a, 2, 1);
  leaves.record(b, 2, 3);
  assertEquals(leaves.signersFrom(1, x), [a, b], "both left view 1 (view synchronisation)");
  assertEquals(leaves.promisedBeyond(1, x), [b], "only b promised never to commit in view 1");
  assertEquals(leaves.promisedBeyond(0, x), [a, b]);
  // A later Leave raising only the promise is worth keeping; an overtaken one is not.
  assert(leaves.raises(a, 2, 3));
  assert(!leaves.raises(a, 1, 1));
  net.close();
});

Deno.test("a leader whose reveals were lost while it was paused still completes: members send their Unmask again when they ask", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "reveal-again" });
  const net = new EndpointNet(fed, undefined, "reveal-again");
  const x = leaderOf(fed.roster, ROUND, 0);
  // Every first Unmask to x is lost (x was paused and the sends gave up); later copies arrive.
  const lost = new Set<number>();
  net.intercept = (w) => {
    if (w.type !== "unmask" || w.to !== x || w.from === x || lost.has(w.from)) return undefined;
    lost.add(w.from);
    return [];
  };
  await net.submit(ROUND, inputsFor(fed.roster, ROUND));
  await net.run({ until: () => net.events("final").length === 4, maxTime: 60_000 });
  assertEquals(lost.size, 3, "every other member's first Unmask was lost");
  const finals = net.events("final");
  assertEquals(finals.length, 4);
  for (const f of finals) {
    assertEquals(f.view, 0);
    assertEquals([...f.members], all(fed));
  }
  assertEquals(net.events("round-failed"), []);
  net.close();
});

Deno.test("rescue: a member whose masked input left in a later view never goes back to an earlier one", async () => {
  // n = 6, t = 5. x, the leader of view 0, commits alone there; the five others left view 0
  // after approving it and run view 1, where they send their masked inputs.
  const fed = await federation({ n: 6, seed: "rescue-later" });
  const net = new EndpointNet(fed, undefined, "rescue-later");
  const x = leaderOf(fed.roster, ROUND, 0);
  const others = all(fed, [x]);
  net.hold = (w) => w.from === x && w.type === "unmaskRequest";
  await net.submit(ROUND, inputsFor(fed.roster, ROUND));
  await net.run({
    until: () => others.every((i) => net.events("masked", i).some((e) => e.view === 1)),
    maxTime: 60_000,
  });
  assertEquals(net.endpoints[x].participant(ROUND)?.committedView, 0);
  net.hold = undefined;
  // x asks (it is bound to view 0) and its UnmaskRequest of view 0 arrives: nobody goes back.
  net.release();
  await net.run({
    until: () =>
      net.events("final").length === 5 &&
      net.events("round-failed", x).some((e) => e.role === "participant"),
    maxTime: net.now + 120_000,
  });
  const l1 = leaderOf(fed.roster, ROUND, 1);
  for (const i of others) {
    // (The leader of view 1 hands its own Unmask to itself, off the wire.)
    const onWire = i === l1 ? [] : [1];
    assertEquals(net.sent("unmask", i).map((w) => w.session.view), onWire, `member ${i}`);
    assertEquals(net.events("committed", i).map((e) => e.view), [1], `member ${i}`);
  }
  const finals = net.events("final");
  assertEquals(finals.map((f) => f.member).sort(), others);
  for (const f of finals) assertEquals([f.view, [...f.members]], [1, others]);
  // x's update is in no aggregate: it learns that from the certificate of view 1.
  const failed = net.events("round-failed", x).filter((e) => e.role === "participant");
  assertEquals(failed.length, 1);
  assert(failed[0].reason.startsWith("excluded"), failed[0].reason);
  net.close();
});
