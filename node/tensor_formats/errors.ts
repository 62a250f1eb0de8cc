/**
 * The one error every refused update body becomes: {@link FormatError}, a `NodeError` with a
 * stable code ({@link FormatErrorCode}). Public (re-exported by `mod.ts`): callers branch on
 * `code`, and the HTTP API answers each code with the status of its table (`http_api.ts`).
 *
 * @module
 */
import { NodeError } from "../errors.ts";

/** Why a body was refused (the HTTP API's status for each is in its table). */
export type FormatErrorCode =
  /** The bytes do not follow the format (bad magic, header syntax, overlapping tensors). */
  | "malformed"
  /** The body ends before the header or the data it declares. */
  | "truncated"
  /** The body, or a safetensors header, is larger than the limit. */
  | "too-large"
  /** A `Content-Type` that names none of the three formats. */
  | "unsupported-content-type"
  /** An `.npy` version other than 1.0, 2.0 and 3.0. */
  | "unsupported-version"
  /** A dtype other than float32 little-endian. */
  | "unsupported-dtype"
  /** An `.npy` array in Fortran order with more than one dimension above 1. */
  | "unsupported-order"
  /** A well-formed body whose element count is not `d`. */
  | "wrong-length"
  /** A NaN or ±Infinity value. */
  | "non-finite";

/**
 * A refused update body. `code` is a stable machine-readable reason; the message says what was
 * found and what was expected. Messages quote (and shorten) names and strings taken from the
 * body, never the values.
 */
export class FormatError extends NodeError<FormatErrorCode> {
  /**
   * A refusal of category `code`, with the message `code: detail`.
   *
   * @param code why the body was refused
   * @param detail what was found and what was expected
   */
  constructor(code: FormatErrorCode, detail: string) {
    super(code, `${code}: ${detail}`);
    this.name = "FormatError";
  }
}
