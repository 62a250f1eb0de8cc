/**
 * A small, strict HTTP/1.1 server with limits, in front of a `(Request) => Promise<Response>`
 * handler: the trainer API's transport. `Deno.serve` has no header timeout, idle timeout or
 * connection cap, and its failed `accept` at the open-file limit takes the process down; this
 * server owns its accept loop (`Deno.listen`) and bounds what a client can hold:
 *
 * - **connections**: at most `maxConnections` open. At the cap, a new connection takes the place
 *   of the one that has waited longest (at least `evictAfterMs`) for a request head, which is
 *   closed; when none has, the new one is answered a fast 503 (`too-many-connections`) and
 *   closed. So a flood of idle or slowloris connections cannot lock out a client that sends its
 *   request at once;
 * - **the request head**: complete within `headTimeoutMs` of the connection's start (or of its
 *   first byte on a kept-alive connection), else 408 (`timeout`); at most `maxHeadBytes` and
 *   `maxHeaders` fields, else 431 (`header-too-large`); parsed strictly (`http_head.ts`);
 * - **bodies**: only with `Content-Length` (a `Transfer-Encoding` is 411, `length-required`);
 *   read only as the handler pulls, in chunks of what arrived; no byte for `bodyIdleTimeoutMs`
 *   or the body unfinished `bodyTimeoutMs` after the head errors the body stream with an
 *   {@link HttpBodyError} (`timeout`), which the handler turns into its answer;
 * - **idle keep-alive** connections are closed after `keepAliveTimeoutMs`;
 * - **answers**: a write that makes no progress for `writeTimeoutMs` closes the connection;
 *   `text/event-stream` answers are streamed (chunked) for as long as the handler's stream
 *   runs, every other answer is buffered and sent with its `Content-Length`;
 * - **the accept loop** never ends but by `shutdown`: an `accept` failure (EMFILE, ENFILE, …)
 *   is reported, evicts as above (freeing a descriptor) and is retried after a backoff of 10 ms
 *   doubling to 1 s.
 *
 * A request body the handler left unread (a refusal, e.g. a 401) is discarded to keep the
 * connection only when at most 64 KiB of it is left and it all arrives within `drainTimeoutMs`
 * of the answer; meanwhile the connection counts as waiting for a request (so it may be evicted
 * at the cap). A request sent with `Expect: 100-continue` whose body was never asked for is
 * answered and closed. Otherwise the connection is closed after the answer (with a short
 * lingering drain, so the client reads the answer instead of a reset). An event stream is read
 * in the background while it runs, so a client that goes away ends it at once; its connection is
 * closed when it ends. An HTTP/1.0 client that asked for keep-alive is answered
 * `Connection: keep-alive`. Refusals the server makes itself are built by the caller's `refusal`
 * function (one status table).
 *
 * @module
 */
import { headEnd, HeadError, parseHead, type RequestHead } from "./http_head.ts";

/** The server's limits; every field has a default in {@link DEFAULT_HTTP_LIMITS}. */
export interface HttpLimits {
  /** Open connections at most (including event streams); one more gets a 503 or evicts. */
  readonly maxConnections: number;
  /** At the cap, a connection waiting this long for a request head may be closed for a new one. */
  readonly evictAfterMs: number;
  /** A request head must be complete within this many ms. */
  readonly headTimeoutMs: number;
  /** A request head (request line and fields, CRLFs included) is at most this many bytes. */
  readonly maxHeadBytes: number;
  /** A request head has at most this many header fields. */
  readonly maxHeaders: number;
  /** A kept-alive connection with no new request for this long is closed. */
  readonly keepAliveTimeoutMs: number;
  /** A request body with no new byte for this long fails with `timeout`. */
  readonly bodyIdleTimeoutMs: number;
  /** A request body not complete this long after its head fails with `timeout`. */
  readonly bodyTimeoutMs: number;
  /** A write to the client that makes no progress for this long closes the connection. */
  readonly writeTimeoutMs: number;
  /**
   * A request body the handler left unread (at most 64 KiB) must arrive within this long after
   * the answer to be discarded and the connection kept; else the connection is closed.
   */
  readonly drainTimeoutMs: number;
  /** On shutdown, requests in progress get this long to finish before their connection closes. */
  readonly shutdownGraceMs: number;
}

