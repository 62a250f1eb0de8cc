/**
 * The randomized Hadamard rotation (protocol/dp/rotation.ts): against `scipy.linalg.hadamard`
 * (NumPy computes H·S·x/√D and its inverse independently), orthogonality, norm preservation, the
 * round trip, and the signs as bits of the masking PRG.
 */
import { KDF } from "../../../protocol/crypto/domains.ts";
import { deriveKey } from "../../../protocol/crypto/hkdf.ts";
import { prgExpand } from "../../../protocol/crypto/prg.ts";
import { labelledRng } from "../../../protocol/crypto/random.ts";
import { paddedLength, rotate, rotationSigns, unrotate } from "../../../protocol/dp/rotation.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { Batch, SCIPY } from "./_python.ts";

const key = (label: string) => labelledRng("dp-test", "rotation-key", label)(32);

function randomVector(d: number, label: string): Float64Array {
  const words = new Uint32Array(labelledRng("dp-test", "vector", label)(4 * d).buffer);
  return Float64Array.from(words, (w) => w / 2 ** 31 - 1);
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number) {
  assertEquals(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert(
      Math.abs(actual[i] - expected[i]) <= tol,
      `coordinate ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

const batch = new Batch();
const CASES = [1, 2, 3, 8, 13, 64, 100].map((d) => {
  const x = randomVector(d, `numpy-${d}`);
  const k = key(`numpy-${d}`);
  const signs = Array.from(rotationSigns(k, d));
  const index = batch.add({ op: "hadamard", x: Array.from(x), signs });
  return { d, x, k, index };
});

Deno.test({
  name: "rotate and unrotate match H·S·x/√D and S·H·y/√D computed with scipy.linalg.hadamard",
  ignore: !SCIPY.available,
  fn: async () => {
    for (const { d, x, k, index } of CASES) {
      const r = await batch.result<{ y: number[]; back: number[] }>(index);
      const y = rotate(x, k);
      assertEquals(y.length, paddedLength(d));
      assertClose(y, r.y, 1e-12);
      assertClose(unrotate(y, k, d), r.back, 1e-12);
    }
  },
});

Deno.test("the rotation is orthogonal: rotated basis vectors are orthonormal", () => {
  const d = 16;
  const k = key("orthogonal");
  const rows = Array.from({ length: d }, (_, i) => {
    const e = new Float64Array(d);
    e[i] = 1;
    return rotate(e, k);
  });
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += rows[i][c] * rows[j][c];
      assert(Math.abs(dot - (i === j ? 1 : 0)) < 1e-12, `<R e${i}, R e${j}> = ${dot}`);
    }
    // A basis vector is spread over every coordinate: each is ±1/√D.
    for (const v of rows[i]) assert(Math.abs(Math.abs(v) - 1 / 4) < 1e-15);
  }
});

Deno.test("rotation preserves the L2 norm and round-trips, padded or not", () => {
  for (const d of [1, 5, 1000, 1024, 4097]) {
    const x = randomVector(d, `trip-${d}`);
    const k = key(`trip-${d}`);
    const y = rotate(x, k);
    assertEquals(y.length, paddedLength(d));
    assert(Math.abs(norm(y) - norm(x)) <= 1e-12 * Math.max(1, norm(x)), `d = ${d}: norms`);
    assertClose(unrotate(y, k, d), x, 1e-12);
  }
  // Float32 input is taken as is.
  const f = Float32Array.from([0.5, -1.25, 3]);
  assertClose(unrotate(rotate(f, key("f32")), key("f32"), 3), f, 1e-15);
});

Deno.test("the signs are the PRG bits of a key derived under the rotation's own label", () => {
  const k = key("signs");
  const signs = rotationSigns(k, 4096);
  const bitsOf = (words: Uint32Array) =>
    Int8Array.from({ length: 4096 }, (_, i) => ((words[i >>> 5] >>> (i & 31)) & 1) === 1 ? -1 : 1);
  assertEquals(signs, bitsOf(prgExpand(deriveKey(k, KDF.dpRotation), 128)));
  // Domain separation: not the keystream of the key itself (what a masking PRG keyed by the same
  // bytes would produce), which agrees with the signs on only about half the positions.
  const raw = bitsOf(prgExpand(k, 128));
  const same = signs.filter((s, i) => s === raw[i]).length;
  assert(Math.abs(same - 2048) < 200, `${same} of 4096 signs equal the raw keystream's bits`);
  const negatives = signs.filter((s) => s === -1).length;
  assert(Math.abs(negatives - 2048) < 200, `${negatives} negative signs of 4096`);
  const other = rotationSigns(key("other"), 4096);
  assert(other.some((s, i) => s !== signs[i]), "two keys gave the same signs");
  // A different key gives a different rotation, which the inverse of the first does not undo.
  const x = randomVector(64, "keys");
  const wrong = unrotate(rotate(x, k), key("other"), 64);
  assert(norm(wrong.map((v, i) => v - x[i])) > 0.1);
});

Deno.test("rotation refusals: bad key, wrong length, non-finite values, huge dimensions", () => {
  assertThrows(() => rotate(new Float64Array(4), new Uint8Array(31)), RangeError);
  assertThrows(() => unrotate(new Float64Array(4), key("r"), 5), RangeError);
  assertThrows(() => rotate(Float64Array.from([1, NaN]), key("r")), RangeError);
  assertThrows(() => rotate(Float64Array.from([Infinity]), key("r")), RangeError);
  assertThrows(() => paddedLength(2 ** 30 + 1), RangeError);
  assertEquals([0, 1, 2, 3, 4, 5, 1023, 1025].map(paddedLength), [1, 1, 2, 4, 4, 8, 1024, 2048]);
});
