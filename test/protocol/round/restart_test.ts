/**
 * A member that restarts (its endpoint replaced by a fresh one, as after SIGKILL) keeps its
 * acknowledged update (`docs/protocol.md` §4, restarts): it never advertises twice in one session
 * — it resumes in the view after the last it advertised in, is not blamed, and its update ends
 * in exactly one certified aggregate or in an explicit `round-failed`; every pending round is
 * resumed or given up with a reason; a member whose round ended without it learns that from the
 * leader of its next view (an Outcome) and stops; views are capped at n; a round published but
 * not final before the restart is made final by asking the members (OutcomeRequest); a
 * renouncement is kept across a restart and past the eviction of the seat that made it.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { Endpoint } from "../../../protocol/round/endpoint.ts";
import { ChainEndpoint } from "../../../protocol/round/chain_endpoint.ts";
import { genesisVersion } from "../../../protocol/federation/amendment.ts";
import { inlineExpander } from "../../../protocol/math/masking.ts";
import { Participant } from "../../../protocol/round/participant.ts";
import { viewLimit } from "../../../protocol/round/stages.ts";
import { INQUIRY_ATTEMPTS, inquiryBackoffMs } from "../../../protocol/round/outcome_inquiry.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { openFrame, sealFrame, withoutBody } from "../../../protocol/wire/frame.ts";
import { outcomeRequestFields, readLeave } from "../../../protocol/wire/messages.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { verifyFinalCertificate } from "../../../protocol/certificate/final.ts";
import { type EventOf, SimNetwork, type SimNode } from "../../../protocol/sim/mod.ts";
import {
  all,
  eventsOf,
  type Federation,
  federation,
  follower,
  inputsFor,
  machineConfig,
  plainSum,
  rngFor,
} from "../_fixtures.ts";

const ROUND = 0;

/** A network of endpoints in which any member can be restarted with a fresh endpoint. */
class RestartNet extends SimNetwork {
  readonly endpoints: Endpoint[];
  readonly fed: Federation;
  #restarts = 0;

  constructor(fed: Federation) {
    const endpoints = fed.signers.map((_, i) =>
      new Endpoint(machineConfig(fed, i, rngFor("rs", i)))
    );
    const nodes: SimNode[] = endpoints.map((_, i) => ({
      receive: (frame, from, now) => this.endpoints[i].receive(frame, from, now),
      tick: (now) => this.endpoints[i].tick(now),
      nextTimeout: () => this.endpoints[i].nextTimeout(),
    }));
    super(fed.roster, nodes);
    this.endpoints = endpoints;
    this.fed = fed;
  }

  /** Submits every member's input (copies) to `round` in view 0. */
  async submitAll(inputs: readonly Uint32Array[], members = all(this.fed)): Promise<void> {
    for (const i of members) {
      await this.call(i, () => this.endpoints[i].submit(ROUND, inputs[i].slice(), this.now));
    }
  }

  /** Member `x` loses everything in memory (its journal is what the test passes to `restore`). */
  crash(x: number): void {
    this.endpoints[x].close();
    this.dead.add(x);
  }

  /** Member `x` comes back with a fresh endpoint (fresh randomness), restored from `journal`. */
  restart(x: number, journal: Parameters<Endpoint["restore"]>[0]) {
    const e = new Endpoint(
      machineConfig(this.fed, x, rngFor("rs", x, "restart", ++this.#restarts)),
    );
    this.endpoints[x] = e;
    this.dead.delete(x);
    return e.restore(journal);
  }

  /** The codes of every refusal reported so far. */
  refusalCodes(): string[] {
    return this.events("refused").map((e) => e.error.code);
  }
}

Deno.test("restart after the advert, t = n: resumes in view 1, not blamed, its update is in the aggregate", async () => {
  const fed = await federation({ n: 4, threshold: 4, seed: "restart-tn" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0, 1]);
  await net.submitAll(inputs);
  // x's advert is on its way (journaled as advertised in view 0); then x is killed.
  assertEquals(net.events("advertised", x), [{
    type: "advertised",
    round: ROUND,
    view: 0,
    member: x,
  }]);
  net.crash(x);
  await net.deliver();
  assertEquals(net.endpoints[leaderOf(fed.roster, ROUND, 0)].leader(ROUND, 0)?.stage, "share");

  const plan = net.restart(x, {
    newestRound: ROUND,
    advertised: new Map([[ROUND, 0]]),
    pending: [ROUND],
  });
  assertEquals(plan, { resume: [{ round: ROUND, view: 1 }], givenUp: [], ask: [], lead: [] });
  await net.call(x, () => net.endpoints[x].submit(ROUND, inputs[x].slice(), net.now, 1));
  await net.run({ until: () => net.events("final").length === 4, maxTime: 60_000 });

  const finals = net.events("final");
  assertEquals(finals.length, 4, "final at every member");
  for (const f of finals) {
    assertEquals([f.view, f.members], [1, all(fed)], "view 1, with x's update");
    assertEquals(f.aggregate, plainSum(inputs, all(fed)));
  }
  assertEquals(net.events("round-failed", x), []);
  assert(!net.refusalCodes().includes("equivocation"), net.refusalCodes().join(", "));
  // x advertised once in view 0 (before the crash) and once in view 1: never twice in a session.
  assertEquals(net.sent("advertiseKeys", x).map((w) => w.session.view), [0, 1]);
  net.endpoints.forEach((e) => e.close());
});

Deno.test("restart after the advert, t < n: the round completes without it; it learns that and reports round-failed", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "restart-tlt" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0, 1]);
  await net.submitAll(inputs);
  net.crash(x);
  await net.deliver();
  const plan = net.restart(x, {
    newestRound: ROUND,
    advertised: new Map([[ROUND, 0]]),
    pending: [ROUND],
  });
  assertEquals(plan.resume, [{ round: ROUND, view: 1 }]);
  await net.call(x, () => net.endpoints[x].submit(ROUND, inputs[x].slice(), net.now, 1));
  await net.run({ until: () => net.events("final").length === 4, maxTime: 60_000 });

