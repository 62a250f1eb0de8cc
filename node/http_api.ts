/**
 * The local trainer API, on 127.0.0.1 by default. Every request needs
 * `Authorization: Bearer <token>` (the token lives in `DIR/api.token`, mode 0600; the scheme
 * name in any case, as RFC 9110 says); a request without it is answered 401 with
 * `WWW-Authenticate: Bearer`.
 *
 * | method | path | |
 * | --- | --- | --- |
 * | POST | `/v1/rounds/{r}/update?num_samples=N[&layout=flat]` | the update: safetensors with the roster's tensors, or raw little-endian float32 or `.npy` (by Content-Type or magic; flat bodies for a layout of several tensors only with `layout=flat`) → 202 with the count of clipped values |
 * | DELETE | `/v1/rounds/{r}/update` | withdraws the update before its masked input left → 200 |
 * | GET | `/v1/rounds/{r}/aggregate?format=npy\|raw\|safetensors\|sum[&mean=plain]` | the round's result: the weighted mean, or under a robust rule the rule's result over the group means (`mean=plain`: the weighted mean of the total even then; header `x-fedagg-mean: robust\|plain`) (safetensors in the roster's layout and order; or `sum`: the exact certified integer aggregate) → 200, 404 until published |
 * | GET | `/v1/rounds/{r}/certificate` | the final certificate (CBOR) → 200, 404 until final |
 * | GET | `/v1/status` | peers, current round, round, view, leader, stage, deadline, missing members, last error |
 * | POST | `/v1/roster/amendments` | a roster amendment file (JSON): checked against the chain from the node's signed roster, stored in `DIR/amendments/`, and adopted once valid → 200 `{"status": "adopted" \| "pending", …}` (`AdoptionResult`, `node.ts`); refused 422 `amendment-invalid` (does not parse, another chain, a fork) or 409 `amendment-refused` (takes effect too soon, or changes dim, layout, mode or DP) |
 * | GET | `/v1/roster` | the roster versions this node runs: each version's number, first round, hash, members and threshold |
 * | GET | `/v1/layout` | the roster's tensor layout, for trainers to check and order their updates: {@link LayoutDoc} |
 * | GET | `/v1/events` | server-sent events with ids (`Last-Event-ID` resumes): `accepted`, `stage`, `view-change`, `published`, `final`, `round-failed`, `withdrawn`, `outcome-unknown` (and `gap`) |
 * | GET | `/metrics` | Prometheus text format, every series, including the token-only `fedagg_update_values_clipped_total` (the `--metrics` listener serves the open ones without a token: `metrics_listener.ts`) |
 *
 * The transport is `http_server.ts`: a strict HTTP/1.1 server with a connection cap, head, body,
 * idle and write timeouts, bodies only with `Content-Length` and an accept loop that survives
 * running out of file descriptors (limits: {@link ApiLimits}, defaults {@link DEFAULT_API_LIMITS}).
 * At most `maxUploads` updates are read at once (one more is 503 `busy` with `Retry-After`), each
 * into memory that grows with the bytes received, never sized by the declared length up front.
 *
 * Errors are JSON `{ "error": code, "message": text }` with the status {@link STATUS} gives the
 * code: a refused update body names its format problem (`wrong-length`, `non-finite`, …); an
 * update (or a withdrawal) the node refused is `"error": "rejected"` with the node's reason as
 * `"reason"` (`already-submitted`, `decided`, `round-too-far-ahead`, `committed`, …).
 *
 * @module
 */
