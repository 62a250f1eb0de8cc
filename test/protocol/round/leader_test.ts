/**
 * The leader state machine (protocol/leader.ts), driven by real participants on the in-memory
 * network of `_harness.ts`: who may lead, stage progression and `stage` events, closing a stage
 * as soon as everyone answered or after the stage timeout with at least t answers, waiting below
 * t, and what a straggler at each stage costs (its input, or nothing). Hostile input is the
 * adversary suite's.
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import type { Stage } from "../../../protocol/round/stages.ts";
import { Leader } from "../../../protocol/round/leader.ts";
import { type MessageType, openFrame } from "../../../protocol/wire/frame.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import {
  all,
  eventsOf,
  federation,
  follower,
  genuineAdvert,
  inputsFor,
  machineConfig,
  plainSum,
  rngFor,
} from "../_fixtures.ts";
import { MachineNet, startedNet } from "../_harness.ts";
import { inlineExpander, type MaskExpander } from "../../../protocol/math/masking.ts";

const ROUND = 2;
const complete = federation({ n: 5, dim: 24, seed: "leader" });

/** The member's message of each stage, and the stage the leader waits in for it. */
const MEMBER_MESSAGE: [MessageType, Exclude<Stage, "final">][] = [
  ["advertiseKeys", "advertise"],
  ["shareKeys", "share"],
  ["maskedInput", "masked"],
  ["approval", "consistency"],
  ["unmask", "unmask"],
];

Deno.test("leader: only the scheduled leader of a session may lead it", async () => {
  const fed = await complete;
  const { roster } = fed;
  for (const view of [0, 1, 7]) {
    const session = sessionOf(roster, ROUND, view);
    const scheduled = leaderOf(roster, ROUND, view);
    for (const self of all(fed)) {
      const config = machineConfig(fed, self, rngFor("leader/who", self));
      if (self === scheduled) {
        const leader = new Leader(config, session);
        assertEquals(leader.session, session);
        assertEquals(leader.stage, "advertise");
        assertEquals(leader.nextTimeout(), undefined, "no clock runs before the first message");
      } else {
        assertThrows(() => new Leader(config, session), RangeError, "not the leader");
      }
    }
  }
});

Deno.test("leader: a leader wiped before any frame refuses them and starts no clock", async () => {
  const fed = await complete;
  const view = 3;
  const self = leaderOf(fed.roster, ROUND, view);
  const leader = new Leader(
    machineConfig(fed, self, rngFor("leader/wiped", self)),
    sessionOf(fed.roster, ROUND, view),
  );
  leader.wipe();
  const sender = follower(fed.roster, ROUND, [view]);
  const out = await leader.handle(
    openFrame(await genuineAdvert(fed, sender, ROUND, view), fed.roster),
    0,
  );
  assertEquals(out.length, 1);
  assert(out[0].kind === "event" && out[0].event.type === "refused");
  assertEquals(out[0].event.error.code, "wrong-stage");
  assertEquals(leader.stage, "failed");
  assertEquals(leader.nextTimeout(), undefined);
  assertEquals(leader.advertCount, 0);
});

Deno.test("leader: stages close as soon as every member answered", async () => {
  const fed = await complete;
  const net = await startedNet(fed, ROUND);
  const l = leaderOf(fed.roster, ROUND, 0);
  const leader = net.leader(0)!;
  const stages = net.events("stage", l, "leader");
  assertEquals(
    stages.map((e) => e.stage),
    ["advertise", "share", "masked", "consistency", "unmask", "publish"],
  );
  assert(stages.every((e) => e.role === "leader" && e.round === ROUND && e.view === 0));
  assertEquals([leader.stage, leader.nextTimeout()], ["publish", undefined]);
  assertEquals(net.now, 0, "no time passed");
  // The relays: a key list, deliveries, requests to everyone, one certificate broadcast.
  for (const type of ["keyList", "shareDelivery", "consistencyRequest", "unmaskRequest"] as const) {
    assertEquals(net.sent(type).map((m) => m.to).sort(), all(fed), type);
    assert(net.sent(type).every((m) => m.from === l));
  }
  const certificates = net.sent("certificate");
  assertEquals(certificates.length, fed.roster.members.length);
  assertEquals(new Set(certificates.map((m) => m.frame)).size, 1, "one broadcast frame");
  const [final] = net.events("final", l);
  assertEquals(final.aggregate, plainSum(inputsFor(fed.roster, ROUND), all(fed)));
});

