/**
 * A userspace wide-area link emulator for the test network: TCP proxies on 127.0.0.1 that add a
 * one-way delay, a bandwidth limit and seeded jitter to every connection through them, for
 * machines whose kernel has no netem.
 *
 * Each {@link WanRoute} listens on one port and forwards every connection it accepts to a target
 * port (in the test network: the roster lists the proxy's port as a member's address, and the
 * proxy forwards to the port the member's process listens on). Every accepted connection is one
 * **link** of its own, shaped in each direction independently:
 *
 * - **bandwidth**: a token bucket of `bandwidthBytesPerSec` with a depth of a few milliseconds;
 *   a chunk read from one side occupies the link for `bytes / bandwidth` after the previous one,
 *   and the proxy reads no further from that side until then (so the sender's TCP window, and
 *   through it the sender, feel the limit);
 * - **delay**: each chunk arrives `oneWayDelayMs` after its last byte left, plus a jitter drawn
 *   uniformly from ±`jitterMs` (from a seeded generator per link, so the sequence of draws is
 *   the same for the same seed and order of connections);
 * - **order**: arrivals never overtake each other (a chunk whose jitter would make it arrive
 *   before its predecessor arrives just after it), so the byte stream is delivered intact and
 *   in order, as TCP guarantees.
 *
 * Half-closes are forwarded once everything before them has been delivered; a reset or error on
 * either side closes both. Links are independent: this models a mesh of dedicated point-to-point
 * links (the bottleneck of a transfer is its own link), not access links shared by all of a
 * member's connections. The proxy itself needs CPU: on a busy machine its timers fire late, which
 * adds delay and takes a little bandwidth; compare figures with the shape they were run under.
 *
 * @module
 */

/** How every link through a proxy is shaped (each direction independently). */
export interface LinkShape {
  /** One-way propagation delay in milliseconds (half the round-trip time), ≥ 0. */
  readonly oneWayDelayMs: number;
  /** Bytes per second each way (Infinity: no limit). */
  readonly bandwidthBytesPerSec: number;
  /** Each chunk's delay varies uniformly within ±jitterMs (never below 0), ≥ 0. */
  readonly jitterMs: number;
  /** Seed of the jitter generators. */
  readonly seed: number;
}

/** One forwarding: connections accepted on `listenPort` go to `targetPort` (both 127.0.0.1). */
export interface WanRoute {
  readonly listenPort: number;
  readonly targetPort: number;
}

/** Bytes a link carried in one direction. */
export interface LinkCount {
  /** Index of the route the connection came through. */
  readonly route: number;
  /** `in`: towards the route's target; `out`: back to the connecting side. */
  readonly direction: "in" | "out";
  bytes: number;
}

/** Largest chunk read at once (the unit the link is scheduled in). */
const CHUNK = 64 * 1024;
/** Token bucket depth: how far an idle link may run ahead of its rate (ms). */
const BURST_MS = 4;
/** Bytes a direction may hold (arrived but not yet written on) before it stops reading. */
const MAX_HELD = 16 << 20;

/** The shape's numbers, checked: throws a RangeError naming the first bad one. */
export function checkShape(shape: LinkShape): LinkShape {
  const ok = (v: number) => Number.isFinite(v) && v >= 0;
  if (!ok(shape.oneWayDelayMs)) throw new RangeError(`one-way delay ${shape.oneWayDelayMs} ms`);
  if (!ok(shape.jitterMs)) throw new RangeError(`jitter ${shape.jitterMs} ms`);
  if (!(shape.bandwidthBytesPerSec > 0)) {
    throw new RangeError(`bandwidth ${shape.bandwidthBytesPerSec} bytes/s`);
  }
  if (!Number.isSafeInteger(shape.seed)) throw new RangeError(`seed ${shape.seed}`);
  return shape;
}

/** Proxies shaping every connection through them; {@link stop} ends them all. */
export class WanProxy {
  readonly shape: LinkShape;
  /** Bytes per link and direction, in the order links were opened (for bottleneck figures). */
  readonly links: LinkCount[] = [];
  readonly #listeners: Deno.Listener[] = [];
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  #linkCount = 0;
  #stopped = false;

  private constructor(shape: LinkShape) {
    this.shape = checkShape(shape);
  }