import {
  constantTimeEqual,
  isFlatLayout,
  layoutHash,
  type ModelLayout,
  toHex,
  u32Bytes,
} from "../protocol/mod.ts";
import { JournalError, NodeError, type SubmitErrorCode } from "./errors.ts";
import { parseAmendmentFile } from "./amendment_file.ts";
import {
  DEFAULT_HTTP_LIMITS,
  HttpBodyError,
  type HttpLimits,
  type HttpRefusalCode,
  type HttpServerEvent,
  serveHttp,
} from "./http_server.ts";
import type { Log } from "./mesh.ts";
import { METRICS_CONTENT_TYPE } from "./metrics_listener.ts";
import type { LoggedEvent } from "./event_log.ts";
import type { FedaggNode, NodeEvent } from "./node.ts";
import {
  CONTENT_TYPES,
  encodeNpy,
  encodeRaw,
  encodeSafetensors,
  FormatError,
  type FormatErrorCode,
  headerAllowanceFor,
  maxUpdateBytes,
  parseUpdate,
} from "./tensor_formats/mod.ts";

/** Refusals of a request as such (the route, the token, the query, the size, the transport). */
export type RequestErrorCode =
  | HttpRefusalCode
  | "incomplete-body"
  | "busy"
  | "unauthorized"
  | "not-found"
  | "method"
  | "num-samples"
  | "layout-query"
  | "too-big"
  | "not-yet"
  | "not-final"
  | "format"
  | "internal";

/** Every code the API answers with an error status. */
export type ApiErrorCode =
  | RequestErrorCode
  | FormatErrorCode
  | SubmitErrorCode
  | "amendment-invalid"
  | "journal-corrupt"
  | "disk-full";

/** The HTTP status of every refusal, by its code: the one place codes meet statuses. */
export const STATUS: Readonly<
  Record<
    ApiErrorCode,
    400 | 401 | 404 | 405 | 408 | 409 | 411 | 413 | 415 | 422 | 431 | 500 | 503 | 507
  >
