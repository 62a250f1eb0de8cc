/**
 * The update formats (node/tensor_formats/): bytes written by NumPy 2.4 and by the Python
 * `safetensors` 0.8 library (hex fixtures generated once, so the test needs no Python), the
 * encoders' output compared byte for byte with them, round trips of every format and layout
 * (scalars, empty tensors, multi-tensor, d = 0), inputs that are unaligned views, content-type
 * and magic detection, and every refusal with its HTTP status and a message that names the
 * problem.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { fromHex, toHex, utf8 } from "../../protocol/encoding/bytes.ts";
import {
  CONTENT_TYPES,
  DEFAULT_TENSOR_NAME,
  detectFormat,
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  FormatError,
  type FormatErrorCode,
  HEADER_ALLOWANCE,
  maxUpdateBytes,
  type ParsedUpdate,
  parseUpdate,
  type TensorFormat,
  type TensorLayout,
} from "../../node/tensor_formats/mod.ts";

// ---------------------------------------------------------------------------------------------
// Fixtures generated with NumPy 2.4.6 and safetensors 0.8.0 (see each comment for the call).

/** `np.save(np.array([0.5, -1.25, 3, 1e-30, -0.0], dtype='<f4'))` */
const NPY_VEC5 = fromHex(
  "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20" +
    "46616c73652c20277368617065273a2028352c292c207d202020202020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a0000003f" +
    "0000a0bf000040406042a20d00000080",
);
/** `np.save(np.array(1.5, dtype='<f4'))`: shape `()`, no growth spaces */
const NPY_SCALAR = fromHex(
  "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20" +
    "46616c73652c20277368617065273a2028292c207d2020202020202020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a0000c03f",
);
/** `np.save(np.zeros((0,), dtype='<f4'))`: a 128-byte file with no data */
const NPY_EMPTY = fromHex(
  "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20" +
    "46616c73652c20277368617065273a2028302c292c207d202020202020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a",
);
/** `np.save(np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))` */
const NPY_FORTRAN = fromHex(
  "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20" +
    "547275652c20277368617065273a2028322c2033292c207d2020202020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000" +
    "000040400000803f00008040000000400000a040",
);
/** `np.save(np.arange(3, dtype='<f8'))` */
const NPY_F8 = fromHex(
  "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a20" +
    "46616c73652c20277368617065273a2028332c292c207d202020202020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000" +
    "00000000000000000000f03f0000000000000040",
);
/** `np.save(np.arange(3, dtype='>f4'))` */
const NPY_BE = fromHex(
  "934e554d5059010076007b276465736372273a20273e6634272c2027666f727472616e5f6f72646572273a20" +
    "46616c73652c20277368617065273a2028332c292c207d202020202020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000" +
    "3f80000040000000",
);
/** `np.save(np.array([1, np.nan, 2], dtype='<f4'))` */
const NPY_NAN = fromHex(
  "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20" +
    "46616c73652c20277368617065273a2028332c292c207d202020202020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a0000803f" +
    "0000c07f00000040",
);
/** `format.write_array(f, np.arange(4, dtype='<f4').reshape(2, 2), version=(2, 0))` */
const NPY_V2 = fromHex(
  "934e554d50590200740000007b276465736372273a20273c6634272c2027666f727472616e5f6f7264657227" +
    "3a2046616c73652c20277368617065273a2028322c2032292c207d2020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000" +
    "0000803f0000004000004040",
);
/** the same array with `version=(3, 0)` */
const NPY_V3 = fromHex(
  "934e554d50590300740000007b276465736372273a20273c6634272c2027666f727472616e5f6f7264657227" +
    "3a2046616c73652c20277368617065273a2028322c2032292c207d2020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000" +
    "0000803f0000004000004040",
);
/** `np.save(np.arange(6, dtype='<f4').reshape(2, 3))` */
const NPY_ARANGE = fromHex(
  "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a20" +
    "46616c73652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020" +
    "2020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000" +
    "0000803f0000004000004040000080400000a040",
);
/** `safetensors.numpy.save(tensors, metadata={'format': 'np'})` (safetensors 0.8.0) */
const ST_MODEL = fromHex(
  "18010000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a226e70227d2c22626961" +
    "73223a7b226474797065223a22463332222c227368617065223a5b325d2c22646174615f6f66667365747322" +
    "3a5b302c385d7d2c226c617965722e31302e77223a7b226474797065223a22463332222c227368617065223a" +
    "5b315d2c22646174615f6f666673657473223a5b382c31325d7d2c226c617965722e322e77223a7b22647479" +
    "7065223a22463332222c227368617065223a5b312c315d2c22646174615f6f666673657473223a5b31322c31" +
    "365d7d2c22776569676874223a7b226474797065223a22463332222c227368617065223a5b322c335d2c2264" +
    "6174615f6f666673657473223a5b31362c34305d7d7d20200000003f000080be0000e0400000004100000000" +
    "0000803f0000004000004040000080400000a040",
);
/** the same tensors saved without metadata */
const ST_MODEL_PLAIN = fromHex(
  "f8000000000000007b2262696173223a7b226474797065223a22463332222c227368617065223a5b325d2c22" +
    "646174615f6f666673657473223a5b302c385d7d2c226c617965722e31302e77223a7b226474797065223a22" +
    "463332222c227368617065223a5b315d2c22646174615f6f666673657473223a5b382c31325d7d2c226c6179" +
    "65722e322e77223a7b226474797065223a22463332222c227368617065223a5b312c315d2c22646174615f6f" +
    "666673657473223a5b31322c31365d7d2c22776569676874223a7b226474797065223a22463332222c227368" +
    "617065223a5b322c335d2c22646174615f6f666673657473223a5b31362c34305d7d7d200000003f000080be" +
    "0000e04000000041000000000000803f0000004000004040000080400000a040",
);
/** `save({'a': np.zeros(1, np.float32), 'z': np.zeros(1, np.float64)})`: F64 sorts first */
const ST_MIXED = fromHex(
  "70000000000000007b227a223a7b226474797065223a22463634222c227368617065223a5b315d2c22646174" +
    "615f6f666673657473223a5b302c385d7d2c2261223a7b226474797065223a22463332222c22736861706522" +
    "3a5b315d2c22646174615f6f666673657473223a5b382c31325d7d7d20202020000000000000000000000000",
);
/** `save({'s': np.array(2.5, np.float32), 'e': np.zeros((0, 3), np.float32)})` */
const ST_SCALARS = fromHex(
  "70000000000000007b2265223a7b226474797065223a22463332222c227368617065223a5b302c335d2c2264" +
    "6174615f6f666673657473223a5b302c305d7d2c2273223a7b226474797065223a22463332222c2273686170" +
    "65223a5b5d2c22646174615f6f666673657473223a5b302c345d7d7d2020202000002040",
);

