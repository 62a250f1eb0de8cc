/**
 * Final certificates across a roster change (protocol/certificate/chain_verification.ts): rounds
 * run by real Endpoints under version 0 (three members) and version 1 (a fourth joined, from
 * round 2) verify against the chain under the version of their round; a certificate made under
 * version 0's roster for a round of version 1 (members that did not adopt the amendment) is
 * refused as `wrong-session`; a tampered body is refused whatever the version.
 */
import { assertEquals, assertRejects } from "../../_assert.ts";
import { u32Bytes } from "../../../protocol/encoding/bytes.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import { createRoster, type Roster } from "../../../protocol/federation/roster.ts";
import { MemberSigner, type Signature } from "../../../protocol/federation/signer.ts";
import {
  genesisVersion,
  signAmendment,
  verifyAmendment,
} from "../../../protocol/federation/amendment.ts";
import { verifyFinalCertificateInChain } from "../../../protocol/certificate/chain_verification.ts";
import { EndpointNet } from "../_harness.ts";
import { inputsFor, rngFor } from "../_fixtures.ts";

/** Runs `round` on fresh Endpoints of `roster`; resolves to member 0's certificate and body. */
async function certify(roster: Roster, signers: MemberSigner[], round: number) {
  const net = new EndpointNet({ roster, signers }, undefined, `chain-cert/${round}`);
  try {
    await net.submit(round, inputsFor(roster, round));
    await net.deliver();
    const [final] = net.events("final").filter((f) => f.member === 0);
    return { certificate: final.certificate, body: u32Bytes(final.aggregate) };
  } finally {
    net.close();
  }
}

Deno.test("chain verification: a certificate verifies under the version of its round only", async () => {
  const signers: Record<string, MemberSigner> = {};
  for (const id of ["a", "b", "c", "d"]) {
    const r = rngFor("chain-cert", id);
    signers[id] = await MemberSigner.fromSeeds(r(32), r(32));
  }
  const member = (id: string) => ({ id, signingKey: signers[id].signingKey });
  const settings = { federation: "chain", dim: 4, maxWeight: 3 };
  const v0 = genesisVersion(createRoster({ ...settings, members: ["a", "b", "c"].map(member) }));
  const amendment = {
    previous: v0.hash,
    version: 1,
    firstRound: 2,
    changes: [{ kind: "add" as const, member: member("d") }],
  };
  const sign = async (ids: string[]) => {
    const m = new Map<string, Signature>();
    for (const id of ids) m.set(id, await signAmendment(v0, amendment, signers[id]));
    return m;
  };
  const v1 = (await verifyAmendment(v0, {
    amendment,
    approvals: await sign(["a", "b", "c"]),
    joiners: await sign(["d"]),
  })).next;
  const versions = [v0, v1];
  const signersOf = (r: Roster) => r.members.map((m) => signers[m.id]);

  const old = await certify(v0.roster, signersOf(v0.roster), 1);
  const verifiedOld = await verifyFinalCertificateInChain(versions, old.certificate, old.body);
  assertEquals([verifiedOld.round, verifiedOld.version.version], [1, 0]);

  const fresh = await certify(v1.roster, signersOf(v1.roster), 2);
  const verifiedNew = await verifyFinalCertificateInChain(versions, fresh.certificate, fresh.body);
  assertEquals([verifiedNew.round, verifiedNew.version.version], [2, 1]);
  assertEquals(verifiedNew.members, [0, 1, 2, 3]);

  // Members that kept running version 0 certify round 2 among themselves: refused.
  const stale = await certify(v0.roster, signersOf(v0.roster), 2);
  const err = await assertRejects(
    () => verifyFinalCertificateInChain(versions, stale.certificate, stale.body),
    ProtocolError,
  );
  assertEquals((err as ProtocolError).code, "wrong-session");
  assertEquals(
    err.message,
    "wrong-session: round 2 runs under roster version 1 (from round 2); this certificate was " +
      "made under version 0's roster",
  );
  // Without the amendment, the verifier sees only version 0, and that certificate is valid.
  assertEquals((await verifyFinalCertificateInChain([v0], stale.certificate, stale.body)).round, 2);

  // A tampered body is refused under every version.
  const forged = fresh.body.slice();
  forged[0] ^= 1;
  await assertRejects(
    () => verifyFinalCertificateInChain(versions, fresh.certificate, forged),
    ProtocolError,
  );
});
