/**
 * The trainer API (node/http_api.ts) in front of a real single-process {@link FedaggNode}: a
 * three-member roster where only this node runs, so updates are accepted and journaled though
 * the round cannot complete. Covers the bearer token (401), uploads as raw, `.npy` and
 * safetensors (202, journaled before the answer), a second upload (409), `num_samples` missing
 * (400) or out of [1, maxWeight] (422), wrong length (422 naming both counts), NaN (422 naming
 * the index), wrong dtype and content type (415), bodies too big with and without
 * Content-Length (413), a chunked body (411), a body written in tiny pieces (read exactly), unknown routes and
 * unpublished aggregates (404), wrong methods (405), `/v1/status`, `/metrics`, `/v1/events`;
 * and, with aggregates written straight into the
 * node's journal, downloads in every format (the mean bit for bit, the exact sum, the update's
 * safetensors layout) and the certificate (404 `not-final` until final).
 */
import "../../node/shims.ts";
import { assert, assertEquals, assertMatch, assertRejects } from "../_assert.ts";
import { equalBytes, toHex, u32Bytes } from "../../protocol/encoding/bytes.ts";
import { flatLayout, layoutHash } from "../../protocol/federation/layout.ts";
import { dequantizeMean, quantize } from "../../protocol/math/quantize.ts";
import { leaderOf } from "../../protocol/federation/schedule.ts";
import { finalRound } from "./_journal_fixtures.ts";
import { serveApi, STATUS } from "../../node/http_api.ts";
import { NodeError } from "../../node/errors.ts";
import type { FedaggNode } from "../../node/node.ts";
import { closeUnrefdChannels } from "../../node/shims.ts";
import {
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  maxUpdateBytes,
  parseUpdate,
  type TensorLayout,
} from "../../node/tensor_formats/mod.ts";
import { rngFor } from "../protocol/_fixtures.ts";
import { f32Bytes } from "./_helpers.ts";
import { type ApiNode, startApiNode, stopApiNode, TOKEN } from "./_api_node.ts";
import { connect, readReply, send } from "./_raw_http.ts";
import { parseWithPrometheusClient } from "./_prometheus.ts";

const DIM = 6;
const MAX_WEIGHT = 10;

function values(seed: number): Float32Array<ArrayBuffer> {
  return new Float32Array(DIM).map((_, i) => ((i * 7 + seed * 3) % 11) / 11 - 0.5);
}

type Fixture = ApiNode;
/** Decided before the start: every round below DECIDED + 4 takes an update (the steps use many). */
const DECIDED = 51;
const start = () => startApiNode({ dim: DIM, maxWeight: MAX_WEIGHT, decidedRound: DECIDED });
const stop = stopApiNode;

