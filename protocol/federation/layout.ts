/**
 * The model's tensor layout: which named float32 tensors, of which shapes, in which order make
 * up the update vector of length d. It is part of the federation (the roster carries it and its
 * hash covers it), so every member cuts the vector the same way: an upload is matched to it by
 * name and shape, and every node serves the aggregate in it.
 *
 * The order is the federation's, not alphabetical: a layout written from PyTorch's
 * `state_dict()` keeps that order, and the vector is the tensors' C-order data concatenated in it.
 * Every tensor is float32; there is no other dtype.
 *
 * The **flat layout** of d is one tensor {@link FLAT_TENSOR_NAME} of shape `[d]`: what a roster
 * made with `--dim d` (no layout) has. Its roster hash is the one such a roster always had.
 *
 * @module
 */
import { encode, type Value } from "../encoding/codec.ts";
import { ConfigError } from "../errors.ts";
import { HASH, taggedHash } from "../crypto/mod.ts";

/** One tensor of a layout: its name and its shape (`[]` is a scalar); always float32. */
export interface TensorShape {
  /** 1..{@link MAX_TENSOR_NAME} UTF-16 units, well-formed Unicode, not `__metadata__`. */
  readonly name: string;
  /** Its dimensions (at most {@link MAX_TENSOR_RANK}); its element count is their product. */
  readonly shape: readonly number[];
}

/** The model's tensors in the federation's order (see the module doc). */
export interface ModelLayout {
  /** 1..{@link MAX_LAYOUT_TENSORS} tensors with distinct names. */
  readonly tensors: readonly TensorShape[];
}

/** The name of the one tensor of the flat layout (and of raw and `.npy` bodies). */
export const FLAT_TENSOR_NAME = "aggregate";
/** Most tensors a layout may have. */
export const MAX_LAYOUT_TENSORS = 100_000;
/** Longest tensor name (UTF-16 units). */
export const MAX_TENSOR_NAME = 1024;
/** Most dimensions a tensor may have. */
export const MAX_TENSOR_RANK = 32;

/** The flat layout of `dim` values: one tensor {@link FLAT_TENSOR_NAME} of shape `[dim]`. */
export function flatLayout(dim: number): ModelLayout {
  return Object.freeze({
    tensors: Object.freeze([
      Object.freeze({ name: FLAT_TENSOR_NAME, shape: Object.freeze([dim]) }),
    ]),
  });
}

/** Whether `layout` is the flat layout (one tensor {@link FLAT_TENSOR_NAME} of one dimension). */
export function isFlatLayout(layout: ModelLayout): boolean {
  return layout.tensors.length === 1 && layout.tensors[0].name === FLAT_TENSOR_NAME &&
    layout.tensors[0].shape.length === 1;
}

/** The number of float32 values of `layout` (d): the sum of its tensors' element counts. */
export function layoutSize(layout: ModelLayout): number {
  let total = 0;
  for (const t of layout.tensors) total += tensorSize(t.shape);
  return total;
}

/** The element count of `shape` (1 for `[]`). */
export function tensorSize(shape: readonly number[]): number {
  let count = 1;
  for (const n of shape) count *= n;
  return count;
}

/**
 * Validates `layout` (from a file or a caller) and returns a frozen copy. Refuses with a
 * {@link ConfigError} (setting `"layout"`) naming the first problem: not `{ tensors: [...] }`,
 * no tensor or more than {@link MAX_LAYOUT_TENSORS}, a tensor that is not `{ name, shape }`
 * (an optional `dtype` must be `"F32"`), a name that is empty, longer than
 * {@link MAX_TENSOR_NAME}, not well-formed Unicode, `__metadata__` or used twice, a shape that is
 * not a list of at most {@link MAX_TENSOR_RANK} non-negative integers, and a total above `maxDim`.
 */
