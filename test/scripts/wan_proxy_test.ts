/**
 * The test network's link emulator (scripts/testnet/wan_proxy.ts) over real sockets on
 * 127.0.0.1: bytes arrive intact and in order through a delayed, rate-limited, jittery link in
 * both directions, a half-close travels after the data before it, and the delay and the rate
 * are applied (checked only from below, loosely: timers never fire early, but a busy machine may
 * make anything later, so no upper bound is asserted). A connection to a route whose target is
 * down is closed without taking the proxy down.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { freePort } from "../../scripts/testnet/local_net.ts";
import { checkShape, WanProxy } from "../../scripts/testnet/wan_proxy.ts";

/** Deterministic bytes whose every position differs from its neighbours'. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function readAll(conn: Deno.Conn): Promise<{ bytes: Uint8Array; firstAt: number }> {
  const parts: Uint8Array[] = [];
  let firstAt = -1;
  const buf = new Uint8Array(32 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    if (firstAt < 0) firstAt = performance.now();
    parts.push(buf.slice(0, n));
  }
  const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, firstAt };
}

/** Writes in uneven pieces (so chunk boundaries differ from the proxy's). */
async function writeInPieces(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let o = 0;
  for (let k = 0; o < bytes.length; k++) {
    const end = Math.min(bytes.length, o + 1 + ((k * 7919) % 50_000));
    for (let p = o; p < end;) p += await conn.write(bytes.subarray(p, end));
    o = end;
  }
}

Deno.test("wan proxy: a shaped link delivers both directions intact, in order, delayed and rate-limited", async () => {
  // The target answers every byte it gets with the same byte XOR 0x5a, then closes.
  const targetPort = freePort();
  const target = Deno.listen({ hostname: "127.0.0.1", port: targetPort });
  const served = (async () => {
    const conn = await target.accept();
    const { bytes } = await readAll(conn);
    const answer = bytes.map((b) => b ^ 0x5a);
    await writeInPieces(conn, answer);
    conn.close();
    return bytes.length;
  })();
  const listenPort = freePort();
  const bandwidth = 4_000_000; // bytes/s
  const oneWay = 40;
  const proxy = WanProxy.start([{ listenPort, targetPort }], {
    oneWayDelayMs: oneWay,
    bandwidthBytesPerSec: bandwidth,
    jitterMs: 15,
    seed: 7,
  });
  try {
    const size = 1_000_000;
    const sent = pattern(size, 42);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listenPort });
    const t0 = performance.now();
    const reading = readAll(conn);
    await writeInPieces(conn, sent);
    await conn.closeWrite();
    const { bytes: back, firstAt } = await reading;
    const elapsed = performance.now() - t0;
    conn.close();
    assertEquals(await served, size);
    assertEquals(back.length, size);
    assert(back.every((b, i) => b === (sent[i] ^ 0x5a)), "bytes changed or reordered");
    // The first answer byte needs the whole request through the link (the target answers after
    // the half-close) and two one-way delays (less up to the jitter each way).
    const floor = (2 * size / bandwidth) * 1000 + 2 * (oneWay - 15);
    assert(firstAt - t0 >= 0.8 * (size / bandwidth) * 1000, `answer after ${firstAt - t0} ms`);
    assert(elapsed >= 0.8 * floor, `round trip of ${elapsed.toFixed(0)} ms, floor ${floor} ms`);
    // Counted per link and direction.
    assertEquals(proxy.links.map((l) => [l.direction, l.bytes]), [["in", size], ["out", size]]);
    assertEquals(proxy.maxLinkBytes(), size);
  } finally {
    await proxy.stop();
    target.close();
  }
});

Deno.test("wan proxy: a route whose target is down closes the connection; the proxy goes on", async () => {
  const listenPort = freePort();
  const targetPort = freePort(); // nothing listens there yet
  const proxy = WanProxy.start([{ listenPort, targetPort }], {
    oneWayDelayMs: 5,
    bandwidthBytesPerSec: Infinity,
    jitterMs: 0,
    seed: 1,
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: listenPort });
    const { bytes } = await readAll(conn).catch(() => ({ bytes: new Uint8Array(0) }));
    assertEquals(bytes.length, 0);
    conn.close();
    // Now the target is up: the same route forwards.
    const target = Deno.listen({ hostname: "127.0.0.1", port: targetPort });
    const echoed = (async () => {
      const c = await target.accept();
      const { bytes } = await readAll(c);
      await writeInPieces(c, bytes);
      c.close();
    })();
    const again = await Deno.connect({ hostname: "127.0.0.1", port: listenPort });
    const sent = pattern(10_000, 3);
    const reading = readAll(again);
    await writeInPieces(again, sent);
    await again.closeWrite();
    assertEquals((await reading).bytes, sent);
    again.close();
    await echoed;
    target.close();
  } finally {
    await proxy.stop();
  }
});

Deno.test("wan proxy: refuses a shape it cannot apply", () => {
  const ok = { oneWayDelayMs: 1, bandwidthBytesPerSec: 1, jitterMs: 0, seed: 0 };
  assertThrows(() => checkShape({ ...ok, oneWayDelayMs: -1 }), RangeError, "delay");
  assertThrows(() => checkShape({ ...ok, jitterMs: NaN }), RangeError, "jitter");
  assertThrows(() => checkShape({ ...ok, bandwidthBytesPerSec: 0 }), RangeError, "bandwidth");
  assertThrows(() => checkShape({ ...ok, seed: 0.5 }), RangeError, "seed");
});
