/**
 * The trainer API of a node whose roster carries a PyTorch-style layout of several tensors
 * (weight before bias, not name order): a safetensors upload in any header order is matched by
 * name and shape and journaled in the roster's order; other names or shapes are 422
 * `layout-mismatch` naming the first difference; a raw or `.npy` body is 422 `flat-upload` unless
 * `?layout=flat`; a bad `layout` query is 400; the 202 and the token-protected metrics report
 * the clipped values; the safetensors download is in the roster's order and names.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { equalBytes } from "../../protocol/encoding/bytes.ts";
import { layoutHash, type ModelLayout } from "../../protocol/federation/layout.ts";
import { toHex } from "../../protocol/encoding/bytes.ts";
import { dequantizeMean, quantize } from "../../protocol/math/quantize.ts";
import {
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  parseUpdate,
} from "../../node/tensor_formats/mod.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { f32Bytes } from "./_helpers.ts";
import { startApiNode, stopApiNode, TOKEN } from "./_api_node.ts";

const TORCH: ModelLayout = {
  tensors: [
    { name: "layer1.weight", shape: [2, 3] },
    { name: "layer1.bias", shape: [2] },
    { name: "layer2.weight", shape: [1, 2] },
  ],
};
const DIM = 10;

/** The model's vector in the roster's order. */
function vector(seed: number): Float32Array<ArrayBuffer> {
  return new Float32Array(DIM).map((_, i) => ((i * 5 + seed * 3) % 7) / 7 - 0.4);
}

/** The tensors of `v` as the Python library writes them: header and data in name order. */
function librarySafetensors(v: Float32Array, names = TORCH.tensors.map((t) => t.name)) {
  const parts = TORCH.tensors.map((t, i) => ({
    name: names[i],
    shape: t.shape,
    data: v.subarray(
      TORCH.tensors.slice(0, i).reduce((n, u) => n + u.shape.reduce((a, b) => a * b, 1), 0),
    ).subarray(0, t.shape.reduce((a, b) => a * b, 1)),
  })).sort((a, b) => (a.name < b.name ? -1 : 1));
  const values = new Float32Array(parts.flatMap((p) => [...p.data]));
  return encodeSafetensors(values, { tensors: parts.map(({ name, shape }) => ({ name, shape })) });
}

