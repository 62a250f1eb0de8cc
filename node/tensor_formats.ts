/**
 * The wire formats of a model update between a trainer and its local node: raw little-endian
 * float32, NumPy `.npy` (versions 1.0, 2.0 and 3.0) and Hugging Face safetensors.
 *
 * An update is a float32 vector of length `d`, possibly made of several named tensors. The
 * canonical flattening of named tensors sorts them by name in Unicode code point order (the
 * order of Python's `sorted()` and of Rust's `str` comparison; it differs from JavaScript's
 * default UTF-16 sort only for names that mix astral characters with U+E000–U+FFFF) and
 * concatenates their C-order data.
 *
 * Parsing is pure, copies the values into a fresh aligned `Float32Array` in one pass and scans
 * them for NaN and ±Infinity in a second one; nothing is allocated per element. Every refusal
 * of a body is a {@link FormatError} that carries the HTTP status to answer with and a message
 * naming what was found and what was expected. Encoders refuse only arguments that contradict
 * each other (a shape or a layout whose element count is not the vector's length), with a
 * `RangeError`: they are fed by the node, never by a peer.
 *
 * @module
 */
import "../protocol/encoding/bytes.ts"; // refuses to load on a big-endian platform

/** The three accepted encodings of an update. */
export type TensorFormat = "raw" | "npy" | "safetensors";

/** One named tensor of an update: its name and its shape (`[]` is a scalar). */
export interface TensorSpec {
  /** The tensor's name (`"aggregate"` for raw and `.npy` bodies, which carry no names). */
  readonly name: string;
  /** Its dimensions; the element count is their product (1 for `[]`). */
  readonly shape: readonly number[];
}

/**
 * How a flat update splits into named tensors: `tensors` in canonical order (names strictly
 * increasing in code point order), each taking the next `prod(shape)` values of the vector.
 */
export interface TensorLayout {
  /** The tensors, in canonical order. */
  readonly tensors: readonly TensorSpec[];
}

/** A parsed, validated update. */
export interface ParsedUpdate {
  /** A fresh, aligned copy of the `d` values, all finite. */
  readonly values: Float32Array<ArrayBuffer>;
  /** The format the body was parsed as. */
  readonly format: TensorFormat;
  /** The body's tensors in canonical order (one tensor for raw and `.npy`). */
  readonly layout: TensorLayout;
}

/** Why a body was refused; each code maps to one HTTP status (see {@link FormatError}). */
export type FormatErrorCode =
  /** 400: the bytes do not follow the format (bad magic, header syntax, overlapping tensors). */
  | "malformed"
  /** 400: the body ends before the header or the data it declares. */
  | "truncated"
  /** 413: the body, or a safetensors header, is larger than the limit. */
  | "too-large"
  /** 415: a `Content-Type` that names none of the three formats. */
  | "unsupported-content-type"
  /** 415: an `.npy` version other than 1.0, 2.0 and 3.0. */
  | "unsupported-version"
  /** 415: a dtype other than float32 little-endian. */
  | "unsupported-dtype"
  /** 415: an `.npy` array in Fortran order with more than one dimension above 1. */
  | "unsupported-order"
  /** 422: a well-formed body whose element count is not `d`. */
  | "wrong-length"
  /** 422: a NaN or ±Infinity value. */
  | "non-finite";

const STATUS: Readonly<Record<FormatErrorCode, 400 | 413 | 415 | 422>> = {
  "malformed": 400,
  "truncated": 400,
  "too-large": 413,
  "unsupported-content-type": 415,
  "unsupported-version": 415,
  "unsupported-dtype": 415,
  "unsupported-order": 415,
  "wrong-length": 422,
  "non-finite": 422,
};

/**
 * A refused update body. `status` is the HTTP status to answer with and `code` a stable
 * machine-readable reason; the message says what was found and what was expected. Messages
 * quote (and shorten) names and strings taken from the body, never the values.
 */
export class FormatError extends Error {
  /** The HTTP status for this refusal. */
  readonly status: 400 | 413 | 415 | 422;
  /** The refusal category. */
  readonly code: FormatErrorCode;

  /** @param code why the body was refused @param detail what was found and what was expected */
  constructor(code: FormatErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = "FormatError";
    this.code = code;
    this.status = STATUS[code];
  }
}