function auth(headers: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${TOKEN}`, ...headers };
}

/** An answer, its body read whole. */
interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly bytes: Uint8Array;
  // deno-lint-ignore no-explicit-any
  json(): any;
}

/** A request; the body is always consumed (as bytes) so no connection is left half-read. */
async function call(f: Fixture, path: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(`${f.api.url}${path}`, {
    ...init,
    headers: init.headers ?? auth(),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return {
    status: res.status,
    headers: res.headers,
    bytes,
    json: () => JSON.parse(new TextDecoder().decode(bytes)),
  };
}

function upload(
  f: Fixture,
  round: number | string,
  body: BodyInit,
  query = "?num_samples=3",
  headers: Record<string, string> = {},
) {
  return call(f, `/v1/rounds/${round}/update${query}`, {
    method: "POST",
    body,
    headers: auth(headers),
  });
}

/** An `.npy` body declaring dtype `<f8` (DIM doubles). */
function npyFloat64(): Uint8Array<ArrayBuffer> {
  const bytes = encodeNpy(new Float32Array(2 * DIM), [DIM, 2]);
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, 128));
  const at = text.indexOf("<f4");
  bytes[at + 2] = "8".charCodeAt(0);
  // Shape (DIM, 2) of doubles would be 2·DIM values: make it (DIM,) by rewriting the tuple.
  const shape = `(${DIM}, 2)`;
  const s = text.indexOf(shape);
  const replacement = `(${DIM},)`.padEnd(shape.length, " ");
  for (let i = 0; i < replacement.length; i++) bytes[s + i] = replacement.charCodeAt(i);
  return bytes;
}

Deno.test("http api: a single-process node behind the trainer API", async (t) => {
  const f = await start();
  try {
    const roster = f.node.roster;

    await t.step("401 without a token, with a wrong one, or another scheme", async () => {
      const cases: Record<string, string>[] = [
        {},
        { authorization: "Bearer wrong-token-0123456789abc" },
        { authorization: `Bearer ${TOKEN}x` },
        { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
        { authorization: `Basic ${TOKEN}` },
        { authorization: `bearer${TOKEN}` },
      ];
      for (const headers of cases) {
        for (const path of ["/v1/status", "/metrics", "/v1/rounds/0/aggregate", "/nope"]) {
          const r = await call(f, path, { headers });
          assertEquals(r.status, 401, `${path} ${JSON.stringify(headers)}`);
          assertEquals(r.json().error, "unauthorized");
          assertEquals(
            r.headers.get("www-authenticate"),
            "Bearer",
            "RFC 9110: a 401 names the scheme",
          );
        }
        const r = await call(f, "/v1/rounds/0/update?num_samples=1", {
          method: "POST",
          body: encodeRaw(values(0)),
          headers,
        });
        assertEquals(r.status, 401);
      }
      assertEquals(await f.node.journal.update(0), undefined, "nothing was journaled");
    });

    await t.step("the scheme name is case-insensitive (RFC 9110), the token is not", async () => {
      for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
        const r = await call(f, "/v1/status", { headers: { authorization: `${scheme} ${TOKEN}` } });
        assertEquals(r.status, 200, scheme);
      }
      const r = await call(f, "/v1/status", {
        headers: { authorization: `bearer ${TOKEN.toUpperCase()}` },
      });
      assertEquals(r.status, 401);
    });

    await t.step(
      "202 for raw, .npy and safetensors uploads, journaled before the answer",
      async () => {
        const layout: TensorLayout = {
          tensors: [{ name: "bias", shape: [2] }, { name: "weight", shape: [2, 2] }],
        };
        const uploads: {
          round: number;
          body: Uint8Array<ArrayBuffer>;
          type?: string;
          format: string;
          query?: string;
        }[] = [
          { round: 0, body: encodeRaw(values(0)), type: "application/octet-stream", format: "raw" },
          { round: 1, body: encodeNpy(values(1)), type: "application/x-npy", format: "npy" },
          // Named tensors for the flat roster: only with the caller's explicit layout=flat.
          {
            round: 2,
            body: encodeSafetensors(values(2), layout),
            format: "safetensors",
            query: "&layout=flat",
          },
          { round: 3, body: encodeNpy(values(3), [2, 3]), format: "npy" }, // detected by magic
        ];
        for (const u of uploads) {
          const r = await upload(
            f,
            u.round,
            u.body,
            `?num_samples=${u.round + 1}${u.query ?? ""}`,
            u.type ? { "content-type": u.type } : {},
          );
          assertEquals(r.status, 202, new TextDecoder().decode(r.bytes));
          assertEquals(r.json(), {
            round: u.round,
            accepted: true,
            format: u.format,
            values: DIM,
            clipped: 0,
            clip: 1,
          });
          const stored = await f.node.journal.update(u.round);
          assert(stored !== undefined, `round ${u.round} journaled`);
          assert(equalBytes(f32Bytes(stored.values), f32Bytes(values(u.round))));
          assertEquals(stored.numSamples, u.round + 1);
        }
        assertEquals((await f.node.journal.update(2))!.layout, layout);
        assertEquals((await f.node.journal.update(3))!.layout, {
          tensors: [{ name: "aggregate", shape: [2, 3] }],
        });
        assertEquals(f.node.metrics.get("fedagg_updates_accepted_total"), 4);
      },
    );

    await t.step("409 for a second upload of the same round", async () => {
      const r = await upload(f, 0, encodeRaw(values(9)));
      assertEquals(r.status, 409);
      assertEquals([r.json().error, r.json().reason], ["rejected", "already-submitted"]);
      assertMatch(r.json().message, /round 0/);
      // The first update stands.
      assert(equalBytes(f32Bytes((await f.node.journal.update(0))!.values), f32Bytes(values(0))));
    });

    await t.step({
      name: "concurrent uploads of one round: one 202, one 409, the journal holds the winner",
      fn: async () => {
        const a = values(30);
        const b = values(31);
        const [ra, rb] = await Promise.all([
          upload(f, 30, encodeRaw(a)),
          upload(f, 30, encodeRaw(b)),
        ]);
        assertEquals([ra.status, rb.status].sort(), [202, 409]);
        const winner = ra.status === 202 ? a : b;
        const stored = await f.node.journal.update(30);
        assert(equalBytes(f32Bytes(stored!.values), f32Bytes(winner)), "the accepted update");
      },
    });

    await t.step("400 when num_samples is missing or not a number", async () => {
      for (const q of ["", "?", "?num_samples=", "?num_samples=abc", "?num_samples=-1", "?n=3"]) {
        const r = await upload(f, 20, encodeRaw(values(20)), q);
        assertEquals(r.status, 400, q);
        assertEquals(r.json().error, "num-samples");
        assertMatch(r.json().message, /num_samples/);
      }
      assertEquals(await f.node.journal.update(20), undefined);
    });

    await t.step("422 when num_samples is outside [1, maxWeight]", async () => {
      for (const n of [0, MAX_WEIGHT + 1, 99999]) {
        const r = await upload(f, 21, encodeRaw(values(21)), `?num_samples=${n}`);
        assertEquals(r.status, 422, `num_samples=${n}`);
        assert(r.json().message.includes(`[1, ${MAX_WEIGHT}]`), r.json().message);
      }
      assertEquals(await f.node.journal.update(21), undefined);
      // The bounds themselves are accepted.
      assertEquals((await upload(f, 21, encodeRaw(values(21)), `?num_samples=1`)).status, 202);
      const r = await upload(f, 22, encodeRaw(values(22)), `?num_samples=${MAX_WEIGHT}`);
      assertEquals(r.status, 202);
    });

    await t.step("422 for a wrong length, naming both counts", async () => {
      const cases = [
        encodeRaw(new Float32Array(DIM + 1)),
        encodeRaw(new Float32Array(DIM - 1)),
        encodeNpy(new Float32Array(DIM + 3)),
      ];
      for (const body of cases) {
        const r = await upload(f, 23, body);
        assertEquals(r.status, 422);
        assertEquals(r.json().error, "wrong-length");
        const count = body.length === 4 * (DIM + 1)
          ? DIM + 1
          : body.length === 4 * (DIM - 1)
          ? DIM - 1
          : DIM + 3;
        assert(r.json().message.includes(String(count)), r.json().message);
        assert(r.json().message.includes(`d = ${DIM}`), r.json().message);
      }
      assertEquals(await f.node.journal.update(23), undefined);
    });

    await t.step("422 for NaN or Infinity, naming the index", async () => {
      for (const [index, bad] of [[3, NaN], [0, Infinity], [DIM - 1, -Infinity]] as const) {
        const v = values(24);
        v[index] = bad;
        for (const body of [encodeRaw(v), encodeNpy(v)]) {
          const r = await upload(f, 24, body);
          assertEquals(r.status, 422);
          assertEquals(r.json().error, "non-finite");
          assert(r.json().message.includes(`index ${index}`), r.json().message);
        }
      }
      assertEquals(await f.node.journal.update(24), undefined);
    });

    await t.step("415 for a wrong dtype or content type", async () => {
      const r = await upload(f, 25, npyFloat64());
      assertEquals(r.status, 415);
      assertEquals(r.json().error, "unsupported-dtype");
      assert(r.json().message.includes("<f8"), r.json().message);
      const t2 = await upload(f, 25, encodeRaw(values(25)), "?num_samples=1", {
        "content-type": "text/plain",
      });
      assertEquals(t2.status, 415);
      assertEquals(t2.json().error, "unsupported-content-type");
      assertEquals(await f.node.journal.update(25), undefined);
    });

    await t.step("413 for a body that is too big; 411 for a chunked body", async () => {
      const limit = maxUpdateBytes(DIM);
      const big = new Uint8Array(limit + 1);
      const withLength = await upload(f, 26, big);
      assertEquals(withLength.status, 413);
      assertEquals(withLength.json().error, "too-big");
      assert(withLength.json().message.includes(String(limit)), withLength.json().message);
      // Chunked (no Content-Length): refused before any body byte is read, whatever its size.
      const ok = new ReadableStream<Uint8Array>({
        start(controller) {
          const raw = encodeRaw(values(27));
          controller.enqueue(raw.slice(0, 5));
          controller.enqueue(raw.slice(5));
          controller.close();
        },
      });
      const chunked = await upload(f, 27, ok);
      assertEquals(chunked.status, 411);
      assertEquals(chunked.json().error, "length-required");
      assertMatch(chunked.json().message, /Content-Length/);
      assertEquals(await f.node.journal.update(26), undefined);
      assertEquals(await f.node.journal.update(27), undefined);
    });

    await t.step(
      "a body sent in tiny pieces past the first buffer arrives exact",
      async () => {
        // A safetensors body whose header is padded with spaces (as the format allows) to well
        // over the 64 KiB the server first allocates, written in 1..7-byte pieces on a raw
        // connection: the buffer grows several times and every byte lands in place.
        const plain = encodeSafetensors(values(28), {
          tensors: [{ name: "aggregate", shape: [DIM] }],
        });
        const headerLength = Number(new DataView(plain.buffer).getBigUint64(0, true));
        const padded = headerLength + 200_000;
        const body = new Uint8Array(8 + padded + 4 * DIM).fill(0x20);
        new DataView(body.buffer).setBigUint64(0, BigInt(padded), true);
        body.set(plain.subarray(8, 8 + headerLength), 8);
        body.set(plain.subarray(8 + headerLength), 8 + padded);
        const conn = await connect(Number(new URL(f.api.url).port));
        try {
          await send(
            conn,
            `POST /v1/rounds/28/update?num_samples=2 HTTP/1.1\r\nhost: x\r\n` +
              `authorization: Bearer ${TOKEN}\r\ncontent-length: ${body.length}\r\n\r\n`,
          );
          for (let at = 0; at < body.length;) {
            const end = Math.min(body.length, at + 1 + (at % 7));
            await send(conn, body.slice(at, end));
            at = end;
          }
          const r = await readReply(conn);
          assertEquals(r.status, 202, new TextDecoder().decode(r.body));
          assertEquals(r.json().format, "safetensors");
        } finally {
          conn.close();
        }
        const stored = await f.node.journal.update(28);
        assert(stored !== undefined, "round 28 journaled");
        assert(equalBytes(f32Bytes(stored.values), f32Bytes(values(28))));
        assertEquals(stored.layout, { tensors: [{ name: "aggregate", shape: [DIM] }] });
      },
    );

    await t.step("400 for a round number out of range; 404 for malformed round paths", async () => {
      const r = await upload(f, "999999999999999", encodeRaw(values(0)));
      assertEquals(r.status, 400);
      assertMatch(r.json().message, /2\^48/);
      for (const path of ["/v1/rounds/-1/update", "/v1/rounds/x/update", "/v1/rounds/1/other"]) {
        const res = await call(f, `${path}?num_samples=1`, { method: "POST", headers: auth() });
        assertEquals(res.status, 404, path);
      }
    });

    await t.step("404 for an unknown route and an aggregate not yet published; 405", async () => {
      for (const path of ["/", "/v1", "/v1/statuses", "/v2/status", "/metrics/x"]) {
        const r = await call(f, path);
        assertEquals(r.status, 404, path);
        assertEquals(r.json().error, "not-found");
      }
      const a = await call(f, "/v1/rounds/0/aggregate");
      assertEquals(a.status, 404);
      assertEquals(a.json().error, "not-yet");
      const c = await call(f, "/v1/rounds/0/certificate");
      assertEquals(c.status, 404);
      assertEquals(c.json().error, "not-yet");
      assertEquals((await call(f, "/v1/rounds/0/update")).status, 405);
      const post = await call(f, "/v1/rounds/0/aggregate", { method: "POST", headers: auth() });
      assertEquals(post.status, 405);
      assertEquals((await call(f, "/v1/status", { method: "POST", headers: auth() })).status, 404);
    });

    await t.step("/v1/layout serves the flat layout of a --dim roster", async () => {
      const r = await call(f, "/v1/layout");
      assertEquals(r.status, 200);
      assertMatch(r.headers.get("content-type")!, /^application\/json/);
      assertEquals(r.json(), {
        dtype: "F32",
        dim: DIM,
        flat: true,
        hash: toHex(layoutHash(flatLayout(DIM))),
        tensors: [{ name: "aggregate", shape: [DIM] }],
      });
      assertEquals((await call(f, "/v1/layout", { method: "POST", headers: auth() })).status, 404);
      assertEquals((await call(f, "/v1/layout", { headers: {} })).status, 401);
    });

    await t.step("/v1/status reports the node", async () => {
      // A fresh round this node leads: it is then both in the round and leading it, alone in
      // the first stage (the other two members never run). It leads only rounds near the
      // federation's current round, DECIDED + 1.
      const self = roster.indexOf(f.ids[0].peerId)!;
      const near = [DECIDED + 1, DECIDED + 2, DECIDED + 3];
      const led = near.find((r) => leaderOf(roster, r, 0) === self);
      assert(led !== undefined, `this node leads one of rounds ${near}`);
      assertEquals((await upload(f, led, encodeRaw(values(led)), "?num_samples=1")).status, 202);
      const r = await call(f, "/v1/status");
      assertEquals(r.status, 200);
      assertMatch(r.headers.get("content-type")!, /^application\/json/);
      const s = r.json();
      assertEquals(s.peerId, f.ids[0].peerId);
      assertEquals(s.index, roster.indexOf(f.ids[0].peerId));
      assertEquals(s.federation, "http-test");
      assert(Array.isArray(s.addresses) && s.addresses.length > 0);
      assertEquals(s.peers, { connected: 0, members: 2, ids: [] });
      assertEquals(s.currentRound, DECIDED + 1);
      for (const k of ["round", "view", "leader", "stage", "lastFinalRound", "lastError"]) {
        assert(k in s, k);
      }
      assertEquals(s.lastFinalRound, null);
      assertEquals([s.round, s.view, s.stage, s.leader], [led, 0, "advertise", f.ids[0].peerId]);
      assertEquals(s.leading, { round: led, view: 0, stage: "advertise" });
      // The round's deadline counts down from the submission; no key list yet: nobody known
      // to be missing.
      assert(
        typeof s.deadlineInMs === "number" && s.deadlineInMs > 0 &&
          s.deadlineInMs <= roster.roundDeadlineMs,
        String(s.deadlineInMs),
      );
      assertEquals(s.missing, null);
      assertEquals(typeof s.traffic.bytesSent, "number");
      assertEquals(typeof s.traffic.bytesReceived, "number");
      assert(s.peakRssBytes > 0);
    });

    await t.step("/metrics is Prometheus text (checked with the Prometheus parser)", async () => {
      const r = await call(f, "/metrics");
      assertEquals(r.status, 200);
      assertEquals(r.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const text = new TextDecoder().decode(r.bytes);
      const families = await parseWithPrometheusClient(text);
      const value = (sample: string) =>
        families.flatMap((fam) => fam.samples).find((s) => s.name === sample)?.value;
      const accepted = f.node.metrics.get("fedagg_updates_accepted_total");
      const updates = (await f.node.journal.rounds()).filter((r) => r !== DECIDED);
      assertEquals(accepted, updates.length, "one per journaled update");
      assertEquals(value("fedagg_updates_accepted_total"), accepted);
      assertEquals(families.find((fam) => fam.name === "fedagg_updates_accepted")?.type, "counter");
      assertEquals(value("fedagg_peers_connected"), 0);
      assertEquals(value("fedagg_refused_peers_total"), 0);
      assertEquals(value("fedagg_current_round"), DECIDED + 1);
      assert(value("fedagg_journal_bytes")! > 0, "the journal's size");
    });

    await t.step("/v1/events is an event stream that starts with a comment", async () => {
      const res = await fetch(`${f.api.url}/v1/events`, { headers: auth() });
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("content-type"), "text/event-stream");
      assertEquals(res.headers.get("cache-control"), "no-cache");
      const reader = res.body!.getReader();
      const { value } = await reader.read();
      const text = new TextDecoder().decode(value);
      assert(text.startsWith(":"), text);
      assert(text.endsWith("\n\n"), text);
      await reader.cancel();
    });

    await t.step(
      "published aggregates download in every format; certificate once final",
      async () => {
        const q = roster.quantization;
        const round = 40;
        // A genuine round: the journal verifies a final certificate before serving it.
        const signers = roster.members.map((m) => f.ids.find((id) => id.peerId === m.id)!.signer);
        const genuine = await finalRound({ roster, signers }, round);
        const { members, aggregate, certificate, view } = genuine;
        await f.node.journal.recordAggregate({ round, view, members, aggregate, certificate });
        const mean = dequantizeMean(aggregate, q, members.length);
        const ids = members.map((i) => roster.members[i].id).join(",");

        const npy = await call(f, `/v1/rounds/${round}/aggregate`); // npy by default
        assertEquals(npy.status, 200);
        assertEquals(npy.headers.get("content-type"), "application/x-npy");
        assertEquals(npy.headers.get("x-fedagg-round"), String(round));
        assertEquals(npy.headers.get("x-fedagg-view"), String(view));
        assertEquals(npy.headers.get("x-fedagg-final"), "false");
        assertEquals(npy.headers.get("x-fedagg-members"), ids);
        assert(equalBytes(npy.bytes, encodeNpy(mean)));
        assert(equalBytes(f32Bytes(parseUpdate(npy.bytes, DIM, "npy").values), f32Bytes(mean)));

        const npy2 = await call(f, `/v1/rounds/${round}/aggregate?format=npy`);
        assert(equalBytes(npy2.bytes, npy.bytes));
        const raw = await call(f, `/v1/rounds/${round}/aggregate?format=raw`);
        assertEquals(raw.headers.get("content-type"), "application/octet-stream");
        assert(equalBytes(raw.bytes, f32Bytes(mean)));
        const st = await call(f, `/v1/rounds/${round}/aggregate?format=safetensors`);
        assertEquals(st.headers.get("content-type"), "application/x-safetensors");
        const parsed = parseUpdate(st.bytes, DIM, "safetensors");
        assert(equalBytes(f32Bytes(parsed.values), f32Bytes(mean)));
        assertEquals(parsed.layout, { tensors: [{ name: "aggregate", shape: [DIM] }] });
        const sum = await call(f, `/v1/rounds/${round}/aggregate?format=sum`);
        assertEquals(sum.headers.get("content-type"), "application/octet-stream");
        assert(equalBytes(sum.bytes, u32Bytes(aggregate)));
        const bad = await call(f, `/v1/rounds/${round}/aggregate?format=csv`);
        assertEquals(bad.status, 400);
        assertEquals(bad.json().error, "format");

        const notFinal = await call(f, `/v1/rounds/${round}/certificate`);
        assertEquals(notFinal.status, 404);
        assertEquals(notFinal.json().error, "not-final");

        const final = genuine.final;
        await f.node.journal.recordAggregate({
          round,
          view,
          members,
          aggregate,
          certificate,
          final,
        });
        const cert = await call(f, `/v1/rounds/${round}/certificate`);
        assertEquals(cert.status, 200);
        assertEquals(cert.headers.get("content-type"), "application/cbor");
        assertEquals(cert.headers.get("x-fedagg-final"), "true");
        assertEquals(cert.headers.get("x-fedagg-members"), ids);
        assert(equalBytes(cert.bytes, final));
        const after = await call(f, `/v1/rounds/${round}/aggregate?format=sum`);
        assertEquals(after.headers.get("x-fedagg-final"), "true");
        assert(equalBytes(after.bytes, u32Bytes(aggregate)));
      },
    );

    await t.step("a record damaged while running is answered 503, never served", async () => {
      const path = f.node.journal.path(40, "aggregate.u32");
      const good = await Deno.readFile(path);
      const bad = good.slice();
      bad[bad.length - 1] ^= 1; // one bit of the aggregate's payload: the checksum no longer holds
      await Deno.writeFile(path, bad);
      try {
        for (const what of ["aggregate?format=sum", "certificate"]) {
          const res = await call(f, `/v1/rounds/40/${what}`);
          assertEquals(res.status, 503, what);
          const body = res.json();
          assertEquals(body.error, "journal-corrupt");
          assert(body.message.includes(path), body.message);
        }
      } finally {
        await Deno.writeFile(path, good);
      }
      assertEquals((await call(f, "/v1/rounds/40/aggregate?format=sum")).status, 200);
    });

    await t.step(
      "a safetensors download is in the roster's layout, whatever was uploaded",
      async () => {
        const q = roster.quantization;
        const members = [0, 2];
        const aggregate = new Uint32Array(DIM + 1);
        for (const i of members) {
          const x = quantize(values(50 + i), 2, q, rngFor("http", "q2", i));
          for (let j = 0; j < x.length; j++) aggregate[j] += x[j];
        }
        await f.node.journal.recordAggregate({
          round: 2,
          view: 0,
          members,
          aggregate,
          certificate: Uint8Array.of(1),
        });
        const st = await call(f, "/v1/rounds/2/aggregate?format=safetensors");
        assertEquals(st.status, 200);
        const parsed = parseUpdate(st.bytes, DIM, "safetensors");
        // The roster's (flat) layout, not the names this member uploaded in round 2.
        assertEquals(parsed.layout, { tensors: [{ name: "aggregate", shape: [DIM] }] });
        assertEquals((await f.node.journal.updateMeta(2))!.layout.tensors.length, 2);
        const mean = dequantizeMean(aggregate, q, members.length);
        assert(equalBytes(f32Bytes(parsed.values), f32Bytes(mean)));
        assertEquals(
          st.headers.get("x-fedagg-members"),
          members.map((i) => roster.members[i].id).join(","),
        );
      },
    );

    assertEquals(f.logs.filter((l) => l.level === "error"), [], "no pipeline errors");
  } finally {
    await stop(f);
  }
});

Deno.test({
  name: "http api: shutdown ends open event streams and clears their keep-alive timers",
  fn: async () => {
    const f = await start();
    const created: unknown[] = [];
    const cleared = new Set<unknown>();
    const { setInterval: realSet, clearInterval: realClear } = globalThis;
    try {
      // deno-lint-ignore no-explicit-any
      (globalThis as any).setInterval = (fn: () => void, ms?: number) => {
        const id = realSet(fn, ms);
        if (ms === 15_000) created.push(id);
        return id;
      };
      // deno-lint-ignore no-explicit-any
      (globalThis as any).clearInterval = (id: any) => {
        cleared.add(id);
        realClear(id);
      };
      const res = await fetch(`${f.api.url}/v1/events`, { headers: auth() });
      const reader = res.body!.getReader();
      await reader.read();
      assertEquals(created.length, 1, "one keep-alive timer per stream");
      await f.api.shutdown();
      assertEquals((await reader.read()).done, true, "the stream ended");
      for (const id of created) assert(cleared.has(id), "keep-alive timer cleared by shutdown");
    } finally {
      globalThis.setInterval = realSet;
      globalThis.clearInterval = realClear;
      await f.node.stop();
      closeUnrefdChannels();
      await Deno.remove(f.dir, { recursive: true });
    }
  },
});

Deno.test("http api: a mistyped round is refused 422 before anything is journaled; DELETE withdraws an update", async () => {
  // A node with no history: the federation's current round is 0 for it.
  const f = await startApiNode({ dim: DIM, maxWeight: MAX_WEIGHT });
  try {
    const roster = f.node.roster;
    const r = await upload(f, 1_000_000, encodeRaw(values(1)));
    assertEquals(r.status, 422);
    assertEquals([r.json().error, r.json().reason], ["rejected", "round-too-far-ahead"]);
    assertMatch(r.json().message, /current round is 0/);
    assertMatch(r.json().message, /up to 2/);
    assertEquals(await f.node.journal.rounds(), [], "nothing journaled");
    assertEquals((await call(f, "/v1/status")).json().currentRound, 0);
    // It still leads the rounds of the federation it is scheduled for (before: it refused its
    // own advert, "round 0 is outside this member's window (newest round 1000000)").
    const self = roster.indexOf(f.ids[0].peerId)!;
    const led = [0, 1, 2].find((round) => leaderOf(roster, round, 0) === self);
    assert(led !== undefined, "this node leads view 0 of one of rounds 0..2");
    assertEquals((await upload(f, led, encodeRaw(values(led)))).status, 202);
    assertEquals((await call(f, "/v1/status")).json().leading, {
      round: led,
      view: 0,
      stage: "advertise",
    });

    // Withdrawn before its masked input left: 200, the update is gone, a marker stays.
    const del = () => call(f, `/v1/rounds/${led}/update`, { method: "DELETE", headers: auth() });
    const w = await del();
    assertEquals([w.status, w.json()], [200, { round: led, withdrawn: true }]);
    assertEquals(await f.node.journal.update(led), undefined);
    assertEquals(await f.node.journal.updateMeta(led), undefined, "no longer submitted");
    assertEquals(await f.node.journal.withdrawnView(led), 1);
    assertEquals(f.node.metrics.get("fedagg_updates_withdrawn_total"), 1);
    assertEquals((await call(f, "/v1/status")).json().stage, "withdrawn");
    const again = await del();
    assertEquals([again.status, again.json().reason], [404, "nothing-to-withdraw"]);
    const none = await call(f, "/v1/rounds/1/update", { method: "DELETE", headers: auth() });
    assertEquals([none.status, none.json().reason], [404, "nothing-to-withdraw"]);
    // A new update for the round: accepted, advertised in the next view, the marker gone.
    assertEquals((await upload(f, led, encodeRaw(values(led + 1)))).status, 202);
    assertEquals(await f.node.journal.advertisedView(led), 1);
    assertEquals(await f.node.journal.withdrawnView(led), undefined);
  } finally {
    await stop(f);
  }
});

Deno.test("http api: refuses to start with a short token", async () => {
  // serveApi checks the token before touching the node (it throws synchronously; the async
  // wrapper turns that into the rejection assertRejects expects).
  const err = await assertRejects(
    async () => {
      await serveApi({ roster: { dim: 1 } } as unknown as FedaggNode, {
        hostname: "127.0.0.1",
        port: 0,
        token: "short",
      });
    },
    NodeError,
    "at least 16 characters",
  );
  assertEquals((err as NodeError).code, "api-token");
});

Deno.test("http api: every refusal code has its documented status (docs/operator-guide.md §5)", () => {
  // Written out here, from the operator guide's table, not read from the code.
  const documented: Record<string, number> = {
    "too-many-connections": 503,
    "busy": 503,
    "timeout": 408,
    "header-too-large": 431,
    "length-required": 411,
    "bad-request": 400,
    "incomplete-body": 400,
    "unauthorized": 401,
    "not-found": 404,
    "method": 405,
    "num-samples": 400,
    "layout-query": 400,
    "too-big": 413,
    "not-yet": 404,
    "not-final": 404,
    "format": 400,
    "internal": 500,
    "malformed": 400,
    "truncated": 400,
    "too-large": 413,
    "unsupported-content-type": 415,
    "unsupported-version": 415,
    "unsupported-dtype": 415,
    "unsupported-order": 415,
    "wrong-length": 422,
    "non-finite": 422,
    "layout-mismatch": 422,
    "flat-upload": 422,
    "invalid-round": 400,
    "wrong-dim": 422,
    "invalid-num-samples": 422,
    "invalid-input": 422,
    "submit-in-progress": 409,
    "already-submitted": 409,
    "already-final": 409,
    "quarantined": 409,
    "dp-budget-exhausted": 409,
    "decided": 409,
    "committed-before-restart": 409,
    "round-too-far-ahead": 422,
    "not-a-member": 409,
    "amendment-invalid": 422,
    "amendment-refused": 409,
    "nothing-to-withdraw": 404,
    "committed": 409,
    "journal-corrupt": 503,
    "disk-full": 507,
  };
  assertEquals({ ...STATUS }, documented);
});
