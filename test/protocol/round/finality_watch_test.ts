/**
 * The watch for missing co-signatures (`protocol/round/finality_watch.ts`): a member that took a
 * round's certificate and holds fewer than t co-signatures a view timeout later asks one other
 * member at a time — the certificate's leader first, then roster order — for the final
 * certificate, and is made final by the Outcome. Without it such a member stays `published`
 * with no timer left (the stall a restarted node met when the co-signatures went out before it
 * reconnected). A healthy round sends no request at all.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { FinalityWatch } from "../../../protocol/round/finality_watch.ts";
import { inquiryBackoffMs } from "../../../protocol/round/outcome_inquiry.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import type { Wire } from "../../../protocol/sim/mod.ts";
import { EndpointNet } from "../_harness.ts";
import { all, federation, inputsFor } from "../_fixtures.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";

const N = 4;

async function setup(seed: string) {
  const fed = await federation({ n: N, threshold: 3, seed });
  const net = new EndpointNet(fed);
  const leader = leaderOf(fed.roster, 0, 0);
  const x = (leader + 1) % N;
  return { fed, net, leader, x, vt: fed.roster.viewTimeoutMs };
}

const requestsFrom = (net: EndpointNet, who: number): Wire[] =>
  net.emitted.filter((w) => w.type === "outcomeRequest" && w.from === who);

const at = (net: EndpointNet, type: "final" | "published", who: number) =>
  net.log.find((l) => l.member === who && l.event.type === type)?.at;
const finalAt = (net: EndpointNet, who: number) => at(net, "final", who);
const publishedAt = (net: EndpointNet, who: number) => at(net, "published", who);

Deno.test("a member that misses every co-signature asks the certificate's leader one view timeout later, and is final", async () => {
  const { fed, net, leader, x, vt } = await setup("watch-leader");
  net.intercept = (w) => (w.type === "cosign" && w.to === x ? [] : undefined);
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.run({ until: () => net.events("final").length === N, maxTime: 20 * vt });
  assertEquals(net.events("final").map((l) => l.member).sort(), all(fed));
  const requests = requestsFrom(net, x);
  assertEquals(requests.map((w) => [w.to, w.session.round, w.session.view]), [[leader, 0, 0]]);
  assertEquals(finalAt(net, x), publishedAt(net, x)! + vt);
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

Deno.test("a member asked that is not final gives no answer: the next one in roster order is asked a view timeout later", async () => {
  const { fed, net, leader, x, vt } = await setup("watch-turn");
  // Neither x nor the leader gets a co-signature: the leader cannot answer x.
  net.intercept = (w) => (w.type === "cosign" && (w.to === x || w.to === leader) ? [] : undefined);
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.run({ until: () => net.events("final").length === N, maxTime: 20 * vt });
  assertEquals(net.events("final").map((l) => l.member).sort(), all(fed));
  const order = [...Array(N).keys()].map((k) => (leader + k) % N).filter((m) => m !== x);
  const requests = requestsFrom(net, x);
  assertEquals(requests.map((w) => w.to), order.slice(0, 2));
  assertEquals(finalAt(net, x), publishedAt(net, x)! + 2 * vt);
  net.close();
});

Deno.test("a member without an update of its own (an observer) missing the co-signatures is made final too", async () => {
  const { fed, net, leader, vt } = await setup("watch-observer");
  const x = (leader + 2) % N;
  net.intercept = (w) => (w.type === "cosign" && w.to === x ? [] : undefined);
  // x submits nothing: it follows the round as an observer once the certificate reaches it.
  await net.submit(0, inputsFor(fed.roster, 0), all(fed, [x]));
  await net.run({ until: () => net.events("final").length === N, maxTime: 20 * vt });
  assertEquals(net.events("final").map((l) => l.member).sort(), all(fed));
  assertEquals(requestsFrom(net, x).map((w) => w.to), [leader]);
  assertEquals(finalAt(net, x), publishedAt(net, x)! + vt);
  net.close();
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

Deno.test("FinalityWatch: one member per attempt, the leader first; a turn one view timeout apart, then doubling; nothing once stopped", async () => {
  const fed = await federation({ n: N, threshold: 3, seed: "watch-unit" });
  const { roster } = fed;
  const vt = roster.viewTimeoutMs;
  const self = 1;
  const config = { roster, self, signer: fed.signers[self] };
  const watch = new FinalityWatch(config, 5, 2, 2, 1000);
  assertEquals(watch.nextTimeout(), 1000 + vt);
  assertEquals(await watch.handleTimeout(1000 + vt - 1), [], "not before its time");
  const asked: number[] = [];
  const gaps: number[] = [];
  let now = 1000 + vt;
  for (let k = 0; k < 9; k++) {
    const out = await watch.handleTimeout(now);
    assertEquals(out.length, 1);
    const send = out[0];
    assert(send.kind === "send");
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

  // Its own certificate (it led the view): the others from the next member on.
  const own = new FinalityWatch(config, 5, 0, self, 0);
  const first: number[] = [];
  for (let k = 0, t = vt; k < 3; k++, t = own.nextTimeout()!) {
    const [send] = await own.handleTimeout(t);
    assert(send.kind === "send");
    first.push(send.to);
  }
  assertEquals(first, [2, 3, 0]);
});
