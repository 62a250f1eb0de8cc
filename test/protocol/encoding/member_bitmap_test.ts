/**
 * The bitmap form of member sets (protocol/encoding/member_bitmap.ts): hand-worked bytes, round
 * trips at sizes around byte boundaries, and the refusals (length, bits past n, unsorted input).
 */
import { assertEquals, assertThrows } from "../../_assert.ts";
import { fromMemberBitmap, memberBitmap } from "../../../protocol/encoding/member_bitmap.ts";
import { seededRng } from "../../../protocol/crypto/mod.ts";

Deno.test("memberBitmap: hand-worked bytes, least significant bit first", () => {
  assertEquals(memberBitmap([0, 3, 8, 9], 10), new Uint8Array([0b0000_1001, 0b0000_0011]));
  assertEquals(memberBitmap([7], 8), new Uint8Array([0b1000_0000]));
  assertEquals(memberBitmap([], 17), new Uint8Array(3));
  assertEquals(fromMemberBitmap(new Uint8Array([0b0000_1001, 0b0000_0011]), 10), [0, 3, 8, 9]);
});

Deno.test("memberBitmap: round trips random sets of 1 … 1,001 members", () => {
  const rng = seededRng(new Uint8Array(32).fill(3));
  for (const n of [1, 7, 8, 9, 15, 16, 17, 255, 256, 1001]) {
    for (let trial = 0; trial < 5; trial++) {
      const bits = rng(n);
      const set = [...Array(n).keys()].filter((i) => bits[i] < 128 - 30 * trial);
      const bytes = memberBitmap(set, n);
      assertEquals(bytes.length, Math.ceil(n / 8));
      assertEquals(fromMemberBitmap(bytes, n), set);
    }
  }
});

Deno.test("fromMemberBitmap: refuses another length and any bit past n − 1", () => {
  assertEquals(fromMemberBitmap(new Uint8Array(3), 10), undefined);
  assertEquals(fromMemberBitmap(new Uint8Array(1), 10), undefined);
  assertEquals(fromMemberBitmap(new Uint8Array([0, 0b100]), 10), undefined);
  assertEquals(fromMemberBitmap(new Uint8Array([0, 0b10]), 10), [9]);
  assertEquals(fromMemberBitmap(new Uint8Array(0), 0), []);
});

Deno.test("memberBitmap: refuses an unsorted, repeated or out-of-range index", () => {
  assertThrows(() => memberBitmap([2, 1], 4), RangeError);
  assertThrows(() => memberBitmap([1, 1], 4), RangeError);
  assertThrows(() => memberBitmap([4], 4), RangeError);
  assertThrows(() => memberBitmap([0.5], 4), RangeError);
});
