/**
 * The certificate exchange (`node/certificate_exchange.ts`), with a real endpoint and driver and a
 * stand-in mesh (unit test): a certificate whose body could not be fetched — its publisher was
 * down, nobody else had it — is fetched again on the next gossip of that certificate (the
 * publisher back, `Endpoint.recover` gossiping it again), and the round is decided here. A
 * certificate whose gossip reached nobody still reaches every member directly (`Mesh.deliver`)
 * and is decided there; with healthy gossip nothing is sent directly, and a certificate that
 * arrives both ways is fetched and decided once.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { CertificateExchange } from "../../node/certificate_exchange.ts";
import type { Mesh } from "../../node/mesh.ts";
import { Metrics } from "../../node/metrics.ts";
import { RoundDriver } from "../../node/round_driver.ts";
import { encode, Endpoint, type ProtocolEvent, type PublishedBody } from "../../protocol/mod.ts";
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

/** A round decided elsewhere: its leader's certificate without its body, and the body. */
async function decidedRound(seed: string) {
  const fed = await federation({ n: 4, threshold: 3, seed });
  const net = new EndpointNet(fed, undefined, seed);
  await net.submit(0, inputsFor(fed.roster, 0));
  await net.run({ until: () => net.events("final").length === 4, maxTime: 60_000 });
  const leader = leaderOf(fed.roster, 0, 0);
  const env = openFrame(net.sent("certificate", leader)[0].frame, fed.roster);
  net.close();
  return { fed, leader, certificate: withoutBody(env), body: env.body! };
}

/** A member following round 0 through the exchange alone: its endpoint, driver and exchange. */
function followingMember(
  fed: Awaited<ReturnType<typeof federation>>,
  seed: string,
  mesh: Mesh,
) {
  const y = follower(fed.roster, 0, [0]);
  const endpoint = new Endpoint(machineConfig(fed, y, rngFor(seed, "y")));
  const events: ProtocolEvent[] = [];
  const log = () => {};
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
  const exchange = new CertificateExchange({
    endpoint,
    driver,
    metrics: new Metrics(),
    log,
    refused: () => {},
  });
  exchange.attach(mesh);
  driver.attach(mesh);
  const published = () => events.filter((e) => e.type === "published" && e.round === 0).length;
  const close = async () => {
    exchange.stop();
    await driver.stop();
    endpoint.close();
  };
  return { y, endpoint, exchange, published, close };
}

/**
 * The leader's exchange broadcasting its certificate over a stand-in mesh whose gossip reaches
 * the members in `gossipReaches`; direct sends to member `y` are handed to `receive` (as the
 * mesh's `/fedagg/1/broadcast` handler does), to the others recorded only.
 */
function leaderExchange(
  fed: Awaited<ReturnType<typeof federation>>,
  leader: number,
  gossipReaches: number[],
  receive: (to: number, data: Uint8Array) => void,
) {
  const others = fed.roster.members.map((_, i) => i).filter((i) => i !== leader);
  const direct: number[] = [];
  const logs: string[] = [];
  const metrics = new Metrics();
  const mesh = {
    connected: () => others,
    admittedMembers: () => others,
    publish: () => Promise.resolve(gossipReaches),
    deliver: (to: number, data: Uint8Array) => {
      direct.push(to);
      receive(to, data);
      return Promise.resolve(true);
    },
  } as unknown as Mesh;
  const exchange = new CertificateExchange({
    // Broadcasting does not consult the endpoint.
    endpoint: {} as Endpoint,
    driver: {} as RoundDriver,
    metrics,
    log: (_level, message) => void logs.push(message),
    refused: () => {},
  });
  exchange.attach(mesh);
  return { exchange, direct, logs, metrics, others };
}

/** What the leader's endpoint hands the exchange to broadcast with its certificate. */
async function publishedBody(
  endpoint: Endpoint,
  leader: number,
  certificate: Uint8Array,
  body: Uint8Array,
): Promise<PublishedBody> {
  const interest = await endpoint.wantsCertificate(certificate, leader);
  assert(interest.kind === "fetch", `the member wants the certificate (${interest.kind})`);
  return { round: 0, view: 0, certificate, aggregateHash: interest.aggregateHash, body };
}

