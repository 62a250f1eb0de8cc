import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { seededRng } from "../../../protocol/crypto/random.ts";
import {
  add,
  div,
  inv,
  mul,
  mulByTable,
  mulTable,
  POLYNOMIAL,
} from "../../../protocol/math/gf65536.ts";

const rng = seededRng(new Uint8Array(32).fill(0x16));

/** `count` uniformly random field elements. */
function randomElements(count: number): Uint16Array {
  const bytes = rng(2 * count);
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) out[i] = bytes[2 * i] | (bytes[2 * i + 1] << 8);
  return out;
}

/** Reference multiply, independent of the module's tables: shift-and-add, then reduce. */
function slowMul(a: number, b: number): number {
  let product = 0;
  for (let i = 0; i < 16; i++) if ((b >>> i) & 1) product ^= a << i;
  for (let bit = 30; bit >= 16; bit--) {
    if ((product >>> bit) & 1) product ^= POLYNOMIAL << (bit - 16);
  }
  return product;
}

const EDGES = [0, 1, 2, 0x8000, 0xfffe, 0xffff];

Deno.test("gf65536: the modulus is x^16 + x^12 + x^3 + x + 1 and is primitive", () => {
  assertEquals(POLYNOMIAL, (1 << 16) | (1 << 12) | (1 << 3) | (1 << 1) | 1);
  // Powers of x (the element 2), computed without the module's tables: all 65535 non-zero
  // elements appear before the sequence returns to 1.
  const seen = new Uint8Array(65536);
  let e = 1;
  for (let k = 0; k < 65535; k++) {
    assert(e !== 0 && seen[e] === 0, `2^${k} = ${e} repeats an earlier power`);
    seen[e] = 1;
    e <<= 1;
    if (e & 0x10000) e ^= POLYNOMIAL;
  }
  assertEquals(e, 1);
  // The module's table multiply walks the same cycle.
  let f = 1;
  for (let k = 0; k < 65535; k++) {
    const next = mul(f, 2);
    assertEquals(next, slowMul(f, 2));
    f = next;
    if (k < 65534) assert(f !== 1, "order of 2 is below 65535");
  }
  assertEquals(f, 1);
});

Deno.test("gf65536: table multiply matches the reference multiply", () => {
  const a = randomElements(20000);
  const b = randomElements(20000);
  for (let i = 0; i < a.length; i++) assertEquals(mul(a[i], b[i]), slowMul(a[i], b[i]));
  for (const x of EDGES) {
    for (const y of EDGES) assertEquals(mul(x, y), slowMul(x, y), `${x}·${y}`);
    for (const y of a.subarray(0, 200)) assertEquals(mul(x, y), slowMul(x, y), `${x}·${y}`);
  }
});

Deno.test("gf65536: field axioms on random samples", () => {
  const [a, b, c] = [randomElements(5000), randomElements(5000), randomElements(5000)];
  for (let i = 0; i < a.length; i++) {
    const [x, y, z] = [a[i], b[i], c[i]];
    assertEquals(add(x, y), add(y, x));
    assertEquals(add(add(x, y), z), add(x, add(y, z)));
    assertEquals(add(x, 0), x);
    assertEquals(add(x, x), 0);
    assertEquals(mul(x, y), mul(y, x));
    assertEquals(mul(mul(x, y), z), mul(x, mul(y, z)));
    assertEquals(mul(x, add(y, z)), add(mul(x, y), mul(x, z)));
    assertEquals(mul(x, 1), x);
    assertEquals(mul(x, 0), 0);
    if (y !== 0) {
      assertEquals(mul(div(x, y), y), x);
      assertEquals(div(x, y), mul(x, inv(y)));
    }
  }
});

Deno.test("gf65536: every non-zero element has its inverse", () => {
  for (let a = 1; a <= 0xffff; a++) {
    const ai = inv(a);
    assert(ai >= 1 && ai <= 0xffff);
    assertEquals(mul(a, ai), 1, `inverse of ${a}`);
  }
  assertEquals(inv(1), 1);
  assertEquals(div(0, 5), 0);
});

Deno.test("gf65536: mulTable holds c·2^i", () => {
  for (const c of [...EDGES, ...randomElements(100)]) {
    const table = mulTable(c);
    assertEquals(table.length, 16);
    for (let i = 0; i < 16; i++) assertEquals(table[i], slowMul(c, 1 << i));
  }
});

Deno.test("gf65536: constant-time multiply equals table multiply", () => {
  const a = randomElements(20000);
  const c = randomElements(20000);
  for (let i = 0; i < a.length; i++) {
    assertEquals(mulByTable(a[i], mulTable(c[i])), mul(a[i], c[i]));
  }
  // Edge values on both sides, and every secret for a few constants.
  for (const constant of [...EDGES, c[0], c[1]]) {
    const table = mulTable(constant);
    for (const x of EDGES) assertEquals(mulByTable(x, table), mul(x, constant));
    for (let x = 0; x <= 0xffff; x++) {
      if (mulByTable(x, table) !== mul(x, constant)) {
        throw new Error(`mulByTable(${x}, table(${constant})) is wrong`);
      }
    }
  }
});

Deno.test("gf65536: refusals", () => {
  assertThrows(() => inv(0), RangeError, "no inverse");
  assertThrows(() => inv(0x10000), RangeError);
  assertThrows(() => div(1, 0), RangeError, "division by zero");
  assertThrows(() => div(-1, 1), RangeError);
  for (const bad of [-1, 0x10000, 1.5, NaN]) assertThrows(() => mulTable(bad), RangeError);
});
