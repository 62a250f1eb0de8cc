/**
 * The canonical encoding (protocol/codec.ts): round trips of every value kind, the exact bytes
 * of known values (RFC 8949 §4.2.1 preferred serialization), the strict decoder's refusals and
 * the typed refusals of {@link Fields}.
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { fromHex, toHex } from "../../../protocol/encoding/bytes.ts";
import {
  byteStringArray,
  decode,
  encode,
  Fields,
  itemHead,
  itemText,
  type Value,
} from "../../../protocol/encoding/codec.ts";
import { assertThrowsRefusal } from "../_fixtures.ts";
import { encode as cborgEncode } from "npm:cborg@6.1.5";

const LIMIT = 1 << 20;

function nested(depth: number, inner: Value = 1): Value {
  let v: Value = inner;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

Deno.test("codec: every value kind round-trips", () => {
  const values: Value[] = [
    0,
    1,
    23,
    24,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
    "",
    "a",
    "fedagg/v1/msg/advertise-keys",
    "é€😀\u0000",
    "x".repeat(70_000),
    true,
    false,
    null,
    new Uint8Array(0),
    new Uint8Array([0]),
    new Uint8Array(300).map((_, i) => i),
    [],
    [[]],
    [1, "a", new Uint8Array([2]), true, false, null, [3, [4, [new Uint8Array(1)]]]],
    nested(8),
    Array.from({ length: 1000 }, (_, i) => i),
  ];
  for (const v of values) {
    const bytes = encode(v);
    assertEquals(decode(bytes, LIMIT, "value") as Value, v);
    // Encoding is a function of the value: the decoded value encodes to the same bytes.
    assertEquals(toHex(encode(decode(bytes, LIMIT, "value") as Value)), toHex(bytes));
  }
});

Deno.test("codec: decoded byte strings are Uint8Arrays and arrays are plain arrays", () => {
  const v = decode(encode([new Uint8Array([1, 2]), []]), LIMIT, "value") as unknown[];
  assert(Array.isArray(v));
  assert(v[0] instanceof Uint8Array);
  assert(Array.isArray(v[1]));
});

Deno.test("codec: canonical bytes of known values", () => {
  const cases: [Value, string][] = [
    [[1, "a", new Uint8Array([2])], "830161614102"],
    [0, "00"],
    [23, "17"],
    [24, "1818"],
    [255, "18ff"],
    [256, "190100"],
    [65535, "19ffff"],
    [65536, "1a00010000"],
    [2 ** 32 - 1, "1affffffff"],
    [2 ** 32, "1b0000000100000000"],
    [Number.MAX_SAFE_INTEGER, "1b001fffffffffffff"],
    [false, "f4"],
    [true, "f5"],
    [null, "f6"],
    ["", "60"],
    ["IETF", "6449455446"],
    ["ü", "62c3bc"],
    [new Uint8Array(0), "40"],
    [new Uint8Array(24), "5818" + "00".repeat(24)],
    [[], "80"],
    [[[]], "8180"],
    [Array(24).fill(0), "9818" + "00".repeat(24)],
  ];
  for (const [value, hex] of cases) assertEquals(toHex(encode(value)), hex, `encode(${hex})`);
});

Deno.test("codec: encode writes the bytes cborg's encoder writes", () => {
  // The encoder is fedagg's own (one sized buffer); cborg's is the reference, at every head
  // size boundary of lengths and integers, for text, byte strings of both chunking regimes
  // (cborg copies strings under 64 bytes and links longer ones), and nested frames.
  const sizes = [0, 1, 23, 24, 63, 64, 65, 255, 256, 1000, 65535, 65536, 70000];
  const values: Value[] = [
    ...[0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7].map((n) => n),
    Number.MAX_SAFE_INTEGER,
    ...sizes.map((n) => new Uint8Array(n).map((_, i) => i * 7)),
    ...sizes.map((n) => "é".repeat(n >> 1) + "a".repeat(n & 1)),
    ...[0, 23, 24, 255, 256, 65536].map((n) => Array.from({ length: n }, (_, i) => i % 300)),
    [true, false, null, "", new Uint8Array(0), []],
    [
      "fedagg/v1/msg/key-list",
      "f".repeat(64),
      new Uint8Array(32),
      2 ** 47,
      3,
      49,
      Array.from({ length: 50 }, (_, i) => [i, new Uint8Array(3309 + i), new Uint8Array(64)]),
    ],
  ];
  for (const v of values) {
    const expected = toHex(cborgEncode(v));
    assertEquals(toHex(encode(v)), expected, expected.slice(0, 40));
  }
  // Nothing outside the canonical subset: no maps, no undefined, no other typed arrays.
  for (const bad of [undefined, {}, [1, { a: 1 }], new Uint32Array(2), 1n]) {
    assertThrows(() => encode(bad as unknown as Value), TypeError);
  }
});

Deno.test("codec: encode returns a standalone array", () => {
  const bytes = encode([1, 2, 3]);
  assertEquals(bytes.byteOffset, 0);
  assertEquals(bytes.byteLength, bytes.buffer.byteLength);
});

Deno.test("codec: encode refuses numbers that are not non-negative safe integers", () => {
  for (
    const bad of [1.5, -1, -0.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, [1, [2, [0.1]]]]
  ) {
    assertThrows(() => encode(bad as Value), TypeError, "non-negative integers");
  }
  // −0 is an integer ≥ 0 and encodes as 0.
  assertEquals(toHex(encode(-0)), "00");
});

Deno.test("codec: the size limit is checked before any parsing", () => {
  const good = encode([1, 2, 3]);
  assertEquals(decode(good, good.length, "v"), [1, 2, 3]);
  assertThrowsRefusal(() => decode(good, good.length - 1, "v", 7), "oversized", 7);
  // Garbage over the limit is refused as oversized, not malformed: nothing was parsed.
  const e = assertThrowsRefusal(
    () => decode(new Uint8Array(101).fill(0xff), 100, "frame"),
    "oversized",
    null,
  );
  assert(e.message.includes("101 bytes, limit 100"), e.message);
  // Within the limit, the same garbage is malformed.
  assertThrowsRefusal(
    () => decode(new Uint8Array(100).fill(0xff), 100, "frame"),
    "malformed",
    null,
  );
});

Deno.test("codec: refuses everything outside the canonical subset", () => {
  const cases: [string, string][] = [
    ["map", "a10102"],
    ["empty map", "a0"],
    ["half float", "f93c00"],
    ["single float", "fa3f800000"],
    ["double float", "fb3ff0000000000000"],
    ["tag 0 (date)", "c06161"],
    ["tag 2 (bignum)", "c24101"],
    ["self-described tag", "d9d9f7 00".replace(" ", "")],
    ["negative int", "20"],
    ["negative int, 1-byte", "3818"],
    ["negative int inside an array", "820120"],
    ["indefinite array", "9f01ff"],
    ["indefinite bytes", "5f4101ff"],
    ["indefinite text", "7f6161ff"],
    ["indefinite map", "bf0102ff"],
    ["break code alone", "ff"],
    ["non-minimal uint, 1 byte", "1801"],
    ["non-minimal uint, 2 bytes", "190001"],
    ["non-minimal uint, 4 bytes", "1a00000001"],
    ["non-minimal uint, 8 bytes", "1b0000000000000001"],
    ["non-minimal byte-string length", "580100"],
    ["non-minimal text length", "780161"],
    ["non-minimal array length", "980101"],
    ["uint beyond 2^53", "1b0020000000000000"],
    ["undefined", "f7"],
    ["simple value", "f0"],
    ["simple value, 1 byte", "f818"],
    ["reserved minor", "fc"],
    ["trailing bytes", "0101"],
    ["trailing bytes after an array", "820102 00".replace(" ", "")],
    ["empty input", ""],
    ["truncated array", "8201"],
    ["truncated byte string", "4301"],
  ];
  for (const [name, hex] of cases) {
    const e = assertThrowsRefusal(() => decode(fromHex(hex), LIMIT, "frame", 3), "malformed", 3);
    assert(e.message.includes("frame does not decode"), `${name}: ${e.message}`);
  }
});

Deno.test("codec: nesting is capped at 8 levels", () => {
  assertEquals(decode(encode(nested(8)), LIMIT, "v") as Value, nested(8));
  const e = assertThrowsRefusal(() => decode(encode(nested(9)), LIMIT, "v"), "malformed", null);
  assert(e.message.includes("nesting too deep"), e.message);
  // Wide trees at full depth are fine: closed siblings do not add up.
  const wide = [nested(7), nested(7), [nested(6), nested(6)]];
  assertEquals(decode(encode(wide), LIMIT, "v") as Value, wide);
  const after = [nested(6, [1, 2]), 3, nested(7)];
  assertEquals(decode(encode(after), LIMIT, "v") as Value, after);
  // A hostile 100 000-level nesting is refused without exhausting the stack.
  assertThrowsRefusal(
    () => decode(new Uint8Array(100_000).fill(0x81), LIMIT, "v"),
    "malformed",
    null,
  );
});

// cborg decodes text leniently (invalid UTF-8 becomes U+FFFD, so two byte strings would decode
// to one value); the codec checks every text string with a fatal UTF-8 decoder.
Deno.test({
  name: "codec: refuses text strings that are not valid UTF-8",
  fn() {
    for (const hex of ["62c328", "61ff", "63eda080", "63f09080"]) {
      assertThrowsRefusal(() => decode(fromHex(hex), LIMIT, "v"), "malformed", null);
    }
  },
});

Deno.test("Fields: constructor refuses non-arrays and wrong counts, naming the value", () => {
  let e = assertThrowsRefusal(() => new Fields("x", 1, "approval", 4), "malformed", 4);
  assert(e.message.includes("approval is not an array"), e.message);
  e = assertThrowsRefusal(() => new Fields([1, 2], 3, "approval", 4), "malformed", 4);
  assert(e.message.includes("approval has 2 fields, expected 3"), e.message);
  assertThrowsRefusal(() => new Fields([1, 2, 3, 4], 3, "approval"), "malformed", null);
  assertThrowsRefusal(() => new Fields(null, 0, "approval"), "malformed", null);
  new Fields([], 0, "empty");
});

Deno.test("Fields: uint", () => {
  const f = new Fields([0, 5, "5", -1, 1.5, 2 ** 53, null], 7, "msg", 2);
  assertEquals(f.uint(0, "a"), 0);
  assertEquals(f.uint(1, "b", 5), 5);
  const e = assertThrowsRefusal(() => f.uint(1, "round", 4), "malformed", 2);
  assert(e.message.includes("msg field 1 (round) is not an integer in [0, 4]"), e.message);
  for (const i of [2, 3, 4, 5, 6]) {
    assertThrowsRefusal(() => f.uint(i, `field${i}`), "malformed", 2);
  }
});

Deno.test("Fields: text", () => {
  const f = new Fields(["abc", "", 3, new Uint8Array(3)], 4, "msg");
  assertEquals(f.text(0, "tag", 3), "abc");
  assertEquals(f.text(1, "tag", 0), "");
  const e = assertThrowsRefusal(() => f.text(0, "federation", 2), "malformed", null);
  assert(e.message.includes("field 0 (federation) is not a string of at most 2"), e.message);
  assertThrowsRefusal(() => f.text(2, "federation", 64), "malformed", null);
  assertThrowsRefusal(() => f.text(3, "federation", 64), "malformed", null);
});

Deno.test("Fields: bytes refuses non-bytes as malformed and bad lengths as wrong-length", () => {
  const f = new Fields([new Uint8Array(32), new Uint8Array(5), "x", [1], null], 5, "adv", 9);
  assertEquals(f.bytes(0, "key", 32).length, 32);
  assertEquals(f.bytes(1, "body", [0, 5]).length, 5);
  assertEquals(f.bytes(1, "body", [5, 9]).length, 5);
  let e = assertThrowsRefusal(() => f.bytes(0, "share key", 33), "wrong-length", 9);
  assert(e.message.includes("adv field 0 (share key) is 32 bytes, expected 33"), e.message);
  e = assertThrowsRefusal(() => f.bytes(1, "body", [6, 10]), "wrong-length", 9);
  assert(e.message.includes("expected 6..10"), e.message);
  assertThrowsRefusal(() => f.bytes(1, "body", [0, 4]), "wrong-length", 9);
  for (const i of [2, 3, 4]) {
    e = assertThrowsRefusal(() => f.bytes(i, "mask key", 32), "malformed", 9);
    assert(e.message.includes(`field ${i} (mask key) is not a byte string`), e.message);
  }
});

Deno.test("Fields: list", () => {
  const f = new Fields([[1, "x", [2]], [], "x", new Uint8Array(2)], 4, "msg");
  assertEquals(f.list(0, "entries", 3), [1, "x", [2]]);
  assertEquals(f.list(1, "entries", 0), []);
  const e = assertThrowsRefusal(() => f.list(0, "entries", 2), "malformed", null);
  assert(e.message.includes("field 0 (entries) is not an array of at most 2"), e.message);
  assertThrowsRefusal(() => f.list(2, "entries", 9), "malformed", null);
  assertThrowsRefusal(() => f.list(3, "entries", 9), "malformed", null);
});

Deno.test("Fields: members are strictly increasing indices below n", () => {
  const n = 5;
  const ok = new Fields([[], [0], [0, 2, 4], [4]], 4, "req", 1);
  assertEquals(ok.members(0, "U3", n), []);
  assertEquals(ok.members(1, "U3", n), [0]);
  assertEquals(ok.members(2, "U3", n), [0, 2, 4]);
  assertEquals(ok.members(3, "U3", n), [4]);
  const malformed: unknown[] = [
    [1, 1],
    [2, 1],
    [0, -1],
    [0.5],
    ["1"],
    [null],
    [[1]],
    [0, 1, 2, 3, 4, 5].slice(0, 6), // longer than n
    "0,1",
  ];
  for (const v of malformed) {
    const e = assertThrowsRefusal(
      () => new Fields([v], 1, "req", 1).members(0, "U2", n),
      "malformed",
      1,
    );
    assert(e.message.includes("field 0 (U2)"), e.message);
  }
  for (const v of [[5], [0, 5], [1, 2, 1000]]) {
    const e = assertThrowsRefusal(
      () => new Fields([v], 1, "req", 1).members(0, "alive", n),
      "not-member",
      1,
    );
    assert(e.message.includes("field 0 (alive)"), e.message);
  }
});

Deno.test("codec: itemHead and itemText read heads in place, as the encoder writes them", () => {
  // Every head width: 0–23 inline, then 1, 2, 4 and 8 bytes of argument.
  for (const n of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
    const bytes = encode(n);
    assertEquals(itemHead(bytes, 0), { major: 0, value: n, next: bytes.length }, `${n}`);
    const prefixed = encode([7, new Uint8Array(n % 300)]);
    assertEquals(itemHead(prefixed, 1), { major: 0, value: 7, next: 2 });
  }
  assertEquals(itemText(encode(["héllo", 1]), 1), { text: "héllo", next: 8 });
  for (
    const [bad, at] of [
      [new Uint8Array(0), 0],
      [fromHex("9f"), 0], // indefinite length
      [fromHex("1c"), 0], // reserved additional information
      [fromHex("19ff"), 0], // a 2-byte argument cut short
      [fromHex("1b0020000000000000"), 0], // 2^53: beyond the safe integers
      [encode(1), 1], // past the end
    ] as const
  ) {
    assertEquals(itemHead(bad, at), undefined, toHex(bad));
  }
  for (const bad of [encode(1), encode(new Uint8Array(2)), fromHex("62c328"), fromHex("6561")]) {
    assertEquals(itemText(bad, 0), undefined, toHex(bad)); // not text, bad UTF-8, cut short
  }
});

Deno.test("codec: byteStringArray reads what decode reads, as views, or nothing", () => {
  const b = (n: number) => new Uint8Array(n).fill(n % 251);
  for (
    const value of [
      [b(0), b(64), null],
      [b(300), b(64), null, b(70000)],
      [b(23), b(24), b(255), b(256)],
      [b(65535), b(65536), null],
    ] as Value[][]
  ) {
    const bytes = encode(value);
    const got = byteStringArray(bytes, [3, 4], 2)!;
    assertEquals(got, decode(bytes, LIMIT, "test"));
    for (const v of got) if (v !== null) assertEquals(v.buffer, bytes.buffer); // views
  }
  const ok = encode([b(2), b(2), null]);
  for (
    const [why, bad] of [
      ["a count not asked for", encode([b(2), b(2)])],
      ["null where none may be", encode([null, b(2), b(2)])],
      ["another type", encode([b(2), 7, null])],
      ["not an array", encode(b(2))],
      ["trailing bytes", new Uint8Array([...ok, 0])],
      ["cut short", ok.subarray(0, ok.length - 1)],
      ["a length head longer than needed", fromHex("83" + "5802abcd" + "40" + "f6")],
      ["an array head longer than needed", fromHex("9803" + "40" + "40" + "f6")],
      ["an indefinite byte string", fromHex("83" + "5f4100ff" + "40" + "f6")],
      ["an indefinite array", fromHex("9f" + "40" + "40" + "f6" + "ff")],
    ] as const
  ) {
    assertEquals(byteStringArray(bad, [3], 2), undefined, why);
  }
  // The non-canonical heads are exactly what the strict decoder refuses.
  assertThrowsRefusal(
    () => decode(fromHex("83" + "5802abcd" + "40" + "f6"), LIMIT, "t"),
    "malformed",
  );
  assertThrowsRefusal(() => decode(fromHex("9803" + "40" + "40" + "f6"), LIMIT, "t"), "malformed");
});
