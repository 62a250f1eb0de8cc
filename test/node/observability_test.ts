/**
 * What an operator watches, against a real single-process node and its API: the event stream's
 * ids and `Last-Event-ID` replay (events after the id, a `gap` event when the id is too old,
 * from another run or not an id), the event types a trainer sees for its update (`accepted`,
 * `stage`), the token-free scrape listener (GET /metrics only, no token, open series only,
 * parsed by the Prometheus client), and `--log-level` filtering.
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { EventLog } from "../../node/event_log.ts";
import { jsonLog, parseLogLevel } from "../../node/json_log.ts";
import { serveMetrics } from "../../node/metrics_listener.ts";
import { NodeError } from "../../node/errors.ts";
import { type ApiNode, startApiNode, stopApiNode, TOKEN } from "./_api_node.ts";
import { parseWithPrometheusClient } from "./_prometheus.ts";
import { f32Bytes } from "./_helpers.ts";

const DIM = 6;
const auth = { authorization: `Bearer ${TOKEN}` };

interface Sse {
  readonly id?: string;
  readonly event: string;
  // deno-lint-ignore no-explicit-any
  readonly data: any;
}

/**
 * Opens `/v1/events` (with `lastEventId`); once this resolves the node has subscribed it (the
 * stream subscribes before the response head leaves). `read` reads events until `until` holds
 * for what was read (generous deadline), then closes the stream.
 */
async function openEvents(
  f: ApiNode,
  lastEventId?: string,
): Promise<{ read(until: (events: Sse[]) => boolean): Promise<Sse[]> }> {
  const headers: Record<string, string> = { ...auth };
  if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
  const res = await fetch(`${f.api.url}/v1/events`, { headers });
  assertEquals(res.status, 200);
  return { read: (until) => readFrom(res, until) };
}

/** Opens the stream and reads until `until` holds. */
async function readEvents(
  f: ApiNode,
  until: (events: Sse[]) => boolean,
  lastEventId?: string,
): Promise<Sse[]> {
  return await (await openEvents(f, lastEventId)).read(until);
}

