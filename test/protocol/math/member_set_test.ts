/**
 * Member sets (protocol/member_set.ts): the canonical form, the set operations the stages use,
 * and the hash approvals sign.
 */
import { assert, assertEquals, assertNotEquals } from "../../_assert.ts";
import { toHex, u64be } from "../../../protocol/encoding/bytes.ts";
import { HASH, taggedHash } from "../../../protocol/crypto/mod.ts";
import {
  difference,
  intersection,
  isSubset,
  memberSetHash,
  sameMembers,
  toMemberSet,
} from "../../../protocol/math/member_set.ts";
import { rngFor } from "../_fixtures.ts";

Deno.test("member set: toMemberSet sorts numerically and removes duplicates", () => {
  assertEquals(toMemberSet([10, 2, 1, 2, 100, 0, 10]), [0, 1, 2, 10, 100]);
  assertEquals(toMemberSet([]), []);
  assertEquals(toMemberSet(new Set([3, 1])), [1, 3]);
  assertEquals(toMemberSet(new Map([[5, "x"], [4, "y"]]).keys()), [4, 5]);
  assertEquals(toMemberSet([65534, 9, 65535]), [9, 65534, 65535]);
});

Deno.test("member set: subset, difference, intersection, equality", () => {
  const a = [1, 3, 5, 7];
  const b = [0, 1, 2, 3, 4, 5, 6, 7];
  assert(isSubset(a, b));
  assert(!isSubset(b, a));
  assert(isSubset([], a));
  assert(isSubset([], []));
  assert(isSubset(a, a));
  assert(!isSubset([8], b));
  assertEquals(difference(b, a), [0, 2, 4, 6]);
  assertEquals(difference(a, b), []);
  assertEquals(difference(a, []), a);
  assertEquals(intersection(b, a), a);
  assertEquals(intersection(a, [0, 3, 7, 9]), [3, 7]);
  assertEquals(intersection(a, []), []);
  assert(sameMembers(a, [1, 3, 5, 7]));
  assert(sameMembers([], []));
  assert(!sameMembers(a, [1, 3, 5]));
  assert(!sameMembers(a, [1, 3, 5, 8]));
  assert(!sameMembers([1, 3, 5], a));
  // difference and intersection partition a set.
  const rng = rngFor("member-set");
  for (let k = 0; k < 50; k++) {
    const bytes = rng(40);
    const x = toMemberSet([...bytes.subarray(0, 20)].map((v) => v % 32));
    const y = toMemberSet([...bytes.subarray(20)].map((v) => v % 32));
    assertEquals(toMemberSet([...difference(x, y), ...intersection(x, y)]), x);
    assertEquals(intersection(difference(x, y), y), []);
    assert(isSubset(intersection(x, y), y));
  }
});

Deno.test("member set: the hash depends on the session and on the exact set", () => {
  const s1 = rngFor("member-set", "session")(32);
  const s2 = rngFor("member-set", "session2")(32);
  assertEquals(toHex(memberSetHash(s1, [1, 2])), toHex(memberSetHash(new Uint8Array(s1), [1, 2])));
  assertEquals(memberSetHash(s1, []).length, 32);
  assertNotEquals(toHex(memberSetHash(s1, [1, 2])), toHex(memberSetHash(s2, [1, 2])));
  const sets = [[], [0], [1], [0, 1], [1, 2], [12], [1, 2, 3], [258], [1, 2 ** 32 + 2], [2 ** 40]];
  const hashes = sets.map((s) => toHex(memberSetHash(s1, s)));
  assertEquals(new Set(hashes).size, sets.length, "fixed-width indices: no two sets collide");
});

Deno.test("member sets: memberSetHash is taggedHash of the members as u64be parts", () => {
  const session = new Uint8Array(32).fill(3);
  for (const set of [[], [0], [1, 5, 2 ** 32 + 7], [...Array(300).keys()]]) {
    assertEquals(
      memberSetHash(session, set),
      taggedHash(HASH.memberList, session, ...set.map((i) => u64be(i))),
    );
  }
});