  const others = all(fed, [x]);
  for (const f of net.events("final")) {
    assertEquals([f.view, f.members], [0, others]);
    assertEquals(f.aggregate, plainSum(inputs, others));
  }
  // x's acknowledged update is in no aggregate, and x says so, once, with the reason.
  const failed = net.events("round-failed", x);
  assertEquals(failed.length, 1);
  assertEquals([failed[0].role, failed[0].view], ["participant", 0]);
  assert(failed[0].reason.startsWith("excluded"), failed[0].reason);
  assert(!net.refusalCodes().includes("equivocation"), net.refusalCodes().join(", "));
  net.endpoints.forEach((e) => e.close());
});

Deno.test("a member restarted after its round ended elsewhere learns it from its next leader and stops", async (t) => {
  for (const included of [true, false]) {
    await t.step(
      included ? "its update is in the aggregate: final" : "it is not: round-failed",
      async () => {
        const fed = await federation({ n: 4, threshold: 3, seed: "restart-ended" });
        const net = new RestartNet(fed);
        const inputs = inputsFor(fed.roster, ROUND);
        const x = follower(fed.roster, ROUND, [0, 1]);
        // Included: x takes part and crashes once the round is final everywhere (before its
        // final record was written). Excluded: x crashed right after its advert.
        await net.submitAll(inputs);
        if (!included) net.crash(x);
        await net.run({
          until: () => net.events("final").length === (included ? 4 : 3),
          maxTime: 60_000,
        });
        if (included) net.crash(x);
        const before = net.log.length;

        const plan = net.restart(x, {
          newestRound: ROUND,
          advertised: new Map([[ROUND, 0]]),
          pending: [ROUND],
        });
        assertEquals(plan.resume, [{ round: ROUND, view: 1 }]);
        await net.call(x, () => net.endpoints[x].submit(ROUND, inputs[x].slice(), net.now, 1));
        // The leader of view 1 holds the round final: it answers x's advert with the Outcome.
        await net.deliver();
        const outcome = net.sent("outcome");
        assertEquals(outcome.map((w) => [w.from, w.to]), [[leaderOf(fed.roster, ROUND, 1), x]]);
        const after = net.log.slice(before).filter((l) => l.member === x).map((l) => l.event);
        const final = after.find((e) => e.type === "final");
        assert(final?.type === "final", "x holds the final certificate");
        const body = new Uint8Array(final.aggregate.buffer);
        const verified = await verifyFinalCertificate(fed.roster, final.certificate, body);
        assertEquals(verified.members.includes(x), included);
        const failed = after.filter((e) => e.type === "round-failed");
        if (included) assertEquals(failed, []);
        else {
          assertEquals(failed.length, 1);
          assert(failed[0].type === "round-failed" && failed[0].reason.startsWith("excluded"));
        }
        // x stopped: no timeout left, no further view.
        assertEquals(net.endpoints[x].nextTimeout(), undefined);
        await net.run({ maxTime: net.now + 10 * 60_000 });
        assertEquals(net.sent("advertiseKeys", x).map((w) => w.session.view), [0, 1]);
        net.endpoints.forEach((e) => e.close());
      },
    );
  }
});

Deno.test("participant: gives the round up after n views without progress", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "restart-cap" });
  const { roster } = fed;
  const x = 0;
  const p = new Participant(
    machineConfig(fed, x, rngFor("cap")),
    ROUND,
    inputsFor(roster, ROUND)[x],
  );
  const events = eventsOf(await p.start(0));
  // No leader ever answers: every view times out. Bounded, so the old code's endless cycling
  // fails the test instead of hanging it.
  for (let i = 0; i < 4 * roster.members.length && p.nextTimeout() !== undefined; i++) {
    events.push(...eventsOf(await p.handleTimeout(p.nextTimeout()!)));
  }
  assertEquals(viewLimit(roster.members.length), roster.members.length);
  const changes = events.filter((e) => e.type === "view-change");
  assertEquals(changes.length, roster.members.length - 1, "views 0 … n − 1");
  const failed = events.filter((e) => e.type === "round-failed");
  assertEquals(failed.length, 1);
  assert(failed[0].type === "round-failed" && failed[0].view === roster.members.length - 1);
  assertEquals([p.stage, p.nextTimeout()], ["failed", undefined]);
  // A start past the limit (a restart after the last view) gives up at once.
  const late = new Participant(
    machineConfig(fed, x, rngFor("cap2")),
    ROUND,
    inputsFor(roster, ROUND)[x],
  );
  const out = eventsOf(await late.start(0, roster.members.length));
  assertEquals(out.map((e) => e.type), ["round-failed"]);
});

Deno.test("restore: every pending round is resumed or given up with its reason", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "restart-plan" });
  const e = new Endpoint(machineConfig(fed, 0, rngFor("plan")));
  const n = fed.roster.members.length;
  const plan = e.restore({
    newestRound: 10,
    decided: 8,
    committed: new Map([[9, 0]]),
    advertised: new Map([[8, 0], [10, n - 1]]),
    pending: [10, 3, 8, 9, 7],
  });
  assertEquals(plan.resume, [{ round: 8, view: 1 }]);
  // Committed before the restart: asked about, never given up on a guess.
  assertEquals(plan.ask, [9]);
  const given = plan.givenUp.map((o) => (o.kind === "event" ? o.event : undefined));
  assertEquals(
    given.map((g) =>
      g?.type === "round-failed" && [g.round, g.role, g.reason.split(" ").slice(0, 4).join(" ")]
    ),
    [
      [3, "participant", "more than 2 rounds"],
      [7, "participant", "more than 2 rounds"],
      [10, "participant", "this member advertised in"],
    ],
  );
  // Nothing journaled: nothing to resume or give up.
  assertEquals(new Endpoint(machineConfig(fed, 1, rngFor("plan"))).restore({}), {
    resume: [],
    givenUp: [],
    ask: [],
    lead: [],
  });
  e.close();
});

