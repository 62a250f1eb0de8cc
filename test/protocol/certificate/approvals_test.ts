/**
 * The consistency check's evidence (protocol/certificate/approvals.ts), checked directly: each
 * rule an approval must pass to count — this session, a member of U3, one per member, the same
 * (H(U2), H(U3)), a valid signature — is broken alone by a validly signed (or, for the last,
 * forged) approval, which must be refused with that rule's code and detail, naming the relayer,
 * and must not count towards the threshold: t − 1 genuine approvals plus the bad one are
 * `insufficient-approvals`. Each of these tests fails when its rule is disabled alone
 * (`deno task mutate --filter approvals.ts`).
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { checkApprovals } from "../../../protocol/certificate/approvals.ts";
import { ProtocolError, type RefusalCode } from "../../../protocol/errors.ts";
import { type Session, sessionHash, sessionOf } from "../../../protocol/federation/session.ts";
import { memberSetHash } from "../../../protocol/math/member_set.ts";
import { sealFrame } from "../../../protocol/wire/frame.ts";
import { approvalFields } from "../../../protocol/wire/messages.ts";
import { federation, rngFor } from "../_fixtures.ts";
import { forgeSignature } from "../_frames.ts";

/** Seven members, t = 5; U3 leaves out member 6; member 0 relays (the leader). */
const fed = federation({ n: 7, seed: "approvals" });
const ROUND = 3;
const RELAYER = 0;
const U3 = [0, 1, 2, 3, 4, 5];
const OUTSIDER = 6;
const U2_HASH = rngFor("approvals", "u2-hash")(32);

async function setup() {
  const { roster, signers } = await fed;
  const session = sessionOf(roster, ROUND, 0);
  const u3Hash = memberSetHash(sessionHash(session), U3);
  /** Member `i`'s approval, by default of (U2_HASH, H(U3)) in view 0, validly signed. */
  const approval = (
    i: number,
    over: { session?: Session; u2Hash?: Uint8Array; u3Hash?: Uint8Array } = {},
  ) =>
    sealFrame(
      "approval",
      over.session ?? session,
      i,
      approvalFields({ u2Hash: over.u2Hash ?? U2_HASH, u3Hash: over.u3Hash ?? u3Hash }),
      signers[i],
      roster.mode,
    );
  const genuine = await Promise.all(U3.map((i) => approval(i)));
  const check = (frames: Uint8Array[]) =>
    checkApprovals(roster, session, frames, U3, U2_HASH, RELAYER, new Set());
  return { roster, session, u3Hash, approval, genuine, check };
}

/**
 * Asserts the bad approval `bad` (claiming member `claimed`) is refused with `code` and a detail
 * saying `says`, naming the relayer, and does not count: next to t genuine approvals it is the
 * one refusal; next to t − 1 the set is `insufficient-approvals`.
 */
async function assertDoesNotCount(
  bad: Uint8Array,
  claimed: number,
  code: RefusalCode,
  says: string,
): Promise<void> {
  const { roster, genuine, check } = await setup();
  const t = roster.threshold;
  const others = genuine.filter((_, k) => U3[k] !== claimed);
  const enough = await check([...others.slice(0, t), bad]);
  assertEquals(enough.approvers, U3.filter((i) => i !== claimed).slice(0, t));
  assertEquals(enough.refused.map((e) => [e.code, e.peer]), [[code, RELAYER]]);
  const [refusal] = enough.refused;
  assert(refusal.message.includes(says), `"${refusal.message}" says "${says}"`);
  assert(refusal.message.includes(`claiming member ${claimed}`), refusal.message);
  const e = await assertRejects(() => check([...others.slice(0, t - 1), bad]), ProtocolError);
  assertEquals([(e as ProtocolError).code, (e as ProtocolError).peer], [
    "insufficient-approvals",
    RELAYER,
  ]);
  assert((e as ProtocolError).message.includes(`${t - 1} valid approvals`), e.message);
}

Deno.test("approvals: t genuine approvals of U3 count; nothing is refused", async () => {
  const { roster, genuine, check } = await setup();
  const t = roster.threshold;
  assertEquals(t, 5);
  const checked = await check(genuine.slice(0, t));
  assertEquals(checked.approvers, U3.slice(0, t));
  assertEquals(checked.refused, []);
  const e = await assertRejects(() => check(genuine.slice(0, t - 1)), ProtocolError);
  assertEquals((e as ProtocolError).code, "insufficient-approvals");
});

Deno.test(
  "approvals: a validly signed approval of these very lists by a member outside U3 is refused " +
    "(inconsistent-lists) and does not count",
  async () => {
    const { approval } = await setup();
    await assertDoesNotCount(
      await approval(OUTSIDER),
      OUTSIDER,
      "inconsistent-lists",
      "approval from a member not in U3",
    );
  },
);

Deno.test(
  "approvals: an approval of another session is refused as wrong-session and does not count, " +
    "even one signing this session's list hashes",
  async () => {
    const { roster, approval, u3Hash } = await setup();
    // The hashes are of view 0's lists; only the frame's session differs (view 1, then round + 1).
    for (const other of [sessionOf(roster, ROUND, 1), sessionOf(roster, ROUND + 1, 0)]) {
      await assertDoesNotCount(
        await approval(4, { session: other, u3Hash }),
        4,
        "wrong-session",
        "wrong-session",
      );
    }
  },
);

Deno.test("approvals: a member's second approval is refused (equivocation)", async () => {
  const { roster, approval, genuine, check } = await setup();
  const t = roster.threshold;
  // A second, different approval of member 1 (other U2 hash): the first one counts, not this.
  const second = await approval(1, { u2Hash: rngFor("approvals", "other-u2")(32) });
  const checked = await check([...genuine.slice(0, t), second]);
  assertEquals(checked.approvers, U3.slice(0, t));
  assertEquals(checked.refused.map((e) => [e.code, e.peer]), [["equivocation", RELAYER]]);
  const e = await assertRejects(
    () => check([...genuine.slice(0, t - 1), genuine[0]]),
    ProtocolError,
  );
  assertEquals((e as ProtocolError).code, "insufficient-approvals");
});

Deno.test(
  "approvals: an approval of another U2 or another U3 is refused (inconsistent-lists) and does " +
    "not count",
  async () => {
    const { approval, session } = await setup();
    await assertDoesNotCount(
      await approval(5, { u2Hash: rngFor("approvals", "other-u2")(32) }),
      5,
      "inconsistent-lists",
      "approval signs different survivor lists",
    );
    await assertDoesNotCount(
      await approval(5, { u3Hash: memberSetHash(sessionHash(session), [0, 1, 2, 3, 5]) }),
      5,
      "inconsistent-lists",
      "approval signs different survivor lists",
    );
  },
);

Deno.test("approvals: a forged approval is refused (bad-signature) and does not count", async () => {
  const { genuine } = await setup();
  await assertDoesNotCount(forgeSignature(genuine[5]), 5, "bad-signature", "approval");
});
