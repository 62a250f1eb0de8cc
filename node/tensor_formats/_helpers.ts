/**
 * Private helpers that more than one format file uses: copying float32 data out of a body,
 * the finite scan, element counts and shape checks, and quoting untrusted text for messages.
 * A helper used by one file only lives in that file. Not part of the public surface.
 *
 * @module
 */
import "../../protocol/mod.ts"; // its byte helpers refuse to load on a big-endian platform
import { FormatError } from "./errors.ts";

/**
 * Copies `count` little-endian float32 values from `bytes[start..]` into a fresh, aligned
 * array (`bytes` may be any unaligned view; it is only read). The caller has checked that the
 * bytes are there.
 */
export function copyValues(
  bytes: Uint8Array,
  start: number,
  count: number,
): Float32Array<ArrayBuffer> {
  const values = new Float32Array(count);
  new Uint8Array(values.buffer).set(bytes.subarray(start, start + 4 * count));
  return values;
}

/** Index of the first NaN or ±Infinity (exponent bits all ones), or -1. */
export function firstNonFinite(values: Float32Array<ArrayBuffer>): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7f800000) === 0x7f800000) return i;
  }
  return -1;
}

/** The 422 refusal of the non-finite `values[index]`, found at `where` (index and context). */
export function nonFinite(values: Float32Array, index: number, where: string): FormatError {
  return new FormatError(
    "non-finite",
    `the value at ${where} is ${values[index]}; updates must be finite`,
  );
}

/** Product of `shape` (1 for `[]`), or Infinity when it exceeds 2^53 − 1. */
export function elementCount(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const n of shape) {
    count *= n;
    if (count > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return count;
}

/** A count for a message: the number, or "more than 2^53" for {@link elementCount}'s Infinity. */
export function countText(count: number): string {
  return Number.isFinite(count) ? String(count) : "more than 2^53";
}

/**
 * Refuses (with `RangeError`, naming `what`) a shape that is not an array of non-negative safe
 * integers or whose element count exceeds 2^53 − 1. For encoder arguments, not for bodies.
 */
export function checkShape(shape: readonly number[], what: string): void {
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new RangeError(`${what} must be an array of non-negative integers`);
  }
  if (!Number.isFinite(elementCount(shape))) throw new RangeError(`${what} is too large`);
}

/**
 * A quoted, shortened rendering of untrusted text for error messages: at most 64 characters
 * (61 and "..."), JSON-escaped, in single quotes.
 */
export function quote(text: string): string {
  const short = text.length > 64 ? `${text.slice(0, 61)}...` : text;
  return JSON.stringify(short).replace(/^"|"$/g, "'");
}
