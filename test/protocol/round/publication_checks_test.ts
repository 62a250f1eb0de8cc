/**
 * What a member's publication (protocol/round/publication.ts) refuses of a certificate beyond
 * `checkCertificate`, rule by rule, on a genuine round's certificate: one of a view other than
 * the one this member committed to (`wrong-session`), one whose U3 is not the U3 this member
 * approved (`inconsistent-lists`), one without its aggregate (`malformed`), and, once a
 * certificate is taken, a second, different one of the round (`equivocation`), while an exact
 * repeat is ignored. Each refusal leaves the member undecided or on its first certificate.
 * (`deno task mutate --filter publication.ts` disables each rule.)
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { sealCertificate } from "../../../protocol/certificate/certificate.ts";
import { ProtocolError, type RefusalCode } from "../../../protocol/errors.ts";
import { Publication } from "../../../protocol/round/publication.ts";
import { type Envelope, openFrame, withoutBody } from "../../../protocol/wire/frame.ts";
import { readCertificate } from "../../../protocol/wire/messages.ts";
import { eventsOf, federation, follower } from "../_fixtures.ts";
import { startedNet } from "../_harness.ts";

const ROUND = 0;

const genuine = (async () => {
  const fed = await federation({ n: 5, dim: 6, seed: "publication-checks" });
  const net = await startedNet(fed, ROUND);
  const wire = net.emitted.find((w) => w.type === "certificate")!;
  const env = openFrame(wire.frame, fed.roster);
  const certificate = readCertificate(env, fed.roster);
  const x = follower(fed.roster, ROUND, [env.session.view]);
  const publication = () =>
    new Publication({ roster: fed.roster, self: x, signer: fed.signers[x] }, ROUND);
  return { fed, env, certificate, publication };
})();

async function refuses(
  p: Publication,
  env: Envelope,
  commitment: { view: number | undefined; approvedU3?: number[] },
  code: RefusalCode,
  says: string,
): Promise<void> {
  const e = await assertRejects(() => p.certificate(env, commitment, 0), ProtocolError);
  assertEquals([(e as ProtocolError).code, (e as ProtocolError).peer], [code, env.sender]);
  assert(e.message.includes(says), `"${e.message}" says "${says}"`);
}

Deno.test("publication checks: a certificate of a view this member did not commit to", async () => {
  const { env, publication } = await genuine;
  const p = publication();
  await refuses(
    p,
    env,
    { view: env.session.view + 1 },
    "wrong-session",
    `certificate for view ${env.session.view}, this member committed to view ${
      env.session.view + 1
    }`,
  );
  assertEquals(p.decided, false);
  // Committed to its view: taken.
  const out = eventsOf(await p.certificate(env, { view: env.session.view }, 0));
  assert(out.some((e) => e.type === "published"));
  assert(p.decided);
});

Deno.test("publication checks: a certificate of a U3 other than the one approved", async () => {
  const { env, certificate, publication } = await genuine;
  const p = publication();
  const u3 = [...certificate.u3];
  // One member fewer, or another member in the last one's place.
  for (const approvedU3 of [u3.slice(1), [...u3.slice(0, -1), 99]]) {
    await refuses(
      p,
      env,
      { view: env.session.view, approvedU3 },
      "inconsistent-lists",
      "the certificate's U3 differs from the one this member approved",
    );
  }
  assertEquals(p.decided, false);
  const out = eventsOf(await p.certificate(env, { view: env.session.view, approvedU3: u3 }, 0));
  assert(out.some((e) => e.type === "published"));
});

Deno.test("publication checks: a certificate without its aggregate body", async () => {
  const { fed, env, publication } = await genuine;
  const p = publication();
  const bare = openFrame(withoutBody(env), fed.roster);
  assertEquals(bare.body, null);
  await refuses(p, bare, { view: undefined }, "malformed", "certificate without its aggregate");
  assertEquals(p.decided, false);
});

Deno.test(
  "publication checks: once taken, an exact repeat is ignored and a second, different " +
    "certificate of the round is equivocation",
  async () => {
    const { fed, env, certificate, publication } = await genuine;
    const p = publication();
    await p.certificate(env, { view: undefined }, 0);
    assertEquals(await p.certificate(env, { view: undefined }, 0), []);
    // The leader's second certificate: as valid, with one approval fewer (still ≥ t).
    assert(certificate.approvals.length > fed.roster.threshold);
    const { frame } = await sealCertificate(
      fed.roster,
      env.session,
      env.sender,
      fed.signers[env.sender],
      { ...certificate, approvals: certificate.approvals.slice(0, fed.roster.threshold) },
      env.body!,
    );
    await refuses(
      p,
      openFrame(frame, fed.roster),
      { view: undefined },
      "equivocation",
      `a second, different certificate for round ${ROUND}`,
    );
    assertEquals(p.stage, "publish");
  },
);

Deno.test("publication checks: an observer refuses another round's certificate", async () => {
  const { fed, publication } = await genuine;
  const next = await startedNet(fed, ROUND + 1);
  const wire = next.emitted.find((w) => w.type === "certificate")!;
  const p = publication();
  const events = eventsOf(await p.handle(openFrame(wire.frame, fed.roster), 0));
  assertEquals(
    events.map((e) => e.type === "refused" ? [e.error.code, e.error.peer] : e.type),
    [["wrong-session", wire.from]],
  );
  assertEquals(p.decided, false);
});

Deno.test("publication: its own Cosign goes to an asker only for the view taken, before final, never once renounced", async () => {
  const { env, publication } = await genuine;
  const view = env.session.view;
  const p = publication();
  assertEquals(p.cosignFor(view), undefined, "nothing taken yet");
  const out = await p.certificate(env, { view }, 0);
  const broadcast = out.find((o) => o.kind === "broadcast");
  assert(broadcast?.kind === "broadcast");
  assertEquals(p.cosignFor(view), broadcast.frame, "the Cosign it broadcast");
  assertEquals(p.cosignFor(view + 1), undefined, "another view");
  p.renounce();
  assertEquals(p.cosignFor(view), undefined, "renounced");
  // Renounced before the certificate: taken, never co-signed, nothing to send.
  const q = publication();
  q.renounce();
  assertEquals((await q.certificate(env, { view }, 0)).filter((o) => o.kind === "broadcast"), []);
  assertEquals(q.cosignFor(view), undefined);
});
