/**
 * Adversarial tests: a lying leader at the unmask request (sections 4–6). An unmask request
 * whose lists contradict each other or the approved U3 (a member both alive and dropped, an alive
 * list that is not U3, a dropped list that is not U2 \ U3) must be refused as `inconsistent-lists`,
 * saying which check refused; a leader showing different U3 to different members gets approvals
 * that differ, and its requests are refused as `inconsistent-lists` or `insufficient-approvals`; a
 * request with fewer than t valid, distinct approvals is `insufficient-approvals`. A member that
 * refuses reveals no share; the round then completes in view 1 without the lying leader (or, for
 * the split U3, with the U3 of the consistent majority).
 *
 * As everywhere in this folder (see `_attacks.ts`), no attack may make an endpoint throw or
 * leak secret material into event text.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import type { Value } from "../../../protocol/encoding/codec.ts";
import type { RefusalCode } from "../../../protocol/errors.ts";
import {
  approvalFields,
  readApproval,
  unmaskRequestFields,
} from "../../../protocol/wire/messages.ts";
import { openFrame, sealFrame } from "../../../protocol/wire/frame.ts";
import type { Federation } from "../_federation.ts";
import { all, assertRefused } from "../_fixtures.ts";
import { forgeSignature, type Wire, wireOf } from "../_frames.ts";
import {
  assertRevealedNothing,
  MODES,
  refusalTriples,
  resealBy,
  scenario,
  SEVEN,
  SMALL,
} from "./_attacks.ts";

// =============================================================================================
// 4–6. A lying leader at the unmask request.

/** Runs round 0 with the leader's unmask requests to others rewritten by `lie`. */
async function lyingUnmaskRequest(
  fed: Federation,
  lie: (fields: Value[], wire: Wire) => Value[],
): Promise<number> {
  const L = fed.leader(0);
  fed.intercept = async (w) => {
    if (w.from !== L || w.type !== "unmaskRequest") return undefined;
    return [wireOf(L, w.to, await resealBy(fed, L, w.frame, (f) => lie(f, w)))];
  };
  await fed.submitAll(0);
  await fed.run({ until: () => fed.sent("unmaskRequest", L).length > 0 });
  await fed.deliver();
  return L;
}

/** After a refused unmask request: nobody revealed, and the round completes in view 1. */
async function assertRecoversInView1(fed: Federation, L: number): Promise<void> {
  assertRevealedNothing(fed, all(fed, [L]), 0);
  // The liar's own member revealed to itself and is committed to view 0; the rest move on.
  await fed.runToFinal(0, all(fed, [L]));
  const final = await fed.assertExact(0, fed.n - 1);
  assertEquals(final.view, 1);
  assertEquals([...final.members], all(fed, [L]));
  assertRevealedNothing(fed, all(fed, [L]), 0);
}

for (const mode of MODES) {
  Deno.test(
    `4. unmask request listing a member as both alive and dropped → inconsistent-lists; ` +
      `nothing revealed (${mode.name})`,
    () =>
      scenario({ ...SMALL, pq: mode.pq }, async (fed) => {
        const L = await lyingUnmaskRequest(fed, ([alive, dropped, approvals]) => {
          const both = (alive as number[])[1];
          const d = [...(dropped as number[]), both].sort((a, b) => a - b);
          return [alive, d, approvals];
        });
        for (const i of all(fed, [L])) {
          assertEquals(refusalTriples(fed, i), [[i, "inconsistent-lists", L]]);
          assertRefusalSays(fed, i, "as both alive and dropped");
        }
        await assertRecoversInView1(fed, L);
      }),
  );

  Deno.test(
    `4. unmask request whose alive list is not the approved U3 (dropped list intact) → ` +
      `inconsistent-lists; nothing revealed (${mode.name})`,
    () =>
      scenario({ ...SMALL, pq: mode.pq }, async (fed) => {
        const L = fed.leader(0);
        const omitted = fed.others([L]).at(-1)!;
        await lyingUnmaskRequest(fed, ([alive, dropped, approvals]) => [
          (alive as number[]).filter((i) => i !== omitted),
          dropped,
          approvals,
        ]);
        for (const i of all(fed, [L])) {
          assertEquals(refusalTriples(fed, i), [[i, "inconsistent-lists", L]]);
          assertRefusalSays(fed, i, "the alive list differs from the approved U3");
        }
        await assertRecoversInView1(fed, L);
      }),
  );

  Deno.test(
    `4. unmask request whose dropped list is not U2 \\ U3 (alive list intact) → ` +
      `inconsistent-lists; nothing revealed (${mode.name})`,
    () =>
      scenario({ ...SEVEN, pq: mode.pq }, async (fed) => {
        const L = fed.leader(0);
        // d never takes part (it is in no list), and the leader claims it dropped after ShareKeys.
        const d = fed.others([L, fed.leader(1)]).at(-1)!;
        fed.dead.add(d);
        await lyingUnmaskRequest(fed, ([alive, , approvals]) => [alive, [d], approvals]);
        const living = all(fed, [L, d]);
        for (const i of living) {
          assertEquals(refusalTriples(fed, i), [[i, "inconsistent-lists", L]]);
          assertRefusalSays(fed, i, "the dropped list is not U2 \\ U3");
        }
        assertRevealedNothing(fed, living, 0);
        await fed.runToFinal(0, living);
        const final = await fed.assertExact(0, living.length);
        assertEquals(final.view, 1);
        assertEquals([...final.members], living);
        assertRevealedNothing(fed, living, 0);
      }),
  );
}

