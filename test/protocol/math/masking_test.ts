/**
 * Mask arithmetic (protocol/masking.ts): `addInto` modulo 2^32 and the inline expander against
 * a naive sum of PRG expansions.
 */
import { assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { type MaskTerm, prgExpand } from "../../../protocol/crypto/mod.ts";
import { addInto, inlineExpander } from "../../../protocol/math/masking.ts";
import { rngFor } from "../_fixtures.ts";

function randomWords(label: string, length: number): Uint32Array {
  return new Uint32Array(rngFor("masking", label)(4 * length).buffer.slice(0));
}

/** target + Σ ±PRG(key), one word at a time with BigInt arithmetic. */
function naive(target: Uint32Array, terms: readonly MaskTerm[]): Uint32Array {
  const out = new Uint32Array(target.length);
  const streams = terms.map((t) => prgExpand(t.key, target.length));
  for (let i = 0; i < target.length; i++) {
    let acc = BigInt(target[i]);
    terms.forEach((t, k) => acc += (t.negate ? -1n : 1n) * BigInt(streams[k][i]));
    out[i] = Number(BigInt.asUintN(32, acc));
  }
  return out;
}

function termsFor(label: string, count: number, negate: (i: number) => boolean): MaskTerm[] {
  const rng = rngFor("masking", "keys", label);
  return Array.from({ length: count }, (_, i) => ({ key: rng(32), negate: negate(i) }));
}

Deno.test("masking: addInto adds in place modulo 2^32", () => {
  const sum = new Uint32Array([0xffffffff, 1, 0x80000000, 5, 0]);
  addInto(sum, new Uint32Array([1, 0xffffffff, 0x80000000, 7, 0xffffffff]));
  assertEquals([...sum], [0, 0, 0, 12, 0xffffffff]);
  const a = randomWords("a", 1000);
  const b = randomWords("b", 1000);
  const expected = a.map((x, i) => Number(BigInt.asUintN(32, BigInt(x) + BigInt(b[i]))));
  addInto(a, b);
  assertEquals([...a], [...expected]);
  const empty = new Uint32Array(0);
  addInto(empty, new Uint32Array(0));
});

Deno.test("masking: addInto refuses vectors of different lengths", () => {
  const sum = new Uint32Array(4);
  assertThrows(() => addInto(sum, new Uint32Array(3)), RangeError);
  assertThrows(() => addInto(sum, new Uint32Array(5)), RangeError);
  assertEquals([...sum], [0, 0, 0, 0]);
});

Deno.test("masking: inlineExpander equals the naive sum of PRG expansions", async () => {
  const lengths = [1, 2, 15, 16, 17, 31, 32, 33, 100, 1000, 16385];
  const counts = [0, 1, 2, 3, 4, 5, 8, 9];
  for (const length of lengths) {
    for (const count of counts) {
      const label = `${length}/${count}`;
      const terms = termsFor(label, count, (i) => i % 3 === 1);
      const target = randomWords(label, length);
      const expected = naive(target, terms);
      await inlineExpander.apply(target, terms);
      assertEquals(target, expected, label);
    }
  }
});

Deno.test("masking: terms with opposite signs cancel, in any order", async () => {
  const [k1, k2, k3] = termsFor("cancel", 3, () => false).map((t) => t.key);
  const original = randomWords("cancel", 777);
  const v = original.slice();
  await inlineExpander.apply(v, [
    { key: k1, negate: false },
    { key: k2, negate: true },
    { key: k3, negate: false },
    { key: k2, negate: false },
    { key: k1, negate: true },
  ]);
  await inlineExpander.apply(v, [{ key: k3, negate: true }]);
  assertEquals(v, original);
});

Deno.test("masking: masks applied in parts add up to masks applied at once", async () => {
  const terms = termsFor("parts", 6, (i) => i >= 4);
  const once = randomWords("parts", 500);
  const parts = once.slice();
  await inlineExpander.apply(once, terms);
  for (const t of terms) await inlineExpander.apply(parts, [t]);
  assertEquals(parts, once);
});

Deno.test("masking: inlineExpander refuses keys that are not 32 bytes", async () => {
  const v = new Uint32Array(8);
  for (const length of [0, 31, 33]) {
    await assertRejects(
      () => inlineExpander.apply(v, [{ key: new Uint8Array(length), negate: false }]),
      RangeError,
    );
  }
  assertEquals(v, new Uint32Array(8), "the target is left untouched");
});
