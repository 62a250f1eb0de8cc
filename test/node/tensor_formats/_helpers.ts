/**
 * Helpers shared by the tests of this folder: the refusal assertion (code and message
 * fragments), builders of float32 data, `.npy` and safetensors bodies, and unaligned views.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { toHex, utf8 } from "../../../protocol/encoding/bytes.ts";
import {
  encodeRaw,
  FormatError,
  type FormatErrorCode,
  type ParsedUpdate,
} from "../../../node/tensor_formats/mod.ts";

/** Asserts a FormatError of `code` whose message contains every fragment. */
export function refusal(
  fn: () => unknown,
  code: FormatErrorCode,
  ...fragments: string[]
): FormatError {
  const e = assertThrows(fn, FormatError) as FormatError;
  assertEquals(e.code, code, e.message);
  for (const f of fragments) assert(e.message.includes(f), `"${e.message}" lacks "${f}"`);
  return e;
}

/** Little-endian float32 bytes. */
export function f32(...xs: number[]): Uint8Array {
  return encodeRaw(new Float32Array(xs));
}

export function cat(...parts: (Uint8Array | string)[]): Uint8Array<ArrayBuffer> {
  const bytes = parts.map((p) => typeof p === "string" ? latin1(p) : p);
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of bytes) {
    out.set(b, offset);
    offset += b.length;
  }
  return out;
}

export function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** An .npy file with the given header text, taken verbatim (no padding added), and data. */
export function npy(header: string, data: Uint8Array, version = 1): Uint8Array<ArrayBuffer> {
  const h = version === 3 ? utf8(header) : latin1(header);
  const length = new Uint8Array(version === 1 ? 2 : 4);
  if (version === 1) new DataView(length.buffer).setUint16(0, h.length, true);
  else new DataView(length.buffer).setUint32(0, h.length, true);
  return cat("\x93NUMPY", new Uint8Array([version, 0]), length, h, data);
}

/** The usual header dict for `shape` (a Python tuple literal). */
export function npyDict(shape: string, descr = "<f4", fortran = "False"): string {
  return `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;
}

/** A safetensors file with the given header JSON (verbatim) and data buffer. */
export function st(header: string, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const h = utf8(header);
  const n = new Uint8Array(8);
  new DataView(n.buffer).setUint32(0, h.length, true);
  return cat(n, h, data);
}

export function info(shape: number[], begin: number, end: number, dtype = "F32"): string {
  return JSON.stringify({ dtype, shape, data_offsets: [begin, end] });
}

/** `bytes` copied to offset `shift` of a larger buffer: an unaligned view of the same bytes. */
export function shifted(bytes: Uint8Array, shift: number): Uint8Array {
  const buffer = new Uint8Array(bytes.length + shift + 3).fill(0xff);
  buffer.set(bytes, shift);
  return buffer.subarray(shift, shift + bytes.length);
}

export function values(p: ParsedUpdate): number[] {
  return Array.from(p.values);
}

export function sameBits(actual: Float32Array, expected: Float32Array): void {
  assertEquals(toHex(encodeRaw(actual)), toHex(encodeRaw(expected)));
}
