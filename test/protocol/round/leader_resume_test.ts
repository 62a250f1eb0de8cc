/**
 * Which journaled leader unmask records resume a leader after a restart (`RestorePlan.lead`,
 * `docs/protocol.md` §4, "Restarts"): the restore plan decides, not the driver. A round with a
 * record is led again unless it was published here (final or not) or failed for this member (an
 * abandoned round can never be final); through `ChainEndpoint` each round's record is decided by
 * the endpoint of the roster version that governs it, and the resumed leader of a round of a
 * later version finishes that round under its own version.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { Endpoint } from "../../../protocol/round/endpoint.ts";
import { ChainEndpoint } from "../../../protocol/round/chain_endpoint.ts";
import type { RosterVersion } from "../../../protocol/federation/amendment.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { inlineExpander } from "../../../protocol/math/masking.ts";
import { SimNetwork, type SimNode } from "../../../protocol/sim/mod.ts";
import {
  type Federation,
  federation,
  inputsFor,
  joinChain,
  machineConfig,
  plainSum,
  rngFor,
  verifyFinal,
} from "../_fixtures.ts";

Deno.test("restore: a round published here resumes no leader, final or not", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "lead-plan" });
  const e = new Endpoint(machineConfig(fed, 0, rngFor("lead-plan", 0)));
  const plan = e.restore({ newestRound: 5, decided: 5, unmasked: [4, 5], published: [4, 5] });
  assertEquals(plan.lead, []);
  e.close();
});

Deno.test("restore: a round that failed for this member resumes no leader", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "lead-plan" });
  const e = new Endpoint(machineConfig(fed, 0, rngFor("lead-plan", 1)));
  const plan = e.restore({ newestRound: 5, failed: [5], unmasked: [5], roundFailed: [5] });
  assertEquals(plan.lead, []);
  // Failed for this member whatever else the journal holds (`failed` need not list it).
  const other = new Endpoint(machineConfig(fed, 0, rngFor("lead-plan", 2)));
  assertEquals(other.restore({ newestRound: 5, unmasked: [5], roundFailed: [5] }).lead, []);
  e.close();
  other.close();
});

Deno.test("restore: a pending round with a record resumes its leader; only the rounds with one", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "lead-plan" });
  const e = new Endpoint(machineConfig(fed, 0, rngFor("lead-plan", 3)));
  const plan = e.restore({
    newestRound: 7,
    decided: 4,
    committed: new Map([[6, 0]]),
    pending: [5, 6],
    unmasked: [7, 6, 4, 3, 6],
    published: [4],
    roundFailed: [3],
  });
  // 6 (committed, asked about) and 7 (no update of this member's: it only led) resume, once
  // each and in order; 5 has no record, 4 was published, 3 failed here.
  assertEquals(plan.lead, [6, 7]);
  assertEquals(plan.ask, [6]);
  e.close();
});

function chainEndpoint(fed: Federation, slot: number, versions: RosterVersion[], label: string) {
  return new ChainEndpoint({
    versions,
    self: fed.roster.members[slot].id,
    signer: fed.signers[slot],
    rng: rngFor("lead-chain", slot, label),
    expander: inlineExpander,
  });
}

Deno.test("through ChainEndpoint, each record is decided by its round's version, and the leader of a later version's round resumes under it", async () => {
  // Version 0: members 0-2 (rounds 0-2); version 1 adds member 3 from round 3. Round 4 runs
  // under version 1 and member 0, listed by both, leads its view 0.
  const { fed4, v0, v1 } = await joinChain(3);
  const versions = [v0, v1];
  const ROUND = 4;
  const x = leaderOf(v1.roster, ROUND, 0);
  assertEquals(x, 0, "a member of both versions leads the round");
  const eps = [0, 1, 2, 3].map((i) => chainEndpoint(fed4, i, versions, "first"));
  for (const ep of eps) ep.restore({ decided: 2 }); // current round 3: round 4 is taken
  const nodes: SimNode[] = eps.map((_, i) => ({
    receive: (frame, from, now) => eps[i].receive(frame, from, now),
    tick: (now) => eps[i].tick(now),
    nextTimeout: () => eps[i].nextTimeout(),
  }));
  // Slots are version 1's indices (version 0's members first, then the joiner).
  const net = new SimNetwork(v1.roster, nodes);
  const others = [1, 2, 3];
  // Every member reveals; no reveal reaches x before it is killed.
  net.hold = (w) => w.type === "unmask" && w.to === x;
  const inputs = inputsFor(v1.roster, ROUND);
  for (const i of [0, 1, 2, 3]) {
    await net.call(i, () => eps[i].submit(ROUND, inputs[i].slice(), net.now));
  }
  await net.run({
    until: () => others.every((i) => net.events("committed", i).length > 0),
    maxTime: 60_000,
  });
  const [unmasking] = net.events("unmasking", x);
  assertEquals([unmasking.round, unmasking.view], [ROUND, 0]);
  eps[x].close();
  net.dead.add(x);
  assertEquals(net.take(() => true, net.held).length, others.length, "the reveals died with x");
  net.hold = undefined;

  // x restarts. Its journal also holds a record of round 1 (version 0), published there, and
  // one of round 2 (version 0), failed for it: neither leads again.
  eps[x] = chainEndpoint(fed4, x, versions, "restarted");
  net.dead.delete(x);
  const plan = eps[x].restore({
    newestRound: ROUND,
    decided: 1,
    committed: new Map([[ROUND, 0]]),
    pending: [ROUND],
    unmasked: [1, 2, ROUND],
    published: [1],
    roundFailed: [2],
  });
  assertEquals(plan.lead, [ROUND], "round 4's record, decided once, by version 1");
  assertEquals(plan.ask, [ROUND]);
  await net.call(x, () => eps[x].resumeLeader(ROUND, unmasking.record, net.now));
  await net.call(x, () => eps[x].ask(ROUND, net.now));
  await net.run({ until: () => net.events("final").length >= 4, maxTime: net.now + 60_000 });
  const finals = net.events("final").filter((f) => f.round === ROUND);
  assertEquals(finals.length, 4, "final everywhere");
  for (const f of finals) {
    assertEquals([f.view, f.members], [0, [0, 1, 2, 3]], "view 0, every update");
    assertEquals(f.aggregate, plainSum(inputs, [0, 1, 2, 3]));
    await verifyFinal(v1.roster, f);
  }
  assert(!net.events("round-failed").some((e) => e.role === "participant"));
  eps.forEach((e) => e.close());
});
