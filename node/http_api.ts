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
 * Errors are JSON `{ "error": code, "message": text }` with the status {@link STATUS} gives the
 * code: a refused update body names its format problem (`wrong-length`, `non-finite`, …); an
 * update the node refused is `"error": "rejected"` with the node's reason as `"reason"`
 * (`already-submitted`, `decided`, `invalid-num-samples`, …).
 *
 * @module
 */
import { constantTimeEqual, u32Bytes } from "../protocol/mod.ts";
import { NodeError, type SubmitErrorCode } from "./errors.ts";
import type { FedaggNode } from "./node.ts";
import {
  CONTENT_TYPES,
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  FormatError,
  type FormatErrorCode,
  maxUpdateBytes,
  parseUpdate,
} from "./tensor_formats/mod.ts";

/** Refusals of a request as such (the route, the token, the query, the size). */
export type RequestErrorCode =
  | "unauthorized"
  | "not-found"
  | "method"
  | "num-samples"
  | "too-big"
  | "not-yet"
  | "not-final"
  | "format"
  | "internal";

/** Every code the API answers with an error status. */
export type ApiErrorCode = RequestErrorCode | FormatErrorCode | SubmitErrorCode;

/** The HTTP status of every refusal, by its code: the one place codes meet statuses. */
export const STATUS: Readonly<
  Record<ApiErrorCode, 400 | 401 | 404 | 405 | 409 | 413 | 415 | 422 | 500>
> = {
  // The request as such.
  "unauthorized": 401,
  "not-found": 404,
  "method": 405,
  "num-samples": 400,
  "too-big": 413,
  "not-yet": 404,
  "not-final": 404,
  "format": 400,
  "internal": 500,
  // The update body (FormatError).
  "malformed": 400,
  "truncated": 400,
  "too-large": 413,
  "unsupported-content-type": 415,
  "unsupported-version": 415,
  "unsupported-dtype": 415,
  "unsupported-order": 415,
  "wrong-length": 422,
  "non-finite": 422,
  // The node's refusal of an update (NodeError).
  "invalid-round": 400,
  "wrong-dim": 422,
  "invalid-num-samples": 422,
  "invalid-input": 422,
  "submit-in-progress": 409,
  "already-submitted": 409,
  "already-final": 409,
  "decided": 409,
  "committed-before-restart": 409,
};

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

function error(code: RequestErrorCode | FormatErrorCode, message: string): Response {
  return json(STATUS[code], { error: code, message });
}