Deno.test("leader: each stage's clock starts when the stage opens", async () => {
  const fed = await complete;
  const { roster } = fed;
  const net = new MachineNet(fed, ROUND, inputsFor(roster, ROUND));
  const y = follower(roster, ROUND);
  net.hold = (m) => m.from === y && (m.type === "advertiseKeys" || m.type === "shareKeys");
  net.now = 500;
  await net.start();
  await net.deliver();
  const leader = net.leader(0)!;
  assertEquals([leader.stage, leader.nextTimeout()], ["advertise", 500 + roster.stageTimeoutMs]);
  // The straggler's advert arrives: the stage closes at once and the share stage's clock starts.
  net.now = 800;
  net.release();
  await net.deliver();
  assertEquals([leader.stage, leader.nextTimeout()], ["share", 800 + roster.stageTimeoutMs]);
  assertEquals(
    net.events("stage", undefined, "leader").map((e) => e.stage),
    ["advertise", "share"],
  );
  // Its shares arrive too: every later stage closes at once.
  net.release();
  await net.deliver();
  assertEquals([leader.stage, leader.nextTimeout()], ["publish", undefined]);
});

for (const [type, stage] of MEMBER_MESSAGE) {
  Deno.test(`leader: closes the ${stage} stage at the stage timeout with ≥ t answers`, async () => {
    const fed = await complete;
    const { roster } = fed;
    const l = leaderOf(roster, ROUND, 0);
    const y = follower(roster, ROUND);
    const net = await startedNet(fed, ROUND, (m) => m.type === type && m.from === y);
    const leader = net.leader(0)!;
    assertEquals(leader.stage, stage);
    assertEquals(leader.nextTimeout(), roster.stageTimeoutMs);
    assertEquals(await leader.handleTimeout(roster.stageTimeoutMs - 1), []);
    assertEquals(leader.stage, stage, "not before the deadline");
    net.now = roster.stageTimeoutMs;
    await net.tick();
    const [final] = net.events("final", l);
    assert(final !== undefined, `${stage}: the round completes`);
    // Missing before the masked input: y's input is not in the aggregate. Later: it is.
    const lostInput = stage === "advertise" || stage === "share" || stage === "masked";
    const members = lostInput ? all(fed, [y]) : all(fed);
    assertEquals(final.members, members, stage);
    assertEquals(final.aggregate, plainSum(inputsFor(roster, ROUND), members), stage);
    assertEquals(net.events("refused"), [], stage);
  });
}

Deno.test("leader: below t it keeps waiting, and closes when t is reached", async () => {
  const fed = await complete;
  const { roster } = fed;
  const l = leaderOf(roster, ROUND, 0);
  const [y, z] = all(fed, [l]);
  assertEquals(roster.threshold, 4);
  const net = await startedNet(
    fed,
    ROUND,
    (m) => m.type === "advertiseKeys" && (m.from === y || m.from === z),
  );
  const leader = net.leader(0)!;
  net.now = roster.stageTimeoutMs;
  await net.tick();
  assertEquals(leader.stage, "advertise", "3 < t adverts: no key list");
  assertEquals(net.sent("keyList"), []);
  assertEquals(
    leader.nextTimeout(),
    roster.stageTimeoutMs + roster.viewTimeoutMs,
    "it gives up a view timeout later (the members will have moved on)",
  );
  // One late advert reaches t: the stage closes immediately, without y.
  net.now += 10;
  net.release((m) => m.from === z);
  await net.deliver();
  assertEquals(net.sent("keyList").map((m) => m.to).sort(), all(fed, [y]));
  const [final] = net.events("final", l);
  assertEquals(final.members, all(fed, [y]));
});