/** The name of the single tensor of raw and `.npy` bodies, and of the default safetensors one. */
export const DEFAULT_TENSOR_NAME = "aggregate";

/**
 * Default allowance, in bytes, for everything in a body that is not float32 data (`.npy` or
 * safetensors header): a body may be at most `4·d + HEADER_ALLOWANCE` bytes. 1 MiB holds the
 * safetensors header of about ten thousand tensors.
 */
export const HEADER_ALLOWANCE = 1 << 20;

/** The largest safetensors header the reference implementation reads (100 MB). */
const SAFETENSORS_MAX_HEADER = 100_000_000;

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
}

/**
 * Parses and validates an update of `dim` float32 values. `options` is a format, or
 * {@link ParseOptions} (format, content type for detection, header allowance).
 *
 * Guarantees on success: `values` is a fresh, aligned `Float32Array` of exactly `dim` finite
 * values (the input may be any unaligned view; it is only read), in canonical order, and
 * `layout` names the tensors they came from.
 *
 * Refuses with a {@link FormatError}: a body longer than {@link maxUpdateBytes} (413, checked
 * first); a malformed or truncated header or data (400); a safetensors header above 100 MB
 * (413); an unsupported content type, `.npy` version, dtype or Fortran layout (415); an element
 * count other than `dim` (422, naming both); a NaN or ±Infinity (422, naming the first index,
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
  switch (format) {
    case "raw":
      return parseRaw(bytes, dim);
    case "npy":
      return parseNpy(bytes, dim);
    case "safetensors":
      return parseSafetensors(bytes, dim);
    default:
      throw new RangeError(`unknown tensor format: ${String(format)}`);
  }
}

/** The little-endian float32 bytes of `values` (a fresh copy). Refuses nothing. */
export function encodeRaw(values: Float32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(values.byteLength);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return out;
}

/**
 * An `.npy` file of `values` with dtype `'<f4'`, C order and `shape` (default `[d]`), byte for
 * byte what NumPy ≥ 1.23 `np.save` writes: version 1.0 (2.0 if the header would not fit),
 * header dict with sorted keys, spare spaces for growing the first axis, and space padding so
 * that the data starts at a multiple of 64 bytes. Values are written as they are (NaN
 * included). Throws `RangeError` if `shape` has a non-integer or negative entry or its product
 * is not `values.length`.
 */