Deno.test("a round published but not final before a restart becomes final by asking the members", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "restart-recover" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  await net.submitAll(inputs);
  await net.run({ until: () => net.events("final").length === 4, maxTime: 60_000 });
  const x = follower(fed.roster, ROUND, [0]);
  const [published] = net.events("published", x);
  net.crash(x);
  const before = net.log.length;
  net.restart(x, { newestRound: ROUND });
  const body = new Uint8Array(published.aggregate.slice().buffer);
  await net.call(x, () => net.endpoints[x].recover(published.certificate, body, net.now));
  // x asked every other member once; each holds the final certificate and answers once.
  assertEquals(net.sent("outcomeRequest", x).map((w) => w.to), all(fed, [x]));
  await net.deliver();
  assertEquals(net.sent("outcome").map((w) => w.to), [x, x, x]);
  const after = net.log.slice(before).filter((l) => l.member === x).map((l) => l.event);
  const finals = after.filter((e) => e.type === "final");
  assertEquals(finals.length, 1, "final once, however many members answered");
  assert(finals[0].type === "final");
  await verifyFinalCertificate(fed.roster, finals[0].certificate, body);
  assertEquals(finals[0].leaderCertificate, published.certificate);
  // Asking again is not answered again, in the same view or naming any other view below the
  // limit: an Outcome carries the aggregate.
  const y = x === 0 ? 1 : 0;
  assertEquals(
    await net.endpoints[y].receive(net.sent("outcomeRequest", x)[0].frame, x, net.now),
    [],
  );
  for (let view = 0; view < viewLimit(fed.roster.members.length); view++) {
    const request = await sealFrame(
      "outcomeRequest",
      sessionOf(fed.roster, ROUND, view),
      x,
      outcomeRequestFields(),
      fed.signers[x],
      fed.roster.mode,
    );
    assertEquals(await net.endpoints[y].receive(request, x, net.now), [], `view ${view}`);
  }
  net.endpoints.forEach((e) => e.close());
});

Deno.test("an Outcome that does not verify is refused, blaming its sender", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "restart-forged" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0, 1]);
  net.crash(x);
  await net.submitAll(inputs, all(fed, [x]));
  await net.run({ until: () => net.events("final").length === 3, maxTime: 60_000 });
  net.restart(x, { newestRound: ROUND, pending: [ROUND] });
  // A genuine Outcome from the leader of view 1, with one bit of its aggregate flipped.
  const l1 = leaderOf(fed.roster, ROUND, 1);
  await net.call(x, () => net.endpoints[x].submit(ROUND, inputs[x].slice(), net.now, 1));
  const [wire] = net.queued().filter((w) => w.type === "advertiseKeys" && w.from === x);
  const answer = await net.endpoints[l1].receive(wire.frame, x, net.now);
  assertEquals(answer.length, 1);
  assert(answer[0].kind === "send");
  const env = openFrame(answer[0].frame, fed.roster);
  const forged = env.frame.slice();
  forged[forged.length - 1] ^= 1; // the body is the frame's last element
  const out = eventsOf(await net.endpoints[x].receive(forged, l1, net.now));
  assertEquals(out.map((e) => e.type === "refused" && [e.error.code, e.error.peer]), [[
    "commitment-mismatch",
    l1,
  ]]);
  assertEquals(net.endpoints[x].participant(ROUND)?.decided, false);
  // The same Outcome unaltered is taken.
  const ok = eventsOf(await net.endpoints[x].receive(answer[0].frame, l1, net.now));
  assert(ok.some((e) => e.type === "final"));
  assert(ok.some((e) => e.type === "round-failed"), "x's update is not in it");
  assertEquals(withoutBody(env).length < env.frame.length, true);
  net.endpoints.forEach((e) => e.close());
});

Deno.test("a member that committed and crashed is not given up at restart: it asks, and the Outcome makes it final with its update", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "review-commit" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0]);
  await net.submitAll(inputs);
  await net.run({ until: () => net.events("committed", x).length === 1, maxTime: 60_000 });
  const [c] = net.events("committed", x);
  net.crash(x); // its unmask shares are already queued
  await net.run({ until: () => net.events("final").length === 3, maxTime: 60_000 });
  const finals = net.events("final");
  assertEquals(finals.length, 3);
  assert(finals.every((f) => f.members.includes(x)), "x's update is certified");
  const before = net.log.length;
  const plan = net.restart(x, {
    newestRound: ROUND,
    committed: new Map([[ROUND, c.view]]),
    pending: [ROUND],
  });
  assertEquals(
    plan,
    { resume: [], givenUp: [], ask: [ROUND], lead: [] },
    "no round-failed by guess",
  );
  await net.call(x, () => net.endpoints[x].ask(ROUND, net.now));
  assertEquals(
    net.sent("outcomeRequest", x).map((w) => [w.to, w.session.view]),
    all(fed, [x]).map((to) => [to, c.view]),
  );
  await net.run({ until: () => net.events("final", x).length > 0, maxTime: net.now + 60_000 });
  const after = net.log.slice(before).filter((l) => l.member === x).map((l) => l.event);
  assertEquals(after.filter((e) => e.type === "outcome-unknown").length, 1);
  const final = after.filter((e) => e.type === "final");
  assertEquals(final.length, 1, "final once, however many answered");
  assert(final[0].type === "final" && final[0].members.includes(x));
  assertEquals(after.filter((e) => e.type === "round-failed"), []);
  assertEquals(net.endpoints[x].nextTimeout(), undefined, "it stopped asking");
  net.endpoints.forEach((e) => e.close());
});

/**
 * How many rounds of OutcomeRequests an inquiry started at 0 has sent by `until` (view timeouts
 * 1, 2, 4 … 32 apart, then every 32).
 */
function requestRounds(viewTimeoutMs: number, until: number): number {
  let at = 0;
  let rounds = 0;
  while (at <= until) {
    at += inquiryBackoffMs({ viewTimeoutMs }, rounds);
    rounds++;
  }
  return rounds;
}

