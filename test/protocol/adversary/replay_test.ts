/**
 * Adversarial tests: replays from another round, view, federation or message type (section 2).
 * A signed frame relayed verbatim into another session must be refused as `wrong-session` (blamed
 * on the leader that relayed it, not on its innocent signer), one whose session fields were
 * rewritten as `bad-signature`, one into a finished session as `wrong-stage`, old approvals as
 * `insufficient-approvals`, and a frame of another type as `wrong-type`. A member that refused a key
 * list takes no part, and the round completes exactly without it (in view 1 when the view-0
 * leader is gone).
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { Federation } from "../_federation.ts";
import { all, assertRefused, refusalsIn } from "../_fixtures.ts";
import { peekSender, rewritePayload, type Wire, wireOf } from "../_frames.ts";
import {
  cleanRound,
  refusalTriples,
  resealBy,
  scenario,
  SEVEN,
  SMALL,
  swapAdvert,
} from "./_attacks.ts";

/**
 * If `w` is the key list `leader` sends to `to`: that list with `member`'s advert replaced by
 * `replacement`, re-signed by the leader. Otherwise undefined: the wire passes.
 */
async function keyListWith(
  fed: Federation,
  w: Wire,
  leader: number,
  to: number,
  member: number,
  replacement: Uint8Array,
): Promise<Wire[] | undefined> {
  if (w.from !== leader || w.to !== to || w.type !== "keyList") return undefined;
  return [wireOf(leader, to, await swapAdvert(fed, w.frame, leader, member, replacement))];
}

// =============================================================================================
// 2. Replays from another round, view, federation or message type.

Deno.test(
  "2. replay from another round: relayed advert → wrong-session, rewritten round → " +
    "bad-signature, finished session → wrong-stage, old approvals → insufficient-approvals",
  () =>
    scenario(SEVEN, async (fed) => {
      await cleanRound(fed, 0);
      const L0 = fed.leader(0);
      const L1 = fed.leader(1);
      const m = fed.others([L0, L1])[0];
      // x and y stay clear of L0, which receives the verbatim replay below.
      const x = fed.others([L0, L1, m]).at(-1)!;
      const y = fed.others([L0, L1, m, x]).at(-1)!;
      const oldAdvert = fed.sent("advertiseKeys", m)[0].frame;
      const oldApprovals = fed.emitted.filter((w) => w.type === "approval" && w.session.round === 0)
        .map((w) => w.frame);
      const before = fed.log.length;

      // A verbatim replay into the finished round-0 session.
      assertRefused(await fed.inject(L0, oldAdvert, m), "wrong-stage", m);

      // Round 1: the leader relays m's round-0 advert to x; replays round-0 approvals to y.
      fed.hold = (w) => w.type === "advertiseKeys";
      fed.intercept = async (w) => {
        if (w.from === L1 && w.to === y && w.type === "unmaskRequest") {
          const frame = await resealBy(fed, L1, w.frame, ([alive, dropped]) => [
            alive,
            dropped,
            oldApprovals,
          ]);
          return [wireOf(L1, y, frame)];
        }
        return await keyListWith(fed, w, L1, x, m, oldAdvert);
      };
      await fed.submitAll(1);
      // The attacker rewrites the round of m's old advert and keeps the signature.
      const rewritten = rewritePayload(oldAdvert, (f) => {
        f[3] = 1;
        return f;
      });
      assertRefused(await fed.inject(L1, rewritten, m), "bad-signature", m);
      fed.hold = undefined;
      fed.release();
      await fed.runToFinal(1);

      const later = fed.log.slice(before).filter((e) => e.event.type === "refused");
      const at = (member: number) =>
        refusalsIn(later.filter((e) => e.member === member).map((e) => e.event));
      assertEquals(at(x).map((e) => e.code), ["wrong-session"]);
      assertEquals(at(y).map((e) => [e.code, e.peer]), [["insufficient-approvals", L1]]);
      assertEquals(fed.sent("shareKeys", x, 0).filter((w) => w.session.round === 1).length, 0);
      assertEquals(fed.sent("unmask", y).filter((w) => w.session.round === 1).length, 0);
      const final = await fed.assertExact(1, fed.n - 1);
      assert(!final.members.includes(x), "x took no part after refusing the key list");
    }),
);

Deno.test(
  "2. relayed frames are blamed on the relaying leader, not on their innocent signer",
  // The leader signed the list that carries the bad entry: the refusal names the leader.
  () =>
    scenario(SMALL, async (fed) => {
      await cleanRound(fed, 0);
      const L1 = fed.leader(1);
      const m = fed.others([fed.leader(0), L1])[0];
      const x = fed.others([L1, m])[0];
      const oldAdvert = fed.sent("advertiseKeys", m)[0].frame;
      const before = fed.log.length;
      fed.intercept = (w) => keyListWith(fed, w, L1, x, m, oldAdvert);
      await fed.submitAll(1);
      await fed.runToFinal(1);
      const refused = fed.log.slice(before).filter((e) =>
        e.member === x && e.event.type === "refused"
      ).map((e) => e.event);
      assertRefused(refused, "wrong-session", L1);
    }),
);

