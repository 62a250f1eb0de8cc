/**
 * Errors of the node layer that a user must act on (configuration, files, CLI usage). Each has
 * a stable `code` and a message that says what is wrong and how to fix it; the CLI prints the
 * message and exits non-zero.
 *
 * @module
 */

/** A user-facing node error. */
export class NodeError extends Error {
  /** A stable identifier, e.g. `"no-identity"` or `"roster-unsigned"`. */
  readonly code: string;

  /** @param code stable identifier @param message what is wrong and how to fix it */
  constructor(code: string, message: string) {
    super(message);
    this.name = "NodeError";
    this.code = code;
  }
}