export function encodeNpy(
  values: Float32Array,
  shape?: readonly number[],
): Uint8Array<ArrayBuffer> {
  const dims = shape ?? [values.length];
  checkShape(dims, "shape");
  if (elementCount(dims) !== values.length) {
    throw new RangeError(
      `shape ${pyTuple(dims)} holds ${elementCount(dims)} values, not ${values.length}`,
    );
  }
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${pyTuple(dims)}, }`;
  if (dims.length > 0) dict += " ".repeat(Math.max(0, 21 - String(dims[0]).length));
  const hlen = dict.length + 1; // the final "\n"
  let prefix = 10;
  let padding = 64 - ((prefix + hlen) % 64);
  if (hlen + padding > 0xffff) {
    prefix = 12;
    padding = 64 - ((prefix + hlen) % 64);
  }
  const header = dict + " ".repeat(padding) + "\n";
  const out = new Uint8Array(prefix + header.length + values.byteLength);
  out.set(NPY_MAGIC);
  out[6] = prefix === 10 ? 1 : 2;
  const view = new DataView(out.buffer);
  if (prefix === 10) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(
    new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    out.length - values.byteLength,
  );
  return out;
}

/**
 * A safetensors file of `values` split into the tensors of `layout` (default: one tensor
 * `"aggregate"` of shape `[d]`), all `F32`, laid out in canonical order so that
 * {@link parseUpdate} returns `values` unchanged. The header is compact JSON in that order, no
 * `__metadata__`, padded with spaces to a multiple of 8 bytes as the reference library does.
 * Values are written as they are. Throws `RangeError` if the layout is not in canonical order
 * (names strictly increasing in code point order, hence unique), uses the reserved name
 * `__metadata__` or a name with a lone surrogate, has an invalid shape, or holds a total other
 * than `values.length`.
 */
export function encodeSafetensors(
  values: Float32Array,
  layout?: TensorLayout,
): Uint8Array<ArrayBuffer> {
  const tensors = layout?.tensors ?? [{ name: DEFAULT_TENSOR_NAME, shape: [values.length] }];
  const entries: string[] = [];
  let offset = 0;
  for (let t = 0; t < tensors.length; t++) {
    const { name, shape } = tensors[t];
    if (typeof name !== "string" || !name.isWellFormed() || name === "__metadata__") {
      throw new RangeError(`tensor name ${quote(String(name))} cannot be written`);
    }
    if (t > 0 && compareNames(tensors[t - 1].name, name) >= 0) {
      throw new RangeError(
        `layout names must strictly increase in code point order: ` +
          `${quote(tensors[t - 1].name)} then ${quote(name)}`,
      );
    }
    checkShape(shape, `shape of ${quote(name)}`);
    const size = 4 * elementCount(shape);
    entries.push(
      `${JSON.stringify(name)}:{"dtype":"F32","shape":[${shape.join(",")}],` +
        `"data_offsets":[${offset},${offset + size}]}`,
    );
    offset += size;
  }
  if (offset !== values.byteLength) {
    throw new RangeError(`layout holds ${offset / 4} values, not ${values.length}`);
  }
  const json = new TextEncoder().encode(`{${entries.join(",")}}`);
  const n = json.length + ((8 - (json.length % 8)) % 8);
  if (n > SAFETENSORS_MAX_HEADER) throw new RangeError(`safetensors header of ${n} bytes`);
  const out = new Uint8Array(8 + n + values.byteLength);
  new DataView(out.buffer).setUint32(0, n, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 8 + n);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Raw

function parseRaw(bytes: Uint8Array, dim: number): ParsedUpdate {
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

// ---------------------------------------------------------------------------------------------
// .npy

const NPY_MAGIC = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"

function hasNpyMagic(bytes: Uint8Array): boolean {
  if (bytes.length < NPY_MAGIC.length) return false;
  for (let i = 0; i < NPY_MAGIC.length; i++) if (bytes[i] !== NPY_MAGIC[i]) return false;
  return true;
}

function parseNpy(bytes: Uint8Array, dim: number): ParsedUpdate {
  const magic = Math.min(bytes.length, NPY_MAGIC.length);
  for (let i = 0; i < magic; i++) {
    if (bytes[i] !== NPY_MAGIC[i]) {
      throw new FormatError("malformed", "not an .npy file: it does not start with \\x93NUMPY");
    }
  }
  if (bytes.length < 8) throw new FormatError("truncated", ".npy file ends inside its preamble");
  const major = bytes[6], minor = bytes[7];
  if (minor !== 0 || major < 1 || major > 3) {
    throw new FormatError(
      "unsupported-version",
      `.npy version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are)`,
    );
  }
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) {
    throw new FormatError("truncated", ".npy file ends inside its preamble");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = prefix + headerLength;
  if (dataStart > bytes.length) {
    throw new FormatError(
      "truncated",
      `.npy header declares ${headerLength} bytes but only ${bytes.length - prefix} follow`,
    );
  }
  const header = decodeNpyHeader(bytes.subarray(prefix, dataStart), major);
  const { descr, fortranOrder, shape } = parseNpyHeader(header, major <= 2);

  if (descr !== "<f4") {
    const found = typeof descr === "string" ? `dtype ${quote(descr)}` : "a structured dtype";
    throw new FormatError(
      "unsupported-dtype",
      `.npy array has ${found}; float32 little-endian ('<f4') is required`,
    );
  }
  const count = elementCount(shape);
  if (count !== dim) {
    throw new FormatError(
      "wrong-length",
      `.npy shape ${pyTuple(shape)} holds ${countText(count)} float32 values; ` +
        `the update needs d = ${dim}`,
    );
  }
  if (fortranOrder && count > 0 && shape.filter((n) => n > 1).length > 1) {
    throw new FormatError(
      "unsupported-order",
      `.npy array of shape ${pyTuple(shape)} is in Fortran order (fortran_order: True); ` +
        `save it in C order (np.ascontiguousarray)`,
    );
  }
  const dataLength = bytes.length - dataStart;
  if (dataLength < 4 * dim) {
    throw new FormatError(
      "truncated",
      `.npy data has ${dataLength} bytes; shape ${pyTuple(shape)} of float32 needs ${4 * dim}`,
    );
  }
  if (dataLength > 4 * dim) {
    throw new FormatError(
      "malformed",
      `.npy file has ${dataLength - 4 * dim} bytes after the ${4 * dim} bytes of array data`,
    );
  }
  const values = copyValues(bytes, dataStart, dim);
  const bad = firstNonFinite(values);
  if (bad >= 0) {
    const where = shape.length > 1
      ? `index ${bad} (element ${pyTuple(multiIndex(bad, shape))} of shape ${pyTuple(shape)})`
      : `index ${bad}`;
    throw nonFinite(values, bad, where);
  }
  return {
    values,
    format: "npy",
    layout: { tensors: [{ name: DEFAULT_TENSOR_NAME, shape }] },
  };
}

function decodeNpyHeader(bytes: Uint8Array, major: number): string {
  if (major === 3) {
    try {
      return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new FormatError("malformed", ".npy 3.0 header is not valid UTF-8");
    }
  }
  // Versions 1.0 and 2.0 are latin-1 (TextDecoder's "latin1" is windows-1252, so by hand).
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 4096)));
  }
  return s;
}

interface NpyHeader {
  readonly descr: string | undefined; // undefined: a structured (list) descriptor
  readonly fortranOrder: boolean;
  readonly shape: number[];
}

/** A Python literal of the subset `.npy` headers use. */
type PyValue =
  | { readonly kind: "str"; readonly value: string }
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "none" }
  | { readonly kind: "tuple" | "list"; readonly items: readonly PyValue[] }
  | { readonly kind: "dict"; readonly entries: ReadonlyMap<string, PyValue> };

const MAX_NESTING = 16;

function parseNpyHeader(text: string, python2Longs: boolean): NpyHeader {
  const parser = new PyLiteralParser(text, python2Longs);
  const value = parser.document();
  if (value.kind !== "dict") {
    throw new FormatError("malformed", ".npy header is not a dictionary literal");
  }
  const keys = [...value.entries.keys()].sort();
  if (keys.join(",") !== "descr,fortran_order,shape") {
    throw new FormatError(
      "malformed",
      `.npy header has keys ${keys.map(quote).join(", ") || "(none)"}; exactly 'descr', ` +
        `'fortran_order' and 'shape' are required`,
    );
  }
  const descr = value.entries.get("descr")!;
  const fortran = value.entries.get("fortran_order")!;
  const shape = value.entries.get("shape")!;
  if (descr.kind !== "str" && descr.kind !== "list") {
    throw new FormatError("malformed", ".npy 'descr' is not a dtype descriptor");
  }
  if (fortran.kind !== "bool") {
    throw new FormatError("malformed", ".npy 'fortran_order' is not True or False");
  }
  if (shape.kind !== "tuple" || shape.items.some((d) => d.kind !== "int")) {
    throw new FormatError("malformed", ".npy 'shape' is not a tuple of non-negative integers");
  }
  return {
    descr: descr.kind === "str" ? descr.value : undefined,
    fortranOrder: fortran.value,
    shape: shape.items.map((d) => (d as { value: number }).value),
  };
}

/**
 * Recursive descent over Python literals: strings without escapes or prefixes, non-negative
 * decimal integers, True/False/None, tuples, lists and dicts with string keys (no duplicates),
 * trailing commas and whitespace allowed; anything else (comments, escapes, expressions,
 * floats, signs) is refused.
 */
class PyLiteralParser {
  #pos = 0;
  constructor(readonly text: string, readonly python2Longs: boolean) {}

  document(): PyValue {
    const value = this.value(0);
    this.#skipSpace();
    if (this.#pos !== this.text.length) this.#fail("unexpected text after the dictionary");
    return value;
  }

  value(depth: number): PyValue {
    if (depth > MAX_NESTING) this.#fail("literal nested too deeply");
    this.#skipSpace();
    const c = this.text[this.#pos];
    if (c === "'" || c === '"') return { kind: "str", value: this.#string() };
    if (c === "{") return this.#dict(depth);
    if (c === "(" || c === "[") return this.#sequence(depth);
    if (c !== undefined && c >= "0" && c <= "9") return { kind: "int", value: this.#int() };
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.#pos, this.#pos + 64));
    if (name) {
      this.#pos += name[0].length;
      if (name[0] === "True") return { kind: "bool", value: true };
      if (name[0] === "False") return { kind: "bool", value: false };
      if (name[0] === "None") return { kind: "none" };
    }
    return this.#fail(c === undefined ? "unexpected end" : `unexpected ${quote(c)}`);
  }

  #dict(depth: number): PyValue {
    this.#pos++; // {
    const entries = new Map<string, PyValue>();
    for (;;) {
      this.#skipSpace();
      if (this.#eat("}")) return { kind: "dict", entries };
      const c = this.text[this.#pos];
      if (c !== "'" && c !== '"') this.#fail("dictionary keys must be strings");
      const key = this.#string();
      if (entries.has(key)) this.#fail(`duplicate key ${quote(key)}`);
      this.#skipSpace();
      if (!this.#eat(":")) this.#fail("expected ':'");
      entries.set(key, this.value(depth + 1));
      this.#skipSpace();
      if (this.#eat("}")) return { kind: "dict", entries };
      if (!this.#eat(",")) this.#fail("expected ',' or '}'");
    }
  }

  #sequence(depth: number): PyValue {
    const open = this.text[this.#pos++];
    const close = open === "(" ? ")" : "]";
    const items: PyValue[] = [];
    let comma = false;
    for (;;) {
      this.#skipSpace();
      if (this.#eat(close)) break;
      items.push(this.value(depth + 1));
      this.#skipSpace();
      if (this.#eat(close)) {
        comma = false;
        break;
      }
      if (!this.#eat(",")) this.#fail(`expected ',' or '${close}'`);
      comma = true;
    }
    if (open === "(" && items.length === 1 && !comma) return items[0]; // (x) is x, not a tuple
    return { kind: open === "(" ? "tuple" : "list", items };
  }

  #string(): string {
    const quoteChar = this.text[this.#pos++];
    const start = this.#pos;
    for (;;) {
      const c = this.text[this.#pos];
      if (c === undefined || c === "\n" || c === "\r") this.#fail("unterminated string");
      if (c === "\\") this.#fail("escape sequences in strings are not supported");
      if (c === quoteChar) break;
      this.#pos++;
    }
    return this.text.slice(start, this.#pos++);
  }

  #int(): number {
    const digits = /^[0-9]+/.exec(this.text.slice(this.#pos, this.#pos + 32))![0];
    if (digits.length > 1 && digits[0] === "0") this.#fail(`invalid integer ${quote(digits)}`);
    this.#pos += digits.length;
    if (this.python2Longs && this.text[this.#pos] === "L") this.#pos++; // Python 2 wrote 3L
    if (/[A-Za-z0-9_.]/.test(this.text[this.#pos] ?? "")) this.#fail("invalid number");
    const value = Number(digits);
    if (!Number.isSafeInteger(value)) this.#fail(`integer ${digits} is too large`);
    return value;
  }

  #skipSpace(): void {
    for (;;) {
      const c = this.text[this.#pos];
      if (c !== " " && c !== "\t" && c !== "\n" && c !== "\r") return;
      this.#pos++;
    }
  }

  #eat(c: string): boolean {
    if (this.text[this.#pos] !== c) return false;
    this.#pos++;
    return true;
  }

  #fail(what: string): never {
    throw new FormatError("malformed", `.npy header: ${what} at character ${this.#pos}`);
  }
}

