/**
 * The local trainer API, on 127.0.0.1 by default. Every request needs
 * `Authorization: Bearer <token>` (the token lives in `DIR/api.token`, mode 0600).
 *
 * | method | path | |
 * | --- | --- | --- |
 * | POST | `/v1/rounds/{r}/update?num_samples=N` | the update: raw little-endian float32, `.npy` or safetensors (by Content-Type or magic) → 202 |
 * | GET | `/v1/rounds/{r}/aggregate?format=npy\|raw\|safetensors\|sum` | the weighted mean (or `sum`: the exact certified integer aggregate) → 200, 404 until published |
 * | GET | `/v1/rounds/{r}/certificate` | the final certificate (CBOR) → 200, 404 until final |
 * | GET | `/v1/status` | peers, round, view, leader, stage, last error |
 * | GET | `/v1/events` | server-sent events: `published`, `final`, `round-failed` |
 * | GET | `/metrics` | Prometheus text format |
 *
 * Errors are JSON `{ "error": code, "message": text }` with a 4xx status naming the problem
 * (wrong shape, dtype, NaN/Inf, too big, missing num_samples, bad token).
 *
 * @module
 */
import { u32Bytes } from "../protocol/encoding/bytes.ts";
import { constantTimeEqual } from "../protocol/crypto/mod.ts";
import { type FedaggNode, SubmitError } from "./node.ts";
import {
  CONTENT_TYPES,
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  FormatError,
  maxUpdateBytes,
  parseUpdate,
} from "./tensor_formats/mod.ts";

/** A running API server. */
export interface ApiServer {
  /** The base URL, e.g. `http://127.0.0.1:8421`. */
  readonly url: string;
  /** Stops accepting requests and closes open event streams. */
  shutdown(): Promise<void>;
}

const encoder = new TextEncoder();

function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function error(status: number, code: string, message: string): Response {
  return json(status, { error: code, message });
}

/**
 * Reads a request body up to `limit` bytes; undefined when it is larger. Each chunk is copied
 * into one buffer as it arrives (sized by Content-Length when declared, else grown by doubling,
 * never beyond `limit`), so a client sending many tiny chunks costs no per-chunk memory and there
 * is no chunk list to concatenate at the end.
 */
async function readBody(req: Request, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  if (req.body === null) return new Uint8Array(0);
  let out = new Uint8Array(
    Number.isSafeInteger(declared) && declared >= 0 ? declared : Math.min(limit, 1 << 16),
  );
  let size = 0;
  for await (const chunk of req.body) {
    const end = size + chunk.length;
    if (end > limit) return undefined;
    if (end > out.length) {
      const grown = new Uint8Array(Math.min(limit, Math.max(2 * out.length, end)));
      grown.set(out.subarray(0, size));
      out = grown;
    }
    out.set(chunk, size);
    size = end;
  }
  return out.subarray(0, size);
}

/**
 * Serves the API for `node` on `hostname:port` (port 0 picks a free one). Refuses to start
 * without a token of at least 16 characters.
 */