/** The answer to an exception out of a route: the refusal it carries, else a 500. */
function refusal(err: unknown): Response {
  if (err instanceof FormatError) return error(err.code, err.message);
  if (err instanceof NodeError && Object.hasOwn(STATUS, err.code)) {
    const code = err.code as SubmitErrorCode;
    return json(STATUS[code], { error: "rejected", reason: code, message: err.message });
  }
  return error("internal", String((err as Error)?.message ?? err));
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

/** What the routes share: the node and its update limits. */
interface Context {
  readonly node: FedaggNode;
  readonly dim: number;
  readonly maxBody: number;
}

/** `POST /v1/rounds/{r}/update`: parses the body and hands the update to the node → 202. */
async function postUpdate(ctx: Context, req: Request, url: URL, round: number): Promise<Response> {
  if (req.method !== "POST") return error("method", "use POST to submit an update");
  const samples = url.searchParams.get("num_samples");
  if (samples === null || !/^\d{1,10}$/.test(samples)) {
    return error("num-samples", "query parameter num_samples (a positive integer) is required");
  }
  const body = await readBody(req, ctx.maxBody);
  if (body === undefined) {
    return error("too-big", `the update is larger than ${ctx.maxBody} bytes (d = ${ctx.dim})`);
  }
  const parsed = parseUpdate(body, ctx.dim, {
    contentType: req.headers.get("content-type") ?? undefined,
  });
  await ctx.node.submit(round, parsed.values, Number(samples), parsed.layout);
  return json(202, { round, accepted: true, format: parsed.format, values: ctx.dim });
}

/** The aggregate as the `format` query asks: the mean as npy (default), raw or safetensors, or the exact sum. */
function encodeAggregate(
  result: NonNullable<Awaited<ReturnType<FedaggNode["aggregate"]>>>,
  format: string,
): { bytes: Uint8Array<ArrayBuffer>; type: string } | undefined {
  switch (format) {
    case "npy":
      return { bytes: encodeNpy(result.mean), type: CONTENT_TYPES.npy };
    case "raw":
      return { bytes: encodeRaw(result.mean), type: CONTENT_TYPES.raw };
    case "safetensors":
      return {
        bytes: encodeSafetensors(result.mean, result.layout),
        type: CONTENT_TYPES.safetensors,
      };
    case "sum":
      // The exact integer aggregate as little-endian uint32 words: untyped bytes.
      return {
        bytes: u32Bytes(result.stored.aggregate).slice(),
        type: "application/octet-stream",
      };
    default:
      return undefined;
  }
}

/** `GET /v1/rounds/{r}/aggregate` and `GET /v1/rounds/{r}/certificate`. */
async function getResult(
  ctx: Context,
  req: Request,
  url: URL,
  round: number,
  what: "aggregate" | "certificate",
): Promise<Response> {
  if (req.method !== "GET") return error("method", `use GET for ${what}`);
  const result = await ctx.node.aggregate(round);
  if (result === undefined) {
    return error("not-yet", `no aggregate has been published for round ${round} yet`);
  }
  const final = result.stored.final !== undefined;
  const headers = {
    "x-fedagg-round": String(round),
    "x-fedagg-view": String(result.stored.view),
    "x-fedagg-final": String(final),
    "x-fedagg-members": result.stored.members.map((i) => ctx.node.roster.members[i].id).join(","),
  };
  if (what === "certificate") {
    if (!final) return error("not-final", `round ${round}'s certificate is not final yet`);
    return new Response(result.stored.final!.slice(), {
      headers: { ...headers, "content-type": "application/cbor" },
    });
  }
  const format = url.searchParams.get("format") ?? "npy";
  const encoded = encodeAggregate(result, format);
  if (encoded === undefined) {
    return error("format", `format must be npy, raw, safetensors or sum, got ${format}`);
  }
  return new Response(encoded.bytes, { headers: { ...headers, "content-type": encoded.type } });
}

/**
 * Serves the API for `node` on `hostname:port` (port 0 picks a free one). Refuses (NodeError
 * `api-token`) a token shorter than 16 characters.
 */
export function serveApi(
  node: FedaggNode,
  options: { hostname: string; port: number; token: string },
): Promise<ApiServer> {
  if (options.token.length < 16) {
    throw new NodeError("api-token", "API token must be at least 16 characters");
  }
  const token = encoder.encode(options.token);
  const ctx: Context = { node, dim: node.roster.dim, maxBody: maxUpdateBytes(node.roster.dim) };
  /** Closers of the open event streams (each clears its timer and subscription). */
  const streams = new Set<() => void>();

  const authorized = (req: Request): boolean => {
    const header = req.headers.get("authorization") ?? "";
    const m = /^Bearer (.+)$/.exec(header);
    return m !== null && constantTimeEqual(encoder.encode(m[1]), token);
  };

  const route = async (req: Request, url: URL): Promise<Response> => {
    const path = url.pathname;
    if (req.method === "GET" && path === "/v1/status") return json(200, node.status());
    if (req.method === "GET" && path === "/metrics") {
      return new Response(node.renderMetrics(), {
        headers: { "content-type": "text/plain; version=0.0.4" },
      });
    }
    if (req.method === "GET" && path === "/v1/events") return events(node, streams);
    const round = /^\/v1\/rounds\/(\d{1,15})\/(update|aggregate|certificate)$/.exec(path);
    if (round === null) return error("not-found", `no route ${req.method} ${path}`);
    const r = Number(round[1]);
    if (round[2] === "update") return await postUpdate(ctx, req, url, r);
    return await getResult(ctx, req, url, r, round[2] as "aggregate" | "certificate");
  };

  const handler = async (req: Request): Promise<Response> => {
    if (!authorized(req)) {
      return error("unauthorized", "missing or wrong bearer token (see DIR/api.token)");
    }
    try {
      return await route(req, new URL(req.url));
    } catch (err) {
      return refusal(err);
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
