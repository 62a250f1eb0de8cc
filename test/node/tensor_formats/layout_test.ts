/**
 * Uploads checked against the federation's layout (`ParseOptions.layout`, `flat`) and layouts
 * read from files (`layout_file.ts`): safetensors are matched by name and shape and come out in
 * the layout's order (not name order), a mismatch is 422 `layout-mismatch` naming the first
 * difference; raw and `.npy` bodies are 422 `flat-upload` for a layout of several tensors unless
 * the caller says flat; the aggregate encoder writes the layout's order; `--layout` files
 * (safetensors header, layout.json) and their refusals.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import type { ModelLayout } from "../../../protocol/federation/layout.ts";
import {
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  HEADER_ALLOWANCE,
  headerAllowanceFor,
  parseUpdate,
} from "../../../node/tensor_formats/mod.ts";
import { readLayoutFile } from "../../../node/tensor_formats/layout_file.ts";
import { NodeError } from "../../../node/errors.ts";
import { withTempDir } from "../_helpers.ts";
import { f32, info, refusal, st } from "./_helpers.ts";

/** PyTorch's state_dict order: weight before bias (not name order). */
const TORCH: ModelLayout = {
  tensors: [
    { name: "layer1.weight", shape: [2, 2] },
    { name: "layer1.bias", shape: [2] },
    { name: "layer2.weight", shape: [1, 2] },
  ],
};
/** The model's vector in TORCH order: w1 = 1..4, b1 = 10, 20, w2 = 100, 200. */
const VECTOR = [1, 2, 3, 4, 10, 20, 100, 200];

/** The safetensors the Python library writes for TORCH: tensors in name order. */
function torchSafetensors(): Uint8Array {
  const header = JSON.stringify({
    "layer1.bias": JSON.parse(info([2], 0, 8)),
    "layer1.weight": JSON.parse(info([2, 2], 8, 24)),
    "layer2.weight": JSON.parse(info([1, 2], 24, 32)),
  });
  return st(header, f32(10, 20, 1, 2, 3, 4, 100, 200));
}

Deno.test("layout: safetensors come out in the federation's order, not in name order", () => {
  const body = torchSafetensors();
  // Without a layout: name order (bias first), which is not the model's vector.
  assertEquals([...parseUpdate(body, 8).values], [10, 20, 1, 2, 3, 4, 100, 200]);
  const p = parseUpdate(body, 8, { layout: TORCH });
  assertEquals([...p.values], VECTOR);
  assertEquals(p.format, "safetensors");
  // The encoder writes the layout's order; reading it back with the layout is the identity.
  const written = encodeSafetensors(new Float32Array(VECTOR), TORCH);
  const n = new DataView(written.buffer).getUint32(0, true);
  const header = new TextDecoder().decode(written.subarray(8, 8 + n));
  assertEquals(Object.keys(JSON.parse(header)), ["layer1.weight", "layer1.bias", "layer2.weight"]);
  assertEquals([...new Float32Array(written.slice(8 + n).buffer)], VECTOR);
  assertEquals([...parseUpdate(written, 8, { layout: TORCH }).values], VECTOR);
});

Deno.test("layout: safetensors with other names or shapes are 422 layout-mismatch", () => {
  const renamed = st(
    JSON.stringify({
      "layer1.bias": JSON.parse(info([2], 0, 8)),
      "layer1.w": JSON.parse(info([2, 2], 8, 24)),
      "layer2.weight": JSON.parse(info([1, 2], 24, 32)),
    }),
    f32(...VECTOR),
  );
  refusal(
    () => parseUpdate(renamed, 8, { layout: TORCH }),
    "layout-mismatch",
    "tensor 0 'layer1.weight' [2, 2] is missing",
    "'layer1.w' [2, 2]",
    "?layout=flat",
  );
  const transposed = st(
    JSON.stringify({
      "layer1.bias": JSON.parse(info([2], 0, 8)),
      "layer1.weight": JSON.parse(info([2, 2], 8, 24)),
      "layer2.weight": JSON.parse(info([2, 1], 24, 32)),
    }),
    f32(...VECTOR),
  );
  refusal(
    () => parseUpdate(transposed, 8, { layout: TORCH }),
    "layout-mismatch",
    "tensor 2 'layer2.weight' has shape [2, 1] in the upload",
    "says [1, 2]",
  );
  // A flat roster (the --dim roster) refuses named tensors too: the mixed federation.
  const flat = { tensors: [{ name: "aggregate", shape: [8] }] };
  refusal(
    () => parseUpdate(torchSafetensors(), 8, { layout: flat }),
    "layout-mismatch",
    "'aggregate' [8] is missing",
  );
  // ... unless the caller says flat: then name order, as before layouts.
  assertEquals(
    [...parseUpdate(torchSafetensors(), 8, { layout: flat, flat: true }).values],
    [10, 20, 1, 2, 3, 4, 100, 200],
  );
  // The download of a flat roster (one tensor "aggregate") is accepted as is.
  const download = encodeSafetensors(new Float32Array(VECTOR));
  assertEquals([...parseUpdate(download, 8, { layout: flat }).values], VECTOR);
});