/** The defaults: generous for a trainer on the same host, short enough to shed abuse. */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxConnections: 256,
  evictAfterMs: 1_000,
  headTimeoutMs: 10_000,
  maxHeadBytes: 16 * 1024,
  maxHeaders: 64,
  keepAliveTimeoutMs: 5_000,
  bodyIdleTimeoutMs: 20_000,
  bodyTimeoutMs: 300_000,
  writeTimeoutMs: 30_000,
  drainTimeoutMs: 2_000,
  shutdownGraceMs: 5_000,
});

/** The refusals the server answers itself, before or around the handler. */
export type HttpRefusalCode =
  | "too-many-connections"
  | "timeout"
  | "header-too-large"
  | "length-required"
  | "bad-request"
  | "internal";

/** Why a request body stream failed: no byte in time (`timeout`) or the client went away. */
export class HttpBodyError extends Error {
  /** `timeout` (408) or `incomplete-body` (the connection ended before Content-Length bytes). */
  readonly code: "timeout" | "incomplete-body";

  /**
   * A failed body stream.
   * @param code what happened @param message what exactly
   */
  constructor(code: "timeout" | "incomplete-body", message: string) {
    super(message);
    this.name = "HttpBodyError";
    this.code = code;
  }
}

/** What the server reports to its owner (for logs and metrics). */
export type HttpServerEvent =
  /** The server refused a connection or request itself. */
  | { readonly type: "refused"; readonly code: HttpRefusalCode }
  /** At the cap, a connection waiting for a request head was closed to make room. */
  | { readonly type: "evicted" }
  /** `accept` failed; the loop retries after `retryMs`. */
  | { readonly type: "accept-error"; readonly error: Error; readonly retryMs: number }
  /** `accept` works again after `failures` failures. */
  | { readonly type: "accept-recovered"; readonly failures: number }
  /** The number of open connections changed. */
  | { readonly type: "connections"; readonly open: number };

/** What {@link serveHttp} needs. */
export interface HttpServerOptions {
  /** The address to listen on. */
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Overrides of {@link DEFAULT_HTTP_LIMITS}. */
  readonly limits?: Partial<HttpLimits>;
  /** The answer to a refusal the server makes itself. */
  readonly refusal: (code: HttpRefusalCode, message: string) => Response;
  /** Reports (must not throw). */
  readonly onEvent?: (event: HttpServerEvent) => void;
}

/** A running server. */
export interface HttpServer {
  /** The listening address. */
  readonly hostname: string;
  /** The listening port (the one picked, when 0 was asked). */
  readonly port: number;
  /** Open connections right now. */
  readonly connections: number;
  /**
   * Stops accepting, closes idle connections at once, gives requests in progress
   * `shutdownGraceMs` to finish, then closes everything; resolves when all connections are closed.
   * Event streams end when their handler's stream ends (the caller closes them first).
   */
  shutdown(): Promise<void>;
}

const encoder = new TextEncoder();
/** Read size while waiting for a request head (small: idle connections hold one such buffer). */
const HEAD_READ = 2048;
/** Read size for bodies. */
const BODY_READ = 64 * 1024;
/** A body left unread by at most this much is drained so the connection can be kept. */
const DRAIN_LIMIT = 64 * 1024;
/** A closing connection discards the client's late bytes for at most this long / this much. */
const LINGER_MS = 500;
const LINGER_BYTES = 256 * 1024;
/** The linger of a connection refused over the cap (short: refusals come in floods). */
const REFUSAL_LINGER_MS = 100;

class TimedOut extends Error {}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** `conn.read(buf)` unless `deadline` (performance.now()) passes first: then {@link TimedOut}. */
function readBefore(conn: Deno.Conn, buf: Uint8Array, deadline: number): Promise<number | null> {
  const ms = deadline - performance.now();
  if (ms <= 0) return Promise.reject(new TimedOut());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimedOut()), ms);
    conn.read(buf).then(
      (n) => {
        clearTimeout(timer);
        resolve(n);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Writes all of `bytes`, each write making progress within `timeoutMs`, else {@link TimedOut}. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array, timeoutMs: number): Promise<void> {
  let at = 0;
  while (at < bytes.length) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.write(bytes.subarray(at)),
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new TimedOut()), timeoutMs)
      ),
    ]).finally(() => clearTimeout(timer));
    at += n;
  }
}

