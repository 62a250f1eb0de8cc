/**
 * Publication (protocol/round/publication.ts): a member's handling of its round's certificate and
 * co-signatures, driven on the in-memory network of `_harness.ts` — co-signatures that overtake
 * the certificate, co-signatures of another certificate or with a bad signature (refused, never
 * counted towards final), and an observer: a member without input that follows the round with a
 * publication alone and co-signs it.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { verifyFinalCertificate } from "../../../protocol/certificate/final.ts";
import { Publication } from "../../../protocol/round/publication.ts";
import { cosignFields } from "../../../protocol/wire/messages.ts";
import { openFrame, sealFrame } from "../../../protocol/wire/frame.ts";
import {
  all,
  eventsOf,
  type Federation,
  federation,
  follower,
  inputsFor,
  plainSum,
  u8,
  verifyFinal,
} from "../_fixtures.ts";
import { forgeSignature } from "../_frames.ts";
import { MachineNet, startedNet } from "../_harness.ts";

const ROUND = 0;

const complete = federation({ n: 5, dim: 20 });

/**
 * A round that ran to its end except for member `x`, whose certificate and co-signatures are
 * held: the network, the held co-signature of each member and the held certificate.
 */
async function withheldPublication(fed: Federation, x: number) {
  const net = await startedNet(
    fed,
    ROUND,
    (m) => m.to === x && (m.type === "certificate" || m.type === "cosign"),
  );
  const cosignBy = (i: number) => net.held.find((m) => m.type === "cosign" && m.from === i)!;
  const certificate = net.held.find((m) => m.type === "certificate")!;
  return { net, cosignBy, certificate };
}

Deno.test("publication: co-signatures that overtake the certificate are kept", async () => {
  const fed = await complete;
  const { roster } = fed;
  const x = follower(roster, ROUND);
  const net = await startedNet(fed, ROUND, (m) => m.type === "certificate" && m.to === x);
  // Everyone else published and co-signed; x got all their co-signatures but no certificate.
  assertEquals(net.participants[x].stage, "unmask");
  assertEquals(net.events("published", x), []);
  const cosignsToX = net.emitted.filter((m) => m.type === "cosign" && m.to === x);
  assertEquals(cosignsToX.length, roster.members.length - 1);
  const { out } = await net.deliverHeld(x);
  const types = eventsOf(out).map((e) => e.type);
  assertEquals(types, ["stage", "published", "stage", "final"]);
  const final = eventsOf(out).find((e) => e.type === "final");
  assert(final?.type === "final");
  // Its own co-signature is broadcast too; the final certificate it built verifies.
  const cosign = out.find((o) => o.kind === "broadcast");
  assert(cosign?.kind === "broadcast" && openFrame(cosign.frame, roster).type === "cosign");
  const verified = await verifyFinal(roster, final);
  assertEquals(verified.cosigners, all(fed, [x]));
});

Deno.test(
  "publication: a co-signature of another certificate is refused when the batch is checked and " +
    "does not count; the member's genuine one still does",
  async () => {
    const fed = await complete;
    const { roster } = fed;
    const x = follower(roster, ROUND);
    const { net, cosignBy, certificate } = await withheldPublication(fed, x);
    const [y, ...rest] = all(fed, [x]);
    // y's co-signature of another hash overtakes the certificate: kept unchecked.
    const wrong = await sealFrame(
      "cosign",
      certificate.session,
      y,
      cosignFields({ certificateHash: new Uint8Array(32).fill(7) }),
      fed.signers[y],
      roster.mode,
    );
    assertEquals(await net.toParticipant(x, wrong, y), []);
    assertEquals(
      eventsOf(await net.toParticipant(x, certificate.frame, certificate.from)).map((e) => e.type),
      ["stage", "published"],
    );
    // t − 1 genuine ones plus y's make t candidates: the batch refuses y's, t − 1 remain.
    assertEquals(rest.length, roster.threshold - 1);
    const refusals = [];
    for (const i of rest) {
      refusals.push(...eventsOf(await net.toParticipant(x, cosignBy(i).frame, i)));
    }
    assertEquals(
      refusals.map((e) => e.type === "refused" ? [e.error.code, e.error.peer] : e.type),
      [["commitment-mismatch", y]],
    );
    assertEquals(net.participants[x].stage, "publish");
    // y's genuine co-signature is then accepted and completes the certificate.
    const out = eventsOf(await net.toParticipant(x, cosignBy(y).frame, y));
    const final = out.find((e) => e.type === "final");
    assert(final?.type === "final");
    assertEquals((await verifyFinal(roster, final)).cosigners, all(fed, [x]));
  },
);

