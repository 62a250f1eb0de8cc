/**
 * The wire formats of a model update between a trainer and its local node: raw little-endian
 * float32, NumPy `.npy` (versions 1.0, 2.0 and 3.0) and Hugging Face safetensors.
 *
 * An update is a float32 vector of length `d`, possibly made of several named tensors. With the
 * federation's layout (`ParseOptions.layout`, the roster's), a safetensors body is matched to
 * it by name and shape and its tensors' C-order data concatenated in the layout's order; a flat
 * body (raw, `.npy`) is taken as the layout's vector only when the layout is one tensor or the
 * caller says so (`ParseOptions.flat`). Without a layout (or with `flat`), the canonical
 * flattening of named tensors sorts them by name in Unicode code point order (the order of
 * Python's `sorted()` and of Rust's `str` comparison; it differs from JavaScript's default UTF-16
 * sort only for names that mix astral characters with U+E000–U+FFFF) and concatenates their
 * C-order data.
 *
 * Parsing is pure, copies the values into a fresh aligned `Float32Array` in one pass and scans
 * them for NaN and ±Infinity in a second one; nothing is allocated per element. Every refusal
 * of a body is a {@link FormatError} that carries the HTTP status to answer with and a message
 * naming what was found and what was expected. Encoders refuse only arguments that contradict
 * each other (a shape or a layout whose element count is not the vector's length), with a
 * `RangeError`: they are fed by the node, never by a peer.
 *
 * This file is the public surface (import from here, never from the other files) and the
 * dispatch: the size limit, format detection and {@link parseUpdate}. The rest, one job a file:
 *
 * - `types.ts`: the update, layout and format types shared by every format;
 * - `errors.ts`: {@link FormatError} and its codes;
 * - `raw.ts`, `npy.ts`, `safetensors.ts`: one format each, its parser and its encoder;
 * - `_python_literal.ts`: the parser of the Python literal an `.npy` header is;
 * - `_helpers.ts`: what several formats share (the finite scan, element counts, shape checks,
 *   quoting). The canonical name order is in `safetensors.ts`, its only user.
 *
 * @module
 */
import type { ModelLayout } from "../../protocol/mod.ts";
import { FormatError } from "./errors.ts";
import { quote } from "./_helpers.ts";
import { hasNpyMagic, parseNpy } from "./npy.ts";
import { parseRaw } from "./raw.ts";
import { looksLikeSafetensors, parseSafetensors } from "./safetensors.ts";
import type { ParsedUpdate, TensorFormat, TensorLayout } from "./types.ts";

export { FormatError, type FormatErrorCode } from "./errors.ts";
export { encodeNpy } from "./npy.ts";
export { encodeRaw } from "./raw.ts";
export { encodeSafetensors } from "./safetensors.ts";
export {
  DEFAULT_TENSOR_NAME,
  type ParsedUpdate,
  type TensorFormat,
  type TensorLayout,
  type TensorSpec,
} from "./types.ts";

/**
 * Default allowance, in bytes, for everything in a body that is not float32 data (`.npy` or
 * safetensors header): a body may be at most `4·d + HEADER_ALLOWANCE` bytes. 1 MiB holds the
 * safetensors header of about ten thousand tensors.
 */
export const HEADER_ALLOWANCE = 1 << 20;

/**
 * The header allowance for uploads of `layout`: {@link HEADER_ALLOWANCE}, or twice the compact
 * safetensors header of the layout when that is larger (a model of many tensors with long names),
 * so that any reasonably written header of the layout fits.
 */
export function headerAllowanceFor(layout: TensorLayout): number {
  let bytes = 2;
  for (const t of layout.tensors) {
    // '"name":{"dtype":"F32","shape":[…],"data_offsets":[b,e]},' with every character escaped.
    bytes += 6 * t.name.length + 64 + 17 * t.shape.length + 2 * 17;
  }
  return Math.max(HEADER_ALLOWANCE, 2 * bytes);
}

/** The `Content-Type` to send each format with. */
export const CONTENT_TYPES: Readonly<Record<TensorFormat, string>> = {
  raw: "application/octet-stream",
  npy: "application/x-npy",
  safetensors: "application/x-safetensors",
};

/**
 * The largest body {@link parseUpdate} accepts for dimension `dim`: `4·dim + headerAllowance`
 * bytes. Use it to stop reading a request early. Throws `RangeError` on a negative or
 * non-integer argument.
 */
export function maxUpdateBytes(dim: number, headerAllowance = HEADER_ALLOWANCE): number {
  checkCount("dim", dim);
  checkCount("headerAllowance", headerAllowance);
  return 4 * dim + headerAllowance;
}

/**
 * Decides a body's format from its `Content-Type` (parameters and case ignored) and its bytes:
 *
 * - `application/x-npy` or `application/npy` → `"npy"`; `application/x-safetensors` or
 *   `application/safetensors` → `"safetensors"` (a declared format is never second-guessed:
 *   parsing then refuses bytes that do not follow it);
 * - `application/octet-stream` → `"npy"` if the body starts with the `.npy` magic, else `"raw"`;
 * - no content type (undefined or empty) → `"npy"` on the `.npy` magic, `"safetensors"` if
 *   the body starts with a plausible safetensors header (a little-endian length that fits the
 *   body, then `{` … `}`), else `"raw"`.
 *
 * When `dim` is given, a body of exactly `4·dim` bytes is `"raw"` whatever its first bytes
 * (a valid `.npy` or safetensors body for `dim` values is always longer), unless the content
 * type declares another format. Refuses any other content type (415), naming it.
 */