/** One accepted connection: a buffered reader with deadlines, and its request loop. */
class Connection {
  readonly conn: Deno.Conn;
  /** Bytes read but not yet consumed: `#buf[#start, #end)`. */
  #buf = new Uint8Array(HEAD_READ);
  #start = 0;
  #end = 0;
  /** Whether the connection waits for a request (closed at once on shutdown). */
  idle = true;
  /** Since when (performance.now()) it waits for a request. */
  idleSince = performance.now();
  #closed = false;
  /**
   * Called once when the connection closes; each request or stream chunk subscribes and
   * unsubscribes, so nothing a finished request made stays reachable from a long-lived
   * connection.
   */
  readonly #onClose = new Set<() => void>();
  /** Bytes of the current request body not yet read from the socket. */
  bodyLeft = 0;
  /** Set when the current request body stream failed (the connection cannot be reused). */
  bodyFailed = false;
  /** Set while the client waits for a `100 Continue` the handler never asked for. */
  continuePending = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const listeners = [...this.#onClose];
    this.#onClose.clear();
    for (const listener of listeners) listener();
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /**
   * What `p` settles to, or null if the connection closes first. The close subscription lasts
   * only until one of the two happens.
   */
  orClosed<T>(p: Promise<T>): Promise<T | null> {
    if (this.#closed) {
      p.catch(() => {});
      return Promise.resolve(null);
    }
    return new Promise<T | null>((resolve, reject) => {
      const listener = () => resolve(null);
      this.#onClose.add(listener);
      p.then(
        (value) => {
          this.#onClose.delete(listener);
          resolve(value);
        },
        (err) => {
          this.#onClose.delete(listener);
          reject(err);
        },
      );
    });
  }

  /** Reads once into the buffer's free space (growing it up to `cap`); false at end of stream. */
  async #fill(deadline: number, cap: number): Promise<boolean> {
    if (this.#start > 0 && this.#end === this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buf.length) {
      const grown = new Uint8Array(
        Math.max(this.#buf.length + 1, Math.min(cap, 2 * this.#buf.length)),
      );
      grown.set(this.#buf.subarray(0, this.#end));
      this.#buf = grown;
    }
    const n = await readBefore(this.conn, this.#buf.subarray(this.#end), deadline);
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /**
   * The next request head: null when the client closed (or, on a kept-alive connection, sent
   * nothing until `idleDeadline`). Throws {@link TimedOut} when the head is not complete by
   * `headDeadline` (counted from the first byte when `fromFirstByte`), a {@link HeadError} for a
   * head too large or malformed.
   */
  async readHead(
    limits: HttpLimits,
    idleDeadline: number,
    fromFirstByte: boolean,
  ): Promise<RequestHead | null> {
    // How far past #start the terminator was searched for (#fill may move the bytes).
    let searched = 0;
    // Infinity: still waiting for the first byte of a kept-alive connection's next request.
    let headDeadline = !fromFirstByte
      ? idleDeadline
      : this.#end > this.#start
      ? performance.now() + limits.headTimeoutMs
      : Infinity;
    // A head larger than the limit is refused when its end is not within the limit.
    const cap = limits.maxHeadBytes + HEAD_READ;
    while (true) {
      const end = headEnd(this.#buf, this.#start + searched, this.#end);
      if (end >= 0) {
        if (end - this.#start > limits.maxHeadBytes) break;
        const head = parseHead(this.#buf.subarray(this.#start, end), limits.maxHeaders);
        this.#start = end;
        return head;
      }
      if (this.#end - this.#start > limits.maxHeadBytes) break;
      searched = this.#end - this.#start;
      if (headDeadline === Infinity) {
        try {
          if (!await this.#fill(idleDeadline, cap)) return null;
        } catch (err) {
          if (err instanceof TimedOut) return null;
          throw err;
        }
        headDeadline = performance.now() + limits.headTimeoutMs;
        continue;
      }
      if (!await this.#fill(headDeadline, cap)) {
        if (this.#end === this.#start) return null;
        throw new HeadError("bad-request", "the connection ended inside the request head");
      }
    }
    throw new HeadError(
      "header-too-large",
      `the request head is larger than ${limits.maxHeadBytes} bytes`,
    );
  }

  /**
   * The body stream of a request declaring `length` bytes: each pull reads what arrived (the
   * buffered bytes first), within the idle and overall deadlines; it errors with an
   * {@link HttpBodyError} on a timeout or an early end.
   */
  body(head: RequestHead, limits: HttpLimits): ReadableStream<Uint8Array> {
    this.bodyLeft = head.contentLength;
    this.bodyFailed = false;
    const overall = performance.now() + limits.bodyTimeoutMs;
    this.continuePending = head.expectContinue;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          if (this.bodyLeft === 0) return controller.close();
          const buffered = this.#end - this.#start;
          if (buffered > 0) {
            const n = Math.min(buffered, this.bodyLeft);
            controller.enqueue(this.#buf.slice(this.#start, this.#start + n));
            this.#start += n;
            this.bodyLeft -= n;
            return;
          }
          if (this.continuePending) {
            this.continuePending = false;
            await writeAll(
              this.conn,
              encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"),
              limits.writeTimeoutMs,
            );
          }
          const chunk = new Uint8Array(Math.min(BODY_READ, this.bodyLeft));
          const deadline = Math.min(overall, performance.now() + limits.bodyIdleTimeoutMs);
          const n = await readBefore(this.conn, chunk, deadline);
          if (n === null) {
            throw new HttpBodyError(
              "incomplete-body",
              `the connection ended ${this.bodyLeft} bytes before the declared Content-Length`,
            );
          }
          this.bodyLeft -= n;
          // A short read keeps only its bytes, not the whole read buffer.
          controller.enqueue(n < chunk.length / 4 ? chunk.slice(0, n) : chunk.subarray(0, n));
        } catch (err) {
          this.bodyFailed = true;
          if (err instanceof TimedOut) {
            controller.error(
              new HttpBodyError(
                "timeout",
                performance.now() >= overall
                  ? `the request body was not complete within ${limits.bodyTimeoutMs} ms`
                  : `no byte of the request body arrived for ${limits.bodyIdleTimeoutMs} ms`,
              ),
            );
          } else if (err instanceof HttpBodyError) {
            controller.error(err);
          } else {
            controller.error(new HttpBodyError("incomplete-body", "the connection failed"));
          }
        }
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Discards up to `DRAIN_LIMIT` unread body bytes, all of them within `drainTimeoutMs` (and no
   * gap longer than `bodyIdleTimeoutMs`); whether all went.
   */
  async drainBody(limits: HttpLimits): Promise<boolean> {
    if (this.bodyFailed || this.bodyLeft > DRAIN_LIMIT || this.continuePending) return false;
    const deadline = performance.now() + limits.drainTimeoutMs;
    try {
      while (this.bodyLeft > 0) {
        const buffered = this.#end - this.#start;
        if (buffered > 0) {
          const n = Math.min(buffered, this.bodyLeft);
          this.#start += n;
          this.bodyLeft -= n;
          continue;
        }
        this.#start = this.#end = 0;
        const gap = performance.now() + limits.bodyIdleTimeoutMs;
        if (!await this.#fill(Math.min(deadline, gap), HEAD_READ)) {
          return false;
        }
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Closes after an answer: ends the sending side, then discards what the client still sends
   * for a short while, so a client busy sending its body reads the answer instead of a reset.
   */
  async linger(ms = LINGER_MS): Promise<void> {
    if (this.#closed) return;
    try {
      await this.conn.closeWrite();
      const scratch = new Uint8Array(HEAD_READ);
      const deadline = performance.now() + ms;
      let discarded = 0;
      while (discarded < LINGER_BYTES) {
        const n = await readBefore(this.conn, scratch, deadline);
        if (n === null) break;
        discarded += n;
      }
    } catch {
      // timed out or reset: close either way
    }
    this.close();
  }
}

/** The head of an answer, and its body framing. */
function responseHead(
  res: Response,
  framing: { length: number } | "chunked" | "until-close",
  keepAlive: boolean,
  version: "1.0" | "1.1" = "1.1",
): Uint8Array {
  let text = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}\r\n`;
  for (const [name, value] of res.headers) {
    if (name === "content-length" || name === "transfer-encoding" || name === "connection") {
      continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  if (framing === "chunked") text += "transfer-encoding: chunked\r\n";
  else if (framing !== "until-close") text += `content-length: ${framing.length}\r\n`;
  // An HTTP/1.0 connection is kept only when the answer says so (RFC 9112, appendix C.2.2).
  text += !keepAlive
    ? "connection: close\r\n\r\n"
    : version === "1.0"
    ? "connection: keep-alive\r\n\r\n"
    : "\r\n";
  return encoder.encode(text);
}

/**
 * Writes `res` to the connection. Returns whether the connection may be kept (the answer was
 * framed and fully written). Streams only `text/event-stream` bodies; buffers the others. While
 * a stream runs, the connection is read in the background (what the client sends is discarded)
 * so that its end closes the connection and ends the stream at once; the connection is closed
 * when the stream ends.
 */
async function writeResponse(
  c: Connection,
  res: Response,
  head: { method: string; version: "1.0" | "1.1" } | undefined,
  keepAlive: boolean,
  limits: HttpLimits,
): Promise<boolean> {
  const noBody = head?.method === "HEAD" || res.status === 204 || res.status === 304;
  const streaming = res.body !== null &&
    (res.headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
  if (!streaming) {
    const body = res.body === null ? new Uint8Array(0) : new Uint8Array(await res.arrayBuffer());
    const headBytes = responseHead(res, { length: body.length }, keepAlive, head?.version);
    const out = new Uint8Array(headBytes.length + (noBody ? 0 : body.length));
    out.set(headBytes);
    if (!noBody) out.set(body, headBytes.length);
    await writeAll(c.conn, out, limits.writeTimeoutMs);
    return keepAlive;
  }
  const chunked = head?.version !== "1.0";
  const reader = res.body!.getReader();
  try {
    if (noBody) {
      const keep = keepAlive && chunked;
      await writeAll(
        c.conn,
        responseHead(res, chunked ? "chunked" : "until-close", keep),
        limits.writeTimeoutMs,
      );
      return keep;
    }
    await writeAll(
      c.conn,
      responseHead(res, chunked ? "chunked" : "until-close", false),
      limits.writeTimeoutMs,
    );
    // The client's end (or reset) closes the connection, which ends the wait below.
    (async () => {
      const scratch = new Uint8Array(HEAD_READ);
      try {
        while (await c.conn.read(scratch) !== null);
      } catch {
        // reset or closed: either way the stream is over
      }
      c.close();
    })();
    while (true) {
      // Waiting here has no timeout: the stream is the handler's (an event stream lives long).
      const next = await c.orClosed(reader.read());
      if (next === null) return false;
      if (next.done) break;
      if (next.value.length === 0) continue;
      if (chunked) {
        const size = encoder.encode(next.value.length.toString(16) + "\r\n");
        const framed = new Uint8Array(size.length + next.value.length + 2);
        framed.set(size);
        framed.set(next.value, size.length);
        framed.set([13, 10], size.length + next.value.length);
        await writeAll(c.conn, framed, limits.writeTimeoutMs);
      } else {
        await writeAll(c.conn, next.value, limits.writeTimeoutMs);
      }
    }
    if (chunked) await writeAll(c.conn, encoder.encode("0\r\n\r\n"), limits.writeTimeoutMs);
    return false;
  } finally {
    reader.cancel().catch(() => {});
    if (!noBody) c.close();
  }
}

/**
 * Serves `handler` on `hostname:port` under the limits of the module doc (defaults
 * {@link DEFAULT_HTTP_LIMITS}). Rejects when the address cannot be bound. Never rejects or
 * throws afterwards: a failing handler is answered with `refusal("internal")`, a broken
 * connection is closed, a failing `accept` is retried.
 */
export function serveHttp(
  handler: (req: Request) => Promise<Response>,
  options: HttpServerOptions,
): HttpServer {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const listener = Deno.listen({
    hostname: options.hostname,
    port: options.port,
    transport: "tcp",
  });
  const addr = listener.addr as Deno.NetAddr;
  const base = `http://${
    addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
  }:${addr.port}`;
  const report = (event: HttpServerEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // a reporter's failure is not the server's
    }
  };
  const open = new Map<Connection, Promise<void>>();
  /** Connections being refused over the cap (at most `maxConnections` of them). */
  const refusals = new Set<Connection>();
  let closing = false;
  let wake = () => {};

  /** Closes the connection that waited longest for a request head, if long enough; whether. */
  const evictOne = (): boolean => {
    const before = performance.now() - limits.evictAfterMs;
    let oldest: Connection | undefined;
    for (const c of open.keys()) {
      if (c.idle && c.idleSince <= before && (!oldest || c.idleSince < oldest.idleSince)) {
        oldest = c;
      }
    }
    if (oldest === undefined) return false;
    oldest.close();
    open.delete(oldest);
    report({ type: "evicted" });
    return true;
  };

  /** A fast answer to a connection over the cap, then close; never more than the cap at once. */
  const refuse = async (conn: Deno.Conn) => {
    report({ type: "refused", code: "too-many-connections" });
    const c = new Connection(conn);
    if (refusals.size >= limits.maxConnections) return c.close();
    refusals.add(c);
    try {
      const res = options.refusal(
        "too-many-connections",
        `the server holds its maximum of ${limits.maxConnections} connections: retry later`,
      );
      res.headers.set("retry-after", "1");
      await writeResponse(c, res, undefined, false, { ...limits, writeTimeoutMs: 1000 });
      await c.linger(REFUSAL_LINGER_MS);
    } catch {
      c.close();
    } finally {
      refusals.delete(c);
    }
  };

  /** Answers a refusal the server makes itself and closes. */
  const answer = async (c: Connection, code: HttpRefusalCode, message: string) => {
    report({ type: "refused", code });
    try {
      await writeResponse(c, options.refusal(code, message), undefined, false, limits);
      await c.linger();
    } catch {
      c.close();
    }
  };

  const serve = async (c: Connection) => {
    let first = true;
    try {
      while (!closing && !c.closed) {
        c.idle = true;
        c.idleSince = performance.now();
        let head: RequestHead | null;
        try {
          head = first
            ? await c.readHead(limits, performance.now() + limits.headTimeoutMs, false)
            : await c.readHead(limits, performance.now() + limits.keepAliveTimeoutMs, true);
        } catch (err) {
          if (err instanceof TimedOut) {
            await answer(
              c,
              "timeout",
              `the request head was not complete within ${limits.headTimeoutMs} ms`,
            );
          } else if (err instanceof HeadError) {
            await answer(c, err.code, err.message);
          }
          return;
        }
        if (head === null || closing) return;
        c.idle = false;
        first = false;
        c.bodyLeft = 0;
        c.continuePending = false;
        let req: Request;
        try {
          const headers = new Headers();
          for (const [name, value] of head.headers) headers.append(name, value);
          req = new Request(base + head.target, {
            method: head.method,
            headers,
            body: head.contentLength > 0 ? c.body(head, limits) : null,
          });
        } catch (err) {
          await answer(c, "bad-request", `the request cannot be read: ${(err as Error).message}`);
          return;
        }
        let res: Response;
        try {
          const out = await c.orClosed(handler(req));
          if (out === null) return;
          res = out;
        } catch (err) {
          report({ type: "refused", code: "internal" });
          res = options.refusal("internal", String((err as Error)?.message ?? err));
        }
        // A body the client holds back until `100 Continue` is never asked for: close.
        const keep = head.keepAlive && !closing && !c.bodyFailed && c.bodyLeft <= DRAIN_LIMIT &&
          !(c.continuePending && c.bodyLeft > 0);
        if (!await writeResponse(c, res, head, keep, limits)) return await c.linger();
        if (c.bodyLeft > 0) {
          // Answered: while the rest of the body is discarded, the connection may be evicted.
          c.idle = true;
          c.idleSince = performance.now();
          if (!await c.drainBody(limits)) return await c.linger();
        }
      }
    } catch {
      // a write timed out or the connection broke: close it
    } finally {
      c.close();
      if (open.delete(c)) report({ type: "connections", open: open.size });
    }
  };

  const acceptLoop = async () => {
    let failures = 0;
    let backoff = 0;
    while (!closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing) break;
        failures++;
        // Out of descriptors (or another failure): free one held by a connection that sent no
        // request for a while, so the next try can succeed; back off either way.
        evictOne();
        backoff = Math.min(1000, Math.max(10, backoff * 2));
        report({ type: "accept-error", error: err as Error, retryMs: backoff });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoff);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      if (failures > 0) {
        report({ type: "accept-recovered", failures });
        failures = 0;
        backoff = 0;
      }
      if (closing) {
        conn.close();
        break;
      }
      if (open.size >= limits.maxConnections && !evictOne()) {
        refuse(conn);
        continue;
      }
      try {
        conn.setNoDelay(true);
      } catch {
        // not fatal
      }
      const c = new Connection(conn);
      open.set(c, serve(c));
      report({ type: "connections", open: open.size });
    }
  };
  const accepting = acceptLoop();

  let stopped: Promise<void> | undefined;
  return {
    hostname: addr.hostname,
    port: addr.port,
    get connections() {
      return open.size;
    },
    shutdown() {
      stopped ??= (async () => {
        closing = true;
        try {
          listener.close();
        } catch {
          // already closed
        }
        wake();
        await accepting;
        for (const c of refusals) c.close();
        for (const c of open.keys()) if (c.idle) c.close();
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.all(open.values()),
          new Promise<void>((resolve) => timer = setTimeout(resolve, limits.shutdownGraceMs)),
        ]);
        clearTimeout(timer);
        for (const c of open.keys()) c.close();
        await Promise.all(open.values());
      })();
      return stopped;
    },
  };
}