// ---------------------------------------------------------------------------------------------
// safetensors

interface SafetensorsEntry {
  readonly name: string;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  if (view.getUint32(4, true) !== 0 || n < 2 || n > bytes.length - 8) return false;
  if (bytes[8] !== 0x7b) return false; // {
  let last = 8 + n - 1;
  while (last > 8 && bytes[last] === 0x20) last--;
  return bytes[last] === 0x7d; // }
}

function parseSafetensors(bytes: Uint8Array, dim: number): ParsedUpdate {
  if (bytes.length < 8) {
    throw new FormatError("truncated", `safetensors body of ${bytes.length} bytes has no header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
  if (n > SAFETENSORS_MAX_HEADER) {
    throw new FormatError(
      "too-large",
      `safetensors header length ${n} exceeds the format's limit of 100 MB`,
    );
  }
  if (8 + n > bytes.length) {
    throw new FormatError(
      "truncated",
      `safetensors header declares ${n} bytes but only ${bytes.length - 8} follow`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, 8 + n),
    );
  } catch {
    throw new FormatError("malformed", "safetensors header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw new FormatError(
      "malformed",
      `safetensors header is not valid JSON (${(err as Error).message})`,
    );
  }
  if (!isObject(header)) throw new FormatError("malformed", "safetensors header is not an object");
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw new FormatError(
      "malformed",
      `safetensors header has the key ${quote(duplicate)} twice`,
    );
  }

  const entries: SafetensorsEntry[] = [];
  const names = Object.keys(header).filter((k) => k !== "__metadata__").sort(compareNames);
  if ("__metadata__" in header) checkMetadata(header["__metadata__"]);
  let total = 0;
  for (const name of names) {
    const entry = tensorEntry(name, header[name]);
    entries.push(entry);
    total += (entry.end - entry.begin) / 4;
  }

  const bufferLength = bytes.length - 8 - n;
  checkTiling(entries, bufferLength);
  if (total !== dim) {
    throw new FormatError(
      "wrong-length",
      `safetensors tensors hold ${total} float32 values in ${entries.length} tensor(s); ` +
        `the update needs d = ${dim}`,
    );
  }

  const values = new Float32Array(dim);
  const out = new Uint8Array(values.buffer);
  const data = 8 + n;
  let offset = 0;
  for (const e of entries) {
    out.set(bytes.subarray(data + e.begin, data + e.end), offset);
    offset += e.end - e.begin;
  }
  const bad = firstNonFinite(values);
  if (bad >= 0) {
    let start = 0;
    for (const e of entries) {
      const count = (e.end - e.begin) / 4;
      if (bad < start + count) {
        throw nonFinite(
          values,
          bad,
          `index ${bad} (tensor ${quote(e.name)}, element ${bad - start})`,
        );
      }
      start += count;
    }
  }
  return {
    values,
    format: "safetensors",
    layout: { tensors: entries.map(({ name, shape }) => ({ name, shape })) },
  };
}

