/**
 * A {@link MaskExpander} that spreads the PRG work of one vector over Worker threads: the
 * vector is cut into block-aligned slices, each worker adds every mask term's keystream to its
 * slice (the keystream is seekable, so slices are independent), and the slices are copied
 * back. The result is bit-identical to the inline expander (tested), also when a worker
 * crashes mid-job (see {@link WorkerExpander}). Jobs below {@link INLINE_WORK} run inline (see
 * there for why the bar is that high), and so does every job of a one-worker pool or of a vector
 * of one block: there is nothing to split.
 *
 * Key material is copied once into one buffer per job; each worker gets its own copy by transfer
 * (so no copy stays behind on the calling thread) and wipes it after its slice, and the calling
 * thread wipes its buffer when the job ends, also on failure. The callers' `MaskTerm` keys are
 * only read: wiping them stays with their owner.
 *
 * @module
 */
import { applyMasks, type MaskExpander, type MaskTerm, PRG_BLOCK_WORDS } from "../protocol/mod.ts";

/**
 * Below this much PRG work (words × terms) a job runs on the calling thread: 2^24, 64 MiB of
 * keystream, tens of milliseconds (a member's masking at d = 1M with up to 15 neighbours, or a
 * leader's unmasking of as many terms). Set for memory, not speed: node:crypto returns a fresh
 * buffer for every 64 KiB of keystream, and in a worker that garbage (≈ 4 bytes per word-term)
 * waits for the worker's own collector, which the node cannot reach (V8 lets external memory grow
 * 64 MB past its last collection, per isolate), while on the calling thread it is collected with
 * the frames' (`collect_garbage.ts`). Measured on a 12-node, d = 1M test network: the leader's
 * peak RSS 260–297 MB with this bar against 325–344 MB with 2^20 (`docs/performance.md`). Larger
 * jobs (the leader's unmasking when members dropped, a member of a large complete graph) still
 * use the workers, where the second core halves the time.
 */
export const INLINE_WORK = 1 << 24;

/**
 * The default pool size: `cores` (default: the runtime's `navigator.hardwareConcurrency`) when it
 * is a positive integer, else 2.
 */
export function defaultWorkerCount(cores: number = navigator.hardwareConcurrency): number {
  return Number.isSafeInteger(cores) && cores >= 1 ? cores : 2;
}

/** One worker of the pool. */
interface Slot {
  readonly worker: Worker;
  /** It has answered a job, so it can start: if it crashes, a replacement is worth starting. */
  answered: boolean;
}

interface Pending {
  /** The worker the slice was posted to. */
  readonly slot: Slot;
  /** The worker's result, or undefined if it crashed with the slice (then it is redone here). */
  readonly resolve: (slice: Uint32Array | undefined) => void;
  readonly reject: (err: Error) => void;
}

/** Options of a {@link WorkerExpander}. */
export interface WorkerExpanderOptions {
  /**
   * The worker module, an absolute URL (default: ./mask_worker.ts). Another must answer the
   * same messages; this is a seam for tests (e.g. a worker that crashes).
   */
  readonly module?: string | URL;
  /** Jobs below this much work (words × terms) run inline (default {@link INLINE_WORK}). */
  readonly inlineWork?: number;
}

/**
 * A pool of mask-expansion workers. Call {@link WorkerExpander.close} when done.
 *
 * A worker that crashes (an uncaught error ends a Deno worker) never leaves a job hanging: the
 * slice it held is redone on the calling thread (same kernel, same result), and the worker is
 * replaced — unless it crashed before answering any job (it may be unable to start at all: it
 * is dropped rather than restarted in a loop). With no worker left, jobs run inline.
 */
export class WorkerExpander implements MaskExpander {
  /** Live workers; a crash replaces or drops one, close() empties it. */
  #slots: Slot[] = [];
  readonly #module: string;
  readonly #inlineWork: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  /** What the pool did (exposed for metrics and tests). */
  readonly counters = {
    /** Slices posted to worker threads (a split job posts one per worker). */
    jobsPosted: 0,
    /** Workers that crashed (each was replaced or dropped, and its slice redone inline). */
    workersCrashed: 0,
  };

