/**
 * Sized messages on a libp2p stream, the wire format of the mesh's frames and aggregate
 * bodies: a 4-byte big-endian length, then the bytes in chunks of at most {@link CHUNK}, each
 * chunk (and the length) one length-prefixed message of `lpStream`. Chunking keeps vectors of
 * millions of parameters under the 4 MiB stream and yamux buffers.
 *
 * Reading is two steps, {@link readLength} then {@link readBody}, because the frame handler
 * answers between them (refusing a length, or waiting for a large-frame slot);
 * {@link readSized} does both when there is nothing to do in between. Used by `mesh.ts` only.
 *
 * @module
 */
import type { Stream } from "npm:@libp2p/interface@3.3.0";
import { type LengthPrefixedStream, lpStream } from "npm:@libp2p/utils@7.4.1";

/** Chunk size on streams (well under the 4 MiB stream and yamux buffers). */
export const CHUNK = 1 << 20;

/**
 * The length-prefixed view of `stream` that sized messages travel on: it refuses (by failing
 * the read) any one message above `CHUNK + 16` bytes.
 */
export function sizedStream(stream: Stream): LengthPrefixedStream<Stream> {
  return lpStream(stream, { maxDataLength: CHUNK + 16 });
}

/**
 * Writes `bytes` as a sized message: its length as 4 big-endian bytes, then the bytes in chunks
 * of {@link CHUNK} (none for an empty message). Refuses nothing itself; fails as `lp.write`
 * does (on abort of `signal` or a broken stream). `bytes` must be shorter than 2^32.
 */
export async function writeSized(
  lp: LengthPrefixedStream,
  bytes: Uint8Array,
  signal: AbortSignal,
): Promise<void> {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, bytes.length);
  await lp.write(header, { signal });
  for (let o = 0; o < bytes.length; o += CHUNK) {
    await lp.write(bytes.subarray(o, Math.min(bytes.length, o + CHUNK)), { signal });
  }
}

/**
 * Reads the length of a sized message: the 4-byte big-endian header, or -1 when the first
 * message is not 4 bytes long. Does not judge the length (see {@link lengthRefused}).
 */
export async function readLength(lp: LengthPrefixedStream, signal: AbortSignal): Promise<number> {
  const head = (await lp.read({ signal })).subarray();
  return head.length === 4 ? new DataView(head.buffer, head.byteOffset, 4).getUint32(0) : -1;
}

/**
 * Whether an announced `length` is refused: not above 0 (an empty message, or no header) or
 * above `maxBytes`.
 */
export function lengthRefused(length: number, maxBytes: number): boolean {
  return length <= 0 || length > maxBytes;
}

/**
 * Reads the `length` bytes of a sized message whose length was read, chunk by chunk, into a
 * fresh array that ends on a 4-byte boundary of its buffer: a frame's body (its last item, a
 * whole number of 32-bit words) then starts aligned and is read as words in place, without a
 * copy. Throws `Error("<what> longer than announced")` as soon as the chunks overrun `length`;
 * fails as `lp.read` does otherwise (abort, stream closed early).
 */
export async function readBody(
  lp: LengthPrefixedStream,
  length: number,
  signal: AbortSignal,
  what: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const pad = (4 - length % 4) % 4;
  const body = new Uint8Array(length + pad).subarray(pad);
  let filled = 0;
  while (filled < length) {
    const chunk = await lp.read({ signal });
    if (filled + chunk.byteLength > length) throw new Error(`${what} longer than announced`);
    // Piece by piece: `subarray()` of a chunk that arrived in pieces would first copy them into
    // one array (a megabyte of garbage per chunk, collected late: it lives outside V8's heap).
    for (const piece of chunk) {
      body.set(piece, filled);
      filled += piece.length;
    }
  }
  return body;
}

/**
 * Reads a whole sized message of at most `maxBytes`: {@link readLength}, then
 * {@link readBody}. Resolves undefined, having read only the header, when the length is
 * refused ({@link lengthRefused}); throws as {@link readBody} does.
 */
export async function readSized(
  lp: LengthPrefixedStream,
  maxBytes: number,
  signal: AbortSignal,
  what: string,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const length = await readLength(lp, signal);
  if (lengthRefused(length, maxBytes)) return undefined;
  return await readBody(lp, length, signal, what);
}
