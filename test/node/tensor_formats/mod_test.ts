/**
 * The public surface across formats (node/tensor_formats/mod.ts): the size limit, round trips
 * of every format and layout (scalars, empty tensors, multi-tensor, d = 0), encoder argument
 * checks, inputs that are unaligned views, and content-type and magic detection.
 */
import { assertEquals, assertThrows } from "../../_assert.ts";
import {
  CONTENT_TYPES,
  detectFormat,
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  HEADER_ALLOWANCE,
  maxUpdateBytes,
  parseUpdate,
  type TensorFormat,
  type TensorLayout,
} from "../../../node/tensor_formats/mod.ts";
import { NPY_ARANGE, ST_MODEL, ST_SCALARS } from "./_fixtures.ts";
import { f32, refusal, sameBits, shifted, values } from "./_helpers.ts";

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
    [{ tensors: [{ name: "a", shape: [3] }, { name: "a", shape: [3] }] }, "appears twice"],
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