Deno.test("layout: a flat body is refused for several tensors unless the caller says flat", () => {
  for (const body of [encodeRaw(new Float32Array(VECTOR)), encodeNpy(new Float32Array(VECTOR))]) {
    const e = refusal(
      () => parseUpdate(body, 8, { layout: TORCH }),
      "flat-upload",
      "3 tensors",
      "'layer1.weight'",
      "?layout=flat",
    );
    assert(e.message.includes(body[0] === 0x93 ? ".npy" : "raw"), e.message);
    assertEquals([...parseUpdate(body, 8, { layout: TORCH, flat: true }).values], VECTOR);
  }
  // Named tensors are matched by name for a layout of several, flat or not (never name order).
  assertEquals(
    [...parseUpdate(torchSafetensors(), 8, { layout: TORCH, flat: true }).values],
    VECTOR,
  );
  // One tensor: a flat body is unambiguous (any .npy shape of its size).
  const one = { tensors: [{ name: "w", shape: [2, 4] }] };
  assertEquals([
    ...parseUpdate(encodeNpy(new Float32Array(VECTOR), [4, 2]), 8, { layout: one })
      .values,
  ], VECTOR);
  assertEquals(
    [...parseUpdate(encodeRaw(new Float32Array(VECTOR)), 8, { layout: one }).values],
    VECTOR,
  );
});

Deno.test("layout files: a safetensors header or a layout.json, and their refusals", async () => {
  await withTempDir("fedagg-layout-", async (dir) => {
    // A safetensors model: the order of its data (the library writes name order).
    await Deno.writeFile(`${dir}/model.safetensors`, torchSafetensors());
    const fromModel = await readLayoutFile(`${dir}/model.safetensors`);
    assertEquals(fromModel.kind, "safetensors");
    assertEquals(fromModel.layout.tensors.map((t) => t.name), [
      "layer1.bias",
      "layer1.weight",
      "layer2.weight",
    ]);
    // Our own download (written in a layout's order) gives that order back.
    await Deno.writeFile(`${dir}/agg.safetensors`, encodeSafetensors(new Float32Array(8), TORCH));
    assertEquals((await readLayoutFile(`${dir}/agg.safetensors`)).layout, TORCH);
    // A layout.json keeps its order.
    await Deno.writeTextFile(`${dir}/layout.json`, JSON.stringify(TORCH));
    const fromJson = await readLayoutFile(`${dir}/layout.json`);
    assertEquals(fromJson.kind, "json");
    assertEquals(fromJson.layout, TORCH);
    const bad: [string, string | Uint8Array, RegExp][] = [
      ["missing.json", "", /cannot read/],
      ["notjson.json", "{tensors", /neither a safetensors file nor JSON/],
      ["empty.json", '{"tensors": []}', /1 to/],
      ["dup.json", '{"tensors": [{"name":"a","shape":[1]},{"name":"a","shape":[1]}]}', /twice/],
      ["int.safetensors", st(`{"step":${info([1], 0, 8, "I64")}}`, new Uint8Array(8)), /I64/],
      ["binary.bin", new Uint8Array([0xff, 0xfe, 0, 1]), /neither/],
    ];
    for (const [name, content, message] of bad) {
      if (name !== "missing.json") {
        await Deno.writeFile(
          `${dir}/${name}`,
          typeof content === "string" ? new TextEncoder().encode(content) : content,
        );
      }
      const err = await assertRejects(() => readLayoutFile(`${dir}/${name}`), NodeError);
      assertEquals((err as NodeError).code, "layout-invalid");
      assert(message.test((err as Error).message), `${name}: ${(err as Error).message}`);
      assert((err as Error).message.includes(name), (err as Error).message);
    }
  });
});

Deno.test("layout: the header allowance grows with a layout of many long names", () => {
  const tensors = Array.from({ length: 20_000 }, (_, i) => ({
    name: `encoder.layers.${String(i).padStart(5, "0")}.attention.output.dense.weight`,
    shape: [1],
  }));
  const layout: ModelLayout = { tensors };
  const allowance = headerAllowanceFor(layout);
  assert(allowance > HEADER_ALLOWANCE, `${allowance}`);
  const body = encodeSafetensors(new Float32Array(20_000), layout);
  assert(body.length - 4 * 20_000 > HEADER_ALLOWANCE, "the header alone is over 1 MiB");
  refusal(() => parseUpdate(body, 20_000, { layout }), "too-large");
  assertEquals(
    parseUpdate(body, 20_000, { layout, headerAllowance: allowance }).values.length,
    20_000,
  );
  // A small layout keeps the default.
  assertEquals(headerAllowanceFor(TORCH), HEADER_ALLOWANCE);
});