export function checkedLayout(layout: unknown, maxDim: number): ModelLayout {
  const fail = (detail: string): never => {
    throw new ConfigError("layout", detail);
  };
  if (!isRecord(layout) || !Array.isArray(layout.tensors)) {
    fail('must be { "tensors": [{ "name": …, "shape": [...] }, …] }');
  }
  const list = (layout as { tensors: unknown[] }).tensors;
  if (list.length < 1 || list.length > MAX_LAYOUT_TENSORS) {
    fail(`must have 1 to ${MAX_LAYOUT_TENSORS} tensors, got ${list.length}`);
  }
  const names = new Set<string>();
  const tensors: TensorShape[] = [];
  let total = 0;
  for (const [i, t] of list.entries()) {
    if (!isRecord(t)) fail(`tensor ${i} is not { name, shape }`);
    const { name, shape, dtype, ...rest } = t as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length > 0) fail(`tensor ${i} has the unknown field ${JSON.stringify(extra[0])}`);
    if (dtype !== undefined && dtype !== "F32") {
      fail(`tensor ${i} has dtype ${JSON.stringify(dtype)}; only F32 (float32) is aggregated`);
    }
    if (
      typeof name !== "string" || name.length < 1 || name.length > MAX_TENSOR_NAME ||
      !name.isWellFormed() || name === "__metadata__"
    ) {
      fail(`tensor ${i} needs a name of 1 to ${MAX_TENSOR_NAME} characters (not __metadata__)`);
    }
    if (names.has(name as string)) fail(`the tensor name ${JSON.stringify(name)} appears twice`);
    names.add(name as string);
    if (
      !Array.isArray(shape) || shape.length > MAX_TENSOR_RANK ||
      !shape.every((n) => Number.isSafeInteger(n) && n >= 0)
    ) {
      fail(
        `tensor ${JSON.stringify(name)} needs a shape of at most ${MAX_TENSOR_RANK} ` +
          "non-negative integers",
      );
    }
    const count = tensorSize(shape as number[]);
    total += count;
    if (!(total <= maxDim)) fail(`holds more than ${maxDim} values`);
    tensors.push(
      Object.freeze({ name: name as string, shape: Object.freeze([...shape as number[]]) }),
    );
  }
  if (total < 1) fail("holds no value");
  return Object.freeze({ tensors: Object.freeze(tensors) });
}

/**
 * The canonical encoding of `layout`: the CBOR array
 * `["fedagg/v1/layout", "F32", [[name, [dims…]]…]]` in the layout's order.
 */
export function encodeLayout(layout: ModelLayout): Uint8Array<ArrayBuffer> {
  const canonical: Value = [
    "fedagg/v1/layout",
    "F32",
    layout.tensors.map((t) => [t.name, [...t.shape]]),
  ];
  return encode(canonical);
}

/** SHA-256 (domain `layout`) of {@link encodeLayout}: what the roster hash covers. */
export function layoutHash(layout: ModelLayout): Uint8Array<ArrayBuffer> {
  return taggedHash(HASH.layout, encodeLayout(layout));
}

/** Where an upload's tensors first differ from the federation's layout. */
export interface LayoutDifference {
  /** Position in the federation's layout of the first tensor that differs (or its length). */
  readonly index: number;
  /** That tensor of the federation's layout (undefined when only extra tensors differ). */
  readonly expected: TensorShape | undefined;
  /** The upload's tensor of that name (undefined when the upload lacks it). */
  readonly found: TensorShape | undefined;
  /** Names the upload has and the layout does not (at most 5). */
  readonly extra: readonly string[];
  /** One sentence naming the difference, for the refusal. */
  readonly message: string;
}

/**
 * The first difference between the federation's `layout` and the tensors of an upload (`found`,
 * in any order: they are matched by name), or undefined when they are the same names with the same
 * shapes. Walks the layout in order: the first tensor that the upload lacks or has with another
 * shape is the difference; if there is none, the first name the upload has beyond the layout. The
 * message also lists up to 5 names the upload has that the layout does not (a renamed model shows
 * both sides). Names in the message are JSON-quoted and shortened to 64 characters.
 */
export function firstDifference(
  layout: ModelLayout,
  found: readonly TensorShape[],
): LayoutDifference | undefined {
  const byName = new Map(found.map((t) => [t.name, t]));
  const known = new Set(layout.tensors.map((t) => t.name));
  const extraAll = found.filter((t) => !known.has(t.name));
  const extra = extraAll.slice(0, 5).map((t) => t.name);
  const extraText = extraAll.length === 0
    ? ""
    : `; the upload's tensor(s) ${extraAll.slice(0, 5).map(describe).join(", ")}${
      extraAll.length > 5 ? ` and ${extraAll.length - 5} more` : ""
    } are not in it`;
  for (const [index, expected] of layout.tensors.entries()) {
    const t = byName.get(expected.name);
    if (t === undefined) {
      return {
        index,
        expected,
        found: undefined,
        extra,
        message: `the federation's tensor ${index} ${describe(expected)} is missing from the ` +
          `upload${extraText}`,
      };
    }
    if (!sameShape(t.shape, expected.shape)) {
      return {
        index,
        expected,
        found: t,
        extra,
        message: `tensor ${index} ${quoteName(expected.name)} has shape ${shapeText(t.shape)} in ` +
          `the upload, the federation's layout says ${shapeText(expected.shape)}${extraText}`,
      };
    }
  }
  if (extraAll.length === 0) return undefined;
  return {
    index: layout.tensors.length,
    expected: undefined,
    found: extraAll[0],
    extra,
    message: `the upload has every tensor of the federation's layout and more${extraText}`,
  };
}

/** `'name' [a, b]` for messages. */
export function describe(t: TensorShape): string {
  return `${quoteName(t.name)} ${shapeText(t.shape)}`;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function quoteName(name: string): string {
  const short = name.length > 64 ? `${name.slice(0, 61)}...` : name;
  return JSON.stringify(short).replace(/^"|"$/g, "'");
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
