/**
 * Privacy accounting for the distributed discrete Gaussian mechanism, in zero-concentrated DP.
 *
 * **One round** (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism for
 * Federated Learning with Secure Aggregation", ICML 2021, arXiv:2102.06387, Proposition 14, the
 * privacy of sums of discrete Gaussians): if n members each add independent N_Z(0, σ²) noise
 * (σ ≥ 1/2, in integer steps) to every one of D coordinates, then for a change Δ ∈ Z^D of the
 * sum (one member's rounded vector, ‖Δ‖₂ ≤ Δ₂, ‖Δ‖₁ ≤ Δ₁) and every order α ≥ 1 the Rényi
 * divergence is at most
 *
 *     min{ α·Δ₂²/(2nσ²) + τD,
 *          (α/2)·(Δ₂²/(nσ²) + 2Δ₁τ/(√n·σ) + τ²D),
 *          (α/2)·(Δ₂/(√n·σ) + τ√D)² },      τ = 10·Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1)).
 *
 * {@link ddgaussRho} returns the smallest ρ with D_α ≤ ρα for every α ≥ 1 that this implies:
 * min{ Δ₂²/(2nσ²) + τD, ½(Δ₂²/(nσ²) + 2Δ₁τ/(√nσ) + τ²D), ½(Δ₂/(√nσ) + τ√D)² } (the α-free
 * τD of the first term counted as ατD, which costs nothing when τD is negligible, as it is for
 * σ ≳ 1). Δ₁ ≤ min(√D·Δ₂, Δ₂²) for integer vectors. τ → 0 recovers the continuous Gaussian's
 * ρ = Δ₂²/(2nσ²).
 *
 * **Neighbouring relation: zero-out.** Two inputs are neighbours when one member's vector is
 * replaced by 0 while that member stays in the round and still adds its noise: the sum then moves
 * by that member's rounded vector (‖Δ‖₂ ≤ Δ₂), and the noise is the same n shares either way. This
 * is what the ρ above bounds. It is not add/remove (a removed member would also take its noise
 * share away). For replace-one (one member's vector swapped for another) the change is the
 * difference of two rounded vectors (‖Δ‖₂ ≤ 2Δ₂, ‖Δ‖₁ ≤ 2Δ₁), so every term is at most 4 times
 * the one above: ρ × 4.
 *
 * **n is the least number of honest noisers.** The planner passes n = t − c (the published sum
 * has at least t members, at most c of whom withhold or subtract their noise). More honest noisers
 * only help, but not through this formula: τ grows with n, so ρ(n) is not monotone. The argument
 * is post-processing: the noise of any honest noisers beyond the first t − c is independent of
 * every member's data, so the published sum with them is a randomized function of the sum with
 * t − c shares, and Rényi divergence cannot grow under post-processing. The bound at t − c
 * therefore covers every larger set of noisers.
 *
 * **Rounds** compose additively in ρ-zCDP (Bun and Steinke, TCC 2016, Lemma 2.3):
 * {@link composeRho}.
 *
 * **Conversion** to (ε, δ)-DP: the tight conversion of Canonne, Kamath, Steinke, "The Discrete
 * Gaussian for Differential Privacy" (NeurIPS 2020, arXiv:2004.00010), Corollary 13 (its
 * Proposition 12 applied to ρ-zCDP): a ρ-zCDP mechanism is (ε, δ)-DP for
 *
 *     δ = inf_{α>1} exp((α−1)(αρ − ε)) / (α−1) · (1 − 1/α)^α,
 *
 * equivalently ε = inf_{α>1} αρ + (ln(1/δ) − ln α)/(α−1) + ln(1 − 1/α)
 * ({@link zcdpToEpsilon}; always at most the classical ρ + 2√(ρ ln(1/δ))), and its inverse
 * {@link epsilonToRho}.
 *
 * Everything here is float64 planning arithmetic (no sampling decision depends on it); the tests
 * compare it with an independent SciPy computation to 1e-6 relative.
 *
 * @module
 */

