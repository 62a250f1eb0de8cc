/**
 * A member's checks of the leader's ShareDelivery and ConsistencyRequest lists
 * (protocol/round/member_checks.ts), rule by rule: each case breaks exactly one rule and must be
 * refused as `inconsistent-lists` with that rule's detail, naming the leader; the genuine lists
 * pass. (The key list and the unmask request are checked on whole rounds by the adversary
 * suite; `deno task mutate --filter member_checks.ts` disables each rule.)
 *
 * @module
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { ProtocolError, type RefusalCode } from "../../../protocol/errors.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { completeGraph } from "../../../protocol/graph/graphs.ts";
import { sessionGraph } from "../../../protocol/graph/session_graph.ts";
import {
  checkConsistencyRequest,
  checkDelivery,
  checkKeyList,
  type MemberView,
} from "../../../protocol/round/member_checks.ts";
import { advertiseKeysFields } from "../../../protocol/wire/messages.ts";
import { openFrame, sealFrame } from "../../../protocol/wire/frame.ts";
import { RoundKeys } from "../../../protocol/round/keys.ts";
import { type Session, sessionHash } from "../../../protocol/federation/session.ts";
import type { ShareEntry } from "../../../protocol/wire/share_entry.ts";
import { federation, genuineAdvert, rngFor } from "../_fixtures.ts";
import { forgeSignature } from "../_frames.ts";

/**
 * Seven members (t = 5); this member is 2, the leader 0. The key-list cases are the member's
 * checks of the adverts it relays: from this session, of the right type, one per member, its own
 * byte-identical, at least t, its neighbours' signatures valid.
 */
const SELF = 2;
const LEADER = 0;

async function memberView(): Promise<MemberView> {
  const { roster } = await federation({ n: 7, seed: "member-checks" });
  assertEquals(roster.threshold, 5);
  return {
    roster,
    self: SELF,
    session: sessionOf(roster, 0, 0),
    graph: completeGraph(7),
    advertFrame: new Uint8Array(0),
  };
}

function refused(fn: () => void, says: string): void {
  const e = assertThrows(fn, ProtocolError) as ProtocolError;
  assertEquals([e.code, e.peer], ["inconsistent-lists", LEADER], e.message);
  assert(e.message.includes(says), `"${e.message}" says "${says}"`);
}

const entry = (peer: number): ShareEntry => ({
  peer,
  sealed: new Uint8Array(0),
  shareKemCt: new Uint8Array(0),
  maskKemCt: new Uint8Array(0),
  wrap: new Uint8Array(0),
  leaf: 0,
  path: [],
  signature: new Uint8Array(0),
});

Deno.test("member checks: the delivery's U2 and entries, rule by rule", async () => {
  const view = await memberView();
  const u1 = [0, 1, 2, 3, 4, 5];
  const delivery = (u2: number[], from = u2.filter((u) => u !== SELF)) => ({
    u2,
    entries: from.map(entry),
  });
  checkDelivery(view, delivery([0, 1, 2, 3, 4]), u1, LEADER);
  // Member 6 is not in U1.
  refused(
    () => checkDelivery(view, delivery([0, 1, 2, 3, 6]), u1, LEADER),
    "U2 is not a subset of U1",
  );
  refused(
    () => checkDelivery(view, delivery([0, 1, 3, 4, 5]), u1, LEADER),
    "U2 omits this member",
  );
  refused(() => checkDelivery(view, delivery([0, 1, 2, 3]), u1, LEADER), "|U2| = 4 < t = 5");
  const ENTRIES = "the delivery does not hold exactly one share pair from each neighbour in U2";
  for (const from of [[0, 1, 3], [0, 1, 3, 4, 5], [0, 1, 3, 3, 4], [0, 1, 3, 5]]) {
    refused(() => checkDelivery(view, delivery([0, 1, 2, 3, 4], from), u1, LEADER), ENTRIES);
  }
});

Deno.test("member checks: the consistency request's U2 and U3, rule by rule", async () => {
  const view = await memberView();
  const u2 = [0, 1, 2, 3, 4, 5];
  checkConsistencyRequest(view, { u2, u3: [0, 1, 2, 3, 4] }, u2, LEADER);
  refused(
    () => checkConsistencyRequest(view, { u2: [0, 1, 2, 3, 4], u3: [0, 1, 2, 3, 4] }, u2, LEADER),
    "U2 differs from the one delivered",
  );
  // U3 ⊄ U2 with the request's U2 and the delivered one agreeing on it.
  refused(
    () => checkConsistencyRequest(view, { u2, u3: [0, 1, 2, 3, 6] }, u2, LEADER),
    "U3 is not a subset of U2",
  );
  refused(
    () => checkConsistencyRequest(view, { u2, u3: [0, 1, 3, 4, 5] }, u2, LEADER),
    "U3 omits this member",
  );
  refused(
    () => checkConsistencyRequest(view, { u2, u3: [0, 1, 2, 3] }, u2, LEADER),
    "|U3| = 4 < t = 5",
  );
});

