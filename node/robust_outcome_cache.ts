/**
 * The robust results a node has computed for its recent rounds, so that serving a round's
 * aggregate again does not recompute the rule (Bulyan or the geometric median cost seconds at
 * d = 10^6). Bounded: the {@link RobustOutcomeCache.capacity} most recently used rounds, each
 * entry the rule's float64 result (8·d bytes) and its report.
 *
 * An entry is keyed by the round and the bytes of the certificate it was computed under: a
 * round whose stored certificate changes (another view's aggregate replaced an unfinished one)
 * is recomputed, never served a result certified for something else.
 *
 * @module
 */
import { equalBytes, type RobustOutcome } from "../protocol/mod.ts";

/** Rounds kept by default: the current one and a few a trainer may still fetch. */
export const DEFAULT_ROBUST_CACHE_ROUNDS = 4;

/** A bounded, least-recently-used cache of robust results by round and certificate. */
export class RobustOutcomeCache {
  /** How many rounds it keeps at most. */
  readonly capacity: number;
  readonly #entries = new Map<
    number,
    { certificate: Uint8Array; outcome: RobustOutcome | undefined }
  >();

  /** Keeps up to `capacity` rounds (an integer ≥ 1; RangeError otherwise). */
  constructor(capacity = DEFAULT_ROBUST_CACHE_ROUNDS) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`robust cache capacity must be an integer ≥ 1, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /**
   * `round`'s result under `certificate`: the cached one when `round` was computed under the same
   * certificate bytes, else `compute()`'s (cached when it returns; an exception propagates and
   * caches nothing). The least recently used round is dropped beyond the capacity.
   */
  get(
    round: number,
    certificate: Uint8Array,
    compute: () => RobustOutcome | undefined,
  ): RobustOutcome | undefined {
    const hit = this.#entries.get(round);
    if (hit !== undefined && equalBytes(hit.certificate, certificate)) {
      this.#entries.delete(round); // re-inserted last: most recently used
      this.#entries.set(round, hit);
      return hit.outcome;
    }
    const outcome = compute();
    this.#entries.delete(round);
    this.#entries.set(round, { certificate: certificate.slice(), outcome });
    while (this.#entries.size > this.capacity) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return outcome;
  }

  /** The rounds held, least recently used first. */
  rounds(): number[] {
    return [...this.#entries.keys()];
  }
}