  /**
   * Starts `count` workers (default: {@link defaultWorkerCount}). Refuses (RangeError) a count
   * that is not a positive integer or an `inlineWork` that is not a non-negative integer.
   */
  constructor(count = defaultWorkerCount(), options: WorkerExpanderOptions = {}) {
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(`worker count must be a positive integer, got ${count}`);
    }
    this.#module = new URL(options.module ?? new URL("./mask_worker.ts", import.meta.url)).href;
    const inlineWork = options.inlineWork ?? INLINE_WORK;
    if (!Number.isSafeInteger(inlineWork) || inlineWork < 0) {
      throw new RangeError(`inlineWork must be a non-negative integer, got ${inlineWork}`);
    }
    this.#inlineWork = inlineWork;
    for (let i = 0; i < count; i++) this.#slots.push(this.#spawn());
  }

  /** Number of live worker threads (fewer after a dropped crash, 0 after close). */
  get size(): number {
    return this.#slots.length;
  }

  async apply(target: Uint32Array, terms: readonly MaskTerm[]): Promise<void> {
    if (terms.length === 0) return;
    const blocks = Math.ceil(target.length / PRG_BLOCK_WORDS);
    const parts = Math.min(this.#slots.length, blocks);
    if (parts <= 1 || target.length * terms.length < this.#inlineWork) {
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
        const slot = this.#slots[p];
        const done = new Promise<Uint32Array | undefined>((resolve, reject) => {
          this.#pending.set(id, { slot, resolve, reject });
        });
        // Transferred, not cloned: the worker's copy is the only one, and it wipes it.
        const workerKeys = keys.slice();
        slot.worker.postMessage({ id, fromWord: from, slice, keys: workerKeys, negate }, [
          slice.buffer,
          workerKeys.buffer,
        ]);
        this.counters.jobsPosted++;
        jobs.push(done.then((result) => {
          if (result !== undefined) target.set(result, from);
          else applyMasks(target.subarray(from, to), terms, from); // its worker crashed
        }));
      }
      // Every slice settles before the job does: nothing writes to `target` afterwards.
      const settled = await Promise.allSettled(jobs);
      const failed = settled.find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    } finally {
      keys.fill(0);
    }
  }

  /** Terminates the workers; pending jobs are rejected, later ones run inline. */
  close(): void {
    for (const slot of this.#slots) slot.worker.terminate();
    this.#slots = [];
    for (const p of this.#pending.values()) p.reject(new Error("mask workers closed"));
    this.#pending.clear();
  }

  #spawn(): Slot {
    const worker = new Worker(this.#module, { type: "module" });
    const slot: Slot = { worker, answered: false };
    worker.onmessage = (e: MessageEvent<{ id: number; slice?: Uint32Array; error?: string }>) => {
      slot.answered = true;
      const p = this.#pending.get(e.data.id);
      if (p === undefined) return;
      this.#pending.delete(e.data.id);
      if (e.data.slice !== undefined) p.resolve(e.data.slice);
      else p.reject(new Error(`mask worker: ${e.data.error}`));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      this.#crashed(slot);
    };
    return slot;
  }

  /** A worker died: replace or drop it, and hand its slices back to be redone inline. */
  #crashed(slot: Slot): void {
    slot.worker.terminate();
    const at = this.#slots.indexOf(slot);
    if (at < 0) return; // closed already
    this.counters.workersCrashed++;
    if (slot.answered) this.#slots[at] = this.#spawn();
    else this.#slots.splice(at, 1);
    for (const [id, p] of this.#pending) {
      if (p.slot !== slot) continue;
      this.#pending.delete(id);
      p.resolve(undefined);
    }
  }
}