Deno.test("a restarted committed member nobody answers stays outcome-unknown: it keeps asking at a capped backoff, never fails", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "review-commit-alone" });
  const net = new RestartNet(fed);
  const x = 1;
  for (const i of all(fed, [x])) net.crash(i);
  const plan = net.restart(x, {
    newestRound: ROUND,
    committed: new Map([[ROUND, 0]]),
    pending: [ROUND],
  });
  assertEquals(plan.ask, [ROUND]);
  const start = net.now;
  await net.call(x, () => net.endpoints[x].ask(ROUND, net.now));
  const horizon = 1_000 * fed.roster.viewTimeoutMs;
  await net.run({ maxTime: start + horizon });
  const rounds = requestRounds(fed.roster.viewTimeoutMs, horizon);
  // Six rounds in the first 63 view timeouts, then one every 32: it never stops asking.
  assert(rounds > INQUIRY_ATTEMPTS + 20, `${rounds}`);
  assertEquals(net.sent("outcomeRequest", x).length, rounds * (fed.roster.members.length - 1));
  assertEquals(net.events("outcome-unknown", x).map((e) => e.asking), [true]);
  assertEquals(net.events("round-failed", x), []);
  assertEquals(
    net.endpoints[x].nextTimeout(),
    start + [...Array(rounds).keys()].reduce(
      (sum, k) => sum + inquiryBackoffMs(fed.roster, k),
      0,
    ),
  );
  net.endpoints.forEach((e) => e.close());
});

Deno.test("a committed member whose leader is slow is outcome-unknown, then final with its update, never round-failed", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "review-slow" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0]);
  net.hold = (w) => w.type === "certificate";
  await net.submitAll(inputs);
  await net.run({ until: () => net.events("outcome-unknown", x).length > 0, maxTime: 600_000 });
  assertEquals(net.events("outcome-unknown", x).map((e) => e.asking), [true]);
  assertEquals(net.events("round-failed", x), [], "no round-failed on a timeout");
  assert(net.sent("outcomeRequest", x).length >= all(fed, [x]).length, "it asks its peers");
  net.hold = undefined;
  net.release();
  await net.run({ until: () => net.events("final", x).length > 0, maxTime: 900_000 });
  const finals = net.events("final", x);
  assertEquals(finals.length, 1);
  assertEquals(finals[0].members, all(fed), "certified with x's update");
  assertEquals(net.events("round-failed", x), [], "and never reported failed");
  net.endpoints.forEach((e) => e.close());
});

Deno.test("a fifth open round evicts the oldest participant with a round-failed, observers first", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "review-evict" });
  const net = new RestartNet(fed);
  const x = 0;
  for (const i of all(fed, [x])) net.crash(i);
  // Round 2 is decided (current round 3): five open rounds fit below and within the window.
  net.endpoints[x].restore({ decided: 2 });
  for (const r of [0, 1, 3, 4, 5]) {
    const input = inputsFor(fed.roster, r)[x].slice();
    await net.call(x, () => net.endpoints[x].submit(r, input, net.now));
  }
  // Round 0's participant lost its seat: its update is reported ended, with the reason.
  const evicted = net.events("round-failed", x).filter((e) => e.role === "participant");
  assertEquals(evicted.map((e) => e.round), [0]);
  assert(evicted[0].reason.startsWith("evicted"), evicted[0].reason);
  assertEquals(net.endpoints[x].participant(0), undefined);
  await net.run({ maxTime: 10_000_000 });
  const failed = net.events("round-failed", x).filter((e) => e.role === "participant");
  assertEquals(failed.map((e) => e.round).sort(), [0, 1, 3, 4, 5], "each once");
  net.endpoints.forEach((e) => e.close());

  // An observer is dropped before any participant, even the observer of a newer round.
  const e = new Endpoint(machineConfig(fed, x, rngFor("evict2")));
  const plan = e.restore({
    decided: 2,
    newestRound: 9,
    committed: new Map([[9, 0]]),
    pending: [9],
  });
  assertEquals(plan.ask, [9], "round 9 (the newest): an observer of a committed update");
  const out: string[] = [];
  for (const r of [1, 3, 4, 5]) {
    for (const o of await e.submit(r, inputsFor(fed.roster, r)[x].slice(), 0)) {
      if (o.kind !== "event") continue;
      if (o.event.type === "round-failed" || o.event.type === "outcome-unknown") {
        out.push(`${o.event.type} ${o.event.round}: ${o.event.reason}`);
      }
    }
  }
  // Committed before the restart: dropped as outcome-unknown, not failed on a guess.
  assertEquals(out.length, 1, "the observer goes first though newer, and says so");
  assert(out[0].startsWith("outcome-unknown 9: evicted"), out[0]);
  assertEquals([1, 3, 4, 5].map((r) => e.participant(r) !== undefined), [true, true, true, true]);
  e.close();
});

Deno.test("recover: a published round without this member's update reports excluded; unanswered requests are retried at a capped backoff", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "recover-excluded" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0]);
  net.crash(x);
  await net.submitAll(inputs, all(fed, [x]));
  await net.run({ until: () => net.events("final").length === 3, maxTime: 60_000 });
  const y = all(fed, [x])[0];
  const [published] = net.events("published", y);
  assert(!published.members.includes(x));
  const body = new Uint8Array(published.aggregate.slice().buffer);
  // x had an acknowledged update and journaled this certificate before a crash.
  net.restart(x, { newestRound: ROUND });
  const out = eventsOf(
    await net.call(x, () => net.endpoints[x].recover(published.certificate, body, net.now, true)),
  );
  const failed = out.filter((e) => e.type === "round-failed");
  assertEquals(failed.length, 1);
  assert(failed[0].type === "round-failed" && failed[0].reason.startsWith("excluded"));
  await net.run({ until: () => net.events("final", x).length > 0, maxTime: net.now + 60_000 });
  assertEquals(net.events("final", x).length, 1);
  assertEquals(net.events("round-failed", x).length, 1, "excluded once");

  // Nobody answers: the OutcomeRequests are sent again with backoff, capped, until an answer.
  const z = all(fed, [x])[1];
  for (const i of all(fed, [z])) net.crash(i);
  const [zPublished] = net.events("published", z);
  net.restart(z, { newestRound: ROUND });
  const zBody = new Uint8Array(zPublished.aggregate.slice().buffer);
  const start = net.now;
  await net.call(z, () => net.endpoints[z].recover(zPublished.certificate, zBody, net.now, true));
  const horizon = 1_000 * fed.roster.viewTimeoutMs;
  await net.run({ maxTime: start + horizon });
  assertEquals(
    net.sent("outcomeRequest", z).length,
    requestRounds(fed.roster.viewTimeoutMs, horizon) * (fed.roster.members.length - 1),
  );
  assert(net.endpoints[z].nextTimeout() !== undefined, "it keeps asking");
  assertEquals(net.events("round-failed", z), [], "included: not failed");
  net.endpoints.forEach((e) => e.close());
});

