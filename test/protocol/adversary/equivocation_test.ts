/**
 * Adversarial tests: equivocation (section 12). Two different, validly signed adverts, masked
 * inputs or approvals from one member must be refused as `equivocation` (an approval of other
 * lists on its own as `inconsistent-lists`); exact repeats are ignored silently. The round
 * completes exactly, with every member and every approval.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assertEquals } from "../../_assert.ts";
import { HASH, taggedHash } from "../../../protocol/crypto/mod.ts";
import type { ProtocolEvent } from "../../../protocol/round/events.ts";
import type { MessageType } from "../../../protocol/wire/frame.ts";
import { sessionHash } from "../../../protocol/federation/session.ts";
import { flipBit } from "../crypto/_helpers.ts";
import { all, assertRefused, refusalsIn } from "../_fixtures.ts";
import { rawFrame, reseal } from "../_frames.ts";
import { approversOf, refusalTriples, scenario, SMALL } from "./_attacks.ts";

// =============================================================================================
// 12. Equivocation.

Deno.test(
  "12. two different adverts / masked inputs / approvals from one member → equivocation; " +
    "exact repeats are ignored silently",
  () =>
    scenario(SMALL, async (fed) => {
      const L = fed.leader(0);
      const m = fed.others([L])[0];
      const mode = fed.roster.mode;
      const signer = fed.signers[m];
      const hash = sessionHash(fed.session(0));
      const silent = (events: ProtocolEvent[]) => assertEquals(refusalsIn(events), []);
      const own = (type: MessageType) =>
        fed.take((w) => w.from === m && w.type === type, fed.held)[0].frame;

      // Adverts (the leader waits for the others' adverts, held back).
      fed.hold = (w) => w.type === "advertiseKeys";
      await fed.submitAll(0);
      const advert = own("advertiseKeys");
      silent(await fed.inject(L, advert, m));
      const other = await reseal(advert, signer, mode, {
        fields: ([a, b, commitment]) => [a, b, flipBit(commitment as Uint8Array, 3)],
      });
      assertRefused(await fed.inject(L, other, m), "equivocation", m);
      assertEquals(await fed.inject(L, advert, m), []);

      // Masked inputs.
      fed.hold = (w) => w.type === "maskedInput";
      fed.release();
      await fed.deliver();
      const masked = own("maskedInput");
      silent(await fed.inject(L, masked, m));
      const body = flipBit(rawFrame(masked).body!, 9);
      const otherMasked = await reseal(masked, signer, mode, {
        fields: ([u2Hash]) => [u2Hash, taggedHash(HASH.maskedVector, hash, body)],
        body,
      });
      assertRefused(await fed.inject(L, otherMasked, m), "equivocation", m);
      assertEquals(await fed.inject(L, masked, m), []);

      // Approvals: one of other lists is refused on its own; after the genuine one, it is a
      // second, different approval.
      fed.hold = (w) => w.type === "approval";
      fed.release();
      await fed.deliver();
      const approval = own("approval");
      const lying = await reseal(approval, signer, mode, {
        fields: ([u2Hash, u3Hash]) => [u2Hash, flipBit(u3Hash as Uint8Array, 0)],
      });
      assertRefused(await fed.inject(L, lying, m), "inconsistent-lists", m);
      silent(await fed.inject(L, approval, m));
      assertRefused(await fed.inject(L, lying, m), "equivocation", m);
      assertEquals(await fed.inject(L, approval, m), []);

      fed.hold = undefined;
      fed.release();
      await fed.runToFinal(0);
      assertEquals(refusalTriples(fed).length, 4);
      const final = await fed.assertExact(0, fed.n);
      assertEquals([...final.members], all(fed));
      assertEquals(approversOf(fed, final), all(fed));
    }),
);
