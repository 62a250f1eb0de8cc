/**
 * Raw updates: exactly `4·d` bytes of little-endian float32, no header, one tensor named
 * {@link DEFAULT_TENSOR_NAME}.
 *
 * @module
 */
import { copyValues, firstNonFinite, nonFinite } from "./_helpers.ts";
import { FormatError } from "./errors.ts";
import { DEFAULT_TENSOR_NAME, type ParsedUpdate } from "./types.ts";

/**
 * Parses a raw body of `dim` values into a fresh, aligned copy, as one tensor
 * {@link DEFAULT_TENSOR_NAME} of shape `[dim]`. Refuses with a {@link FormatError} a body that
 * is not exactly `4·dim` bytes (422, naming both lengths) and a NaN or ±Infinity (422, naming
 * the first index). The body size limit is checked by the caller (`parseUpdate`).
 */
export function parseRaw(bytes: Uint8Array, dim: number): ParsedUpdate {
  if (bytes.length !== 4 * dim) {
    const found = bytes.length % 4 === 0
      ? `${bytes.length / 4} float32 values`
      : "not a whole number of float32 values";
    throw new FormatError(
      "wrong-length",
      `the raw body has ${bytes.length} bytes (${found}); d = ${dim} needs exactly ${4 * dim}`,
    );
  }
  const values = copyValues(bytes, 0, dim);
  const bad = firstNonFinite(values);
  if (bad >= 0) throw nonFinite(values, bad, `index ${bad}`);
  return {
    values,
    format: "raw",
    layout: { tensors: [{ name: DEFAULT_TENSOR_NAME, shape: [dim] }] },
  };
}

/** The little-endian float32 bytes of `values` (a fresh copy). Refuses nothing. */
export function encodeRaw(values: Float32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(values.byteLength);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return out;
}
