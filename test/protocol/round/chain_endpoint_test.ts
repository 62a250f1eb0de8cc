/**
 * A member's endpoint across roster versions (`protocol/round/chain_endpoint.ts`), in memory:
 * rounds routed by number to their version, a round under version 0 and one under version 1
 * (a joiner added) both final and verifying under their own roster; member slots; frames from a
 * member the round's version does not list refused and blamed on its slot; a member that joins
 * starts at its version's first round and takes no update before it; adoption refused when the
 * version starts within the window, changes d, or does not extend the chain; the members a
 * running member admits (`admittedMembers`).
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { CallerError } from "../../../protocol/errors.ts";
import {
  genesisVersion,
  proposeVersion,
  type RosterVersion,
} from "../../../protocol/federation/amendment.ts";
import { admittedMembers } from "../../../protocol/federation/roster_chain.ts";
import { inlineExpander } from "../../../protocol/math/masking.ts";
import { ChainEndpoint } from "../../../protocol/round/chain_endpoint.ts";
import type { Output, ProtocolEvent } from "../../../protocol/round/events.ts";
import {
  type Federation,
  federation,
  inputsFor,
  joinChain,
  rngFor,
  verifyFinal,
} from "../_fixtures.ts";

/** The CallerError `fn` throws. */
function callerError(fn: () => unknown): CallerError {
  const err = assertThrows(fn, CallerError);
  assert(err instanceof CallerError);
  return err;
}

function endpointOf(fed: Federation, i: number, versions: readonly RosterVersion[]) {
  return new ChainEndpoint({
    versions,
    self: fed.roster.members[i].id,
    signer: fed.signers[i],
    rng: rngFor("chain", i),
    expander: inlineExpander,
  });
}

/**
 * Runs `round` among `eps` (every member's chain endpoint, by slot): each of `submitters`
 * (slots) submits its input of the round's roster; frames are delivered at once until none is
 * left. Resolves to each slot's events.
 */
async function runRound(
  eps: readonly ChainEndpoint[],
  round: number,
  submitters: readonly number[],
): Promise<ProtocolEvent[][]> {
  const events: ProtocolEvent[][] = eps.map(() => []);
  const queue: { to: number; from: number; frame: Uint8Array }[] = [];
  const take = (from: number, out: readonly Output[]) => {
    for (const o of out) {
      if (o.kind === "event") events[from].push(o.event);
      else if (o.kind === "send") queue.push({ to: o.to, from, frame: o.frame });
      else eps.forEach((_, to) => to !== from && queue.push({ to, from, frame: o.frame }));
    }
  };
  const roster = eps[submitters[0]].rosterOf(round);
  const inputs = inputsFor(roster, round);
  for (const s of submitters) {
    const index = roster.indexOf(eps[s].members[s])!;
    take(s, await eps[s].submit(round, inputs[index].slice(), 0));
  }
  while (queue.length > 0) {
    const { to, from, frame } = queue.shift()!;
    take(to, await eps[to].receive(frame, from, 0));
  }
  return events;
}

function finalOf(events: readonly ProtocolEvent[], round: number) {
  const e = events.find((e) => e.type === "final" && e.round === round);
  assert(e !== undefined && e.type === "final", `no final event for round ${round}`);
  return e;
}

Deno.test("chain endpoint: rounds before and after a join run under their own version", async () => {
  const { fed4, v0, v1 } = await joinChain(3);
  const versions = [v0, v1];
  // Members by slot: version 0's in roster order, then the joiner.
  const eps = [0, 1, 2, 3].map((i) => endpointOf(fed4, i, versions));
  assertEquals(eps[0].members, fed4.roster.members.map((m) => m.id));
  assertEquals([eps[0].versionOf(2).version, eps[0].versionOf(3).version], [0, 1]);
  // The joiner: current round 3 (its first), no update before it.
  assertEquals(eps[3].currentRound, 3);
  const refused = callerError(() => eps[3].checkSubmit(2));
  assertEquals(refused.code, "not-a-member");
  // Round 2 under version 0: three members, final everywhere, verifying under version 0.
  const early = await runRound(eps.slice(0, 3), 2, [0, 1, 2]);
  for (const events of early) {
    const final = finalOf(events, 2);
    assertEquals(final.members, [0, 1, 2]);
    await verifyFinal(v0.roster, final);
  }
  // Everyone learnt round 2 ended: the current round is 3, under version 1.
  for (const ep of eps.slice(0, 3)) assertEquals(ep.currentRound, 3);
  // Round 3 under version 1: the joiner takes part; the certificate is version 1's.
  const late = await runRound(eps, 3, [0, 1, 2, 3]);
  for (const events of late) {
    const final = finalOf(events, 3);
    assertEquals(final.members, [0, 1, 2, 3]);
    await verifyFinal(v1.roster, final);
    assert(!events.some((e) => e.type === "refused"), JSON.stringify(events));
  }
});