async function readFrom(res: Response, until: (events: Sse[]) => boolean): Promise<Sse[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: Sse[] = [];
  let buffer = "";
  const deadline = setTimeout(() => reader.cancel(), 60_000);
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended; got ${JSON.stringify(events)}`);
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(": ");
          fields.set(line.slice(0, i), line.slice(i + 2));
        }
        if (!fields.has("event")) continue;
        events.push({
          id: fields.get("id"),
          event: fields.get("event")!,
          data: JSON.parse(fields.get("data")!),
        });
      }
    }
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => {});
  }
  return events;
}

async function submit(f: ApiNode, round: number): Promise<void> {
  const res = await fetch(`${f.api.url}/v1/rounds/${round}/update?num_samples=1`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/octet-stream" },
    body: f32Bytes(new Float32Array(DIM).fill(0.25)).slice(),
  });
  assertEquals(res.status, 202, await res.text());
}

function seq(id: string | undefined): number {
  return Number(id!.split("-")[1]);
}

Deno.test({
  name: "events: ids, accepted and stage events, Last-Event-ID replay and gaps",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const f = await startApiNode({ dim: DIM, eventReplayCapacity: 4 });
    try {
      const live = await openEvents(f);
      await submit(f, 0);
      const first = await live.read((es) =>
        es.some((e) => e.event === "accepted") && es.some((e) => e.event === "stage")
      );
      const accepted = first.find((e) => e.event === "accepted")!;
      assertEquals(accepted.data, { type: "accepted", round: 0, view: 0, numSamples: 1 });
      const stage = first.find((e) => e.event === "stage");
      assertEquals(stage?.data.role, "participant");
      assertEquals(stage?.data.stage, "advertise");
      for (const e of first) assertEquals(e.id?.split("-")[0], first[0].id?.split("-")[0]);
      assertEquals(first.map((e) => seq(e.id)), first.map((_, i) => seq(first[0].id) + i));

      // Resume after the first event: exactly the ones after it, same ids, no gap.
      const after = await readEvents(
        f,
        (es) => es.length >= first.length - 1,
        first[0].id,
      );
      assertEquals(after.map((e) => e.id), first.slice(1).map((e) => e.id));
      assert(!after.some((e) => e.event === "gap"));

      // Many more events (each submission: accepted + stage; the buffer keeps 4): too old.
      await submit(f, 1);
      await submit(f, 2);
      const stale = await readEvents(f, (es) => es.length >= 2, first[0].id);
      assertEquals(stale[0].event, "gap");
      assertEquals(stale[0].data.reason, "too-old");
      assertEquals(stale[0].data.lastEventId, first[0].id);
      assertEquals(stale[0].data.oldest, stale[1].id, "the oldest kept follows");
      // Another run's id, and garbage.
      const other = await readEvents(f, (es) => es.length >= 1, "zzzz-3");
      assertEquals(other[0].data.reason, "other-epoch");
      const bogus = await readEvents(f, (es) => es.length >= 1, "not an id");
      assertEquals(bogus[0].data.reason, "unknown-id");
    } finally {
      await stopApiNode(f);
    }
  },
});

Deno.test("event log: replays after an id, says why when it cannot", () => {
  const log = new EventLog<number>(3, "abc");
  assertEquals(log.since(undefined), { events: [], oldest: undefined });
  const ids = [1, 2, 3, 4, 5].map((n) => log.append(n).id);
  assertEquals(ids, ["abc-1", "abc-2", "abc-3", "abc-4", "abc-5"]);
  assertEquals(log.since("abc-5").events, []);
  assertEquals(log.since("abc-3").events.map((e) => e.event), [4, 5]);
  assertEquals(log.since("abc-2").events.map((e) => e.event), [3, 4, 5], "2 seen, 3 kept");
  assertEquals(log.since("abc-2").gap, undefined);
  assertEquals(log.since("abc-1").gap, "too-old");
  assertEquals(log.since("abc-1").events.map((e) => e.event), [3, 4, 5]);
  assertEquals(log.since("xyz-4").gap, "other-epoch");
  assertEquals(log.since("abc-9").gap, "unknown-id", "an id from the future");
  assertEquals(log.since("abc-0").gap, "unknown-id");
  assertEquals(log.since("abc-1").oldest, "abc-3");
});

Deno.test({
  name: "scrape listener: GET /metrics without a token, open series only, nothing else",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const f = await startApiNode({ dim: DIM });
    const scrape = serveMetrics(f.node, { hostname: "127.0.0.1", port: 0 });
    try {
      f.node.metrics.inc("fedagg_values_clipped_total", "derived from a private update");
      const res = await fetch(`${scrape.url}/metrics`);
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const families = await parseWithPrometheusClient(await res.text());
      const names = families.map((fam) => fam.name);
      assert(names.includes("fedagg_build_info"), names.join());
      assert(names.includes("fedagg_bytes_sent"), "the counter fedagg_bytes_sent_total");
      assert(!names.includes("fedagg_values_clipped"), "token-only series stay behind the token");
      // Behind the token on the API, it is there.
      const api = await fetch(`${f.api.url}/metrics`, { headers: auth });
      const all = await parseWithPrometheusClient(await api.text());
      assert(all.some((fam) => fam.name === "fedagg_values_clipped"));
      // Nothing but /metrics; only GET (and HEAD).
      for (const path of ["/v1/status", "/v1/events", "/", "/metrics/x"]) {
        const r = await fetch(`${scrape.url}${path}`, { headers: auth });
        assertEquals(r.status, 404, path);
        await r.body?.cancel();
      }
      const post = await fetch(`${scrape.url}/metrics`, { method: "POST", body: "x" });
      assertEquals(post.status, 405);
      await post.body?.cancel();
    } finally {
      await scrape.shutdown();
      await stopApiNode(f);
    }
  },
});

Deno.test("log level: lines below the level are dropped; a bad level is a usage error", () => {
  const lines: string[] = [];
  const log = jsonLog(parseLogLevel("warn"), (l) => lines.push(l));
  log("debug", "d");
  log("info", "i");
  log("warn", "w", { round: 1 });
  log("error", "e");
  assertEquals(lines.map((l) => JSON.parse(l).msg), ["w", "e"]);
  assertEquals(JSON.parse(lines[0]).round, 1);
  const debug: string[] = [];
  const all = jsonLog(parseLogLevel("debug"), (l) => debug.push(l));
  all("debug", "d");
  assertEquals(debug.length, 1);
  const err = assertThrows(() => parseLogLevel("verbose"), NodeError);
  assertEquals((err as NodeError).code, "usage");
  assert(err.message.includes("error, warn, info") || err.message.includes("debug, info"));
});

Deno.test({
  name:
    "protocol time and memory: counted after a submission, heap and off-heap peaks in the status",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const f = await startApiNode({ dim: DIM });
    try {
      assertEquals(f.node.metrics.get("fedagg_protocol_seconds_total"), 0);
      await submit(f, 0);
      assert(f.node.metrics.get("fedagg_protocol_seconds_total") > 0, "the submit call counted");
      const res = await fetch(`${f.api.url}/v1/status`, { headers: auth });
      const status = await res.json();
      assert(status.peakHeapUsedBytes > 0, JSON.stringify(status));
      assert(status.peakExternalBytes > 0, JSON.stringify(status));
      const api = await fetch(`${f.api.url}/metrics`, { headers: auth });
      const names = (await parseWithPrometheusClient(await api.text())).map((fam) => fam.name);
      for (
        const name of [
          "fedagg_protocol_seconds",
          "fedagg_protocol_outputs_seconds",
          "fedagg_process_heap_used_bytes",
          "fedagg_process_peak_heap_used_bytes",
          "fedagg_process_peak_external_bytes",
        ]
      ) assert(names.includes(name), `${name} in ${names.join()}`);
    } finally {
      await stopApiNode(f);
    }
  },
});
