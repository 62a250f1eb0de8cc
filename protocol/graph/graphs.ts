/**
 * Neighbour graphs: which members exchange pairwise masks, and who holds the Shamir shares of
 * whose secrets.
 *
 * Member `u` masks its input with a pairwise mask for every neighbour `v` in N(u), and deals
 * shares of its secrets to its closed neighbourhood N[u] = {u} ∪ N(u). Two shapes exist:
 *
 * - the complete graph of Bonawitz et al. (CCS 2017): N(u) is every other member;
 * - the SecAgg+ graph of Bell et al. (CCS 2020): the Harary graph H(n, k) — position `i` of a
 *   ring adjacent to positions `i ± 1, …, i ± k/2 (mod n)` — relabelled by a uniformly random
 *   permutation of the roster indices, drawn from an {@link Rng} that every member seeds the
 *   same way, so every member derives the same graph without talking.
 *
 * Which shape a federation uses is its roster's {@link GraphSettings}; `secagg_plus.ts` picks the
 * degree and threshold. Everything here is pure and deterministic: the same inputs (and the same
 * rng bytes) give the same graph on every platform.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Rng } from "../crypto/random.ts";
import { randomPermutation } from "./sampling.ts";

const TWO_32 = 2 ** 32;

/**
 * The neighbour graph family a roster names, with its per-neighbourhood Shamir threshold and, for
 * a Harary graph, optionally the approval committee that replaces the global approval quorum
 * (`committee.ts`, `docs/protocol.md` §3): `size` members drawn per round from its seed, of
 * which `quorum` must approve.
 */
export type GraphSettings =
  | { readonly kind: "complete" }
  | {
    readonly kind: "harary";
    readonly degree: number;
    readonly threshold: number;
    readonly committee?: CommitteeSettings;
  };

/** An approval committee: `size` members drawn per round, `quorum` of whose approvals count. */
export interface CommitteeSettings {
  /** s: the members drawn per round (1 ≤ s ≤ n). */
  readonly size: number;
  /** t_C: the committee approvals (and co-signatures) that count, a strict majority of s. */
  readonly quorum: number;
}

/**
 * An undirected, loop-free, `degree`-regular graph on the roster indices `0..n−1`.
 *
 * Guarantees: `neighbours(u)` is sorted ascending, excludes `u`, has exactly `degree` entries and
 * is frozen; `v ∈ neighbours(u)` ⇔ `u ∈ neighbours(v)` ⇔ `isNeighbour(u, v)`;
 * `isNeighbour(u, u)` is false. Both methods refuse (RangeError) an index outside `0..n−1`.
 * The Shamir share holders of `u` are `u` together with `neighbours(u)`.
 */
export interface NeighbourGraph {
  /** Number of members (vertices). */
  readonly n: number;
  /** Number of neighbours of every member (`n − 1` for the complete graph). */
  readonly degree: number;
  /** True when every member is a neighbour of every other one. */
  readonly complete: boolean;
  /** The neighbours of `u`, ascending, without `u`. O(degree) per call (cached for Harary). */
  neighbours(u: number): readonly number[];
  /** Whether `u` and `v` are adjacent. O(1). */
  isNeighbour(u: number, v: number): boolean;
}

function checkGraphSize(n: number): void {
  if (!Number.isInteger(n) || n < 2 || n > TWO_32) {
    throw new ConfigError(
      "n",
      `a graph needs an integer number of members from 2 to 2^32, got ${n}`,
    );
  }
}

function checkIndex(n: number, u: number): void {
  if (!Number.isInteger(u) || u < 0 || u >= n) {
    throw new RangeError(`member index ${u} is outside 0..${n - 1}`);
  }
}

class CompleteGraph implements NeighbourGraph {
  readonly degree: number;
  readonly complete = true;
  constructor(readonly n: number) {
    this.degree = n - 1;
  }
  neighbours(u: number): readonly number[] {
    checkIndex(this.n, u);
    // Not cached: n lists of n − 1 entries would be quadratic memory for large rosters.
    const out = new Array<number>(this.n - 1);
    for (let v = 0, i = 0; v < this.n; v++) if (v !== u) out[i++] = v;
    return Object.freeze(out);
  }
  isNeighbour(u: number, v: number): boolean {
    checkIndex(this.n, u);
    checkIndex(this.n, v);
    return u !== v;
  }
}

class HararyGraph implements NeighbourGraph {
  readonly complete = false;
  readonly #half: number;
  /** position → member */
  readonly #label: Uint32Array;
  /** member → position */
  readonly #position: Uint32Array;
  readonly #cache: (readonly number[] | undefined)[];

  constructor(readonly n: number, readonly degree: number, permutation: readonly number[]) {
    this.#half = degree / 2;
    this.#label = Uint32Array.from(permutation);
    this.#position = new Uint32Array(n);
    for (let p = 0; p < n; p++) this.#position[this.#label[p]] = p;
    this.#cache = new Array(n);
  }

  neighbours(u: number): readonly number[] {
    checkIndex(this.n, u);
    const cached = this.#cache[u];
    if (cached !== undefined) return cached;
    const n = this.n;
    const p = this.#position[u];
    const list = new Uint32Array(this.degree);
    for (let d = 1, i = 0; d <= this.#half; d++) {
      list[i++] = this.#label[(p + d) % n];
      list[i++] = this.#label[(p - d + n) % n];
    }
    list.sort();
    const out = Object.freeze(Array.from(list));
    this.#cache[u] = out;
    return out;
  }

  isNeighbour(u: number, v: number): boolean {
    checkIndex(this.n, u);
    checkIndex(this.n, v);
    if (u === v) return false;
    const diff = Math.abs(this.#position[u] - this.#position[v]);
    return Math.min(diff, this.n - diff) <= this.#half;
  }
}

/**
 * The complete graph on `n` members (Bonawitz et al.): everyone is everyone's neighbour.
 * Refuses (ConfigError `"n"`) `n < 2` or a non-integer `n`.
 */
export function completeGraph(n: number): NeighbourGraph {
  checkGraphSize(n);
  return new CompleteGraph(n);
}

/**
 * The SecAgg+ graph: the Harary graph H(n, k) relabelled by a random permutation.
 *
 * Derivation (normative): `label = randomPermutation(n, rng)` (see {@link randomPermutation} for
 * the exact bytes read); ring position `i` is member `label[i]`, and members `label[i]` and
 * `label[j]` are adjacent iff the cyclic distance `min(|i − j|, n − |i − j|)` is between 1 and
 * `k/2`. When `k = n − 1` the graph is complete: {@link completeGraph} is returned and nothing is
 * read from `rng`.
 *
 * Guarantees a `k`-regular graph (see {@link NeighbourGraph}); the same rng bytes give the same
 * graph. Refuses (ConfigError) `n < 2` (setting `"n"`), and a `k` that is odd, below 2 or
 * above `n − 1` (setting `"k"`).
 */
export function hararyGraph(n: number, k: number, rng: Rng): NeighbourGraph {
  checkGraphSize(n);
  if (!Number.isInteger(k) || k < 2 || k % 2 !== 0) {
    throw new ConfigError("k", `the degree must be an even integer of at least 2, got ${k}`);
  }
  if (k > n - 1) {
    throw new ConfigError(
      "k",
      `degree ${k} exceeds n − 1 = ${n - 1}: lower k, or use completeGraph(${n})`,
    );
  }
  if (k === n - 1) return new CompleteGraph(n);
  return new HararyGraph(n, k, randomPermutation(n, rng));
}