Deno.test("a restarted committed member takes an Outcome of another view as evidence it is excluded", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "restart-other-view" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0]);
  net.crash(x);
  await net.submitAll(inputs, all(fed, [x]));
  await net.run({ until: () => net.events("final").length === 3, maxTime: 60_000 });
  // x's journal says it committed to view 2; the round was certified in view 0 without it.
  const plan = net.restart(x, {
    newestRound: ROUND,
    committed: new Map([[ROUND, 2]]),
    pending: [ROUND],
  });
  assertEquals(plan.ask, [ROUND]);
  await net.call(x, () => net.endpoints[x].ask(ROUND, net.now));
  await net.run({ maxTime: net.now + 100 * fed.roster.viewTimeoutMs });
  const failed = net.events("round-failed", x);
  assertEquals(failed.length, 1, "once, however many answered");
  assert(failed[0].reason.startsWith("excluded"), failed[0].reason);
  assertEquals(net.events("final", x), [], "it never takes another view's certificate");
  assertEquals(net.endpoints[x].nextTimeout(), undefined, "it stopped asking");
  net.endpoints.forEach((e) => e.close());
});

Deno.test("restore: a round given up as too far ahead never moves the current round", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "review-ahead" });
  const e = new Endpoint(machineConfig(fed, 0, rngFor("ahead")));
  const n = fed.roster.members.length;
  // Round 2 decided (current 3, updates taken up to 5). Round 3 advertised in the last view:
  // given up (views exhausted), so the current round becomes 4. Round 6, accepted before such
  // rounds were refused, is given up as too far ahead and must not move it to 7.
  const plan = e.restore({
    decided: 2,
    advertised: new Map([[3, viewLimit(n) - 1]]),
    pending: [3, 6],
  });
  const given = plan.givenUp.flatMap((o) =>
    o.kind === "event" && o.event.type === "round-failed" ? [o.event] : []
  );
  assertEquals(given.map((g) => g.round), [3, 6]);
  assert(given[1].reason.includes("ahead"), given[1].reason);
  assertEquals(e.currentRound, 4);
  e.close();
});

Deno.test("withdraw: a round this member committed to before a restart is refused as committed", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "review-withdraw" });
  const e = new Endpoint(machineConfig(fed, 0, rngFor("withdraw")));
  const plan = e.restore({ committed: new Map([[1, 0]]), pending: [1] });
  assertEquals(plan.ask, [1]);
  let code: string | undefined;
  try {
    await e.withdraw(1);
  } catch (err) {
    code = (err as { code?: string }).code;
  }
  // Not "nothing-to-withdraw": the update may be in a certified aggregate.
  assertEquals(code, "committed");
  e.close();
});

Deno.test("a member restarted after committing learns the others' Leaves by asking, and ends abandoned", async () => {
  // n = 6, t = 4: c = 1, the abandon quorum is n − t + c + 1 = 4.
  const fed = await federation({ n: 6, threshold: 4, roundDeadlineMs: 3500, seed: "abandon" });
  const net = new RestartNet(fed);
  const x = leaderOf(fed.roster, ROUND, 0);
  const L1 = leaderOf(fed.roster, ROUND, 1);
  // Only x's own participant gets the UnmaskRequest of view 0: x alone commits (reveals).
  net.intercept = (w) => w.from === x && w.type === "unmaskRequest" ? [] : undefined;
  await net.submitAll(inputsFor(fed.roster, ROUND));
  await net.run({ maxTime: 1000 });
  assertEquals(net.endpoints[x].participant(ROUND)!.committedView, 0);
  // x crashes (journaled: committed to view 0); the leader of view 1 dies.
  net.crash(x);
  net.dead.add(L1);
  // The four others leave view 0 (3 s), then give up at their deadline (3.5 s): their masked
  // inputs left in view 0, so outcome-unknown, each signing Leave(0, 5); four signers abandon it.
  await net.run({ maxTime: 5000 });
  const others = all(fed, [x, L1]);
  for (const i of others) {
    const failed = net.log.filter((l) =>
      l.member === i && l.event.type === "round-failed" && l.event.role === "participant"
    );
    assertEquals(failed.length, 1, `member ${i}`);
    assert(
      failed[0].event.type === "round-failed" && failed[0].event.reason.startsWith("abandoned"),
    );
  }
  // x comes back: committed, so asked about; the members answer its OutcomeRequests with their
  // Leaves, which prove view 0 can never gather t commitments.
  const plan = net.restart(x, {
    committed: new Map([[ROUND, 0]]),
    advertised: new Map([[ROUND, 0]]),
    pending: [ROUND],
  });
  assertEquals(plan.ask, [ROUND]);
  await net.call(x, () => net.endpoints[x].ask(ROUND, net.now));
  await net.run({ maxTime: net.now + 1000 });
  const ended = net.log.filter((l) =>
    l.member === x && l.event.type === "round-failed" && l.event.role === "participant"
  );
  assertEquals(ended.length, 1);
  assert(
    ended[0].event.type === "round-failed" &&
      ended[0].event.reason.startsWith(`abandoned: members ${others.join(", ")} `),
    JSON.stringify(ended[0].event),
  );
  assertEquals(net.endpoints[x].currentRound, ROUND + 1);
});