function checkMetadata(metadata: unknown): void {
  if (!isObject(metadata) || Object.values(metadata).some((v) => typeof v !== "string")) {
    throw new FormatError(
      "malformed",
      "safetensors __metadata__ must be an object of string values",
    );
  }
}

function tensorEntry(name: string, info: unknown): SafetensorsEntry {
  const tensor = `tensor ${quote(name)}`;
  if (!name.isWellFormed()) {
    throw new FormatError("malformed", `${tensor} has a name that is not valid Unicode`);
  }
  if (!isObject(info)) throw new FormatError("malformed", `${tensor} is not an object`);
  for (const key of Object.keys(info)) {
    if (key !== "dtype" && key !== "shape" && key !== "data_offsets") {
      throw new FormatError("malformed", `${tensor} has the unknown field ${quote(key)}`);
    }
  }
  const { dtype, shape, data_offsets: offsets } = info;
  if (typeof dtype !== "string") {
    throw new FormatError("malformed", `${tensor} has no string 'dtype'`);
  }
  if (dtype !== "F32") {
    throw new FormatError(
      "unsupported-dtype",
      `${tensor} has dtype ${quote(dtype)}; only F32 (float32 little-endian) is supported`,
    );
  }
  if (!isCountArray(shape)) {
    throw new FormatError("malformed", `${tensor} has no 'shape' of non-negative integers`);
  }
  if (!isCountArray(offsets) || offsets.length !== 2 || offsets[0] > offsets[1]) {
    throw new FormatError(
      "malformed",
      `${tensor} has no 'data_offsets' [begin, end] with begin <= end`,
    );
  }
  const [begin, end] = offsets;
  const count = elementCount(shape);
  if (end - begin !== 4 * count) {
    throw new FormatError(
      "malformed",
      `${tensor} of shape [${shape.join(", ")}] needs ${countText(4 * count)} bytes of F32 ` +
        `but its data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, shape, begin, end };
}

/** Refuses tensors that reach past the buffer, overlap, leave holes or leave bytes after. */
function checkTiling(entries: readonly SafetensorsEntry[], bufferLength: number): void {
  for (const e of entries) {
    if (e.end > bufferLength) {
      throw new FormatError(
        "truncated",
        `tensor ${quote(e.name)} ends at byte ${e.end} of a ${bufferLength}-byte data buffer`,
      );
    }
  }
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < byOffset.length; i++) {
    const e = byOffset[i];
    if (e.begin < covered) {
      throw new FormatError(
        "malformed",
        `tensors ${quote(byOffset[i - 1].name)} and ${quote(e.name)} overlap ` +
          `(byte ${e.begin} is before ${covered})`,
      );
    }
    if (e.begin > covered) {
      throw new FormatError(
        "malformed",
        `bytes ${covered} to ${e.begin} of the data buffer belong to no tensor ` +
          `(before ${quote(e.name)})`,
      );
    }
    covered = e.end;
  }
  if (covered !== bufferLength) {
    throw new FormatError(
      "malformed",
      `the last ${bufferLength - covered} bytes of the data buffer belong to no tensor`,
    );
  }
}

/**
 * The first object key (at any depth) that appears twice in an object of `json`, which
 * `JSON.parse` has already accepted, so the scan need not validate anything.
 */
function findDuplicateKey(json: string): string | undefined {
  const stack: (Set<string> | undefined)[] = [];
  for (let i = 0; i < json.length;) {
    const c = json.charCodeAt(i);
    if (c === 0x22) { // a string: a key if the next token is ':'
      const start = i++;
      for (;;) {
        const d = json.charCodeAt(i);
        i += d === 0x5c ? 2 : 1;
        if (d === 0x22) break;
      }
      let j = i;
      while (json.charCodeAt(j) <= 0x20) j++;
      if (json.charCodeAt(j) === 0x3a) {
        const keys = stack[stack.length - 1]!;
        const key = JSON.parse(json.slice(start, i)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      continue;
    }
    if (c === 0x7b) stack.push(new Set());
    else if (c === 0x5b) stack.push(undefined);
    else if (c === 0x7d || c === 0x5d) stack.pop();
    i++;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** Copies `count` little-endian float32 values from `bytes[start..]` into a fresh array. */
function copyValues(bytes: Uint8Array, start: number, count: number): Float32Array<ArrayBuffer> {
  const values = new Float32Array(count);
  new Uint8Array(values.buffer).set(bytes.subarray(start, start + 4 * count));
  return values;
}

/** Index of the first NaN or ±Infinity (exponent bits all ones), or -1. */
function firstNonFinite(values: Float32Array<ArrayBuffer>): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7f800000) === 0x7f800000) return i;
  }
  return -1;
}

function nonFinite(values: Float32Array, index: number, where: string): FormatError {
  return new FormatError(
    "non-finite",
    `the value at ${where} is ${values[index]}; updates must be finite`,
  );
}

/** Product of `shape` (1 for `[]`), or Infinity when it exceeds 2^53 − 1. */
function elementCount(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let count = 1;
  for (const n of shape) {
    count *= n;
    if (count > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return count;
}

function countText(count: number): string {
  return Number.isFinite(count) ? String(count) : "more than 2^53";
}

/** C-order multi-index of flat index `index` in `shape`. */
function multiIndex(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    out[k] = index % shape[k];
    index = Math.floor(index / shape[k]);
  }
  return out;
}

/** Python's repr of a tuple of ints: `()`, `(5,)`, `(2, 3)`. */
function pyTuple(dims: readonly number[]): string {
  return dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
}

/**
 * Code point order of two strings. UTF-16 code unit order differs from it only when the first
 * differing units are a surrogate and a unit in U+E000–U+FFFF; this remaps both ranges.
 */
function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCountArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((n) => Number.isSafeInteger(n) && n >= 0);
}

function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || !Number.isSafeInteger(4 * n)) {
    throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
  }
}

function checkShape(shape: readonly number[], what: string): void {
  if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new RangeError(`${what} must be an array of non-negative integers`);
  }
  if (!Number.isFinite(elementCount(shape))) throw new RangeError(`${what} is too large`);
}

/** A quoted, shortened rendering of untrusted text for error messages. */
function quote(text: string): string {
  const short = text.length > 64 ? `${text.slice(0, 61)}...` : text;
  return JSON.stringify(short).replace(/^"|"$/g, "'");
}
