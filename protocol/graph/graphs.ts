/**
 * The neighbour graph of a session: which members exchange pairwise masks, and who holds the
 * Shamir shares of whose secrets.
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
 * {@link secAggPlusParameters} picks the degree `k` and the Shamir threshold `t` for a target
 * corrupt fraction and dropout fraction. Everything here is pure and deterministic: the same
 * inputs (and the same rng bytes) give the same outputs on every platform.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Rng } from "../crypto/random.ts";
import type { GraphSettings } from "../federation/roster.ts";

const TWO_32 = 2 ** 32;

// ---------------------------------------------------------------------------------------------
// Unbiased sampling and the random permutation
// ---------------------------------------------------------------------------------------------

/**
 * A uniformly random integer in `[0, bound)`, drawn from `rng` without modulo bias.
 *
 * Byte consumption (normative, so other implementations derive the same values): repeatedly
 * call `rng(4)` and read the 4 bytes as a little-endian unsigned 32-bit word `w`; let
 * `limit = 2^32 − (2^32 mod bound)`; the first `w < limit` is accepted and `w mod bound` is
 * returned, every `w ≥ limit` is discarded. Each residue therefore has exactly
 * `⌊2^32 / bound⌋` accepted preimages. A call consumes one word, plus one more per rejection
 * (a rejection happens with probability `(2^32 mod bound) / 2^32 < bound / 2^32`).
 *
 * Refuses (RangeError) a `bound` that is not an integer in `[1, 2^32]`, and an rng that returns
 * a number of bytes other than the 4 requested.
 */
export function uniformBelow(rng: Rng, bound: number): number {
  if (!Number.isInteger(bound) || bound < 1 || bound > TWO_32) {
    throw new RangeError(`uniformBelow: bound must be an integer in [1, 2^32], got ${bound}`);
  }
  const limit = TWO_32 - (TWO_32 % bound);
  for (;;) {
    const b = rng(4);
    if (b.length !== 4) throw new RangeError(`rng returned ${b.length} bytes, expected 4`);
    const w = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
    if (w < limit) return w % bound;
  }
}

/**
 * A uniformly random permutation of `0..n−1` (Fisher–Yates), as an array mapping a position to
 * the value placed there.
 *
 * Byte consumption (normative): start from the identity `p = [0, 1, …, n−1]`; for
 * `i = n−1` down to `1`, draw `j = uniformBelow(rng, i + 1)` and swap `p[i]` and `p[j]`. That is
 * `n − 1` words plus one per rejection, read in that order; nothing else is read from `rng`.
 *
 * Refuses (ConfigError `"n"`) an `n` that is not an integer in `[1, 2^32]`.
 */
export function randomPermutation(n: number, rng: Rng): number[] {
  if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
    throw new ConfigError("n", `the permutation size must be an integer in [1, 2^32], got ${n}`);
  }
  const p = new Array<number>(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i >= 1; i--) {
    const j = uniformBelow(rng, i + 1);
    const tmp = p[i];
    p[i] = p[j];
    p[j] = tmp;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Graphs
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Probability helpers (natural logarithms internally)
// ---------------------------------------------------------------------------------------------

/** ln(x!) for x = 0..length−1, grown on demand. */
let lnFactorials = new Float64Array([0, 0]);

function lnFactorial(x: number): number {
  if (x >= lnFactorials.length) {
    const table = new Float64Array(Math.max(x + 1, 2 * lnFactorials.length));
    table.set(lnFactorials);
    for (let i = lnFactorials.length; i < table.length; i++) table[i] = lnFactorialUncached(i);
    lnFactorials = table;
  }
  return lnFactorials[x];
}

/**
 * ln(x!) computed independently for each x (no error accumulated along the table): the exact
 * product for small x, the Stirling series (truncation error below 1e-19 for x > 20) above.
 */
function lnFactorialUncached(x: number): number {
  if (x <= 20) {
    let p = 1;
    for (let i = 2; i <= x; i++) p *= i;
    return Math.log(p);
  }
  const inv = 1 / x;
  const inv2 = inv * inv;
  return x * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI * x) +
    inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)));
}

