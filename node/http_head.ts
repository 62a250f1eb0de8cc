/**
 * The strict HTTP/1.1 request-head parser of the trainer API's server (`http_server.ts`): the
 * bytes before the blank line become a {@link RequestHead}, or a {@link HeadError} naming what was
 * wrong. Pure: no sockets, no clocks.
 *
 * What it accepts (RFC 9112, the strict reading): a request line `METHOD SP /origin-form SP
 * HTTP/1.1` (or `HTTP/1.0`), CRLF line ends, header names that are tokens, values without control
 * characters, exactly one `Host` for HTTP/1.1, at most one `Content-Length` (digits only). What
 * it refuses: bare LF, obs-fold (continuation lines), whitespace before the colon, an absolute or
 * `*` target, other versions, too many headers (`header-too-large`), and any `Transfer-Encoding`
 * (`length-required`: bodies must be sent with a `Content-Length`, which every client the
 * operator guide names does).
 *
 * @module
 */

/** Why a request head was refused; the server answers each with the API's status for it. */
export type HeadErrorCode = "bad-request" | "header-too-large" | "length-required";

/** A refused request head: `code` for the status, `message` for the client. */
export class HeadError extends Error {
  /** What was wrong, as a status-table code. */
  readonly code: HeadErrorCode;

  /**
   * A refused head.
   * @param code what was wrong @param message what exactly, for the client
   */
  constructor(code: HeadErrorCode, message: string) {
    super(message);
    this.name = "HeadError";
    this.code = code;
  }
}

/** A request head that follows the rules above. */
export interface RequestHead {
  /** The method as sent (a token, case kept). */
  readonly method: string;
  /** The origin-form target: a path starting with `/`, with its query. */
  readonly target: string;
  /** `"1.1"` or `"1.0"`. */
  readonly version: "1.0" | "1.1";
  /** The header fields in order, names lower-cased, values trimmed (latin-1 strings). */
  readonly headers: readonly (readonly [string, string])[];
  /** The declared body length; 0 without a `Content-Length`. */
  readonly contentLength: number;
  /** Whether the client lets the connection stay open after the answer. */
  readonly keepAlive: boolean;
  /**
   * Whether the client sent `Expect: 100-continue` and waits for it before the body; never for
   * HTTP/1.0, which has no `100 Continue` (RFC 9110, 10.1.1: the expectation is ignored).
   */
  readonly expectContinue: boolean;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([^ ]+) ([^ ]+) HTTP\/(\d)\.(\d)$/;
const TARGET = /^\/[\x21-\x7e]*$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The index just past the first CRLFCRLF in `bytes[from, to)`, or -1 when there is none yet.
 * `from` may point inside a terminator that started in bytes already searched (it backs up 3).
 */
export function headEnd(bytes: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(0, from - 3); i + 3 < to; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10
    ) return i + 4;
  }
  return -1;
}

/** `bytes` as a latin-1 string (each byte one code unit), so no byte is rewritten. */
function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}

/**
 * Parses a request head: `bytes` is everything up to and including the CRLFCRLF that ends it.
 * Throws a {@link HeadError} for anything outside the rules of the module doc; more than
 * `maxHeaders` fields is `header-too-large`.
 */
export function parseHead(bytes: Uint8Array, maxHeaders: number): RequestHead {
  const text = latin1(bytes);
  if (!text.endsWith("\r\n\r\n")) {
    throw new HeadError("bad-request", "the head must end in CRLF CRLF");
  }
  const lines = text.slice(0, -4).split("\r\n");
  if (lines.some((l) => l.includes("\n") || l.includes("\r"))) {
    throw new HeadError("bad-request", "lines must end in CRLF (a bare CR or LF was sent)");
  }
  const m = REQUEST_LINE.exec(lines[0]);
  if (m === null || !TOKEN.test(m[1])) {
    throw new HeadError("bad-request", "the request line must be `METHOD /path HTTP/1.1`");
  }
  const [, method, target, major, minor] = m;
  if (major !== "1" || (minor !== "0" && minor !== "1")) {
    throw new HeadError("bad-request", `HTTP/${major}.${minor} is not supported: use HTTP/1.1`);
  }
  if (!TARGET.test(target)) {
    throw new HeadError("bad-request", "the request target must be a path starting with /");
  }
  if (lines.length - 1 > maxHeaders) {
    throw new HeadError("header-too-large", `more than ${maxHeaders} header fields`);
  }
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      throw new HeadError("bad-request", "folded header lines are not accepted");
    }
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) {
      throw new HeadError("bad-request", "a header line must be `name: value` with a token name");
    }
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) {
      throw new HeadError("bad-request", `header ${name} holds a control character`);
    }
    headers.push([name.toLowerCase(), value]);
  }
  const all = (name: string) => headers.filter(([n]) => n === name).map(([, v]) => v);
  if (all("transfer-encoding").length > 0) {
    throw new HeadError(
      "length-required",
      "Transfer-Encoding is not accepted: send the body with a Content-Length",
    );
  }
  const lengths = all("content-length");
  if (lengths.length > 1) throw new HeadError("bad-request", "more than one Content-Length");
  if (lengths.length === 1 && !/^\d{1,15}$/.test(lengths[0])) {
    throw new HeadError("bad-request", "Content-Length must be a decimal number of bytes");
  }
  const hosts = all("host");
  if (minor === "1" && hosts.length !== 1) {
    throw new HeadError("bad-request", "an HTTP/1.1 request needs exactly one Host header");
  }
  const connection = all("connection").join(",").toLowerCase().split(",").map((t) => t.trim());
  const keepAlive = minor === "1"
    ? !connection.includes("close")
    : connection.includes("keep-alive");
  return {
    method,
    target,
    version: minor === "1" ? "1.1" : "1.0",
    headers,
    contentLength: lengths.length === 1 ? Number(lengths[0]) : 0,
    keepAlive,
    expectContinue: minor === "1" && all("expect").some((v) => v.toLowerCase() === "100-continue"),
  };
}