Deno.test("member checks: the key list, rule by rule", async () => {
  const fed = await federation({ n: 7, seed: "member-checks" });
  const { roster, signers } = fed;
  const session = sessionOf(roster, 0, 0);
  const adverts = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((i) => genuineAdvert(fed, i, 0, 0)));
  const view: MemberView = {
    roster,
    self: SELF,
    session,
    graph: completeGraph(7),
    advertFrame: adverts[SELF],
  };
  const keyList = async (frames: Uint8Array[]) =>
    openFrame(
      await sealFrame("keyList", session, LEADER, [frames], signers[LEADER], roster.mode),
      roster,
    );
  /** Member `i`'s other advert of `s`: fresh keys, validly signed. */
  const otherAdvert = async (i: number, s: Session = session) => {
    const keys = await RoundKeys.generate(
      roster.mode,
      sessionHash(s),
      i,
      rngFor("member-checks", "other-advert", i),
    );
    return await sealFrame(
      "advertiseKeys",
      s,
      i,
      advertiseKeysFields(keys.advertise),
      signers[i],
      roster.mode,
    );
  };
  const refusedList = async (frames: Uint8Array[], code: RefusalCode, says: string) => {
    const env = await keyList(frames);
    const e = await assertRejects(() => checkKeyList(view, env), ProtocolError) as ProtocolError;
    assertEquals([e.code, e.peer], [code, LEADER], e.message);
    assert(e.message.includes(says), `"${e.message}" says "${says}"`);
  };

  const { u1, keys } = await checkKeyList(view, await keyList(adverts));
  assertEquals([...u1], [0, 1, 2, 3, 4, 5, 6]);
  assertEquals([...keys.keys()], [0, 1, 2, 3, 4, 5, 6]);
  await checkKeyList(view, await keyList(adverts.slice(0, 5)));
  // Entries: another session's advert, another message in an advert's place, a member twice.
  await refusedList(
    [...adverts.slice(0, 6), await otherAdvert(6, sessionOf(roster, 0, 1))],
    "wrong-session",
    "key list entry claiming member 6",
  );
  const keyListFrame = await sealFrame(
    "keyList",
    session,
    6,
    [[]],
    signers[6],
    roster.mode,
  );
  await refusedList([...adverts.slice(0, 6), keyListFrame], "wrong-type", "key list entry");
  await refusedList(
    [...adverts.slice(0, 6), await otherAdvert(5)],
    "equivocation",
    "repeats member 5",
  );
  // This member's own advert missing, or another one in its place.
  const OWN = "the key list omits or alters this member's own keys";
  await refusedList(adverts.filter((_, i) => i !== SELF), "inconsistent-lists", OWN);
  const replaced = [...adverts];
  replaced[SELF] = await otherAdvert(SELF);
  await refusedList(replaced, "inconsistent-lists", OWN);
  // Fewer than t adverts.
  await refusedList(
    adverts.slice(0, 4),
    "inconsistent-lists",
    "key list has 4 members, threshold 5",
  );
  // A neighbour's advert with a forged signature.
  const forged = [...adverts];
  forged[4] = forgeSignature(adverts[4]);
  await refusedList(forged, "bad-signature", "forged advertisement of member 4");
});

Deno.test("member checks: a sparse key list, rule by rule", async () => {
  const fed = await federation({
    n: 9,
    seed: "member-checks-sparse",
    graph: { kind: "harary", degree: 4, threshold: 3 },
    threshold: 5,
  });
  const { roster, signers } = fed;
  const session = sessionOf(roster, 0, 0);
  const graph = sessionGraph(roster, session);
  const all = [...Array(9).keys()];
  const adverts = await Promise.all(all.map((i) => genuineAdvert(fed, i, 0, 0)));
  const view: MemberView = { roster, self: SELF, session, graph, advertFrame: adverts[SELF] };
  const closed = [SELF, ...graph.neighbours(SELF)].sort((a, b) => a - b);
  const stranger = all.find((u) => !closed.includes(u))!;
  const keyList = async (u1: number[], members: number[]) =>
    openFrame(
      await sealFrame(
        "keyList",
        session,
        LEADER,
        [u1, members.map((i) => adverts[i])],
        signers[LEADER],
        roster.mode,
      ),
      roster,
    );
  const refused = async (u1: number[], members: number[], code: RefusalCode, says: string) => {
    const env = await keyList(u1, members);
    const e = await assertRejects(() => checkKeyList(view, env), ProtocolError) as ProtocolError;
    assertEquals([e.code, e.peer], [code, LEADER], e.message);
    assert(e.message.includes(says), `"${e.message}" says "${says}"`);
  };

  // Exactly the closed neighbourhood's adverts: U1 is the list's own field, the keys its part.
  const { u1, keys } = await checkKeyList(view, await keyList(all, closed));
  assertEquals([...u1], all);
  assertEquals([...keys.keys()].sort((a, b) => a - b), closed);
  // A neighbour outside U1 brings no advert, and none is expected.
  const outside = closed.find((u) => u !== SELF)!;
  const smaller = all.filter((u) => u !== outside);
  const checked = await checkKeyList(
    view,
    await keyList(smaller, closed.filter((u) => u !== outside)),
  );
  assertEquals([...checked.u1], smaller);
  // A non-neighbour's advert, a neighbour in U1 without one, this member's own missing.
  await refused(
    all,
    [...closed, stranger],
    "inconsistent-lists",
    `member ${stranger}, not a neighbour`,
  );
  await refused(smaller, closed, "inconsistent-lists", `member ${outside}, not a neighbour in U1`);
  await refused(
    all,
    closed.filter((u) => u !== outside),
    "inconsistent-lists",
    `names member ${outside} in U1 without its advert`,
  );
  await refused(
    all,
    closed.filter((u) => u !== SELF),
    "inconsistent-lists",
    "omits or alters this member's own keys",
  );
  // U1 below t.
  const few = closed.filter((u) => u !== outside);
  await refused(few, few, "inconsistent-lists", `key list has ${few.length} members, threshold 5`);
  // U1 not a canonical member set.
  await refused([...all].reverse(), closed, "malformed", "U1");
});