  /** Starts listening on every route's port (127.0.0.1) and forwarding as described above. */
  static start(routes: readonly WanRoute[], shape: LinkShape): WanProxy {
    const proxy = new WanProxy(shape);
    routes.forEach((route, index) => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: route.listenPort });
      proxy.#listeners.push(listener);
      proxy.#track(proxy.#accept(listener, route, index));
    });
    return proxy;
  }

  /** Closes the listeners and every connection; resolves when all forwarding has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const l of this.#listeners) close(l);
    for (const c of this.#conns) close(c);
    await Promise.allSettled([...this.#tasks]);
  }

  /** Most bytes any one link carried in one direction (the bottleneck link's load). */
  maxLinkBytes(): number {
    return this.links.reduce((m, l) => Math.max(m, l.bytes), 0);
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #accept(listener: Deno.Listener, route: WanRoute, index: number): Promise<void> {
    for (;;) {
      let inbound: Deno.Conn;
      try {
        inbound = await listener.accept();
      } catch {
        return; // closed
      }
      if (this.#stopped) {
        close(inbound);
        return;
      }
      this.#track(this.#link(inbound, route, index));
    }
  }

  async #link(inbound: Deno.Conn, route: WanRoute, index: number): Promise<void> {
    this.#conns.add(inbound);
    let outbound: Deno.Conn | undefined;
    try {
      outbound = await Deno.connect({ hostname: "127.0.0.1", port: route.targetPort });
    } catch {
      close(inbound); // the target is down: the connecting side sees a closed connection
      this.#conns.delete(inbound);
      return;
    }
    this.#conns.add(outbound);
    const link = this.#linkCount++;
    const inCount: LinkCount = { route: index, direction: "in", bytes: 0 };
    const outCount: LinkCount = { route: index, direction: "out", bytes: 0 };
    this.links.push(inCount, outCount);
    const closeBoth = () => {
      close(inbound);
      close(outbound);
    };
    await Promise.all([
      pump(inbound, outbound, this.shape, mulberry32(mix(this.shape.seed, link, 0)), inCount)
        .catch(closeBoth),
      pump(outbound, inbound, this.shape, mulberry32(mix(this.shape.seed, link, 1)), outCount)
        .catch(closeBoth),
    ]);
    closeBoth();
    this.#conns.delete(inbound);
    this.#conns.delete(outbound);
  }
}

/**
 * Moves bytes from `src` to `dst` through one shaped direction of a link. Resolves after `src`
 * ended and everything read was delivered (then half-closes `dst`); rejects on an error of
 * either side.
 */
async function pump(
  src: Deno.Conn,
  dst: Deno.Conn,
  shape: LinkShape,
  random: () => number,
  count: LinkCount,
): Promise<void> {
  const queue: { at: number; bytes: Uint8Array }[] = [];
  let held = 0;
  let ended = false;
  let failed: unknown;
  let wakeWriter: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;
  const msPerByte = 1000 / shape.bandwidthBytesPerSec;

  const writer = (async () => {
    try {
      for (;;) {
        while (queue.length === 0) {
          if (ended) return;
          await new Promise<void>((r) => wakeWriter = r);
          wakeWriter = undefined;
        }
        const head = queue[0];
        const wait = head.at - performance.now();
        if (wait >= 1) await sleep(wait);
        queue.shift();
        await writeAll(dst, head.bytes);
        held -= head.bytes.length;
        wakeReader?.();
      }
    } catch (err) {
      failed = err;
      wakeReader?.();
    }
  })();

  let linkFree = 0; // when the link has sent everything scheduled so far
  let lastArrival = 0;
  for (;;) {
    if (failed !== undefined) break;
    const buf = new Uint8Array(CHUNK);
    let n: number | null;
    try {
      n = await src.read(buf);
    } catch (err) {
      failed ??= err;
      break;
    }
    if (n === null) break;
    count.bytes += n;
    const now = performance.now();
    const start = Math.max(linkFree, now - BURST_MS);
    linkFree = start + n * msPerByte;
    const jitter = shape.jitterMs === 0 ? 0 : (random() * 2 - 1) * shape.jitterMs;
    const arrival = Math.max(linkFree + Math.max(0, shape.oneWayDelayMs + jitter), lastArrival);
    lastArrival = arrival;
    queue.push({ at: arrival, bytes: buf.subarray(0, n) });
    held += n;
    wakeWriter?.();
    // Read on only when the link has room again (the bandwidth limit reaches the sender through
    // its TCP window) and the receiving side is not too far behind.
    const ahead = linkFree - performance.now() - BURST_MS;
    if (ahead >= 1) await sleep(ahead);
    while (held > MAX_HELD && failed === undefined) {
      await new Promise<void>((r) => wakeReader = r);
      wakeReader = undefined;
    }
  }
  ended = true;
  wakeWriter?.();
  await writer;
  if (failed !== undefined) throw failed;
  await dst.closeWrite();
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

function close(c: Deno.Conn | Deno.Listener): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A 32-bit seed from (seed, link, direction). */
function mix(seed: number, link: number, direction: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [link, direction]) {
    h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** A small seeded generator of floats in [0, 1) (mulberry32); jitter only, not cryptographic. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
