/**
 * Lost members (`Endpoint.memberLost` / `memberBack`): the driver's report that a member's
 * connection is gone lets a leader close a stage once only lost members are missing (with ≥ t
 * answers), and a participant whose leader is lost leave the view by its view-timeout path — and
 * nothing else: a committed member stays, a member back in time changes nothing, and a member
 * that is itself cut off (fewer than t members reachable) does not burn views.
 *
 * Each speed-up is shown against the same scenario without the report, which needs the timer.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { CallerError } from "../../../protocol/errors.ts";
import { viewPatienceMs } from "../../../protocol/federation/roster.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { TRANSITIONS } from "../../../protocol/round/stages.ts";
import type { CollectStage } from "../../../protocol/round/stages.ts";
import { all, federation, inputsFor, plainSum } from "../_fixtures.ts";
import { EndpointNet } from "../_harness.ts";

const fedPromise = federation({ n: 5, dim: 16, seed: "lost-member" });

/** When (virtual ms) every member in `members` reported the round final, or undefined. */
function finalAt(net: EndpointNet, members: readonly number[]): number | undefined {
  const times = members.map((m) =>
    net.log.find((l) => l.member === m && l.event.type === "final")?.at
  );
  return times.some((t) => t === undefined) ? undefined : Math.max(...(times as number[]));
}

/**
 * Round 0 with member `x` (not the leader) dying as it would send its message of `stage`: the
 * leader waits in `stage` for it. With `report`, the leader's driver reports `x` lost at 10 ms.
 */
async function memberDiesIn(stage: CollectStage, report: boolean) {
  const fed = await fedPromise;
  const { roster } = fed;
  const l = leaderOf(roster, 0, 0);
  const x = all(fed).find((i) => i !== l)!;
  const net = new EndpointNet(fed);
  net.intercept = (w, n) => {
    if (w.from !== x || w.type !== TRANSITIONS[stage].sends) return undefined;
    n.dead.add(x);
    return [];
  };
  const inputs = inputsFor(roster, 0);
  await net.submit(0, inputs);
  await net.deliver();
  assertEquals(net.endpoints[l].leader(0, 0)?.stage, stage, "the leader waits for x");
  if (report) {
    net.now = 10;
    await net.call(l, () => net.endpoints[l].memberLost(x, net.now));
  }
  const alive = all(fed, [x]);
  await net.run({ until: () => finalAt(net, alive) !== undefined });
  const final = net.events("final", l)[0];
  // Up to its masked input x is in no sum; once that arrived it is in U3.
  const expected = stage === "advertise" || stage === "share" || stage === "masked"
    ? alive
    : all(fed);
  assertEquals(final.members, expected);
  assertEquals(final.aggregate, plainSum(inputs, expected));
  assertEquals(net.events("view-change").length, 0);
  net.close();
  return { at: finalAt(net, alive)!, roster };
}

for (const stage of ["advertise", "share", "masked", "consistency", "unmask"] as const) {
  Deno.test(`lost member: the leader closes ${stage} once only the lost member is missing`, async () => {
    // Without the report the leader needs the stage's timeout.
    const timed = await memberDiesIn(stage, false);
    const timeout = stage === "advertise"
      ? timed.roster.advertiseTimeoutMs
      : timed.roster.stageTimeoutMs;
    assert(timed.at >= timeout, `final at ${timed.at} ms, before the ${timeout} ms timeout`);
    // With it the stage closes when the report arrives: no timer ran.
    const reported = await memberDiesIn(stage, true);
    assertEquals(reported.at, 10);
  });
}

/**
 * Round 0 whose view-0 leader is dead from the start; with `report`, every other member's driver
 * reports it lost at 10 ms.
 */
async function leaderDead(report: boolean) {
  const fed = await fedPromise;
  const { roster } = fed;
  const l = leaderOf(roster, 0, 0);
  const net = new EndpointNet(fed);
  net.dead.add(l);
  const inputs = inputsFor(roster, 0);
  const alive = all(fed, [l]);
  await net.submit(0, inputs, alive);
  await net.deliver();
  if (report) {
    net.now = 10;
    for (const m of alive) await net.call(m, () => net.endpoints[m].memberLost(l, net.now));
  }
  await net.run({ until: () => finalAt(net, alive) !== undefined });
  const l1 = leaderOf(roster, 0, 1);
  const final = net.events("final", l1)[0];
  assertEquals(final.view, 1);
  assertEquals(final.members, alive);
  assertEquals(final.aggregate, plainSum(inputs, alive));
  const changes = net.log.filter((e) => e.event.type === "view-change");
  assertEquals(changes.map((e) => e.member).sort(), alive);
  net.close();
  return { at: finalAt(net, alive)!, changedAt: changes.map((e) => e.at), roster };
}

