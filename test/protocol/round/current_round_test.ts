/**
 * The federation's current round as an endpoint knows it (`Endpoint.currentRound`) and the
 * trainer's withdrawal of an update (`Endpoint.withdraw`): a mistyped round number is refused
 * before anything is kept and leaves the member leading the federation's rounds, also when an
 * older version journaled it (given up at a restart, never counted as the current round); the
 * current round follows the rounds that end here and certificates gossiped from far ahead (only
 * genuine ones); an update is withdrawn before its masked input left, never after, and a new
 * update for the round starts in a later view.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { Endpoint, ROUND_WINDOW, VIEW_WINDOW } from "../../../protocol/round/endpoint.ts";
import { CallerError } from "../../../protocol/errors.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { openFrame, withoutBody } from "../../../protocol/wire/frame.ts";
import {
  all,
  eventsOf,
  type Federation,
  federation,
  genuineAdvert,
  inputsFor,
  machineConfig,
  refusalsIn,
  rngFor,
} from "../_fixtures.ts";
import { forgeSignature } from "../_frames.ts";
import { EndpointNet } from "../_harness.ts";

const fedPromise = federation({ n: 5, dim: 16, seed: "current-round" });

function endpoint(fed: Federation, self: number, label = "cr"): Endpoint {
  return new Endpoint(machineConfig(fed, self, rngFor(label, self)));
}

/** A view of `round` within VIEW_WINDOW that member `self` leads, if any. */
function ledView(fed: Federation, self: number, round: number): number | undefined {
  for (let v = 0; v <= VIEW_WINDOW; v++) if (leaderOf(fed.roster, round, v) === self) return v;
  return undefined;
}

/** The code of the CallerError `call` rejects with. */
async function refusedWith(call: () => Promise<unknown>): Promise<string> {
  return (await assertRejects(call, CallerError) as CallerError).code;
}

/** The code of the CallerError `call` throws. */
function thrownBy(call: () => void): string {
  return (assertThrows(call, CallerError) as CallerError).code;
}

/** Whether member `self` leads the first session of a round in `rounds` it is scheduled for. */
async function leadsSomeOf(
  fed: Federation,
  e: Endpoint,
  self: number,
  rounds: readonly number[],
): Promise<boolean> {
  const round = rounds.find((r) => ledView(fed, self, r) !== undefined)!;
  assert(round !== undefined, "this member leads a view of one of the rounds");
  const view = ledView(fed, self, round)!;
  const sender = all(fed, [self])[0];
  const out = await e.receive(await genuineAdvert(fed, sender, round, view), sender, 0);
  return refusalsIn(eventsOf(out)).length === 0 && e.leader(round, view) !== undefined;
}

Deno.test("current round: a mistyped round is refused before anything is kept; the member still leads the federation's rounds", async () => {
  const fed = await fedPromise;
  const self = 2;
  const e = endpoint(fed, self);
  // A member with no history: the federation's current round is 0 for it.
  assertEquals(e.currentRound, 0);
  for (let r = 0; r <= ROUND_WINDOW; r++) e.checkSubmit(r);
  const input = inputsFor(fed.roster, 0)[self];
  const err = await assertRejects(() => e.submit(1_000_000, input, 0), CallerError);
  assertEquals((err as CallerError).code, "round-too-far-ahead");
  assert(err.message.includes("current round is 0"), err.message);
  assert(err.message.includes(`up to ${ROUND_WINDOW}`), err.message);
  assertEquals(e.participant(1_000_000), undefined);
  assertEquals(
    thrownBy(() => e.checkSubmit(ROUND_WINDOW + 1)),
    "round-too-far-ahead",
  );
  // It still takes the rounds in reach and leads the sessions of them it is scheduled for
  // (before, it refused them: "outside this member's window (newest round 1000000)").
  assert((await e.submit(0, input, 0)).some((o) => o.kind === "send"));
  assert(await leadsSomeOf(fed, e, self, [1, 2, 0]));
  e.close();
});

Deno.test("current round: an update journaled for a round too far ahead is given up at a restart and never moves the current round", async () => {
  const fed = await fedPromise;
  const self = 2;
  const e = endpoint(fed, self);
  // What an older version accepted: round 1 000 000, beside a normal pending round 4.
  const plan = e.restore({
    newestRound: 1_000_000,
    decided: 3,
    failed: [],
    advertised: new Map([[1_000_000, 0]]),
    pending: [4, 1_000_000],
  });
  assertEquals(plan.resume, [{ round: 4, view: 0 }]);
  const given = eventsOf(plan.givenUp);
  assertEquals(given.map((g) => g.type === "round-failed" && [g.round, g.role]), [
    [1_000_000, "participant"],
  ]);
  const reason = given[0].type === "round-failed" ? given[0].reason : "";
  assert(reason.includes("ahead of the federation's current round 4"), reason);
  assertEquals(e.currentRound, 4, "not one past the given-up round");
  assert(await leadsSomeOf(fed, e, self, [4, 5, 6, 3]));
  e.close();
  // The next restart finds that round failed (its update deleted): still not the current round.
  const again = endpoint(fed, self, "again");
  again.restore({ newestRound: 1_000_000, decided: 3, failed: [4, 1_000_000] });
  assertEquals(again.currentRound, 5);
  assert(await leadsSomeOf(fed, again, self, [5, 6, 4]));
  again.close();
});

