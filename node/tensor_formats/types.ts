/**
 * The shapes every format shares: what a parsed update is ({@link ParsedUpdate}), how it splits
 * into named tensors ({@link TensorLayout}) and the name of the one tensor of formats that carry
 * no names ({@link DEFAULT_TENSOR_NAME}). Public (re-exported by `mod.ts`); kept out of `mod.ts`
 * so that the format files can import them without an import cycle.
 *
 * @module
 */
import { FLAT_TENSOR_NAME } from "../../protocol/mod.ts";

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
 * How a flat update splits into named tensors: `tensors` in order, each taking the next
 * `prod(shape)` values of the vector. A parsed body's layout is in canonical order (names
 * strictly increasing in code point order); the federation's (the roster's `ModelLayout`, which
 * has this shape) is in the order its roster states.
 */
export interface TensorLayout {
  /** The tensors, in order. */
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

/**
 * The name of the single tensor of raw and `.npy` bodies, and of the default safetensors one: the
 * protocol's flat-layout tensor name.
 */
export const DEFAULT_TENSOR_NAME: typeof FLAT_TENSOR_NAME = FLAT_TENSOR_NAME;
