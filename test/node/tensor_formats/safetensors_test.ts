/**
 * The safetensors format (node/tensor_formats/safetensors.ts): the Python library's files
 * parsed, `encodeSafetensors` compared byte for byte with it, the canonical name order, and
 * every refusal with its HTTP status and a message that names the problem.
 */
import { assertEquals } from "../../_assert.ts";
import { toHex } from "../../../protocol/encoding/bytes.ts";
import {
  encodeSafetensors,
  parseUpdate,
  type TensorLayout,
} from "../../../node/tensor_formats/mod.ts";
import { ST_MIXED, ST_MODEL, ST_MODEL_PLAIN, ST_SCALARS } from "./_fixtures.ts";
import { cat, f32, info, refusal, st, values } from "./_helpers.ts";

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
  assertEquals(values(parseUpdate(encodeSafetensors(p.values, p.layout), 2)), [2, 1]);
  // Written in another order (a federation's layout), read back in canonical order without it.
  const other = { tensors: [{ name: emoji, shape: [1] }, { name: private_, shape: [1] }] };
  assertEquals(values(parseUpdate(encodeSafetensors(new Float32Array([1, 2]), other), 2)), [2, 1]);
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
