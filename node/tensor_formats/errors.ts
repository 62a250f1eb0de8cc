/**
 * The one error every refused update body becomes: {@link FormatError}, with a stable code
 * ({@link FormatErrorCode}) and the HTTP status that code maps to. Public (re-exported by
 * `mod.ts`): the HTTP API answers with `status` and callers branch on `code`.
 *
 * @module
 */

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

  /**
   * A refusal of category `code`, with the status it maps to and the message `code: detail`.
   *
   * @param code why the body was refused
   * @param detail what was found and what was expected
   */
  constructor(code: FormatErrorCode, detail: string) {
    super(`${code}: ${detail}`);
    this.name = "FormatError";
    this.code = code;
    this.status = STATUS[code];
  }
}
