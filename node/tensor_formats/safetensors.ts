/**
 * Hugging Face safetensors updates: an 8-byte little-endian header length, a JSON header that
 * maps tensor names to dtype, shape and byte offsets (plus an optional `__metadata__`), then
 * the data buffer. Only `F32` tensors are read; their values are concatenated in the order of
 * the federation's layout when one is given (matched by name and shape), else in canonical order
 * (names sorted by code point, see {@link compareNames}), whatever the order of the header or of
 * the data. {@link encodeSafetensors} writes the tensors in the order it is given.
 *
 * The canonical name order lives here rather than in `_helpers.ts` because safetensors is the
 * only format with more than one tensor, hence its only user.
 *
 * @module
 */
import {
  checkShape,
  countText,
  elementCount,
  firstNonFinite,
  nonFinite,
  quote,
} from "./_helpers.ts";
import { firstDifference, type ModelLayout } from "../../protocol/mod.ts";
import { FormatError } from "./errors.ts";
import { DEFAULT_TENSOR_NAME, type ParsedUpdate, type TensorLayout } from "./types.ts";

/** The largest safetensors header the reference implementation reads (100 MB). */
const SAFETENSORS_MAX_HEADER = 100_000_000;

interface SafetensorsEntry {
  readonly name: string;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

/**
 * Whether `bytes` starts like a safetensors file: a little-endian length of at least 2 that
 * fits the body, then `{` … `}` (trailing spaces allowed). A guess for detection only; it
 * refuses nothing and validates nothing else.
 */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  if (view.getUint32(4, true) !== 0 || n < 2 || n > bytes.length - 8) return false;
  if (bytes[8] !== 0x7b) return false; // {
  let last = 8 + n - 1;
  while (last > 8 && bytes[last] === 0x20) last--;
  return bytes[last] === 0x7d; // }
}

/**
 * Parses a safetensors body of `dim` float32 values into a fresh, aligned copy, with the tensors'
 * names and shapes in canonical order as the parsed layout. The values are in the order of
 * `layout` (the federation's) when it is given, else in canonical order. Refuses with a
 * {@link FormatError}: tensors whose names or shapes are not `layout`'s (422 `layout-mismatch`,
 * naming the first difference, after the structural checks below);
 * a header length above 100 MB (413); a body that ends inside the header (400); a header that
 * is not UTF-8, not a JSON object, or has a key twice at any depth (400); a `__metadata__` that is
 * not an object of strings (400); a tensor entry with an invalid name, an unknown field, no
 * dtype, shape or offsets, or offsets that do not match its shape (400); a dtype other than
 * `F32` (415); tensors that reach past the data (400), overlap or leave bytes uncovered (400);
 * a total other than `dim` (422); a NaN or ±Infinity (422, naming the index, the tensor and the
 * index within it). The body size limit is checked by the caller (`parseUpdate`).
 */
export function parseSafetensors(
  bytes: Uint8Array,
  dim: number,
  layout?: ModelLayout,
): ParsedUpdate {
  const { text, dataStart } = readHeaderText(bytes);
  const entries = readEntries(parseHeaderJson(text));
  let total = 0;
  for (const entry of entries) total += (entry.end - entry.begin) / 4;
  checkTiling(entries, bytes.length - dataStart);
  let ordered = entries;
  if (layout !== undefined) {
    const difference = firstDifference(layout, entries);
    if (difference !== undefined) {
      throw new FormatError(
        "layout-mismatch",
        `${difference.message}. Upload the tensors of the roster's layout (names and shapes), or ` +
          "a flat vector in its order with ?layout=flat",
      );
    }
    const byName = new Map(entries.map((e) => [e.name, e]));
    ordered = layout.tensors.map((t) => byName.get(t.name)!);
  }
  if (total !== dim) {
    throw new FormatError(
      "wrong-length",
      `safetensors tensors hold ${total} float32 values in ${entries.length} tensor(s); ` +
        `the update needs d = ${dim}`,
    );
  }
  return {
    values: gatherValues(bytes, dataStart, ordered, dim),
    format: "safetensors",
    layout: { tensors: entries.map(({ name, shape }) => ({ name, shape })) },
  };
}

