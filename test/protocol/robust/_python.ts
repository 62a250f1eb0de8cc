/**
 * `reference.py` (the independent NumPy reference of protocol/robust/) for the robust rules'
 * tests, through the shared runner (`test/_python_reference.ts`): all requests of a test file in
 * one process.
 *
 * @module
 */
import { pythonReference, ReferenceBatch } from "../../_python_reference.ts";

const REFERENCE = pythonReference(new URL("./reference.py", import.meta.url), "protocol/robust");

/** Whether the reference is available: tests pass `ignore: !NUMPY.available`. */
export const NUMPY = { available: REFERENCE.available } as const;

/** A batch of requests run in one python3 process (see {@link ReferenceBatch}). */
export class Batch extends ReferenceBatch {
  constructor() {
    super(REFERENCE);
  }
}

/** The big-endian IEEE-754 bytes of `v` in hex: how the reference returns vectors, bit exact. */
export function float64Hex(v: Float64Array): string {
  const bytes = new Uint8Array(8 * v.length);
  const view = new DataView(bytes.buffer);
  v.forEach((x, i) => view.setFloat64(8 * i, x));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
