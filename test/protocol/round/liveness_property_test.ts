/**
 * The liveness property of issue 8 (`docs/protocol.md` §4): with random late joins, random
 * leader crashes and random per-member clock skews (rate and offset), every living member's
 * round ends — `final` with the exact aggregate, or `round-failed` by the deadlines — and a member
 * stays `outcome-unknown` only when the abandon quorum is out of reach because too many members
 * died or committed to a view that then stalled. Never a stall. Seeded, fast (virtual time).
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { Endpoint } from "../../../protocol/round/endpoint.ts";
import type { Output, ProtocolEvent } from "../../../protocol/round/events.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { viewPatienceMs } from "../../../protocol/federation/roster.ts";
import { SimNetwork, type SimNode } from "../../../protocol/sim/mod.ts";
import { abandonQuorum } from "../../../protocol/round/leave_evidence.ts";
import { viewLimit } from "../../../protocol/round/stages.ts";
import { federationRoster } from "../_federation.ts";
import {
  below,
  labelledRng,
  machineConfig,
  plainSum,
  quantizedInput,
  rngFor,
  u8,
  verifyFinal,
} from "../_fixtures.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";

const CASES = 40;

/** An endpoint whose clock runs at `rate` from `offset` (its `now` is offset + rate · time). */
class SkewedNode implements SimNode {
  constructor(readonly endpoint: Endpoint, readonly rate: number, readonly offset: number) {}
  local(t: number): number {
    return this.offset + this.rate * t;
  }
  receive(frame: Uint8Array, from: number, now: number): Promise<Output[]> {
    return this.endpoint.receive(frame, from, this.local(now));
  }
  tick(now: number): Promise<Output[]> {
    return this.endpoint.tick(this.local(now));
  }
  nextTimeout(): number | undefined {
    const t = this.endpoint.nextTimeout();
    // The first network time at which the local clock has reached t.
    return t === undefined ? undefined : Math.ceil((t - this.offset) / this.rate);
  }
}

interface Case {
  readonly n: number;
  readonly submitAt: readonly number[];
  readonly kills: readonly { member: number; at: number }[];
  /** A leader killed as its session enters this stage (after masked inputs left), if any. */
  readonly killInStage?: { readonly member: number; readonly stage: string };
  readonly skews: readonly { rate: number; offset: number }[];
}

function draw(k: number, patience: number, n: number, leaderOfView: (v: number) => number): Case {
  const rng = rngFor("liveness", k);
  const frac = () => below(rng, 1_000_000) / 1_000_000;
  // Half the members at once; the others late, up to 2.5 view patiences.
  const submitAt = [...Array(n).keys()].map(() => frac() < 0.5 ? 0 : frac() * 2.5 * patience);
  // Crash 0 to n − t + 1 leaders of early views (sometimes more than the round can lose).
  const t = Math.floor((2 * n) / 3) + 1;
  const count = below(rng, n - t + 2);
  const kills: { member: number; at: number }[] = [];
  for (let j = 0; j < count; j++) {
    const member = leaderOfView(below(rng, Math.min(n, 3)));
    if (kills.some((x) => x.member === member)) continue;
    kills.push({ member, at: frac() * 3 * patience });
  }
  // Sometimes a leader dies mid-round, after members sent their masked inputs (and, from
  // `unmask` on, committed): their outcome may stay unknown.
  const stages = ["consistency", "unmask", "publish"];
  const killInStage = frac() < 0.4
    ? { member: leaderOfView(below(rng, 2)), stage: stages[below(rng, stages.length)] }
    : undefined;
  const skews = [...Array(n).keys()].map(() => ({
    rate: 0.85 + 0.3 * frac(),
    offset: Math.floor(frac() * 1e9),
  }));
  return { n, submitAt, kills, killInStage, skews };
}