/**
 * A safetensors file of `values` split into the tensors of `layout` (default: one tensor
 * `"aggregate"` of shape `[d]`) in the layout's order, all `F32`: the header lists them in that
 * order and their data follows in it, so `parseUpdate` with the same layout returns `values`
 * unchanged (and without a layout, when the names are in canonical order). The header is compact
 * JSON, no `__metadata__`, padded with spaces to a multiple of 8 bytes as the reference library
 * does. Values are written as they are. Throws `RangeError` if a name repeats, is the reserved
 * `__metadata__` or has a lone surrogate, a shape is invalid, or the total is not
 * `values.length`.
 */
export function encodeSafetensors(
  values: Float32Array,
  layout?: TensorLayout,
): Uint8Array<ArrayBuffer> {
  const tensors = layout?.tensors ?? [{ name: DEFAULT_TENSOR_NAME, shape: [values.length] }];
  const entries: string[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (let t = 0; t < tensors.length; t++) {
    const { name, shape } = tensors[t];
    if (typeof name !== "string" || !name.isWellFormed() || name === "__metadata__") {
      throw new RangeError(`tensor name ${quote(String(name))} cannot be written`);
    }
    if (seen.has(name)) throw new RangeError(`tensor name ${quote(name)} appears twice`);
    seen.add(name);
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

/**
 * The tensors of a safetensors file in the order of their data (`data_offsets`), from `head`: the
 * file's first `8 + n` bytes (the length prefix and the header; the data need not be read) and
 * the length of its data buffer. Files written by the Python library store an all-F32 model in
 * name order; this reads whatever order the file has. Refuses with a {@link FormatError} what
 * {@link parseSafetensors} refuses of a header (a non-`F32` tensor: 415 `unsupported-dtype`,
 * naming it) and tensors that do not tile `dataLength` bytes.
 */
export function safetensorsTensors(
  head: Uint8Array,
  dataLength: number,
): { name: string; shape: number[] }[] {
  const { text } = readHeaderText(head);
  const entries = readEntries(parseHeaderJson(text));
  checkTiling(entries, dataLength);
  return [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end).map((e) => ({
    name: e.name,
    shape: e.shape,
  }));
}

/** The length of the header a safetensors file declares in its first 8 bytes (little-endian). */
export function safetensorsHeaderLength(prefix: Uint8Array): number {
  if (prefix.length < 8) {
    throw new FormatError("truncated", `safetensors body of ${prefix.length} bytes has no header`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  return view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
}

/**
 * Code point order of two strings (the order of Python's `sorted()` and of Rust's `str`
 * comparison): negative, zero or positive. UTF-16 code unit order differs from it only when
 * the first differing units are a surrogate and a unit in U+E000–U+FFFF; this remaps both
 * ranges.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------
// Parsing, step by step

/** The header's text and where the data buffer starts: length, bounds and UTF-8 checked. */
function readHeaderText(bytes: Uint8Array): { text: string; dataStart: number } {
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
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, 8 + n),
    );
    return { text, dataStart: 8 + n };
  } catch {
    throw new FormatError("malformed", "safetensors header is not valid UTF-8");
  }
}

/** The header as a JSON object in which no object, at any depth, has a key twice. */
function parseHeaderJson(text: string): Record<string, unknown> {
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
  return header;
}

/** The header's tensors in canonical order, each checked alone; `__metadata__` checked. */
function readEntries(header: Record<string, unknown>): SafetensorsEntry[] {
  const entries: SafetensorsEntry[] = [];
  const names = Object.keys(header).filter((k) => k !== "__metadata__").sort(compareNames);
  if ("__metadata__" in header) checkMetadata(header["__metadata__"]);
  for (const name of names) entries.push(tensorEntry(name, header[name]));
  return entries;
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

/** The tensors' data concatenated in canonical order; refuses the first non-finite value. */
function gatherValues(
  bytes: Uint8Array,
  dataStart: number,
  entries: readonly SafetensorsEntry[],
  dim: number,
): Float32Array<ArrayBuffer> {
  const values = new Float32Array(dim);
  const out = new Uint8Array(values.buffer);
  let offset = 0;
  for (const e of entries) {
    out.set(bytes.subarray(dataStart + e.begin, dataStart + e.end), offset);
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
  return values;
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