/**
 * Terms of τ summed one by one before {@link sumTau} bounds the rest in closed form. The closed
 * form over-counts the rest by at most e^−a·(a + a²e/2)/(K + 1) (a = 2π²σ²); τ/10 is at least
 * max(e^−a/2, K·e^−a), so that is at most 2·10^−7 of τ for any σ and n.
 */
const TAU_DIRECT_TERMS = 65536;

/**
 * τ = 10·Σ_{k=1}^{n−1} exp(−2π²σ²k/(k+1)) for per-member variance σ² (steps²) and n members,
 * in O(min(n, 2^16)) time and never under-counted (an upper bound within 2·10^−7 relative).
 *
 * With a = 2π²σ², the terms e^−a·e^(a/(k+1)) decrease with k. Summing term by term, after term
 * k the rest is at most (n − 1 − k)·term_k (computed as exp(ln(n − 1 − k) − ak/(k+1)), which does
 * not underflow before the product does); once that bound is at most 2^−53 of the sum (or 0:
 * below float64's smallest subnormal) it is added and the sum stops. For a plan's σ (≳ 3 steps)
 * that happens within a few terms. Otherwise, after K = 2^16 terms, the rest (j = k + 1 from
 * K + 2 to n) is bounded with e^x ≤ 1 + x + (x²/2)·e^x (x = a/j ≥ 0), Σ 1/j ≤ ln(n/(K + 1)) and
 * Σ 1/j² ≤ 1/(K + 1):
 *
 *     rest ≤ e^−a·((n − 1 − K) + a·ln(n/(K + 1)) + (a²/2)·e^(a/(K + 2))/(K + 1)),
 *
 * enlarged by 10^−12 against the rounding of its own evaluation.
 */
export function sumTau(localVariance: number, members: number): number {
  if (!(localVariance > 0) || !Number.isFinite(localVariance)) {
    throw new RangeError(`sumTau: the variance must be > 0, got ${localVariance}`);
  }
  if (!Number.isSafeInteger(members) || members < 1) {
    throw new RangeError(`sumTau: members must be an integer ≥ 1, got ${members}`);
  }
  const a = 2 * Math.PI * Math.PI * localVariance;
  const n = members;
  const direct = Math.min(n - 1, TAU_DIRECT_TERMS);
  let sum = 0;
  for (let k = 1; k <= direct; k++) {
    const exponent = -a * (k / (k + 1));
    const rest = n - 1 - k; // terms after this one
    const restBound = rest === 0 ? 0 : Math.exp(exponent + Math.log(rest));
    sum += Math.exp(exponent);
    if (restBound <= sum * 2 ** -53) return 10 * (sum + restBound);
  }
  if (direct === n - 1) return 10 * sum;
  const K = direct;
  const inner = (n - 1 - K) + a * Math.log(n / (K + 1)) +
    ((a * a) / 2) * Math.exp(a / (K + 2)) / (K + 1);
  const rest = Math.exp(Math.log(inner) - a) * (1 + 1e-12);
  return 10 * (sum + rest);
}

/** One round of the distributed discrete Gaussian, in integer steps. */
export interface DdgaussRound {
  /** Δ₂: the L2 bound of one member's rounded vector (steps), > 0. */
  readonly l2Bound: number;
  /** σ: each noising member's discrete Gaussian standard deviation (steps), ≥ 1/2. */
  readonly localStd: number;
  /** n: how many members' noise the sum is guaranteed to contain, ≥ 1. */
  readonly noisyMembers: number;
  /** D: the number of coordinates (after padding), ≥ 1. */
  readonly dim: number;
}

/**
 * The ρ (zCDP) of one round, from Proposition 14 of DDGauss (module doc), and the τ it used.
 * Refuses (RangeError) σ < 1/2 (outside the proposition) and out-of-range settings.
 */