Deno.test("lost member: a participant leaves the view at once when its leader is lost", async () => {
  const timed = await leaderDead(false);
  // Without the report: the view timeout (patience while advertising), then view 1 waits for
  // the dead member's advert until the advertise timeout.
  const patience = viewPatienceMs(timed.roster);
  assert(timed.changedAt.every((t) => t === patience), `view changes at ${timed.changedAt}`);
  assert(timed.at >= patience + timed.roster.advertiseTimeoutMs);
  // With it: every member moves when told, and view 1's leader, told too, does not wait for it.
  const reported = await leaderDead(true);
  assert(reported.changedAt.every((t) => t === 10), `view changes at ${reported.changedAt}`);
  assertEquals(reported.at, 10);
});

Deno.test("lost member: a member that committed stays in its view when its leader is lost", async () => {
  const fed = await fedPromise;
  const { roster } = fed;
  const l = leaderOf(roster, 0, 0);
  const net = new EndpointNet(fed);
  // The leader dies as it would publish: every member revealed its shares (committed).
  net.intercept = (w, n) => {
    if (w.from !== l || w.type !== "certificate") return undefined;
    n.dead.add(l);
    return [];
  };
  await net.submit(0, inputsFor(roster, 0));
  await net.deliver();
  const others = all(fed, [l]);
  for (const m of others) {
    assertEquals(net.endpoints[m].participant(0)?.committedView, 0);
    net.now = 10;
    await net.call(m, () => net.endpoints[m].memberLost(l, net.now));
    assertEquals(net.endpoints[m].participant(0)?.view, 0, `member ${m} stays`);
  }
  assertEquals(net.events("view-change").length, 0);
  net.close();
});

Deno.test("lost member: a member back before the stage needs it changes nothing", async () => {
  const fed = await fedPromise;
  const { roster } = fed;
  const l = leaderOf(roster, 0, 0);
  const x = all(fed).find((i) => i !== l)!;
  const net = new EndpointNet(fed);
  net.dead.add(x);
  await net.call(l, () => net.endpoints[l].memberLost(x, net.now));
  await net.call(l, () => net.endpoints[l].memberBack(x, net.now));
  assertEquals(net.endpoints[l].lostMembers, []);
  await net.submit(0, inputsFor(roster, 0), all(fed, [x]));
  await net.deliver();
  // x counts as expected again: the leader waits for it until the advertise timeout.
  assertEquals(net.endpoints[l].leader(0, 0)?.stage, "advertise");
  await net.run({ until: () => finalAt(net, all(fed, [x])) !== undefined });
  assert(finalAt(net, all(fed, [x]))! >= roster.advertiseTimeoutMs);
  net.close();
});

Deno.test("lost member: a member cut off from all but fewer than t does not change views", async () => {
  const fed = await fedPromise;
  const { roster } = fed;
  const l = leaderOf(roster, 0, 0);
  const m = all(fed).find((i) => i !== l)!;
  const net = new EndpointNet(fed);
  await net.call(m, () => net.endpoints[m].submit(0, inputsFor(roster, 0)[m], net.now));
  // n = 5, t = 4: with two members lost only three are reachable, fewer than t.
  const unreachable = all(fed, [m]).filter((i) => i !== l).slice(0, 1);
  for (const u of unreachable) await net.call(m, () => net.endpoints[m].memberLost(u, 1));
  await net.call(m, () => net.endpoints[m].memberLost(l, 2));
  assertEquals(net.endpoints[m].participant(0)?.view, 0);
  assertEquals(net.events("view-change").length, 0);
  net.close();
});

Deno.test("lost member: refuses a member outside the roster or the endpoint itself", async () => {
  const fed = await fedPromise;
  const net = new EndpointNet(fed);
  const e = net.endpoints[0];
  for (const bad of [-1, 5, 1.5, 0]) {
    await assertRejects(() => e.memberLost(bad, 0), CallerError);
    await assertRejects(() => e.memberBack(bad, 0), CallerError);
  }
  net.close();
});

Deno.test("lost member: one false loss report (n = 5, t = 3) moves only its reporter, never the others", async () => {
  // c = 0: with e = c + 1 = 1 the reporter's Leave alone would drag every member out of view 0.
  const fed = await federation({ n: 5, threshold: 3, dim: 16, seed: "lost-flap" });
  const { roster } = fed;
  const l = leaderOf(roster, 0, 0);
  const y = all(fed).find((i) => i !== l)!;
  const net = new EndpointNet(fed);
  const inputs = inputsFor(roster, 0);
  await net.submit(0, inputs);
  // y's connection to the live leader flapped: its driver reports the leader lost.
  net.now = 10;
  await net.call(y, () => net.endpoints[y].memberLost(l, net.now));
  assertEquals(net.endpoints[y].participant(0)?.view, 1, "the reporter leaves view 0");
  const others = all(fed, [y]);
  await net.run({ until: () => finalAt(net, others) !== undefined, maxTime: 60_000 });
  assertEquals(
    net.events("view-change").filter((e) => e.member !== y),
    [],
    "nobody else left view 0",
  );
  for (const m of others) {
    const [f] = net.events("final", m);
    assertEquals([f?.view, f?.members], [0, others], `member ${m}`);
    assertEquals(f.aggregate, plainSum(inputs, others));
  }
  net.close();
});