/**
 * x (n = 4, t = 3) is killed right after its MaskedInput of view 0 left; the others finish view
 * 0 with x's update. Returns the net, x, the inputs and the journal x kept (`masked` view 0).
 */
async function killedAfterMaskedInput(seed: string) {
  const fed = await federation({ n: 4, threshold: 3, seed });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0, 1]);
  await net.submitAll(inputs);
  await net.run({ until: () => net.events("masked", x).length === 1, maxTime: 60_000 });
  assertEquals(net.events("masked", x).map((e) => e.view), [0]);
  net.crash(x); // its MaskedInput is already queued
  await net.run({ until: () => net.events("final").length === 3, maxTime: 60_000 });
  const finals = net.events("final");
  assertEquals(finals.length, 3);
  assert(finals.every((f) => f.view === 0 && f.members.includes(x)), "x's update is certified");
  const journal = {
    newestRound: ROUND,
    advertised: new Map([[ROUND, 0]]),
    masked: new Map([[ROUND, 0]]),
    pending: [ROUND],
  };
  return { fed, net, x, inputs, journal };
}

Deno.test("a member restarted after its masked input left never withdraws that update", async () => {
  const { net, x, inputs, journal } = await killedAfterMaskedInput("masked-withdraw");
  const plan = net.restart(x, journal);
  assertEquals(plan.resume, [{ round: ROUND, view: 1 }]);
  await net.call(x, () => net.endpoints[x].submit(ROUND, inputs[x].slice(), net.now, 1));
  let code: string | undefined;
  try {
    await net.endpoints[x].withdraw(ROUND);
  } catch (err) {
    code = (err as { code?: string }).code;
  }
  // Accepting it would let the trainer submit the same update again: counted twice.
  assertEquals(code, "committed");
  assert(net.endpoints[x].participant(ROUND)!.sentMaskedInput);
  net.endpoints.forEach((e) => e.close());
});

Deno.test("a member restarted after its masked input left is outcome-unknown at the view limit, never round-failed", async () => {
  const { fed, net, x, inputs, journal } = await killedAfterMaskedInput("masked-limit");
  // Nobody answers it: it goes through the views alone and gives up at the view limit.
  for (const i of all(fed, [x])) net.crash(i);
  const before = net.log.length;
  net.restart(x, journal);
  await net.call(x, () => net.endpoints[x].submit(ROUND, inputs[x].slice(), net.now, 1));
  await net.run({
    until: () => net.log.slice(before).some((l) => l.member === x && l.event.type !== "stage"),
    maxTime: net.now + 1_000 * fed.roster.viewTimeoutMs,
  });
  await net.run({ maxTime: net.now + 100 * fed.roster.viewTimeoutMs });
  const after = net.log.slice(before).filter((l) => l.member === x).map((l) => l.event);
  assertEquals(after.filter((e) => e.type === "round-failed"), [], "view 0 holds its update");
  const unknown = after.filter((e) => e.type === "outcome-unknown");
  assert(unknown.length > 0, after.map((e) => e.type).join(", "));
  assertEquals(
    after.filter((e) => e.type === "committed").map((e) => e.type === "committed" && e.view),
    [0],
  );
  net.endpoints.forEach((e) => e.close());
});

Deno.test("restore: a masked input sent with no view left is asked about, never given up", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "masked-restore" });
  const e = new Endpoint(machineConfig(fed, 0, rngFor("masked-restore")));
  const limit = viewLimit(fed.roster.members.length);
  const plan = e.restore({
    advertised: new Map([[1, limit - 1]]),
    masked: new Map([[1, 2]]),
    pending: [1],
  });
  assertEquals(plan, { resume: [], givenUp: [], ask: [1], lead: [] });
  e.close();
});

Deno.test("eviction: an active participant whose masked input left in an earlier view is outcome-unknown, never round-failed", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "evict-masked" });
  const x = 0;
  const e = new Endpoint(machineConfig(fed, x, rngFor("evict-masked")));
  // Round 0 resumed in view 1 after its masked input left in view 0 (view 0 may complete with it).
  const plan = e.restore({
    decided: 2,
    advertised: new Map([[0, 0]]),
    masked: new Map([[0, 0]]),
    pending: [0],
  });
  assertEquals(plan.resume, [{ round: 0, view: 1 }]);
  const ended: string[] = [];
  for (const [r, view] of [[0, 1], [1, 0], [3, 0], [4, 0], [5, 0]]) {
    for (const o of await e.submit(r, inputsFor(fed.roster, r)[x].slice(), 0, view)) {
      if (o.kind !== "event") continue;
      if (o.event.type === "round-failed" || o.event.type === "outcome-unknown") {
        ended.push(`${o.event.type} ${o.event.round} view ${o.event.view}: ${o.event.reason}`);
      }
    }
  }
  assertEquals(ended.length, 1, ended.join("\n"));
  assert(ended[0].startsWith("outcome-unknown 0 view 0: evicted"), ended[0]);
  // Its update may be counted: it can neither be withdrawn nor submitted again.
  const code = await e.withdraw(0).then(() => undefined, (err) => (err as { code?: string }).code);
  assertEquals(code, "committed");
  e.close();
});

