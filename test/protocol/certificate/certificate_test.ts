/**
 * Certificates (protocol/certificate.ts) from genuine rounds: the final certificate verifies
 * offline and states the right round, view, leader, members, co-signers and aggregate; its
 * encoding round-trips; the hashes members co-sign and leaders certify are the documented ones.
 * Forged, replayed or inconsistent certificates are the adversary suite's.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import {
  aggregateHash,
  certificateHash,
  checkCertificate,
} from "../../../protocol/certificate/certificate.ts";
import {
  encodeFinalCertificate,
  verifyFinalCertificate,
} from "../../../protocol/certificate/final.ts";
import { withoutBody } from "../../../protocol/wire/frame.ts";
import { ML_DSA65_SIGNATURE_LENGTH } from "../../../protocol/crypto/mod.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import { openFrame } from "../../../protocol/wire/frame.ts";
import { readCertificate, readCosign } from "../../../protocol/wire/messages.ts";
import { createRoster } from "../../../protocol/federation/roster.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import {
  all,
  type Federation,
  federation,
  type FederationOptions,
  type Final,
  finalParts,
  follower,
  inputsFor,
  plainSum,
  u8,
  verifyFinal,
} from "../_fixtures.ts";
import { forgeSignature, type Wire } from "../_frames.ts";
import { EndpointNet } from "../_harness.ts";

/** Runs `round` between endpoints (timeouts included) and returns the network. */
async function runRound(
  fed: Federation,
  round: number,
  hold?: (m: Wire) => boolean,
): Promise<EndpointNet> {
  const net = new EndpointNet(fed, undefined, `cert/${round}`);
  // The round before was decided: `round` is the federation's current round for every member.
  for (const e of net.endpoints) e.restore({ decided: round - 1 });
  net.hold = hold;
  await net.submit(round, inputsFor(fed.roster, round));
  await net.deliver();
  for (let k = 0; k < 20 && net.events("final").length < fed.roster.members.length; k++) {
    const next = Math.min(...net.endpoints.map((e) => e.nextTimeout() ?? Infinity));
    if (next === Infinity) break;
    net.now = next;
    await net.tick();
  }
  return net;
}

/**
 * Checks that exactly the members in `expected.finals` reported a final certificate, verifies
 * each offline and returns them.
 */
async function verifyAll(
  fed: Federation,
  net: EndpointNet,
  expected: { round: number; view: number; members: number[]; finals: number[] },
): Promise<Final[]> {
  const { roster } = fed;
  const finals = all(fed).map((i) => net.events("final", i)[0]).filter((f) => f !== undefined);
  assertEquals(
    all(fed).filter((i) => net.events("final", i).length > 0),
    expected.finals,
    "members with a final certificate",
  );
  const sum = plainSum(inputsFor(roster, expected.round), expected.members);
  for (const f of finals) {
    const v = await verifyFinal(roster, f);
    assertEquals(v.round, expected.round);
    assertEquals(v.view, expected.view);
    assertEquals(v.leader, leaderOf(roster, expected.round, expected.view));
    assertEquals(v.members, expected.members);
    assertEquals(v.aggregate, sum);
    assertEquals(f.aggregate, sum);
    assertEquals(f.members, expected.members);
    assert(v.cosigners.length >= roster.threshold, `${v.cosigners.length} co-signers`);
    assert(v.cosigners.every((c, i) => i === 0 || c > v.cosigners[i - 1]), "sorted, distinct");
    // The co-signers are exactly the signers of the embedded co-signature frames.
    const { cosigns } = finalParts(f);
    assertEquals(
      cosigns.map((c) => openFrame(c, roster).sender).sort((a, b) => a - b),
      v.cosigners,
    );
  }
  return finals;
}

const classical = federation({ n: 5, dim: 40, seed: "cert" });

Deno.test("certificate: a genuine final certificate verifies offline", async () => {
  const fed = await classical;
  const round = 3;
  const y = follower(fed.roster, round);
  // y drops before its masked input: the aggregate holds the four others.
  const net = await runRound(fed, round, (m) => m.type === "maskedInput" && m.from === y);
  const members = all(fed, [y]);
  // y still co-signs: every member ends with a final certificate.
  const finals = await verifyAll(fed, net, { round, view: 0, members, finals: all(fed) });
  // Verification is a pure function of the roster and the bytes: a roster rebuilt from the same
  // settings, repeated calls, agree.
  const rebuilt = createRoster({
    federation: fed.roster.federation,
    members: [...fed.roster.members].reverse(),
    dim: fed.roster.dim,
    clip: fed.roster.quantization.clip,
    maxWeight: fed.roster.quantization.maxWeight,
    stageTimeoutMs: fed.roster.stageTimeoutMs,
    advertiseTimeoutMs: fed.roster.advertiseTimeoutMs,
    viewTimeoutMs: fed.roster.viewTimeoutMs,
  });
  assertEquals(rebuilt.hash, fed.roster.hash);
  const f = finals[0];
  const a = await verifyFinal(fed.roster, f);
  const b = await verifyFinalCertificate(rebuilt, f.certificate, u8(f.aggregate).slice());
  assertEquals(a, b);
  net.close();
});

