/**
 * The trainer API's server (node/http_server.ts) under abuse, on real sockets in front of a real
 * node: thousands of idle connections and hundreds of slowloris ones are closed by the head
 * timeout and refused beyond the connection cap, and a normal request and an upload then succeed
 * on the same server; a stalled upload holds an upload slot only until the body timeout (a third
 * upload meanwhile is 503 `busy`), and memory proportional to what it sent; the process survives
 * running out of file descriptors (a child under a low fd limit); heads are parsed strictly
 * (431, 411, 400) and a slow but legitimate head, a kept-alive connection and the event stream
 * are still served. Short limits come in through serveApi's options.
 *
 * Waits are on conditions with generous deadlines, never on speed.
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { maxUpdateBytes } from "../../node/tensor_formats/mod.ts";
import { type ApiNode, startApiNode, stopApiNode, TOKEN } from "./_api_node.ts";
import { spawnApiServer } from "./_api_process.ts";
import { connect, readReply, send, untilClosed } from "./_raw_http.ts";

const DIM = 6;

/** `p`, or a rejection naming `what` after `ms` (a deadline for a hang, not a speed check). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `cond` every 50 ms until it holds; rejects naming `what` after `ms`. */
async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!await cond()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function auth(): Record<string, string> {
  return { authorization: `Bearer ${TOKEN}` };
}