Deno.test("a leader killed as its certificate leaves journals it first and, restarted, sends it again: the round becomes final with every update", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "restart-publisher" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const L = leaderOf(fed.roster, ROUND, 0);
  // L is killed as its certificate goes out: no member receives it. What L journaled by then
  // (its `published` record) is all it keeps.
  let journaled: EventOf<"published"> | undefined;
  net.intercept = (w, n) => {
    if (w.from !== L || w.type !== "certificate") return undefined;
    journaled ??= n.events("published", L)[0];
    // Its status says `publish` only once the certificate is recorded and on its way.
    assertEquals(
      n.events("stage", L).filter((e) => e.role === "leader" && e.stage === "publish"),
      [],
    );
    if (!n.dead.has(L)) net.crash(L);
    return [];
  };
  await net.submitAll(inputs);
  await net.run({ until: () => net.dead.has(L), maxTime: 60_000 });
  assert(journaled !== undefined, "published journaled before the certificate left");
  const others = all(fed, [L]);
  for (const i of others) {
    assertEquals(net.endpoints[i].participant(ROUND)?.committedView, 0, `member ${i}`);
  }
  // The members wait, committed, asking; nobody has the certificate.
  await net.run({ maxTime: net.now + 2 * fed.roster.viewTimeoutMs });
  assertEquals(net.events("final"), []);
  net.intercept = undefined;
  // L restarts: published (not final) and committed to view 0, as its journal says.
  net.restart(L, {
    newestRound: ROUND,
    decided: ROUND,
    committed: new Map([[ROUND, 0]]),
  });
  const body = new Uint8Array(journaled.aggregate.slice().buffer);
  await net.call(L, () => net.endpoints[L].recover(journaled!.certificate, body, net.now, true));
  await net.run({ until: () => net.events("final").length === 4, maxTime: net.now + 60_000 });
  const finals = net.events("final");
  assertEquals(finals.length, 4, "every member final");
  const sum = plainSum(inputs, all(fed));
  for (const f of finals) {
    assertEquals([...f.members], all(fed));
    assertEquals([...f.aggregate], [...sum]);
  }
  assertEquals(net.events("round-failed"), []);
});

Deno.test("a member resumed after a restart signs its Leave of the views it left again, and answers a member asking about them with it", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "restart-resign" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0, 1]);
  const z = all(fed, [x])[0];
  await net.submitAll(inputs, [x]);
  assertEquals(net.events("advertised", x).map((e) => e.view), [0]);
  net.crash(x);
  const plan = net.restart(x, {
    newestRound: ROUND,
    advertised: new Map([[ROUND, 0]]),
    pending: [ROUND],
  });
  assertEquals(plan.resume, [{ round: ROUND, view: 1 }]);
  await net.call(x, () => net.endpoints[x].submit(ROUND, inputs[x].slice(), net.now, 1));
  assertEquals(net.endpoints[x].participant(ROUND)?.leftView, 0, "Leave(0, 0) signed again");
  assertEquals(net.sent("leave", x), [], "not broadcast again");
  // z, asking how view 0 ended, gets x's promise never to commit there.
  const request = await sealFrame(
    "outcomeRequest",
    sessionOf(fed.roster, ROUND, 0),
    z,
    outcomeRequestFields(),
    fed.signers[z],
    fed.roster.mode,
  );
  const out = await net.endpoints[x].receive(request, z, net.now);
  const sent = out.flatMap((o) => o.kind === "send" && o.to === z ? [o.frame] : []);
  assertEquals(sent.length, 1);
  const env = openFrame(sent[0], fed.roster);
  assertEquals([env.type, env.session.view, readLeave(env, fed.roster.members.length).promised], [
    "leave",
    0,
    1,
  ]);
  net.endpoints.forEach((e) => e.close());
});

/**
 * Four members, threshold 3: follower x reveals in view 0, but no decision reaches it, so at its
 * round deadline it renounces; then x crashes, and what was held for it is lost with it.
 */
async function renouncedThenCrashed() {
  const fed = await federation({ n: 4, threshold: 3, seed: "renounce-restart" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = follower(fed.roster, ROUND, [0]);
  const decision = (w: { type: string }) => ["certificate", "cosign", "outcome"].includes(w.type);
  net.hold = (w) => w.to === x && decision(w);
  await net.submitAll(inputs);
  await net.run({
    until: () => net.events("renounced", x).length > 0,
    maxTime: net.now + 2 * fed.roster.roundDeadlineMs,
  });
  assertEquals(net.events("renounced", x).map((e) => e.view), [0]);
  assertEquals(net.endpoints[x].participant(ROUND)?.committedView, 0);
  net.crash(x);
  net.take(() => true, net.held);
  return { fed, net, x };
}

Deno.test("a member that renounced co-signing before a restart never co-signs after it: it takes the certificate without a Cosign and sends its renouncement again", async () => {
  const { fed, net, x } = await renouncedThenCrashed();
  const n = fed.roster.members.length;
  const plan = net.restart(x, {
    newestRound: ROUND,
    committed: new Map([[ROUND, 0]]),
    renounced: [ROUND],
    pending: [ROUND],
  });
  assertEquals(plan.ask, [ROUND]);
  const sentBefore = net.sent("leave", x).length;
  await net.call(x, () => net.endpoints[x].ask(ROUND, net.now));
  // Its renouncement goes out again, to every other member.
  const again = net.sent("leave", x).slice(sentBefore);
  assertEquals(again.map((w) => w.to).sort(), all(fed, [x]));
  for (const w of again) {
    const env = openFrame(w.frame, fed.roster);
    assertEquals([env.session.view, readLeave(env, n).promised], [n - 1, n + 1]);
  }
  // The certificate reaches the restarted x (gossip): taken, never co-signed.
  const cosigns = net.sent("cosign", x).length;
  const certificate = net.sent("certificate").find((w) => w.to !== x)!;
  await net.inject(x, certificate.frame, certificate.from);
  assertEquals(net.events("published", x).length, 1, "x took the certificate");
  assertEquals(net.sent("cosign", x).length, cosigns, "x sent no Cosign after the restart");
  net.endpoints.forEach((e) => e.close());
});

Deno.test("a leader killed while the reveals come in resumes from its journaled unmask record: it asks its approvers again and the round becomes final with every update", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "resume-unmask" });
  const net = new RestartNet(fed);
  const inputs = inputsFor(fed.roster, ROUND);
  const x = leaderOf(fed.roster, ROUND, 0);
  const others = all(fed, [x]);
  // Every member reveals; no reveal reaches x before it is killed.
  net.hold = (w) => w.type === "unmask" && w.to === x;
  await net.submitAll(inputs);
  await net.run({
    until: () => others.every((i) => net.events("committed", i).length > 0),
    maxTime: 60_000,
  });
  const [unmasking] = net.events("unmasking", x);
  assertEquals([unmasking.round, unmasking.view], [ROUND, 0], "journaled before the request");
  assertEquals(net.sent("unmaskRequest", x).length, others.length);
  net.crash(x);
  assertEquals(net.take(() => true, net.held).length, others.length, "the reveals died with x");
  net.hold = undefined;
  const plan = net.restart(x, {
    newestRound: ROUND,
    committed: new Map([[ROUND, 0]]),
    pending: [ROUND],
    unmasked: [ROUND],
  });
  assertEquals(plan.ask, [ROUND]);
  assertEquals(plan.lead, [ROUND], "the plan resumes the leader");
  await net.call(x, () => net.endpoints[x].resumeLeader(unmasking.record, net.now));
  assertEquals(net.endpoints[x].leader(ROUND, 0)?.stage, "unmask");
  await net.call(x, () => net.endpoints[x].ask(ROUND, net.now));
  await net.run({ until: () => net.events("final").length >= 4, maxTime: net.now + 60_000 });
  const finals = net.events("final");
  assertEquals(finals.length, 4, "final everywhere");
  for (const f of finals) {
    assertEquals([f.view, f.members], [0, all(fed)], "view 0, every update");
    assertEquals(f.aggregate, plainSum(inputs, all(fed)));
  }
  assertEquals(net.events("round-failed").filter((e) => e.role === "participant"), []);
  // Each revealer sent the same Unmask frame again, nothing new.
  for (const i of others) {
    const sent = net.sent("unmask", i).filter((w) => w.to === x);
    assert(sent.length >= 2, `member ${i} revealed again`);
    assert(sent.every((w) => w.frame.every((b, k) => b === sent[0].frame[k])), `member ${i}`);
  }
  net.endpoints.forEach((e) => e.close());
});