/** ln C(a, b); −∞ when b is outside [0, a]. */
function lnBinomial(a: number, b: number): number {
  if (b < 0 || b > a) return -Infinity;
  return lnFactorial(a) - lnFactorial(b) - lnFactorial(a - b);
}

function lnAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/** Support [lo, hi] of the hypergeometric distribution HG(population, successes, draws). */
function support(population: number, successes: number, draws: number): [number, number] {
  return [Math.max(0, draws - (population - successes)), Math.min(draws, successes)];
}

/** ln P[X = x] for X ~ HG(population, successes, draws). */
function lnHyperPmf(population: number, successes: number, draws: number, x: number): number {
  return lnBinomial(successes, x) + lnBinomial(population - successes, draws - x) -
    lnBinomial(population, draws);
}

/** Terms whose total is below e^−CUTOFF of the running sum are bounded, not summed (2^−60). */
const LN_CUTOFF = 60 * Math.LN2;

/**
 * ln P[X ≥ atLeast] for X ~ HG(population, successes, draws), an upper bound tight to a relative
 * 2^−60 (plus rounding). The pmf is unimodal, so the sum starts at the mode (or at `atLeast`
 * above it) and walks outwards over non-increasing terms; once the remaining `r` terms, each at
 * most the last one seen, total below 2^−60 of the sum, `r ·` that term is added instead of them.
 * The cost is therefore O(standard deviation · √60), not O(draws).
 */
function lnHyperTail(population: number, successes: number, draws: number, atLeast: number) {
  const [lo, hi] = support(population, successes, draws);
  if (atLeast <= lo) return 0;
  if (atLeast > hi) return -Infinity;
  const mode = Math.min(
    hi,
    Math.max(lo, Math.floor(((draws + 1) * (successes + 1)) / (population + 2))),
  );
  const start = Math.max(atLeast, mode);
  let acc = -Infinity;
  // Upwards from start: terms non-increasing (start ≥ mode).
  for (let x = start; x <= hi; x++) {
    const term = lnHyperPmf(population, successes, draws, x);
    acc = lnAddExp(acc, term);
    const rest = hi - x;
    if (rest > 0 && term + Math.log(rest) < acc - LN_CUTOFF) {
      acc = lnAddExp(acc, term + Math.log(rest));
      break;
    }
  }
  // Downwards from start − 1 to atLeast: terms non-increasing (all below the mode).
  for (let x = start - 1; x >= atLeast; x--) {
    const term = lnHyperPmf(population, successes, draws, x);
    acc = lnAddExp(acc, term);
    const rest = x - atLeast;
    if (rest > 0 && term + Math.log(rest) < acc - LN_CUTOFF) {
      acc = lnAddExp(acc, term + Math.log(rest));
      break;
    }
  }
  return Math.min(0, acc);
}

/** The smallest `a` with ln P[X ≥ a] ≤ lnTarget (binary search; the tail falls as `a` grows). */
function smallestTailAtMost(
  population: number,
  successes: number,
  draws: number,
  lnTarget: number,
): number {
  if (lnTarget >= 0) return 0;
  const [lo, hi] = support(population, successes, draws);
  // tail(lo) = 1 > target and tail(hi + 1) = 0 ≤ target; the answer lies in (lo, hi + 1].
  let low = lo;
  let high = hi + 1;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (lnHyperTail(population, successes, draws, mid) <= lnTarget) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * log₂ P[X ≥ atLeast] for X hypergeometric: `draws` items taken without replacement from a
 * `population` containing `successes` marked items, X = number of marked items drawn.
 * An upper bound tight to a relative 2^−60 plus floating-point rounding (log-space sum outwards
 * from the mode, log-factorials from a cached table); returns 0 when the event is certain and
 * −∞ when it is impossible.
 * Refuses (RangeError) arguments that are not integers with
 * `0 ≤ successes ≤ population` and `0 ≤ draws ≤ population`.
 */
export function log2HypergeometricTail(
  population: number,
  successes: number,
  draws: number,
  atLeast: number,
): number {
  for (const x of [population, successes, draws, atLeast]) {
    if (!Number.isSafeInteger(x)) throw new RangeError(`not an integer: ${x}`);
  }
  if (successes < 0 || successes > population || draws < 0 || draws > population) {
    throw new RangeError("need 0 ≤ successes ≤ population and 0 ≤ draws ≤ population");
  }
  return lnHyperTail(population, successes, draws, atLeast) / Math.LN2;
}

// ---------------------------------------------------------------------------------------------
// Parameter selection
// ---------------------------------------------------------------------------------------------

/**
 * The protocol's threshold on the complete graph, ⌊2n/3⌋ + 1: more than two thirds of the
 * roster. Refuses (ConfigError `"n"`) a non-integer or `n < 1`.
 */
export function defaultThreshold(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError("n", `the roster size must be a positive integer, got ${n}`);
  }
  return Math.floor((2 * n) / 3) + 1;
}

