/**
 * Once the abandon quorum holds, no certificate of an abandoned view becomes final: a member never
 * co-signs a certificate of a view it signed Leave for (`Commitment.left`), and a member that
 * already reported `round-failed` reports a certificate containing its update as a conflict
 * (`internal-error`), never `published` or `final` (`docs/protocol.md` §4).
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { sealCertificate } from "../../../protocol/certificate/certificate.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { openFrame } from "../../../protocol/wire/frame.ts";
import { readApproval, readConsistencyRequest } from "../../../protocol/wire/messages.ts";
import { all, type Federation, federation, inputsFor } from "../_fixtures.ts";
import { EndpointNet } from "../_harness.ts";

const ROUND = 0;

/** Member x's network after it held t approvals of view 0 and withheld the UnmaskRequest. */
async function withheld(seed: string) {
  // n = 6, t = 4 (c = 1): the abandon quorum is n − t + c + 1 = 4; complete graph.
  const fed = await federation({ n: 6, threshold: 4, roundDeadlineMs: 3500, seed });
  const net = new EndpointNet(fed, undefined, seed);
  const x = leaderOf(fed.roster, ROUND, 0);
  const l1 = leaderOf(fed.roster, ROUND, 1);
  // x holds every approval of view 0 but sends the UnmaskRequest to its own participant only.
  net.intercept = (w) => w.from === x && w.type === "unmaskRequest" ? [] : undefined;
  await net.submit(ROUND, inputsFor(fed.roster, ROUND));
  await net.run({ maxTime: 1000 });
  // The leader of view 1 is gone: view 1 never completes.
  net.dead.add(l1);
  return { fed, net, x, l1, others: all(fed, [x, l1]) };
}

/** A certificate of view 0 that x seals from t genuine approvals and an aggregate it chose. */
async function forgeCertificate(
  net: EndpointNet,
  fed: Federation,
  x: number,
): Promise<Uint8Array> {
  const { roster } = fed;
  const approvals = net.sent("approval", undefined, 0).filter((w) => w.to === x);
  assert(approvals.length >= roster.threshold, `${approvals.length} approvals`);
  const request = net.sent("consistencyRequest", x, 0)[0];
  const { u3 } = readConsistencyRequest(openFrame(request.frame, roster), roster);
  const chosen = approvals.slice(0, roster.threshold).sort((a, b) => a.from - b.from);
  const { u2Hash } = readApproval(openFrame(chosen[0].frame, roster));
  const body = new Uint32Array(roster.dim + 1);
  body[roster.dim] = u3.length;
  const { frame } = await sealCertificate(
    roster,
    request.session,
    x,
    fed.signers[x],
    { u2Hash, u3, approvals: chosen.map((w) => w.frame), totalWeight: u3.length },
    new Uint8Array(body.buffer),
  );
  return frame;
}

Deno.test("a leader that withholds the UnmaskRequest cannot finalise view 0 after the members abandoned it", async () => {
  const { fed, net, x, others } = await withheld("abandon-cs");
  // The others leave view 0, give up at their deadline
  // (outcome-unknown: their masked inputs left in view 0) and end abandoned.
  await net.run({ maxTime: 5000 });
  for (const i of others) {
    const failed = net.events("round-failed", i).filter((e) => e.role === "participant");
    assertEquals(failed.length, 1, `member ${i}`);
    assert(failed[0].reason.startsWith("abandoned"), failed[0].reason);
  }

  // x now forges a certificate of view 0 from t genuine approvals and an aggregate of its choice.
  const frame = await forgeCertificate(net, fed, x);
  const before = net.log.length;
  for (const i of others) {
    const out = await net.endpoints[i].receive(frame, x, net.now);
    const types = out.map((o) => o.kind === "event" ? o.event.type : o.kind);
    // A leaver lends it no co-signature and does not contradict its round-failed.
    assert(!types.includes("broadcast"), `member ${i}: ${types.join(", ")}`);
    assert(!types.includes("published") && !types.includes("final"), types.join(", "));
    const conflict = out.find((o) => o.kind === "event" && o.event.type === "internal-error");
    assert(
      conflict?.kind === "event" && conflict.event.type === "internal-error" &&
        conflict.event.message.startsWith("conflict:"),
      `member ${i}: ${types.join(", ")}`,
    );
  }
  // x's own participant (committed to view 0) co-signs; alone it never reaches t.
  await net.call(x, () => net.endpoints[x].receive(frame, x, net.now));
  await net.run({ maxTime: net.now + 10_000 });
  const after = net.log.slice(before).map((l) => l.event);
  assertEquals(after.filter((e) => e.type === "final"), [], "never final");
  assert(net.sent("cosign").every((w) => w.from === x), "only the corrupt leader co-signed");
  net.close();
});

Deno.test("a member that left view 0 takes its certificate but never co-signs it", async () => {
  const { fed, net, x, others } = await withheld("left-cs");
  // The others time out in view 0 and leave it (Leave(0, 0)), still before their deadline.
  await net.run({
    until: () => others.every((i) => net.events("left", i).some((e) => e.view === 0)),
    maxTime: 3400,
  });
  const frame = await forgeCertificate(net, fed, x);
  for (const i of others) {
    assertEquals(net.endpoints[i].participant(ROUND)?.leftView, 0, `member ${i}`);
    const out = await net.endpoints[i].receive(frame, x, net.now);
    const types = out.map((o) => o.kind === "event" ? o.event.type : o.kind);
    // Its masked input is in it: the certificate is taken (published), never co-signed.
    assert(types.includes("published"), `member ${i}: ${types.join(", ")}`);
    assert(!types.includes("broadcast"), `member ${i}: ${types.join(", ")}`);
  }
  net.close();
});
