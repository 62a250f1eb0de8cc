/**
 * `collectGarbage` (node/collect_garbage.ts) runs a collection on demand: ArrayBuffers dropped
 * just before it are freed by it (the thread's external memory falls by about their size),
 * without the process having been started with `--expose-gc`. `collectGarbageBeyond` collects
 * only once external memory grew past its slack since its last collection.
 */
import { assert } from "../_assert.ts";
import { collectGarbage, collectGarbageBeyond } from "../../node/collect_garbage.ts";

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

Deno.test("collectGarbageBeyond collects only past its slack", () => {
  const MiB = 1 << 20;
  collectGarbageBeyond(0); // a baseline: collects (something was allocated since the start)
  assert(!collectGarbageBeyond(256 * MiB), "nothing near 256 MiB allocated since");
  let buffers: Uint8Array[] = [];
  for (let i = 0; i < 48; i++) buffers.push(new Uint8Array(MiB).fill(i));
  assert(buffers.every((b, i) => b[0] === i));
  buffers = [];
  assert(!collectGarbageBeyond(64 * MiB), "48 MiB is within a 64 MiB slack");
  const before = Deno.memoryUsage().external;
  assert(collectGarbageBeyond(32 * MiB), "48 MiB is past a 32 MiB slack");
  const after = Deno.memoryUsage().external;
  assert(before - after >= 40 * MiB, `external ${before} → ${after} bytes`);
});