export function ddgaussRho(r: DdgaussRound): { rho: number; tau: number } {
  const { l2Bound: l2, localStd: s, noisyMembers: n, dim: d } = r;
  if (!(l2 > 0) || !Number.isFinite(l2)) {
    throw new RangeError(`ddgaussRho: the L2 bound must be > 0, got ${l2}`);
  }
  if (!(s >= 0.5) || !Number.isFinite(s)) {
    throw new RangeError(`ddgaussRho: the per-member std must be ≥ 1/2 step, got ${s}`);
  }
  if (!Number.isSafeInteger(d) || d < 1) {
    throw new RangeError(`ddgaussRho: the dimension must be an integer ≥ 1, got ${d}`);
  }
  const tau = sumTau(s * s, n);
  const l1 = l2 * Math.min(Math.sqrt(d), l2);
  const ns2 = n * s * s;
  const rootNs = Math.sqrt(n) * s;
  const first = (l2 * l2) / (2 * ns2) + tau * d;
  const second = 0.5 * ((l2 * l2) / ns2 + (2 * l1 * tau) / rootNs + tau * tau * d);
  const third = 0.5 * (l2 / rootNs + tau * Math.sqrt(d)) ** 2;
  return { rho: Math.min(first, second, third), tau };
}

/** ρ after `rounds` rounds of `perRound` each (zCDP composes additively). */
export function composeRho(perRound: number, rounds: number): number {
  if (!(perRound >= 0) || !Number.isFinite(perRound)) {
    throw new RangeError(`composeRho: ρ must be ≥ 0, got ${perRound}`);
  }
  if (!Number.isSafeInteger(rounds) || rounds < 0) {
    throw new RangeError(`composeRho: rounds must be an integer ≥ 0, got ${rounds}`);
  }
  return perRound * rounds;
}

function checkDelta(delta: number): void {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`δ must be in (0, 1), got ${delta}`);
}

/** ε(α) of the CKS conversion at α = 1 + e^u (u parametrizes α > 1 without cancellation). */
function epsilonAt(u: number, rho: number, logInvDelta: number): number {
  const am1 = Math.exp(u);
  const a = 1 + am1;
  return a * rho + (logInvDelta - Math.log(a)) / am1 + Math.log(am1 / a);
}

/**
 * The ε of the (ε, δ)-DP that ρ-zCDP implies under the CKS conversion (module doc): the
 * infimum over α > 1, found by a scan of ln(α − 1) over [−30, 30] and golden-section
 * refinement around the best point; never negative. Refuses (RangeError) ρ < 0 and δ ∉ (0, 1).
 */
export function zcdpToEpsilon(rho: number, delta: number): number {
  if (!(rho >= 0) || !Number.isFinite(rho)) throw new RangeError(`ρ must be ≥ 0, got ${rho}`);
  checkDelta(delta);
  if (rho === 0) return 0;
  const L = -Math.log(delta); // not ln(1/δ): 1/δ overflows for a subnormal δ
  const f = (u: number) => epsilonAt(u, rho, L);
  const steps = 3000;
  let best = -30, bestValue = f(best);
  for (let i = 1; i <= steps; i++) {
    const u = -30 + (60 * i) / steps;
    const v = f(u);
    if (v < bestValue) [best, bestValue] = [u, v];
  }
  // Golden-section search on [best − h, best + h].
  const h = 60 / steps;
  let lo = best - h, hi = best + h;
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
  let f1 = f(x1), f2 = f(x2);
  for (let i = 0; i < 200 && hi - lo > 1e-14; i++) {
    if (f1 < f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - g * (hi - lo);
      f1 = f(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + g * (hi - lo);
      f2 = f(x2);
    }
  }
  return Math.max(0, Math.min(bestValue, f1, f2));
}

/**
 * The largest ρ whose conversion ({@link zcdpToEpsilon}) is at most ε at δ, by bisection (ε
 * grows with ρ): the zCDP budget an (ε, δ) target allows. Refuses (RangeError) ε ≤ 0 and
 * δ ∉ (0, 1).
 */
export function epsilonToRho(epsilon: number, delta: number): number {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) {
    throw new RangeError(`ε must be a finite number > 0, got ${epsilon}`);
  }
  checkDelta(delta);
  let lo = 0, hi = epsilon;
  while (zcdpToEpsilon(hi, delta) <= epsilon) {
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < 200; i++) {
    const mid = lo + (hi - lo) / 2; // (lo + hi)/2 overflows near the float64 maximum
    if (mid === lo || mid === hi) break;
    if (zcdpToEpsilon(mid, delta) <= epsilon) lo = mid;
    else hi = mid;
  }
  return lo;
}