Deno.test("leader: below t at a later stage the members move on to the next view", async () => {
  const fed = await complete;
  const { roster } = fed;
  const l0 = leaderOf(roster, ROUND, 0);
  const [y, z] = all(fed, [l0]);
  const net = await startedNet(
    fed,
    ROUND,
    (m) => m.session.view === 0 && m.type === "maskedInput" && (m.from === y || m.from === z),
  );
  const leader = net.leader(0)!;
  net.now = roster.stageTimeoutMs;
  await net.tick();
  const giveUp = roster.stageTimeoutMs + roster.viewTimeoutMs;
  assertEquals([leader.stage, leader.nextTimeout()], ["masked", giveUp]);
  assertEquals(net.sent("consistencyRequest"), []);
  net.now = roster.viewTimeoutMs;
  await net.tick();
  for (const i of all(fed)) {
    const [final] = net.events("final", i);
    assertEquals([final.view, final.members], [1, all(fed)], `member ${i}`);
  }
  // The stalled view-0 leader gives up at its deadline (and becomes evictable).
  assertEquals(await leader.handleTimeout(giveUp - 1), []);
  const out = await leader.handleTimeout(giveUp);
  assertEquals(leader.stage, "failed");
  // Only the stage: the round did not fail (it completed in view 1).
  assertEquals(eventsOf(out), [
    { type: "stage", role: "leader", round: ROUND, view: 0, stage: "failed" },
  ]);
});

Deno.test("leader: too few unmask shares fail the session a view timeout after the stage timeout", async () => {
  const fed = await complete;
  const { roster } = fed;
  const l = leaderOf(roster, ROUND, 0);
  const [y, z] = all(fed, [l]);
  const net = await startedNet(
    fed,
    ROUND,
    (m) => m.type === "unmask" && (m.from === y || m.from === z),
  );
  const leader = net.leader(0)!;
  assertEquals(leader.stage, "unmask");
  net.now = roster.stageTimeoutMs;
  await net.tick();
  // Short of t reveals it keeps waiting (a member that left after approving may still reveal).
  assertEquals(net.events("round-failed", l, "leader"), []);
  assertEquals(leader.stage, "unmask");
  net.now = roster.stageTimeoutMs + roster.viewTimeoutMs;
  await net.tick();
  const [failed] = net.events("round-failed", l, "leader");
  assert(failed !== undefined);
  assertEquals([failed.round, failed.view], [ROUND, 0]);
  assert(failed.reason.includes("not enough consistent shares"), failed.reason);
  assertEquals([leader.stage, leader.nextTimeout()], ["failed", undefined]);
  assertEquals(net.events("stage", l, "leader").at(-1)?.stage, "failed");
  assertEquals(net.sent("certificate"), []);
});

Deno.test("leader: an exact repeat is ignored; a closed stage's message is refused", async () => {
  const fed = await complete;
  const { roster } = fed;
  const y = follower(roster, ROUND);
  const net = await startedNet(fed, ROUND, (m) => m.type === "advertiseKeys" && m.from === y);
  const leader = net.leader(0)!;
  const advert = net.emitted.find((m) => m.type === "advertiseKeys" && m.from !== y)!;
  assertEquals(await leader.handle(openFrame(advert.frame, roster, advert.from), 0), []);
  assertEquals(leader.stage, "advertise");
  net.release();
  await net.deliver();
  assertEquals(leader.stage, "publish");
  for (const type of ["advertiseKeys", "shareKeys", "maskedInput", "approval"] as const) {
    const late = net.emitted.find((m) => m.type === type)!;
    const out = await leader.handle(openFrame(late.frame, roster, late.from), 0);
    assertEquals(out.length, 1, type);
    assert(out[0].kind === "event" && out[0].event.type === "refused");
    assertEquals(out[0].event.error.code, "wrong-stage", type);
  }
  assertEquals(leader.stage, "publish");
});

