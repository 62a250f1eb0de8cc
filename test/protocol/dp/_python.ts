/**
 * The independent reference computations of `reference.py` (NumPy and SciPy from Debian) for
 * the tests of protocol/dp/, through the shared runner (`test/_python_reference.ts`).
 *
 * @module
 */
import { pythonReference, ReferenceBatch } from "../../_python_reference.ts";

const REFERENCE = pythonReference(new URL("./reference.py", import.meta.url), "protocol/dp");

/** Whether the reference is available: tests pass `ignore: !SCIPY.available`. */
export const SCIPY = { available: REFERENCE.available } as const;

/** Runs one request of `reference.py`; rejects with its stderr if it fails. */
export function reference<T = Record<string, unknown>>(
  request: Record<string, unknown>,
): Promise<T> {
  return REFERENCE.run<T>(request);
}

/** A batch of requests run in one python3 process (see {@link ReferenceBatch}). */
export class Batch extends ReferenceBatch {
  constructor() {
    super(REFERENCE);
  }
}