for (const mode of ["classical", "post-quantum"] as const) {
  Deno.test(
    `publication (${mode}): a co-signature with a bad signature is refused and does not count ` +
      "towards final; the member's genuine one does",
    async () => {
      const fed = mode === "classical"
        ? await complete
        : await federation({ n: 5, dim: 20, mode, seed: "cosign" });
      const { roster } = fed;
      const x = follower(roster, ROUND);
      // In post-quantum mode co-signatures are hybrid: each half is forged alone.
      const parts = mode === "classical" ? ["ed25519"] as const : ["ed25519", "mlDsa65"] as const;
      for (const part of parts) {
        const { net, cosignBy, certificate } = await withheldPublication(fed, x);
        const [y, ...rest] = all(fed, [x]);
        assertEquals(
          eventsOf(await net.toParticipant(x, certificate.frame, certificate.from)).map((e) =>
            e.type
          ),
          ["stage", "published"],
        );
        // y's co-signature with one bit of its signature flipped, then t − 1 genuine ones: t
        // candidates, of which only t − 1 are valid.
        assertEquals(await net.toParticipant(x, forgeSignature(cosignBy(y).frame, part), y), []);
        assertEquals(rest.length, roster.threshold - 1);
        const events = [];
        for (const i of rest) {
          events.push(...eventsOf(await net.toParticipant(x, cosignBy(i).frame, i)));
        }
        assertEquals(
          events.map((e) => e.type === "refused" ? [e.error.code, e.error.peer] : e.type),
          [["bad-signature", y]],
          `the co-signature with a forged ${part} part is refused when the batch is checked`,
        );
        assertEquals(net.participants[x].stage, "publish", "t − 1 valid co-signatures: not final");
        const out = eventsOf(await net.toParticipant(x, cosignBy(y).frame, y));
        const final = out.find((e) => e.type === "final");
        assert(final?.type === "final", "y's genuine co-signature completes the certificate");
        assertEquals((await verifyFinal(roster, final)).cosigners, all(fed, [x]));
      }
    },
  );
}

Deno.test("publication: an observer without input follows the certificate, co-signs", async () => {
  const fed = await complete;
  const { roster } = fed;
  const x = follower(roster, ROUND);
  const inputs = inputsFor(roster, ROUND);
  const net = new MachineNet(fed, ROUND, inputs.map((v, i) => i === x ? undefined : v.slice()));
  const observer = net.participants[x];
  assert(observer instanceof Publication);
  assertEquals([observer.stage, observer.decided], [undefined, false]);
  assertEquals(observer.nextTimeout(), undefined);
  await net.start();
  await net.deliver();
  // The leader waited for the observer's advert until its stage timeout.
  assertEquals(net.events("final"), []);
  net.now = roster.stageTimeoutMs;
  await net.tick();
  const members = all(fed, [x]);
  const [published] = net.events("published", x);
  assertEquals(published.members, members);
  assertEquals(published.aggregate, plainSum(inputs, members));
  const [final] = net.events("final", x);
  assertEquals(final.members, members);
  assertEquals([observer.stage, observer.decided], ["final", true]);
  // It co-signed: every member's final certificate counts its co-signature.
  const cosigns = net.emitted.filter((m) => m.type === "cosign" && m.from === x);
  assertEquals(cosigns.length, roster.members.length);
  const body = u8(final.aggregate);
  for (const i of members) {
    const [f] = net.events("final", i);
    const v = await verifyFinalCertificate(roster, f.certificate, body);
    assert(v.members.every((m) => m !== x));
  }
  assertEquals(net.events("stage", x).map((e) => e.stage), ["publish", "final"]);
});

Deno.test("publication: an observer refuses anything but the certificate and co-signatures", async () => {
  const fed = await complete;
  const { roster } = fed;
  const x = follower(roster, ROUND);
  const net = await startedNet(fed, ROUND);
  const observer = new Publication({ roster, self: x, signer: fed.signers[x] }, ROUND);
  for (const type of ["keyList", "shareDelivery", "consistencyRequest", "unmaskRequest"] as const) {
    const m = net.emitted.find((w) => w.type === type)!;
    const events = eventsOf(await observer.handle(openFrame(m.frame, roster, m.from), 0));
    assertEquals(
      events.map((e) => e.type === "refused" && [e.error.code, e.error.message]),
      [[
        "wrong-stage",
        `wrong-stage from member ${m.from}: ${type} but this member is not in a view`,
      ]],
    );
  }
  assertEquals(observer.decided, false);
});

Deno.test(
  "publication: a co-signature that cannot be signed leaves the member undecided, in its view; " +
    "the certificate taken again then completes",
  async () => {
    const fed = await federation({ n: 5, dim: 20, seed: "flaky-signer" });
    const x = follower(fed.roster, ROUND);
    const signer = fed.signers[x];
    const sign = signer.sign.bind(signer);
    let broken = false;
    // Once armed, the signer fails once: on x's co-signature, the next thing it signs.
    signer.sign = (payload, hybrid) => {
      if (broken) {
        broken = false;
        return Promise.reject(new Error("the signing device is unplugged"));
      }
      return sign(payload, hybrid);
    };
    const { net, certificate } = await withheldPublication(fed, x);
    broken = true;
    try {
      const participant = net.participants[x];
      await assertRejects(
        () => net.toParticipant(x, certificate.frame, certificate.from),
        Error,
        "unplugged",
      );
      assertEquals([participant.decided, participant.stage], [false, "unmask"]);
      assert(net.inputs[x]!.some((w) => w !== 0), "nothing of the round is wiped yet");
      const events = eventsOf(await net.toParticipant(x, certificate.frame, certificate.from));
      assertEquals(events.map((e) => e.type), ["stage", "published"]);
      assert(participant.decided);
      assert(net.inputs[x]!.every((w) => w === 0), "decided: the input is wiped");
    } finally {
      signer.sign = sign;
    }
  },
);
