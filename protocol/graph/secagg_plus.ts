/**
 * SecAgg+ parameters (Bell et al., CCS 2020): the degree k of the Harary graph and the Shamir
 * threshold t of each neighbourhood for a target corrupt fraction and dropout fraction, from
 * hypergeometric tail bounds (statistical security σ = 40, correctness η = 20 by default), and
 * the global threshold the complete graph uses.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { GraphSettings } from "./graphs.ts";
import { type CommitteeParameters, committeeParameters } from "./committee.ts";
import {
  lnFactorial,
  lnHyperPmf,
  lnHyperTail,
  smallestTailAtMost,
  support,
} from "./hypergeometric.ts";

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
  /**
   * Whether to size an approval committee too (default true); false for a roster with groups,
   * which takes none (`createRoster`).
   */
  readonly committee?: boolean;
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
  /**
   * The approval committee for the same n, c and D, σ and η (`committee.ts`), when the graph is
   * sparse and a committee smaller than n exists; absent otherwise (every member approves).
   */
  readonly committee?: CommitteeParameters;
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

/** The settings of {@link secAggPlusParameters}, defaulted and checked (see its refusals). */
function checkedSettings(
  settings: SecAggPlusSettings,
): { n: number; gamma: number; delta: number; sigma: number; eta: number } {
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
  return { n, gamma, delta, sigma, eta };
}

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
  const { n, gamma, delta, sigma, eta } = checkedSettings(settings);
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
    const committee = settings.committee === false ? undefined : committeeParameters({
      n,
      corrupt: c,
      dropouts: dropped,
      securityBits: sigma,
      correctnessBits: eta,
    });
    return {
      ...(committee === undefined ? {} : { committee }),
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
 * chosen degree and threshold (and its approval committee's size and quorum when one smaller than
 * n exists), or `{ kind: "complete" }` when only the complete graph works (the roster's global
 * threshold then applies). Deterministic: the same settings give the same graph
 * on every member. Refuses (ConfigError naming the setting) what
 * {@link secAggPlusParameters} refuses.
 */
export function secAggPlusGraph(settings: SecAggPlusSettings): GraphSettings {
  const p = secAggPlusParameters(settings);
  return p.complete ? { kind: "complete" } : {
    kind: "harary",
    degree: p.degree,
    threshold: p.threshold,
    ...(p.committee === undefined
      ? {}
      : { committee: { size: p.committee.size, quorum: p.committee.quorum } }),
  };
}
