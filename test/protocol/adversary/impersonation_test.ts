/**
 * Adversarial tests: non-members and spoofed transport peers (section 3). A frame an outsider
 * signed while claiming a roster index must be refused as `bad-signature`; an index beyond the
 * roster, or a genuine frame arriving from a transport peer that is not its signer, as
 * `not-member`. The round completes exactly, in both modes.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assertEquals } from "../../_assert.ts";
import { sha256 } from "../../../protocol/crypto/mod.ts";
import { sealFrame } from "../../../protocol/wire/frame.ts";
import { MemberSigner } from "../../../protocol/federation/signer.ts";
import { assertRefused } from "../_fixtures.ts";
import { fieldsOf } from "../_frames.ts";
import { MODES, refusalTriples, scenario, SMALL } from "./_attacks.ts";

// =============================================================================================
// 3. Non-members and spoofed transport peers.

for (const mode of MODES) {
  Deno.test(
    `3. non-member signer claiming a roster index → bad-signature; index beyond the roster or ` +
      `a transport peer that is not the signer → not-member (${mode.name})`,
    () =>
      scenario({ ...SMALL, pq: mode.pq }, async (fed) => {
        const L = fed.leader(0);
        const [m, k, x] = fed.others([L]);
        const outsider = await MemberSigner.fromSeeds(
          sha256(new TextEncoder().encode("outsider-ed")),
          mode.pq ? sha256(new TextEncoder().encode("outsider-pq")) : undefined,
        );
        fed.hold = (w) => w.type === "advertiseKeys";
        await fed.submitAll(0);
        const genuine = fed.held.find((w) => w.from === m)!.frame;
        const session = fed.session(0);
        const fields = fieldsOf(genuine);
        const mode_ = fed.roster.mode;
        // An outsider signs as member m.
        const spoof = await sealFrame("advertiseKeys", session, m, fields, outsider, mode_);
        assertRefused(await fed.inject(L, spoof, m), "bad-signature", m);
        // An outsider claims index n (not in the roster).
        const beyond = await sealFrame("advertiseKeys", session, fed.n, fields, outsider, mode_);
        assertRefused(await fed.inject(L, beyond, fed.n), "not-member", fed.n);
        assertRefused(await fed.inject(L, beyond, m), "not-member", m);
        // m's genuine advert arriving from another transport peer k.
        assertRefused(await fed.inject(L, genuine, k), "not-member", k);
        // An outsider posing as the leader toward a participant.
        const keyList = await sealFrame("keyList", session, L, [[genuine]], outsider, mode_);
        assertRefused(await fed.inject(x, keyList, L), "bad-signature", L);
        fed.hold = undefined;
        fed.release();
        await fed.runToFinal(0);
        assertEquals(refusalTriples(fed).length, 5);
        await fed.assertExact(0, fed.n);
      }),
  );
}