// ---------------------------------------------------------------------------------------------
// Helpers

const STATUS: Record<FormatErrorCode, number> = {
  "malformed": 400,
  "truncated": 400,
  "too-large": 413,
  "unsupported-content-type": 415,
  "unsupported-version": 415,
  "unsupported-dtype": 415,
  "unsupported-order": 415,
  "wrong-length": 422,
  "non-finite": 422,
};

/** Asserts a FormatError of `code` (and its status) whose message contains every fragment. */
function refusal(fn: () => unknown, code: FormatErrorCode, ...fragments: string[]): FormatError {
  const e = assertThrows(fn, FormatError) as FormatError;
  assertEquals(e.code, code, e.message);
  assertEquals(e.status, STATUS[code], e.message);
  for (const f of fragments) assert(e.message.includes(f), `"${e.message}" lacks "${f}"`);
  return e;
}

/** Little-endian float32 bytes. */
function f32(...xs: number[]): Uint8Array {
  return encodeRaw(new Float32Array(xs));
}

function cat(...parts: (Uint8Array | string)[]): Uint8Array<ArrayBuffer> {
  const bytes = parts.map((p) => typeof p === "string" ? latin1(p) : p);
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of bytes) {
    out.set(b, offset);
    offset += b.length;
  }
  return out;
}

function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** An .npy file with the given header text, taken verbatim (no padding added), and data. */
function npy(header: string, data: Uint8Array, version = 1): Uint8Array<ArrayBuffer> {
  const h = version === 3 ? utf8(header) : latin1(header);
  const length = new Uint8Array(version === 1 ? 2 : 4);
  if (version === 1) new DataView(length.buffer).setUint16(0, h.length, true);
  else new DataView(length.buffer).setUint32(0, h.length, true);
  return cat("\x93NUMPY", new Uint8Array([version, 0]), length, h, data);
}

