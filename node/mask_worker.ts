/**
 * Worker body for {@link WorkerExpander}: applies mask terms to one block-aligned slice of a
 * vector with the same fused kernel the inline expander uses, then wipes the keys it received.
 *
 * Message in: `{ id, fromWord, slice: Uint32Array, keys: Uint8Array (32 bytes per term),
 * negate: Uint8Array (1 per term) }`; message out: `{ id, slice }` (transferred back) or
 * `{ id, error }`.
 *
 * The one file of `node/` that imports inside the core rather than `protocol/mod.ts`: a worker
 * loads only the mask kernel (`protocol/crypto/`), which keeps its start-up and memory small.
 *
 * @module
 */
import { applyMasks, type MaskTerm } from "../protocol/crypto/mod.ts";

interface Job {
  id: number;
  fromWord: number;
  slice: Uint32Array<ArrayBuffer>;
  keys: Uint8Array;
  negate: Uint8Array;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
};

scope.onmessage = (e: MessageEvent<Job>) => {
  const { id, fromWord, slice, keys, negate } = e.data;
  try {
    const terms: MaskTerm[] = [];
    for (let i = 0; i < negate.length; i++) {
      terms.push({ key: keys.subarray(32 * i, 32 * i + 32), negate: negate[i] === 1 });
    }
    applyMasks(slice, terms, fromWord);
    scope.postMessage({ id, slice }, [slice.buffer]);
  } catch (err) {
    scope.postMessage({ id, error: String((err as Error)?.message ?? err) });
  } finally {
    keys.fill(0);
  }
};
