/**
 * A {@link MaskExpander} that spreads the PRG work of one vector over Worker threads: the
 * vector is cut into block-aligned slices, each worker adds every mask term's keystream to its
 * slice (the keystream is seekable, so slices are independent), and the slices are copied
 * back. The result is bit-identical to the inline expander (tested). Small jobs (below
 * {@link INLINE_WORK}) run inline, where posting them would cost more than it saves, and so does
 * every job of a one-worker pool or of a vector of one block: there is nothing to split.
 *
 * Key material is copied once into one buffer per job; each worker gets its own copy by transfer
 * (so no copy stays behind on the calling thread) and wipes it after its slice, and the calling
 * thread wipes its buffer when the job ends, also on failure. The callers' `MaskTerm` keys are
 * only read: wiping them stays with their owner.
 *
 * @module
 */
import { applyMasks, PRG_BLOCK_WORDS } from "../protocol/crypto/mod.ts";
import type { MaskExpander, MaskTerm } from "../protocol/masking.ts";

/** Below this much PRG work (words × terms) a job runs on the calling thread. */
export const INLINE_WORK = 1 << 20;

/**
 * The default pool size: `cores` (default: the runtime's `navigator.hardwareConcurrency`) when it
 * is a positive integer, else 2.
 */
export function defaultWorkerCount(cores: number = navigator.hardwareConcurrency): number {
  return Number.isSafeInteger(cores) && cores >= 1 ? cores : 2;
}

interface Pending {
  resolve: (slice: Uint32Array) => void;
  reject: (err: Error) => void;
}

/** A fixed pool of mask-expansion workers. Call {@link WorkerExpander.close} when done. */
export class WorkerExpander implements MaskExpander {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  /** What the pool did (exposed for metrics and tests). */
  readonly counters = {
    /** Slices posted to worker threads (a split job posts one per worker). */
    jobsPosted: 0,
  };

  /** Starts `count` workers (default: {@link defaultWorkerCount}). */
  constructor(count = defaultWorkerCount()) {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(`worker count must be a positive integer, got ${count}`);
    }
    this.#workers = Array.from({ length: count }, () => {
      const w = new Worker(new URL("./mask_worker.ts", import.meta.url).href, { type: "module" });
      w.onmessage = (e: MessageEvent<{ id: number; slice?: Uint32Array; error?: string }>) => {
        const p = this.#pending.get(e.data.id);
        if (p === undefined) return;
        this.#pending.delete(e.data.id);
        if (e.data.slice !== undefined) p.resolve(e.data.slice);
        else p.reject(new Error(`mask worker: ${e.data.error}`));
      };
      w.onerror = (e) => {
        e.preventDefault();
        for (const p of this.#pending.values()) {
          p.reject(new Error(`mask worker crashed: ${e.message}`));
        }
        this.#pending.clear();
      };
      return w;
    });
  }

  /** Number of worker threads. */
  get size(): number {
    return this.#workers.length;
  }

  async apply(target: Uint32Array, terms: readonly MaskTerm[]): Promise<void> {
    if (terms.length === 0) return;
    const blocks = Math.ceil(target.length / PRG_BLOCK_WORDS);
    const parts = Math.min(this.#workers.length, blocks);
    if (parts <= 1 || target.length * terms.length < INLINE_WORK) {
      applyMasks(target, terms);
      return;
    }
    const keys = new Uint8Array(32 * terms.length);
    try {
      const negate = new Uint8Array(terms.length);
      terms.forEach((t, i) => {
        if (t.key.length !== 32) throw new RangeError("PRG key must be 32 bytes");
        keys.set(t.key, 32 * i);
        negate[i] = t.negate ? 1 : 0;
      });
      const perPart = Math.ceil(blocks / parts) * PRG_BLOCK_WORDS;
      const jobs: Promise<void>[] = [];
      for (let p = 0; p < parts; p++) {
        const from = p * perPart;
        const to = Math.min(target.length, from + perPart);
        if (from >= to) break;
        const slice = target.slice(from, to);
        const id = this.#nextId++;
        const done = new Promise<Uint32Array>((resolve, reject) => {
          this.#pending.set(id, { resolve, reject });
        });
        // Transferred, not cloned: the worker's copy is the only one, and it wipes it.
        const workerKeys = keys.slice();
        this.#workers[p].postMessage({ id, fromWord: from, slice, keys: workerKeys, negate }, [
          slice.buffer,
          workerKeys.buffer,
        ]);
        this.counters.jobsPosted++;
        jobs.push(done.then((result) => target.set(result, from)));
      }
      await Promise.all(jobs);
    } finally {
      keys.fill(0);
    }
  }

  /** Terminates the workers; pending jobs are rejected. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    for (const p of this.#pending.values()) p.reject(new Error("mask workers closed"));
    this.#pending.clear();
  }
}