Deno.test("chain endpoint: a frame from a member the round's version lacks is refused, blamed on its slot", async () => {
  const { fed4, v0, v1 } = await joinChain(3);
  const eps = [0, 1, 2].map((i) => endpointOf(fed4, i, [v0, v1]));
  // Member 1's advert for round 1 (version 0), delivered as if the joiner (slot 3) sent it.
  const out = await eps[1].submit(1, inputsFor(v0.roster, 1)[1].slice(), 0);
  const advert = out.find((o) => o.kind === "send");
  assert(advert?.kind === "send");
  const events = (await eps[advert.to].receive(advert.frame, 3, 0)).flatMap((o) =>
    o.kind === "event" ? [o.event] : []
  );
  const refusal = events.find((e) => e.type === "refused");
  assert(refusal?.type === "refused", JSON.stringify(events));
  assertEquals([refusal.error.code, refusal.error.peer], ["not-member", 3]);
  // Bytes that name no round: malformed, blamed on the sender's slot.
  const junk = await eps[0].receive(new Uint8Array([1, 2, 3]), 2, 0);
  assert(junk[0].kind === "event" && junk[0].event.type === "refused");
  assertEquals([junk[0].event.error.code, junk[0].event.error.peer], ["malformed", 2]);
});

Deno.test("chain endpoint: adoption refuses a version too soon, another d, or another chain", async () => {
  const { fed4, v0, v1 } = await joinChain(3);
  const ep = endpointOf(fed4, 0, [v0]);
  // Current round 0: version 1 from round 3 is past the window (0 + 2).
  assertEquals(ep.checkAdoption([v0, v1]), [v1]);
  const soon = proposeVersion(v0, {
    previous: v0.hash,
    version: 1,
    firstRound: 2,
    changes: [{ kind: "add", member: fed4.roster.members[3] }],
  }).next;
  const tooSoon = callerError(() => ep.adopt([v0, soon]));
  assertEquals(tooSoon.code, "amendment-refused");
  assert(tooSoon.message.includes("must start after round 2"), tooSoon.message);
  // A version of another d (no amendment makes one today: the layout pins d; the refusal
  // guards against a future parameter change that would).
  const wider = { ...v1, roster: { ...v1.roster, dim: 16 } };
  const dim = callerError(() => ep.adopt([v0, wider]));
  assert(dim.message.includes("dim (8 → 16)"), dim.message);
  const other = genesisVersion((await federation({ n: 3, seed: "other" })).roster);
  assertEquals(callerError(() => ep.adopt([other])).code, "amendment-refused");
  // Nor does a member start with such a chain.
  const start = callerError(() => endpointOf(fed4, 0, [v0, wider]));
  assertEquals(start.code, "amendment-refused");
  // Nothing was adopted by the refusals; the valid version is.
  assertEquals(ep.versions.length, 1);
  assertEquals(ep.adopt([v0, v1]), [v1]);
  assertEquals(ep.members.length, 4);
  assertEquals(ep.versionOf(3).version, 1);
});

Deno.test("chain endpoint: members admitted while rounds of their versions may be in progress", async () => {
  const { fed4, v0, v1 } = await joinChain(3);
  const ids = fed4.roster.members.map((m) => m.id);
  const v2 = proposeVersion(v1, {
    previous: v1.hash,
    version: 2,
    firstRound: 6,
    changes: [{ kind: "remove", id: ids[2] }],
  }).next;
  const versions = [v0, v1, v2];
  // Before the join: everyone, the joiner already (it is dialled ahead of its first round).
  assertEquals([...admittedMembers(versions, 0)].sort(), ids);
  // From round 6 on, the removed member is not admitted.
  assertEquals([...admittedMembers(versions, 5)].sort(), ids);
  assertEquals([...admittedMembers(versions, 6)].sort(), [ids[0], ids[1], ids[3]]);
  // A running member keeps it ROUND_WINDOW (2) rounds past its last round.
  const ep = endpointOf(fed4, 0, versions);
  ep.restore({ decided: 6 }); // current round 7
  assert(ep.admitted().has(2));
  ep.restore({ decided: 7 }); // current round 8: rounds from 6 on may be in progress
  assert(!ep.admitted().has(2));
  assertEquals([...ep.admitted()].sort(), [1, 3]);
});
