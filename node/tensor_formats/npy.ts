/**
 * NumPy `.npy` updates (versions 1.0, 2.0 and 3.0): a preamble (magic, version, header
 * length), a header that is a Python dict literal (parsed by `_python_literal.ts`), then the
 * array data. Only dtype `'<f4'` is read, as one tensor named {@link DEFAULT_TENSOR_NAME} of
 * the file's shape; {@link encodeNpy} writes what `np.save` writes.
 *
 * @module
 */
import {
  checkShape,
  copyValues,
  countText,
  elementCount,
  firstNonFinite,
  nonFinite,
  quote,
} from "./_helpers.ts";
import { parsePythonLiteral } from "./_python_literal.ts";
import { FormatError } from "./errors.ts";
import { DEFAULT_TENSOR_NAME, type ParsedUpdate } from "./types.ts";

const NPY_MAGIC = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"

/** Whether `bytes` starts with the `.npy` magic `\x93NUMPY`. Refuses nothing. */
export function hasNpyMagic(bytes: Uint8Array): boolean {
  if (bytes.length < NPY_MAGIC.length) return false;
  for (let i = 0; i < NPY_MAGIC.length; i++) if (bytes[i] !== NPY_MAGIC[i]) return false;
  return true;
}

/**
 * Parses an `.npy` body of `dim` float32 values into a fresh, aligned copy, with the file's
 * shape as the one tensor {@link DEFAULT_TENSOR_NAME}. Refuses with a {@link FormatError}: a
 * bad magic (400); a body that ends inside the preamble or the header (400); a version other than
 * 1.0, 2.0 and 3.0 (415); a header that is not exactly the dict of `descr`, `fortran_order` and
 * `shape` (400); a dtype other than `'<f4'` (415); an element count other than `dim` (422);
 * Fortran order with more than one dimension above 1 (415); data shorter (400) or longer (400)
 * than the shape says; a NaN or ±Infinity (422, naming the index, and for more than one
 * dimension the multi-index). The body size limit is checked by the caller (`parseUpdate`).
 */
export function parseNpy(bytes: Uint8Array, dim: number): ParsedUpdate {
  const { major, headerStart, dataStart } = readPreamble(bytes);
  const header = decodeNpyHeader(bytes.subarray(headerStart, dataStart), major);
  const { descr, fortranOrder, shape } = parseNpyHeader(header, major <= 2);
  checkArray(descr, fortranOrder, shape, dim);
  const values = readData(bytes, dataStart, shape, dim);
  return {
    values,
    format: "npy",
    layout: { tensors: [{ name: DEFAULT_TENSOR_NAME, shape }] },
  };
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

// ---------------------------------------------------------------------------------------------
// Parsing, step by step

/** Where the header and the data start: magic, version and header length checked. */
interface Preamble {
  readonly major: number;
  readonly headerStart: number;
  readonly dataStart: number;
}

function readPreamble(bytes: Uint8Array): Preamble {
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
  return { major, headerStart: prefix, dataStart };
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

function parseNpyHeader(text: string, python2Longs: boolean): NpyHeader {
  const value = parsePythonLiteral(text, python2Longs);
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

/** Refuses a dtype other than `'<f4'`, a count other than `dim` and a real Fortran layout. */
function checkArray(
  descr: string | undefined,
  fortranOrder: boolean,
  shape: readonly number[],
  dim: number,
): void {
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
}

/** The `dim` values after `dataStart`, refusing short or long data and non-finite values. */
function readData(
  bytes: Uint8Array,
  dataStart: number,
  shape: readonly number[],
  dim: number,
): Float32Array<ArrayBuffer> {
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
  return values;
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
