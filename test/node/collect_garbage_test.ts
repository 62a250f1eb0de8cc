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

Deno.test("collectGarbageBeyond: memory freed by V8 itself since its last collection lowers the bar", () => {
  const MiB = 1 << 20;
  // A collection made while 100 MiB were live sets a high baseline...
  let live: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) live.push(new Uint8Array(MiB).fill(i));
  assert(live.every((b, i) => b[0] === i));
  collectGarbageBeyond(0);
  // ...then that memory dies and is collected by someone else (here: a plain collection).
  live = [];
  assert(collectGarbage());
  collectGarbageBeyond(1024 * MiB); // observes the low point; collects nothing
  // 90 MiB of garbage is now 90 MiB past the live memory: past a 32 MiB slack.
  let garbage: Uint8Array[] = [];
  for (let i = 0; i < 90; i++) garbage.push(new Uint8Array(MiB).fill(i));
  assert(garbage.every((b, i) => b[0] === i));
  garbage = [];
  assert(collectGarbageBeyond(32 * MiB), "90 MiB of garbage above what is live is past 32 MiB");
});