> = {
  // The transport (http_server.ts): limits and strict HTTP/1.1.
  "too-many-connections": 503,
  "busy": 503,
  "timeout": 408,
  "header-too-large": 431,
  "length-required": 411,
  "bad-request": 400,
  "incomplete-body": 400,
  // The request as such.
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
  "layout-mismatch": 422,
  "flat-upload": 422,
  // The node's refusal of an update (NodeError).
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
  // A roster amendment the node does not take (POST /v1/roster/amendments).
  "amendment-invalid": 422,
  "amendment-refused": 409,
  // The node's refusal to withdraw an update.
  "nothing-to-withdraw": 404,
  "committed": 409,
  // A journal record found damaged while running (JournalError): never served; a restart repairs
  // or quarantines the round.
  "journal-corrupt": 503,
  // The journal's disk is full (JournalError): the update was not journaled, so it is not
  // acknowledged; free space and send it again.
  "disk-full": 507,
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

function error(
  code: RequestErrorCode | FormatErrorCode | "journal-corrupt" | "disk-full",
  message: string,
): Response {
  return json(STATUS[code], { error: code, message });
}

/**
 * The body of `GET /v1/layout`: the roster's layout as a trainer needs it to send an update the
 * node takes (names and shapes in the federation's order; every tensor float32 little-endian).
 * `flat` says it is the flat layout of a `--dim` roster (one tensor `aggregate` of shape `[dim]`),
 * `hash` is the hex SHA-256 the roster hash covers (`layoutHash`), so a client can tell that a
 * node it cached the layout of now runs another one. Its size grows with the number of tensors
 * (one entry each), which is why `GET /v1/status` does not carry it.
 */
export interface LayoutDoc {
  /** Always `"F32"`: the only dtype aggregated. */
  readonly dtype: "F32";
  /** d: the number of float32 values, the sum of the tensors' element counts. */
  readonly dim: number;
  /** Whether this is the flat layout of d. */
  readonly flat: boolean;
  /** Hex of the layout's hash (domain `layout`). */
  readonly hash: string;
  /** The tensors in the federation's order (the order of the vector and of the aggregate). */
  readonly tensors: readonly { readonly name: string; readonly shape: readonly number[] }[];
}

/** The {@link LayoutDoc} of `layout` (of `dim` values). */
export function layoutDoc(layout: ModelLayout, dim: number): LayoutDoc {
  return {
    dtype: "F32",
    dim,
    flat: isFlatLayout(layout),
    hash: toHex(layoutHash(layout)),
    tensors: layout.tensors.map((t) => ({ name: t.name, shape: [...t.shape] })),
  };
}

/** The answer to an exception out of a route: the refusal it carries, else a 500. */
function refusal(err: unknown): Response {
  if (err instanceof FormatError) return error(err.code, err.message);
  if (err instanceof HttpBodyError) return error(err.code, err.message);
  if (err instanceof JournalError && (err.code === "journal-corrupt" || err.code === "disk-full")) {
    return error(err.code, err.message);
  }
  if (err instanceof NodeError && Object.hasOwn(STATUS, err.code)) {
    const code = err.code as SubmitErrorCode | "amendment-invalid";
    return json(STATUS[code], { error: "rejected", reason: code, message: err.message });
  }
  return error("internal", String((err as Error)?.message ?? err));
}

/**
 * Reads a request body up to `limit` bytes; undefined when it declares or sends more. Memory
 * follows what arrived: the buffer starts at 64 KiB (or the declared length, if smaller) and
 * doubles as bytes come, never beyond the declared length, so a stalled upload holds about what
 * it sent. Rejects with the transport's {@link HttpBodyError} (timeout, early end).
 */
export async function readBody(req: Request, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  if (req.body === null) return new Uint8Array(0);
  const cap = Number.isSafeInteger(declared) && declared >= 0 ? declared : limit;
  let out = new Uint8Array(Math.min(cap, 1 << 16));
  let size = 0;
  for await (const chunk of req.body) {
    const end = size + chunk.length;
    if (end > limit) return undefined;
    if (end > out.length) {
      const grown = new Uint8Array(Math.min(Math.max(cap, end), Math.max(2 * out.length, end)));
      grown.set(out.subarray(0, size));
      out = grown;
    }
    out.set(chunk, size);
    size = end;
  }
  return out.subarray(0, size);
}

/** Largest amendment file the API reads (64 changes of full member entries fit easily). */
const MAX_AMENDMENT_BYTES = 1 << 20;

/**
 * `POST /v1/roster/amendments`: reads the body as an amendment file (strictly: unknown keys
 * and wrong types are named) and hands it to the node (`FedaggNode.adoptAmendment`) → 200 with
 * what became of it. A body that is not JSON or not an amendment file is 422
 * `amendment-invalid`.
 */
async function postAmendment(node: FedaggNode, req: Request): Promise<Response> {
  const body = await readBody(req, MAX_AMENDMENT_BYTES);
  if (body === undefined) {
    return error("too-big", `an amendment file is at most ${MAX_AMENDMENT_BYTES} bytes`);
  }
  let file;
  try {
    file = parseAmendmentFile(JSON.parse(new TextDecoder().decode(body)));
  } catch (err) {
    throw new NodeError(
      "amendment-invalid",
      `the body is not an amendment file: ${(err as Error).message}`,
    );
  }
  return json(200, await node.adoptAmendment(file));
}

/** The body of `GET /v1/roster`: the versions the node runs (version 0 first). */
function rosterDoc(node: FedaggNode) {
  return {
    currentRound: node.status().currentRound,
    versions: node.versions.map((v) => ({
      version: v.version,
      firstRound: v.firstRound,
      hash: toHex(v.hash),
      rosterHash: toHex(v.roster.hash),
      threshold: v.roster.threshold,
      members: v.roster.members.map((m) => ({ id: m.id, name: m.name ?? null })),
    })),
  };
}

/** What the routes share: the node, its update limits and the upload slots. */
interface Context {
  readonly node: FedaggNode;
  readonly dim: number;
  readonly maxBody: number;
  /** Bytes a body may have beyond its float32 data (headers), for the roster's layout. */
  readonly headerAllowance: number;
  /** Free upload slots (a request reading an update body holds one). */
  uploadSlots: number;
  readonly limits: ApiLimits;
}

/**
 * `DELETE /v1/rounds/{r}/update`: withdraws this member's update → 200 once the withdrawal is
 * journaled (the node's refusals: `nothing-to-withdraw` 404, `committed` and `decided` 409).
 */
async function deleteUpdate(ctx: Context, round: number): Promise<Response> {
  await ctx.node.withdraw(round);
  return json(200, { round, withdrawn: true });
}

/** `POST /v1/rounds/{r}/update`: parses the body and hands the update to the node → 202. */
async function postUpdate(ctx: Context, req: Request, url: URL, round: number): Promise<Response> {
  if (req.method !== "POST") {
    return error("method", "use POST to submit an update, DELETE to withdraw it");
  }
  const samples = url.searchParams.get("num_samples");
  if (samples === null || !/^\d{1,10}$/.test(samples)) {
    return error("num-samples", "query parameter num_samples (a positive integer) is required");
  }
  const layoutQuery = url.searchParams.get("layout");
  if (layoutQuery !== null && layoutQuery !== "flat") {
    return error(
      "layout-query",
      `query parameter layout may only be flat (the body is the roster's vector in its ` +
        `layout's order), got ${JSON.stringify(layoutQuery.slice(0, 32))}`,
    );
  }
  if (ctx.uploadSlots === 0) {
    countRefusal(ctx.node, "busy");
    return json(STATUS["busy"], {
      error: "busy",
      message: `${ctx.limits.maxUploads} uploads are being read: retry in a moment`,
    }, { "retry-after": String(ctx.limits.busyRetryAfterS) });
  }
  const inProgress = () =>
    ctx.node.metrics.set(
      "fedagg_api_uploads_in_progress",
      "update bodies being read or submitted right now",
      ctx.limits.maxUploads - ctx.uploadSlots,
    );
  ctx.uploadSlots--;
  inProgress();
  try {
    const body = await readBody(req, ctx.maxBody);
    if (body === undefined) {
      return error("too-big", `the update is larger than ${ctx.maxBody} bytes (d = ${ctx.dim})`);
    }
    const parsed = parseUpdate(body, ctx.dim, {
      contentType: req.headers.get("content-type") ?? undefined,
      headerAllowance: ctx.headerAllowance,
      layout: ctx.node.roster.layout,
      flat: layoutQuery === "flat",
    });
    const { clipped } = await ctx.node.submit(
      round,
      parsed.values,
      Number(samples),
      parsed.layout,
    );
    return json(202, {
      round,
      accepted: true,
      format: parsed.format,
      values: ctx.dim,
      clipped,
      clip: ctx.node.roster.quantization.clip,
    });
  } finally {
    ctx.uploadSlots++;
    inProgress();
  }
}

/**
 * The aggregate as the `format` query asks: the published mean (`plain`: the weighted mean of the
 * total) as npy (default), raw or safetensors, or the exact sum.
 */
function encodeAggregate(
  result: NonNullable<Awaited<ReturnType<FedaggNode["aggregate"]>>>,
  format: string,
  plain: boolean,
): { bytes: Uint8Array<ArrayBuffer>; type: string } | undefined {
  const mean = () => plain ? result.plainMean : result.mean;
  switch (format) {
    case "npy": {
      // One tensor: its shape; several: the flat vector in the layout's order.
      const tensors = result.layout.tensors;
      const shape = tensors.length === 1 ? tensors[0].shape : undefined;
      return { bytes: encodeNpy(mean(), shape), type: CONTENT_TYPES.npy };
    }
    case "raw":
      return { bytes: encodeRaw(mean()), type: CONTENT_TYPES.raw };
    case "safetensors":
      return {
        bytes: encodeSafetensors(mean(), result.layout),
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
    "x-fedagg-members": result.stored.members.map((i) => ctx.node.rosterOf(round).members[i].id)
      .join(","),
  };
  if (what === "certificate") {
    if (!final) return error("not-final", `round ${round}'s certificate is not final yet`);
    return new Response(result.stored.final!.slice(), {
      headers: { ...headers, "content-type": "application/cbor" },
    });
  }
  const format = url.searchParams.get("format") ?? "npy";
  const of = url.searchParams.get("mean") ?? "published";
  if (of !== "published" && of !== "plain") {
    return error("format", `mean must be published or plain, got ${of.slice(0, 32)}`);
  }
  const robust = of === "published" && ctx.node.roster.robust !== undefined;
  const encoded = encodeAggregate(result, format, of === "plain");
  if (encoded === undefined) {
    return error("format", `format must be npy, raw, safetensors or sum, got ${format}`);
  }
  return new Response(encoded.bytes, {
    headers: {
      ...headers,
      "content-type": encoded.type,
      ...(format === "sum" ? {} : { "x-fedagg-mean": robust ? "robust" : "plain" }),
    },
  });
}

/** The API's limits: the transport's ({@link HttpLimits}) and the upload slots. */
export interface ApiLimits extends HttpLimits {
  /** Update bodies read at once at most; one more is answered 503 `busy`. */
  readonly maxUploads: number;
  /** The `Retry-After` (seconds) of a `busy` answer. */
  readonly busyRetryAfterS: number;
}

/** The defaults (docs/operator-guide.md, "API limits"). */
export const DEFAULT_API_LIMITS: Readonly<ApiLimits> = Object.freeze({
  ...DEFAULT_HTTP_LIMITS,
  maxUploads: 2,
  busyRetryAfterS: 2,
});

/** What {@link serveApi} takes. */
export interface ApiOptions {
  /** The address to listen on (127.0.0.1 keeps the API local). */
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The bearer token (at least 16 characters). */
  readonly token: string;
  /** Overrides of {@link DEFAULT_API_LIMITS}. */
  readonly limits?: Partial<ApiLimits>;
  /** Where transport trouble is logged (accept failures); JSON lines on stderr by default. */
  readonly log?: Log;
}

function stderrLog(level: string, message: string, fields: object = {}): void {
  console.error(JSON.stringify({ t: new Date().toISOString(), level, msg: message, ...fields }));
}

function countRefusal(node: FedaggNode, code: ApiErrorCode): void {
  node.metrics.inc(
    "fedagg_api_refusals_total",
    "requests and connections the API refused for its limits, by code",
    { code },
  );
}

/** Metrics and logs of the transport's events. */
function reporter(node: FedaggNode, log: Log): (e: HttpServerEvent) => void {
  return (e) => {
    switch (e.type) {
      case "connections":
        node.metrics.set("fedagg_api_connections", "open trainer API connections", e.open);
        return;
      case "refused":
        countRefusal(node, e.code);
        return;
      case "evicted":
        node.metrics.inc(
          "fedagg_api_evictions_total",
          "connections closed at the cap to make room (they had sent no request for a while)",
        );
        return;
      case "accept-error":
        node.metrics.inc("fedagg_api_accept_errors_total", "failed accepts on the API port");
        // The first failure of a run of them is logged; the recovery says how many followed.
        if (e.retryMs === 10) {
          log("warn", "trainer API cannot accept connections; retrying", {
            error: e.error.message,
          });
        }
        return;
      case "accept-recovered":
        log("info", "trainer API accepts connections again", { failures: e.failures });
        return;
    }
  };
}

/**
 * Serves the API for `node` on `hostname:port` (port 0 picks a free one) under `limits` (see
 * {@link DEFAULT_API_LIMITS}). Refuses (NodeError `api-token`) a token shorter than 16
 * characters; throws when the address cannot be bound. Once serving it never stops by itself:
 * abuse is refused (status table {@link STATUS}) and accept failures are retried.
 */
export function serveApi(node: FedaggNode, options: ApiOptions): Promise<ApiServer> {
  if (options.token.length < 16) {
    throw new NodeError("api-token", "API token must be at least 16 characters");
  }
  const token = encoder.encode(options.token);
  const limits: ApiLimits = { ...DEFAULT_API_LIMITS, ...options.limits };
  const ctx: Context = {
    node,
    dim: node.roster.dim,
    maxBody: maxUpdateBytes(node.roster.dim, headerAllowanceFor(node.roster.layout)),
    headerAllowance: headerAllowanceFor(node.roster.layout),
    uploadSlots: limits.maxUploads,
    limits,
  };
  // The roster (and so its layout) is fixed for the life of the process: encode it once.
  const layoutBody = layoutDoc(node.roster.layout, node.roster.dim);
  /** Closers of the open event streams (each clears its timer and subscription). */
  const streams = new Set<() => void>();

  const authorized = (req: Request): boolean => {
    const header = req.headers.get("authorization") ?? "";
    // The scheme is case-insensitive (RFC 9110, 11.1); the token is compared exactly.
    const m = /^bearer +(.+)$/i.exec(header);
    return m !== null && constantTimeEqual(encoder.encode(m[1]), token);
  };

  const route = async (req: Request, url: URL): Promise<Response> => {
    const path = url.pathname;
    if (req.method === "GET" && path === "/v1/status") return json(200, node.status());
    if (req.method === "GET" && path === "/v1/layout") return json(200, layoutBody);
    if (req.method === "GET" && path === "/v1/roster") return json(200, rosterDoc(node));
    if (req.method === "POST" && path === "/v1/roster/amendments") {
      return await postAmendment(node, req);
    }
    if (req.method === "GET" && path === "/metrics") {
      return new Response(node.renderMetrics(), {
        headers: { "content-type": METRICS_CONTENT_TYPE },
      });
    }
    if (req.method === "GET" && path === "/v1/events") {
      return events(node, streams, req.headers.get("last-event-id") ?? undefined);
    }
    const round = /^\/v1\/rounds\/(\d{1,15})\/(update|aggregate|certificate)$/.exec(path);
    if (round === null) return error("not-found", `no route ${req.method} ${path}`);
    const r = Number(round[1]);
    if (round[2] === "update" && req.method === "DELETE") return await deleteUpdate(ctx, r);
    if (round[2] === "update") return await postUpdate(ctx, req, url, r);
    return await getResult(ctx, req, url, r, round[2] as "aggregate" | "certificate");
  };

  const handler = async (req: Request): Promise<Response> => {
    if (!authorized(req)) {
      const res = error("unauthorized", "missing or wrong bearer token (see DIR/api.token)");
      res.headers.set("www-authenticate", "Bearer");
      return res;
    }
    try {
      return await route(req, new URL(req.url));
    } catch (err) {
      return refusal(err);
    }
  };

  const server = serveHttp(handler, {
    hostname: options.hostname,
    port: options.port,
    limits,
    refusal: (code, message) => error(code, message),
    onEvent: reporter(node, options.log ?? stderrLog),
  });
  const host = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  return Promise.resolve({
    url: `http://${host}:${server.port}`,
    shutdown: async () => {
      for (const close of [...streams]) close();
      await server.shutdown();
    },
  });
}

/**
 * The event stream: each event as `id:`, `event:` and `data:` (JSON) lines. With a
 * `Last-Event-ID`, the kept events after that id come first (the node keeps the newest
 * `DEFAULT_EVENT_CAPACITY` (1024) in memory, `event_log.ts`); when some may be missing (the id is older than that,
 * from before a restart, or unknown) a `gap` event comes first, with the reason and the oldest id
 * kept, then every kept event.
 */
function events(
  node: FedaggNode,
  streams: Set<() => void>,
  lastEventId: string | undefined,
): Response {
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
      const frame = (e: LoggedEvent<NodeEvent>) =>
        `id: ${e.id}\nevent: ${e.event.type}\ndata: ${JSON.stringify(e.event)}\n\n`;
      const { unsubscribe, replay } = node.subscribe((e) => send(frame(e)), lastEventId);
      send(": fedagg events\n\n");
      if (replay.gap !== undefined) {
        const data = { reason: replay.gap, lastEventId, oldest: replay.oldest ?? null };
        send(`event: gap\ndata: ${JSON.stringify(data)}\n\n`);
      }
      for (const e of replay.events) send(frame(e));
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
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
  });
}
