/**
 * The issue's mixed-format federation, with three real `fedagg run` processes: the roster carries
 * a PyTorch-style layout (state_dict order: weight before bias, not name order). One member
 * uploads the safetensors file the Python library writes (tensors in name order), the others the
 * flat vector in state_dict order, raw and `.npy`. Before layouts the safetensors were flattened
 * in name order and the "exact" aggregate was not the mean the members meant; now the flat
 * uploads are refused until the caller says `layout=flat`, the safetensors are matched by name,
 * the mean is the members' weighted mean within the proven bound, every node serves the same
 * safetensors bytes in the roster's order, and `fedagg verify` accepts each downloaded format.
 *
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import "../../node/shims.ts";
import type { ModelLayout } from "../../protocol/federation/layout.ts";
import {
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  parseUpdate,
} from "../../node/tensor_formats/mod.ts";
import { LocalNet, waitFor } from "../../scripts/testnet/local_net.ts";

const TORCH: ModelLayout = {
  tensors: [
    { name: "layer1.weight", shape: [16, 8] },
    { name: "layer1.bias", shape: [16] },
    { name: "layer2.weight", shape: [4, 16] },
    { name: "layer2.bias", shape: [4] },
  ],
};
const DIM = 128 + 16 + 64 + 4;

/** Member `m`'s model as a state_dict: each tensor's values, in the layout's order. */
function stateDict(m: number): Float32Array[] {
  return TORCH.tensors.map((t, k) =>
    new Float32Array(t.shape.reduce((a, b) => a * b, 1)).map((_, j) =>
      Math.sin(m * 13 + k * 5 + j * 0.7) * (k % 2 === 0 ? 0.9 : 3)
    )
  );
}

function flat(m: number): Float32Array {
  return new Float32Array(stateDict(m).flatMap((t) => [...t]));
}

/** What `safetensors.numpy.save_file(state_dict)` writes: tensors (header and data) in name order. */
function librarySafetensors(m: number): Uint8Array<ArrayBuffer> {
  const tensors = stateDict(m);
  const order = TORCH.tensors.map((t, k) => ({ ...t, data: tensors[k] }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return encodeSafetensors(new Float32Array(order.flatMap((t) => [...t.data])), {
    tensors: order.map(({ name, shape }) => ({ name, shape })),
  });
}

Deno.test({
  name: "layout network: mixed upload formats give the members' mean in the roster's layout",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "fedagg-layout-net-" });
    const net = await LocalNet.create(out, 3, {
      dim: DIM,
      layout: TORCH,
      maxWeight: 10,
      stageTimeoutMs: 800,
      advertiseTimeoutMs: 3000,
      viewTimeoutMs: 4000,
    });
    try {
      assertEquals(net.roster.layout.tensors.map((t) => t.name), TORCH.tensors.map((t) => t.name));
      await Promise.all(net.nodes.map((n) => net.start(n)));
      await Promise.all(net.nodes.map((n) => net.connected(n)));
      const weights = [3, 1, 2];
      const post = async (m: number, body: Uint8Array<ArrayBuffer>, query = "") => {
        const res = await net.api(
          net.node(m),
          `/v1/rounds/0/update?num_samples=${weights[m]}${query}`,
          { method: "POST", body },
        );
        return { status: res.status, json: await res.json() };
      };
      // The flat uploads are refused until the caller says the vector is in the layout's order.
      const refused = await post(1, encodeRaw(flat(1)));
      assertEquals([refused.status, refused.json.error], [422, "flat-upload"]);
      const bodies = [librarySafetensors(0), encodeRaw(flat(1)), encodeNpy(flat(2))];
      const answers = await Promise.all(
        bodies.map((body, m) => post(m, body, m === 0 ? "" : "&layout=flat")),
      );
      for (const a of answers) {
        assertEquals(a.status, 202, JSON.stringify(a.json));
        assertEquals(a.json.clipped, 0);
      }
      for (const m of [0, 1, 2]) {
        await waitFor(`round 0 final at member ${m}`, async () => {
          const s = await net.status(net.node(m));
          return s?.lastFinalRound === 0 ? true : undefined;
        }, 90_000);
      }
      // Every node serves the same safetensors bytes, in the roster's order.
      const downloads: Uint8Array[] = [];
      for (const m of [0, 1, 2]) {
        const res = await net.api(net.node(m), "/v1/rounds/0/aggregate?format=safetensors");
        assertEquals(res.status, 200);
        downloads.push(new Uint8Array(await res.arrayBuffer()));
      }
      assertEquals(downloads[1], downloads[0]);
      assertEquals(downloads[2], downloads[0]);
      const n = new DataView(downloads[0].buffer).getUint32(0, true);
      const header = JSON.parse(new TextDecoder().decode(downloads[0].subarray(8, 8 + n)));
      assertEquals(Object.keys(header), TORCH.tensors.map((t) => t.name));
      // The members' weighted mean (none clipped: |x| ≤ 3 < clip 8), within the proven bound.
      const mean = parseUpdate(downloads[0], DIM, { layout: TORCH }).values;
      const q = net.roster.quantization;
      const total = weights.reduce((a, b) => a + b, 0);
      let worst = 0;
      for (let j = 0; j < DIM; j++) {
        const meant = [0, 1, 2].reduce((a, m) => a + weights[m] * flat(m)[j], 0) / total;
        worst = Math.max(worst, Math.abs(mean[j] - meant));
      }
      assert(
        worst <= q.errorBound,
        `the mean is ${worst} away from the members' (bound ${q.errorBound})`,
      );

      // fedagg verify accepts the certified sum with every downloaded mean format.
      const dir = `${out}/downloads`;
      await Deno.mkdir(dir);
      const fetchTo = async (path: string, name: string) => {
        const res = await net.api(net.node(1), path);
        assertEquals(res.status, 200, path);
        await Deno.writeFile(`${dir}/${name}`, new Uint8Array(await res.arrayBuffer()));
      };
      await fetchTo("/v1/rounds/0/certificate", "certificate.cbor");
      for (const format of ["sum", "raw", "npy", "safetensors"]) {
        await fetchTo(`/v1/rounds/0/aggregate?format=${format}`, `aggregate.${format}`);
      }
      const verify = await net.cli([
        "verify",
        ...["--certificate", `${dir}/certificate.cbor`, "--roster", net.rosterPath, "--json"],
        ...["sum", "raw", "npy", "safetensors"].flatMap((
          f,
        ) => ["--aggregate", `${dir}/aggregate.${f}`]),
      ]);
      assertEquals(verify.code, 0, verify.stdout + verify.stderr);
      const result = JSON.parse(verify.stdout);
      assertEquals(result.valid, true);
      assertEquals(result.files.map((f: { format?: string }) => f.format ?? "sum"), [
        "sum",
        "raw",
        "npy",
        "safetensors",
      ]);
    } finally {
      await net.stopAll();
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});
