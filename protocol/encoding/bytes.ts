/**
 * Small byte helpers shared by the whole core: concatenation, hex, public equality and
 * little-endian `Uint32Array` views. Nothing here is constant-time: secrets are compared with
 * `constantTimeEqual` from `crypto/`.
 *
 * @module
 */

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Vectors travel as little-endian uint32; every platform Deno ships for is little-endian.
  throw new Error("fedagg requires a little-endian platform");
}

/** Concatenates byte arrays into one new array. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Equality of two public byte strings (early exit: never use it on secrets). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Parses lower- or upper-case hex; throws `TypeError` on odd length or a non-hex character. */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError("hex string must have an even number of hex digits");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** UTF-8 encoding of a string. */
export function utf8(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s);
}

/** Big-endian 8-byte encoding of a non-negative safe integer (used inside hashed labels). */
export function u64be(n: number): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative integer: ${n}`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/**
 * Copies little-endian bytes into a new, aligned `Uint32Array`.
 * Refuses (RangeError) a length that is not a multiple of 4.
 */
export function bytesToU32(bytes: Uint8Array): Uint32Array<ArrayBuffer> {
  if (bytes.length % 4 !== 0) throw new RangeError("byte length is not a multiple of 4");
  const out = new Uint32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** A byte view (no copy) of a `Uint32Array`'s little-endian contents. */
export function u32Bytes(v: Uint32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Overwrites every given array with zeros (best effort: the GC may hold older copies). */
export function wipe(...arrays: (Uint8Array | Uint32Array | Uint16Array | undefined)[]): void {
  for (const a of arrays) a?.fill(0);
}

/** Standard base64 (RFC 4648 §4, with padding) of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  return (bytes as Uint8Array & { toBase64(): string }).toBase64();
}

/** Parses standard base64; throws `SyntaxError` on anything else. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return (Uint8Array as unknown as { fromBase64(s: string): Uint8Array<ArrayBuffer> })
    .fromBase64(text);
}

/**
 * A little-endian `Uint32Array` over `bytes`: a view when `bytes` is 4-byte aligned (no copy:
 * the result aliases the input), else a copy. Refuses (RangeError) a length not a multiple of 4.
 */
export function u32View(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw new RangeError("byte length is not a multiple of 4");
  return bytes.byteOffset % 4 === 0
    ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
    : bytesToU32(bytes);
}
