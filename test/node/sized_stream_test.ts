/**
 * Sized messages (node/sized_stream.ts), read from a stand-in for the length-prefixed stream
 * that hands over chunks in pieces, as libp2p does: `readBody` returns exactly the announced
 * bytes, in a buffer that ends on a 4-byte boundary (so a frame's last item, a vector body of
 * whole words, can be read as words in place), for every length modulo 4 and however the
 * chunks are cut; a chunk that overruns the announced length is refused by name.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { Uint8ArrayList } from "npm:uint8arraylist@2.4.9";
import type { LengthPrefixedStream } from "npm:@libp2p/utils@7.4.1";
import { readBody } from "../../node/sized_stream.ts";

/** A length-prefixed stream that yields `chunks` in order, each split into pieces of `piece`. */
function chunkedStream(chunks: readonly Uint8Array[], piece: number): LengthPrefixedStream {
  let next = 0;
  const stream = {
    read: () => {
      if (next >= chunks.length) return Promise.reject(new Error("stream ended"));
      const chunk = chunks[next++];
      const list = new Uint8ArrayList();
      for (let o = 0; o < chunk.length; o += piece) list.append(chunk.subarray(o, o + piece));
      return Promise.resolve(list);
    },
  };
  return stream as unknown as LengthPrefixedStream;
}

/** `length` bytes 1, 2, 3, … (mod 251), cut into chunks of at most `chunk` bytes. */
function message(length: number, chunk: number): { bytes: Uint8Array; chunks: Uint8Array[] } {
  const bytes = Uint8Array.from({ length }, (_, i) => (i % 251) + 1);
  const chunks: Uint8Array[] = [];
  for (let o = 0; o < length; o += chunk) chunks.push(bytes.subarray(o, o + chunk));
  return { bytes, chunks };
}

Deno.test("sized stream: readBody returns the announced bytes, ending on a 4-byte boundary", async () => {
  const signal = new AbortController().signal;
  for (let length = 1; length <= 41; length++) {
    for (const [chunk, piece] of [[length, length], [7, 3], [5, 1], [16, 16]]) {
      const { bytes, chunks } = message(length, chunk);
      const body = await readBody(chunkedStream(chunks, piece), length, signal, "frame");
      const at = `length ${length}, chunks of ${chunk} in pieces of ${piece}`;
      assertEquals(body.length, length, at);
      assertEquals(Array.from(body), Array.from(bytes), at);
      assertEquals((body.byteOffset + body.length) % 4, 0, `${at}: ends aligned`);
      assertEquals(body.byteOffset + body.length, body.buffer.byteLength, `${at}: ends the buffer`);
      // The last whole words are a Uint32Array view of the same memory (a view at an offset that
      // is not a multiple of 4 would throw), little-endian words of the bytes sent.
      const words = Math.floor(length / 4);
      const view = new Uint32Array(body.buffer, body.byteOffset + length - 4 * words, words);
      const sent = new DataView(bytes.buffer, length - 4 * words, 4 * words);
      const expected = Array.from({ length: words }, (_, k) => sent.getUint32(4 * k, true));
      assertEquals(Array.from(view), expected, `${at}: words in place`);
    }
  }
});

Deno.test("sized stream: readBody refuses a chunk that runs past the announced length", async () => {
  const signal = new AbortController().signal;
  const { chunks } = message(12, 8); // 8 + 4 bytes arrive
  await assertRejects(
    () => readBody(chunkedStream(chunks, 3), 10, signal, "masked input"),
    Error,
    "masked input longer than announced",
  );
  // Exactly the announced length in several chunks is fine.
  const ok = await readBody(chunkedStream(chunks, 3), 12, signal, "masked input");
  assert(ok.length === 12);
});
