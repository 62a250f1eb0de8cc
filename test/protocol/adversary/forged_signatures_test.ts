/**
 * Adversarial tests: forged signatures (section 1). A frame whose Ed25519 signature, or in
 * post-quantum mode either half of the hybrid signature, does not verify (on an advert, a masked
 * input, an approval or an unmask frame, with or without the genuine frame arriving later) must be
 * refused as `bad-signature` naming its sender, and the round must still end with the exact
 * aggregate: without the member when its advert or masked input never arrived genuinely, without
 * its approval when that never did. A forged copy arriving after the genuine frame is
 * `bad-signature` too, not equivocation.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assertEquals } from "../../_assert.ts";
import { hybridSigned } from "../../../protocol/wire/frame.ts";
import { all } from "../_fixtures.ts";
import { forgeSignature, wireOf } from "../_frames.ts";
import { approversOf, MODES, refusalTriples, replaceFirst, scenario, SMALL } from "./_attacks.ts";

// =============================================================================================
// 1. Forged signatures.

const FORGEABLE = ["advertiseKeys", "maskedInput", "approval", "unmask"] as const;

for (const mode of MODES) {
  for (const type of FORGEABLE) {
    // In post-quantum mode adverts and approvals carry the hybrid: forge each half alone.
    const hybrid = hybridSigned({ mode: mode.pq ? "post-quantum" : "classical" }, type);
    const parts = hybrid ? (["ed25519", "mlDsa65"] as const) : (["ed25519"] as const);
    for (const part of parts) {
      for (const genuineLater of [false, true]) {
        Deno.test(
          `1. forged ${part} signature on ${type} (${mode.name}${
            genuineLater ? ", genuine arrives later" : ""
          }) → bad-signature; the round completes exactly`,
          () =>
            scenario({ ...SMALL, pq: mode.pq }, async (fed) => {
              const L = fed.leader(0);
              const m = fed.others([L])[0];
              const forged = replaceFirst(fed, m, type, (w) => {
                const bad = wireOf(m, w.to, forgeSignature(w.frame, part));
                return genuineLater ? [bad, w] : [bad];
              });
              await fed.submitAll(0);
              await fed.runToFinal(0);
              assertEquals(forged(), 1);
              assertEquals(refusalTriples(fed), [[L, "bad-signature", m]]);
              const final = await fed.assertExact(0, fed.n);
              const excluded = !genuineLater &&
                (type === "advertiseKeys" || type === "maskedInput");
              assertEquals([...final.members], all(fed, excluded ? [m] : []));
              const unapproved = !genuineLater && type === "approval";
              assertEquals(approversOf(fed, final), all(fed, excluded || unapproved ? [m] : []));
            }),
        );
      }
    }
  }
}

Deno.test(
  "1. a forged copy arriving after the genuine advert is refused as bad-signature",
  // A differing second copy is equivocation only when validly signed.
  () =>
    scenario(SMALL, async (fed) => {
      const L = fed.leader(0);
      const m = fed.others([L])[0];
      replaceFirst(fed, m, "advertiseKeys", (w) => [w, wireOf(m, w.to, forgeSignature(w.frame))]);
      await fed.submitAll(0);
      await fed.runToFinal(0);
      assertEquals(refusalTriples(fed), [[L, "bad-signature", m]]);
      await fed.assertExact(0, fed.n);
    }),
);