/**
 * The default Shamir threshold of a Harary graph of degree `k`, ⌊(k + 1)/2⌋ + 1: the smallest
 * strict majority of the k + 1 share holders N[u] (for an even `k`, k/2 + 1), so two disjoint
 * sets of holders can never both reconstruct. It is the smallest per-neighbourhood threshold a
 * roster accepts; it does not weigh corrupt or dropped members (see {@link secAggPlusParameters}
 * for that). Refuses (ConfigError `"degree"`) a non-integer or `k < 2`.
 */
export function defaultHararyThreshold(k: number): number {
  if (!Number.isSafeInteger(k) || k < 2) {
    throw new ConfigError("degree", `the degree must be an integer of at least 2, got ${k}`);
  }
  return Math.floor((k + 1) / 2) + 1;
}

/** Inputs of {@link secAggPlusParameters}. */
export interface SecAggPlusSettings {
  /** Roster size (at least 3). */
  readonly n: number;
  /** γ: fraction of members that may be corrupt (colluding with the leader), in [0, 1/3). */
  readonly corruptFraction: number;
  /** δ: fraction of members that may drop out, in [0, 1), with γ + δ < 1. */
  readonly dropoutFraction: number;
  /** σ: privacy fails with probability at most 2^−σ over the graph's randomness. Default 40. */
  readonly securityBits?: number;
  /** η: the sum fails to be recovered with probability at most 2^−η. Default 20. */
  readonly correctnessBits?: number;
}

/**
 * log₂ of the union bounds achieved by a parameter choice (each at most 0, −∞ when the event is
 * impossible). `privacy + connectivity` bound the probability that the leader and the corrupt
 * members learn more than the sum of the honest survivors' inputs; `correctness` bounds the
 * probability that some member's secret has fewer than `threshold` surviving holders.
 */
export interface SecAggPlusBounds {
  /** log₂ of n · P[some fixed member has ≥ t corrupt neighbours]. Target: ≤ −σ − 1. */
  readonly privacy: number;
  /** log₂ of the bound on P[honest survivors disconnected]. Target: ≤ −σ − 1. */
  readonly connectivity: number;
  /** log₂ of n · P[some fixed member has fewer than t surviving neighbours]. Target: ≤ −η. */
  readonly correctness: number;
}

/** Output of {@link secAggPlusParameters}. */
export interface SecAggPlusParameters {
  /** True when only the complete graph works: use {@link completeGraph}. */
  readonly complete: boolean;
  /** Number of neighbours k of every member (even, or n − 1 when complete). */
  readonly degree: number;
  /** Shamir threshold t: shares of u's secrets are dealt to N[u], any t of them reconstruct. */
  readonly threshold: number;
  /** c = ⌊γn⌋, the corrupt members the bounds account for. */
  readonly corrupt: number;
  /** D = ⌊δn⌋, the dropped members the bounds account for. */
  readonly dropouts: number;
  /** The failure bounds this (degree, threshold) achieves. */
  readonly log2Failure: SecAggPlusBounds;
}

