/**
 * The certificate exchange (`node/certificate_exchange.ts`), with a real endpoint and driver and a
 * stand-in mesh (unit test): a certificate whose body could not be fetched — its publisher was
 * down, nobody else had it — is fetched again on the next gossip of that certificate (the
 * publisher back, `Endpoint.recover` gossiping it again), and the round is decided here.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { CertificateExchange } from "../../node/certificate_exchange.ts";
import type { Mesh } from "../../node/mesh.ts";
import { Metrics } from "../../node/metrics.ts";
import { RoundDriver } from "../../node/round_driver.ts";
import { encode, Endpoint, type ProtocolEvent } from "../../protocol/mod.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { openFrame, withoutBody } from "../../protocol/wire/frame.ts";
import { federation, follower, inputsFor, machineConfig, rngFor } from "../protocol/_fixtures.ts";
import { EndpointNet } from "../protocol/_harness.ts";

/** Polls `ok` every 20 ms until it holds or `ms` passed; resolves to whether it held. */
async function eventually(ok: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

Deno.test("certificate exchange: a body fetch that failed is retried on the next gossip of the certificate", async () => {
  const fed = await federation({ n: 4, threshold: 3, seed: "exchange-retry" });
  const ROUND = 0;
  // A round decided elsewhere: its leader's certificate, gossiped without its body.
  const net = new EndpointNet(fed, undefined, "exchange-retry");
  await net.submit(ROUND, inputsFor(fed.roster, ROUND));
  await net.run({ until: () => net.events("final").length === 4, maxTime: 60_000 });
  const leader = leaderOf(fed.roster, ROUND, 0);
  const env = openFrame(net.sent("certificate", leader)[0].frame, fed.roster);
  const certificate = withoutBody(env);
  const body = env.body!;
  net.close();

  // A member that follows the round through gossip alone (a fresh endpoint, no update).
  const y = follower(fed.roster, ROUND, [0]);
  const endpoint = new Endpoint(machineConfig(fed, y, rngFor("exchange-retry", "y")));
  const events: ProtocolEvent[] = [];
  const logs: string[] = [];
  const log = (_level: string, message: string) => void logs.push(message);
  const driver = new RoundDriver({
    roster: fed.roster,
    self: y,
    endpoint,
    log,
    sinks: {
      event: (e) => Promise.resolve(void events.push(e)),
      refused: () => {},
      broadcast: () => Promise.resolve(),
      body: () => {},
    },
  });
  let publisherUp = false;
  const fetches: number[] = [];
  const mesh = {
    connected: () => fed.roster.members.map((_, i) => i).filter((i) => i !== y),
    fetchAggregate: (source: number) => {
      fetches.push(source);
      // Down: nobody can serve the body (the publisher died as it went out).
      return Promise.resolve(publisherUp && source === leader ? body.slice() : undefined);
    },
    publish: () => Promise.resolve(1),
  } as unknown as Mesh;
  const exchange = new CertificateExchange({
    endpoint,
    driver,
    metrics: new Metrics(),
    log,
    refused: () => {},
  });
  exchange.attach(mesh);
  driver.attach(mesh);
  const gossip = encode(["certificate", certificate]);
  const published = () => events.some((e) => e.type === "published" && e.round === ROUND);

  exchange.onGossip(gossip, leader);
  assert(
    await eventually(() => logs.includes("could not fetch a certified aggregate"), 60_000),
    "the first fetch gave up",
  );
  assert(fetches.length > 0, "it tried");
  assert(!published(), "nothing decided without the body");

  // The publisher is back and gossips its certificate again: fetched, checked, decided.
  publisherUp = true;
  exchange.onGossip(gossip, leader);
  assert(await eventually(published, 60_000), "the second gossip was fetched");
  const decided = events.find((e) => e.type === "published");
  assert(decided?.type === "published");
  assertEquals([decided.round, decided.view], [ROUND, 0]);
  exchange.stop();
  await driver.stop();
  endpoint.close();
});
