/**
 * A member holding a round's final certificate answers each other member's OutcomeRequest at most
 * once per round, whatever view the asker names (an Outcome carries the whole aggregate: one
 * small request must not buy many of them), refuses a view past the view limit, and sends nothing
 * for a request whose signature does not verify (`docs/protocol.md` §4, Outcome).
 *
 * @module
 */
import { assertEquals } from "../../_assert.ts";
import { Endpoint } from "../../../protocol/round/endpoint.ts";
import { viewLimit } from "../../../protocol/round/stages.ts";
import { sealFrame } from "../../../protocol/wire/frame.ts";
import { outcomeRequestFields } from "../../../protocol/wire/messages.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { SimNetwork, type SimNode } from "../../../protocol/sim/mod.ts";
import { all, eventsOf, federation, inputsFor, machineConfig, rngFor } from "../_fixtures.ts";

async function finalFederation(seed: string) {
  const fed = await federation({ n: 4, threshold: 3, seed });
  const endpoints = fed.signers.map((_, i) => new Endpoint(machineConfig(fed, i, rngFor(seed, i))));
  const nodes: SimNode[] = endpoints.map((_, i) => ({
    receive: (f, from, now) => endpoints[i].receive(f, from, now),
    tick: (now) => endpoints[i].tick(now),
    nextTimeout: () => endpoints[i].nextTimeout(),
  }));
  const net = new SimNetwork(fed.roster, nodes);
  const inputs = inputsFor(fed.roster, 0);
  for (const i of all(fed)) {
    await net.call(i, () => endpoints[i].submit(0, inputs[i].slice(), net.now));
  }
  await net.run({ until: () => net.events("final").length === 4, maxTime: 60_000 });
  assertEquals(net.events("final").length, 4);
  return { fed, endpoints, net };
}

Deno.test("OutcomeRequests naming 1000 views get one Outcome; views past the limit are refused", async () => {
  const { fed, endpoints, net } = await finalFederation("amp");
  const x = 3, y = 1;
  const request = (asker: number, view: number) =>
    sealFrame(
      "outcomeRequest",
      sessionOf(fed.roster, 0, view),
      asker,
      outcomeRequestFields(),
      fed.signers[asker],
      fed.roster.mode,
    );
  const limit = viewLimit(fed.roster.members.length);
  let outcomes = 0;
  const refusals: string[] = [];
  for (let view = 0; view < 1000; view++) {
    for (const o of await endpoints[y].receive(await request(x, view), x, net.now)) {
      if (o.kind === "send") outcomes++;
      if (o.kind === "event" && o.event.type === "refused") {
        refusals.push(`${o.event.error.code}/${o.event.error.peer}`);
      }
    }
  }
  assertEquals(outcomes, 1, "one Outcome per (round, asker), whatever the view");
  assertEquals(refusals.length, 1000 - limit, "every view past the limit is refused");
  assertEquals(new Set(refusals), new Set([`wrong-session/${x}`]));

  // An AdvertiseKeys of any view to the member leading it is answered once per asker too.
  const z = 0;
  let leaderOutcomes = 0;
  for (let view = 0; view < limit; view++) {
    if (leaderOf(fed.roster, 0, view) !== y) continue;
    const advert = await sealFrame(
      "advertiseKeys",
      sessionOf(fed.roster, 0, view),
      z,
      [],
      fed.signers[z],
      fed.roster.mode,
    );
    for (const o of await endpoints[y].receive(advert, z, net.now)) {
      if (o.kind === "send" && o.to === z) leaderOutcomes++;
    }
    for (const o of await endpoints[y].receive(await request(z, view), z, net.now)) {
      if (o.kind === "send") leaderOutcomes++;
    }
  }
  assertEquals(leaderOutcomes <= 1, true, `${leaderOutcomes} Outcomes to one member`);
  endpoints.forEach((e) => e.close());
});

Deno.test("an OutcomeRequest with a corrupted signature gets no Outcome and is refused", async () => {
  const { fed, endpoints, net } = await finalFederation("amp-sig");
  const x = 2, y = 0;
  const req = await sealFrame(
    "outcomeRequest",
    sessionOf(fed.roster, 0, 0),
    x,
    outcomeRequestFields(),
    fed.signers[x],
    fed.roster.mode,
  );
  const bad = req.slice();
  bad[bad.length - 5] ^= 0xff; // inside the Ed25519 signature (the ML-DSA part is null here)
  const out = await endpoints[y].receive(bad, x, net.now);
  assertEquals(out.filter((o) => o.kind === "send"), []);
  assertEquals(
    eventsOf(out).map((e) => e.type === "refused" && [e.error.code, e.error.peer]),
    [["bad-signature", x]],
  );
  // The genuine request is still answered (the forgery did not use up the asker's answer).
  const good = await endpoints[y].receive(req, x, net.now);
  assertEquals(good.filter((o) => o.kind === "send").length, 1);
  endpoints.forEach((e) => e.close());
});