Deno.test("certificate: the final encoding round-trips, embeds the broadcast one", async () => {
  const fed = await classical;
  const { roster } = fed;
  const net = await runRound(fed, 1);
  const [f] = net.events("final", 0);
  const { tag, certificate: certificateFrame, cosigns } = finalParts(f);
  assertEquals(tag, "fedagg/v1/final-certificate");
  const env = openFrame(certificateFrame, roster);
  assertEquals(encodeFinalCertificate(env, cosigns), f.certificate);
  // The broadcast certificate carries the aggregate as its body; the final form drops it.
  const broadcast = openFrame(net.sent("certificate")[0].frame, roster);
  assertEquals(broadcast.body, u8(f.aggregate));
  assertEquals(withoutBody(broadcast), certificateFrame);
  assertEquals(withoutBody(env), certificateFrame);
  // The published event carries the same body-less certificate.
  assertEquals(net.events("published", 0)[0].certificate, certificateFrame);
  // Hashes: co-signatures sign the certificate hash, the certificate the aggregate hash.
  const certified = readCertificate(env, roster);
  assertEquals(certified.aggregateHash, aggregateHash(env.session, u8(f.aggregate)));
  assertEquals(certified.totalWeight, f.aggregate[roster.dim]);
  assertEquals(certified.u3, all(fed));
  for (const c of cosigns) {
    assertEquals(readCosign(openFrame(c, roster)).certificateHash, certificateHash(env));
  }
  assertEquals(certificateHash(broadcast), certificateHash(env));
  net.close();
});

Deno.test("certificate: checkCertificate accepts the broadcast certificate", async () => {
  const fed = await classical;
  const { roster } = fed;
  const net = await runRound(fed, 2);
  const env = openFrame(net.sent("certificate")[0].frame, roster);
  const checked = await checkCertificate(roster, env, env.body!);
  assertEquals(checked.leader, leaderOf(roster, 2, 0));
  assertEquals(checked.session, env.session);
  assertEquals(checked.hash, certificateHash(env));
  assertEquals(checked.refused, []);
  assert(checked.approvers.length >= roster.threshold);
  assert(checked.approvers.every((a) => checked.certificate.u3.includes(a)));
  assertEquals(checked.aggregate, plainSum(inputsFor(roster, 2), all(fed)));
  net.close();
});

Deno.test("certificate: a body of the wrong length is refused before any signature check", async () => {
  const fed = await classical;
  const { roster } = fed;
  const net = await runRound(fed, 4);
  // A forged certificate signature would be refused too, but the cheap length check comes first.
  const forged = openFrame(forgeSignature(net.sent("certificate")[0].frame), roster);
  const body = forged.body!;
  for (const wrong of [body.subarray(4), new Uint8Array(body.length + 4)]) {
    const err = await assertRejects(() => checkCertificate(roster, forged, wrong), ProtocolError);
    assertEquals((err as ProtocolError).code, "wrong-length");
  }
  const err = await assertRejects(() => checkCertificate(roster, forged, body), ProtocolError);
  assertEquals((err as ProtocolError).code, "bad-signature");
  net.close();
});

Deno.test("certificate: a round decided after a view change is certified there", async () => {
  const fed = await classical;
  const round = 4;
  const dead = leaderOf(fed.roster, round, 0);
  const net = await runRound(fed, round, (m) => m.from === dead || m.to === dead);
  // The isolated first leader never learns the outcome; everyone else does.
  const others = all(fed, [dead]);
  await verifyAll(fed, net, { round, view: 1, members: others, finals: others });
  net.close();
});

for (
  const [name, options] of [
    ["post-quantum", { n: 4, dim: 9, mode: "post-quantum", seed: "cert-pq" }],
    ["sparse graph", {
      n: 8,
      dim: 9,
      graph: { kind: "harary", degree: 4, threshold: 3 },
      seed: "cert-sparse",
    }],
  ] as [string, FederationOptions][]
) {
  Deno.test(`certificate: ${name} final certificates verify offline`, async () => {
    const fed = await federation(options);
    const net = await runRound(fed, 0);
    const finals = await verifyAll(fed, net, {
      round: 0,
      view: 0,
      members: all(fed),
      finals: all(fed),
    });
    if (fed.roster.mode === "post-quantum") {
      const { certificate, cosigns } = finalParts(finals[0]);
      for (const frame of [certificate, ...cosigns]) {
        assertEquals(
          openFrame(frame, fed.roster).signature.mlDsa65?.length,
          ML_DSA65_SIGNATURE_LENGTH,
        );
      }
    }
    net.close();
  });
}