export function detectFormat(
  bytes: Uint8Array,
  contentType?: string,
  dim?: number,
): TensorFormat {
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/x-npy" || type === "application/npy") return "npy";
  if (type === "application/x-safetensors" || type === "application/safetensors") {
    return "safetensors";
  }
  if (type !== "" && type !== "application/octet-stream") {
    throw new FormatError(
      "unsupported-content-type",
      `content type ${quote(type)} is not accepted; send application/octet-stream (raw ` +
        `float32 little-endian or .npy), application/x-npy or application/x-safetensors`,
    );
  }
  if (dim !== undefined && bytes.length === 4 * dim) return "raw";
  if (hasNpyMagic(bytes)) return "npy";
  if (type === "" && looksLikeSafetensors(bytes)) return "safetensors";
  return "raw";
}

/** Options of {@link parseUpdate}. */
export interface ParseOptions {
  /** The format to parse as; when absent it is detected by {@link detectFormat}. */
  readonly format?: TensorFormat;
  /** The request's `Content-Type`, used for detection when `format` is absent. */
  readonly contentType?: string;
  /** Bytes allowed beyond `4·d` for headers (default {@link HEADER_ALLOWANCE}). */
  readonly headerAllowance?: number;
  /**
   * The federation's layout (the roster's; its size must be `dim`). Safetensors must then have
   * exactly its tensor names and shapes (their values come in its order); raw and `.npy` bodies
   * are refused when it has more than one tensor, unless `flat`.
   */
  readonly layout?: ModelLayout;
  /**
   * The caller's explicit word that the body is the layout's vector flattened in its order (the
   * API's `?layout=flat`): raw and `.npy` bodies are then taken for any layout. For a layout of
   * one tensor (a `--dim` roster's), safetensors are then flattened in canonical name order
   * whatever their names (as before layouts); for a layout of several tensors, safetensors are
   * matched by name all the same (their names say where each value goes).
   */
  readonly flat?: boolean;
}

/**
 * Parses and validates an update of `dim` float32 values. `options` is a format, or
 * {@link ParseOptions} (format, content type for detection, header allowance).
 *
 * Guarantees on success: `values` is a fresh, aligned `Float32Array` of exactly `dim` finite
 * values (the input may be any unaligned view; it is only read), in the order of
 * `options.layout` (see {@link ParseOptions}) or else canonical, and `layout` names the body's
 * tensors in canonical order.
 *
 * Refuses with a {@link FormatError}: a body longer than {@link maxUpdateBytes} (413, checked
 * first); a malformed or truncated header or data (400); a safetensors header above 100 MB
 * (413); an unsupported content type, `.npy` version, dtype or Fortran layout (415); safetensors
 * whose names or shapes differ from `options.layout` (422 `layout-mismatch`, naming the first
 * difference); a raw or `.npy` body for a layout of several tensors without `options.flat` (422
 * `flat-upload`); an element count other than `dim` (422, naming both); a NaN or ±Infinity (422, naming the first index,
 * and for safetensors the tensor and the index within it; for a multi-dimensional `.npy` also
 * the multi-index). Throws `RangeError` if `dim` or the allowance is not a non-negative integer.
 *
 * Raw: exactly `4·dim` bytes. `.npy`: dtype `'<f4'` only, any shape with `dim` elements, data
 * exactly as long as the shape says; `fortran_order: True` only when at most one dimension
 * exceeds 1 (or the array is empty), where it is the same as C order. Safetensors: dtype `F32`
 * only, unique names (duplicate JSON keys at any depth are refused, where `JSON.parse` would
 * silently keep the last), `data_offsets` that match the shapes and tile the data buffer
 * exactly (no overlap, no hole, nothing after), an optional string-to-string `__metadata__`
 * that is ignored, no unknown fields; the file's tensor order does not matter.
 */
export function parseUpdate(
  bytes: Uint8Array,
  dim: number,
  options: TensorFormat | ParseOptions = {},
): ParsedUpdate {
  const opts: ParseOptions = typeof options === "string" ? { format: options } : options;
  const limit = maxUpdateBytes(dim, opts.headerAllowance ?? HEADER_ALLOWANCE);
  if (bytes.length > limit) {
    throw new FormatError(
      "too-large",
      `the body has ${bytes.length} bytes; at most ${limit} are accepted for d = ${dim} ` +
        `(${4 * dim} bytes of float32 data plus ${limit - 4 * dim} for headers)`,
    );
  }
  const format = opts.format ?? detectFormat(bytes, opts.contentType, dim);
  const layout = opts.layout;
  if (layout !== undefined && !opts.flat && format !== "safetensors" && layout.tensors.length > 1) {
    throw new FormatError(
      "flat-upload",
      `a ${format === "raw" ? "raw" : ".npy"} body is one flat vector, but the federation's ` +
        `layout has ${layout.tensors.length} tensors (the first ${
          quote(layout.tensors[0].name)
        }): send safetensors with its tensor names, or add ?layout=flat (fedagg submit --flat) ` +
        "to say the vector is in the layout's order",
    );
  }
  switch (format) {
    case "raw":
      return parseRaw(bytes, dim);
    case "npy":
      return parseNpy(bytes, dim);
    case "safetensors":
      return parseSafetensors(
        bytes,
        dim,
        opts.flat && layout !== undefined && layout.tensors.length === 1 ? undefined : layout,
      );
    default:
      throw new RangeError(`unknown tensor format: ${String(format)}`);
  }
}

/** Refuses (with `RangeError`, naming `what`) a count that is not a non-negative integer. */
function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(4 * n)) {
    throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
  }
}
