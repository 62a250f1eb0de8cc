/**
 * The `.npy` format (node/tensor_formats/npy.ts and its header parser `_python_literal.ts`):
 * NumPy's own files parsed bit-exactly, `encodeNpy` compared byte for byte with `np.save`, and
 * every refusal with its HTTP status and a message that names the problem.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import { DEFAULT_TENSOR_NAME, encodeNpy, parseUpdate } from "../../../node/tensor_formats/mod.ts";
import {
  NPY_ARANGE,
  NPY_BE,
  NPY_EMPTY,
  NPY_F8,
  NPY_FORTRAN,
  NPY_NAN,
  NPY_SCALAR,
  NPY_V2,
  NPY_V3,
  NPY_VEC5,
} from "./_fixtures.ts";
import { cat, f32, npy, npyDict, refusal, sameBits, values } from "./_helpers.ts";

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
