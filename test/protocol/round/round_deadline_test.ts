/**
 * The round deadline and abandonment (`docs/protocol.md` §4): a member that sent no masked input
 * fails the round at its deadline, naming the stage and who was missing; one whose masked input
 * left is `outcome-unknown` instead, never approves or reveals again, and fails the round
 * (`abandoned`) only once t members' Leaves prove no view with its update can complete.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { viewLimit } from "../../../protocol/round/stages.ts";
import { Federation } from "../_federation.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { all, federation, inputsFor } from "../_fixtures.ts";
import { EndpointNet } from "../_harness.ts";

Deno.test("round deadline: without a masked input sent, round-failed naming the stage and the missing", async () => {
  const fed = await Federation.create({ n: 4, dim: 8, roundDeadlineMs: 5000 });
  try {
    const x = fed.others([fed.leader(0, 0), fed.leader(0, 1)])[0];
    // x alone submits: no leader gets t adverts; x leaves view 0 at its view patience (4 s).
    await fed.submitAll(0, [x]);
    await fed.run({ maxTime: 20_000 });
    const failed = fed.eventsOf(x).filter((e) => e.type === "round-failed");
    assertEquals(failed.length, 1);
    const f = failed[0];
    assert(f.type === "round-failed");
    assert(
      f.reason.startsWith(
        "round deadline: 5000 ms after the round started here it was still in " +
          `stage advertise of view 1 (leader ${fed.leader(0, 1)}): no key list from the leader yet`,
      ),
      f.reason,
    );
    const at = fed.log.find((l) => l.member === x && l.event.type === "round-failed")!.at;
    assertEquals(at, 5000, "exactly at the deadline");
    // It promised every other member never to commit in any view of the round.
    const leaves = fed.emitted.filter((w) => w.from === x && w.type === "leave");
    assertEquals(
      [...new Set(leaves.map((w) => w.session.view))],
      [0, viewLimit(fed.n) - 1],
    );
    assertEquals(leaves.filter((w) => w.session.view === viewLimit(fed.n) - 1).length, fed.n - 1);
    assertEquals(fed.endpoints[x].participant(0)!.nextTimeout(), undefined, "nothing pending");
  } finally {
    fed.close();
  }
});

Deno.test("round deadline: after a masked input, outcome-unknown; never approves again; abandoned on t Leaves", async () => {
  // n = 5, t = 4: the abandon quorum is n − t + c + 1 = 4 (c = 2).
  const fed = await Federation.create({ n: 5, dim: 8, roundDeadlineMs: 3500 });
  try {
    const L0 = fed.leader(0, 0);
    const L1 = fed.leader(0, 1);
    // The leader of view 0 goes silent after the masked inputs (its consistency requests held),
    // and the leader of view 1 dies: at the deadline (3.5 s) the others are in view 1, their
    // masked inputs left in view 0.
    fed.hold = (w) => w.from === L0 && w.type === "consistencyRequest";
    await fed.submitAll(0);
    await fed.run({ maxTime: 1000 });
    fed.dead.add(L1);
    await fed.run({ maxTime: 3500 });
    for (const i of all(fed, [L1])) {
      const events = fed.eventsOf(i);
      assert(events.some((e) => e.type === "committed" && e.view === 0), `member ${i}`);
      assert(events.some((e) => e.type === "outcome-unknown" && e.view === 0), `member ${i}`);
      assert(events.some((e) => e.type === "left" && e.view === viewLimit(fed.n) - 1));
    }
    await fed.run({ maxTime: 3600 });
    for (const i of all(fed, [L1])) {
      const failed = fed.eventsOf(i).filter((e) => e.type === "round-failed");
      assertEquals(failed.length, 1, `member ${i}`);
      assert(failed[0].type === "round-failed" && failed[0].reason.startsWith("abandoned: "));
      assert(failed[0].reason.includes(all(fed, [L1]).join(", ")), failed[0].reason);
      assertEquals(fed.endpoints[i].currentRound, 1, "an abandoned round ended here");
    }
    // The held consistency requests arrive now: nobody approves any more.
    const approvals = fed.emitted.filter((w) => w.type === "approval").length;
    fed.release();
    await fed.run({ maxTime: 10_000 });
    assertEquals(fed.emitted.filter((w) => w.type === "approval").length, approvals);
    assertEquals(fed.events("final").length, 0);
  } finally {
    fed.close();
  }
});

Deno.test("round deadline: outcome-unknown stays while the abandon quorum is out of reach (t = n, a dead member)", async () => {
  const fed = await Federation.create({ n: 4, dim: 8, threshold: 4, roundDeadlineMs: 3500 });
  try {
    const L0 = fed.leader(0, 0);
    fed.hold = (w) => w.from === L0 && w.type === "consistencyRequest";
    await fed.submitAll(0);
    await fed.run({ maxTime: 1000 });
    fed.dead.add(L0);
    await fed.run({ maxTime: 60_000 });
    for (const i of all(fed, [L0])) {
      const events = fed.eventsOf(i);
      assert(events.some((e) => e.type === "outcome-unknown" && e.view === 0), `member ${i}`);
      // Three Leaves (its own included) of the four needed: view 0 could still complete if the
      // dead leader held every commitment, so no failure is guessed.
      assertEquals(events.filter((e) => e.type === "round-failed").length, 0, `member ${i}`);
    }
  } finally {
    fed.close();
  }
});

Deno.test("round deadline: a member paused past it gives the round up before reading the next frame, never approving", async () => {
  const fed = await federation({ n: 4, threshold: 3, roundDeadlineMs: 3500, seed: "paused" });
  const net = new EndpointNet(fed, undefined, "paused");
  const l = leaderOf(fed.roster, 0, 0);
  net.hold = (w) => w.type === "consistencyRequest";
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.deliver();
  const others = all(fed, [l]);
  assertEquals(net.held.map((w) => w.to).sort(), others);
  // The members were paused (no timer ran) until past their deadline; then the requests arrive.
  net.now = 4000;
  net.hold = undefined;
  net.release();
  await net.deliver();
  assertEquals(net.sent("approval").filter((w) => w.from !== l), [], "no approval after it");
  for (const m of others) {
    const unknown = net.events("outcome-unknown", m);
    assertEquals(unknown.length, 1, `member ${m}`);
    assert(unknown[0].reason.includes("round deadline"), unknown[0].reason);
  }
  net.close();
});
