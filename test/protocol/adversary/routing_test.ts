/**
 * Adversarial tests: messages to or from a member that is not the scheduled leader (section 11).
 * An advert sent to a non-leader, and leader messages signed by a non-leader, must be refused as
 * `not-leader` and cause no sends; adverts for far views flooded at the leader (11b) are refused as
 * `wrong-session` and cannot make it drop its live round. The round completes exactly.
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assertEquals } from "../../_assert.ts";
import type { Value } from "../../../protocol/encoding/codec.ts";
import { certificateFields } from "../../../protocol/wire/messages.ts";
import { type MessageType, sealFrame } from "../../../protocol/wire/frame.ts";
import { MAX_LEADERS, VIEW_WINDOW } from "../../../protocol/round/endpoint.ts";
import { leaderOf } from "../../../protocol/federation/schedule.ts";
import { all, assertRefused } from "../_fixtures.ts";
import { reseal } from "../_frames.ts";
import { scenario, SMALL } from "./_attacks.ts";

// =============================================================================================
// 11. Messages to or from a member that is not the scheduled leader.

Deno.test(
  "11b. a member flooding adverts for far views cannot make the leader drop its round",
  // Each signed advert for a view this member leads used to create a leader instance; eight of
  // them evicted the live leader of view 0 mid-round. Views beyond VIEW_WINDOW are now refused
  // and a leader past its first stage is never evicted.
  () =>
    scenario(SMALL, async (fed) => {
      const L = fed.leader(0);
      const m = fed.others([L])[0];
      fed.hold = (w) => w.type === "shareKeys";
      await fed.submitAll(0);
      await fed.deliver(); // the leader is now collecting shares, mid-round
      assertEquals(fed.endpoints[L].leader(0, 0)!.stage, "share");
      const far = [];
      for (let v = 1; far.length < MAX_LEADERS + 1; v++) {
        if (leaderOf(fed.roster, 0, v) === L && v > VIEW_WINDOW) far.push(v);
      }
      const advert = fed.sent("advertiseKeys", m)[0].frame;
      for (const v of far) {
        const forged = await reseal(advert, fed.signers[m], fed.roster.mode, {
          session: fed.session(0, v),
        });
        assertRefused(await fed.inject(L, forged, m), "wrong-session", m);
      }
      fed.hold = undefined;
      fed.release();
      await fed.runToFinal(0);
      await fed.assertExact(0, fed.n);
    }),
);

Deno.test(
  "11. an advert sent to a non-leader, and leader messages from a non-leader → not-leader",
  () =>
    scenario(SMALL, async (fed) => {
      const L = fed.leader(0);
      const [m, k, x] = fed.others([L]);
      fed.hold = (w) => w.type === "advertiseKeys";
      await fed.submitAll(0);
      const advert = fed.held.find((w) => w.from === m)!.frame;
      assertRefused(await fed.inject(k, advert, m), "not-leader", m);
      const session = fed.session(0);
      const byK = (type: MessageType, fields: Value[], body?: Uint8Array) =>
        sealFrame(type, session, k, fields, fed.signers[k], fed.roster.mode, body);
      const zero = new Uint8Array(32);
      const all5 = all(fed);
      const forged: [MessageType, Uint8Array][] = [
        ["keyList", await byK("keyList", [[advert]])],
        ["shareDelivery", await byK("shareDelivery", [all5, []])],
        ["consistencyRequest", await byK("consistencyRequest", [all5, all5])],
        ["unmaskRequest", await byK("unmaskRequest", [all5, [], []])],
        [
          "certificate",
          await byK(
            "certificate",
            certificateFields({
              u2Hash: zero,
              u3: all5,
              approvals: [],
              aggregateHash: zero,
              totalWeight: fed.n,
            }, fed.roster),
            new Uint8Array(4 * (fed.roster.dim + 1)),
          ),
        ],
      ];
      for (const [type, frame] of forged) {
        assertRefused(await fed.inject(x, frame, k), "not-leader", k);
        assertEquals(
          fed.sent(undefined, x).filter((w) => w.type !== "advertiseKeys").length,
          0,
          type,
        );
      }
      fed.hold = undefined;
      fed.release();
      await fed.runToFinal(0);
      await fed.assertExact(0, fed.n);
    }),
);