Deno.test("through ChainEndpoint, a member that renounced before a restart never co-signs after it", async () => {
  const { fed, net, x } = await renouncedThenCrashed();
  const chain = new ChainEndpoint({
    versions: [genesisVersion(fed.roster)],
    self: fed.roster.members[x].id,
    signer: fed.signers[x],
    rng: rngFor("rs", x, "restart", 99),
    expander: inlineExpander,
  });
  // deno-lint-ignore no-explicit-any
  (net.endpoints as any)[x] = chain;
  net.dead.delete(x);
  const plan = chain.restore({
    newestRound: ROUND,
    committed: new Map([[ROUND, 0]]),
    renounced: [ROUND],
    pending: [ROUND],
  });
  assertEquals(plan.ask, [ROUND]);
  await net.call(x, () => chain.ask(ROUND, net.now));
  const cosigns = net.sent("cosign", x).length;
  const certificate = net.sent("certificate").find((w) => w.to !== x)!;
  await net.inject(x, certificate.frame, certificate.from);
  assertEquals(net.events("published", x).length, 1, "x took the certificate");
  assertEquals(net.sent("cosign", x).length, cosigns, "x sent no Cosign after the restart");
  chain.close();
  net.endpoints.forEach((e, i) => i !== x && e.close());
});

Deno.test("an evicted seat's renouncement is remembered: a later observer of the round never co-signs its certificate", async () => {
  // Four members, threshold 3. Follower x commits to view 0 of round R, then is killed before
  // any decision reaches it; the others finish R without it. Restarted without a renouncement
  // (it had none), its observer asks and, at its deadline from the restart, renounces — live,
  // so only that seat knows. Then four updates of x's own take the four other seats and the
  // observer of R (observers go first) is evicted; R's certificate, arriving after that, makes
  // a new observer of R, which must not co-sign.
  const R = 2;
  const fed = await federation({ n: 4, threshold: 3, seed: "evicted-renouncement" });
  const net = new RestartNet(fed);
  const x = follower(fed.roster, R, [0]);
  const decision = (w: { type: string }) => ["certificate", "cosign", "outcome"].includes(w.type);
  net.hold = (w) => w.to === x && decision(w);
  const inputs = inputsFor(fed.roster, R);
  for (const i of all(fed)) {
    await net.call(i, () => net.endpoints[i].submit(R, inputs[i].slice(), net.now));
  }
  await net.run({ until: () => net.events("committed", x).length > 0, maxTime: 60_000 });
  net.crash(x);
  await net.run({
    until: () => all(fed, [x]).every((i) => net.events("final", i).length > 0),
    maxTime: net.now + 60_000,
  });
  const certificate = net.held.find((w) => w.type === "certificate");
  assert(certificate !== undefined, "R's certificate, held from x");
  net.take(() => true, net.held);

  const plan = net.restart(x, {
    newestRound: R,
    decided: R - 1,
    committed: new Map([[R, 0]]),
    pending: [R],
  });
  assertEquals(plan.ask, [R]);
  await net.call(x, () => net.endpoints[x].ask(R, net.now));
  await net.run({
    until: () => net.events("renounced", x).length > 0,
    maxTime: net.now + 2 * fed.roster.roundDeadlineMs,
  });
  assertEquals(net.events("renounced", x).map((e) => [e.round, e.view]), [[R, 0]]);
  net.take(() => true, net.held);
  net.hold = undefined;

  // Rounds 0, 1, 3 and 4 take the seats; the fifth evicts R's observer (outcome unknown).
  for (const r of [0, 1, 3, 4]) {
    const input = inputsFor(fed.roster, r)[x].slice();
    await net.call(x, () => net.endpoints[x].submit(r, input, net.now));
  }
  const evicted = net.events("outcome-unknown", x).filter((e) => e.round === R).at(-1);
  assert(evicted?.reason.startsWith("evicted"), JSON.stringify(evicted));
  assertEquals(net.endpoints[x].participant(R), undefined);

  // R is within the window of x's newest round (4): its certificate is checked and taken.
  const cosigns = net.sent("cosign", x).length;
  await net.inject(x, certificate.frame, certificate.from);
  assertEquals(net.events("published", x).map((e) => e.round), [R], "x took R's certificate");
  assertEquals(net.sent("cosign", x).length, cosigns, "x co-signed nothing of R");
  net.endpoints.forEach((e) => e.close());
});