Deno.test(
  "2. replay from another view: relayed view-0 advert → wrong-session, rewritten view → " +
    "bad-signature; the round completes in view 1",
  () =>
    scenario(SEVEN, async (fed) => {
      const L0 = fed.leader(0, 0);
      const L1 = fed.leader(0, 1);
      const m = fed.others([L0, L1])[0];
      const x = fed.others([L0, L1, m])[0];
      fed.dead.add(L0); // view 0 has no leader: everyone moves to view 1
      fed.hold = (w) => w.type === "advertiseKeys" && w.session.view === 1;
      await fed.submitAll(0);
      await fed.run({ until: () => fed.held.length === fed.n - 2 });
      const view0Advert = fed.sent("advertiseKeys", m, 0)[0].frame;
      const rewritten = rewritePayload(view0Advert, (f) => {
        f[4] = 1;
        return f;
      });
      assertRefused(await fed.inject(L1, rewritten, m), "bad-signature", m);
      fed.intercept = (w) => keyListWith(fed, w, L1, x, m, view0Advert);
      fed.hold = undefined;
      fed.release();
      await fed.runToFinal(0, all(fed, [L0]));
      for (const i of all(fed, [L0])) {
        assert(
          fed.eventsOf(i).some((e) => e.type === "view-change" && e.from === 0 && e.to === 1),
          `member ${i} changed view`,
        );
      }
      assertEquals(
        refusalTriples(fed).filter(([member]) => member === x).map(([, code]) => code),
        ["wrong-session"],
      );
      assertEquals(fed.sent("shareKeys", x, 1).length, 0);
      const final = await fed.assertExact(0, fed.n - 1);
      assertEquals(final.view, 1);
      assertEquals([...final.members], all(fed, [L0, x]));
    }),
);

Deno.test(
  "2. replay from another federation with the same keys: direct → wrong-session, relayed → " +
    "wrong-session, rewritten federation → bad-signature",
  async () => {
    const other = await Federation.create({ ...SMALL, federation: "sim-other" });
    const reparam = await Federation.create({ ...SMALL, threshold: 5 });
    try {
      // The same members (same keys) run a round in two other federations.
      await cleanRound(other, 0);
      await reparam.submitAll(0);
      await scenario(SMALL, async (fed) => {
        assertEquals(
          toHex(fed.roster.members[0].signingKey),
          toHex(other.roster.members[0].signingKey),
        );
        const L = fed.leader(0);
        const m = fed.others([L, other.leader(0), reparam.leader(0)])[0];
        const x = fed.others([L, m])[0];
        const foreign = other.sent("advertiseKeys", m)[0].frame;
        const foreignParams = reparam.sent("advertiseKeys", m)[0].frame;
        fed.hold = (w) => w.type === "advertiseKeys";
        await fed.submitAll(0);
        assertRefused(await fed.inject(L, foreign, m), "wrong-session", m);
        assertRefused(await fed.inject(L, foreignParams, m), "wrong-session", m);
        const rewritten = rewritePayload(foreign, (f) => {
          f[1] = fed.roster.federation;
          f[2] = fed.roster.hash;
          return f;
        });
        assertRefused(await fed.inject(L, rewritten, m), "bad-signature", m);
        fed.intercept = (w) => keyListWith(fed, w, L, x, m, foreign);
        fed.hold = undefined;
        fed.release();
        await fed.runToFinal(0);
        assertEquals(refusalTriples(fed, x).map(([, code]) => code), ["wrong-session"]);
        const final = await fed.assertExact(0, fed.n);
        assertEquals([...final.members], all(fed, [x]));
      });
    } finally {
      other.close();
      reparam.close();
    }
  },
);

Deno.test(
  "2. replay as another message type: an approval as an advert → wrong-type; a masked input " +
    "among approvals → wrong-type (and the rest still counts)",
  () =>
    scenario(SEVEN, async (fed) => {
      await cleanRound(fed, 0);
      const L1 = fed.leader(1);
      const m = fed.others([fed.leader(0), L1])[0];
      const x = fed.others([L1, m])[0];
      const y = fed.others([L1, m, x])[0];
      const approval0 = fed.sent("approval", m).filter((w) => w.session.round === 0)[0].frame;
      const before = fed.log.length;
      fed.intercept = async (w) => {
        if (w.from === L1 && w.to === y && w.type === "unmaskRequest") {
          // One approval swapped for the same member's masked input of this very session.
          const masked = fed.sent("maskedInput", m).find((v) => v.session.round === 1)!.frame;
          const frame = await resealBy(fed, L1, w.frame, ([alive, dropped, approvals]) => [
            alive,
            dropped,
            (approvals as Uint8Array[]).map((a) => (peekSender(a) === m ? masked : a)),
          ]);
          return [wireOf(L1, y, frame)];
        }
        return await keyListWith(fed, w, L1, x, m, approval0);
      };
      await fed.submitAll(1);
      await fed.runToFinal(1);
      const later = fed.log.slice(before);
      const codesAt = (i: number) =>
        refusalsIn(later.filter((e) => e.member === i).map((e) => e.event)).map((e) => e.code);
      assertEquals(codesAt(x), ["wrong-type"]);
      assertEquals(codesAt(y), ["wrong-type"]);
      // y still had t valid approvals, so it revealed.
      assertEquals(fed.sent("unmask", y).filter((w) => w.session.round === 1).length, 1);
      const final = await fed.assertExact(1, fed.n - 1);
      assertEquals([...final.members], all(fed, [x]));
    }),
);