Deno.test("current round: follows decided and failed rounds, and genuine certificates gossiped from far ahead", async () => {
  const fed = await fedPromise;
  const { roster } = fed;
  // A decided round moves every member on.
  const net = new EndpointNet(fed);
  await net.submit(0, inputsFor(roster, 0));
  await net.deliver();
  assertEquals(net.endpoints.map((e) => e.currentRound), all(fed).map(() => 1));
  net.close();

  // Round 20 decided elsewhere: its certificate, gossiped without its body.
  const far = 20;
  const ahead = new EndpointNet(fed, undefined, "ahead");
  for (const e of ahead.endpoints) e.restore({ decided: far - 1 });
  await ahead.submit(far, inputsFor(roster, far));
  await ahead.deliver();
  const wire = ahead.sent("certificate")[0];
  const gossiped = withoutBody(openFrame(wire.frame, roster));
  ahead.close();
  const x = all(fed, [wire.from])[0];
  // Forged or lone certificates teach nothing.
  const fresh = endpoint(fed, x, "fresh");
  assertEquals((await fresh.wantsCertificate(forgeSignature(gossiped), wire.from)).kind, "refused");
  assertEquals(fresh.currentRound, 0);
  // A member whose knowledge is behind learns from a genuine one that the federation moved on.
  const interest = await fresh.wantsCertificate(gossiped, wire.from);
  assertEquals(interest.kind, "ignore");
  assertEquals(fresh.currentRound, far + 1);
  fresh.checkSubmit(far + 1 + ROUND_WINDOW);
  assertEquals(
    thrownBy(() => fresh.checkSubmit(far + 2 + ROUND_WINDOW)),
    "round-too-far-ahead",
  );
  fresh.close();

  // A round that failed for this member's update ends too (within the window only).
  const failed = endpoint(fed, x, "failed");
  failed.restore({ failed: [0, 1, 1_000_000] });
  assertEquals(failed.currentRound, 2);
  failed.close();
});

Deno.test("withdraw: before the masked input left, the update goes and the round takes a new one in a later view", async () => {
  const fed = await fedPromise;
  const { roster } = fed;
  const x = all(fed, [leaderOf(roster, 0, 0)])[0];
  const e = endpoint(fed, x);
  assertEquals(await refusedWith(() => e.withdraw(0)), "nothing-to-withdraw");
  assertEquals(await refusedWith(() => e.withdraw(-1)), "invalid-input");
  const input = inputsFor(roster, 0)[x];
  await e.submit(0, input, 0);
  const out = await e.withdraw(0);
  assertEquals(eventsOf(out), [{ type: "withdrawn", round: 0, view: 0, nextView: 1 }]);
  assertEquals(out.filter((o) => o.kind !== "event"), [], "nothing more is sent");
  assertEquals(e.participant(0), undefined);
  assert(input.every((w) => w === 0), "the input is wiped");
  assertEquals(e.nextTimeout(), undefined, "no timer left for the round");
  assertEquals(await refusedWith(() => e.withdraw(0)), "nothing-to-withdraw");
  // A new update for the round advertises in the next view (never twice in one session).
  const again = eventsOf(await e.submit(0, inputsFor(roster, 0)[x], 0));
  assertEquals(again.filter((ev) => ev.type === "advertised"), [
    { type: "advertised", round: 0, view: 1 },
  ]);
  e.close();
  // After a restart, from the journaled withdrawal.
  const restarted = endpoint(fed, x, "restarted");
  restarted.restore({ newestRound: 0, withdrawn: new Map([[0, 1]]) });
  const resumed = eventsOf(await restarted.submit(0, inputsFor(roster, 0)[x], 0));
  assertEquals(resumed.filter((ev) => ev.type === "advertised").map((ev) => ev.type), [
    "advertised",
  ]);
  assertEquals(restarted.participant(0)!.view, 1);
  restarted.close();
});

Deno.test("withdraw: refused once the masked input left (committed), and once the round is decided", async () => {
  const fed = await fedPromise;
  const { roster } = fed;
  const l = leaderOf(roster, 0, 0);
  const x = all(fed, [l])[0];
  const net = new EndpointNet(fed);
  // Everyone sent a masked input; the leader's consistency request to x is held back.
  net.hold = (m) => m.type === "consistencyRequest" && m.to === x;
  await net.submit(0, inputsFor(roster, 0));
  await net.deliver();
  const p = net.endpoints[x].participant(0)!;
  assert(p.sentMaskedInput && p.committedView === undefined, "sent, not yet committed");
  const err = await assertRejects(() => net.endpoints[x].withdraw(0), CallerError);
  assertEquals((err as CallerError).code, "committed");
  assert(err.message.includes("masked input"), err.message);
  assert(net.endpoints[x].participant(0) === p, "the update stays in the round");
  net.hold = undefined;
  net.release();
  await net.deliver();
  assert(net.endpoints[x].participant(0)!.decided);
  assertEquals(await refusedWith(() => net.endpoints[x].withdraw(0)), "decided");
  // Its update is in the aggregate, as if nothing had been asked.
  assert(net.events("final", x)[0].members.includes(x));
  net.close();
});