Deno.test("certificate exchange: a certificate whose gossip reached nobody reaches members directly and is decided", async () => {
  const seed = "exchange-direct";
  const { fed, leader, certificate, body } = await decidedRound(seed);
  const fetches: number[] = [];
  const memberMesh = {
    connected: () => fed.roster.members.map((_, i) => i).filter((i) => i !== member.y),
    admittedMembers: () => [],
    publish: () => Promise.resolve([]),
    fetchAggregate: (
      source: number,
      request: { round: number; view: number; hash: Uint8Array },
    ) => {
      fetches.push(source);
      // Only the leader has the body: the one its exchange kept to serve.
      const served = source === leader
        ? leaderSide.exchange.body(request.round, request.view, request.hash)
        : undefined;
      return Promise.resolve(served?.slice());
    },
  } as unknown as Mesh;
  const member = followingMember(fed, seed, memberMesh);
  // Declared after the member (its mesh's closures read it only once the test runs).
  const leaderSide = leaderExchange(fed, leader, [], (to, data) => {
    if (to === member.y) member.exchange.onGossip(data, leader);
  });
  try {
    const published = await publishedBody(member.endpoint, leader, certificate, body);
    await leaderSide.exchange.broadcast(certificate, published);
    assert(await eventually(() => member.published() === 1, 15_000), "decided at the member");
    assert(leaderSide.logs.includes("gossip reached no peer"), "gossip reached nobody");
    assert(
      await eventually(() => leaderSide.direct.length === leaderSide.others.length, 5000),
      "sent to every member directly",
    );
    assertEquals([...leaderSide.direct].sort(), leaderSide.others, "each member once");
    assertEquals(fetches[0], leader, "the body fetched from the publisher");
    assertEquals(
      leaderSide.metrics.get("fedagg_broadcast_direct_total", { kind: "certificate" }),
      leaderSide.others.length,
    );
  } finally {
    await member.close();
  }
});

Deno.test("certificate exchange: healthy gossip sends nothing directly; a certificate that comes both ways is decided once", async () => {
  const seed = "exchange-both";
  const { fed, leader, certificate, body } = await decidedRound(seed);
  let leaderSide: ReturnType<typeof leaderExchange> | undefined;
  const fetches: number[] = [];
  const memberMesh = {
    connected: () => fed.roster.members.map((_, i) => i).filter((i) => i !== member.y),
    admittedMembers: () => [],
    publish: () => Promise.resolve([]),
    fetchAggregate: (
      source: number,
      request: { round: number; view: number; hash: Uint8Array },
    ) => {
      fetches.push(source);
      return Promise.resolve(
        leaderSide?.exchange.body(request.round, request.view, request.hash)?.slice(),
      );
    },
  } as unknown as Mesh;
  const member = followingMember(fed, seed, memberMesh);
  try {
    // Healthy gossip: it reached every other member, so nobody is sent the certificate directly.
    leaderSide = leaderExchange(
      fed,
      leader,
      fed.roster.members.map((_, i) => i).filter((i) => i !== leader),
      () => {},
    );
    const published = await publishedBody(member.endpoint, leader, certificate, body);
    await leaderSide.exchange.broadcast(certificate, published);
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(leaderSide.direct, [], "no direct send");
    assert(!leaderSide.logs.includes("gossip reached no peer"));

    // The same certificate arriving by gossip and directly: one fetch, decided once.
    const message = encode(["certificate", certificate]);
    member.exchange.onGossip(message, leader);
    member.exchange.onGossip(message, leader);
    assert(await eventually(() => member.published() === 1, 30_000), "decided");
    member.exchange.onGossip(message, leader);
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(member.published(), 1, "a repeat is ignored");
    assertEquals(fetches, [leader], "its body fetched once");
  } finally {
    await member.close();
  }
});