Deno.test(`liveness: ${CASES} random late joins, leader crashes and clock skews: every round ends, never stalls`, async () => {
  const stats = {
    final: 0,
    excluded: 0,
    failed: 0,
    abandoned: 0,
    unknown: 0,
    synced: 0,
    sparse: 0,
    cases: 0,
  };
  for (let k = 0; k < CASES; k++) {
    const n = 3 + (k % 5);
    // Every third case of five members or more on a sparse graph (members commit on approving).
    const degree = n >= 5 && k % 3 === 2 ? 2 : undefined;
    if (degree !== undefined) stats.sparse++;
    const { roster, signers } = await federationRoster({ n, dim: 4, seed: 100 + k, degree });
    const patience = viewPatienceMs(roster);
    const c = draw(k, patience, n, (v) => leaderOf(roster, 0, v));
    const nodes = signers.map((_, self) =>
      new SkewedNode(
        new Endpoint(machineConfig({ roster, signers }, self, labelledRng("live", k, self))),
        c.skews[self].rate,
        c.skews[self].offset,
      )
    );
    const net = new SimNetwork(roster, nodes, { strict: true });
    const trigger = c.killInStage;
    if (trigger !== undefined) {
      net.onEvent = ({ member, event: e }) => {
        if (
          member === trigger.member && e.type === "stage" && e.role === "leader" &&
          e.stage === trigger.stage
        ) net.dead.add(member);
      };
    }
    const inputs = signers.map((_, i) =>
      quantizedInput(roster, labelledRng("in", k, i), labelledRng("round", k, i))
    );
    // Submissions and crashes, in time order, between runs of the network.
    const actions = [
      ...c.submitAt.map((at, member) => ({ at, member, kind: "submit" as const })),
      ...c.kills.map(({ at, member }) => ({ at, member, kind: "kill" as const })),
    ].sort((a, b) => a.at - b.at);
    const submitted = new Map<number, number>();
    for (const a of actions) {
      await net.run({ maxTime: a.at });
      net.now = Math.max(net.now, a.at);
      if (a.kind === "kill") net.dead.add(a.member);
      else if (!net.dead.has(a.member)) {
        const node = nodes[a.member];
        try {
          node.endpoint.checkSubmit(0);
        } catch {
          // Decided before this member's trainer got there (the node answers already-final).
          continue;
        }
        submitted.set(a.member, net.now);
        await net.call(
          a.member,
          () => node.endpoint.submit(0, inputs[a.member].slice(), node.local(net.now)),
        );
      }
    }
    // Each member's deadline, in network time.
    const deadlineOf = (m: number) => submitted.get(m)! + roster.roundDeadlineMs / c.skews[m].rate;
    const alive = () => [...submitted.keys()].filter((m) => !net.dead.has(m));
    const lastDeadline = Math.max(...[...submitted.keys()].map(deadlineOf));
    const ended = (m: number) =>
      net.log.some((l) =>
        l.member === m && (l.event.type === "final" || l.event.type === "round-failed") &&
        (l.event.type !== "round-failed" || l.event.role === "participant")
      );
    await net.run({
      until: () => alive().every(ended),
      maxTime: lastDeadline + 2 * patience,
    });
    const where = `case ${k}: ${JSON.stringify({ ...c, submitted: [...submitted] })}`;
    const events = (m: number) => net.log.filter((l) => l.member === m);
    const ofType = <T extends ProtocolEvent["type"]>(m: number, type: T) =>
      events(m).filter((l) => l.event.type === type) as unknown as {
        at: number;
        event: Extract<ProtocolEvent, { type: T }>;
      }[];
    // Who signed Leave(0, w) for which w (the ground truth), and who truly committed.
    const leftUpTo = (m: number) => Math.max(-1, ...ofType(m, "left").map((l) => l.event.view));
    stats.cases++;
    if (alive().some((m) => ofType(m, "view-change").some((v) => v.event.to > v.event.from + 1))) {
      stats.synced++;
    }
    let finalAggregate: string | undefined;
    for (const m of alive()) {
      const finals = ofType(m, "final").filter((l) => l.event.round === 0);
      const failed = ofType(m, "round-failed").filter((l) => l.event.role === "participant");
      // The round's final certificate reaches every member; its update ended there only if
      // the certificate contains it (else with a round-failed, excluded).
      for (const f of finals) {
        const sum = toHex(u8(plainSum(inputs, f.event.members)));
        assertEquals(toHex(u8(f.event.aggregate)), sum, `${where}: member ${m}: exact`);
        finalAggregate ??= sum;
        assertEquals(sum, finalAggregate, `${where}: one aggregate`);
      }
      const own = finals.filter((f) => f.event.members.includes(m));
      assert(own.length + failed.length <= 1, `${where}: member ${m}'s update ended twice`);
      if (own.length === 1) {
        const f = own[0].event;
        assertEquals([...(await verifyFinal(roster, f)).members], [...f.members]);
        stats.final++;
        continue;
      }
      if (failed.length === 1) {
        const f = failed[0];
        if (f.event.reason.startsWith("abandoned")) stats.abandoned++;
        else if (f.event.reason.startsWith("excluded")) stats.excluded++;
        else stats.failed++;
        // A failure that was not first an unknown outcome comes by the member's own deadline;
        // an abandonment, by the last deadline (the other members' Leaves).
        const byOwn = ofType(m, "outcome-unknown").length === 0;
        const limit = byOwn ? deadlineOf(m) : lastDeadline;
        assert(f.at <= limit + 1, `${where}: member ${m} failed at ${f.at}, after ${limit}`);
        continue;
      }
      // Neither: the outcome must be unknown, and only because the abandon quorum is out of
      // reach — the members that never signed Leave(0, w ≥ m) are dead or committed there.
      const unknown = ofType(m, "outcome-unknown");
      assert(unknown.length > 0, `${where}: member ${m} stalled: no end, no outcome-unknown`);
      stats.unknown++;
      const view = unknown[0].event.view;
      const signers = [...Array(n).keys()].filter((i) => leftUpTo(i) >= view);
      assert(
        signers.length < abandonQuorum(roster),
        `${where}: member ${m} is outcome-unknown though ${signers} signed Leave ≥ ${view}`,
      );
      for (const i of [...Array(n).keys()].filter((i) => !signers.includes(i))) {
        const committed = ofType(i, "committed").some((l) => l.event.view <= view);
        assert(
          net.dead.has(i) || !submitted.has(i) || committed,
          `${where}: member ${m} is outcome-unknown; member ${i} neither left view ${view}, ` +
            `nor died, nor committed`,
        );
      }
      assert(viewLimit(n) > view);
    }
    for (const e of nodes) e.endpoint.close();
  }
  // The cases exercise what they claim: completions, failures and synchronisation jumps.
  assert(
    stats.final > 0 && stats.failed > 0 && stats.synced > 0 && stats.sparse > 0 &&
      stats.abandoned + stats.unknown > 0,
    JSON.stringify(stats),
  );
  console.log(`liveness: ${JSON.stringify(stats)}`);
});