Deno.test("layout api: uploads are checked against the roster's layout; downloads are in it", async () => {
  const f = await startApiNode({ dim: DIM, maxWeight: 10, layout: TORCH, decidedRound: 20 });
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${f.api.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, ...init.headers },
    });
    const bytes = new Uint8Array(await res.arrayBuffer());
    return {
      status: res.status,
      headers: res.headers,
      bytes,
      text: new TextDecoder().decode(bytes),
    };
  };
  const post = (round: number, body: Uint8Array<ArrayBuffer>, query = "") =>
    call(`/v1/rounds/${round}/update?num_samples=2${query}`, { method: "POST", body });
  try {
    assertEquals(f.node.roster.layout, TORCH);
    // GET /v1/layout: the roster's tensors in its order (weight before bias), for trainers.
    const served = await call("/v1/layout");
    assertEquals(served.status, 200, served.text);
    assertEquals(JSON.parse(served.text), {
      dtype: "F32",
      dim: DIM,
      flat: false,
      hash: toHex(layoutHash(TORCH)),
      tensors: TORCH.tensors,
    });
    // Safetensors in name order (bias first): journaled in the roster's order.
    const ok = await post(10, librarySafetensors(vector(10)));
    assertEquals(ok.status, 202, ok.text);
    assertEquals(JSON.parse(ok.text).format, "safetensors");
    assert(equalBytes(f32Bytes((await f.node.journal.update(10))!.values), f32Bytes(vector(10))));

    // Other names: 422 naming the first difference; nothing journaled.
    const renamed = TORCH.tensors.map((t) => `model.${t.name}`);
    const mismatch = await post(11, librarySafetensors(vector(11), renamed));
    assertEquals(mismatch.status, 422, mismatch.text);
    assertEquals(JSON.parse(mismatch.text).error, "layout-mismatch");
    assertMatch(JSON.parse(mismatch.text).message, /tensor 0 'layer1\.weight' \[2, 3\] is missing/);
    assertMatch(JSON.parse(mismatch.text).message, /'model\.layer1\.weight' \[2, 3\]/);
    assertEquals(await f.node.journal.update(11), undefined);

    // Flat bodies: 422 unless the caller says flat; then taken in the roster's order.
    for (
      const [round, body] of [[12, encodeRaw(vector(12))], [13, encodeNpy(vector(13))]] as const
    ) {
      const refused = await post(round, body);
      assertEquals(refused.status, 422, refused.text);
      assertEquals(JSON.parse(refused.text).error, "flat-upload");
      assertMatch(JSON.parse(refused.text).message, /3 tensors.*layout=flat/);
      assertEquals(await f.node.journal.update(round), undefined);
      const accepted = await post(round, body, "&layout=flat");
      assertEquals(accepted.status, 202, accepted.text);
      assert(
        equalBytes(f32Bytes((await f.node.journal.update(round))!.values), f32Bytes(vector(round))),
      );
    }
    const badQuery = await post(14, encodeRaw(vector(14)), "&layout=torch");
    assertEquals([badQuery.status, JSON.parse(badQuery.text).error], [400, "layout-query"]);

    // The safetensors download: the roster's names in its order (weight before bias).
    const q = f.node.roster.quantization;
    const members = [0, 1];
    const aggregate = new Uint32Array(DIM + 1);
    for (const i of members) {
      const x = quantize(vector(30 + i), 2, q, rngFor("layout-api", i));
      for (let j = 0; j < x.length; j++) aggregate[j] += x[j];
    }
    await f.node.journal.recordAggregate({
      round: 10,
      view: 0,
      members,
      aggregate,
      certificate: Uint8Array.of(1),
    });
    const st = await call("/v1/rounds/10/aggregate?format=safetensors");
    assertEquals(st.status, 200);
    const n = new DataView(st.bytes.buffer).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(st.bytes.subarray(8, 8 + n)));
    assertEquals(Object.keys(header), ["layer1.weight", "layer1.bias", "layer2.weight"]);
    assertEquals(header["layer1.weight"].data_offsets, [0, 24]);
    const mean = dequantizeMean(aggregate, q, members.length);
    const parsed = parseUpdate(st.bytes, DIM, { layout: TORCH });
    assert(equalBytes(f32Bytes(parsed.values), f32Bytes(mean)));
    // The .npy download is the flat vector in the same order.
    const npy = await call("/v1/rounds/10/aggregate?format=npy");
    assert(equalBytes(f32Bytes(parseUpdate(npy.bytes, DIM, "npy").values), f32Bytes(mean)));
  } finally {
    await stopApiNode(f);
  }
});

Deno.test("layout api: the 202 and the token-protected metrics count the clipped values", async () => {
  // The roster's clip is 1 (the API test node pins it): 3.0 and -2.5 are clipped.
  const f = await startApiNode({ dim: 4, maxWeight: 10 });
  try {
    assertEquals(f.node.roster.quantization.clip, 1);
    const scrape = async () => {
      const res = await fetch(`${f.api.url}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      return await res.text();
    };
    // Present from start-up, at 0.
    assertMatch(await scrape(), /^fedagg_update_values_clipped_total 0$/m);
    const body = encodeRaw(new Float32Array([3, -2.5, 1, 0.25]));
    const res = await fetch(`${f.api.url}/v1/rounds/0/update?num_samples=1`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const json = await res.json();
    assertEquals(res.status, 202, JSON.stringify(json));
    assertEquals([json.clipped, json.clip], [2, 1]);
    assertMatch(await scrape(), /^fedagg_update_values_clipped_total 2$/m);
    // Not among the series the token-free scrape listener may serve.
    assert(!f.node.renderMetrics("open").includes("clipped"));
    assert(f.node.renderMetrics().includes("fedagg_update_values_clipped_total 2"));
    // Without the token, nothing.
    assertEquals(
      await fetch(`${f.api.url}/metrics`).then(async (r) => (await r.body?.cancel(), r.status)),
      401,
    );
  } finally {
    await stopApiNode(f);
  }
});