/** The usual header dict for `shape` (a Python tuple literal). */
function npyDict(shape: string, descr = "<f4", fortran = "False"): string {
  return `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;
}

/** A safetensors file with the given header JSON (verbatim) and data buffer. */
function st(header: string, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const h = utf8(header);
  const n = new Uint8Array(8);
  new DataView(n.buffer).setUint32(0, h.length, true);
  return cat(n, h, data);
}

function info(shape: number[], begin: number, end: number, dtype = "F32"): string {
  return JSON.stringify({ dtype, shape, data_offsets: [begin, end] });
}

/** `bytes` copied to offset `shift` of a larger buffer: an unaligned view of the same bytes. */
function shifted(bytes: Uint8Array, shift: number): Uint8Array {
  const buffer = new Uint8Array(bytes.length + shift + 3).fill(0xff);
  buffer.set(bytes, shift);
  return buffer.subarray(shift, shift + bytes.length);
}

function values(p: ParsedUpdate): number[] {
  return Array.from(p.values);
}

function sameBits(actual: Float32Array, expected: Float32Array): void {
  assertEquals(toHex(encodeRaw(actual)), toHex(encodeRaw(expected)));
}

// ---------------------------------------------------------------------------------------------
// .npy

Deno.test("npy: hand-built bytes of np.save(arange(6).reshape(2, 3)) match NumPy's", () => {
  // 59-char dict + 20 growth spaces (21 − len("2")) + padding + "\n": 10 + 80 = 90 bytes,
  // padded by 64 − 90 % 64 = 38 spaces so the data starts at 128; header length 118 = 'v'.
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const hand = cat(
    "\x93NUMPY\x01\x00v\x00",
    dict,
    " ".repeat(20 + 38),
    "\n",
    f32(0, 1, 2, 3, 4, 5),
  );
  assertEquals(toHex(hand), toHex(NPY_ARANGE));
  assertEquals(hand.length, 128 + 24);
  const p = parseUpdate(hand, 6, "npy");
  assertEquals(values(p), [0, 1, 2, 3, 4, 5]);
  assertEquals(p.format, "npy");
  assertEquals(p.layout, { tensors: [{ name: DEFAULT_TENSOR_NAME, shape: [2, 3] }] });
});

Deno.test("npy: NumPy's files parse bit-exactly (v1.0, v2.0, v3.0, scalar, empty)", () => {
  const vec = parseUpdate(NPY_VEC5, 5);
  sameBits(vec.values, new Float32Array([0.5, -1.25, 3, 1e-30, -0]));
  assert(Object.is(vec.values[4], -0));
  assertEquals(vec.layout.tensors[0].shape, [5]);

  const scalar = parseUpdate(NPY_SCALAR, 1);
  assertEquals(values(scalar), [1.5]);
  assertEquals(scalar.layout.tensors[0].shape, []);

  const empty = parseUpdate(NPY_EMPTY, 0);
  assertEquals(empty.values.length, 0);
  assertEquals(empty.layout.tensors[0].shape, [0]);

  for (const file of [NPY_V2, NPY_V3]) {
    const p = parseUpdate(file, 4);
    assertEquals(values(p), [0, 1, 2, 3]);
    assertEquals(p.layout.tensors[0].shape, [2, 2]);
  }
  assertEquals(NPY_V2[6], 2);
  assertEquals(NPY_V3[6], 3);
});

Deno.test("npy: encodeNpy writes exactly what np.save writes", () => {
  const cases: [Uint8Array, number[], number[] | undefined][] = [
    [NPY_ARANGE, [0, 1, 2, 3, 4, 5], [2, 3]],
    [NPY_VEC5, [0.5, -1.25, 3, 1e-30, -0], undefined], // default shape [d]
    [NPY_SCALAR, [1.5], []],
    [NPY_EMPTY, [], [0]],
  ];
  for (const [file, xs, shape] of cases) {
    assertEquals(toHex(encodeNpy(new Float32Array(xs), shape)), toHex(file));
  }
  // The data always starts at a multiple of 64, whatever the shape.
  for (const shape of [[1], [12], [3, 4], [2, 2, 3], [1, 1, 1, 1, 1, 12], [123456789012, 0]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const file = encodeNpy(new Float32Array(n), shape);
    assertEquals((file.length - 4 * n) % 64, 0);
    assertEquals(file[file.length - 4 * n - 1], 0x0a);
    assertEquals(parseUpdate(file, n).layout.tensors[0].shape, shape);
  }
});

Deno.test("npy: dtypes other than '<f4' are refused with 415 naming the dtype", () => {
  refusal(() => parseUpdate(NPY_F8, 3), "unsupported-dtype", "'<f8'", "'<f4'", "float32");
  refusal(() => parseUpdate(NPY_BE, 3), "unsupported-dtype", "'>f4'", "little-endian");
  for (const descr of ["<i4", "<f2", "|f4", "=f4", "float32", "<u4"]) {
    const file = npy(npyDict("(3,)", descr), f32(1, 2, 3));
    refusal(() => parseUpdate(file, 3), "unsupported-dtype", `'${descr}'`);
  }
  const structured = npy(
    "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}",
    f32(1, 2, 3),
  );
  refusal(() => parseUpdate(structured, 3), "unsupported-dtype", "structured");
});

Deno.test("npy: Fortran order is accepted only when it equals C order", () => {
  refusal(() => parseUpdate(NPY_FORTRAN, 6), "unsupported-order", "(2, 3)", "Fortran");
  for (const shape of ["(6,)", "(1, 6)", "(6, 1)", "(1, 6, 1)", "()"]) {
    const n = shape === "()" ? 1 : 6;
    const xs = [1, 2, 3, 4, 5, 6].slice(0, n);
    const p = parseUpdate(npy(npyDict(shape, "<f4", "True"), f32(...xs)), n);
    assertEquals(values(p), xs);
  }
  assertEquals(parseUpdate(npy(npyDict("(2, 0, 3)", "<f4", "True"), f32()), 0).values.length, 0);
  refusal(
    () => parseUpdate(npy(npyDict("(1, 2, 3)", "<f4", "True"), f32(1, 2, 3, 4, 5, 6)), 6),
    "unsupported-order",
  );
});

Deno.test("npy: the header parser tolerates what Python would and refuses the rest", () => {
  const data = f32(1, 2, 3, 4, 5, 6);
  const accepted = [
    `{"descr": "<f4", "fortran_order": False, "shape": (6,)}`, // double quotes, no trailing comma
    `{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}\n`, // any key order
    `{ 'descr' : '<f4' ,\t'fortran_order':False,\n'shape':( 2 ,3 , ) , }   \n`, // whitespace
    `{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }`, // no padding, no newline
    `{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n`, // Python 2 longs
    `{'descr': '<f4', 'fortran_order': False, 'shape': ((2), 3), }\n`, // (2) is 2
  ];
  for (const header of accepted) {
    assertEquals(values(parseUpdate(npy(header, data), 6, "npy")), [1, 2, 3, 4, 5, 6], header);
  }
  const refused = [
    "{'descr': '<f4', 'fortran_order': False}", // missing key
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", // extra key
    "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", // duplicate
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", // (6) is not a tuple
    "{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", // a list
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", // negative
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6.0,)}", // float
    "{'descr': '<f4', 'fortran_order': False, 'shape': (06,)}", // leading zero
    "{'descr': '<f4', 'fortran_order': False, 'shape': (0x6,)}", // hex
    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", // too large
    "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", // not a bool
    "{'descr': '<f4', 'fortran_order': false, 'shape': (6,)}", // JSON, not Python
    "{'descr': 4, 'fortran_order': False, 'shape': (6,)}", // descr not a string
    "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (6,)}", // escape sequence
    "{'descr': b'<f4', 'fortran_order': False, 'shape': (6,)}", // bytes prefix
    "{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", // missing comma
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", // trailing text
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}}", // trailing brace
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", // unclosed
    "{'descr: '<f4', 'fortran_order': False, 'shape': (6,)}", // broken string
    "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} # comment",
    "{6: '<f4'}", // non-string key
    "['descr', '<f4']", // not a dict
    "",
    "   \n",
    `{'descr': '<f4', 'fortran_order': False, 'shape': ${"(".repeat(40)}6,${")".repeat(40)}}`,
  ];
  for (const header of refused) {
    refusal(() => parseUpdate(npy(header, data), 6, "npy"), "malformed");
  }
  // Python 2 longs only in versions that Python 2 could write.
  const v3 = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6L,), }\n", data, 3);
  refusal(() => parseUpdate(v3, 6), "malformed");
  // Version 3.0 headers are UTF-8; 1.0 and 2.0 are latin-1 (a non-ASCII dtype is still named).
  const utf = npy(npyDict("(6,)", "<f4é"), data, 3);
  refusal(() => parseUpdate(utf, 6), "unsupported-dtype", "'<f4é'");
  refusal(() => parseUpdate(npy(npyDict("(6,)", "<f4\xe9"), data, 1), 6), "unsupported-dtype", "é");
  const badUtf8 = cat("\x93NUMPY\x03\x00\x04\x00\x00\x00{\xff}\n", data);
  refusal(() => parseUpdate(badUtf8, 6), "malformed", "UTF-8");
});

Deno.test("npy: wrong counts, versions, truncation, trailing bytes and bad magic", () => {
  refusal(() => parseUpdate(NPY_ARANGE, 5), "wrong-length", "(2, 3)", "6", "d = 5");
  refusal(() => parseUpdate(NPY_SCALAR, 0), "wrong-length", "()", "1 float32", "d = 0");
  const huge = npy(npyDict("(4294967296, 4294967296)"), f32());
  refusal(() => parseUpdate(huge, 6), "wrong-length", "more than 2^53", "d = 6");

  for (const [major, minor] of [[0, 0], [1, 1], [4, 0], [2, 1]]) {
    const file = NPY_ARANGE.slice();
    file[6] = major;
    file[7] = minor;
    refusal(() => parseUpdate(file, 6), "unsupported-version", `${major}.${minor}`);
  }
  for (const cut of [0, 3, 7, 9, 11, 100, 127]) {
    refusal(() => parseUpdate(NPY_ARANGE.subarray(0, cut), 6, "npy"), "truncated");
  }
  refusal(() => parseUpdate(NPY_ARANGE.subarray(0, 128 + 20), 6), "truncated", "20", "24");
  refusal(() => parseUpdate(NPY_V2.subarray(0, 11), 4), "truncated");
  refusal(() => parseUpdate(cat(NPY_ARANGE, "\0\0\0\0"), 6), "malformed", "4 bytes after");
  const notNpy = cat("\x93NUMPZ\x01\x00", NPY_ARANGE.subarray(8));
  refusal(() => parseUpdate(notNpy, 6, "npy"), "malformed", "NUMPY");
});

Deno.test("npy: NaN and ±Infinity are refused naming the index", () => {
  refusal(() => parseUpdate(NPY_NAN, 3), "non-finite", "index 1", "NaN");
  const inf = encodeNpy(new Float32Array([0, 1, 2, 3, 4, -Infinity]), [2, 3]);
  refusal(() => parseUpdate(inf, 6), "non-finite", "index 5", "(1, 2)", "-Infinity");
});

// ---------------------------------------------------------------------------------------------
// safetensors

const MODEL_VALUES = [0.5, -0.25, 7, 8, 0, 1, 2, 3, 4, 5];
const MODEL_LAYOUT: TensorLayout = {
  tensors: [
    { name: "bias", shape: [2] },
    { name: "layer.10.w", shape: [1] },
    { name: "layer.2.w", shape: [1, 1] },
    { name: "weight", shape: [2, 3] },
  ],
};

Deno.test("safetensors: the Python library's files parse, metadata ignored", () => {
  for (const file of [ST_MODEL, ST_MODEL_PLAIN]) {
    const p = parseUpdate(file, 10);
    assertEquals(p.format, "safetensors");
    assertEquals(values(p), MODEL_VALUES);
    assertEquals(p.layout, MODEL_LAYOUT);
  }
  const scalars = parseUpdate(ST_SCALARS, 1);
  assertEquals(values(scalars), [2.5]);
  assertEquals(scalars.layout, {
    tensors: [{ name: "e", shape: [0, 3] }, { name: "s", shape: [] }],
  });
  refusal(() => parseUpdate(ST_MIXED, 2), "unsupported-dtype", "'z'", "'F64'", "F32");
});

Deno.test("safetensors: encodeSafetensors writes what the Python library writes", () => {
  const v = new Float32Array(MODEL_VALUES);
  assertEquals(toHex(encodeSafetensors(v, MODEL_LAYOUT)), toHex(ST_MODEL_PLAIN));
  const scalars = { tensors: [{ name: "e", shape: [0, 3] }, { name: "s", shape: [] }] };
  assertEquals(toHex(encodeSafetensors(new Float32Array([2.5]), scalars)), toHex(ST_SCALARS));
  const flat = encodeSafetensors(new Float32Array([1, 2, 3]));
  assertEquals((new DataView(flat.buffer).getUint32(0, true)) % 8, 0);
  assertEquals(parseUpdate(flat, 3).layout, { tensors: [{ name: "aggregate", shape: [3] }] });
});

Deno.test("safetensors: neither header order nor data order matters, only the names", () => {
  // Header keys in reverse order, data buffer in yet another order.
  const header = "{" + [
    `"weight":${info([2, 3], 0, 24)}`,
    `"layer.2.w":${info([1, 1], 32, 36)}`,
    `"layer.10.w":${info([1], 36, 40)}`,
    `"bias":${info([2], 24, 32)}`,
    `"__metadata__":{"format":"pt"}`,
  ].join(", ") + "}";
  const data = cat(f32(0, 1, 2, 3, 4, 5), f32(0.5, -0.25), f32(8), f32(7));
  const p = parseUpdate(st(header, data), 10);
  assertEquals(values(p), MODEL_VALUES);
  assertEquals(p.layout, MODEL_LAYOUT);
});

Deno.test("safetensors: names sort by code point, not by UTF-16 unit", () => {
  // U+E000 < U+1F600 as code points; JavaScript's default sort puts the surrogate pair first.
  const [private_, emoji] = ["\u{e000}", "\u{1f600}"];
  assertEquals([emoji, private_].sort(), [emoji, private_]);
  const header = JSON.stringify({
    [emoji]: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
    [private_]: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
  });
  const p = parseUpdate(st(header, f32(1, 2)), 2);
  assertEquals(values(p), [2, 1]);
  assertEquals(p.layout.tensors.map((t) => t.name), [private_, emoji]);
  const wrong = { tensors: [{ name: emoji, shape: [1] }, { name: private_, shape: [1] }] };
  assertThrows(() => encodeSafetensors(new Float32Array(2), wrong), RangeError, "code point");
  assertEquals(values(parseUpdate(encodeSafetensors(p.values, p.layout), 2)), [2, 1]);
});

Deno.test("safetensors: duplicate keys are refused at every depth", () => {
  const a = info([1], 0, 4);
  refusal(() => parseUpdate(st(`{"a":${a},"a":${a}}`, f32(1)), 1), "malformed", "'a' twice");
  // The same name spelled with an escape is the same key.
  refusal(() => parseUpdate(st(`{"a":${a},"\\u0061":${a}}`, f32(1)), 1), "malformed", "'a'");
  const twoDtypes = `{"a":{"dtype":"F16","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`;
  refusal(() => parseUpdate(st(twoDtypes, f32(1)), 1), "malformed", "'dtype' twice");
  const meta = `{"__metadata__":{"k":"1","k":"2"},"a":${a}}`;
  refusal(() => parseUpdate(st(meta, f32(1)), 1), "malformed", "'k' twice");
  const twoMeta = `{"__metadata__":{},"__metadata__":{},"a":${a}}`;
  refusal(() => parseUpdate(st(twoMeta, f32(1)), 1), "malformed", "__metadata__");
  // Keys equal to strings elsewhere (values, other objects) are not duplicates.
  const ok = `{"__metadata__":{"a":"a","F32":"dtype"},"a":${a},"b":${info([1], 4, 8)}}`;
  assertEquals(values(parseUpdate(st(ok, f32(1, 2)), 2)), [1, 2]);
  const braces = `{"__metadata__":{"x":"}{\\"a\\":\\"[","y":"a"},"a":${a}}`;
  assertEquals(values(parseUpdate(st(braces, f32(3)), 1)), [3]);
});

Deno.test("safetensors: offsets must tile the data buffer exactly", () => {
  const two = (a: [number, number], b: [number, number], data: Uint8Array) =>
    st(`{"a":${info([1], ...a)},"b":${info([1], ...b)}}`, data);
  refusal(
    () => parseUpdate(two([0, 4], [2, 6], f32(1, 2)), 2),
    "malformed",
    "'a'",
    "'b'",
    "overlap",
  );
  refusal(() => parseUpdate(two([0, 4], [0, 4], f32(1, 2)), 2), "malformed", "overlap");
  refusal(() => parseUpdate(two([0, 4], [8, 12], f32(1, 2, 3)), 2), "malformed", "bytes 4 to 8");
  refusal(() => parseUpdate(two([4, 8], [8, 12], f32(1, 2, 3)), 2), "malformed", "bytes 0 to 4");
  refusal(() => parseUpdate(two([0, 4], [4, 8], f32(1, 2, 3)), 2), "malformed", "last 4 bytes");
  refusal(() => parseUpdate(two([0, 4], [4, 8], f32(1)), 2), "truncated", "'b'", "4-byte");
  refusal(
    () => parseUpdate(st(`{"a":${info([2], 0, 4)}}`, f32(1)), 1),
    "malformed",
    "'a'",
    "needs 8 bytes",
    "span 4",
  );
  refusal(
    () => parseUpdate(st(`{"a":${info([0], 4, 0)}}`, f32(1)), 0),
    "malformed",
    "begin <= end",
  );
  // Zero-size tensors take no room, wherever they sit on a boundary.
  const zeros = `{"a":${info([0], 0, 0)},"b":${info([1], 0, 4)},"c":${info([2, 0], 4, 4)}}`;
  const p = parseUpdate(st(zeros, f32(9)), 1);
  assertEquals(values(p), [9]);
  assertEquals(p.layout.tensors.map((t) => t.shape), [[0], [1], [2, 0]]);
});

Deno.test("safetensors: malformed headers are refused with 400", () => {
  const a = info([1], 0, 4);
  const cases: [string, string][] = [
    [`[${a}]`, "not an object"],
    [`{"a":${a}`, "not valid JSON"],
    [`{"a":${a}}\0\0`, "not valid JSON"],
    [`null`, "not an object"],
    [`{"a":[1]}`, "'a' is not an object"],
    [`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, "unknown field 'x'"],
    [`{"a":{"shape":[1],"data_offsets":[0,4]}}`, "dtype"],
    [`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, "shape"],
    [`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, "shape"],
    [`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, "shape"],
    [`{"a":{"dtype":"F32","shape":[1]}}`, "data_offsets"],
    [`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, "data_offsets"],
    [`{"a":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}`, "data_offsets"],
    [`{"__metadata__":{"n":1},"a":${a}}`, "__metadata__"],
    [`{"__metadata__":"pt","a":${a}}`, "__metadata__"],
    [`{"\\ud800":${a}}`, "not valid Unicode"],
  ];
  for (const [header, fragment] of cases) {
    refusal(() => parseUpdate(st(header, f32(1)), 1, "safetensors"), "malformed", fragment);
  }
  // A byte-order mark is not JSON whitespace (TextDecoder would silently strip it).
  const bom = cat(new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0, 0xef, 0xbb, 0xbf]), "{}");
  refusal(() => parseUpdate(bom, 0, "safetensors"), "malformed", "JSON");
  const badUtf8 = cat(new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0]), '{"\xff"', "");
  refusal(() => parseUpdate(badUtf8, 0, "safetensors"), "malformed", "UTF-8");
  refusal(
    () => parseUpdate(st(`{"a":${info([1], 0, 4, "BF16")}}`, f32(1)), 1),
    "unsupported-dtype",
    "'a'",
    "'BF16'",
  );
});

Deno.test("safetensors: header length, truncation and element count", () => {
  const file = ST_MODEL.slice();
  // A declared header above 100 MB is refused before anything is read.
  new DataView(file.buffer).setUint32(0, 100_000_001, true);
  refusal(() => parseUpdate(file, 10, "safetensors"), "too-large", "100 MB");
  new DataView(file.buffer).setUint32(4, 1, true);
  refusal(() => parseUpdate(file, 10, "safetensors"), "too-large");
  // A length that overruns the body.
  new DataView(file.buffer).setUint32(4, 0, true);
  new DataView(file.buffer).setUint32(0, file.length - 7, true);
  refusal(() => parseUpdate(file, 10, "safetensors"), "truncated", "header declares");
  for (const cut of [0, 5, 7]) {
    refusal(() => parseUpdate(ST_MODEL.subarray(0, cut), 10, "safetensors"), "truncated");
  }
  refusal(
    () => parseUpdate(ST_MODEL.subarray(0, ST_MODEL.length - 1), 10),
    "truncated",
    "'weight'",
  );
  refusal(
    () => parseUpdate(ST_MODEL, 12),
    "wrong-length",
    "10 float32 values",
    "4 tensor",
    "d = 12",
  );
  refusal(() => parseUpdate(ST_MODEL, 9), "wrong-length", "10", "d = 9");
  // An empty file of no tensors is the update of d = 0.
  const none = parseUpdate(st("{}", f32()), 0, "safetensors");
  assertEquals(none.values.length, 0);
  assertEquals(none.layout.tensors, []);
});

Deno.test("safetensors: NaN and ±Infinity are refused naming the tensor and index", () => {
  const v = new Float32Array(MODEL_VALUES);
  v[7] = NaN; // weight[3]
  refusal(
    () => parseUpdate(encodeSafetensors(v, MODEL_LAYOUT), 10),
    "non-finite",
    "index 7",
    "'weight'",
    "element 3",
    "NaN",
  );
  v[7] = 3;
  v[0] = Infinity;
  refusal(
    () => parseUpdate(encodeSafetensors(v, MODEL_LAYOUT), 10),
    "non-finite",
    "'bias', element 0",
    "Infinity",
  );
});

// ---------------------------------------------------------------------------------------------
// raw, limits, round trips, views and detection

Deno.test("raw: exactly 4·d little-endian bytes, finite", () => {
  const p = parseUpdate(fromHex("0000803f000000c0"), 2, "raw");
  assertEquals(values(p), [1, -2]);
  assertEquals(p.layout, { tensors: [{ name: "aggregate", shape: [2] }] });
  refusal(
    () => parseUpdate(f32(1, 2, 3), 2, "raw"),
    "wrong-length",
    "12 bytes",
    "3 float32",
    "d = 2",
    "8",
  );
  refusal(() => parseUpdate(f32(1), 2, "raw"), "wrong-length", "1 float32", "d = 2");
  refusal(() => parseUpdate(new Uint8Array(7), 2, "raw"), "wrong-length", "not a whole number");
  refusal(() => parseUpdate(f32(1, -Infinity), 2, "raw"), "non-finite", "index 1", "-Infinity");
  // Every NaN bit pattern (quiet, signalling, negative) is caught; the largest finite is not.
  for (const hex of ["0000c07f", "0100807f", "ffffffff", "0000807f", "000080ff"]) {
    refusal(() => parseUpdate(cat(f32(0), fromHex(hex)), 2, "raw"), "non-finite", "index 1");
  }
  assertEquals(values(parseUpdate(fromHex("ffff7f7fffff7fff"), 2)), [
    3.4028234663852886e38,
    -3.4028234663852886e38,
  ]);
  assertEquals(parseUpdate(new Uint8Array(0), 0).values.length, 0);
});

Deno.test("limits: a body above 4·d + allowance is refused with 413 before parsing", () => {
  assertEquals(maxUpdateBytes(10), 40 + HEADER_ALLOWANCE);
  assertEquals(maxUpdateBytes(10, 0), 40);
  const big = new Uint8Array(40 + HEADER_ALLOWANCE + 1);
  for (const format of ["raw", "npy", "safetensors"] as const) {
    refusal(() => parseUpdate(big, 10, format), "too-large", `${big.length} bytes`, "d = 10");
  }
  // With a small allowance, NumPy's 128-byte preamble no longer fits.
  refusal(() => parseUpdate(NPY_ARANGE, 6, { headerAllowance: 64 }), "too-large", "152");
  assertEquals(parseUpdate(NPY_ARANGE, 6, { headerAllowance: 128 }).values.length, 6);
  // Inside the allowance, a raw body of the wrong length is a 422, not a 413.
  refusal(() => parseUpdate(new Uint8Array(44), 10, "raw"), "wrong-length");
  assertThrows(() => parseUpdate(f32(), -1), RangeError);
  assertThrows(() => parseUpdate(f32(), 1.5), RangeError);
  assertThrows(() => parseUpdate(f32(), 0, { headerAllowance: -1 }), RangeError);
  assertThrows(() => parseUpdate(f32(), 0, "json" as TensorFormat), RangeError);
});

Deno.test("round trips: every format, every layout shape, d = 0", () => {
  const layouts: TensorLayout[] = [
    { tensors: [] },
    { tensors: [{ name: "empty", shape: [0] }] },
    { tensors: [{ name: "s", shape: [] }] },
    {
      tensors: [{ name: "a", shape: [0] }, { name: "b", shape: [] }, { name: "c", shape: [2, 3] }],
    },
    {
      tensors: [
        { name: "conv.bias", shape: [4] },
        { name: "conv.weight", shape: [4, 1, 3, 3] },
        { name: "fc.weight", shape: [10, 5, 0] },
        { name: "fc.weight.x", shape: [1, 1, 1] },
        { name: "résumé/ß", shape: [3] },
      ],
    },
  ];
  for (const layout of layouts) {
    const d = layout.tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    const v = new Float32Array(d).map((_, i) => (i - d / 2) * 0.37 + 1e-39 * i);
    const st = parseUpdate(encodeSafetensors(v, layout), d);
    sameBits(st.values, v);
    assertEquals(st.layout, layout);
    const raw = parseUpdate(encodeRaw(v), d);
    sameBits(raw.values, v);
    assertEquals(raw.format, "raw");
    for (const t of layout.tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const part = v.subarray(0, n);
      const p = parseUpdate(encodeNpy(part, t.shape), n);
      sameBits(p.values, part);
      assertEquals(p.layout.tensors[0].shape, t.shape);
    }
  }
  const v = new Float32Array([1, 2, 3, 4, 5, 6]);
  sameBits(parseUpdate(encodeNpy(v), 6).values, v);
  sameBits(parseUpdate(encodeSafetensors(v), 6).values, v);
  // The encoders read subarrays correctly.
  const sub = new Float32Array([9, 1, 2, 3, 9]).subarray(1, 4);
  assertEquals(values(parseUpdate(encodeRaw(sub), 3)), [1, 2, 3]);
  assertEquals(values(parseUpdate(encodeNpy(sub), 3)), [1, 2, 3]);
  assertEquals(values(parseUpdate(encodeSafetensors(sub), 3)), [1, 2, 3]);
});

Deno.test("encoders refuse layouts and shapes that do not fit the values", () => {
  const v = new Float32Array(6);
  assertThrows(() => encodeNpy(v, [2, 2]), RangeError, "(2, 2)");
  assertThrows(() => encodeNpy(v, [-2, -3]), RangeError);
  assertThrows(() => encodeNpy(v, [6.5]), RangeError);
  const bad: [TensorLayout, string][] = [
    [{ tensors: [{ name: "a", shape: [5] }] }, "5 values"],
    [{ tensors: [{ name: "a", shape: [3] }, { name: "a", shape: [3] }] }, "strictly increase"],
    [{ tensors: [{ name: "b", shape: [3] }, { name: "a", shape: [3] }] }, "strictly increase"],
    [{ tensors: [{ name: "__metadata__", shape: [6] }] }, "__metadata__"],
    [{ tensors: [{ name: "\ud800", shape: [6] }] }, "cannot be written"],
    [{ tensors: [{ name: "a", shape: [-6] }] }, "non-negative"],
  ];
  for (const [layout, fragment] of bad) {
    assertThrows(() => encodeSafetensors(v, layout), RangeError, fragment);
  }
});

Deno.test("views: unaligned inputs parse to fresh, aligned copies", () => {
  const v = new Float32Array([1.25, -2, 3e-7, 4, 5, 6]);
  const bodies: [TensorFormat, Uint8Array][] = [
    ["raw", encodeRaw(v)],
    ["npy", encodeNpy(v, [3, 2])],
    ["safetensors", encodeSafetensors(v, { tensors: [{ name: "x", shape: [6] }] })],
  ];
  for (const [format, body] of bodies) {
    for (const shift of [1, 2, 3, 5]) {
      const view = shifted(body, shift);
      const p = parseUpdate(view, 6);
      assertEquals(p.format, format);
      sameBits(p.values, v);
      assertEquals(p.values.byteOffset, 0);
      assertEquals(p.values.buffer.byteLength, 24);
      view.fill(0); // the result does not alias the input
      sameBits(p.values, v);
    }
  }
});

Deno.test("detection: content type first, then magic bytes", () => {
  const raw = f32(1, 2);
  assertEquals(detectFormat(NPY_ARANGE, "application/x-npy"), "npy");
  assertEquals(detectFormat(NPY_ARANGE, "Application/NPY; charset=binary"), "npy");
  assertEquals(detectFormat(raw, "application/x-npy"), "npy"); // declared: never second-guessed
  assertEquals(detectFormat(ST_MODEL, "application/x-safetensors"), "safetensors");
  assertEquals(detectFormat(ST_MODEL, " application/safetensors "), "safetensors");
  assertEquals(detectFormat(NPY_ARANGE, "application/octet-stream"), "npy");
  assertEquals(detectFormat(raw, "application/octet-stream"), "raw");
  assertEquals(detectFormat(ST_MODEL, "application/octet-stream"), "raw");
  assertEquals(detectFormat(NPY_ARANGE), "npy");
  assertEquals(detectFormat(ST_MODEL), "safetensors");
  assertEquals(detectFormat(ST_SCALARS, ""), "safetensors");
  assertEquals(detectFormat(raw), "raw");
  assertEquals(detectFormat(new Uint8Array(0)), "raw");
  assertEquals(detectFormat(f32(0, 0, 0)), "raw"); // header length 0: not safetensors
  for (const type of ["application/json", "text/plain", "application/x-www-form-urlencoded"]) {
    refusal(() => detectFormat(raw, type), "unsupported-content-type", `'${type}'`);
    refusal(() => parseUpdate(raw, 2, { contentType: type }), "unsupported-content-type");
  }
  // A body of exactly 4·d bytes is raw even if it happens to start with the .npy magic.
  const lookalike = NPY_ARANGE.subarray(0, 24);
  assertEquals(detectFormat(lookalike, undefined, 6), "raw");
  assertEquals(detectFormat(lookalike, "application/octet-stream", 6), "raw");
  assertEquals(detectFormat(lookalike, "application/x-npy", 6), "npy");
  assertEquals(
    parseUpdate(lookalike, 6, { contentType: "application/octet-stream" }).format,
    "raw",
  );
  // parseUpdate detects when no format is given; an explicit format wins over the content type.
  assertEquals(
    parseUpdate(NPY_ARANGE, 6, { contentType: "application/octet-stream" }).format,
    "npy",
  );
  assertEquals(parseUpdate(ST_MODEL, 10).format, "safetensors");
  refusal(
    () => parseUpdate(ST_MODEL, 10, { contentType: "application/x-npy" }),
    "malformed",
    "NUMPY",
  );
  assertEquals(
    parseUpdate(ST_MODEL, 10, { format: "safetensors", contentType: "text/plain" }).format,
    "safetensors",
  );
  assertEquals(CONTENT_TYPES, {
    raw: "application/octet-stream",
    npy: "application/x-npy",
    safetensors: "application/x-safetensors",
  });
  for (const [format, type] of Object.entries(CONTENT_TYPES)) {
    assertEquals(detectFormat(new Uint8Array(0), type), format);
  }
});

Deno.test("FormatError: codes map to HTTP statuses", () => {
  for (const [code, status] of Object.entries(STATUS)) {
    const e = new FormatError(code as FormatErrorCode, "detail");
    assertEquals(e.status, status);
    assertEquals(e.code, code);
    assertEquals(e.name, "FormatError");
    assertEquals(e.message, `${code}: detail`);
    assert(e instanceof Error);
  }
  // Names from the body are quoted and shortened in messages.
  const long = "x".repeat(500);
  const e = refusal(
    () => parseUpdate(st(`{"${long}":${info([1], 0, 4, "I8")}}`, f32(1)), 1),
    "unsupported-dtype",
  );
  assert(e.message.length < 200, e.message);
});
