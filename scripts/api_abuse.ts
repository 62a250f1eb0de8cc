/**
 * Measures the trainer API under abuse, against a real node's API in a child process (its own
 * memory and open-file limit), with the default limits unless `--head-timeout-ms` is given:
 *
 * 1. **idle flood**: `--idle` connections (default 3,000) that never send a byte: how many the
 *    server holds, how many it refuses, its RSS before, during and after, and the time from the
 *    flood's start until it is open, until a normal request (first tried 1 s after it is open)
 *    succeeds and until every flooding connection is closed;
 * 2. **slowloris**: `--slow` connections (default 500) dribbling a head one byte per 100 ms:
 *    the same figures;
 * 3. **stalled uploads**: two uploads declaring 128 MiB (d = 2^25) that send 256 KiB and stall:
 *    the growth of the child's external (ArrayBuffer) memory and RSS, and a third upload's status;
 * 4. **fd exhaustion**: a child under a 256-file limit (cap 10,000, so accept itself fails)
 *    flooded with 1,000 connections: whether it survives, and the time until it answers again.
 *
 * `deno run --allow-all scripts/api_abuse.ts [--idle 3000] [--slow 500] [--head-timeout-ms 10000]`
 * prints one JSON object per phase. Nothing here asserts; the tests do (test/node/http_server_test.ts).
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { maxUpdateBytes } from "../node/tensor_formats/mod.ts";
import { TOKEN } from "../test/node/_api_node.ts";
import { type ApiProcess, spawnApiServer } from "../test/node/_api_process.ts";
import { connect, send, untilClosed } from "../test/node/_raw_http.ts";

const args = parseArgs(Deno.args, { string: ["idle", "slow", "head-timeout-ms"] });
const IDLE = Number(args.idle ?? 3000);
const SLOW = Number(args.slow ?? 500);
const HEAD_TIMEOUT = args["head-timeout-ms"] === undefined
  ? undefined
  : Number(args["head-timeout-ms"]);
const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (n: number) => Math.round(n / MiB * 10) / 10;

async function openMany(port: number, n: number): Promise<Deno.TcpConn[]> {
  const out: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i += 100) {
    out.push(
      ...await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => connect(port))),
    );
  }
  return out;
}

/** Milliseconds from `since` until a status request on a new connection answers 200. */
async function recovery(server: ApiProcess, since: number, deadlineMs: number) {
  while (performance.now() - since < deadlineMs) {
    try {
      const res = await fetch(`${server.url}/v1/status`, {
        headers: { authorization: `Bearer ${TOKEN}`, connection: "close" },
        signal: AbortSignal.timeout(2000),
      });
      await res.body?.cancel();
      if (res.status === 200) return Math.round(performance.now() - since);
    } catch {
      // not yet
    }
    await sleep(100);
  }
  return `not within ${deadlineMs} ms`;
}

function tally(texts: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of texts) {
    const k = /^HTTP\/1\.1 (\d{3})/.exec(t)?.[1] ?? (t === "" ? "closed-silently" : "other");
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** A flood of `n` connections, each running `behave` once open. */
async function flood(
  name: string,
  n: number,
  behave: (c: Deno.TcpConn) => Promise<void>,
): Promise<void> {
  const server = await spawnApiServer({ dim: 6, limits: { headTimeoutMs: HEAD_TIMEOUT } });
  try {
    const before = await server.mem();
    const start = performance.now();
    const conns = await openMany(server.port, n);
    const opened = performance.now() - start;
    const closed = conns.map((c) => {
      behave(c).catch(() => {});
      return untilClosed(c).then((t) => ({ t, ms: performance.now() - start }));
    });
    await sleep(1000);
    const during = await server.mem();
    const recovered = await recovery(server, start, 120_000);
    const outcomes = await Promise.race([
      Promise.all(closed),
      sleep(180_000).then(() => undefined),
    ]);
    const after = await server.mem();
    for (const c of conns) c.close();
    console.log(JSON.stringify({
      phase: name,
      connections: n,
      openedInMs: Math.round(opened),
      heldByServer: during.connections,
      answers: outcomes ? tally(outcomes.map((o) => o.t)) : "not all closed within 180 s",
      allClosedAfterMs: outcomes ? Math.round(Math.max(...outcomes.map((o) => o.ms))) : null,
      normalRequestOkAfterMs: recovered,
      rssMiB: { before: mb(before.rss), during: mb(during.rss), after: mb(after.rss) },
      alive: server.exited() === undefined,
    }));
  } finally {
    await server.stop();
  }
}

await flood("idle flood", IDLE, () => Promise.resolve());
await flood("slowloris", SLOW, async (c) => {
  await send(c, `GET /v1/status HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n`);
  for (let i = 0;; i++) {
    await send(c, "x-slow: abcdefgh\r\n"[i % 18]);
    await sleep(100);
  }
});

{
  const dim = 2 ** 25;
  const server = await spawnApiServer({ dim });
  const conns: Deno.TcpConn[] = [];
  try {
    const before = await server.mem();
    for (let i = 0; i < 2; i++) {
      const c = await connect(server.port);
      conns.push(c);
      await send(
        c,
        `POST /v1/rounds/${i}/update?num_samples=1 HTTP/1.1\r\nhost: x\r\n` +
          `authorization: Bearer ${TOKEN}\r\ncontent-length: ${maxUpdateBytes(dim)}\r\n\r\n`,
      );
      await send(c, new Uint8Array(256 * 1024));
    }
    await sleep(1500);
    const during = await server.mem();
    const third = await fetch(`${server.url}/v1/rounds/9/update?num_samples=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: new Uint8Array(16),
    });
    await third.body?.cancel();
    console.log(JSON.stringify({
      phase: "stalled uploads",
      declaredMiB: mb(2 * maxUpdateBytes(dim)),
      sentMiB: 0.5,
      externalGrowthMiB: mb(during.external - before.external),
      rssGrowthMiB: mb(during.rss - before.rss),
      uploadsInProgress: during.uploads,
      thirdUploadStatus: third.status,
    }));
  } finally {
    for (const c of conns) c.close();
    await server.stop();
  }
}

{
  const server = await spawnApiServer(
    { dim: 6, limits: { maxConnections: 10_000, headTimeoutMs: HEAD_TIMEOUT } },
    256,
  );
  try {
    const start = performance.now();
    const conns = await openMany(server.port, 1000);
    const opened = performance.now() - start;
    const closed = conns.map((c) => untilClosed(c));
    const recovering = recovery(server, start, 120_000);
    const outcomes = await Promise.race([Promise.all(closed), sleep(180_000)]);
    const recovered = await recovering;
    for (const c of conns) c.close();
    console.log(JSON.stringify({
      phase: "fd exhaustion (limit 256)",
      connections: 1000,
      openedInMs: Math.round(opened),
      alive: server.exited() === undefined,
      hitFdLimit: /Too many open files/.test(server.stderr()),
      answers: Array.isArray(outcomes) ? tally(outcomes) : "not all closed within 180 s",
      normalRequestOkAfterMs: recovered,
      exit: server.exited(),
    }));
  } finally {
    await server.stop();
  }
}