/** ⌊fraction · n⌋, tolerant of binary rounding of decimal fractions (0.29 · 100 → 29). */
function countOf(fraction: number, n: number): number {
  return Math.floor(fraction * n + 1e-9);
}

/**
 * ln of the connectivity bound for H(n, k) under a uniformly random m-subset R of removed
 * positions: the survivors are disconnected only if R covers two disjoint windows of k/2
 * cyclically consecutive positions, so by a union bound over the fewer than n²/2 window pairs,
 * P ≤ (n²/2) · C(n−k, m−k) / C(n, m) = (n²/2) · Π_{j<k} (m−j)/(n−j), and 0 when m < k.
 */
function lnDisconnectionBound(n: number, m: number, k: number): number {
  if (m < k) return -Infinity;
  return 2 * Math.log(n) - Math.LN2 + lnFactorial(m) - lnFactorial(m - k) - lnFactorial(n) +
    lnFactorial(n - k);
}

const MAX_PARAMETER_N = 1_000_000;

/**
 * Picks the SecAgg+ degree k and Shamir threshold t for `n` members of which at most
 * c = ⌊γn⌋ are corrupt and at most D = ⌊δn⌋ drop out, for the Harary graph with a uniformly random
 * labelling ({@link hararyGraph}). The probabilities are over the random labelling only, so the
 * bounds hold when the corrupt and dropped sets do not depend on it: both must be fixed before
 * the graph seed can be predicted, and nobody may choose among several seeds (each extra seed
 * tried multiplies the privacy bound). A leader that picks who "dropped" after seeing the graph
 * can cut the ring with k chosen members; against such a leader these parameters only bound
 * what the corrupt neighbours alone learn (condition 1), not connectivity.
 *
 * A pair (k, t) is accepted when, with X_c ~ HG(n−1, c, k) and X_D ~ HG(n−1, D, k) the number of
 * corrupt, resp. dropped, neighbours of a fixed member:
 * 1. privacy of shares: n · P[X_c ≥ t] ≤ 2^−σ / 2 (the corrupt neighbours alone never reach t);
 * 2. connectivity: the honest survivors stay connected after removing m = c + D members,
 *    (n²/2) · Π_{j<k} (m−j)/(n−j) ≤ 2^−σ / 2 (see {@link SecAggPlusBounds});
 * 3. correctness: n · P[X_D > k − t] ≤ 2^−η (conservatively ignoring u's own share);
 * 4. t ≥ k/2 + 1, a strict majority of the k + 1 holders N[u].
 *
 * The smallest even k from 2 to n − 2 admitting some t is returned, with the smallest such t
 * (the most dropout-tolerant; condition 3 only gets harder as t grows). When no such k exists,
 * the complete graph is returned: `{ complete: true, degree: n − 1, threshold: ⌊2n/3⌋ + 1 }`,
 * whose bounds are exact (privacy and connectivity cannot fail; correctness fails iff fewer than
 * t members survive, i.e. n − D < t, and is then reported as 0). Check `log2Failure.correctness`
 * of a complete result: with a large δ even the complete graph may not deliver.
 *
 * Refuses (ConfigError naming the setting): `n` not an integer in [3, 1 000 000];
 * `corruptFraction` or `dropoutFraction` outside [0, 1); `corruptFraction` ≥ 1/3 (the global
 * threshold ⌊2n/3⌋ + 1 cannot protect against a third or more corrupt members);
 * `corruptFraction + dropoutFraction` ≥ 1; `securityBits` or `correctnessBits` not a positive
 * finite number. Cost: O(Σ k) log-space operations over the k tried, well under a second for
 * n ≤ 10 000.
 */
