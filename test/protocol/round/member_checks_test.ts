/**
 * A member's checks of the leader's ShareDelivery and ConsistencyRequest lists
 * (protocol/round/member_checks.ts), rule by rule: each case breaks exactly one rule and must be
 * refused as `inconsistent-lists` with that rule's detail, naming the leader; the genuine lists
 * pass. (The key list and the unmask request are checked on whole rounds by the adversary
 * suite; `deno task mutate --filter member_checks.ts` disables each rule.)
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { ProtocolError } from "../../../protocol/errors.ts";
import { sessionOf } from "../../../protocol/federation/session.ts";
import { completeGraph } from "../../../protocol/graph/graphs.ts";
import {
  checkConsistencyRequest,
  checkDelivery,
  type MemberView,
} from "../../../protocol/round/member_checks.ts";
import type { ShareEntry } from "../../../protocol/wire/share_entry.ts";
import { federation } from "../_fixtures.ts";

/** Seven members (t = 5); this member is 2, the leader 0. */
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
