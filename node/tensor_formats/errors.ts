/**
 * The one error every refused update body becomes: {@link FormatError}, a `NodeError` with a
 * stable code ({@link FormatErrorCode}). Public (re-exported by `mod.ts`): callers branch on
 * `code`, and the HTTP API answers each code with the status of its table (`http_api.ts`).
 *
 * @module
 */
import { type FormatErrorCode, NodeError } from "../errors.ts";

export type { FormatErrorCode };

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
