/**
 * Adversarial tests: final certificates, verified offline (section 13). `verifyFinalCertificate`
 * must refuse, each with its code and no hex secret in the message, a tampered or truncated
 * aggregate body, too few, repeated, foreign, forged or mistyped co-signatures, a forged or
 * non-leader certificate, one with too few approvals, a wrong wrapper, and another federation's
 * roster; in both modes.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { equalBytes } from "../../../protocol/encoding/bytes.ts";
import { verifyFinalCertificate } from "../../../protocol/certificate/final.ts";
import { encode } from "../../../protocol/encoding/codec.ts";
import { sha256 } from "../../../protocol/crypto/mod.ts";
import { ProtocolError, type RefusalCode } from "../../../protocol/errors.ts";
import { cosignFields } from "../../../protocol/wire/messages.ts";
import { sealFrame } from "../../../protocol/wire/frame.ts";
import { flipBit } from "../crypto/_helpers.ts";
import { Federation } from "../_federation.ts";
import { finalParts, u8 } from "../_fixtures.ts";
import { forgeSignature, peekSender, reseal } from "../_frames.ts";
import { certificateOf, cleanRound, MODES, scenario, SMALL } from "./_attacks.ts";

// =============================================================================================
// 13. Final certificates, offline.

for (const mode of MODES) {
  Deno.test(`13. offline verification refuses tampered final certificates (${mode.name})`, () =>
    scenario({ ...SMALL, pq: mode.pq }, async (fed) => {
      const final = await cleanRound(fed, 0);
      const next = await cleanRound(fed, 1);
      const roster = fed.roster;
      const t = roster.threshold;
      const body = u8(final.aggregate);
      const { env, cosigns } = certificateOf(fed, final);
      const L = env.sender;
      const [k] = fed.others([L]);
      const { tag: FINAL_TAG, certificate: certFrame } = finalParts(final);
      const wrap = (cert: Uint8Array, list: Uint8Array[], tag = FINAL_TAG) =>
        encode([tag, cert, list]);
      const refuses = async (bytes: Uint8Array, code: RefusalCode, b = body, r = roster) => {
        const err = await assertRejects(() => verifyFinalCertificate(r, bytes, b), ProtocolError);
        assertEquals((err as ProtocolError).code, code, err.message);
        assert(!/[0-9a-f]{16,}/i.test(err.message.replace(/\d{16,}/g, "")), err.message);
      };

      const ok = await verifyFinalCertificate(roster, final.certificate, body);
      assertEquals([...ok.members], [...final.members]);
      assertEquals(ok.leader, fed.leader(0));

      // The aggregate body.
      await refuses(final.certificate, "commitment-mismatch", flipBit(body, 5));
      await refuses(final.certificate, "wrong-length", body.subarray(4));
      // Co-signatures.
      await refuses(wrap(certFrame, cosigns.slice(0, t - 1)), "insufficient-approvals");
      await refuses(wrap(certFrame, [...cosigns.slice(0, t - 1), cosigns[0]]), "equivocation");
      const nextCosigns = certificateOf(fed, next).cosigns;
      await refuses(
        wrap(certFrame, [...cosigns.slice(0, t - 1), nextCosigns.at(-1)!]),
        "wrong-session",
      );
      const sender = peekSender(cosigns.at(-1)!);
      const otherCert = await sealFrame(
        "cosign",
        fed.session(0),
        sender,
        cosignFields({ certificateHash: new Uint8Array(32).fill(1) }),
        fed.signers[sender],
        roster.mode,
      );
      await refuses(
        wrap(certFrame, [...cosigns.slice(0, t - 1), otherCert]),
        "commitment-mismatch",
      );
      await refuses(
        wrap(certFrame, [...cosigns.slice(0, t - 1), forgeSignature(cosigns.at(-1)!)]),
        "bad-signature",
      );
      const approval = fed.sent("approval", sender).find((w) => w.session.round === 0)?.frame ??
        certificateOf(fed, final).certificate.approvals[0];
      await refuses(wrap(certFrame, [...cosigns.slice(0, t - 1), approval]), "wrong-type");
      // The certificate itself.
      await refuses(wrap(forgeSignature(certFrame), cosigns), "bad-signature");
      const byK = await reseal(certFrame, fed.signers[k], roster.mode, { sender: k, body: null });
      await refuses(wrap(byK, cosigns), "not-leader");
      const fewer = await reseal(certFrame, fed.signers[L], roster.mode, {
        fields: ([u2Hash, u3, approvals, ...rest]) => [
          u2Hash,
          u3,
          (approvals as Uint8Array[]).slice(0, t - 1),
          ...rest,
        ],
        body: null,
      });
      await refuses(wrap(fewer, cosigns), "insufficient-approvals");
      await refuses(wrap(certFrame, cosigns, "fedagg/v1/something-else"), "wrong-type");
      await refuses(encode(["fedagg/v1/final-certificate", certFrame]), "malformed");
      await refuses(sha256(body), "malformed");
      // Another roster (same keys, another federation).
      const other = await Federation.create({ ...SMALL, pq: mode.pq, federation: "sim-other" });
      try {
        await refuses(final.certificate, "wrong-session", body, other.roster);
      } finally {
        other.close();
      }
      assert(!equalBytes(other.roster.hash, roster.hash));
    }));
}
