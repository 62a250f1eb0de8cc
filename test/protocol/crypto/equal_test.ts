/** Constant-time comparison (protocol/crypto/equal.ts): results only, no timing assertions. */
import { constantTimeEqual } from "../../../protocol/crypto/equal.ts";
import { assertEquals } from "../../_assert.ts";
import { flipBit, testBytes } from "./_helpers.ts";

Deno.test("constantTimeEqual: equal contents are equal", () => {
  assertEquals(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)), true);
  for (const n of [1, 16, 32, 1000]) {
    const a = testBytes(`equal/${n}`, n);
    assertEquals(constantTimeEqual(a, new Uint8Array(a)), true, `${n} bytes`);
    assertEquals(constantTimeEqual(a, a), true, "same array");
  }
});

Deno.test("constantTimeEqual: any single differing bit makes them unequal", () => {
  const a = testBytes("equal/bits", 32);
  for (let bit = 0; bit < 256; bit++) {
    assertEquals(constantTimeEqual(a, flipBit(a, bit)), false, `bit ${bit}`);
  }
  assertEquals(constantTimeEqual(new Uint8Array(32), new Uint8Array(32).fill(0xff)), false);
});

Deno.test("constantTimeEqual: different lengths are unequal, never an exception", () => {
  const a = testBytes("equal/lengths", 33);
  assertEquals(constantTimeEqual(a.subarray(0, 32), a), false);
  assertEquals(constantTimeEqual(a, a.subarray(0, 32)), false);
  assertEquals(constantTimeEqual(new Uint8Array(0), new Uint8Array(1)), false);
  // A prefix of the other, and zero padding, are still different lengths.
  const padded = new Uint8Array(34);
  padded.set(a);
  assertEquals(constantTimeEqual(a, padded), false);
});

Deno.test("constantTimeEqual: compares views by their contents, not their buffers", () => {
  const backing = testBytes("equal/views", 64);
  const copy = new Uint8Array(backing.subarray(10, 42));
  assertEquals(constantTimeEqual(backing.subarray(10, 42), copy), true);
  assertEquals(constantTimeEqual(backing.subarray(10, 42), backing.subarray(11, 43)), false);
  const same = new Uint8Array(64);
  same.set(backing.subarray(0, 32), 32);
  assertEquals(constantTimeEqual(same.subarray(32), backing.subarray(0, 32)), true);
});