/** Asserts member `i`'s one refusal says `text`: which check refused, not only its code. */
function assertRefusalSays(fed: Federation, i: number, text: string): void {
  const [refusal] = fed.refusals(i);
  assert(refusal.error.message.includes(text), `${refusal.error.message} says "${text}"`);
}

Deno.test(
  "5. a leader showing different U3 to different members: approvals differ, forwarding " +
    "approvals of U3 to a member that approved U3' → inconsistent-lists / " +
    "insufficient-approvals; nothing revealed",
  () =>
    scenario(SEVEN, async (fed) => {
      const L = fed.leader(0);
      const others = fed.others([L]);
      const groupA = others.slice(0, 4);
      const groupB = others.slice(4);
      const z = groupA[0];
      const u3Prime = all(fed, [z]);
      fed.intercept = async (w) => {
        if (w.from === L && w.type === "consistencyRequest" && groupB.includes(w.to)) {
          const frame = await resealBy(fed, L, w.frame, ([u2]) => [u2, u3Prime]);
          return [wireOf(L, w.to, frame)];
        }
      };
      await fed.submitAll(0);
      await fed.deliver();
      // Every member approved what it was shown: two different U3 hashes.
      const approvalOf = (i: number) =>
        readApproval(openFrame(fed.sent("approval", i)[0].frame, fed.roster));
      const hashA = toHex(approvalOf(groupA[1]).u3Hash);
      const hashB = toHex(approvalOf(groupB[0]).u3Hash);
      assertNotEquals(hashA, hashB);
      for (const a of groupA) assertEquals(toHex(approvalOf(a).u3Hash), hashA);
      for (const b of groupB) assertEquals(toHex(approvalOf(b).u3Hash), hashB);
      // The leader's own state machine refuses the approvals of U3'.
      assertEquals(
        refusalTriples(fed, L),
        groupB.map((b) => [L, "inconsistent-lists", b] as [number, RefusalCode, number]),
      );

      // t approvals of U3: group A's and the leader's own (Ed25519 is deterministic, so this is
      // the very frame the leader's member signed).
      const session = fed.session(0);
      const ownApproval = await sealFrame(
        "approval",
        session,
        L,
        approvalFields(
          readApproval(openFrame(fed.sent("approval", groupA[0])[0].frame, fed.roster)),
        ),
        fed.signers[L],
        fed.roster.mode,
      );
      const approvalsA = [ownApproval, ...groupA.map((a) => fed.sent("approval", a)[0].frame)];
      assertEquals(approvalsA.length, fed.roster.threshold);
      const approvalsB = groupB.map((b) => fed.sent("approval", b)[0].frame);
      const request = (alive: number[], dropped: number[], approvals: Uint8Array[]) =>
        sealFrame(
          "unmaskRequest",
          session,
          L,
          unmaskRequestFields({ alive, dropped, approvals }, fed.roster),
          fed.signers[L],
          fed.roster.mode,
        );
      const [b, b2] = groupB;
      const u3 = all(fed);
      assertRefused(
        await fed.inject(b, await request(u3, [], approvalsA), L),
        "inconsistent-lists",
        L,
      );
      assertRefused(
        await fed.inject(b2, await request(u3Prime, [z], approvalsA), L),
        "insufficient-approvals",
        L,
      );
      // A refused request leaves no trace: b judges the next one on its merits.
      assertRefused(
        await fed.inject(b, await request(u3Prime, [z], approvalsB), L),
        "insufficient-approvals",
        L,
      );
      assertRevealedNothing(fed, groupB);
      // The consistent majority still completes the round with U3.
      await fed.runToFinal(0);
      const final = await fed.assertExact(0, fed.n);
      assertEquals([...final.members], u3);
      assertRevealedNothing(fed, groupB);
    }),
);

const TOO_FEW: [string, (approvals: Uint8Array[], t: number) => Uint8Array[]][] = [
  ["t − 1 approvals", (a, t) => a.slice(0, t - 1)],
  ["one member's approval repeated t times", (a, t) => Array(t).fill(a[0])],
  [
    "t − 1 genuine approvals plus forged ones",
    (a, t) => a.map((f, i) => (i < t - 1 ? f : forgeSignature(f))),
  ],
  ["t − 1 approvals padded with duplicates", (a, t) => [...a.slice(0, t - 1), a[0], a[1]]],
];

for (const [what, cut] of TOO_FEW) {
  Deno.test(`6. unmask request with ${what} → insufficient-approvals; nothing revealed`, () =>
    scenario(SMALL, async (fed) => {
      const L = await lyingUnmaskRequest(fed, ([alive, dropped, approvals]) => [
        alive,
        dropped,
        cut(approvals as Uint8Array[], fed.roster.threshold),
      ]);
      for (const i of all(fed, [L])) {
        assertEquals(refusalTriples(fed, i), [[i, "insufficient-approvals", L]]);
      }
      await assertRecoversInView1(fed, L);
    }));
}