/** An authenticated request over fetch; the body is read whole. */
async function call(url: string, path: string, init: RequestInit = {}) {
  const res = await fetch(`${url}${path}`, { ...init, headers: { ...auth(), ...init.headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** The answers the server wrote before closing, counted by status line. */
function tally(texts: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of texts) {
    const k = /^HTTP\/1\.1 (\d{3})/.exec(t)?.[1] ?? (t === "" ? "none" : "other");
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Opens `n` connections, `batch` at a time. */
async function openMany(port: number, n: number, batch = 100): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i += batch) {
    conns.push(
      ...await Promise.all(
        Array.from({ length: Math.min(batch, n - i) }, () => connect(port)),
      ),
    );
  }
  return conns;
}

/** A normal round's calls on the node: status 200, then an upload of `round` 202. */
async function normalCalls(f: ApiNode, round: number): Promise<void> {
  const status = await call(f.api.url, "/v1/status");
  assertEquals(status.status, 200, status.text);
  assertEquals(JSON.parse(status.text).peerId, f.ids[0].peerId);
  const up = await call(f.api.url, `/v1/rounds/${round}/update?num_samples=1`, {
    method: "POST",
    body: new Uint8Array(4 * DIM),
    headers: { "content-type": "application/octet-stream" },
  });
  assertEquals(up.status, 202, up.text);
  assert((await f.node.journal.update(round)) !== undefined, `round ${round} journaled`);
}

Deno.test({
  name: "http server: 3,000 idle connections are capped, refused beyond, closed by the head " +
    "timeout; then a normal request and an upload succeed",
  fn: async () => {
    const cap = 256;
    const f = await startApiNode({
      dim: DIM,
      limits: { maxConnections: cap, headTimeoutMs: 5_000, evictAfterMs: 3_600_000 },
    });
    try {
      // The gauge of held connections, sampled all along the flood.
      let peak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, f.node.metrics.get("fedagg_api_connections"));
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const conns = await openMany(f.port, 3_000);
      const outcomes = conns.map((c) => untilClosed(c).finally(() => c.close()));
      const texts = await within(
        Promise.all(outcomes),
        120_000,
        "every idle connection closed by the server",
      );
      sampling = false;
      await sampler;
      const counts = tally(texts);
      // Never more than `cap` held; every connection answered 408 after the head timeout or
      // refused at the cap: 503 at once (or, while `cap` refusals are in flight, closed).
      assertEquals(peak, cap, "the cap was reached and never passed");
      assertEquals(
        (counts["408"] ?? 0) + (counts["503"] ?? 0) + (counts["none"] ?? 0),
        3_000,
        JSON.stringify(counts),
      );
      assert(counts["408"] >= cap, JSON.stringify(counts));
      assert(counts["503"] >= cap, JSON.stringify(counts));
      assertEquals(
        f.node.metrics.get("fedagg_api_refusals_total", { code: "too-many-connections" }),
        counts["503"] + (counts["none"] ?? 0),
      );
      const refused = texts.find((t) => t.startsWith("HTTP/1.1 503"))!;
      assertMatch(refused, /retry-after: 1\r\n/);
      assertMatch(refused, /"error":"too-many-connections"/);
      assertMatch(texts.find((t) => t.startsWith("HTTP/1.1 408"))!, /"error":"timeout"/);
      await normalCalls(f, 1);
      await waitFor(
        () => f.node.metrics.get("fedagg_api_connections") <= 1,
        30_000,
        "only the test's kept-alive connection remains",
      );
    } finally {
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: 300 slowloris connections dribbling a head byte by byte are closed by the " +
    "head timeout; then a normal request and an upload succeed",
  fn: async () => {
    const cap = 256;
    const f = await startApiNode({
      dim: DIM,
      limits: { maxConnections: cap, headTimeoutMs: 2_000, evictAfterMs: 3_600_000 },
    });
    try {
      const conns = await openMany(f.port, 300);
      const dribbling = conns.map(async (c) => {
        try {
          await send(c, `GET /v1/status HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n`);
          for (let i = 0;; i++) {
            await send(c, "x-slow: abcdefgh\r\n"[i % 18]);
            await new Promise((r) => setTimeout(r, 100));
          }
        } catch {
          // the server closed the connection: the dribble ends
        }
      });
      const outcomes = conns.map((c) => untilClosed(c));
      const texts = await within(
        Promise.all(outcomes),
        120_000,
        "every slowloris connection closed by the server",
      );
      for (const c of conns) c.close();
      await within(Promise.all(dribbling), 60_000, "the dribbles end once closed");
      const counts = tally(texts);
      assert(counts["408"] >= 1 && counts["408"] <= cap, JSON.stringify(counts));
      assertEquals(
        counts["408"] + (counts["503"] ?? 0) + (counts["none"] ?? 0),
        300,
        JSON.stringify(counts),
      );
      assert(!texts.some((t) => t.startsWith("HTTP/1.1 200")), "no dribbled head was served");
      assert(f.node.metrics.get("fedagg_api_refusals_total", { code: "timeout" }) >= 1);
      await normalCalls(f, 2);
    } finally {
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: at the cap, a client that sends its request at once takes the place of " +
    "the connection idle longest",
  fn: async () => {
    const cap = 16;
    // A head timeout far beyond the test: only eviction can make room.
    const f = await startApiNode({
      dim: DIM,
      limits: { maxConnections: cap, headTimeoutMs: 600_000, evictAfterMs: 200 },
    });
    const idle: Deno.TcpConn[] = [];
    try {
      idle.push(...await openMany(f.port, cap));
      const outcomes = idle.map((c) => untilClosed(c));
      await waitFor(
        () => f.node.metrics.get("fedagg_api_connections") === cap,
        30_000,
        "the idle connections fill the cap",
      );
      // Older than evictAfterMs (waiting longer only adds to their age).
      await new Promise((r) => setTimeout(r, 400));
      await normalCalls(f, 2);
      assertEquals(f.node.metrics.get("fedagg_api_evictions_total"), 1, "one made room");
      assertEquals(f.node.metrics.get("fedagg_api_connections"), cap, "still at the cap");
      // The evicted one was closed without an answer; the others are still held.
      const first = await within(
        Promise.race(outcomes.map((p, i) => p.then((t) => ({ i, t })))),
        30_000,
        "one idle connection closed",
      );
      assertEquals(first.t, "");
      const stillOpen = await Promise.race([
        Promise.all(outcomes.filter((_, i) => i !== first.i)).then(() => false),
        new Promise((r) => setTimeout(() => r(true), 500)),
      ]);
      assert(stillOpen, "the other idle connections are held");
      assertEquals(
        f.node.metrics.get("fedagg_api_refusals_total", { code: "too-many-connections" }),
        0,
      );
    } finally {
      for (const c of idle) c.close();
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: a stalled upload holds its slot and memory only until the body timeout; " +
    "a third upload meanwhile is 503 busy",
  fn: async () => {
    const f = await startApiNode({
      dim: DIM,
      limits: { maxUploads: 2, bodyIdleTimeoutMs: 1_500, busyRetryAfterS: 3 },
    });
    try {
      const stalled = await openMany(f.port, 2);
      for (const [i, c] of stalled.entries()) {
        await send(
          c,
          `POST /v1/rounds/${10 + i}/update?num_samples=1 HTTP/1.1\r\nhost: x\r\n` +
            `authorization: Bearer ${TOKEN}\r\ncontent-length: ${4 * DIM}\r\n\r\n` + "0123456789",
        );
      }
      const outcomes = stalled.map((c) => untilClosed(c).finally(() => c.close()));
      await waitFor(
        () => f.node.metrics.get("fedagg_api_uploads_in_progress") === 2,
        30_000,
        "both stalled uploads hold a slot",
      );
      const busy = await call(f.api.url, "/v1/rounds/12/update?num_samples=1", {
        method: "POST",
        body: new Uint8Array(4 * DIM),
      });
      assertEquals(busy.status, 503, busy.text);
      assertEquals(JSON.parse(busy.text).error, "busy");
      assertEquals(busy.headers.get("retry-after"), "3");
      assertEquals(await f.node.journal.update(12), undefined);
      // An unauthenticated upload takes no slot: it is refused before its body is read.
      const anon = await fetch(`${f.api.url}/v1/rounds/12/update?num_samples=1`, {
        method: "POST",
        body: new Uint8Array(4 * DIM),
      });
      assertEquals(anon.status, 401);
      await anon.body?.cancel();
      // The stalled uploads time out: 408 `timeout`, closed, slots free, nothing journaled.
      const texts = await within(Promise.all(outcomes), 60_000, "stalled uploads closed");
      for (const t of texts) {
        assertMatch(t, /^HTTP\/1\.1 408 /);
        assertMatch(t, /"error":"timeout"/);
        assertMatch(t, /no byte of the request body arrived for 1500 ms/);
      }
      assertEquals(f.node.metrics.get("fedagg_api_uploads_in_progress"), 0);
      assertEquals(await f.node.journal.update(10), undefined);
      await normalCalls(f, 2);
    } finally {
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: a stalled upload's memory follows the bytes received, not Content-Length",
  fn: async () => {
    // d = 2^25: an update may be 128 MiB; two uploads declare that much and send 256 KiB each.
    const dim = 2 ** 25;
    const server = await spawnApiServer({ dim, limits: { bodyIdleTimeoutMs: 60_000 } });
    const conns: Deno.TcpConn[] = [];
    try {
      const before = await server.mem();
      const declared = maxUpdateBytes(dim);
      for (let i = 0; i < 2; i++) {
        const c = await connect(server.port);
        conns.push(c);
        await send(
          c,
          `POST /v1/rounds/${i}/update?num_samples=1 HTTP/1.1\r\nhost: x\r\n` +
            `authorization: Bearer ${TOKEN}\r\ncontent-length: ${declared}\r\n\r\n`,
        );
        await send(c, new Uint8Array(256 * 1024));
      }
      await waitFor(
        async () => (await server.mem()).uploads === 2,
        60_000,
        "both uploads are being read",
      );
      // Give the server the time to take in the bytes already sent (a condition on memory would
      // hide the difference this test is about): poll a few times and keep the largest figure.
      let peak = before.external;
      for (let i = 0; i < 10; i++) {
        peak = Math.max(peak, (await server.mem()).external);
        await new Promise((r) => setTimeout(r, 100));
      }
      const grown = peak - before.external;
      // Preallocating Content-Length would be 2 × 129 MiB; growing with the bytes is ≤ 2 × 512 KiB
      // plus read buffers. 32 MiB leaves room for anything else the process does meanwhile.
      assert(grown < 32 * 2 ** 20, `external memory grew by ${grown} bytes`);
    } finally {
      for (const c of conns) c.close();
      assertEquals(await server.stop(), 0, server.stderr());
    }
  },
});

Deno.test({
  name: "http server: the process survives running out of file descriptors and answers after",
  fn: async () => {
    // A cap above the fd limit: accept itself fails (EMFILE) while the flood is held.
    const server = await spawnApiServer(
      { dim: DIM, limits: { maxConnections: 10_000, headTimeoutMs: 1_500 } },
      128,
    );
    try {
      const conns = await openMany(server.port, 400);
      const texts = await within(
        Promise.all(conns.map((c) => untilClosed(c).finally(() => c.close()))),
        120_000,
        "every flooding connection closed by the server",
      );
      assertEquals(server.exited(), undefined, `the server died: ${server.stderr()}`);
      assert(
        server.stderr().includes("trainer API cannot accept connections; retrying"),
        `the flood should have hit the fd limit: ${server.stderr()}`,
      );
      assertMatch(server.stderr(), /Too many open files/);
      const counts = tally(texts);
      assertEquals(
        (counts["408"] ?? 0) + (counts["none"] ?? 0) + (counts["503"] ?? 0),
        400,
        JSON.stringify(counts),
      );
      assert(counts["408"] >= 1, JSON.stringify(counts));
      await waitFor(
        () => server.stderr().includes("trainer API accepts connections again"),
        60_000,
        "accept recovers",
      );
      const status = await call(server.url, "/v1/status");
      assertEquals(status.status, 200, status.text);
      const up = await call(server.url, "/v1/rounds/0/update?num_samples=1", {
        method: "POST",
        body: new Uint8Array(4 * DIM),
      });
      assertEquals(up.status, 202, up.text);
    } finally {
      assertEquals(await server.stop(), 0, server.stderr());
    }
  },
});

Deno.test("http server: strict heads (431, 411, 400); slow but complete heads, keep-alive and the event stream are served", async (t) => {
  const f = await startApiNode({
    dim: DIM,
    limits: { headTimeoutMs: 3_000, keepAliveTimeoutMs: 1_000, maxHeadBytes: 4096 },
  });
  const raw = async (head: string) => {
    const c = await connect(f.port);
    try {
      await send(c, head);
      return await readReply(c);
    } finally {
      c.close();
    }
  };
  try {
    await t.step("431 for a head over the limit or with too many fields", async () => {
      const big = await raw(
        `GET /v1/status HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(5000)}\r\n\r\n`,
      );
      assertEquals(big.status, 431);
      assertEquals(big.json().error, "header-too-large");
      let many = "GET /v1/status HTTP/1.1\r\nhost: x\r\n";
      for (let i = 0; i < 70; i++) many += `x-${i}: 1\r\n`;
      const r = await raw(many + "\r\n");
      assertEquals(r.status, 431);
    });
    await t.step("411 for Transfer-Encoding, before any body byte", async () => {
      const r = await raw(
        `POST /v1/rounds/0/update?num_samples=1 HTTP/1.1\r\nhost: x\r\n` +
          `authorization: Bearer ${TOKEN}\r\ntransfer-encoding: chunked\r\n\r\n`,
      );
      assertEquals(r.status, 411);
      assertEquals(r.json().error, "length-required");
      assertEquals(r.headers["connection"], "close");
    });
    await t.step("400 for malformed heads", async () => {
      for (
        const head of [
          "GET /v1/status HTTP/1.1\nhost: x\n\n\r\n\r\n", // bare LF
          "GET /v1/status HTTP/1.1\r\n\r\n", // no Host
          "GET http://x/v1/status HTTP/1.1\r\nhost: x\r\n\r\n", // absolute form
          "GET /v1/status HTTP/2.0\r\nhost: x\r\n\r\n",
          "GET /v1/status HTTP/1.1\r\nhost: x\r\nx-a : 1\r\n\r\n", // space before colon
          "GET /v1/status HTTP/1.1\r\nhost: x\r\nx-a: 1\r\n folded\r\n\r\n",
          "POST /v1/rounds/0/update HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n",
          "POST /v1/rounds/0/update HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n",
        ]
      ) {
        const r = await raw(head);
        assertEquals(r.status, 400, head);
        assertEquals(r.json().error, "bad-request", head);
      }
    });
    await t.step(
      "a head dribbled byte by byte within the timeout, on a kept-alive connection",
      async () => {
        const c = await connect(f.port);
        try {
          const head =
            `GET /v1/status HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n\r\n`;
          await send(c, head);
          assertEquals((await readReply(c)).status, 200);
          // The second head arrives one byte at a time (the buffer is compacted between them).
          for (const ch of head + head.slice(0, 10)) await send(c, ch);
          assertEquals((await readReply(c)).status, 200);
          for (const ch of head.slice(10)) await send(c, ch);
          assertEquals((await readReply(c)).status, 200);
          // Idle past the keep-alive timeout: the server closes without a word.
          assertEquals(await within(untilClosed(c), 30_000, "idle keep-alive closed"), "");
        } finally {
          c.close();
        }
      },
    );
    await t.step("the event stream outlives the keep-alive and head timeouts", async () => {
      const res = await fetch(`${f.api.url}/v1/events`, { headers: auth() });
      assertEquals(res.status, 200);
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      assert(first.startsWith(":"), first);
      // Longer than the keep-alive (1 s) and head (3 s) timeouts, no byte comes and the stream
      // stays open (the first keep-alive comment is due after 15 s).
      const pending = reader.read();
      const early = await Promise.race([
        pending.then(() => "ended"),
        new Promise((r) => setTimeout(() => r("open"), 4_000)),
      ]);
      assertEquals(early, "open");
      // Shutdown ends it cleanly, promptly.
      await within(f.api.shutdown(), 30_000, "shutdown with an open event stream");
      assertEquals((await within(pending, 30_000, "the stream ends")).done, true);
    });
  } finally {
    await stopApiNode(f);
  }
});

/** A request without the token declaring a 60,000-byte body, of which it sends one byte. */
const REFUSED_POST = `POST /v1/rounds/0/update?num_samples=1 HTTP/1.1\r\nhost: x\r\n` +
  `content-length: 60000\r\n\r\nA`;

Deno.test({
  name: "http server: after a refusal, an unread body must arrive within drainTimeoutMs",
  fn: async () => {
    // The body idle timeout is far beyond the test: only the drain deadline can close them.
    const f = await startApiNode({
      dim: DIM,
      limits: {
        maxConnections: 8,
        drainTimeoutMs: 500,
        bodyIdleTimeoutMs: 600_000,
        evictAfterMs: 3_600_000,
      },
    });
    const conns: Deno.TcpConn[] = [];
    try {
      conns.push(...await openMany(f.port, 4));
      for (const c of conns) await send(c, REFUSED_POST);
      const replies = await within(
        Promise.all(conns.map((c) => readReply(c))),
        30_000,
        "the refusals are answered",
      );
      for (const r of replies) assertEquals(r.status, 401);
      // A byte now and then (well within the body idle timeout) does not keep them open.
      const trickle = setInterval(() => {
        for (const c of conns) c.write(new Uint8Array([65])).catch(() => {});
      }, 100);
      try {
        const rest = await within(
          Promise.all(conns.map((c) => untilClosed(c))),
          30_000,
          "every refused connection closed by the server",
        );
        assertEquals(rest, ["", "", "", ""], "nothing more was answered");
      } finally {
        clearInterval(trickle);
      }
      await normalCalls(f, 1);
    } finally {
      for (const c of conns) c.close();
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: a refused request's Expect: 100-continue body is not waited for: closed",
  fn: async () => {
    const f = await startApiNode({
      dim: DIM,
      limits: { drainTimeoutMs: 600_000, bodyIdleTimeoutMs: 600_000 },
    });
    const c = await connect(f.port);
    try {
      await send(
        c,
        `POST /v1/rounds/0/update?num_samples=1 HTTP/1.1\r\nhost: x\r\n` +
          `content-length: 24\r\nexpect: 100-continue\r\n\r\n`,
      );
      const reply = await within(readReply(c), 30_000, "the refusal");
      assertEquals(reply.status, 401);
      assertEquals(reply.headers["connection"], "close");
      assertEquals(await within(untilClosed(c), 30_000, "closed by the server"), "");
    } finally {
      c.close();
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: at the cap, a connection discarding a refused body is evicted for a new one",
  fn: async () => {
    const cap = 4;
    // Neither the drain nor the body idle timeout ends within the test: only eviction makes room.
    const f = await startApiNode({
      dim: DIM,
      limits: {
        maxConnections: cap,
        drainTimeoutMs: 600_000,
        bodyIdleTimeoutMs: 600_000,
        evictAfterMs: 200,
      },
    });
    const conns: Deno.TcpConn[] = [];
    try {
      conns.push(...await openMany(f.port, cap));
      for (const c of conns) await send(c, REFUSED_POST);
      for (const c of conns) assertEquals((await readReply(c)).status, 401);
      await waitFor(
        () => f.node.metrics.get("fedagg_api_connections") === cap,
        30_000,
        "the refused connections fill the cap",
      );
      // Older than evictAfterMs (waiting longer only adds to their age).
      await new Promise((r) => setTimeout(r, 400));
      await normalCalls(f, 1);
      assert(f.node.metrics.get("fedagg_api_evictions_total") >= 1, "one made room");
      assertEquals(
        f.node.metrics.get("fedagg_api_refusals_total", { code: "too-many-connections" }),
        0,
      );
    } finally {
      for (const c of conns) c.close();
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: an event stream ends as soon as its client goes away",
  fn: async () => {
    const f = await startApiNode({ dim: DIM });
    try {
      const c = await connect(f.port);
      await send(c, `GET /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n\r\n`);
      const first = new Uint8Array(4096);
      const n = await within(c.read(first), 30_000, "the stream's head");
      assertMatch(new TextDecoder().decode(first.subarray(0, n!)), /^HTTP\/1\.1 200 /);
      await waitFor(
        () => f.node.metrics.get("fedagg_api_connections") === 1,
        30_000,
        "the stream's connection is held",
      );
      c.close();
      // The stream's first write after the client left would come with the keep-alive comment
      // (15 s): before that, only reading the connection can notice the client is gone.
      await waitFor(
        () => f.node.metrics.get("fedagg_api_connections") === 0,
        10_000,
        "the stream's connection released",
      );
    } finally {
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: HTTP/1.0 keep-alive is answered Connection: keep-alive and kept; no " +
    "100 Continue to HTTP/1.0",
  fn: async () => {
    const f = await startApiNode({ dim: DIM });
    const c = await connect(f.port);
    try {
      const get = `GET /v1/status HTTP/1.0\r\nconnection: keep-alive\r\n` +
        `authorization: Bearer ${TOKEN}\r\n\r\n`;
      await send(c, get);
      const first = await within(readReply(c), 30_000, "the first answer");
      assertEquals(first.status, 200);
      assertEquals(first.headers["connection"], "keep-alive");
      await send(c, get);
      const second = await within(readReply(c), 30_000, "the second answer, same connection");
      assertEquals(second.status, 200);
      // An HTTP/1.0 upload with Expect: 100-continue: the body follows a moment later, and the
      // first thing answered is the final status, not a 100 (which HTTP/1.0 does not know).
      await send(
        c,
        `POST /v1/rounds/1/update?num_samples=1 HTTP/1.0\r\nauthorization: Bearer ${TOKEN}\r\n` +
          `content-length: ${4 * DIM}\r\nexpect: 100-continue\r\n\r\n`,
      );
      await new Promise((r) => setTimeout(r, 300));
      await send(c, new Uint8Array(4 * DIM));
      const up = await within(readReply(c), 30_000, "the upload's answer");
      assertEquals(up.status, 202, new TextDecoder().decode(up.body));
      assertEquals(up.headers["connection"], "close");
    } finally {
      c.close();
      await stopApiNode(f);
    }
  },
});

Deno.test({
  name: "http server: tens of thousands of requests on one kept-alive connection hold no memory",
  fn: async () => {
    // Each answered request used to stay reachable from the connection until it closed.
    const server = await spawnApiServer({ dim: DIM });
    const c = await connect(server.port);
    try {
      const one = new TextEncoder().encode("GET /v1/status HTTP/1.1\r\nhost: x\r\n\r\n");
      const batch = new Uint8Array(one.length * 200);
      for (let i = 0; i < 200; i++) batch.set(one, i * one.length);
      // Answers counted by their status line (a line may straddle two reads).
      let answered = 0;
      const reading = (async () => {
        const scratch = new Uint8Array(1 << 16);
        let tail = "";
        for (let n; (n = await c.read(scratch)) !== null;) {
          const text = tail + new TextDecoder().decode(scratch.subarray(0, n));
          answered += text.split("HTTP/1.1 401 ").length - 1;
          tail = text.slice(-12);
        }
      })().catch(() => {});
      let sent = 0;
      const pipeline = async (requests: number) => {
        for (let i = 0; i < requests; i += 200) {
          await send(c, batch);
          sent += 200;
          // At most 2,000 answers in flight, so the client's side never stalls the server's.
          await waitFor(() => answered >= sent - 2_000, 60_000, "the server answers");
        }
        await waitFor(() => answered >= sent, 60_000, "every pipelined request answered");
      };
      await pipeline(2_000); // warm-up
      const before = (await server.mem()).heapUsed;
      await pipeline(40_000);
      const after = (await server.mem()).heapUsed;
      assertEquals(answered, 42_000);
      // Retained answers were ~3 KB each: 40,000 would be over 100 MB.
      assert(
        after - before < 20 * 2 ** 20,
        `heap grew by ${((after - before) / 2 ** 20).toFixed(1)} MiB over 40,000 requests`,
      );
      c.close();
      await reading;
    } finally {
      try {
        c.close();
      } catch {
        // closed above
      }
      assertEquals(await server.stop(), 0, server.stderr());
    }
  },
});