Deno.test("leader: wipe mid-round discards the shares it holds and closes the session", async () => {
  const fed = await complete;
  const { roster } = fed;
  const l = leaderOf(roster, ROUND, 0);
  // Hold back two members' unmask frames: the leader holds the other three and keeps waiting.
  const [y, z] = all(fed, [l]);
  const held = (m: { type: MessageType; from: number }) =>
    m.type === "unmask" && (m.from === y || m.from === z);
  const control = await startedNet(fed, ROUND, held);
  const wiped = await startedNet(fed, ROUND, held);
  for (const net of [control, wiped]) {
    assertEquals(net.leader(0)!.stage, "unmask");
    assertEquals(net.held.map((m) => m.from).sort(), [y, z]);
  }
  const leader = wiped.leader(0)!;
  leader.wipe();
  assertEquals(leader.stage, "failed");
  assertEquals(leader.nextTimeout(), undefined);
  // Released, the late frames complete the control round; the wiped leader refuses them.
  for (const net of [control, wiped]) {
    net.release();
    await net.deliver();
  }
  assertEquals(control.leader(0)!.stage, "publish", "without the wipe the round completes");
  assertEquals(control.sent("certificate").length, roster.members.length);
  assertEquals(leader.stage, "failed");
  const refused = wiped.events("refused", l, "leader");
  assertEquals(
    refused.map((e) => `${e.error.code} ${e.error.peer}`).sort(),
    [
      `wrong-stage ${y}`,
      `wrong-stage ${z}`,
    ].sort(),
  );
  assertEquals(wiped.events("round-failed", l, "leader"), []);
  assertEquals(wiped.sent("certificate"), []);
  assertEquals(wiped.events("published"), []);
  // Wiping again (a failed or evicted leader is wiped by the endpoint too) is harmless.
  leader.wipe();
  assertEquals(await leader.handleTimeout(10 ** 9), []);
});

for (const failure of ["throws", "half-applies the masks, then throws"] as const) {
  Deno.test(
    `leader: an unmasking whose mask expander ${failure} ends the session: internal-error and ` +
      "round-failed, nothing published then or on a later timeout",
    async () => {
      const fed = await complete;
      const { roster } = fed;
      let broken = true;
      // Only the leader's unmasking subtracts self masks (every term negated).
      const expander: MaskExpander = {
        async apply(target, terms) {
          if (!broken || !terms.every((t) => t.negate)) return inlineExpander.apply(target, terms);
          broken = false;
          if (failure === "half-applies the masks, then throws") {
            const done = target.slice();
            await inlineExpander.apply(done, terms);
            target.set(done.subarray(0, done.length - 1));
          }
          throw new Error("a worker died");
        },
      };
      const net = new MachineNet(fed, ROUND, inputsFor(roster, ROUND), expander);
      await net.start();
      await net.deliver();
      const leader = net.leader(0)!;
      const l = leaderOf(roster, ROUND, 0);
      assertEquals(broken, false, "the leader tried to unmask");
      assertEquals(leader.stage, "failed");
      assertEquals(
        net.log.filter((e) => e.member === l && e.role === "leader").map((e) => e.event.type)
          .slice(-4),
        ["stage", "internal-error", "stage", "round-failed"],
      );
      // Later timeouts publish nothing: there is no second attempt on a half-unmasked sum.
      for (const t of [roster.stageTimeoutMs, roster.viewTimeoutMs, 3 * roster.viewTimeoutMs]) {
        net.now = t;
        await net.tick();
      }
      assertEquals([net.events("published"), net.events("final")], [[], []]);
      assertEquals(leader.nextTimeout(), undefined);
    },
  );
}