export function secAggPlusParameters(settings: SecAggPlusSettings): SecAggPlusParameters {
  const { n, corruptFraction: gamma, dropoutFraction: delta } = settings;
  const sigma = settings.securityBits ?? 40;
  const eta = settings.correctnessBits ?? 20;
  if (!Number.isInteger(n) || n < 3 || n > MAX_PARAMETER_N) {
    throw new ConfigError(
      "n",
      `need an integer roster size from 3 to ${MAX_PARAMETER_N}, got ${n}`,
    );
  }
  for (const [name, value] of [["corruptFraction", gamma], ["dropoutFraction", delta]] as const) {
    if (!(typeof value === "number" && value >= 0 && value < 1)) {
      throw new ConfigError(name, `must be a fraction in [0, 1), got ${value}`);
    }
  }
  if (gamma >= 1 / 3) {
    throw new ConfigError(
      "corruptFraction",
      `${gamma} is at least 1/3: the threshold ⌊2n/3⌋ + 1 cannot protect against a third or ` +
        "more corrupt members; lower corruptFraction below 1/3",
    );
  }
  if (gamma + delta >= 1) {
    throw new ConfigError(
      "corruptFraction+dropoutFraction",
      `${gamma} + ${delta} leaves no honest survivor; the sum must be below 1`,
    );
  }
  for (const [name, value] of [["securityBits", sigma], ["correctnessBits", eta]] as const) {
    if (!(typeof value === "number" && Number.isFinite(value) && value > 0)) {
      throw new ConfigError(name, `must be a positive number of bits, got ${value}`);
    }
  }

  const c = countOf(gamma, n);
  const dropped = countOf(delta, n);
  const m = c + dropped;
  const lnN = Math.log(n);
  const lnPrivacyTarget = -(sigma + 1) * Math.LN2 - lnN; // per member
  const lnConnectivityTarget = -(sigma + 1) * Math.LN2;
  const lnCorrectnessTarget = -eta * Math.LN2 - lnN; // per member
  const log2 = (ln: number) => Math.min(0, ln / Math.LN2);

  for (let k = 2; k <= n - 2; k += 2) {
    const lnConnectivity = lnDisconnectionBound(n, m, k);
    if (lnConnectivity > lnConnectivityTarget) continue;
    const majority = k / 2 + 1;
    // Quick refusal: every admissible t is ≥ majority, so the correctness event contains
    // X_D ≥ k/2, whose probability is at least that of any single value ≥ k/2.
    const [, hiD] = support(n - 1, dropped, k);
    const mode = Math.floor(((k + 1) * (dropped + 1)) / (n + 1));
    const probe = Math.min(hiD, Math.max(k / 2, mode));
    if (probe >= k / 2 && lnHyperPmf(n - 1, dropped, k, probe) > lnCorrectnessTarget) continue;
    const t = Math.max(majority, smallestTailAtMost(n - 1, c, k, lnPrivacyTarget));
    if (t > k) continue;
    const lnCorrectness = lnHyperTail(n - 1, dropped, k, k - t + 1);
    if (lnCorrectness > lnCorrectnessTarget) continue;
    return {
      complete: false,
      degree: k,
      threshold: t,
      corrupt: c,
      dropouts: dropped,
      log2Failure: {
        privacy: log2(lnN + lnHyperTail(n - 1, c, k, t)),
        connectivity: log2(lnConnectivity),
        correctness: log2(lnN + lnCorrectness),
      },
    };
  }

  const t = defaultThreshold(n);
  return {
    complete: true,
    degree: n - 1,
    threshold: t,
    corrupt: c,
    dropouts: dropped,
    log2Failure: {
      privacy: c >= t ? 0 : -Infinity,
      connectivity: -Infinity,
      correctness: n - dropped < t ? 0 : -Infinity,
    },
  };
}

/**
 * The roster graph {@link secAggPlusParameters} picks for `settings`: the Harary graph with the
 * chosen degree and threshold, or `{ kind: "complete" }` when only the complete graph works (the
 * roster's global threshold then applies). Deterministic: the same settings give the same graph
 * on every member. Refuses (ConfigError naming the setting) what
 * {@link secAggPlusParameters} refuses.
 */
export function secAggPlusGraph(settings: SecAggPlusSettings): GraphSettings {
  const p = secAggPlusParameters(settings);
  return p.complete
    ? { kind: "complete" }
    : { kind: "harary", degree: p.degree, threshold: p.threshold };
}
