/**
 * A raw HTTP/1.1 client for the server tests: opens TCP connections, writes exactly the bytes a
 * test gives (a head dribbled byte by byte, a body that stalls) and reads an answer as sent.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An answer read off a raw connection. */
export interface RawReply {
  readonly status: number;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  // deno-lint-ignore no-explicit-any
  json(): any;
}

/** Opens a TCP connection to `127.0.0.1:port`. */
export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Writes `data` (text as UTF-8) whole. */
export async function send(conn: Deno.Conn, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/**
 * Reads one answer (head, then a `content-length` body, or until the connection ends) and
 * resolves to it; rejects if the connection ends before a complete head.
 */
export async function readReply(conn: Deno.Conn): Promise<RawReply> {
  let buf = new Uint8Array(0);
  const more = async (): Promise<boolean> => {
    const chunk = new Uint8Array(16 * 1024);
    const n = await conn.read(chunk);
    if (n === null) return false;
    const grown = new Uint8Array(buf.length + n);
    grown.set(buf);
    grown.set(chunk.subarray(0, n), buf.length);
    buf = grown;
    return true;
  };
  let end = -1;
  while ((end = decoder.decode(buf).indexOf("\r\n\r\n")) < 0) {
    if (!await more()) throw new Error(`connection ended before an answer: ${decoder.decode(buf)}`);
  }
  const lines = decoder.decode(buf.subarray(0, end)).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const start = end + 4;
  const length = headers["content-length"];
  if (length !== undefined) {
    while (buf.length < start + Number(length)) {
      if (!await more()) throw new Error("connection ended inside the answer's body");
    }
  } else {
    while (await more());
  }
  const body = buf.slice(start, length === undefined ? buf.length : start + Number(length));
  return { status, headers, body, json: () => JSON.parse(decoder.decode(body)) };
}

/**
 * Reads until the server ends the connection (end of stream or reset) and resolves to what it
 * sent before, as text: e.g. an error answer, or nothing.
 */
export async function untilClosed(conn: Deno.Conn): Promise<string> {
  const scratch = new Uint8Array(4096);
  let text = "";
  try {
    for (let n; (n = await conn.read(scratch)) !== null;) {
      text += decoder.decode(scratch.subarray(0, n));
    }
  } catch {
    // reset: closed too
  }
  return text;
}