export function serveApi(
  node: FedaggNode,
  options: { hostname: string; port: number; token: string },
): Promise<ApiServer> {
  if (options.token.length < 16) throw new RangeError("API token must be at least 16 characters");
  const token = encoder.encode(options.token);
  const dim = node.roster.dim;
  const maxBody = maxUpdateBytes(dim);
  /** Closers of the open event streams (each clears its timer and subscription). */
  const streams = new Set<() => void>();

  const authorized = (req: Request): boolean => {
    const header = req.headers.get("authorization") ?? "";
    const m = /^Bearer (.+)$/.exec(header);
    return m !== null && constantTimeEqual(encoder.encode(m[1]), token);
  };

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (!authorized(req)) {
      return error(401, "unauthorized", "missing or wrong bearer token (see DIR/api.token)");
    }
    const path = url.pathname;
    const round = /^\/v1\/rounds\/(\d{1,15})\/(update|aggregate|certificate)$/.exec(path);
    try {
      if (req.method === "GET" && path === "/v1/status") return json(200, node.status());
      if (req.method === "GET" && path === "/metrics") {
        return new Response(node.renderMetrics(), {
          headers: { "content-type": "text/plain; version=0.0.4" },
        });
      }
      if (req.method === "GET" && path === "/v1/events") return events(node, streams);
      if (round === null) return error(404, "not-found", `no route ${req.method} ${path}`);
      const r = Number(round[1]);
      if (round[2] === "update") {
        if (req.method !== "POST") return error(405, "method", "use POST to submit an update");
        const samples = url.searchParams.get("num_samples");
        if (samples === null || !/^\d{1,10}$/.test(samples)) {
          return error(
            400,
            "num-samples",
            "query parameter num_samples (a positive integer) is required",
          );
        }
        const body = await readBody(req, maxBody);
        if (body === undefined) {
          return error(413, "too-big", `the update is larger than ${maxBody} bytes (d = ${dim})`);
        }
        const parsed = parseUpdate(body, dim, {
          contentType: req.headers.get("content-type") ?? undefined,
        });
        await node.submit(r, parsed.values, Number(samples), parsed.layout);
        return json(202, { round: r, accepted: true, format: parsed.format, values: dim });
      }
      if (req.method !== "GET") return error(405, "method", `use GET for ${round[2]}`);
      const result = await node.aggregate(r);
      if (result === undefined) {
        return error(404, "not-yet", `no aggregate has been published for round ${r} yet`);
      }
      const final = result.stored.final !== undefined;
      const members = result.stored.members.map((i) => node.roster.members[i].id).join(",");
      const headers = {
        "x-fedagg-round": String(r),
        "x-fedagg-view": String(result.stored.view),
        "x-fedagg-final": String(final),
        "x-fedagg-members": members,
      };
      if (round[2] === "certificate") {
        if (!final) return error(404, "not-final", `round ${r}'s certificate is not final yet`);
        return new Response(result.stored.final!.slice(), {
          headers: { ...headers, "content-type": "application/cbor" },
        });
      }
      const fmt = url.searchParams.get("format") ?? "npy";
      let bytes: Uint8Array<ArrayBuffer>;
      let type: string;
      if (fmt === "npy") {
        bytes = encodeNpy(result.mean);
        type = CONTENT_TYPES.npy;
      } else if (fmt === "raw") {
        bytes = encodeRaw(result.mean);
        type = CONTENT_TYPES.raw;
      } else if (fmt === "safetensors") {
        bytes = encodeSafetensors(result.mean, result.layout);
        type = CONTENT_TYPES.safetensors;
      } else if (fmt === "sum") {
        // The exact integer aggregate as little-endian uint32 words: untyped bytes.
        bytes = u32Bytes(result.stored.aggregate).slice();
        type = "application/octet-stream";
      } else {
        return error(400, "format", `format must be npy, raw, safetensors or sum, got ${fmt}`);
      }
      return new Response(bytes, { headers: { ...headers, "content-type": type } });
    } catch (err) {
      if (err instanceof FormatError) return error(err.status, err.code, err.message);
      if (err instanceof SubmitError) return error(err.status, "rejected", err.message);
      return error(500, "internal", String((err as Error)?.message ?? err));
    }
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: ({ hostname, port }) => {
        resolve({
          url: `http://${hostname}:${port}`,
          shutdown: async () => {
            for (const close of [...streams]) close();
            await server.shutdown();
          },
        });
      },
    }, handler);
  });
}

function events(node: FedaggNode, streams: Set<() => void>): Response {
  let cleanup = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          cleanup(); // the stream closed under us
        }
      };
      const unsubscribe = node.subscribe((e) =>
        send(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`)
      );
      const keepAlive = setInterval(() => send(": keep-alive\n\n"), 15_000);
      cleanup = () => {
        clearInterval(keepAlive);
        unsubscribe();
        streams.delete(close);
      };
      const close = () => {
        cleanup();
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      streams.add(close);
      send(": fedagg events\n\n");
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}
