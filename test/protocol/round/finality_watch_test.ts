/**
 * The watch for missing co-signatures (`protocol/round/finality_watch.ts`): a member that took a
 * round's certificate and holds fewer than t co-signatures two view timeouts later asks one other
 * member at a time — the next after itself first, then on in roster order — for the final
 * certificate, and is made final by the Outcome. Without it such a member stays `published`
 * with no timer left (the stall a restarted node met when the co-signatures went out before it
 * reconnected). A member asked that took the certificate but is not final either answers with
 * its own co-signature, so that the members converge even when none is final. A healthy round
 * sends no request at all.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { FinalityWatch } from "../../../protocol/round/finality_watch.ts";
import { inquiryBackoffMs, outcomeRequest } from "../../../protocol/round/outcome_inquiry.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { peekHeader, type Wire } from "../../../protocol/sim/mod.ts";
import type { Output } from "../../../protocol/round/events.ts";
import { EndpointNet } from "../_harness.ts";
import { all, below, federation, inputsFor, plainSum, rngFor, u8 } from "../_fixtures.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";

const N = 4;

async function setup(seed: string) {
  const fed = await federation({ n: N, threshold: 3, seed });
  const net = new EndpointNet(fed);
  const leader = leaderOf(fed.roster, 0, 0);
  const x = (leader + N - 1) % N;
  return { fed, net, leader, x, vt: fed.roster.viewTimeoutMs };
}

const requestsFrom = (net: EndpointNet, who: number): Wire[] =>
  net.emitted.filter((w) => w.type === "outcomeRequest" && w.from === who);

const at = (net: EndpointNet, type: "final" | "published", who: number) =>
  net.log.find((l) => l.member === who && l.event.type === type)?.at;
const finalAt = (net: EndpointNet, who: number) => at(net, "final", who);
const publishedAt = (net: EndpointNet, who: number) => at(net, "published", who);

Deno.test("a member that misses every co-signature asks the next member two view timeouts later, and is final", async () => {
  const { fed, net, leader, x, vt } = await setup("watch-leader");
  // x is the member before the leader: the first it asks is the leader.
  net.intercept = (w) => (w.type === "cosign" && w.to === x ? [] : undefined);
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.run({ until: () => net.events("final").length === N, maxTime: 20 * vt });
  assertEquals(net.events("final").map((l) => l.member).sort(), all(fed));
  const requests = requestsFrom(net, x);
  assertEquals(requests.map((w) => [w.to, w.session.round, w.session.view]), [[leader, 0, 0]]);
  assertEquals(
    net.events("final-asked").map((e) => [e.member, e.round, e.view, e.to]),
    [[x, 0, 0, leader]],
  );
  assertEquals(finalAt(net, x), publishedAt(net, x)! + 2 * vt);
  // One Outcome answered it; no other member sent a request (they got their co-signatures).
  assertEquals(net.emitted.filter((w) => w.type === "outcome").map((w) => [w.from, w.to]), [[
    leader,
    x,
  ]]);
  assertEquals(net.emitted.filter((w) => w.type === "outcomeRequest").length, 1);
  // Every member holds a final certificate of the same leader's certificate (the co-signatures
  // each gathered may differ).
  const certs = new Set(net.events("final").map((e) => toHex(e.leaderCertificate)));
  assertEquals(certs.size, 1);
  net.close();
});

Deno.test("a member asked that is not final sends no Outcome: the next one in roster order is asked a view timeout later", async () => {
  const { fed, net, leader, x, vt } = await setup("watch-turn");
  // Neither x nor the leader gets a co-signature: the leader cannot answer x.
  net.intercept = (w) => (w.type === "cosign" && (w.to === x || w.to === leader) ? [] : undefined);
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.run({ until: () => net.events("final").length === N, maxTime: 20 * vt });
  assertEquals(net.events("final").map((l) => l.member).sort(), all(fed));
  const requests = requestsFrom(net, x);
  assertEquals(requests.map((w) => w.to), [leader, (leader + 1) % N]);
  assertEquals(finalAt(net, x), publishedAt(net, x)! + 3 * vt);
  net.close();
});

Deno.test("a member without an update of its own (an observer) missing the co-signatures is made final too", async () => {
  const { fed, net, leader, vt } = await setup("watch-observer");
  const x = (leader + 2) % N; // asks x + 1 first
  net.intercept = (w) => (w.type === "cosign" && w.to === x ? [] : undefined);
  // x submits nothing: it follows the round as an observer once the certificate reaches it.
  await net.submit(0, inputsFor(fed.roster, 0), all(fed, [x]));
  await net.run({ until: () => net.events("final").length === N, maxTime: 20 * vt });
  assertEquals(net.events("final").map((l) => l.member).sort(), all(fed));
  assertEquals(requestsFrom(net, x).map((w) => w.to), [(x + 1) % N]);
  assertEquals(finalAt(net, x), publishedAt(net, x)! + 2 * vt);
  net.close();
});

Deno.test("with every broadcast co-signature lost nobody is final: the asked answer with their own, and all become final", async () => {
  const { fed, net, vt } = await setup("watch-cosign");
  // Each member has only its own co-signature (t = 3 of 4): no Outcome can answer anybody.
  net.intercept = (w) =>
    w.type === "cosign" && net.now === publishedAt(net, w.from) ? [] : undefined;
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.run({ until: () => net.events("final").length === N, maxTime: 40 * vt });
  assertEquals(net.events("final").map((l) => l.member).sort(), all(fed));
  // Co-signatures went out again, each to a member that had asked its sender.
  const resent = net.emitted.filter((w) => w.type === "cosign" && w.from !== w.to).filter((w) =>
    net.emitted.indexOf(w) > net.emitted.findIndex((r) => r.type === "outcomeRequest")
  );
  assert(resent.length >= 2, `${resent.length} co-signatures sent again`);
  for (const w of resent) {
    const asked = net.emitted.findIndex((r) =>
      r.type === "outcomeRequest" && r.from === w.to && r.to === w.from
    );
    assert(asked >= 0 && asked < net.emitted.indexOf(w), `${w.from} → ${w.to} unasked`);
  }
  net.close();
});

Deno.test("a Cosign goes back only for a request whose signature verifies, once per asker in a view timeout", async () => {
  const { fed, net, x, vt } = await setup("watch-limit");
  // Nobody gets a co-signature: every member is published, none final.
  net.hold = (w) => w.type === "cosign";
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.run({ until: () => net.events("published").length === N, maxTime: 20 * vt });
  assertEquals(net.events("final"), []);
  const y = (x + 2) % N;
  const request = await outcomeRequest(
    { roster: fed.roster, self: x, signer: fed.signers[x] },
    0,
    net.events("published")[0].view,
  );
  const cosignsTo = (out: readonly Output[]) =>
    out.filter((o) => o.kind === "send" && o.to === x && peekHeader(o.frame).type === "cosign");
  const forged = request.slice();
  forged[forged.length - 5] ^= 0xff; // inside the Ed25519 signature
  assertEquals(cosignsTo(await net.endpoints[y].receive(forged, x, net.now)), []);
  assertEquals(cosignsTo(await net.endpoints[y].receive(request, x, net.now)).length, 1);
  for (let k = 0; k < 20; k++) {
    assertEquals(cosignsTo(await net.endpoints[y].receive(request, x, net.now + k)), []);
  }
  assertEquals(cosignsTo(await net.endpoints[y].receive(request, x, net.now + vt)).length, 1);
  net.close();
});

Deno.test("seeded: co-signature gossip lost at random (first sending only), every member becomes final", async () => {
  for (let k = 0; k < 12; k++) {
    const n = 3 + (k % 5);
    const fed = await federation({ n, threshold: Math.floor((2 * n) / 3) + 1, seed: `loss-${k}` });
    const net = new EndpointNet(fed, undefined, `loss-${k}`);
    const rng = rngFor("cosign-loss", k);
    // Gossip loses each co-signature's broadcast to a member with probability 1/2 (its first
    // n − 1 wires); a direct send of it again (the answer to an OutcomeRequest) arrives.
    const wires = new Map<Uint8Array, number>();
    net.intercept = (w) => {
      if (w.type !== "cosign") return undefined;
      const sent = wires.get(w.frame) ?? 0;
      wires.set(w.frame, sent + 1);
      return sent < n - 1 && below(rng, 2) === 0 ? [] : undefined;
    };
    const inputs = inputsFor(fed.roster, 0);
    await net.submit(0, inputs);
    await net.run({
      until: () => net.events("final").length === n,
      maxTime: 100 * fed.roster.viewTimeoutMs,
    });
    const finals = net.events("final");
    assertEquals(finals.map((f) => f.member).sort(), all(fed), `case ${k}`);
    for (const f of finals) {
      assertEquals(toHex(u8(f.aggregate)), toHex(u8(plainSum(inputs, f.members))), `case ${k}`);
    }
    net.close();
  }
});

Deno.test("a healthy round sends no OutcomeRequest, however long the clock then runs", async () => {
  const { fed, net, vt } = await setup("watch-healthy");
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.run({ until: () => net.events("final").length === N, maxTime: 20 * vt });
  assertEquals(net.events("final").length, N);
  await net.run({ maxTime: net.now + 100 * vt });
  assertEquals(net.emitted.filter((w) => w.type === "outcomeRequest"), []);
  net.close();
});

Deno.test("FinalityWatch: one member per attempt, from the next after itself; first at two view timeouts, a turn one apart, then doubling; nothing once stopped", async () => {
  const fed = await federation({ n: N, threshold: 3, seed: "watch-unit" });
  const { roster } = fed;
  const vt = roster.viewTimeoutMs;
  const self = 1;
  const config = { roster, self, signer: fed.signers[self] };
  const watch = new FinalityWatch(config, 5, 2, 1000);
  assertEquals(watch.nextTimeout(), 1000 + 2 * vt);
  assertEquals(await watch.handleTimeout(1000 + 2 * vt - 1), [], "not before its time");
  const asked: number[] = [];
  const gaps: number[] = [];
  let now = 1000 + 2 * vt;
  for (let k = 0; k < 9; k++) {
    const out = await watch.handleTimeout(now);
    assertEquals(out.length, 2);
    const [said, send] = out;
    assert(said.kind === "event" && said.event.type === "final-asked");
    assert(send.kind === "send" && said.event.to === send.to);
    asked.push(send.to);
    const next = watch.nextTimeout()!;
    gaps.push(next - now);
    now = next;
  }
  assertEquals(asked, [2, 3, 0, 2, 3, 0, 2, 3, 0]);
  assertEquals(gaps, [
    ...Array(3).fill(inquiryBackoffMs(roster, 0)),
    ...Array(3).fill(inquiryBackoffMs(roster, 1)),
    ...Array(3).fill(inquiryBackoffMs(roster, 2)),
  ]);
  watch.stop();
  assertEquals(watch.nextTimeout(), undefined);
  assertEquals(await watch.handleTimeout(now + 1e9), []);
});

Deno.test("a slow but healthy round: co-signatures later than one view timeout bring no request, and askers do not all land on one member", async () => {
  for (const delay of [1.5, 2.5]) {
    const fed = await federation({ n: 7, threshold: 5, seed: "watch-slow" });
    const net = new EndpointNet(fed, undefined, "watch-slow");
    const vt = fed.roster.viewTimeoutMs;
    const leader = leaderOf(fed.roster, 0, 0);
    // Co-signatures reach the leader at once and everyone else late.
    net.hold = (w) => w.type === "cosign" && w.to !== leader;
    await net.submit(0, inputsFor(fed.roster, 0));
    await net.run({ until: () => net.events("final").length === 1, maxTime: 20 * vt });
    await net.run({ maxTime: net.now + delay * vt });
    net.hold = undefined;
    for (const w of net.held.splice(0)) await net.inject(w.to, w.frame, w.from);
    await net.run({ until: () => net.events("final").length === 7, maxTime: net.now + 20 * vt });
    assertEquals(net.events("final").length, 7);
    const outcomes = net.emitted.filter((w) => w.type === "outcome");
    if (delay < 2) {
      assertEquals(net.emitted.filter((w) => w.type === "outcomeRequest"), []);
      assertEquals(outcomes, [], "within two view timeouts: nothing asked");
    } else {
      // Every asker asked a different member first: at most one Outcome from any member.
      const perSender = new Map<number, number>();
      for (const w of outcomes) perSender.set(w.from, (perSender.get(w.from) ?? 0) + 1);
      assert(outcomes.length > 0, "past two view timeouts the askers asked");
      assert([...perSender.values()].every((c) => c === 1), JSON.stringify([...perSender]));
    }
    net.close();
  }
});
