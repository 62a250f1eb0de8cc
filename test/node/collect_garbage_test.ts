/**
 * `collectGarbage` (node/collect_garbage.ts) runs a collection on demand: ArrayBuffers dropped
 * just before it are freed by it (the thread's external memory falls by about their size),
 * without the process having been started with `--expose-gc`.
 */
import { assert } from "../_assert.ts";
import { collectGarbage } from "../../node/collect_garbage.ts";

Deno.test("collectGarbage frees dropped ArrayBuffers at once", () => {
  assert(collectGarbage(), "a gc function is available");
  const MiB = 1 << 20;
  let buffers: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) buffers.push(new Uint8Array(MiB).fill(i));
  const held = Deno.memoryUsage().external;
  assert(buffers.every((b, i) => b[0] === i)); // used, so not optimised away
  buffers = [];
  assert(collectGarbage());
  const after = Deno.memoryUsage().external;
  assert(held - after >= 60 * MiB, `external ${held} → ${after} bytes`);
});
